import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ExplainError } from '@easy-explain/core/internal';
import { resolveBackend } from '@easy-explain/runtime';

export { backendAttempts, type BackendAttempt } from '@easy-explain/runtime';

/** The order `setupBackend('auto')` tries: GPU first, then SIMD wasm, then plain JS. */
export const WEB_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type WebBackendName = (typeof WEB_BACKENDS)[number];

const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;

export interface SetupBackendOptions {
  /**
   * Where the wasm backend finds its binaries: a URL prefix ending in '/', or a map from file name to URL.
   * Bundlers rename assets, so apps usually pass the map (e.g. from Vite's `?url` imports). Only the SIMD
   * and plain binaries are ever fetched: threads are turned off.
   */
  wasmPaths?: string | Partial<Record<(typeof WASM_FILES)[number], string>>;
  /**
   * tfjs's WEBGPU_CPU_FORWARD: let webgpu run small ops on the CPU. Default false, so "webgpu" means every
   * op runs on the GPU.
   */
  webgpuCpuForward?: boolean;
  /** Backends tried by 'auto', in order; default WEB_BACKENDS. */
  order?: readonly string[];
}

let backendAttemptsMade = false;

function configure(options: SetupBackendOptions): void {
  const env = tf.env();
  // Threaded wasm needs cross-origin isolation and hung under minified bundles; SIMD alone is fast enough.
  env.set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  env.set('WEBGPU_CPU_FORWARD', options.webgpuCpuForward ?? false);
  const paths = options.wasmPaths;
  if (typeof paths === 'string') setWasmPaths(paths);
  else if (paths) {
    const given = Object.values(paths).find((p): p is string => typeof p === 'string');
    if (!given) throw new ExplainError('invalid_option', 'wasmPaths names no file; pass a URL prefix or a map of .wasm file names to URLs.');
    // tfjs insists on all three names; the threaded one is never fetched with threads off.
    const map = Object.fromEntries(WASM_FILES.map((f) => [f, paths[f] ?? paths['tfjs-backend-wasm-simd.wasm'] ?? given]));
    setWasmPaths(map);
  }
}

async function tryBackend(name: string): Promise<string | undefined> {
  if (!tf.findBackendFactory(name)) return `no backend "${name}" is registered`;
  // setBackend resolves false (and logs) when the factory throws, e.g. no WebGPU adapter or no WebGL context.
  const ok = await tf.setBackend(name).catch((e: unknown) => {
    throw new Error(String((e as Error)?.message ?? e));
  });
  if (!ok) return name === 'webgpu' ? 'no WebGPU adapter in this browser' : `the ${name} backend failed to start`;
  await tf.ready();
  // A first op proves the backend can compile and read back, which some drivers only fail at this point.
  const probe = tf.add(tf.scalar(1), tf.scalar(2));
  try {
    const [v] = await probe.data();
    if (v !== 3) return `the ${name} backend computed 1 + 2 = ${v}`;
  } finally {
    probe.dispose();
  }
  return undefined;
}

/**
 * Picks and initialises a TF.js backend and returns its name. 'auto' tries webgpu, webgl, wasm, then cpu and keeps
 * the first that works (see `backendAttempts()` for why others were skipped); a named backend must work or this
 * rejects with ExplainError `backend_unavailable`.
 */
export async function setupBackend(name: 'auto' | string = 'auto', options: SetupBackendOptions = {}): Promise<string> {
  configure(options);
  const candidates = name === 'auto' ? options.order ?? WEB_BACKENDS : [name];
  backendAttemptsMade = true;
  return resolveBackend(candidates, async (candidate) => {
    const reason = await tryBackend(candidate);
    // A backend named explicitly must start: its reason becomes the error.
    if (reason !== undefined && name !== 'auto') throw new ExplainError('backend_unavailable', `The ${candidate} backend cannot start here: ${reason}.`);
    return reason;
  });
}

/** Sets up the 'auto' backend unless one is running already; returns the backend in use. */
export async function ensureBackend(): Promise<string> {
  if (backendAttemptsMade) return tf.getBackend();
  return setupBackend('auto');
}
