// Test-only helpers: load the shared fixtures from disk and switch TF.js backends.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import sharp from 'sharp';
import { expect } from 'vitest';
import { ExplainError } from '@easy-explain/core';

export const SHARED = fileURLToPath(new URL('../../../../shared/', import.meta.url));
export const REFERENCE = join(SHARED, 'reference');

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** An IOHandler reading model.json and its weight shards from disk (core has no file loader of its own). */
export function fileHandler(modelJson: string): tf.io.IOHandler {
  return {
    async load() {
      const json = readJson(modelJson);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Uint8Array[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const path of group.paths) buffers.push(readFileSync(join(dirname(modelJson), path)));
      }
      const total = buffers.reduce((a, b) => a + b.length, 0);
      const weightData = new Uint8Array(total);
      let offset = 0;
      for (const b of buffers) {
        weightData.set(b, offset);
        offset += b.length;
      }
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs: specs,
        weightData: weightData.buffer,
        userDefinedMetadata: json.userDefinedMetadata,
        signature: json.signature,
        modelInitializer: json.modelInitializer,
      } as tf.io.ModelArtifacts;
    },
  };
}

export const loadLayersModel = (path: string) => tfl.loadLayersModel(fileHandler(path));
export const loadGraphModel = (path: string) => tfc.loadGraphModel(fileHandler(path));

// Silences the "install tfjs-node" banner the cpu backend prints in Node.
tf.env().set('IS_TEST', true);

let wasmReady = false;
/** Switch to a backend; wasm uses the SIMD build without threads (threaded wasm crashes in Node). */
export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm' && !wasmReady) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    const dist = fileURLToPath(new URL('../../../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url));
    setWasmPaths(dist);
    wasmReady = true;
  }
  await tf.setBackend(name);
  await tf.ready();
}

/** A photo from ../shared/images decoded to [H,W,3] 0..255. */
export async function loadPhoto(name: string): Promise<tf.Tensor3D> {
  const { data, info } = await sharp(join(SHARED, 'images', name)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return tf.tensor3d(new Uint8Array(data), [info.height, info.width, 3], 'int32');
}

/** Max |a − b| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Runs `fn` and checks it leaves tf.memory().numTensors as it found it, returning its result. */
export async function expectNoLeak<T>(fn: () => Promise<T>, keep = 0): Promise<{ result: T; leaked: number }> {
  const before = tf.memory().numTensors;
  const result = await fn();
  return { result, leaked: tf.memory().numTensors - before - keep };
}

/**
 * tfjs's IS_TEST flag (set above) also turns on per-kernel data-id leak checks, which misfire on wasm inside custom
 * gradients (wasm's Identity copies the tensors a custom gradient saves). Gradient tests switch it off while they run.
 */
export function setKernelLeakChecks(on: boolean): void {
  tf.env().set('IS_TEST', on);
}

/** The ExplainError `run` rejects with; fails the test when it resolves or throws anything else. */
export async function errorOf(run: () => Promise<unknown>): Promise<ExplainError> {
  try {
    await run();
  } catch (e) {
    expect(e).toBeInstanceOf(ExplainError);
    return e as ExplainError;
  }
  throw new Error('expected an ExplainError');
}
