// Many images through one loaded model: an async iterator that yields each image's result as it finishes. The model
// and its occlusion workers are loaded once; nothing of an image is kept after it is yielded, so memory stays flat
// however many images there are. A bad image is yielded as a failure and the run goes on; an abort ends it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ExplainError, type MethodName, type MethodOptions, type Prediction } from '@easy-explain/core/internal';
import { checkExplainOptions } from '@easy-explain/runtime';
import { runEasyExplain, type EasyExplainOptions, type EasyExplainResult } from './explain.js';
import { EXPLANATION_SCHEMA_VERSION, type ExplanationFile } from './explanation-file.js';
import { decodeImage, type ImageSource, type RgbImage } from './image.js';
import { loadModel, type LoadedModel } from './model.js';
import { VERSION } from './version.js';

/** One image of a batch: a path, an http(s) URL, file bytes, decoded pixels, or an [H,W,3] 0..255 tensor (not disposed). */
export type BatchImage = ImageSource | RgbImage | tf.Tensor3D;

/**
 * Which classes each image explains: 'top1' (the default), a class index for all, `{ topK: k }` for each of the top k
 * predictions, or a function of the image's top predictions giving one class or several (per image).
 */
export type TargetRule =
  | 'top1'
  | number
  | { topK: number }
  | ((predictions: Prediction[], image: { index: number; name: string }) => number | number[]);

/** A method and its options (Captum's names, as the method table takes them). */
export interface BatchMethod {
  method: MethodName;
  methodOptions?: MethodOptions;
}

export interface BatchOptions
  extends Omit<EasyExplainOptions, 'image' | 'imageName' | 'target' | 'method' | 'methodOptions' | 'outDir' | 'onPredictions' | 'onPartial' | 'signal'> {
  /** Default 'top1'. */
  targets?: TargetRule;
  /** One or several methods, each run on every target; default occlusion with easy-explain's setting. */
  methods?: BatchMethod[];
  /**
   * Writes each image into its own folder `outDir/images/<name>-<content hash>/` (never overwritten): one
   * sub-folder per method and target with its figures, attribution.npy and explanation.json, and image.json last.
   * The folder appears at once (renamed from a partial one), so a folder that exists is an image done.
   */
  outDir?: string;
  /** With outDir: images whose folder exists (same pixels, by content hash) are yielded as skipped, not redone. */
  resume?: boolean;
  /** Called as each image starts, for progress displays. */
  onImage?: (index: number, name: string) => void;
  signal?: AbortSignal;
}

/** One method on one target of an image. */
export interface BatchRun {
  method: MethodName;
  target: number;
  targetLabel: string;
  /** The attribution, [1,h,w,C] float32 NHWC: plain memory, no tensor to dispose. */
  attribution: { data: Float32Array; shape: number[] };
  explanation: ExplanationFile;
  /** The sub-folder of the image's folder holding this run's files (with outDir). */
  dir?: string;
}

export type BatchItem =
  | {
      ok: true;
      index: number;
      name: string;
      /** The image's folder name: its name and the first 12 hex digits of the SHA-256 of its pixels (skipped: the folder found). */
      key: string;
      predictions: Prediction[];
      runs: BatchRun[];
      /** With outDir: the image's folder. */
      dir?: string;
      /** With resume: the folder was there already; runs and predictions are empty. */
      skipped?: boolean;
    }
  | { ok: false; index: number; name: string; error: ExplainError };

/** What image.json, the last file of each image folder, records. */
export interface ImageRecord {
  schemaVersion: number;
  toolVersion: string;
  key: string;
  source: string;
  sha256: string;
  width: number;
  height: number;
  predictions: Prediction[];
  runs: Array<{ dir: string; method: MethodName; target: number; targetLabel: string; figures: string[]; attribution: string; metrics?: string }>;
  finishedAt: string;
}

export const IMAGES_DIR = 'images';
export const IMAGE_RECORD = 'image.json';
const FIRST_RUN = '.first';
/** Hex digits of the pixels' SHA-256 in a folder name. */
const HASH_DIGITS = 12;

