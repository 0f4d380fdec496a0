import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from './errors.js';

export type OutputKind = 'logits' | 'probabilities';

/** Anything that maps a batch of images to class scores. */
export interface Model {
  /** [N,H,W,C] -> [N,classes]. Pure: the same input gives the same output. */
  predict(images: tf.Tensor4D): tf.Tensor2D;
  /** What predict returns: 'logits' (softmax is applied for probabilities) or 'probabilities'. */
  readonly outputKind: OutputKind;
  /** [H,W,C] the model expects, when known. */
  readonly inputShape?: [number, number, number];
  /** Layer methods (Grad-CAM): one forward pass returning a named layer's activations and the scores. */
  predictWithLayer?(images: tf.Tensor4D, layer: string): { activations: tf.Tensor4D; scores: tf.Tensor2D };
  /** Names of the layers (or graph nodes) `predictWithLayer` accepts, in execution order, when known. */
  layerNames?(): string[];
  /**
   * Gradient layer methods (Grad-CAM): the scores computed with the named layer's output replaced by `activations`
   * (from `predictWithLayer`), differentiable with respect to them.
   */
  scoresFromLayer?(images: tf.Tensor4D, layer: string, activations: tf.Tensor4D): tf.Tensor2D;
  /** A layer's output shape with the batch axis (null for unknown sizes), when known. */
  layerShape?(layer: string): Array<number | null> | undefined;
  /** The wrapped tf.LayersModel or tf.GraphModel, for methods that analyse its layers (incremental occlusion). */
  readonly tfModel?: LayersModelLike | GraphModelLike;
  /** The layer (or graph node) whose output is used as the scores, when it is not the model's own output. */
  readonly outputLayer?: string;
}

