import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, realpath, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { asModel, ExplainError, setOcclusionWorkers, type Labels, type Model, type OcclusionWorkerOptions, type OutputKind } from '@easy-explain/core/internal';
import { ensureBackend, firstLine } from './backend.js';
import { download, MODEL_JSON_MAX_BYTES, MODEL_MAX_BYTES, SHARD_MAX_BYTES, shardUrl, type ByteBudget } from './download.js';
import { validateWeightsManifest } from './manifest.js';
import { printable } from './text.js';
import { cappedWorkers, poolScorer, resolveWorkers, WorkerPool } from './pool/pool.js';
import { imagenetLabels } from '@easy-explain/runtime';
import type { PresetName } from './preset.js';

/** The model `@tensorflow-models/mobilenet` 1.x loads for version 1, alpha 0.75: the CLI's default. */
export const DEFAULT_MODEL_URL = 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.75_224/model.json';

export type ModelFormat = 'layers-model' | 'graph-model';

/** A Model loaded from a model.json, with where it came from and how to feed it. */
export interface LoadedModel extends Model {
  /** The path or URL of model.json. */
  readonly source: string;
  readonly format: ModelFormat;
  /** Preprocessing preset that suits the model, when known (the default model: 'mobilenet'). */
  readonly preset?: PresetName;
  /** The model's own class names, when known (the default model: ImageNet's). */
  readonly labels?: Labels;
  /** The underlying tf.LayersModel or tf.GraphModel. */
  readonly tfModel: tfl.LayersModel | tfc.GraphModel;
  /** Frees the model's weights and ends its occlusion workers. */
  dispose(): void;
}

/** The worker pool behind a LoadedModel, if it has one (diagnostics and tests). */
export function workerPoolOf(model: LoadedModel): WorkerPool | undefined {
  return pools.get(model);
}
const pools = new WeakMap<LoadedModel, WorkerPool>();

export interface LoadModelOptions {
  /** What the model returns; detected from its last layers when omitted. */
  outputKind?: OutputKind;
  /** Layer (LayersModel) or node (GraphModel) whose output holds the class scores. */
  outputLayer?: string;
  /** Preprocessing preset to record on the model (runEasyExplain uses it). */
  preset?: PresetName;
  /** Class names to record on the model. */
  labels?: Labels;
  /** Aborts a download. */
  signal?: AbortSignal;
}

// ---------- reading model.json and shards from a path or URL ----------

interface Source {
  /** Where model.json is, for messages. */
  readonly where: string;
  /** Human-readable location of a shard. */
  shardWhere(name: string): string;
  /** model.json's bytes, at most MODEL_JSON_MAX_BYTES. */
  readJson(): Promise<Uint8Array>;
  /**
   * A shard's bytes; more than `maxBytes` is an error (`declared`: the cap is the size model.json declares), and so is
   * running out of `budget`, shared by the shards of the model.
   */
  readShard(name: string, maxBytes: number, declared: boolean, budget: ByteBudget): Promise<Uint8Array>;
  /** Ends reads still in flight (a sibling shard failed). */
  close(): void;
}

function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

function capReason(declared: boolean): string {
  return declared ? 'the size model.json declares for its weights' : `the ${SHARD_MAX_BYTES}-byte cap on one shard`;
}

