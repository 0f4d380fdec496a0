// Test-only helpers: the shared Captum reference data, read where it lies (never copied into the repo).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HWC } from '../src/index.js';

export const SHARED = fileURLToPath(new URL('../../../../shared/', import.meta.url));
export const REFERENCE = join(SHARED, 'reference');

const cache = new Map<string, any>();
export function reference<T = any>(name: string): T {
  if (!cache.has(name)) cache.set(name, JSON.parse(readFileSync(join(REFERENCE, name), 'utf8')));
  return cache.get(name) as T;
}

/** Flatten a nested list (any depth) of numbers. */
export function flat(nested: unknown): number[] {
  return (nested as unknown[]).flat(Infinity as 1) as number[];
}

/** An NHWC [1,H,W,C] (or HWC / HW) nested list as an HWC Float32 array. */
export function hwc(nested: unknown[], shape?: number[]): HWC {
  const dims: number[] = [];
  let x: unknown = nested;
  while (Array.isArray(x)) {
    dims.push(x.length);
    x = x[0];
  }
  const s = shape ?? dims;
  const [h, w, c] = s.length === 4 ? s.slice(1) : s.length === 3 ? s : [s[0], s[1], 1];
  return { data: Float32Array.from(flat(nested)), height: h, width: w, channels: c };
}

/** Every attribution case of the Captum reference files, by id. */
export function attributionCases(): Map<string, { attribution: unknown[] }> {
  const out = new Map<string, { attribution: unknown[] }>();
  for (const file of ['occlusion.json', 'integrated_gradients.json']) {
    for (const c of reference(file).cases) out.set(c.id, c);
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Numbers each test file reports at the end (max errors against the reference). */
export function report(label: string, value: number | string): void {
  console.log(`[viz] ${label}: ${value}`);
}