/** The parts of a tfjs-layers LayersModel that core uses. Structural, so core does not import tfjs-layers. */
export interface LayersModelLike {
  readonly layers: Array<{
    readonly name: string;
    getClassName(): string;
    getConfig(): Record<string, unknown>;
    readonly output: { readonly name: string; readonly shape: Array<number | null> } | unknown;
    countParams(): number;
  }>;
  readonly inputs: Array<{ readonly shape: Array<number | null> }>;
  readonly outputs: Array<{ readonly name: string; readonly shape: Array<number | null> }>;
  predict(x: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[];
  execute(inputs: tf.Tensor | tf.Tensor[], outputs: string | string[]): tf.Tensor | tf.Tensor[];
  getLayer(name: string): { readonly output: unknown };
}

/** The parts of a tfjs-converter GraphModel that core uses. */
export interface GraphModelLike {
  readonly inputs: Array<{ readonly name: string; readonly shape?: number[] }>;
  readonly outputs: Array<{ readonly name: string; readonly shape?: number[] }>;
  readonly outputNodes: string[];
  execute(inputs: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap, outputs?: string | string[]): tf.Tensor | tf.Tensor[];
}

export type ModelFunction = (images: tf.Tensor4D) => tf.Tensor2D;

export interface AsModelOptions {
  /** What the model returns; detected from the model's last layers when omitted ('logits' for a plain function). */
  outputKind?: OutputKind;
  /** LayersModel: a layer whose output to use as the scores (e.g. 'conv_preds' for MobileNet's logits). GraphModel: a node name. */
  outputLayer?: string;
  /** [H,W,C] the model expects; read from the model when omitted. */
  inputShape?: [number, number, number];
}

function isLayersModel(source: unknown): source is LayersModelLike {
  const s = source as Partial<LayersModelLike>;
  return typeof s === 'object' && s !== null && Array.isArray(s.layers) && typeof s.getLayer === 'function';
}

function isGraphModel(source: unknown): source is GraphModelLike {
  const s = source as Partial<GraphModelLike>;
  return typeof s === 'object' && s !== null && typeof s.execute === 'function' && Array.isArray(s.outputNodes);
}

/** Scores of any rank with a batch axis become [N, classes] (e.g. MobileNet's conv_preds is [N,1,1,1000]). */
function toScores(output: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap, what: string): tf.Tensor2D {
  if (Array.isArray(output) || !(output instanceof tf.Tensor)) {
    throw new ExplainError(
      'invalid_model',
      `${what} returned several outputs; pass options.outputLayer to choose the one that holds the class scores.`,
    );
  }
  if (output.rank < 2) {
    throw new ExplainError('invalid_model', `${what} returned shape [${output.shape}]; a classifier must return [N, classes].`);
  }
  if (output.rank === 2) return output as tf.Tensor2D;
  return tf.reshape(output, [output.shape[0], -1]);
}

function shapeHWC(shape: ReadonlyArray<number | null> | undefined): [number, number, number] | undefined {
  if (!shape || shape.length !== 4) return undefined;
  const [, h, w, c] = shape;
  if (h == null || w == null || c == null || h < 0 || w < 0 || c < 0) return undefined;
  return [h, w, c];
}

// Layers that pass scores through unchanged in kind; looked through when detecting a final softmax.
const PASS_THROUGH_LAYERS = new Set(['Reshape', 'Flatten', 'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'Permute']);

function layersOutputKind(model: LayersModelLike, outputLayer?: string): OutputKind {
  const layers = model.layers;
  let last = layers.length - 1;
  if (outputLayer) last = layers.findIndex((l) => l.name === outputLayer);
  for (let i = last; i >= 0; i--) {
    const layer = layers[i];
    const className = layer.getClassName();
    const activation = layer.getConfig()['activation'];
    if (className === 'Softmax' || activation === 'softmax') return 'probabilities';
    if (PASS_THROUGH_LAYERS.has(className) || (className === 'Activation' && activation === 'linear')) continue;
    return 'logits';
  }
  return 'logits';
}

interface GraphNodeLike {
  op: string;
  inputs: GraphNodeLike[];
}

function graphOutputKind(model: GraphModelLike, outputNode: string): OutputKind {
  // GraphModel keeps its parsed graph in a private executor; read it defensively.
  const graph = (model as unknown as { executor?: { graph?: { nodes?: Record<string, GraphNodeLike> } } }).executor?.graph;
  let node = graph?.nodes?.[outputNode.split(':')[0]];
  for (let hops = 0; node && hops < 8; hops++) {
    if (node.op === 'Softmax') return 'probabilities';
    if (!['Identity', 'Reshape', 'Squeeze', 'StopGradient'].includes(node.op)) break;
    node = node.inputs[0];
  }
  return 'logits';
}

function layerOutputName(model: LayersModelLike, layer: string): string {
  const found = model.layers.find((l) => l.name === layer);
  if (!found) {
    const names = model.layers.map((l) => l.name);
    throw new ExplainError(
      'invalid_model',
      `The model has no layer "${layer}". Its layers are: ${names.join(', ')}.`,
    );
  }
  const output = found.output as { name?: string } | unknown[];
  if (Array.isArray(output) || typeof output?.name !== 'string') {
    throw new ExplainError('invalid_model', `Layer "${layer}" has several outputs; choose a layer with one output.`);
  }
  return output.name;
}

function checkActivations(t: tf.Tensor, layer: string): tf.Tensor4D {
  if (t.rank !== 4) {
    throw new ExplainError(
      'invalid_model',
      `Layer "${layer}" outputs shape [${t.shape}], not a 4-D [N,h,w,c] activation; choose a convolutional layer.`,
    );
  }
  return t as tf.Tensor4D;
}

function fromLayersModel(model: LayersModelLike, options: AsModelOptions): Model {
  const outputName = options.outputLayer ? layerOutputName(model, options.outputLayer) : undefined;
  const scores = (images: tf.Tensor4D) =>
    outputName ? model.execute(images, outputName) : model.predict(images);
  return {
    tfModel: model,
    outputLayer: options.outputLayer,
    outputKind: options.outputKind ?? layersOutputKind(model, options.outputLayer),
    inputShape: options.inputShape ?? shapeHWC(model.inputs[0]?.shape),
    predict: (images) => toScores(scores(images), 'The LayersModel'),
    predictWithLayer(images, layer) {
      const names = [layerOutputName(model, layer), outputName ?? model.outputs[0].name];
      const [activations, out] = model.execute(images, names) as tf.Tensor[];
      return { activations: checkActivations(activations, layer), scores: toScores(out, 'The LayersModel') };
    },
    layerNames: () => model.layers.map((l) => l.name),
    scoresFromLayer(images, layer, activations) {
      layerOutputName(model, layer);
      // Swap the layer's computation for the given activations for one synchronous forward pass.
      const target = model.getLayer(layer) as unknown as { call: (...args: unknown[]) => unknown };
      const own = Object.prototype.hasOwnProperty.call(target, 'call');
      const previous = target.call;
      // A clone: tfjs-layers' executor disposes intermediate outputs once consumed; the clone's gradient is identity.
      target.call = () => tf.clone(activations);
      try {
        return toScores(scores(images), 'The LayersModel');
      } finally {
        if (own) target.call = previous;
        else delete (target as { call?: unknown }).call;
      }
    },
    layerShape(layer) {
      const found = model.layers.find((l) => l.name === layer);
      const shape = (found?.output as { shape?: Array<number | null> } | undefined)?.shape;
      return Array.isArray(shape) ? shape : undefined;
    },
  };
}

function fromGraphModel(model: GraphModelLike, options: AsModelOptions): Model {
  if (model.inputs.length !== 1) {
    throw new ExplainError('invalid_model', `The GraphModel has ${model.inputs.length} inputs; easy-explain needs a model with one image input.`);
  }
  const outputNode = options.outputLayer ?? model.outputNodes[0];
  // Weights and constants are nodes too; only computed nodes are layers a caller can ask for.
  const nodeNames = () => {
    const graph = (model as unknown as { executor?: { graph?: { nodes?: Record<string, { op?: string }> } } }).executor?.graph;
    return Object.entries(graph?.nodes ?? {})
      .filter(([, node]) => node.op !== 'Const')
      .map(([name]) => name);
  };
  return {
    tfModel: model,
    outputLayer: options.outputLayer,
    outputKind: options.outputKind ?? graphOutputKind(model, outputNode),
    inputShape: options.inputShape ?? shapeHWC(model.inputs[0].shape),
    predict: (images) => toScores(model.execute(images, outputNode), 'The GraphModel'),
    predictWithLayer(images, layer) {
      let results: tf.Tensor[];
      try {
        results = model.execute(images, [layer, outputNode]) as tf.Tensor[];
      } catch (cause) {
        throw new ExplainError('invalid_model', `The GraphModel has no node "${layer}" that can be fetched: ${String(cause)}`, { cause });
      }
      return { activations: checkActivations(results[0], layer), scores: toScores(results[1], 'The GraphModel') };
    },
    layerNames: nodeNames,
    scoresFromLayer(images, layer, activations) {
      // Feeding the node prunes the graph above it, so only the head runs.
      const feed: tf.NamedTensorMap = { [model.inputs[0].name]: images, [layer]: activations };
      return toScores(model.execute(feed, outputNode), 'The GraphModel');
    },
  };
}

/** Wrap a tf.LayersModel, a tf.GraphModel or a plain function as a Model. */
export function asModel(source: LayersModelLike | GraphModelLike | ModelFunction | Model, options: AsModelOptions = {}): Model {
  if (typeof source === 'function') {
    return {
      outputKind: options.outputKind ?? 'logits',
      inputShape: options.inputShape,
      predict: (images) => toScores(source(images), 'The model function'),
    };
  }
  if (isLayersModel(source)) return fromLayersModel(source, options);
  if (isGraphModel(source)) return fromGraphModel(source, options);
  const m = source as Partial<Model>;
  if (typeof m === 'object' && m !== null && typeof m.predict === 'function' && (m.outputKind === 'logits' || m.outputKind === 'probabilities')) {
    return m as Model;
  }
  throw new ExplainError(
    'invalid_model',
    'asModel takes a tf.LayersModel, a tf.GraphModel, a function from [N,H,W,C] to [N,classes], or a Model.',
  );
}

/** Scores [N,classes] for a batch, run in a tidy so the model's intermediates are freed. */
export function predictScores(model: Model, images: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const scores = model.predict(images);
    if (scores.rank !== 2 || scores.shape[0] !== images.shape[0]) {
      throw new ExplainError(
        'invalid_model',
        `The model returned shape [${scores.shape}] for a batch of ${images.shape[0]}; it must return [N, classes].`,
      );
    }
    return scores;
  });
}