/** An open file that must be a regular file of at most `maxBytes`; closed by the caller. */
async function openRegular(path: string, what: string, maxBytes: number, reason: string): Promise<FileHandle> {
  // stat before open: opening a FIFO would block until a writer comes.
  if (!(await stat(path)).isFile()) {
    throw new ExplainError('invalid_model', `The ${what} ${path} is not a regular file (a device, FIFO or folder); a model is read from plain files.`);
  }
  const handle = await open(path, 'r');
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw new ExplainError('invalid_model', `The ${what} ${path} is not a regular file; a model is read from plain files.`);
    if (opened.size > maxBytes) throw new ExplainError('invalid_model', `The ${what} ${path} has ${opened.size} bytes, more than ${maxBytes} (${reason}).`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

async function readRegular(path: string, what: string, maxBytes: number, reason: string, budget?: ByteBudget): Promise<Uint8Array> {
  const handle = await openRegular(path, what, maxBytes, reason);
  try {
    if (budget && (budget.left -= (await handle.stat()).size) < 0) {
      throw new ExplainError('invalid_model', `The ${what} ${path} goes past ${budget.reason}.`);
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

function readProblem(cause: unknown, what: string, path: string): ExplainError {
  if (cause instanceof ExplainError) return cause;
  const code = (cause as NodeJS.ErrnoException).code;
  const problem = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? firstLine(cause)})`;
  return new ExplainError('model_not_found', `The ${what} ${path} ${problem}.`, { cause });
}

/** model.json on disk and shards beside it: each must resolve (symlinks followed) inside its folder, as a regular file. */
function fileSource(modelJson: string): Source {
  const dir = dirname(modelJson);
  let realDir: Promise<string> | undefined;
  return {
    where: modelJson,
    shardWhere: (name) => join(dir, name),
    async readJson() {
      try {
        return await readRegular(modelJson, 'model file', MODEL_JSON_MAX_BYTES, 'the cap on a model.json');
      } catch (cause) {
        throw readProblem(cause, 'model file', modelJson);
      }
    },
    async readShard(name, maxBytes, declared, budget) {
      const path = join(dir, name);
      try {
        realDir ??= realpath(dir);
        const real = await realpath(path);
        if (!real.startsWith((await realDir) + sep)) {
          throw new ExplainError('invalid_model', `The weight shard ${path} is a link to ${real}, outside the model's folder; copy the file into the folder.`);
        }
        return await readRegular(real, 'weight shard', maxBytes, capReason(declared), budget);
      } catch (cause) {
        throw readProblem(cause, 'weight shard', path);
      }
    },
    close() {},
  };
}

/** model.json at a URL, shards next to it with its query string; every download bounded in size and time. */
function httpSource(modelJson: string, signal?: AbortSignal): Source {
  // One signal for the reads of this model: the caller's abort, or close() when a sibling shard failed.
  const reads = new AbortController();
  const onAbort = () => reads.abort(signal?.reason);
  if (signal?.aborted) reads.abort(signal.reason);
  else signal?.addEventListener('abort', onAbort, { once: true });
  const get = (url: string, what: string, maxBytes: number, reason: string, budget?: ByteBudget) =>
    download(url, { what, maxBytes, capReason: reason, budget, failCode: 'model_not_found', tooLargeCode: 'invalid_model', signal: reads.signal }).catch(
      (error: unknown) => {
        // The shared signal also fires on close(); only the caller's abort is an abort.
        if (error instanceof ExplainError && error.code === 'aborted' && signal?.aborted !== true) {
          throw new ExplainError('model_not_found', `The download of ${url} was stopped.`, { cause: error });
        }
        throw error;
      },
    );
  return {
    where: modelJson,
    shardWhere: (name) => shardUrl(modelJson, name),
    readJson: () => get(modelJson, 'the model file', MODEL_JSON_MAX_BYTES, 'the cap on a model.json'),
    readShard: (name, maxBytes, declared, budget) => get(shardUrl(modelJson, name), 'the weight shard', maxBytes, capReason(declared), budget),
    close() {
      signal?.removeEventListener('abort', onAbort);
      reads.abort();
    },
  };
}

/** A model.json and its weight shards, read into memory. */
export interface ModelFiles {
  json: tf.io.ModelJSON;
  shards: Map<string, Uint8Array>;
  format: ModelFormat;
}

/**
 * Reads model.json and every shard it names. The whole weightsManifest is checked first (shard names stay inside the
 * model's folder), so nothing is fetched for a hostile file; then each group must have exactly the bytes it declares.
 */
async function readModelFiles(source: Source): Promise<ModelFiles> {
  try {
    return await readAll(source);
  } finally {
    source.close();
  }
}

