// Forward-only batches (ScoreCAM's masked inputs, deletion/insertion curves) on the native engine: NHWC images
// turned to the ONNX layout and scored by onnxruntime, on the engine's worker threads when it has several. Batches
// that start at a layer (AblationCAM) are not taken: core then runs them on TF.js and says so.
import { ExplainError, poolForwardScorer, setForwardEngine, type AbortSignalLike, type ForwardRequest, type ForwardScorer } from '@easy-explain/core/internal';
import { toNCHW, type OnnxEngine } from './onnx-engine.js';

/** One batch on `engine`'s own session: the targets' raw scores, or their softmax probabilities. */
export async function answerOnnxForward(engine: OnnxEngine, request: ForwardRequest): Promise<Float32Array> {
  if (request.type !== 'forward') {
    throw new ExplainError('invalid_option', 'The native engine cannot run a network from a layer; run this method on TF.js.');
  }
  const [n, h, w, c] = request.shape;
  const { scores, classes } = await engine.predictNCHW(toNCHW(request.images, request.shape), [n, c, h, w]);
  return Float32Array.from(request.targets, (target, row) => {
    if (!(Number.isInteger(target) && target >= 0 && target < classes)) {
      throw new ExplainError('invalid_target', `Target ${target} is out of range for the ONNX model's ${classes} classes.`);
    }
    const logits = scores.subarray(row * classes, (row + 1) * classes);
    return request.softmax ? softmaxAt(logits, target) : logits[target];
  });
}

/** softmax(logits)[target], shifted by the maximum as TF.js does (float64 here; float32 there). */
function softmaxAt(logits: Float32Array, target: number): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return Math.exp(logits[target] - max) / sum;
}

/** The engine as a forward scorer: its workers share a run's batches when it has several, else its session scores. */
export function onnxForwardScorer(engine: OnnxEngine, options: { signal?: AbortSignalLike } = {}): ForwardScorer {
  const { pool, workers } = engine;
  if (pool && workers > 1) return { ...poolForwardScorer(() => pool.acquire(workers), workers, options), layers: false, runsOn: 'native' };
  return { parallel: 1, layers: false, runsOn: 'native', run: (request) => answerOnnxForward(engine, request) };
}

/** Makes ScoreCAM and deletion/insertion on `model` (the TF.js conversion of the same network) score on `engine`. */
export function attachOnnxForward(engine: OnnxEngine, model: object): void {
  setForwardEngine(model, ({ signal }) => onnxForwardScorer(engine, { signal }));
}
