// Test-only helpers: shared ONNX models and references, backends, comparisons.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export const SHARED = fileURLToPath(new URL('../../../../shared/', import.meta.url));
export const REFERENCE = join(SHARED, 'reference');
export const ONNX_MODELS = join(SHARED, 'models', 'onnx');
export const ONNX_REFERENCE = join(REFERENCE, 'onnx');

export const readJson = <T = any>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
export const onnxBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(join(ONNX_MODELS, `${name}.onnx`)));

export const onnxIndex = readJson(join(ONNX_REFERENCE, 'index.json'));

/** A reference array of ../shared/reference/onnx (little-endian float32) with its shape and max |value|. */
export function referenceArray(key: string): { values: Float32Array; shape: number[]; maxAbs: number; entry: any } {
  const entry = onnxIndex.arrays[key];
  const bytes = readFileSync(join(ONNX_REFERENCE, entry.file));
  const values = new Float32Array(new Uint8Array(bytes).buffer);
  return { values, shape: entry.shape, maxAbs: entry.max_abs, entry };
}

// Silences the "install tfjs-node" banner the cpu backend prints in Node.
tf.env().set('IS_TEST', true);

let wasmReady = false;
/** Switch to a backend; wasm uses the SIMD build without threads (threaded wasm crashes in Node). */
export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm' && !wasmReady) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    setWasmPaths(fileURLToPath(new URL('../../../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url)));
    wasmReady = true;
  }
  await tf.setBackend(name);
  await tf.ready();
}

/** tfjs's IS_TEST kernel leak checks misfire on wasm inside custom gradients; gradient tests switch them off. */
export function setKernelLeakChecks(on: boolean): void {
  tf.env().set('IS_TEST', on);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Values of a tensor, disposing it. */
export async function take(t: tf.Tensor): Promise<Float32Array> {
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

/** An IOHandler reading a TF.js model.json and its weight shards from disk. */
export function fileHandler(modelJson: string): tf.io.IOHandler {
  return {
    async load() {
      const json = readJson(modelJson);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Uint8Array[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const path of group.paths) buffers.push(readFileSync(join(modelJson, '..', path)));
      }
      const weightData = new Uint8Array(buffers.reduce((a, b) => a + b.length, 0));
      let offset = 0;
      for (const b of buffers) {
        weightData.set(b, offset);
        offset += b.length;
      }
      return { modelTopology: json.modelTopology, weightSpecs: specs, weightData: weightData.buffer } as tf.io.ModelArtifacts;
    },
  };
}