async function readAll(source: Source): Promise<ModelFiles> {
  const raw = await source.readJson();
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(new TextDecoder().decode(raw)) as tf.io.ModelJSON;
  } catch {
    throw new ExplainError('invalid_model', `${source.where} is not JSON; pass the model.json of a TF.js model.`);
  }
  if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' || json.modelTopology === null) {
    throw new ExplainError('invalid_model', `${source.where} has no modelTopology; it is not a TF.js model.json.`);
  }
  const groups = validateWeightsManifest(json, source.where);
  const topology = json.modelTopology as { node?: unknown };
  const format: ModelFormat = json.format === 'graph-model' || Array.isArray(topology.node) ? 'graph-model' : 'layers-model';
  // All shards together may read what model.json declares (string weights: no size known) and never past the cap.
  const declaredTotal = groups.every((g) => g.bytes !== undefined) ? groups.reduce((a, g) => a + g.bytes!, 0) : undefined;
  if (declaredTotal !== undefined && declaredTotal > MODEL_MAX_BYTES) {
    throw new ExplainError('invalid_model', `${source.where} declares ${declaredTotal} bytes of weights, more than ${MODEL_MAX_BYTES} (the cap on one model).`);
  }
  const budget: ByteBudget =
    declaredTotal !== undefined
      ? { left: declaredTotal, reason: `the ${declaredTotal} bytes model.json declares for all its weights` }
      : { left: MODEL_MAX_BYTES, reason: `the ${MODEL_MAX_BYTES}-byte cap on one model's weights` };
  const shards = new Map<string, Uint8Array>();
  // Shards are independent files: fetch each group's shards concurrently, groups one after another.
  for (const [g, group] of groups.entries()) {
    // Each shard is read up to what its group declares (a shard cannot hold more), and never past the hard cap.
    const declared = group.bytes !== undefined && group.bytes <= SHARD_MAX_BYTES;
    const cap = declared ? group.bytes! : SHARD_MAX_BYTES;
    const buffers = await Promise.all(group.paths.map((p) => source.readShard(p, cap, declared, budget)));
    group.paths.forEach((p, i) => shards.set(p, buffers[i]));
    const expected = group.bytes;
    const actual = buffers.reduce((a, b) => a + b.length, 0);
    if (expected !== undefined && expected !== actual) {
      const files = group.paths.map((p) => source.shardWhere(p)).join(', ');
      const subject = group.paths.length === 1 ? `The weight shard ${files} has` : `Weight group ${g + 1} (${files}) has`;
      throw new ExplainError(
        'invalid_model',
        `${subject} ${actual} bytes but model.json says its weights need ${expected}; the file is truncated or belongs to another model.`,
      );
    }
  }
  return { json, shards, format };
}

function concat(parts: Uint8Array[]): ArrayBuffer {
  const total = parts.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out.buffer;
}

function handlerFor(files: ModelFiles): tf.io.IOHandler {
  return {
    load: () =>
      tf.io.getModelArtifactsForJSON(files.json, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights);
        const data = concat(manifest.flatMap((group) => group.paths.map((p) => files.shards.get(p)!)));
        return [specs, data];
      }),
  };
}

function inputShapeOf(model: tfl.LayersModel | tfc.GraphModel): readonly (number | null)[] | undefined {
  if (model instanceof tfl.LayersModel) return model.inputs[0]?.shape;
  return model.inputs[0]?.shape;
}

