import { readFile } from 'node:fs/promises';
import { ExplainError, IMAGENET_CLASSES, parseLabels, type Labels } from '@easy-explain/core';

let imagenet: Labels | undefined;

/**
 * ImageNet's 1000 class names for the default model. Each entry's first synonym is used
 * ("tabby, tabby cat" → "tabby"), matching the short names of imagenet_class_index.json.
 */
export function imagenetLabels(): Labels {
  if (!imagenet) {
    const names: string[] = [];
    for (let i = 0; i < 1000; i++) names.push(String(IMAGENET_CLASSES[i]).split(',')[0].trim());
    imagenet = parseLabels(names);
  }
  return imagenet;
}

/** Labels from a JSON file: imagenet_class_index.json style, a {"0": "name"} map, or an array of names. */
export async function loadLabels(path: string): Promise<Labels> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ExplainError('invalid_labels', `Cannot read the label file ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}.`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ExplainError('invalid_labels', `The label file ${path} is not JSON; use an array of names or {"0": ["wnid", "name"], ...}.`, { cause });
  }
  return parseLabels(json);
}
