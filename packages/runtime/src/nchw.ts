// Occlusion's ablated copies in an ONNX network's own layout (NCHW), for engines that run the .onnx file itself
// (onnxruntime-node in backend-node; onnxruntime-web in the browser bench) instead of its TF.js conversion.
// Platform-free: the engine only supplies the forward pass.
import { ExplainError, type AblationContext, type AblationScorer, type Region } from '@easy-explain/core/internal';

/** A forward pass on an NCHW batch: the scores [N, classes], row-major. */
export type PredictNCHW = (data: Float32Array, dims: [number, number, number, number]) => Promise<{ scores: Float32Array; classes: number }>;

/** [N,H,W,C] → [N,C,H,W]. */
export function toNCHW(data: Float32Array, [n, h, w, c]: [number, number, number, number]): Float32Array {
  const out = new Float32Array(data.length);
  const plane = h * w;
  for (let image = 0; image < n; image++) {
    const offset = image * plane * c;
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < c; ch++) out[offset + ch * plane + p] = data[offset + p * c + ch];
    }
  }
  return out;
}

/** The scores of an NHWC input on an NCHW engine (Occlusion's `predictInput`). */
export function predictNHWC(predict: PredictNCHW, input: Float32Array, shape: [number, number, number, number]) {
  return predict(toNCHW(input, shape), [shape[0], shape[3], shape[1], shape[2]]);
}

/**
 * Occlusion's scorer on full forward passes of `predict`: each region's ablated copy of the (NHWC) input is built
 * straight in NCHW, so no TF.js tensor is made, and the target's score is picked from each row. `runSize` caps the
 * regions per `predict` call (some engines run small batches faster per image: onnxruntime on MobileNet).
 */
export function nchwAblationScorer(
  predict: PredictNCHW,
  { inputData, baseline, shape, targets }: AblationContext,
  runSize = Infinity,
): AblationScorer {
  const [n, h, w, c] = shape;
  const input = toNCHW(inputData, shape);
  const base = toNCHW(baseline, shape);
  const imageSize = h * w * c;
  const scoreRun = async (regions: Region[]) => {
    const batch = new Float32Array(regions.length * input.length);
    regions.forEach((region, j) => {
      batch.set(input, j * input.length);
      for (let image = 0; image < n; image++) {
        const offset = (j * n + image) * imageSize;
        const [y0, x0, c0] = region.start;
        const [y1, x1, c1] = region.end;
        for (let ch = c0; ch < c1; ch++) {
          for (let y = y0; y < y1; y++) {
            const from = image * imageSize + (ch * h + y) * w;
            batch.set(base.subarray(from + x0, from + x1), offset + (ch * h + y) * w + x0);
          }
        }
      }
    });
    const { scores, classes } = await predict(batch, [regions.length * n, c, h, w]);
    const picked = new Float32Array(regions.length * n);
    for (let row = 0; row < picked.length; row++) {
      const target = targets[row % n];
      if (target >= classes) {
        throw new ExplainError('invalid_target', `Target ${target} is out of range for the ONNX model's ${classes} classes.`);
      }
      picked[row] = scores[row * classes + target];
    }
    return picked;
  };
  return {
    scoreRegions: async (regions: Region[]) => {
      if (regions.length <= runSize) return scoreRun(regions);
      const picked = new Float32Array(regions.length * n);
      for (let i = 0; i < regions.length; i += runSize) picked.set(await scoreRun(regions.slice(i, i + runSize)), i * n);
      return picked;
    },
    dispose() {},
  };
}