function checkImageModel(model: tfl.LayersModel | tfc.GraphModel, where: string): void {
  const count = model.inputs.length;
  if (count !== 1) {
    throw new ExplainError('invalid_model', `${where} has ${count} inputs; easy-explain needs a model with one image input [N,H,W,C].`);
  }
  const shape = inputShapeOf(model);
  // A GraphModel may leave its input shape unspecified; it is checked again when first run.
  if (shape === undefined && model instanceof tfc.GraphModel) return;
  const channels = shape?.[3];
  if (!shape || shape.length !== 4 || (channels != null && channels !== 1 && channels !== 3)) {
    throw new ExplainError(
      'invalid_model',
      `${where} takes input of shape [${shape?.map((d) => d ?? 'null').join(',')}], not an image batch [N,H,W,1 or 3].`,
    );
  }
  if (model instanceof tfl.LayersModel && model.outputs.length === 1) {
    const out = model.outputs[0]?.shape;
    if (out && !isClassScores(out)) throw notClassScores(where, out);
  }
}

/** [N, classes], or [N,1,1,classes] (squeezed): anything else is a map, not one score per class. */
function isClassScores(shape: readonly (number | null)[]): boolean {
  return shape.length === 2 || (shape.length > 2 && shape.slice(1, -1).every((d) => d === 1));
}

function notClassScores(where: string, shape: readonly (number | null)[], node?: string): ExplainError {
  const at = node === undefined ? '' : ` at node "${printable(node)}"`;
  return new ExplainError(
    'invalid_model',
    `${where} outputs shape [${shape.map((d) => d ?? 'null').join(',')}]${at}, not class scores [N, classes]; ` +
      'use a classifier, or pass outputLayer naming the layer or node that holds the class scores.',
  );
}

/**
 * Runs a GraphModel once on zeros (when its input size is known), so an op TF.js lacks, a graph that cannot run, or
 * an output that is not class scores is an `invalid_model` error at load, not a failure in the middle of a method.
 */
function probeGraph(model: tfc.GraphModel, where: string, outputLayer: string | undefined): void {
  const shape = model.inputs[0]?.shape;
  if (!shape || shape.length !== 4 || shape.slice(1).some((d) => d == null || d <= 0)) return;
  const batch = shape[0] != null && shape[0] > 0 ? shape[0] : 1;
  const node = outputLayer ?? model.outputNodes[0];
  let out: number[] | undefined;
  try {
    out = tf.tidy(() => {
      const y = model.execute(tf.zeros([batch, shape[1], shape[2], shape[3]]), node);
      return y instanceof tf.Tensor ? y.shape : undefined;
    });
  } catch (cause) {
    throw new ExplainError('invalid_model', `${where} cannot run in TF.js: ${printable(firstLine(cause))}`, { cause });
  }
  if (out && !isClassScores(out)) throw notClassScores(where, out, node);
}

/**
 * A GraphModel exported with a fixed batch size asserts on any other batch deep inside TF.js; say it plainly instead.
 */
function guardFixedBatch(model: Model, inner: tfc.GraphModel, where: string): void {
  const batch = inner.inputs[0]?.shape?.[0];
  if (batch == null || batch <= 0) return;
  const check = (images: tf.Tensor4D) => {
    if (images.shape[0] !== batch) {
      throw new ExplainError(
        'invalid_model',
        `${where} takes a fixed batch of ${batch} image(s), but this method evaluates ${images.shape[0]} at once; ` +
          're-export the model with a variable batch size (None or -1).',
      );
    }
  };
  const m = model as { -readonly [K in keyof Model]: Model[K] };
  const { predict, predictWithLayer, scoresFromLayer } = model;
  m.predict = (images) => (check(images), predict.call(model, images));
  if (predictWithLayer) m.predictWithLayer = (images, layer) => (check(images), predictWithLayer.call(model, images, layer));
  if (scoresFromLayer) m.scoresFromLayer = (images, layer, a) => (check(images), scoresFromLayer.call(model, images, layer, a));
}

function modelName(json: tf.io.ModelJSON): string {
  const t = json.modelTopology as { config?: { name?: unknown }; model_config?: { config?: { name?: unknown } } };
  const name = t.model_config?.config?.name ?? t.config?.name;
  return typeof name === 'string' ? name : '';
}

/**
 * Builds a LoadedModel from files already in memory (`where` names them in messages). Occlusion workers use it to
 * rebuild a downloaded model without downloading it again.
 */
