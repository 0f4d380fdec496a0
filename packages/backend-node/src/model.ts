import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, realpath, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExplainError, poolForwardScorer, setOcclusionWorkers, type OcclusionWorkerOptions } from '@easy-explain/core/internal';
import {
  buildLoadedModel,
  DEFAULT_MODEL_URL,
  httpModelSource,
  isOnnxName,
  imagenetLabels,
  modelCapReason,
  readModelFiles,
  shardCapReason,
  type ByteBudget,
  type LoadedModel,
  type LoadModelOptions,
  type ModelFiles,
  type ModelFileSource,
} from '@easy-explain/runtime';
import { ensureBackend, firstLine } from './backend.js';
import { OnnxEngine } from './native/onnx-engine.js';
import { cappedWorkers, poolScorer, resolveWorkers, WorkerPool } from './pool/pool.js';
import { attachOnnxForward } from './native/onnx-forward.js';

// The loaded-model type and loading steps are the runtime's, shared with the browser; Node adds files on disk, the
// cache of the default model, and worker threads.
export { DEFAULT_MODEL_URL, type LoadedModel, type LoadModelOptions, type ModelFiles };
export type { ModelFormat } from '@easy-explain/runtime';

/** The worker pool behind a LoadedModel, if it has one (diagnostics and tests). */
export function workerPoolOf(model: LoadedModel): WorkerPool | undefined {
  return pools.get(model);
}
const pools = new WeakMap<LoadedModel, WorkerPool>();

// ---------- reading model.json and shards from disk ----------

function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
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
function fileSource(modelJson: string): ModelFileSource {
  const dir = dirname(modelJson);
  let realDir: Promise<string> | undefined;
  return {
    where: modelJson,
    shardWhere: (name) => join(dir, name),
    async readJson(maxBytes) {
      try {
        return await readRegular(modelJson, 'model file', maxBytes, modelCapReason(maxBytes));
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
        return await readRegular(real, 'weight shard', maxBytes, shardCapReason(declared), budget);
      } catch (cause) {
        throw readProblem(cause, 'weight shard', path);
      }
    },
    close() {},
  };
}

/**
 * Builds a LoadedModel from files already in memory (`where` names them in messages). Occlusion workers use it to
 * rebuild a downloaded model without downloading it again.
 */
export async function loadModelFiles(files: ModelFiles, where: string, options: NodeLoadModelOptions = {}): Promise<LoadedModel> {
  return loadFromFiles(files, where, options, false);
}

/** Node's extra loading options. */
export interface NodeLoadModelOptions extends LoadModelOptions {
  /**
   * What scores Occlusion's perturbed copies of an ONNX model: 'auto' (default) and 'native' run them on
   * onnxruntime-node when it loads (3–10× faster than TF.js wasm here) and fall back to the TF.js conversion,
   * saying why once through onWarning (else console.warn); 'tfjs' forces the TF.js conversion (incremental, on
   * worker threads). Gradient methods always run on the TF.js conversion; TF.js models ignore this.
   */
  engine?: 'auto' | 'tfjs' | 'native';
  /** Told about slower fallbacks (e.g. onnxruntime-node missing). */
  onWarning?: (message: string) => void;
}

async function loadFromFiles(files: ModelFiles, where: string, options: NodeLoadModelOptions, downloaded: boolean): Promise<LoadedModel> {
  await ensureBackend();
  const engineName = options.engine ?? 'auto';
  if (engineName !== 'auto' && engineName !== 'tfjs' && engineName !== 'native') {
    throw new ExplainError('invalid_option', `engine must be 'auto', 'tfjs' or 'native'; got ${String(options.engine)}.`);
  }
  const model = await buildLoadedModel(files, where, options);
  let pool: WorkerPool | undefined;
  let warnedWorkers = false;
  // 'auto' never fails a model TF.js could convert: onnxruntime refusing it only costs speed, and says so.
  const engine = engineName !== 'tfjs' && files.format === 'onnx' ? await OnnxEngine.create(files.bytes, { onWarning: options.onWarning }).catch((error) => {
    if (engineName === 'auto') {
      (options.onWarning ?? console.warn)(`${firstLine(error).replace(/\.$/, '')}; Occlusion scores on the TF.js conversion instead.`);
      return undefined;
    }
    model.dispose();
    throw error;
  }) : undefined;
  const disposeModel = model.dispose;
  let detachForward: (() => Promise<void>) | undefined;
  const loaded: LoadedModel = Object.assign(model, {
    dispose: () => {
      // The closed pool stays, so a later call says the model was disposed.
      void pool?.close();
      void engine?.dispose(loaded);
      void detachForward?.();
      disposeModel();
    },
  });
  engine?.attachTo(loaded);
  // The forward-only CAMs and metrics score on the same engine (AblationCAM on the graph cut at its layer).
  detachForward = engine && files.format === 'onnx' ? attachOnnxForward(engine, loaded, files.bytes, model.resolveLayer) : undefined;
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
    const threads = pool; // this call's pool, for the closure
    return { workers: count, scorer: poolScorer(pool, count, request), forward: poolForwardScorer(() => threads.acquire(count), count, request) };
  });
  return loaded;
}

/**
 * Loads a TF.js model.json (LayersModel or GraphModel, detected from the file) from a path, a file:// URL or an
 * http(s):// URL, with its weight shards read next to it. Missing files, shards of the wrong size and models
 * whose input is not an image batch are ExplainErrors naming the file.
 */
export async function loadModel(source: string | URL, options: NodeLoadModelOptions = {}): Promise<LoadedModel> {
  const text = source instanceof URL ? source.href : source;
  let src: ModelFileSource;
  let where: string;
  const downloaded = isUrl(text) && !text.startsWith('file:');
  if (downloaded) {
    if (!/^https?:/i.test(text)) throw new ExplainError('invalid_option', `Cannot load a model from ${text}: use a path, file:// or http(s):// URL.`);
    src = httpModelSource(text, options.signal);
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
  // The cache entry holds model.json and its shards, or model.onnx for an ONNX URL.
  const modelJson = join(dir, isOnnxName(url) ? 'model.onnx' : 'model.json');
  const extra = { preset: 'mobilenet' as const, labels: imagenetLabels(), outputKind: 'probabilities' as const };
  const cached = await stat(modelJson).then(() => true, () => false);
  if (!cached) {
    options.onDownload?.(url, dir);
    let files: ModelFiles;
    try {
      files = await readModelFiles(httpModelSource(url, options.signal));
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
    if (files.format === 'onnx') {
      await writeFile(join(tmp, 'model.onnx'), files.bytes, { flag: 'wx' });
      return await commitCacheEntry(tmp, dir);
    }
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
    await commitCacheEntry(tmp, dir);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

/** Renames a complete temporary folder into place; another process that finished the same download first wins. */
async function commitCacheEntry(tmp: string, dir: string): Promise<void> {
  await rename(tmp, dir).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    await rm(tmp, { recursive: true, force: true });
  });
}

/**
 * The model the CLI uses: `source` (a path or URL) if given, else `EASY_EXPLAIN_MODEL`, else the default model.
 */
export async function resolveModel(
  source: string | undefined,
  options: NodeLoadModelOptions & DefaultModelOptions = {},
): Promise<LoadedModel> {
  const chosen = source ?? (process.env.EASY_EXPLAIN_MODEL || undefined);
  if (chosen === undefined) return loadDefaultModel(options);
  return loadModel(chosen, options);
}
