// Captum's own Occlusion tests (tests/attr/test_occlusion.py) that apply to single-input models, ported to NHWC:
// a Captum input [N, 3] becomes an image [N, 1, 3, 1], a window (k,) becomes [1, k, 1].
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { asModel, ExplainError, Occlusion, type OcclusionOptions } from '@easy-explain/core/internal';
import { useBackend } from './helpers';

/** Captum's BasicModel_MultiLayer: identity, Linear(3→4, W=1, b=[-10,1,1,1]), ReLU, Linear(4→2, W=1, b=[-1,1]). */
function basicMultiLayer(images: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const x = tf.reshape(images, [images.shape[0], 3]);
    const s = tf.sum(x, 1, true);
    const hidden = tf.relu(tf.add(s, tf.tensor2d([[-10, 1, 1, 1]])));
    const out = tf.sum(hidden, 1, true);
    return tf.concat([tf.sub(out, 1), tf.add(out, 1)], 1) as tf.Tensor2D;
  });
}

const model = asModel(basicMultiLayer);
const row = (values: number[][]) => tf.tensor4d(values.flat(), [values.length, 1, 3, 1]);

async function occlusionValues(input: tf.Tensor4D, options: Omit<OcclusionOptions, 'target'> & { target?: number | number[] }) {
  const attribution = await new Occlusion(model).attribute(input, { target: 0, ...options });
  const values = Array.from(attribution.dataSync());
  attribution.dispose();
  return values;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`Captum's Occlusion tests on ${backend}`, () => {
    beforeAll(() => useBackend(backend));

    it('test_simple_input: window 1 gives [80, 200, 120] for every perturbationsPerEval', async () => {
      const input = row([[20, 50, 30]]);
      for (const perturbationsPerEval of [1, 2, 3]) {
        expect(await occlusionValues(input, { slidingWindowShapes: [1, 1, 1], perturbationsPerEval })).toEqual([80, 200, 120]);
      }
      input.dispose();
    });

    it('test_simple_input_larger_shape: window 2 with baseline tensor [10,10,10] gives [200, 220, 240]', async () => {
      const input = row([[20, 50, 30]]);
      const baselines = tf.tensor4d([10, 10, 10], [1, 1, 3, 1]);
      for (const perturbationsPerEval of [1, 2, 3]) {
        expect(await occlusionValues(input, { slidingWindowShapes: [1, 2, 1], baselines, perturbationsPerEval })).toEqual([200, 220, 240]);
      }
      tf.dispose([input, baselines]);
    });

    it('test_simple_input_shape_with_stride: window 2, stride 2 (last window cut off) gives [280, 280, 120]', async () => {
      const input = row([[20, 50, 30]]);
      for (const perturbationsPerEval of [1, 2, 3]) {
        expect(await occlusionValues(input, { slidingWindowShapes: [1, 2, 1], strides: 2, perturbationsPerEval })).toEqual([280, 280, 120]);
      }
      input.dispose();
    });

    it('test_multi_sample_ablation: a batch of two gives [[8, 35, 12], [80, 200, 120]]', async () => {
      const input = row([[2, 10, 3], [20, 50, 30]]);
      for (const perturbationsPerEval of [1, 2, 3]) {
        expect(await occlusionValues(input, { slidingWindowShapes: [1, 1, 1], perturbationsPerEval })).toEqual([8, 35, 12, 80, 200, 120]);
      }
      input.dispose();
    });

    it('one target per example: [1, 0] gives the same drops, as the two outputs differ by a constant', async () => {
      const input = row([[2, 10, 3], [20, 50, 30]]);
      // Output 1 = output 0 + 2, so the score drops are the same for either target.
      expect(await occlusionValues(input, { slidingWindowShapes: [1, 1, 1], target: [1, 0] })).toEqual([8, 35, 12, 80, 200, 120]);
      input.dispose();
    });

    it('test_improper_window_shape / test_improper_stride / test_too_large_stride raise, as Captum asserts', async () => {
      const input = tf.tensor4d(Array.from({ length: 16 }, (_, i) => i), [1, 4, 4, 1]);
      const codeOf = async (options: Partial<OcclusionOptions>) => {
        try {
          await new Occlusion(model).attribute(input, { target: 0, slidingWindowShapes: [1, 1, 1], ...options } as OcclusionOptions);
        } catch (e) {
          expect(e).toBeInstanceOf(ExplainError);
          return (e as ExplainError).code;
        }
        return 'no error';
      };
      expect(await codeOf({ slidingWindowShapes: [1, 2] as never })).toBe('invalid_window');
      expect(await codeOf({ slidingWindowShapes: [2, 2, 1], strides: [1, 2] as never })).toBe('invalid_stride');
      // Captum (1,1,2) window with stride 2 on a 1×4×4 input: rows 1 and 3 would never be occluded.
      expect(await codeOf({ slidingWindowShapes: [1, 2, 1], strides: 2 })).toBe('stride_too_large');
      // Captum (2,1,2) on one channel: the window is larger than the input.
      expect(await codeOf({ slidingWindowShapes: [1, 2, 2], strides: 2 })).toBe('window_too_large');
      input.dispose();
    });
  });
}