export async function loadModelFiles(files: ModelFiles, where: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  return loadFromFiles(files, where, options, false);
}

async function loadFromFiles(files: ModelFiles, where: string, options: LoadModelOptions, downloaded: boolean): Promise<LoadedModel> {
  await ensureBackend();
  let inner: tfl.LayersModel | tfc.GraphModel;
  try {
    inner = files.format === 'graph-model' ? await tfc.loadGraphModel(handlerFor(files)) : await tfl.loadLayersModel(handlerFor(files));
  } catch (cause) {
    throw new ExplainError('invalid_model', `${where} could not be loaded as a ${files.format}: ${printable(firstLine(cause))}`, { cause });
  }
  try {
    checkImageModel(inner, where);
    if (inner instanceof tfc.GraphModel) probeGraph(inner, where, options.outputLayer);
    const model = asModel(inner, { outputKind: options.outputKind, outputLayer: options.outputLayer });
    if (inner instanceof tfc.GraphModel) guardFixedBatch(model, inner, where);
    // Keras MobileNets scale pixels to [-1, 1]; other models get the preset the caller asks for.
    const preset = options.preset ?? (/mobilenet/i.test(modelName(files.json)) ? 'mobilenet' : undefined);
    let pool: WorkerPool | undefined;
    let warnedWorkers = false;
    const loaded: LoadedModel = Object.assign(model, {
      source: where,
      format: files.format,
      preset,
      labels: options.labels,
      tfModel: inner,
      dispose: () => {
        // The closed pool stays, so a later call says the model was disposed.
        void pool?.close();
        inner.dispose();
      },
    });
    // Occlusion in worker threads (`workers` option): each worker loads this model again from `source` on the main
    // thread's backend. The pool starts on first use, is reused by later calls and ends with dispose().
    setOcclusionWorkers(loaded, (request: OcclusionWorkerOptions) => {
      const count = resolveWorkers(
        cappedWorkers(request.workers, (message) => {
          if (!warnedWorkers) request.onWarning?.(message);
          warnedWorkers = true;
        }),
      );
      if (count <= 1) return undefined;
      if (!pool) {
        // Files read from disk are read again by each worker; downloaded ones are handed over, not fetched again.
        pool = new WorkerPool({ source: where, files: downloaded ? files : undefined, outputKind: model.outputKind, outputLayer: options.outputLayer });
        pools.set(loaded, pool);
      }
      return { workers: count, scorer: poolScorer(pool, count, request) };
    });
    return loaded;
  } catch (error) {
    inner.dispose();
    throw error;
  }
}

/**
 * Loads a TF.js model.json (LayersModel or GraphModel, detected from the file) from a path, a file:// URL or an
 * http(s):// URL, with its weight shards read next to it. Missing files, shards of the wrong size and models
 * whose input is not an image batch are ExplainErrors naming the file.
 */
export async function loadModel(source: string | URL, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const text = source instanceof URL ? source.href : source;
  let src: Source;
  let where: string;
  const downloaded = isUrl(text) && !text.startsWith('file:');
  if (downloaded) {
    if (!/^https?:/i.test(text)) throw new ExplainError('invalid_option', `Cannot load a model from ${text}: use a path, file:// or http(s):// URL.`);
    src = httpSource(text, options.signal);
    where = text;
  } else {
    const path = text.startsWith('file:') ? fileURLToPath(text) : resolve(text);
    const isDir = await stat(path).then((s) => s.isDirectory(), () => false);
    const file = isDir ? join(path, 'model.json') : path;
    src = fileSource(file);
    where = file;
  }
  const files = await readModelFiles(src);
  return loadFromFiles(files, where, options, downloaded);
}

// ---------- the default model, downloaded once into the user's cache ----------

/** `$XDG_CACHE_HOME/easy-explain`, else `~/.cache/easy-explain`. */
export function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.cache'), 'easy-explain');
}

