// Planning: turns a LayersModel or GraphModel into a graph of local (spatially bounded) steps followed by a head
// that runs on full activations. Holds references to the model's weights; owns no tensors.
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModelLike, LayersModelLike } from '../model.js';

export type Shape3 = [number, number, number];
/** Activations the fused TF.js conv ops apply themselves. */
export type FusedActivation = 'linear' | 'relu' | 'relu6' | 'leakyrelu' | 'elu' | 'sigmoid';
export type Activation = FusedActivation | 'tanh' | 'softplus' | 'selu' | 'swish';

export interface BatchNormParams {
  mean: tf.Tensor;
  variance: tf.Tensor;
  gamma?: tf.Tensor;
  beta?: tf.Tensor;
  epsilon: number;
}

/** Geometry shared by convolutions and pools; kernel is the dilated extent. */
export interface Window2D {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  padding: 'same' | 'valid';
  /** Zero rows/columns added before the input (TF's 'same' rule: the smaller half goes first). */
  padBefore: [number, number];
}

export type LocalOp =
  | { kind: 'input' }
  | ({
      kind: 'conv';
      depthwise: boolean;
      filter: tf.Tensor;
      bias?: tf.Tensor;
      /** Applied after the bias (folded into filter and bias when compiled). */
      batchNorm?: BatchNormParams;
      activation: FusedActivation;
      alpha: number;
    } & Window2D)
  | ({ kind: 'pool'; type: 'max' | 'avg' } & Window2D)
  | { kind: 'batchNorm'; params: BatchNormParams }
  | { kind: 'bias'; bias: tf.Tensor }
  | { kind: 'activation'; activation: Activation; alpha: number; maxValue?: number }
  | { kind: 'identity' }
  | { kind: 'zeroPad'; top: number; bottom: number; left: number; right: number }
  | { kind: 'add' }
  | { kind: 'multiply' }
  | { kind: 'concat' };

export interface PlanNode {
  /** Layer or graph-node name (for fused steps, the last one). */
  name: string;
  className: string;
  op: LocalOp;
  /** Indices of input nodes (earlier in `nodes`). */
  inputs: number[];
  /** Output [H, W, C] of one image. */
  shape: Shape3;
}

export interface IncrementalPlan {
  /** Local steps in execution order; node 0 is the input. */
  nodes: PlanNode[];
  /** Nodes whose full activations the head reads, in the order `head` takes them. */
  frontier: number[];
  /** Finishes the network on full activations of the frontier nodes: a batch of outputs (any rank, batch first). */
  head(frontier: tf.Tensor4D[]): tf.Tensor;
  /** Names of the layers the head runs, and an estimate of its FLOPs per example. */
  headLayers: string[];
  headFlops: number;
}

export type PlanResult = { ok: true; plan: IncrementalPlan } | { ok: false; reason: string };

export interface PlanOptions {
  /** LayersModel: the layer whose output holds the scores; GraphModel: the node. Default: the model's output. */
  outputLayer?: string;
}

