// The images a batch command names: paths and URLs as given, the images of folders (recursively, sorted), and the
// lines of .txt list files.
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** The batch commands' default output folder. */
export const BATCH_OUT_DIR = 'easy-explain-report';

const IMAGE_FILE = /\.(jpe?g|png|webp|gif|tiff?|avif)$/i;
const isUrl = (text: string) => /^https?:\/\//i.test(text);

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(path)));
    else if (IMAGE_FILE.test(e.name)) out.push(path);
  }
  return out;
}

/**
 * Whether a .txt file is a list of images (each non-blank, non-comment line a URL or an image file name), so that
 * `easy-explain notes.txt` alone is still refused as "not a readable image" rather than read as a list.
 */
export async function isImageList(path: string): Promise<boolean> {
  if (!/\.txt$/i.test(path)) return false;
  try {
    const lines = (await readFile(path, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    return lines.length > 0 && lines.every((l) => isUrl(l) || IMAGE_FILE.test(l));
  } catch {
    return false;
  }
}

/** Absolute paths and URLs of the images; a missing file stays in the list (it becomes that image's failure). */
export async function expandInputs(inputs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    if (isUrl(input)) {
      out.push(input);
      continue;
    }
    const info = await stat(input).catch(() => undefined);
    if (info?.isDirectory()) out.push(...(await walk(resolve(input))));
    else if (info && /\.txt$/i.test(input)) {
      const base = dirname(resolve(input));
      for (const raw of (await readFile(input, 'utf8')).split(/\r?\n/)) {
        const line = raw.trim();
        if (line === '' || line.startsWith('#')) continue;
        out.push(isUrl(line) ? line : resolve(base, line));
      }
    } else out.push(resolve(input));
  }
  return out;
}