export interface DefaultModelOptions {
  /** Where to download from; default `EASY_EXPLAIN_MODEL_URL` or {@link DEFAULT_MODEL_URL}. */
  url?: string;
  /** Cache directory; default {@link defaultCacheDir}. */
  cacheDir?: string;
  /** Told when a download starts (the CLI prints it). */
  onDownload?: (url: string, into: string) => void;
  signal?: AbortSignal;
}

/** The cache folder of a model URL: a readable name for the official URL, a hash for any other. */
export function cachedModelDir(url: string, cacheDir = defaultCacheDir()): string {
  const name = url === DEFAULT_MODEL_URL ? 'mobilenet_v1_0.75_224' : `model-${createHash('sha256').update(url).digest('hex').slice(0, 16)}`;
  return join(cacheDir, 'models', name);
}

/**
 * MobileNet v1 0.75 224 with ImageNet labels and the 'mobilenet' preset. Downloaded on first use into the cache and
 * loaded from there afterwards. Without network and cache the error says how to pass a local model instead.
 */
export async function loadDefaultModel(options: DefaultModelOptions = {}): Promise<LoadedModel> {
  const url = options.url ?? process.env.EASY_EXPLAIN_MODEL_URL ?? DEFAULT_MODEL_URL;
  const dir = cachedModelDir(url, options.cacheDir);
  const modelJson = join(dir, 'model.json');
  const extra = { preset: 'mobilenet' as const, labels: imagenetLabels(), outputKind: 'probabilities' as const };
  const cached = await stat(modelJson).then(() => true, () => false);
  if (!cached) {
    options.onDownload?.(url, dir);
    let files: ModelFiles;
    try {
      files = await readModelFiles(httpSource(url, options.signal));
    } catch (error) {
      // A refused model file is reported as it is; only an unreachable download gets the offline hint.
      if (error instanceof ExplainError && error.code !== 'model_not_found') throw error;
      throw new ExplainError(
        'model_not_found',
        `Cannot download the default model (${firstLine(error).replace(/\.$/, '')}). Without network, pass a local TF.js model: ` +
          '`easy-explain photo.jpg --model path/to/model.json` (or set EASY_EXPLAIN_MODEL; in code, loadModel(path)).',
        { cause: error },
      );
    }
    // Built from memory first: a model that does not load is never cached. It names the cache entry as its source,
    // which exists by the time its occlusion workers (started on first use) read it.
    const model = await loadFromFiles(files, modelJson, extra, false);
    try {
      await saveModel(files, dir);
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  }
  return loadModel(modelJson, { ...extra, signal: options.signal });
}

/**
 * Writes model.json and shards into a temporary folder renamed into place, so a cache folder is always complete.
 * The shard names were checked by validateWeightsManifest; each target is checked again to lie inside the folder.
 */
async function saveModel(files: ModelFiles, dir: string): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  const tmp = await mkdtemp(`${dir}.partial-`);
  try {
    for (const [name, bytes] of files.shards) {
      const target = resolve(tmp, name);
      if (!target.startsWith(tmp + sep)) throw new ExplainError('invalid_model', `The weight shard path ${JSON.stringify(name)} leaves the cache folder.`);
      await mkdir(dirname(target), { recursive: true });
      // 'wx': never follow or replace an existing file (the folder is fresh; a repeated name is written once).
      await writeFile(target, bytes, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    }
    await writeFile(join(tmp, 'model.json'), JSON.stringify(files.json));
    await rename(tmp, dir).catch(async (error: NodeJS.ErrnoException) => {
      // Another process finished the same download first: keep its copy.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The model the CLI uses: `source` (a path or URL) if given, else `EASY_EXPLAIN_MODEL`, else the default model.
 */
export async function resolveModel(
  source: string | undefined,
  options: LoadModelOptions & DefaultModelOptions = {},
): Promise<LoadedModel> {
  const chosen = source ?? (process.env.EASY_EXPLAIN_MODEL || undefined);
  if (chosen === undefined) return loadDefaultModel(options);
  return loadModel(chosen, options);
}
