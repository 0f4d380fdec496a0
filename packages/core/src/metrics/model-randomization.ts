import * as tf from '@tensorflow/tfjs-core';
import { ExplainError, throwIfAborted } from '../errors.js';
import { asModel, type Model } from '../model.js';
import { yieldToEventLoop } from '../platform.js';
import {
  drawSeed,
  mapsPerExample,
  prepareMetric,
  requireExplain,
  spearman,
  type ExplainFunction,
  type MetricOptions,
  type MetricResult,
} from './metric.js';

export interface ModelRandomizationOptions extends MetricOptions {
  /** Recomputes the explanation with each randomised copy of the model. */
  explain: ExplainFunction;
  /**
   * Which layers to randomise, cumulatively in this order: a count of layers with weights taken from the top (the
   * output side), or their names. Default: every layer with weights, top to bottom.
   */
  layers?: number | string[];
  /** Seed of the re-initialisation (initializer i of the model gets the tf.js seed seed + i + 1; tf.js draws unseeded for 0); default 0. */
  seed?: number;
}

export interface LayerCorrelation {
  /** The layer randomised at this step (every layer of the earlier steps stays randomised). */
  layer: string;
  /** Spearman rank correlation of the map with the original map, per example. */
  spearman: number[];
  /** The same of the absolute values. */
  spearmanAbs: number[];
}

export interface ModelRandomizationResult extends MetricResult {
  metric: 'model_randomization';
  /** Spearman correlation after the last step, per example (near 0 for an explanation that depends on the weights). */
  values: number[];
  layers: LayerCorrelation[];
}

/** What this metric needs of a tfjs-layers LayersModel (structural: core does not import tfjs-layers). */
interface CopyableLayer {
  readonly name: string;
  getWeights(): tf.Tensor[];
  setWeights(weights: tf.Tensor[]): void;
}
interface CopyableLayersModel {
  readonly layers: CopyableLayer[];
  getLayer(name: string): CopyableLayer;
  getConfig(): Record<string, unknown>;
  getWeights(): tf.Tensor[];
  setWeights(weights: tf.Tensor[]): void;
  dispose(): unknown;
  constructor: { fromConfig?: (cls: unknown, config: Record<string, unknown>) => CopyableLayersModel };
}

function copyableModel(model: Model): CopyableLayersModel {
  const source = model.tfModel as Partial<CopyableLayersModel> | undefined;
  if (
    !source ||
    !Array.isArray(source.layers) ||
    typeof source.getConfig !== 'function' ||
    typeof source.setWeights !== 'function' ||
    typeof source.constructor?.fromConfig !== 'function'
  ) {
    throw new ExplainError(
      'invalid_model',
      'model_randomization re-initialises layers of a copy of a tf.LayersModel: wrap one with asModel (GraphModels and functions have no layers to copy).',
    );
  }
  return source as CopyableLayersModel;
}

/** A deep copy of a model config in which every initializer with a `seed` field gets the next seed from `next`. */
function seededConfig(node: unknown, next: () => number): unknown {
  if (Array.isArray(node)) return node.map((item) => seededConfig(item, next));
  if (node === null || typeof node !== 'object') return node;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) copy[key] = seededConfig(value, next);
  const inner = copy['config'];
  if (typeof copy['className'] === 'string' && inner && typeof inner === 'object' && 'seed' in inner) {
    (inner as Record<string, unknown>)['seed'] = next();
  }
  return copy;
}

/** The layers with weights, from the output (or `outputLayer`) down to the input. */
function weightedLayersTopDown(source: CopyableLayersModel, outputLayer: string | undefined): string[] {
  let last = source.layers.length - 1;
  if (outputLayer) last = source.layers.findIndex((layer) => layer.name === outputLayer);
  return source.layers
    .slice(0, last + 1)
    .filter((layer) => layer.getWeights().length > 0)
    .map((layer) => layer.name)
    .reverse();
}