function isRgb(image: unknown): image is RgbImage {
  const i = image as Partial<RgbImage>;
  return typeof i === 'object' && i !== null && i.data instanceof Uint8Array && typeof i.height === 'number' && typeof i.width === 'number';
}

/** How results name an image: its absolute path or URL, else its place in the batch. */
export function imageName(image: BatchImage, index: number): string {
  if (typeof image === 'string') return /^[a-z][a-z0-9+.-]*:\/\//i.test(image) ? image : resolve(image);
  if (image instanceof URL) return image.href;
  if (image instanceof tf.Tensor) return `tensor-${index + 1}`;
  return isRgb(image) ? `pixels-${index + 1}` : `bytes-${index + 1}`;
}

/** Decoded pixels of any batch image; tensors are read back (they are the caller's). */
async function pixelsOf(image: BatchImage, signal?: AbortSignal): Promise<RgbImage> {
  if (image instanceof tf.Tensor) {
    if (image.rank !== 3 || image.shape[2] !== 3) throw new ExplainError('image_invalid', `A batch tensor must be [H,W,3] 0..255; got [${image.shape.join(',')}].`);
    const data = Uint8Array.from(await image.data(), (v) => Math.max(0, Math.min(255, Math.round(v))));
    return { data, height: image.shape[0], width: image.shape[1] };
  }
  if (isRgb(image)) return image;
  return decodeImage(image, { signal });
}

