import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '../errors.js';
import { predictScores, type Model } from '../model.js';
import { yieldToEventLoop } from '../platform.js';
import {
  baselineValues,
  checkImageBatch,
  positiveInteger,
  resolveTargets,
  type AttributeOptions,
  type Attributor,
} from './attributor.js';

/** A box of input elements in [h, w, c] coordinates: `start` inclusive, `end` exclusive. */
export interface Region {
  start: [number, number, number];
  end: [number, number, number];
}

/** What a scorer needs to know about one attribution run. */
export interface AblationContext {
  model: Model;
  input: tf.Tensor4D;
  /** The input's values, NHWC. */
  inputData: Float32Array;
  /** One baseline value per input element, NHWC. */
  baseline: Float32Array;
  shape: [number, number, number, number];
  /** One target class per example. */
  targets: number[];
  /** Ablated copies per forward batch. */
  perturbationsPerEval: number;
}

/**
 * Computes f(x with region j ablated)[target_n] for a list of regions. The result is laid out j·N + n.
 * The default scorer runs full forward passes; faster ones (incremental inference, worker pools) plug in here.
 */
export interface AblationScorer {
  scoreRegions(regions: Region[]): Promise<Float32Array>;
  dispose(): void | Promise<void>;
}
export type AblationScorerFactory = ((context: AblationContext) => AblationScorer | Promise<AblationScorer>) & {
  /**
   * The unperturbed input's scores from the same engine, for a scorer that does not run the model's `predict`
   * (a native runtime): f(x) and f(x ablated) then come from one implementation. `input` is NHWC.
   */
  predictInput?: (input: Float32Array, shape: [number, number, number, number]) => Promise<{ scores: Float32Array; classes: number }>;
};

export interface AblationOptions extends AttributeOptions {
  /** Value (or tensor broadcastable to the input) that replaces an ablated region; default 0. */
  baselines?: number | tf.Tensor;
  /** Ablated copies of the input per forward batch; default from `defaultPerturbationsPerEval`. Never changes the result. */
  perturbationsPerEval?: number;
  /**
   * First evaluate a coarse subset of the regions (Occlusion: at most 1/25) and report its map through `onPartial`, then the
   * rest. The final map is identical to a non-progressive run.
   */
  progressive?: boolean;
  /** Called with the map so far (NHWC, the input's shape; uncovered elements are 0) after each batch. */
  onPartial?: (map: Float32Array, done: number, total: number) => void;
  /** How ablated inputs are scored; default: full forward passes in batches of `perturbationsPerEval`. */
  scorer?: AblationScorerFactory;
}

/** Memory budget for the ablated copies of one forward batch. Activations scale with it (about 10–20× for CNNs). */
export const PERTURBATION_BATCH_BYTES = 16 * 1024 * 1024;
/** Batches beyond this size stop paying off on CPU-like backends and only cost memory. */
export const MAX_DEFAULT_PERTURBATIONS_PER_EVAL = 64;

/**
 * Copies per forward batch so that one batch of ablated inputs stays within PERTURBATION_BATCH_BYTES:
 * 27 for a 224×224×3 image, 64 (the cap) for small inputs, at least 1.
 */
export function defaultPerturbationsPerEval(inputShape: number[]): number {
  const bytesPerCopy = inputShape.reduce((a, b) => a * b, 1) * 4;
  return Math.max(1, Math.min(MAX_DEFAULT_PERTURBATIONS_PER_EVAL, Math.floor(PERTURBATION_BATCH_BYTES / bytesPerCopy)));
}

/**
 * Shared machinery of perturbation methods (Captum's FeatureAblation): each feature is a region of the input;
 * for every region, the input with that region replaced by the baseline is scored, and
 *   attribution = Σ_regions (f(x) − f(x_ablated))[target] · mask / (number of regions covering the element).
 * Subclasses say which regions there are; the base evaluates them in batches, reports progress and honours abort.
 */
export abstract class AblationAttributor<Options extends AblationOptions> implements Attributor<Options> {
  constructor(protected readonly model: Model) {}

  /** The regions to ablate, for an input of shape [N,H,W,C]. Throws ExplainError on bad options. */
  protected abstract regions(inputShape: [number, number, number, number], options: Options): Region[];

  /** Indices of a coarse subset of `regions` evaluated first when `progressive` is set. Default: none. */
  protected coarseRegions(_regions: Region[], _inputShape: [number, number, number, number], _options: Options): number[] {
    return [];
  }

