import { describe, expect, it } from 'vitest';
import { nchwAblationScorer, predictNHWC, toNCHW, type PredictNCHW } from '@easy-explain/runtime';

// A linear "network" on NCHW batches: class k scores (k + 1) · Σ channel-k values + 1000 · (batch row), so a wrong
// layout, a wrong region or a wrong row shows in the numbers.
const linear: PredictNCHW = async (data, [n, c, h, w]) => {
  const classes = c;
  const scores = new Float32Array(n * classes);
  for (let row = 0; row < n; row++) {
    for (let k = 0; k < classes; k++) {
      let sum = 0;
      for (let p = 0; p < h * w; p++) sum += data[(row * c + k) * h * w + p];
      scores[row * classes + k] = (k + 1) * sum + 1000 * row;
    }
  }
  return { scores, classes };
};

describe('NCHW scoring for ONNX engines', () => {
  it('toNCHW moves channels in front of the pixels, per image', () => {
    const nhwc = Float32Array.from({ length: 24 }, (_, i) => i); // [2, 2, 2, 3]
    expect(Array.from(toNCHW(nhwc, [2, 2, 2, 3]))).toEqual([0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11, 12, 15, 18, 21, 13, 16, 19, 22, 14, 17, 20, 23]);
  });

  it('builds each ablated copy in NCHW and picks the target of each row', async () => {
    // One image [1, 3, 4, 2]: channel 0 is all 1, channel 1 all 2; baseline 0.
    const input = Float32Array.from({ length: 24 }, (_, i) => (i % 2) + 1);
    const shape: [number, number, number, number] = [1, 3, 4, 2];
    const { scores } = await predictNHWC(linear, input, shape);
    expect(Array.from(scores)).toEqual([12, 2 * 24]);
    const scorer = nchwAblationScorer(linear, { inputData: input, baseline: new Float32Array(24), shape, targets: [1], perturbationsPerEval: 2 } as never);
    // Rows 0..1 of the batch: a 2×2 window on both channels, then a 1×3 window on channel 1 only.
    const picked = await scorer.scoreRegions([
      { start: [0, 0, 0], end: [2, 2, 2] },
      { start: [2, 1, 1], end: [3, 4, 2] },
    ] as never);
    expect(Array.from(picked)).toEqual([2 * (24 - 2 * 4), 2 * (24 - 2 * 3) + 1000]);
  });

  it('refuses a target the model does not have', async () => {
    const scorer = nchwAblationScorer(linear, { inputData: new Float32Array(4), baseline: new Float32Array(4), shape: [1, 1, 2, 2], targets: [5], perturbationsPerEval: 1 } as never);
    await expect(scorer.scoreRegions([{ start: [0, 0, 0], end: [1, 1, 2] }] as never)).rejects.toMatchObject({ code: 'invalid_target' });
  });
});
