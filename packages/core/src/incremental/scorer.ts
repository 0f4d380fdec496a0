// The incremental AblationScorer: the unoccluded input runs once; each batch of windows recomputes only the
// patches their changes can reach, then the head runs on full activations with the patches pasted in.
import * as tf from '@tensorflow/tfjs-core';
import {
  fullForwardScorer,
  pickTargets,
  type AblationContext,
  type AblationScorer,
  type AblationScorerFactory,
  type Region,
} from '../attributors/feature-ablation.js';
import type { GraphModelLike, LayersModelLike } from '../model.js';
import { batchPatches, type Box, type Patch } from './field.js';
import { groupWindows } from './flops.js';
import { CompiledPlan, fullActivation, fullSources, patchStep } from './ops.js';
import { planIncremental, type IncrementalPlan, type Shape3 } from './plan.js';

export interface IncrementalOptions {
  /** The layer (LayersModel) or node (GraphModel) whose output holds the scores, as given to asModel. */
  outputLayer?: string;
  /** Krypton's approximation: cap each step's changed box at `tau` of its height and width (0 < tau ≤ 1). */
  approximate?: { tau: number };
  /** Called once per run when the model cannot be computed incrementally, with the reason; scoring then runs full forward passes. */
  onWarning?: (message: string) => void;
}

/** A scorer whose instances say, after creation, whether they run incrementally (and if not, why). */
export interface IncrementalScorer extends AblationScorer {
  readonly incremental: boolean;
  readonly reason?: string;
}

/**
 * An AblationScorerFactory computing occlusion scores by incremental inference on `source` (the LayersModel or
 * GraphModel the context's Model wraps). Exact unless `approximate` is set. Models it cannot plan fall back to full
 * forward passes, reporting why through `onWarning` and the scorer's `reason`.
 */
export function incrementalScorer(source: LayersModelLike | GraphModelLike, options: IncrementalOptions = {}): AblationScorerFactory {
  const tau = options.approximate?.tau;
  if (tau !== undefined && !(tau > 0 && tau <= 1)) throw new RangeError(`approximate.tau must be in (0, 1]; got ${tau}.`);
  return async (context: AblationContext): Promise<IncrementalScorer> => {
    const [, h, w, c] = context.shape;
    const planned = planIncremental(source, [h, w, c], { outputLayer: options.outputLayer });
    let reason = planned.ok ? undefined : planned.reason;
    let compiled: CompiledPlan | undefined;
    let sources: Map<number, tf.Tensor2D> | undefined;
    if (planned.ok) {
      try {
        compiled = new CompiledPlan(planned.plan);
        sources = fullSources(compiled, context.input);
      } catch (cause) {
        compiled?.dispose();
        compiled = undefined;
        reason = `the incremental plan does not fit the model: ${cause instanceof Error ? cause.message : String(cause)}`;
      }
    }
    if (!compiled || !sources) {
      const message = `Incremental occlusion is off for this model: ${reason}. Running full forward passes.`;
      options.onWarning?.(message);
      const fallback = await fullForwardScorer(context);
      return { incremental: false, reason, scoreRegions: (r) => fallback.scoreRegions(r), dispose: () => fallback.dispose() };
    }
    const engine = compiled;
    const gatherSources = sources;
    return {
      incremental: true,
      async scoreRegions(regions: Region[]) {
        const images = context.shape[0];
        const scores = new Float32Array(regions.length * images);
        const boxes = regions.map(({ start, end }) => ({ y0: start[0], y1: end[0], x0: start[1], x1: end[1] }));
        for (const group of groupWindows(engine.plan, boxes, { tau })) {
          const picked = tf.tidy(() => scoreBatch(engine, gatherSources, context, group.map((j) => regions[j]), tau));
          try {
            const values = await picked.data();
            group.forEach((j, g) => scores.set(values.subarray(g * images, (g + 1) * images), j * images));
          } finally {
            picked.dispose();
          }
        }
        return scores;
      },
      dispose() {
        tf.dispose([...gatherSources.values()]);
        engine.dispose();
      },
    };
  };
}

/** Copy j·N + n of the batch occludes region j of image n; returns the target scores [regions·N]. */
function scoreBatch(
  compiled: CompiledPlan,
  sources: Map<number, tf.Tensor2D>,
  { inputData, baseline, shape, targets }: AblationContext,
  regions: Region[],
  tau: number | undefined,
): tf.Tensor1D {
  const plan: IncrementalPlan = compiled.plan;
  const images = shape[0];
  const boxes: Box[] = [];
  for (const region of regions) {
    for (let n = 0; n < images; n++) boxes.push({ y0: region.start[0], y1: region.end[0], x0: region.start[1], x1: region.end[1] });
  }
  const patches = batchPatches(plan, boxes, { tau });
  const values: tf.Tensor4D[] = [inputPatches(inputData, baseline, shape, regions, patches[0])];
  for (let i = 1; i < plan.nodes.length; i++) values.push(patchStep(compiled, i, patches, values, sources, images));
  const frontier = plan.frontier.map((i) =>
    fullActivation(sources.get(i) as tf.Tensor2D, plan.nodes[i].shape, images, patches[i], values[i]),
  );
  const out = plan.head(frontier);
  return pickTargets(tf.reshape(out, [boxes.length, -1]), targets);
}

/** The input patches [copies, h, w, C]: the image, with the region's elements replaced by the baseline. */
function inputPatches(
  input: Float32Array,
  baseline: Float32Array,
  [images, h, w, c]: [number, number, number, number],
  regions: Region[],
  patch: Patch,
): tf.Tensor4D {
  const copies = regions.length * images;
  const data = new Float32Array(copies * patch.h * patch.w * c);
  let k = 0;
  for (let b = 0; b < copies; b++) {
    const { start, end } = regions[Math.floor(b / images)];
    const n = b % images;
    for (let r = 0; r < patch.h; r++) {
      const y = patch.y[b] + r;
      const rowIn = y >= start[0] && y < end[0];
      for (let col = 0; col < patch.w; col++) {
        const x = patch.x[b] + col;
        const inside = rowIn && x >= start[1] && x < end[1];
        const offset = ((n * h + y) * w + x) * c;
        for (let ch = 0; ch < c; ch++) {
          data[k++] = inside && ch >= start[2] && ch < end[2] ? baseline[offset + ch] : input[offset + ch];
        }
      }
    }
  }
  return tf.tensor4d(data, [copies, patch.h, patch.w, c]);
}

export type { Shape3 };
