import { ExplainError } from './errors.js';

/** Class names by index. */
export interface Labels {
  /** The name of class `index`; `class <index>` past the end of the list. */
  name(index: number): string;
  readonly size: number;
}

class LabelList implements Labels {
  constructor(private readonly names: readonly string[]) {}
  get size(): number {
    return this.names.length;
  }
  name(index: number): string {
    return this.names[index] ?? `class ${index}`;
  }
}

/**
 * Labels from `imagenet_class_index.json` (`{"0": ["n01440764", "tench"], ...}`), a `{"0": "tench"}` map,
 * or a plain array of names (`["tench", ...]`, or of `[wnid, name]` pairs).
 */
export function parseLabels(json: unknown): Labels {
  const nameOf = (entry: unknown, where: string): string => {
    if (typeof entry === 'string') return entry;
    if (Array.isArray(entry) && typeof entry[entry.length - 1] === 'string') return entry[entry.length - 1] as string;
    throw new ExplainError('invalid_labels', `Label ${where} is ${JSON.stringify(entry)}; expected a name or a [wnid, name] pair.`);
  };
  if (Array.isArray(json)) {
    return new LabelList(json.map((entry, i) => nameOf(entry, String(i))));
  }
  if (typeof json === 'object' && json !== null) {
    const entries = Object.entries(json as Record<string, unknown>);
    const names: string[] = new Array(entries.length);
    for (const [key, entry] of entries) {
      const index = Number(key);
      if (!Number.isInteger(index) || index < 0 || index >= entries.length) {
        throw new ExplainError(
          'invalid_labels',
          `Label key "${key}" is not a class index from 0 to ${entries.length - 1}; use {"0": ["wnid", "name"], ...} or an array of names.`,
        );
      }
      names[index] = nameOf(entry, `"${key}"`);
    }
    return new LabelList(names);
  }
  throw new ExplainError('invalid_labels', 'Labels must be an array of names or an object {"0": ["wnid", "name"], ...}.');
}

/** Labels that name each class by its index, for models without a label file. */
export function indexLabels(size: number): Labels {
  return new LabelList(Array.from({ length: size }, (_, i) => `class ${i}`));
}