  async attribute(input: tf.Tensor4D, options: Options): Promise<tf.Tensor4D> {
    checkImageBatch(input);
    const shape = input.shape as [number, number, number, number];
    const regions = this.regions(shape, options);
    const perEval = positiveInteger(options.perturbationsPerEval, 'perturbationsPerEval', defaultPerturbationsPerEval(shape));
    throwIfAborted(options.signal);

    const inputData = (await input.data()) as Float32Array;
    let initialTarget: Float32Array | Promise<Float32Array>;
    let targets: number[];
    if (options.scorer?.predictInput) {
      // An engine of its own scores f(x) while its first batch runs (the first map comes sooner); the targets'
      // range is checked once the class count is known, before any score is used.
      const { target } = options;
      targets = resolveTargets(target, shape[0], Number.POSITIVE_INFINITY);
      initialTarget = options.scorer.predictInput(inputData, shape).then(({ scores, classes }) => {
        resolveTargets(target, shape[0], classes);
        return Float32Array.from(targets, (t, n) => scores[n * classes + t]);
      });
      initialTarget.catch(() => {}); // awaited below; a failure while the scorer starts is that call's to report
    } else {
      const initial = predictScores(this.model, input);
      try {
        targets = resolveTargets(options.target, shape[0], initial.shape[1]);
        initialTarget = await gatherTargets(initial, targets);
      } finally {
        initial.dispose();
      }
    }
    const context: AblationContext = {
      model: this.model,
      input,
      inputData,
      baseline: await baselineValues(options.baselines, shape),
      shape,
      targets,
      perturbationsPerEval: perEval,
    };

    const coarse = options.progressive ? this.coarseRegions(regions, shape, options) : [];
    const batches = evaluationBatches(regions.length, coarse, perEval);
    const diffs = new Float64Array(regions.length * shape[0]);
    const partial = options.onPartial ? new PartialMap(shape) : undefined;
    const scorer = await (options.scorer ?? fullForwardScorer)(context);
    try {
      let done = 0;
      for (const [b, indices] of batches.entries()) {
        throwIfAborted(options.signal);
        const scoring = scorer.scoreRegions(indices.map((i) => regions[i]));
        scoring.catch(() => {}); // f(x)'s failure (e.g. a target out of range) is the one to report
        const fx = await initialTarget;
        const scores = await scoring;
        indices.forEach((region, j) => {
          for (let n = 0; n < shape[0]; n++) {
            diffs[region * shape[0] + n] = fx[n] - scores[j * shape[0] + n];
          }
          partial?.add(regions[region], diffs.subarray(region * shape[0], (region + 1) * shape[0]));
        });
        done += indices.length;
        options.onProgress?.(done, regions.length);
        // During the coarse pass the map is reported once, when the whole coarse grid is in.
        if (partial && (done >= coarse.length || b === batches.length - 1)) options.onPartial?.(partial.map(done < regions.length), done, regions.length);
        await yieldToEventLoop();
      }
    } finally {
      await scorer.dispose();
    }
    throwIfAborted(options.signal);
    // Summed in region order whatever the evaluation order, so progressive and plain runs agree bit for bit.
    const sums = new PartialMap(shape);
    regions.forEach((region, i) => sums.add(region, diffs.subarray(i * shape[0], (i + 1) * shape[0])));
    return tf.tensor4d(sums.map(), shape);
  }
}

/** Batches of region indices: the coarse regions first (in their order), then all others in region order. */
function evaluationBatches(count: number, coarse: number[], perEval: number): number[][] {
  const first = new Set(coarse);
  const rest = Array.from({ length: count }, (_, i) => i).filter((i) => !first.has(i));
  const chunks = (list: number[]) =>
    Array.from({ length: Math.ceil(list.length / perEval) }, (_, b) => list.slice(b * perEval, (b + 1) * perEval));
  return [...chunks(coarse), ...chunks(rest)];
}

/** Scores ablated copies with full forward passes of the model. */
export const fullForwardScorer: AblationScorerFactory = ({ model, inputData, baseline, shape, targets }) => ({
  async scoreRegions(regions) {
    const batch = ablatedBatch(inputData, baseline, shape, regions);
    let scores: tf.Tensor2D;
    try {
      scores = predictScores(model, batch);
    } finally {
      batch.dispose();
    }
    try {
      return await gatherTargets(scores, targets);
    } finally {
      scores.dispose();
    }
  },
  dispose() {},
});

/** scores[row, targets[row % N]] for every row, as a tensor [rows] (rows = copies × N). */
export function pickTargets(scores: tf.Tensor2D, targets: number[]): tf.Tensor1D {
  const [rows, classes] = scores.shape;
  const flatIndices = new Int32Array(rows);
  for (let row = 0; row < rows; row++) flatIndices[row] = row * classes + targets[row % targets.length];
  return tf.tidy(() => tf.gather(tf.reshape(scores, [-1]), tf.tensor1d(flatIndices, 'int32')));
}

