// Test-only: the CAM references of ../shared/reference/cams (little-endian float32 NHWC .bin files, index.json).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