const IDENTITY_LAYERS = new Set(['Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
/** Layers after which no locality is left: they start the head. */
const GLOBAL_LAYERS = new Set(['GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'Flatten', 'Reshape', 'Dense']);
const ACTIVATIONS = new Set<string>(['linear', 'relu', 'relu6', 'leakyrelu', 'elu', 'sigmoid', 'tanh', 'softplus', 'selu', 'swish']);
const FUSED = new Set<string>(['linear', 'relu', 'relu6', 'leakyrelu', 'elu', 'sigmoid']);

export function isLayersModel(source: unknown): source is LayersModelLike {
  const s = source as Partial<LayersModelLike>;
  return typeof s === 'object' && s !== null && Array.isArray(s.layers) && typeof s.getLayer === 'function';
}

export function isGraphModel(source: unknown): source is GraphModelLike {
  const s = source as Partial<GraphModelLike>;
  return typeof s === 'object' && s !== null && typeof s.execute === 'function' && Array.isArray(s.outputNodes);
}

/** Plans incremental inference for an input of [H,W,C]; says why not when the model cannot be planned. */
export function planIncremental(source: LayersModelLike | GraphModelLike, inputShape: Shape3, options: PlanOptions = {}): PlanResult {
  try {
    const result = isLayersModel(source)
      ? planLayers(source, inputShape, options)
      : isGraphModel(source)
        ? planGraph(source, inputShape, options)
        : ({ ok: false, reason: 'the model is neither a LayersModel nor a GraphModel' } as PlanResult);
    if (result.ok) fuse(result.plan);
    return result;
  } catch (cause) {
    return { ok: false, reason: `planning failed: ${cause instanceof Error ? cause.message : String(cause)}` };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Geometry

function pair(value: unknown, fallback: number): [number, number] {
  if (value == null) return [fallback, fallback];
  if (typeof value === 'number') return [value, value];
  const list = value as number[];
  return [list[0], list[1] ?? list[0]];
}

/** Output size and zero padding before the input along one axis, as TF computes them. */
export function axisGeometry(size: number, kernel: number, stride: number, padding: 'same' | 'valid'): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.ceil((size - kernel + 1) / stride), before: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return { out, before: Math.floor(total / 2) };
}

function window2D(
  [h, w]: Shape3,
  size: [number, number],
  strides: [number, number],
  dilations: [number, number],
  padding: string,
): { window: Window2D; out: [number, number] } | string {
  if (padding !== 'same' && padding !== 'valid') return `padding "${padding}"`;
  const kernel: [number, number] = [(size[0] - 1) * dilations[0] + 1, (size[1] - 1) * dilations[1] + 1];
  const gy = axisGeometry(h, kernel[0], strides[0], padding);
  const gx = axisGeometry(w, kernel[1], strides[1], padding);
  if (gy.out < 1 || gx.out < 1) return 'an empty output';
  return { window: { kernel, strides, dilations, padding, padBefore: [gy.before, gx.before] }, out: [gy.out, gx.out] };
}

// ---------------------------------------------------------------------------------------------------------------
// LayersModel

interface LayerInternals {
  name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  getWeights(): tf.Tensor[];
  countParams(): number;
  apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: Record<string, unknown>): tf.Tensor | tf.Tensor[];
  inboundNodes: Array<{ inboundLayers: LayerInternals[]; tensorIndices: number[] }>;
}

function planLayers(model: LayersModelLike, inputShape: Shape3, options: PlanOptions): PlanResult {
  const layers = model.layers as unknown as LayerInternals[];
  // Sequential models list no outputLayers; the layer producing the output tensor is the one.
  const outputName = options.outputLayer ?? (layers.find((l) => (l as unknown as { output: unknown }).output === model.outputs[0]) ?? layers[layers.length - 1]).name;
  if (model.inputs.length !== 1 || (!options.outputLayer && model.outputs.length !== 1)) {
    return { ok: false, reason: 'the model has several inputs or outputs' };
  }
  const outputIndex = layers.findIndex((l) => l.name === outputName);
  if (outputIndex < 0) return { ok: false, reason: `the model has no layer "${outputName}"` };

  const nodes: PlanNode[] = [{ name: 'input', className: 'InputLayer', op: { kind: 'input' }, inputs: [], shape: inputShape }];
  const localIndex = new Map<LayerInternals, number>();
  const head: LayerInternals[] = [];
  for (const layer of layers.slice(0, outputIndex + 1)) {
    const className = layer.getClassName();
    if (layer.inboundNodes.length > 1) return { ok: false, reason: `layer "${layer.name}" (${className}) is shared between several calls` };
    if (className === 'InputLayer') {
      localIndex.set(layer, 0);
      continue;
    }
    const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
    if (inbound.some((l, i) => (layer.inboundNodes[0].tensorIndices[i] ?? 0) !== 0)) {
      return { ok: false, reason: `layer "${layer.name}" (${className}) reads a layer with several outputs` };
    }
    // Sequential models keep their InputLayer outside `layers`.
    const inputs = inbound.map((l) => (l.getClassName() === 'InputLayer' ? 0 : localIndex.get(l)));
    if (inputs.every((i) => i !== undefined)) {
      const local = localLayer(layer, className, inputs as number[], nodes);
      if (typeof local !== 'string') {
        if (local) {
          for (const node of local) nodes.push(node);
          localIndex.set(layer, nodes.length - 1);
          continue;
        }
      } else if (!GLOBAL_LAYERS.has(className)) {
        return { ok: false, reason: `layer "${layer.name}" (${className}) is not supported: ${local}` };
      }
      if (!GLOBAL_LAYERS.has(className)) {
        return { ok: false, reason: `layer "${layer.name}" (${className}) is not supported by incremental inference` };
      }
    }
    head.push(layer);
  }

  // Keep only the head layers the output needs, and find the local nodes they read.
  const output = layers[outputIndex];
  const needed = new Set<LayerInternals>();
  const visit = (layer: LayerInternals) => {
    if (needed.has(layer) || localIndex.has(layer) || layer.getClassName() === 'InputLayer') return;
    needed.add(layer);
    for (const l of layer.inboundNodes[0]?.inboundLayers ?? []) visit(l);
  };
  visit(output);
  const headLayers = head.filter((l) => needed.has(l));
  const frontier: number[] = [];
  const frontierOf = (index: number) => {
    if (!frontier.includes(index)) frontier.push(index);
    return frontier.indexOf(index);
  };
  const wiring = headLayers.map((layer) =>
    layer.inboundNodes[0].inboundLayers.map((l) => {
      const local = l.getClassName() === 'InputLayer' ? 0 : localIndex.get(l);
      return local !== undefined ? { frontier: frontierOf(local) } : { head: headLayers.indexOf(l) };
    }),
  );
  const outputLocal = localIndex.get(output);
  if (outputLocal !== undefined) frontierOf(outputLocal);
  if (frontier.includes(0)) {
    return { ok: false, reason: 'the input feeds a global layer directly, so no local layer can be computed incrementally' };
  }

  return {
    ok: true,
    plan: {
      nodes,
      frontier,
      headLayers: headLayers.map((l) => l.name),
      headFlops: headLayers.reduce((sum, l) => sum + 2 * l.countParams(), 0),
      head(values) {
        if (outputLocal !== undefined) return values[0];
        const outputs: tf.Tensor[] = [];
        headLayers.forEach((layer, i) => {
          const inputs = wiring[i].map((w) => ('frontier' in w ? values[w.frontier as number] : outputs[w.head as number]));
          outputs.push(layer.apply(inputs.length === 1 ? inputs[0] : inputs) as tf.Tensor);
        });
        return outputs[outputs.length - 1];
      },
    },
  };
}

/** The local steps of one layer (usually one), null if the layer is global, or why it is unsupported. */
function localLayer(layer: LayerInternals, className: string, inputs: number[], nodes: PlanNode[]): PlanNode[] | null | string {
  const config = layer.getConfig();
  const name = layer.name;
  const inShape = nodes[inputs[0]]?.shape;
  if (GLOBAL_LAYERS.has(className)) return null;
  const weights = () => layer.getWeights();
  const channelsLast = () => (config['dataFormat'] ?? 'channelsLast') === 'channelsLast';
  switch (className) {
    case 'Conv2D':
    case 'DepthwiseConv2D':
    case 'SeparableConv2D': {
      if (!channelsLast()) return 'channels-first data';
      const activation = String(config['activation'] ?? 'linear');
      if (!FUSED.has(activation)) return `activation "${activation}"`;
      const geometry = window2D(inShape, pair(config['kernelSize'], 1), pair(config['strides'], 1), pair(config['dilationRate'], 1), String(config['padding']));
      if (typeof geometry === 'string') return geometry;
      const useBias = config['useBias'] !== false;
      const w = weights();
      if (className === 'Conv2D') {
        const filter = w[0];
        return [convNode(name, className, inputs, geometry, false, filter, useBias ? w[1] : undefined, activation as FusedActivation, (filter.shape as number[])[3])];
      }
      const depthwise = w[0];
      const channels = inShape[2] * (depthwise.shape as number[])[3];
      if (className === 'DepthwiseConv2D') {
        return [convNode(name, className, inputs, geometry, true, depthwise, useBias ? w[1] : undefined, activation as FusedActivation, channels)];
      }
      // Separable: depthwise, then a 1×1 convolution that carries the bias and the activation.
      const pointwise = w[1];
      const first = convNode(`${name}/depthwise`, className, inputs, geometry, true, depthwise, undefined, 'linear', channels);
      const unit = window2D(first.shape, [1, 1], [1, 1], [1, 1], 'valid') as { window: Window2D; out: [number, number] };
      const second = convNode(name, className, [nodes.length], unit, false, pointwise, useBias ? w[2] : undefined, activation as FusedActivation, (pointwise.shape as number[])[3]);
      return [first, second];
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      if (!channelsLast()) return 'channels-first data';
      const size = pair(config['poolSize'], 2);
      const geometry = window2D(inShape, size, pair(config['strides'] ?? size, 1), [1, 1], String(config['padding']));
      if (typeof geometry === 'string') return geometry;
      const type = className === 'MaxPooling2D' ? 'max' : 'avg';
      if (type === 'avg' && (geometry.window.padBefore.some((p) => p > 0) || padsAfter(inShape, geometry))) {
        return "average pooling that pads ('same' padding at this size)";
      }
      return [{ name, className, inputs, op: { kind: 'pool', type, ...geometry.window }, shape: [...geometry.out, inShape[2]] }];
    }
    case 'BatchNormalization': {
      const axis = Number(config['axis'] ?? -1);
      if (axis !== -1 && axis !== 3) return `normalisation over axis ${axis}`;
      const w = weights();
      let k = 0;
      const gamma = config['scale'] !== false ? w[k++] : undefined;
      const beta = config['center'] !== false ? w[k++] : undefined;
      const params: BatchNormParams = { gamma, beta, mean: w[k++], variance: w[k++], epsilon: Number(config['epsilon'] ?? 1e-3) };
      return [{ name, className, inputs, op: { kind: 'batchNorm', params }, shape: inShape }];
    }
    case 'Activation':
    case 'ReLU':
    case 'LeakyReLU': {
      let activation = className === 'Activation' ? String(config['activation']) : className === 'ReLU' ? 'relu' : 'leakyrelu';
      const maxValue = className === 'ReLU' && config['maxValue'] != null ? Number(config['maxValue']) : undefined;
      if (maxValue === 6) activation = 'relu6';
      if (!ACTIVATIONS.has(activation)) return `activation "${activation}"`;
      const alpha = className === 'LeakyReLU' ? Number(config['alpha'] ?? 0.3) : 0.2;
      const op: LocalOp = { kind: 'activation', activation: activation as Activation, alpha, maxValue: maxValue === 6 ? undefined : maxValue };
      return [{ name, className, inputs, op, shape: inShape }];
    }
    case 'ZeroPadding2D': {
      if (!channelsLast()) return 'channels-first data';
      const p = config['padding'];
      const [py, px] = pair(Array.isArray(p) && Array.isArray(p[0]) ? 0 : p, 1);
      const [[top, bottom], [left, right]] = Array.isArray(p) && Array.isArray(p[0]) ? (p as number[][]) : [[py, py], [px, px]];
      const shape: Shape3 = [inShape[0] + top + bottom, inShape[1] + left + right, inShape[2]];
      return [{ name, className, inputs, op: { kind: 'zeroPad', top, bottom, left, right }, shape }];
    }
    case 'Add':
    case 'Multiply': {
      const shapes = inputs.map((i) => nodes[i].shape);
      if (shapes.some((s) => s.join() !== inShape.join())) return 'inputs of different shapes (broadcasting)';
      return [{ name, className, inputs, op: { kind: className === 'Add' ? 'add' : 'multiply' }, shape: inShape }];
    }
    case 'Concatenate': {
      const axis = Number(config['axis'] ?? -1);
      if (axis !== -1 && axis !== 3) return `concatenation along axis ${axis}`;
      const shapes = inputs.map((i) => nodes[i].shape);
      if (shapes.some((s) => s[0] !== inShape[0] || s[1] !== inShape[1])) return 'inputs of different spatial sizes';
      return [{ name, className, inputs, op: { kind: 'concat' }, shape: [inShape[0], inShape[1], shapes.reduce((a, s) => a + s[2], 0)] }];
    }
    default:
      if (IDENTITY_LAYERS.has(className)) return [{ name, className, inputs, op: { kind: 'identity' }, shape: inShape }];
      return 'no incremental rule for this layer type';
  }
}

function padsAfter([h, w]: Shape3, { window, out }: { window: Window2D; out: [number, number] }): boolean {
  return (out[0] - 1) * window.strides[0] + window.kernel[0] > h + window.padBefore[0]
    || (out[1] - 1) * window.strides[1] + window.kernel[1] > w + window.padBefore[1];
}

function convNode(
  name: string,
  className: string,
  inputs: number[],
  { window, out }: { window: Window2D; out: [number, number] },
  depthwise: boolean,
  filter: tf.Tensor,
  bias: tf.Tensor | undefined,
  activation: FusedActivation,
  channels: number,
): PlanNode {
  return { name, className, inputs, op: { kind: 'conv', depthwise, filter, bias, activation, alpha: 0.2, ...window }, shape: [out[0], out[1], channels] };
}

// ---------------------------------------------------------------------------------------------------------------
// GraphModel

interface GraphNode {
  name: string;
  op: string;
  inputs: GraphNode[];
  inputNames: string[];
  attrParams: Record<string, { value: unknown }>;
}

function planGraph(model: GraphModelLike, inputShape: Shape3, options: PlanOptions): PlanResult {
  const internals = model as unknown as {
    executor?: { graph?: { nodes: Record<string, GraphNode>; inputs: GraphNode[] } };
    weights?: Record<string, tf.Tensor[]>;
  };
  const graph = internals.executor?.graph;
  const weightMap = internals.weights;
  if (!graph || !weightMap) return { ok: false, reason: "the GraphModel's graph is not readable" };
  if (graph.inputs.length !== 1) return { ok: false, reason: 'the GraphModel has several inputs' };
  const outputName = (options.outputLayer ?? model.outputNodes[0]).split(':')[0];
  const output = graph.nodes[outputName];
  if (!output) return { ok: false, reason: `the GraphModel has no node "${outputName}"` };
  const constant = (node: GraphNode | undefined) => (node && node.op === 'Const' ? weightMap[node.name]?.[0] : undefined);
  const attr = <T>(node: GraphNode, key: string) => node.attrParams[key]?.value as T;

  // Depth-first order from the output: every node after its inputs.
  const order: GraphNode[] = [];
  const seen = new Set<GraphNode>();
  const visit = (node: GraphNode) => {
    if (seen.has(node)) return;
    seen.add(node);
    node.inputs.forEach(visit);
    order.push(node);
  };
  visit(output);

  const nodes: PlanNode[] = [{ name: graph.inputs[0].name, className: 'Placeholder', op: { kind: 'input' }, inputs: [], shape: inputShape }];
  const localIndex = new Map<GraphNode, number>([[graph.inputs[0], 0]]);
  const dataInputs = (node: GraphNode) => node.inputs.filter((i) => i.op !== 'Const');
  for (const node of order) {
    if (node.op === 'Const' || node.op === 'Placeholder') continue;
    const inputs = dataInputs(node).map((i) => localIndex.get(i));
    if (inputs.some((i) => i === undefined)) continue;
    const local = graphLocal(node, inputs as number[], nodes, constant, attr);
    if (typeof local === 'string') {
      if (isGlobalGraphNode(node, constant)) continue;
      return { ok: false, reason: `node "${node.name}" (${node.op}) is not supported: ${local}` };
    }
    nodes.push(local);
    localIndex.set(node, nodes.length - 1);
  }
  const frontierNodes: GraphNode[] = [];
  for (const node of order) {
    if (localIndex.has(node) || node.op === 'Const') continue;
    for (const input of dataInputs(node)) {
      if (localIndex.has(input) && !frontierNodes.includes(input)) frontierNodes.push(input);
    }
  }
  if (localIndex.has(output)) frontierNodes.push(output);
  const frontier = frontierNodes.map((n) => localIndex.get(n) as number);
  if (frontier.includes(0)) return { ok: false, reason: 'the input feeds a global node directly' };
  const headNodes = order.filter((n) => !localIndex.has(n) && n.op !== 'Const');
  return {
    ok: true,
    plan: {
      nodes,
      frontier,
      headLayers: headNodes.map((n) => n.name),
      headFlops: headNodes.reduce((sum, n) => sum + 2 * n.inputs.reduce((s, i) => s + (constant(i)?.size ?? 0), 0), 0),
      head(values) {
        if (localIndex.has(output)) return values[0];
        const feed: tf.NamedTensorMap = {};
        frontierNodes.forEach((n, i) => (feed[n.name] = values[i]));
        return model.execute(feed, outputName) as tf.Tensor;
      },
    },
  };
}

function isGlobalGraphNode(node: GraphNode, constant: (n: GraphNode | undefined) => tf.Tensor | undefined): boolean {
  if (['Reshape', 'Squeeze', 'MatMul', '_FusedMatMul', 'Max'].includes(node.op)) return true;
  if (node.op === 'Mean') {
    const axes = constant(node.inputs[1]);
    return axes !== undefined && Array.from(axes.dataSync()).sort().join() === '1,2';
  }
  return false;
}

function graphLocal(
  node: GraphNode,
  inputs: number[],
  nodes: PlanNode[],
  constant: (n: GraphNode | undefined) => tf.Tensor | undefined,
  attr: <T>(node: GraphNode, key: string) => T,
): PlanNode | string {
  const name = node.name;
  const className = node.op;
  const inShape = nodes[inputs[0]].shape;
  const geometry = () => {
    const strides = attr<number[]>(node, 'strides') ?? [1, 1, 1, 1];
    const dilations = attr<number[]>(node, 'dilations') ?? [1, 1, 1, 1];
    const pad = attr<string>(node, 'pad');
    const format = attr<string>(node, 'dataFormat') ?? 'NHWC';
    if (format.toUpperCase() !== 'NHWC') return 'channels-first data';
    return { strides: [strides[1], strides[2]] as [number, number], dilations: [dilations[1], dilations[2]] as [number, number], pad };
  };
  switch (node.op) {
    case 'Conv2D':
    case '_FusedConv2D':
    case 'DepthwiseConv2d':
    case 'DepthwiseConv2dNative':
    case 'FusedDepthwiseConv2dNative': {
      const g = geometry();
      if (typeof g === 'string') return g;
      const filter = constant(node.inputs[1]);
      if (!filter) return 'a filter that is not a constant';
      const fs = filter.shape as number[];
      const window = window2D(inShape, [fs[0], fs[1]], g.strides, g.dilations, g.pad);
      if (typeof window === 'string') return window;
      const fused = (attr<string[]>(node, 'fusedOps') ?? []).map((s) => s.toLowerCase());
      let bias: tf.Tensor | undefined;
      let activation: FusedActivation = 'linear';
      for (const op of fused) {
        if (op === 'biasadd') bias = constant(node.inputs[2]);
        else if (['relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'].includes(op)) activation = op as FusedActivation;
        else return `fused op "${op}"`;
      }
      if (fused.includes('biasadd') && !bias) return 'a bias that is not a constant';
      const depthwise = node.op.includes('Depthwise');
      const channels = depthwise ? inShape[2] * fs[3] : fs[3];
      const result = convNode(name, className, inputs, window, depthwise, filter, bias, activation, channels);
      if (result.op.kind === 'conv') result.op.alpha = attr<number>(node, 'leakyreluAlpha') ?? 0.2;
      return result;
    }
    case 'MaxPool':
    case 'AvgPool': {
      const g = geometry();
      if (typeof g === 'string') return g;
      const size = attr<number[]>(node, 'kernelSize');
      const window = window2D(inShape, [size[1], size[2]], g.strides, [1, 1], g.pad);
      if (typeof window === 'string') return window;
      const type = node.op === 'MaxPool' ? 'max' : 'avg';
      if (type === 'avg' && (window.window.padBefore.some((p) => p > 0) || padsAfter(inShape, window))) return 'average pooling that pads';
      return { name, className, inputs, op: { kind: 'pool', type, ...window.window }, shape: [...window.out, inShape[2]] };
    }
    case 'BiasAdd': {
      const bias = constant(node.inputs[1]);
      if (!bias) return 'a bias that is not a constant';
      return { name, className, inputs, op: { kind: 'bias', bias }, shape: inShape };
    }
    case 'Relu':
    case 'Relu6':
    case 'LeakyRelu':
    case 'Elu':
    case 'Sigmoid':
    case 'Tanh': {
      const activation = node.op.toLowerCase() as Activation;
      return { name, className, inputs, op: { kind: 'activation', activation, alpha: attr<number>(node, 'alpha') ?? 0.2 }, shape: inShape };
    }
    case 'Identity':
      return { name, className, inputs, op: { kind: 'identity' }, shape: inShape };
    case 'Add':
    case 'AddV2':
    case 'Mul': {
      if (inputs.length !== 2 || node.inputs.some((i) => i.op === 'Const')) return 'a constant operand';
      if (nodes[inputs[1]].shape.join() !== inShape.join()) return 'inputs of different shapes';
      return { name, className, inputs, op: { kind: node.op === 'Mul' ? 'multiply' : 'add' }, shape: inShape };
    }
    case 'ConcatV2': {
      const axisNode = node.inputs[node.inputs.length - 1];
      const axis = constant(axisNode)?.dataSync()[0];
      if (axis !== 3 && axis !== -1) return 'concatenation not along channels';
      const shapes = inputs.map((i) => nodes[i].shape);
      if (shapes.some((s) => s[0] !== inShape[0] || s[1] !== inShape[1])) return 'inputs of different spatial sizes';
      return { name, className, inputs, op: { kind: 'concat' }, shape: [inShape[0], inShape[1], shapes.reduce((a, s) => a + s[2], 0)] };
    }
    case 'Pad': {
      const paddings = constant(node.inputs[1]);
      const constantValue = attr<number>(node, 'constantValue') ?? 0;
      if (!paddings || constantValue !== 0) return 'padding that is not constant zeros';
      const p = Array.from(paddings.dataSync());
      if (p[0] || p[1] || p[6] || p[7]) return 'padding of the batch or channel axis';
      const [top, bottom, left, right] = [p[2], p[3], p[4], p[5]];
      return { name, className, inputs, op: { kind: 'zeroPad', top, bottom, left, right }, shape: [inShape[0] + top + bottom, inShape[1] + left + right, inShape[2]] };
    }
    default:
      return 'no incremental rule for this op';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Fusion: conv → batch norm → activation become one step when the intermediate results have no other reader.

function fuse(plan: IncrementalPlan): void {
  const { nodes } = plan;
  const merged = new Map<number, number>();
  const resolve = (i: number): number => (merged.has(i) ? resolve(merged.get(i) as number) : i);
  const readers = (index: number) =>
    nodes.reduce((count, n, i) => count + (merged.has(i) ? 0 : n.inputs.filter((j) => resolve(j) === index).length), 0) +
    plan.frontier.filter((j) => resolve(j) === index).length;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i];
    if (node.inputs.length !== 1) continue;
    const source = resolve(node.inputs[0]);
    const conv = nodes[source].op;
    if (conv.kind !== 'conv' || conv.activation !== 'linear' || readers(source) !== 1) continue;
    const op = node.op;
    if (op.kind === 'batchNorm' && !conv.batchNorm) conv.batchNorm = op.params;
    else if (op.kind === 'bias' && !conv.bias && !conv.batchNorm) conv.bias = op.bias;
    else if (op.kind === 'activation' && FUSED.has(op.activation) && op.maxValue === undefined) {
      conv.activation = op.activation as FusedActivation;
      conv.alpha = op.alpha;
    } else if (op.kind !== 'identity') continue;
    // The conv now computes what node i computed and takes its name.
    nodes[source].name = node.name;
    merged.set(i, source);
  }
  if (merged.size === 0) return;
  const kept = nodes.map((_, i) => i).filter((i) => !merged.has(i));
  const renumber = new Map(kept.map((old, i) => [old, i]));
  const next = kept.map((old) => ({ ...nodes[old], inputs: nodes[old].inputs.map((i) => renumber.get(resolve(i)) as number) }));
  nodes.splice(0, nodes.length, ...next);
  plan.frontier = plan.frontier.map((i) => renumber.get(resolve(i)) as number);
}