/** scores[row, targets[row % N]] for every row, downloaded. */
export async function gatherTargets(scores: tf.Tensor2D, targets: number[]): Promise<Float32Array> {
  const picked = pickTargets(scores, targets);
  try {
    return (await picked.data()) as Float32Array;
  } finally {
    picked.dispose();
  }
}

/** The batch [regions × N, H, W, C]: copy j·N + n is image n with region j replaced by the baseline. */
export function ablatedBatch(
  input: Float32Array,
  baseline: Float32Array,
  [n, h, w, c]: [number, number, number, number],
  regions: Region[],
): tf.Tensor4D {
  const imageSize = h * w * c;
  const data = new Float32Array(regions.length * input.length);
  regions.forEach((region, j) => {
    data.set(input, j * input.length);
    for (let image = 0; image < n; image++) {
      const offset = (j * n + image) * imageSize;
      forEachRun(region, w, c, (start, length) => {
        const from = image * imageSize + start;
        data.set(baseline.subarray(from, from + length), offset + start);
      });
    }
  });
  return tf.tensor4d(data, [regions.length * n, h, w, c]);
}

/** Calls `run(start, length)` for each contiguous run of a region in an H×W×C image laid out row-major. */
export function forEachRun(region: Region, w: number, c: number, run: (start: number, length: number) => void): void {
  const [y0, x0, c0] = region.start;
  const [y1, x1, c1] = region.end;
  const wholePixels = c0 === 0 && c1 === c;
  for (let y = y0; y < y1; y++) {
    if (wholePixels) {
      run((y * w + x0) * c, (x1 - x0) * c);
      continue;
    }
    for (let x = x0; x < x1; x++) run((y * w + x) * c + c0, c1 - c0);
  }
}

/**
 * Σ diff · mask and the count of regions per element; `map()` is their ratio. Elements no region covers yet are 0 in
 * the final map (as Captum's); in a map reported before the last batch they take the nearest covered value (along
 * the row, then along the column), so a coarse preview shows no empty bands between its windows.
 */
class PartialMap {
  private readonly sums: Float64Array;
  private readonly counts: Uint32Array;

  constructor(private readonly shape: [number, number, number, number]) {
    this.sums = new Float64Array(shape[0] * shape[1] * shape[2] * shape[3]);
    this.counts = new Uint32Array(shape[1] * shape[2] * shape[3]);
  }

  add(region: Region, diffs: ArrayLike<number>): void {
    const [n, , w, c] = this.shape;
    const imageSize = this.counts.length;
    forEachRun(region, w, c, (start, length) => {
      for (let i = start; i < start + length; i++) this.counts[i]++;
      for (let image = 0; image < n; image++) {
        const base = image * imageSize;
        const d = diffs[image];
        for (let i = start; i < start + length; i++) this.sums[base + i] += d;
      }
    });
  }

  map(fillGaps = false): Float32Array {
    const out = new Float32Array(this.sums.length);
    const imageSize = this.counts.length;
    for (let base = 0; base < out.length; base += imageSize) {
      for (let i = 0; i < imageSize; i++) {
        const count = this.counts[i];
        out[base + i] = count === 0 ? 0 : this.sums[base + i] / count;
      }
    }
    if (fillGaps) this.fillGaps(out);
    return out;
  }

  private fillGaps(out: Float32Array): void {
    const [n, h, w, c] = this.shape;
    const filled = new Uint8Array(this.counts.length);
    let covered = 0;
    for (let i = 0; i < filled.length; i++) if (this.counts[i] > 0) (filled[i] = 1), covered++;
    if (covered === 0 || covered === filled.length) return;
    // Along each line (`length` elements `step` apart from `start`): uncovered elements copy the nearest filled one.
    const fillLine = (start: number, step: number, length: number, marks: Uint8Array) => {
      let previous = -1;
      for (let k = 0; k <= length; k++) {
        if (k < length && !filled[start + k * step]) continue;
        for (let g = previous + 1; g < k; g++) {
          const from = previous < 0 ? k : k === length ? previous : g - previous <= k - g ? previous : k;
          if (from >= length || from < 0) continue;
          for (let image = 0; image < n; image++) out[image * filled.length + start + g * step] = out[image * filled.length + start + from * step];
          marks[start + g * step] = 1;
        }
        previous = k;
      }
    };
    const rowMarks = new Uint8Array(filled.length);
    for (let y = 0; y < h; y++) for (let ch = 0; ch < c; ch++) fillLine(y * w * c + ch, c, w, rowMarks);
    rowMarks.forEach((m, i) => (filled[i] ||= m));
    const columnMarks = new Uint8Array(filled.length);
    for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) fillLine(x * c + ch, w * c, h, columnMarks);
  }
}
