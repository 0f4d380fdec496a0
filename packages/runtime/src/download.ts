// Bounded downloads: a byte cap counted on the body stream and a timeout that covers connecting, the headers and a
// stalled body, with or without the caller's AbortSignal. Platform-neutral (fetch, streams, timers; no `node:`).
import { ExplainError, type ExplainErrorCode } from '@easy-explain/core';
import { printable } from './text.js';

/** Largest model.json downloaded or read (MobileNet's is 60 kB; large graphs a few MB). */
export const MODEL_JSON_MAX_BYTES = 32 * 2 ** 20;
/** Largest weight shard, whatever model.json declares (TF.js writes 4 MB shards). */
export const SHARD_MAX_BYTES = 2 ** 30;
/** Most bytes the weight shards of one model may hold together. */
export const MODEL_MAX_BYTES = 2 * 2 ** 30;
/** Default cap on a downloaded image (loadImage's `maxBytes`, env EASY_EXPLAIN_MAX_IMAGE_BYTES). */
export const IMAGE_MAX_BYTES = 64 * 2 ** 20;
/**
 * Time allowed for one file, from the request to its last byte: generous for a few MB on a slow link, but a server
 * that stalls (headers then nothing) still ends. Env EASY_EXPLAIN_DOWNLOAD_TIMEOUT_MS overrides it.
 */
export const DOWNLOAD_TIMEOUT_MS = 120_000;

/** Bytes several downloads may still read together (the shards of one model), and why, for the message. */
export interface ByteBudget {
  left: number;
  reason: string;
}

export interface DownloadOptions {
  /** What is downloaded, for messages ("the weight shard", "the image"). */
  what: string;
  /** Stop reading and fail once the body passes this many bytes. */
  maxBytes: number;
  /** Why the cap is what it is, for the message ("the size model.json declares for it"). */
  capReason: string;
  /** Code of the error for an unreachable server, an HTTP error or a timeout. */
  failCode: ExplainErrorCode;
  /** Code of the error for a body over `maxBytes`. */
  tooLargeCode: ExplainErrorCode;
  /** Shared with other downloads: each byte read is taken from it, and running out fails as too large. */
  budget?: ByteBudget;
  /** The caller's signal: aborting it ends the download with an `aborted` error. */
  signal?: AbortSignal;
  /** Default {@link downloadTimeoutMs}(). */
  timeoutMs?: number;
}

/** The timeout in force: EASY_EXPLAIN_DOWNLOAD_TIMEOUT_MS when set to a positive number, else DOWNLOAD_TIMEOUT_MS. */
export function downloadTimeoutMs(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.EASY_EXPLAIN_DOWNLOAD_TIMEOUT_MS;
  const ms = env === undefined ? NaN : Number(env);
  return Number.isFinite(ms) && ms > 0 ? ms : DOWNLOAD_TIMEOUT_MS;
}

function reasonOf(cause: unknown): string {
  const inner = (cause as { cause?: { code?: unknown; message?: unknown } }).cause;
  const text = typeof inner?.code === 'string' ? inner.code : cause instanceof Error ? cause.message : String(cause);
  return printable(text.split('\n')[0]);
}

/**
 * Downloads `url` into memory, reading at most `maxBytes`: a larger Content-Length fails before the body is read,
 * and a body that runs past the cap is cancelled there. The timeout is a timer of its own on an AbortController
 * (not AbortSignal.any, whose timeout branch Node 20 may drop after garbage collection), so it fires whether or not
 * the caller passes a signal, also while the body stalls.
 */
export async function download(url: string, options: DownloadOptions): Promise<Uint8Array> {
  const { signal, maxBytes, what } = options;
  const timeoutMs = options.timeoutMs ?? downloadTimeoutMs();
  const abortedError = (cause?: unknown) => new ExplainError('aborted', `The download of ${what} ${url} was aborted.`, { cause });
  if (signal?.aborted) throw abortedError(signal.reason);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('timeout'));
  }, timeoutMs);
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const failure = (cause: unknown, action: string) => {
    if (signal?.aborted) return abortedError(cause);
    if (timedOut) {
      return new ExplainError(options.failCode, `Cannot download ${what} ${url}: no complete answer within ${timeoutMs / 1000} s (the server stalled or is too slow).`, { cause });
    }
    return new ExplainError(options.failCode, `Cannot ${action} ${what} ${url}: ${reasonOf(cause)}.`, { cause });
  };
  const { budget } = options;
  const overBudget = () => new ExplainError(options.tooLargeCode, `${capitalise(what)} ${url} goes past ${budget?.reason}; nothing was kept.`);
  const tooLarge = (size: string) =>
    new ExplainError(options.tooLargeCode, `${capitalise(what)} ${url} has ${size} bytes, more than ${maxBytes} (${options.capReason}); nothing was kept.`);
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal, redirect: 'follow' });
    } catch (cause) {
      throw failure(cause, 'fetch');
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new ExplainError(options.failCode, `Cannot fetch ${what} ${url}: HTTP ${response.status} ${printable(response.statusText)}`.trimEnd() + '.');
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      await response.body?.cancel().catch(() => {});
      throw tooLarge(String(declared));
    }
    if (budget && Number.isFinite(declared) && declared > budget.left) {
      await response.body?.cancel().catch(() => {});
      throw overBudget();
    }
    if (!response.body) return new Uint8Array(0);
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) {
          await reader.cancel().catch(() => {});
          throw tooLarge(`at least ${total}`);
        }
        if (budget && (budget.left -= value.byteLength) < 0) {
          await reader.cancel().catch(() => {});
          throw overBudget();
        }
        chunks.push(value);
      }
    } catch (cause) {
      if (cause instanceof ExplainError) throw cause;
      throw failure(cause, 'download');
    }
    return concatBytes(chunks, total);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    // Ends the connection of a download left early (too large, HTTP error); a no-op once the body is read.
    controller.abort();
  }
}

/** The URL of a shard next to model.json: same folder, and model.json's query string (signed URLs need it). */
export function shardUrl(modelUrl: string, path: string): string {
  const base = new URL(modelUrl);
  const url = new URL(path, base);
  // validateWeightsManifest keeps paths relative; a second check costs nothing.
  if (url.origin !== base.origin) {
    throw new ExplainError('invalid_model', `The weight shard path ${JSON.stringify(printable(path))} names another host than ${base.origin}.`);
  }
  url.search = base.search;
  url.hash = '';
  return url.href;
}

function concatBytes(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
