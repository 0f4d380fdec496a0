import { IMAGENET_CLASSES, parseLabels, type Labels } from '@easy-explain/core';

let imagenet: Labels | undefined;

/**
 * ImageNet's 1000 class names, each entry's first synonym ("tabby, tabby cat" → "tabby"), matching the short
 * names of imagenet_class_index.json.
 */
export function imagenetLabels(): Labels {
  if (!imagenet) {
    const names: string[] = [];
    for (let i = 0; i < 1000; i++) names.push(String(IMAGENET_CLASSES[i]).split(',')[0].trim());
    imagenet = parseLabels(names);
  }
  return imagenet;
}

/** Labels as a caller gives them: Labels, an array of names, parsed JSON, or a path/URL the platform reads. */
export type LabelsSource = Labels | readonly string[] | string;

/** Resolves given labels; a string goes to the platform's `read` (a file in Node, a URL in a browser). */
export async function resolveLabels(
  given: LabelsSource | undefined,
  read: (where: string) => Promise<Labels>,
): Promise<Labels | undefined> {
  if (given === undefined) return undefined;
  if (typeof given === 'string') return read(given);
  if (Array.isArray(given)) return parseLabels(given);
  return given as Labels;
}
