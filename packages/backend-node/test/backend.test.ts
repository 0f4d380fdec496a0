import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend, wasmDirectory } from '@easy-explain/backend-node';
import { existsSync } from 'node:fs';

describe('setupBackend', () => {
  it("'auto' selects wasm when @tensorflow/tfjs-node is absent", async () => {
    // This workspace never installs tfjs-node (an optional peer), so the import must fail here.
    await expect(import('@tensorflow/tfjs-node' as string)).rejects.toThrow();
    expect(await setupBackend('auto')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(existsSync(`${wasmDirectory()}tfjs-backend-wasm-simd.wasm`)).toBe(true);
  });

  it("'tensorflow' without tfjs-node says how to install it", async () => {
    const error = await setupBackend('tensorflow').catch((e) => e);
    expect(error.code).toBe('backend_unavailable');
    expect(error.message).toContain('npm install @tensorflow/tfjs-node');
  });

  it("'auto' picks wasm when tfjs-node is absent", async () => {
    expect(await setupBackend('auto')).toBe('wasm');
  });

  it('switches to cpu and back, and refuses unknown names', async () => {
    expect(await setupBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await setupBackend('wasm')).toBe('wasm');
    await expect(setupBackend('webgl')).rejects.toMatchObject({ code: 'invalid_option' });
  });
});
