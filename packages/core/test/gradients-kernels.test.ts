// Core's gradient rules: depthwise input gradients and first-maximum max-pool gradients on every backend.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { withGradientRules } from '@easy-explain/core/internal';
import { maxAbsDiff, setKernelLeakChecks, useBackend } from './helpers';

type Pad = 'same' | 'valid';

/** Reference depthwise input gradient from tfjs's cpu kernel. */
async function cpuDepthwiseGrad(x: Float32Array, xs: number[], f: Float32Array, fs: number[], stride: number, pad: Pad) {
  await useBackend('cpu');
  const g = tf.tidy(() => {
    const filter = tf.tensor4d(f, fs as [number, number, number, number]);
    return tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, filter, stride, pad))))(
      tf.tensor4d(x, xs as [number, number, number, number]),
    );
  });
  const values = g.dataSync().slice();
  g.dispose();
  return values;
}

describe('gradient rules', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const [stride, pad, size, multiplier] of [
      [1, 'same', 7, 1],
      [2, 'same', 8, 1],
      [2, 'same', 7, 2],
      [2, 'valid', 9, 1],
      [1, 'valid', 6, 3],
    ] as Array<[number, Pad, number, number]>) {
      it(`${backend}: depthwise input gradient, stride ${stride}, ${pad}, ${size}×${size}, multiplier ${multiplier}`, async () => {
        const xs = [2, size, size, 3];
        const fs = [3, 3, 3, multiplier];
        const x = Float32Array.from({ length: xs.reduce((a, b) => a * b) }, (_, i) => Math.sin(i * 0.37));
        const f = Float32Array.from({ length: fs.reduce((a, b) => a * b) }, (_, i) => Math.cos(i * 0.61));
        const expected = await cpuDepthwiseGrad(x, xs, f, fs, stride, pad);
        await useBackend(backend);
        setKernelLeakChecks(false);
        const before = tf.memory().numTensors;
        const g = withGradientRules('plain', () =>
          tf.tidy(() => {
            const filter = tf.tensor4d(f, fs as [number, number, number, number]);
            return tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, filter, stride, pad))))(
              tf.tensor4d(x, xs as [number, number, number, number]),
            );
          }),
        );
        expect(maxAbsDiff(g.dataSync(), expected)).toBeLessThan(1e-4);
        g.dispose();
        expect(tf.memory().numTensors).toBe(before);
        setKernelLeakChecks(true);
      });
    }

    for (const [stride, pad, size, kernel] of [
      [1, 'same', 7, 3],
      [2, 'same', 8, 3],
      [2, 'same', 7, 3],
      [2, 'valid', 9, 3],
      [1, 'valid', 6, 1],
      [2, 'same', 9, 1],
    ] as Array<[number, Pad, number, number]>) {
      it(`${backend}: conv2d input gradient via Conv2D, stride ${stride}, ${pad}, ${size}×${size}, kernel ${kernel}`, async () => {
        const xs = [2, size, size, 3] as [number, number, number, number];
        const fs = [kernel, kernel, 3, 5] as [number, number, number, number];
        const x = Float32Array.from({ length: 2 * size * size * 3 }, (_, i) => Math.sin(i * 0.37));
        const f = Float32Array.from({ length: kernel * kernel * 15 }, (_, i) => Math.cos(i * 0.61));
        const loss = (a: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, tf.tensor4d(f, fs), stride, pad)));
        await useBackend('cpu');
        const expected = tf.tidy(() => tf.grad(loss)(tf.tensor4d(x, xs)).dataSync().slice());
        await useBackend(backend);
        const before = tf.memory().numTensors;
        const got = withGradientRules('plain', () => tf.tidy(() => tf.grad(loss)(tf.tensor4d(x, xs)).dataSync().slice()));
        expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4);
        expect(tf.memory().numTensors).toBe(before);
      });
    }

    it(`${backend}: max-pool ties send the gradient to the first maximum (row-major)`, async () => {
      await useBackend(backend);
      const before = tf.memory().numTensors;
      // All-equal input: every 2×2 window is a tie; 3×3 stride 2 'same' overlaps windows.
      const grads = withGradientRules('plain', () =>
        tf.tidy(() => {
          const ones = tf.ones([1, 8, 8, 1]);
          const a = tf.grad((x: tf.Tensor) => tf.sum(tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid')))(ones);
          const b = tf.grad((x: tf.Tensor) => tf.sum(tf.maxPool(x as tf.Tensor4D, 3, 2, 'same')))(ones);
          return [a, b];
        }),
      );
      const [a, b] = grads.map((g) => Array.from(g.dataSync()));
      tf.dispose(grads);
      expect(a.reduce((s, v) => s + v, 0)).toBe(16);
      // The first element of each 2×2 window gets 1.
      for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) expect(a[i * 8 + j]).toBe(i % 2 === 0 && j % 2 === 0 ? 1 : 0);
      expect(b.reduce((s, v) => s + v, 0)).toBe(16);
      // 'same' 3×3 stride 2 on 8×8 pads 0 above/left, so window (r, c) starts at (2r, 2c): its first max is there.
      for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) expect(b[i * 8 + j]).toBe(i % 2 === 0 && j % 2 === 0 ? 1 : 0);
      expect(tf.memory().numTensors).toBe(before);
    });

    it(`${backend}: the registries are restored afterwards`, async () => {
      await useBackend(backend);
      const relu = tf.getGradient('Relu');
      const pool = tf.getGradient('MaxPool');
      const filterKernel = tf.getKernel('Conv2DBackpropFilter', backend);
      withGradientRules('guided', () => {
        expect(tf.getGradient('Relu')).not.toBe(relu);
      });
      expect(tf.getGradient('Relu')).toBe(relu);
      expect(tf.getGradient('MaxPool')).toBe(pool);
      expect(tf.getKernel('Conv2DBackpropFilter', backend)).toBe(filterKernel);
      expect(() => withGradientRules('plain', () => { throw new Error('boom'); })).toThrow('boom');
      expect(tf.getGradient('MaxPool')).toBe(pool);
    });
  }
});