/** The folder name of an image: a readable stem and the hash of its pixels (so the same photo twice is one folder). */
export function imageKey(name: string, pixels: RgbImage): { key: string; sha256: string } {
  const hash = createHash('sha256');
  hash.update(`${pixels.width}x${pixels.height}\n`);
  hash.update(pixels.data);
  const sha256 = hash.digest('hex');
  const stem = basename(name.split(/[?#]/)[0]).replace(/\.[a-z0-9]+$/i, '').replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 40) || 'image';
  return { key: `${stem}-${sha256.slice(0, HASH_DIGITS)}`, sha256 };
}

function targetsOf(rule: TargetRule, predictions: Prediction[], image: { index: number; name: string }): number[] {
  if (rule === 'top1') return [predictions[0].index];
  if (typeof rule === 'number') return [rule];
  if (typeof rule === 'function') {
    const t = rule(predictions, image);
    return [...new Set(Array.isArray(t) ? t : [t])];
  }
  return predictions.slice(0, rule.topK).map((p) => p.index);
}

function checkTargetRule(rule: TargetRule): void {
  const ok =
    rule === 'top1' ||
    typeof rule === 'function' ||
    (typeof rule === 'number' && Number.isInteger(rule) && rule >= 0) ||
    (typeof rule === 'object' && rule !== null && Number.isInteger(rule.topK) && rule.topK >= 1);
  if (!ok) throw new ExplainError('invalid_option', `targets must be 'top1', a class index, { topK: k } with k ≥ 1, or a function; got ${JSON.stringify(rule)}.`);
}

/** A partial folder's name says which process on which host writes it, so a later run can tell it is abandoned. */
function partialName(key: string): string {
  return `.partial-${key}.${hostname().replace(/[^A-Za-z0-9-]/g, '_')}.${process.pid}.${randomBytes(4).toString('hex')}`;
}

/**
 * Removes partial folders under outDir/images that a process on this host left when it died (killed, crashed);
 * those of live processes and of other hosts (a shared folder) are left alone. Returns the names removed.
 */
export async function removeAbandonedPartials(outDir: string): Promise<string[]> {
  const imagesDir = join(resolve(outDir), IMAGES_DIR);
  const host = hostname().replace(/[^A-Za-z0-9-]/g, '_');
  const removed: string[] = [];
  for (const entry of await readdir(imagesDir).catch(() => [] as string[])) {
    const m = /^\.partial-.+\.([A-Za-z0-9_-]+)\.(\d+)\.[0-9a-f]{8}$/.exec(entry);
    if (!m || m[1] !== host || isAlive(Number(m[2]))) continue;
    await rm(join(imagesDir, entry), { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

const exists = (path: string) => stat(path).then(() => true, () => false);

/** A per-image failure as an ExplainError (anything else is wrapped, so one bad image never ends the run). */
function asExplainError(error: unknown): ExplainError {
  if (error instanceof ExplainError) return error as ExplainError;
  return new ExplainError('image_failed', `Explaining this image failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** Explains one image: every method on every target, into a partial folder renamed into place at the end. */
async function explainOne(
  model: LoadedModel,
  image: BatchImage,
  index: number,
  options: BatchOptions,
  imagesDir: string | undefined,
  done: Map<string, string>,
): Promise<BatchItem> {
  const { signal } = options;
  const name = imageName(image, index);
  options.onImage?.(index, name);
  const pixels = await pixelsOf(image, signal);
  const { key, sha256 } = imageKey(name, pixels);
  const finalDir = imagesDir && join(imagesDir, key);
  if (imagesDir) {
    // Done before under this name, or under another (the same pixels: a renamed or copied file, or the same photo
    // twice in this batch). Folders from earlier runs count only with resume.
    const before = done.get(sha256.slice(0, HASH_DIGITS)) ?? (options.resume && (await exists(finalDir!)) ? key : undefined);
    if (before) return { ok: true, index, name, key: before, predictions: [], runs: [], dir: join(imagesDir, before), skipped: true };
  }

  const partialDir = imagesDir && join(imagesDir, partialName(key));
  const methods = options.methods?.length ? options.methods : [{ method: 'occlusion' as MethodName }];
  const rule = options.targets ?? 'top1';
  const topK = typeof rule === 'object' ? rule.topK : 1;
  const { targets: _t, methods: _m, outDir: _o, resume: _r, onImage: _i, ...shared } = options;
  const runs: BatchRun[] = [];
  let predictions: Prediction[] = [];
  const run = (method: BatchMethod, target: number | undefined, sub: string) =>
    runEasyExplain(model, {
      ...shared,
      totalPreds: Math.max(shared.totalPreds ?? 5, topK),
      image: pixels,
      imageName: name,
      target,
      method: method.method,
      methodOptions: method.methodOptions,
      signal,
      outDir: partialDir && join(partialDir, sub),
    });
  // Keeps a run's attribution as plain memory and frees its tensor.
  const keep = async (result: EasyExplainResult, method: MethodName) => {
    try {
      const dir = `${method}-${result.target}`;
      runs.push({
        method,
        target: result.target,
        targetLabel: result.targetLabel,
        attribution: { data: (await result.attribution.data()) as Float32Array, shape: [...result.attribution.shape] },
        explanation: result.explanation,
        dir: finalDir && join(finalDir, dir),
      });
    } finally {
      result.attribution.dispose();
    }
  };
  try {
    // Rules other than a fixed class need the predictions first: the top-1 run of the first method gives them, and
    // is kept when the rule picks the top class (it always does for 'top1' and topK).
    let first: EasyExplainResult | undefined;
    let targets: number[];
    if (typeof rule === 'number') {
      targets = [rule];
    } else {
      first = await run(methods[0], undefined, FIRST_RUN);
      predictions = first.predictions;
      targets = targetsOf(rule, predictions, { index, name });
    }
    try {
      for (const target of targets) {
        for (const method of methods) {
          if (first && method === methods[0] && target === first.target) {
            if (partialDir) await rename(join(partialDir, FIRST_RUN), join(partialDir, `${method.method}-${target}`));
            const result = first;
            first = undefined;
            await keep(result, method.method);
            continue;
          }
          const result = await run(method, target, `${method.method}-${target}`);
          if (predictions.length === 0) predictions = result.predictions;
          await keep(result, method.method);
        }
      }
    } finally {
      first?.attribution.dispose();
      if (first && partialDir) await rm(join(partialDir, FIRST_RUN), { recursive: true, force: true });
    }
    if (!partialDir || !finalDir) return { ok: true, index, name, key, predictions, runs };

    const record: ImageRecord = {
      schemaVersion: EXPLANATION_SCHEMA_VERSION,
      toolVersion: VERSION,
      key,
      source: name,
      sha256,
      width: pixels.width,
      height: pixels.height,
      predictions,
      runs: runs.map((r) => {
        const dir = `${r.method}-${r.target}`;
        return {
          dir,
          method: r.method,
          target: r.target,
          targetLabel: r.targetLabel,
          figures: r.explanation.figures.map((f) => `${dir}/${f.file}`),
          attribution: `${dir}/${r.explanation.attribution?.file}`,
          ...(r.explanation.metrics && { metrics: `${dir}/metrics.png` }),
        };
      }),
      finishedAt: new Date().toISOString(),
    };
    await writeFile(join(partialDir, IMAGE_RECORD), JSON.stringify(record, null, 2) + '\n');
    try {
      await rename(partialDir, finalDir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Another process (a second queue worker, or the same photo twice in this batch) finished it first.
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM') throw error;
      await rm(partialDir, { recursive: true, force: true });
      return { ok: true, index, name, key, predictions, runs, dir: finalDir, skipped: true };
    }
    done.set(sha256.slice(0, HASH_DIGITS), key);
    return { ok: true, index, name, key, predictions, runs, dir: finalDir };
  } catch (error) {
    if (partialDir) await rm(partialDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Explains many images with one model, yielding each image's result (or its failure) as soon as it is done. The
 * model is a loaded one (kept, with its occlusion workers, for the next call) or a model.json path/URL (loaded once
 * and disposed when the iteration ends). `images` may be any iterable, also an async one, so a long list is never
 * held whole. Aborting `signal` ends the iteration with an ExplainError `aborted` and removes the partial folder.
 * Leaves no tensor behind.
 */
export async function* explainBatch(
  model: LoadedModel | string,
  images: Iterable<BatchImage> | AsyncIterable<BatchImage>,
  options: BatchOptions = {},
): AsyncGenerator<BatchItem, void, undefined> {
  checkTargetRule(options.targets ?? 'top1');
  for (const m of options.methods ?? []) checkExplainOptions({ image: undefined, method: m.method, totalPreds: options.totalPreds, visTypes: options.visTypes, visSigns: options.visSigns });
  checkExplainOptions({ image: undefined, totalPreds: options.totalPreds, visTypes: options.visTypes, visSigns: options.visSigns, metrics: options.metrics, preset: options.preset });
  let imagesDir: string | undefined;
  if (options.outDir !== undefined) {
    imagesDir = join(resolve(options.outDir), IMAGES_DIR);
    try {
      await mkdir(imagesDir, { recursive: true });
    } catch (cause) {
      throw new ExplainError('invalid_option', `Cannot write to the output folder ${options.outDir}: ${(cause as NodeJS.ErrnoException).code ?? cause}.`, { cause });
    }
  }
  // Folders already there, by the hash at the end of their names (for resume).
  const done = new Map<string, string>();
  if (imagesDir && options.resume) {
    for (const entry of await readdir(imagesDir)) {
      const hash = /-([0-9a-f]{12})$/.exec(entry)?.[1];
      if (hash && !entry.startsWith('.')) done.set(hash, entry);
    }
  }
  const loaded = typeof model === 'string' ? await loadModel(model, { signal: options.signal }) : model;
  try {
    let index = 0;
    for await (const image of images) {
      if (options.signal?.aborted) throw new ExplainError('aborted', 'The batch was aborted.');
      let item: BatchItem;
      try {
        item = await explainOne(loaded, image, index, options, imagesDir, done);
      } catch (error) {
        const e = asExplainError(error);
        if (e.code === 'aborted' || options.signal?.aborted) throw new ExplainError('aborted', 'The batch was aborted.', { cause: error });
        item = { ok: false, index, name: imageName(image, index), error: e };
      }
      index++;
      yield item;
    }
  } finally {
    if (typeof model === 'string') loaded.dispose();
  }
}
