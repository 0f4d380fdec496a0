import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ExplainError } from '@easy-explain/core/internal';
import { firstLine, resolveBackend } from '@easy-explain/runtime';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

const require = createRequire(import.meta.url);
// A variable specifier keeps TypeScript and bundlers from requiring the optional peer at build time.
const TFJS_NODE = '@tensorflow/tfjs-node';

let wasmConfigured = false;
let chosen: string | undefined;

/** The directory holding tfjs-backend-wasm's .wasm files, found through Node's resolution from this package. */
export function wasmDirectory(): string {
  // The package's main is dist/tf-backend-wasm.node.js; the .wasm files sit beside it.
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/';
}

async function loadTensorflow(): Promise<void> {
  if (tf.findBackendFactory('tensorflow')) return;
  try {
    await import(TFJS_NODE);
  } catch (cause) {
    throw new ExplainError(
      'backend_unavailable',
      `The tensorflow backend needs @tensorflow/tfjs-node, which could not be loaded (${firstLine(cause)}). ` +
        'Install it with `npm install @tensorflow/tfjs-node@4.22.0`, or use --backend wasm.',
      { cause },
    );
  }
  if (!tf.findBackendFactory('tensorflow')) {
    throw new ExplainError(
      'backend_unavailable',
      '@tensorflow/tfjs-node loaded but registered no tensorflow backend with this copy of @tensorflow/tfjs-core; ' +
        'install @tensorflow/tfjs-node@4.22.0 so both share one tfjs-core, or use --backend wasm.',
    );
  }
}

function configureWasm(): void {
  if (wasmConfigured) return;
  // Threaded wasm needs workers that crash in Node; the SIMD build without threads is the fast safe choice.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths(wasmDirectory());
  wasmConfigured = true;
}

async function activate(name: 'tensorflow' | 'wasm' | 'cpu'): Promise<void> {
  if (name === 'tensorflow') await loadTensorflow();
  if (name === 'wasm') configureWasm();
  let ok = false;
  try {
    ok = await tf.setBackend(name);
    if (ok) await tf.ready();
  } catch (cause) {
    throw new ExplainError('backend_unavailable', `The ${name} backend failed to start: ${firstLine(cause)}`, { cause });
  }
  if (!ok || tf.getBackend() !== name) {
    const hint = name === 'wasm' ? ' Reinstall @tensorflow/tfjs-backend-wasm@4.22.0 or use --backend cpu.' : '';
    throw new ExplainError('backend_unavailable', `The ${name} backend could not be initialised.${hint}`);
  }
}

/**
 * Picks and initialises a TF.js backend. 'auto' tries tensorflow (when @tensorflow/tfjs-node is installed),
 * then wasm, then cpu. Gradient methods run on all three (core routes the gradient kernels wasm lacks).
 * A named backend that cannot start is an ExplainError `backend_unavailable`. Returns the backend in use.
 */
export async function setupBackend(name: BackendName | string = 'auto'): Promise<string> {
  if (!BACKEND_NAMES.includes(name as BackendName)) {
    throw new ExplainError('invalid_option', `Unknown backend "${name}"; use one of: ${BACKEND_NAMES.join(', ')}.`);
  }
  // 'auto' falls through to slower backends; resolveBackend records why each candidate was skipped.
  const candidates = name === 'auto' ? (['tensorflow', 'wasm', 'cpu'] as const) : [name as 'tensorflow' | 'wasm' | 'cpu'];
  chosen = await resolveBackend(candidates, (candidate) => activate(candidate as 'tensorflow' | 'wasm' | 'cpu'));
  return chosen;
}

/** Sets up the 'auto' backend unless the caller already chose one; returns the backend in use. */
export async function ensureBackend(): Promise<string> {
  // Respect a backend the caller switched to after setupBackend.
  if (chosen) return tf.getBackend();
  return setupBackend('auto');
}

export { firstLine };