function chooseLayers(available: string[], layers: number | string[] | undefined): string[] {
  if (layers === undefined) return available;
  if (typeof layers === 'number') {
    if (!Number.isInteger(layers) || layers < 1 || layers > available.length) {
      throw new ExplainError('invalid_option', `layers must be an integer from 1 to ${available.length} (the layers with weights); got ${layers}.`);
    }
    return available.slice(0, layers);
  }
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new ExplainError('invalid_option', 'layers must be a count or a non-empty list of layer names.');
  }
  for (const name of layers) {
    if (!available.includes(name)) {
      throw new ExplainError('invalid_option', `"${name}" is not a layer with weights below the output; choose from: ${available.join(', ')}.`);
    }
  }
  return layers;
}

/**
 * The cascading model-parameter randomisation test of Adebayo et al. 2018 ("Sanity checks for saliency maps"):
 * starting from the top, the weights of one layer after another are re-initialised (cumulatively) on a copy of the
 * model, the explanation is recomputed after each step, and its Spearman rank correlation with the original map
 * (`attribution`, the explanation of the unrandomised model) is reported, with and without absolute values. Maps are
 * compared after summing over channels. Re-initialisation uses each layer's own initializers (from its config) with
 * fixed seeds: kernels drawn afresh, biases and batch-norm statistics back to their initial constants. The caller's
 * model is never changed; the copy is disposed at the end.
 */
export async function modelRandomization(
  model: Model,
  input: tf.Tensor4D,
  attribution: tf.Tensor,
  options: ModelRandomizationOptions,
): Promise<ModelRandomizationResult> {
  const targets = prepareMetric(model, input, options, 'model_randomization');
  const explain = requireExplain(options.explain, 'model_randomization');
  const source = copyableModel(model);
  const names = chooseLayers(weightedLayersTopDown(source, model.outputLayer), options.layers);
  if (!(attribution instanceof tf.Tensor) || attribution.shape[0] !== input.shape[0]) {
    throw new ExplainError('invalid_input', `The attribution must be the explanation of the input, with ${input.shape[0]} rows.`);
  }
  const originals = await mapsPerExample(attribution);
  const originalsAbs = originals.map((map) => map.map(Math.abs));

  let initializers = 0;
  drawSeed(options.seed, 0); // validates the seed before any work
  const nextSeed = () => drawSeed(options.seed, initializers++);
  const Copy = source.constructor as { fromConfig: (cls: unknown, config: Record<string, unknown>) => CopyableLayersModel };
  let copy: CopyableLayersModel;
  try {
    copy = Copy.fromConfig(Copy, seededConfig(source.getConfig(), nextSeed) as Record<string, unknown>);
  } catch (cause) {
    throw new ExplainError('invalid_model', `The model could not be rebuilt from its config for randomisation: ${String(cause)}`, { cause });
  }
  // The copy starts with fresh weights everywhere: keep those of the chosen layers, then load the user's weights
  // (variables share the user's data until a layer is overwritten; the user's variables never change).
  const fresh = new Map(names.map((name) => [name, copy.getLayer(name).getWeights().map((w) => tf.clone(w))]));
  const layers: LayerCorrelation[] = [];
  try {
    copy.setWeights(source.getWeights());
    const randomized = asModel(copy as never, { outputLayer: model.outputLayer, outputKind: model.outputKind, inputShape: model.inputShape });
    for (const [step, name] of names.entries()) {
      throwIfAborted(options.signal);
      copy.getLayer(name).setWeights(fresh.get(name)!);
      const map = await explain(randomized, input, { target: targets });
      let maps: Float32Array[];
      try {
        if (!(map instanceof tf.Tensor) || map.shape.join() !== attribution.shape.join()) {
          const got = map instanceof tf.Tensor ? `shape [${map.shape}]` : typeof map;
          throw new ExplainError('invalid_option', `explain returned ${got}; expected the attribution's shape [${attribution.shape}].`);
        }
        maps = await mapsPerExample(map);
      } finally {
        if (map instanceof tf.Tensor) map.dispose();
      }
      layers.push({
        layer: name,
        spearman: maps.map((m, e) => spearman(originals[e], m)),
        spearmanAbs: maps.map((m, e) => spearman(originalsAbs[e], m.map(Math.abs))),
      });
      options.onProgress?.(step + 1, names.length);
      await yieldToEventLoop();
    }
  } finally {
    copy.dispose();
    for (const weights of fresh.values()) tf.dispose(weights);
  }
  return { metric: 'model_randomization', values: layers[layers.length - 1].spearman, layers };
}
