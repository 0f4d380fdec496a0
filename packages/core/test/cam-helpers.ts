// Test-only: the CAM references of ../shared/reference/cams (little-endian float32 NHWC .bin files, index.json).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { REFERENCE, readJson } from './helpers';

export const CAMS = join(REFERENCE, 'cams');
export const camIndex = readJson(join(CAMS, 'index.json'));

export interface CamArray {
  data: Float32Array;
  shape: number[];
  max_abs: number;
  target?: number;
}

/** An array of the index by its key, e.g. 'tiny_cnn/pytorch_grad_cam/GradCAM/raw'. */
export function camArray(key: string): CamArray {
  const entry = camIndex.arrays[key];
  if (!entry) throw new Error(`no reference array ${key}`);
  const bytes = readFileSync(join(CAMS, entry.file));
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { data, shape: entry.shape, max_abs: entry.max_abs, target: entry.target };
}

export const PYTORCH_GRAD_CAM_CASES = [
  'GradCAM',
  'GradCAM_eigen_smooth',
  'HiResCAM',
  'GradCAMElementWise',
  'GradCAMPlusPlus',
  'XGradCAM',
  'LayerCAM',
  'EigenCAM',
  'EigenGradCAM',
  'ScoreCAM',
  'AblationCAM',
] as const;

/**
 * Bilinear resize of one h×w map with half-pixel centres and edge clamping (torch align_corners=False, cv2
 * INTER_LINEAR), written out independently of tfjs for checking.
 */
export function bilinearHalfPixel(src: ArrayLike<number>, h: number, w: number, H: number, W: number): Float64Array {
  const out = new Float64Array(H * W);
  const coord = (i: number, inSize: number, outSize: number) => {
    const x = Math.max((i + 0.5) * (inSize / outSize) - 0.5, 0);
    const lo = Math.min(Math.floor(x), inSize - 1);
    const hi = Math.min(lo + 1, inSize - 1);
    return [lo, hi, x - lo] as const;
  };
  for (let y = 0; y < H; y++) {
    const [y0, y1, fy] = coord(y, h, H);
    for (let x = 0; x < W; x++) {
      const [x0, x1, fx] = coord(x, w, W);
      const top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
      const bottom = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
      out[y * W + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** Runs `fn` and checks tf.memory().numTensors grew by exactly the tensors the result owns. */
export async function noLeak<T>(fn: () => Promise<T>, tensorsOf: (r: T) => tf.Tensor[]): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  expect(tf.memory().numTensors - tensorsOf(result).length).toBe(before);
  return result;
}
