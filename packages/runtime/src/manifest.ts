// Checks a parsed model.json's weightsManifest before any shard is read, fetched or written. Platform-neutral (no
// `node:` import), so a browser loader can share it. A model file comes from anywhere (a download, a cache entry a
// server filled): every name in it is treated as hostile until checked.
import { ExplainError } from '@easy-explain/core';
import { hasControl, printable } from './text.js';

/** Bytes per element of the dtypes TF.js stores weights in (quantised dtypes included). */
const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, int8: 1, uint16: 2, int16: 2, float16: 2 };
/** Weight dtypes TF.js knows; 'string' has no fixed size. */
const WEIGHT_DTYPES = new Set(['float32', 'int32', 'bool', 'complex64', 'string']);
const QUANTIZED_DTYPES = new Set(['uint8', 'uint16', 'float16']);

/** Most shard files one model.json may name (TF.js writes 4 MB shards: 4096 of them hold 16 GB). */
export const MAX_SHARDS = 4096;

/** One weight as the manifest declares it, checked. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** One group of weights and the shard files that hold them, in order. */
export interface ShardGroup {
  paths: string[];
  weights: WeightSpec[];
  /** The group's byte size from its weights' shapes and dtypes; undefined for string weights. */
  bytes: number | undefined;
}

/** A plain object (not null, not an array). */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Text from a model file, shortened and with control characters shown as escapes, for an error message. */
export function quoteName(value: unknown): string {
  const text = typeof value === 'string' ? value : String(JSON.stringify(value));
  const short = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  // Strings are quoted; other values (numbers, lists) show as JSON. JSON escapes C0 controls; printable the rest.
  return printable(typeof value === 'string' ? JSON.stringify(short) : short);
}

/**
 * Why a shard name from a manifest is not a plain relative path inside the model's folder, or undefined when it is.
 * Refuses what could reach outside the folder or another host: `..` segments (also percent-encoded, which URLs
 * resolve), absolute paths, schemes (`http:`, `C:`), `//host`, backslashes, NUL and other control characters, and
 * `?`/`#` (a URL would read them as query or fragment, a file system as part of the name).
 */
export function shardPathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string') return 'is not a string';
  if (path.length === 0) return 'is empty';
  if (path.length > 1024) return 'is longer than 1024 characters';
  if (hasControl(path)) return 'contains a control character';
  if (path.includes('\\')) return 'contains a backslash';
  if (path.startsWith('/')) return 'is absolute (or names another host)';
  if (path.includes(':')) return 'names a scheme or drive (":")';
  if (/[?#]/.test(path)) return 'contains "?" or "#"';
  const segments = path.split('/');
  if (segments.some((s) => s === '')) return 'has an empty segment ("//" or a trailing "/")';
  if (segments.some((s) => /^(\.|%2e){2}$/i.test(s))) return 'leaves the model folder ("..")';
  if (segments.every((s) => /^(\.|%2e)$/i.test(s))) return 'names the folder itself';
  return undefined;
}

/** Element count of a checked shape; Infinity past 2^53. */
function elements(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkWeight(value: unknown, at: string, where: string): WeightSpec {
  const fail = (problem: string) => new ExplainError('invalid_model', `${where}: ${at} ${problem}; the file is damaged or not a TF.js model.json.`);
  if (!isRecord(value)) throw fail('is not an object');
  if (typeof value.name !== 'string' || value.name === '') throw fail('has no name');
  const shape = value.shape;
  if (!Array.isArray(shape)) throw fail(`(${quoteName(value.name)}) has no shape`);
  if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw fail(`(${quoteName(value.name)}) has shape ${quoteName(shape)}; dimensions must be integers ≥ 0`);
  }
  if (typeof value.dtype !== 'string' || !WEIGHT_DTYPES.has(value.dtype)) {
    throw fail(`(${quoteName(value.name)}) has dtype ${quoteName(value.dtype)}; TF.js stores ${[...WEIGHT_DTYPES].join(', ')}`);
  }
  const q = value.quantization;
  if (q !== undefined) {
    if (!isRecord(q) || typeof q.dtype !== 'string' || !QUANTIZED_DTYPES.has(q.dtype)) {
      throw fail(`(${quoteName(value.name)}) has a quantization without a dtype of ${[...QUANTIZED_DTYPES].join(', ')}`);
    }
  }
  return value as WeightSpec;
}

/** Bytes a group's weights take in its shards, or undefined when unknown (string weights). */
function groupBytes(weights: WeightSpec[]): number | undefined {
  let total = 0;
  for (const w of weights) {
    const size = DTYPE_BYTES[w.quantization?.dtype ?? w.dtype];
    if (size === undefined) return undefined;
    total += elements(w.shape) * size;
  }
  return total;
}

/**
 * Checks a parsed model.json's weightsManifest completely (groups, paths, weights, shapes, dtypes) and returns its
 * groups with their byte sizes. Every shard path must be a plain relative path inside the model's folder (see
 * {@link shardPathProblem}). Any problem is an ExplainError `invalid_model` naming `where` and the offending entry.
 * A model without weights (no weightsManifest) gives an empty list.
 */
export function validateWeightsManifest(json: unknown, where: string): ShardGroup[] {
  if (!isRecord(json)) throw new ExplainError('invalid_model', `${where} is not a JSON object; pass the model.json of a TF.js model.`);
  const manifest = json.weightsManifest;
  if (manifest === undefined) return [];
  if (!Array.isArray(manifest)) throw new ExplainError('invalid_model', `${where}: weightsManifest is not a list.`);
  const shards = manifest.reduce((n: number, g: unknown) => n + (isRecord(g) && Array.isArray(g.paths) ? g.paths.length : 0), 0);
  if (shards > MAX_SHARDS) throw new ExplainError('invalid_model', `${where} names ${shards} weight shards, more than ${MAX_SHARDS}; the file is damaged or hostile.`);
  return manifest.map((group: unknown, g) => {
    const at = `weightsManifest[${g}]`;
    if (!isRecord(group)) throw new ExplainError('invalid_model', `${where}: ${at} is not an object with paths and weights.`);
    if (!Array.isArray(group.paths)) throw new ExplainError('invalid_model', `${where}: ${at} has no list of paths (the weight shard files).`);
    if (!Array.isArray(group.weights)) throw new ExplainError('invalid_model', `${where}: ${at} has no list of weights.`);
    if (group.paths.length === 0 && group.weights.length > 0) {
      throw new ExplainError('invalid_model', `${where}: ${at} lists weights but no shard file that holds them.`);
    }
    const paths = group.paths.map((path: unknown, i) => {
      const problem = shardPathProblem(path);
      if (problem !== undefined) {
        throw new ExplainError(
          'invalid_model',
          `${where}: the weight shard path ${quoteName(path)} (${at}.paths[${i}]) ${problem}; shard paths must be plain file names inside the model's folder.`,
        );
      }
      return path as string;
    });
    const weights = group.weights.map((w: unknown, i) => checkWeight(w, `${at}.weights[${i}]`, where));
    const bytes = groupBytes(weights);
    if (bytes !== undefined && !Number.isSafeInteger(bytes)) {
      throw new ExplainError('invalid_model', `${where}: ${at} declares more weight bytes than can be counted; the file is damaged.`);
    }
    return { paths, weights, bytes };
  });
}
