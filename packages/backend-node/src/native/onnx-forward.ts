// Forward-only batches (ScoreCAM's masked inputs, deletion/insertion curves, AblationCAM's ablated activations) on
// the native engine. Whole images are turned to the ONNX layout and scored by the engine (on its worker threads when
// it has several). Batches that start at a layer run on the graph cut at that layer's tensor (the TF.js conversion
// names its layers by the ONNX tensors), in its own session; a layer the graph cannot be cut at is left to TF.js.
import { availableParallelism } from 'node:os';
import {
  ExplainError,
  poolForwardScorer,
  setForwardEngine,
  type AbortSignalLike,
  type ForwardRequest,
  type ForwardScorer,
} from '@easy-explain/core/internal';
import { toNCHW } from '@easy-explain/runtime/nchw';
import { nativeThreads, OnnxEngine } from './onnx-engine.js';
import { readOnnx, subModel, type OnnxGraph, type OnnxNode } from './onnx-proto.js';

/** The targets' raw scores (or softmax probabilities) from rows of [N, classes] scores. */
function pick(scores: Float32Array, classes: number, request: ForwardRequest): Float32Array {
  return Float32Array.from(request.targets, (target, row) => {
    if (!(Number.isInteger(target) && target >= 0 && target < classes)) {
      throw new ExplainError('invalid_target', `Target ${target} is out of range for the ONNX model's ${classes} classes.`);
    }
    const logits = scores.subarray(row * classes, (row + 1) * classes);
    return request.softmax ? softmaxAt(logits, target) : logits[target];
  });
}

/** One batch of whole images on `engine`'s own session. */
export async function answerOnnxForward(engine: OnnxEngine, request: ForwardRequest): Promise<Float32Array> {
  if (request.type !== 'forward') {
    throw new ExplainError('invalid_option', 'This native worker runs whole images only; batches from a layer run in the main thread.');
  }
  const [n, h, w, c] = request.shape;
  const { scores, classes } = await engine.predictNCHW(toNCHW(request.images, request.shape), [n, c, h, w]);
  return pick(scores, classes, request);
}

/** softmax(logits)[target], shifted by the maximum as TF.js does (float64 here; float32 there). */
function softmaxAt(logits: Float32Array, target: number): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return Math.exp(logits[target] - max) / sum;
}

/**
 * The graph from tensor `layer` to the output: the nodes that depend on it, plus the Constant nodes they read.
 * Undefined when the tensor is not in the graph or a node after it also reads a tensor computed before it.
 */
export function headOf(graph: OnnxGraph, layer: string): OnnxNode[] | undefined {
  const produced = new Set([layer]);
  const head = new Set<OnnxNode>();
  for (const node of graph.nodes) {
    if (node.inputs.some((i) => produced.has(i))) {
      head.add(node);
      node.outputs.forEach((o) => produced.add(o));
    }
  }
  if (!produced.has(graph.output) || head.size === 0) return undefined;
  const constants = new Map(graph.nodes.filter((n) => n.op === 'Constant' && n.inputs.length === 0).flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  for (const node of [...head]) {
    for (const input of node.inputs) {
      if (input === '' || produced.has(input) || graph.initializers.has(input)) continue;
      const constant = constants.get(input);
      if (!constant) return undefined; // read from before the layer (a skip connection, a shape computation)
      head.add(constant);
    }
  }
  return graph.nodes.filter((n) => head.has(n)); // graph order is topological
}

/** The engine as a forward scorer; `fromLayer` runs batches that start at a layer, when the graph can be cut there. */
export function onnxForwardScorer(
  engine: OnnxEngine,
  options: { signal?: AbortSignalLike } = {},
  fromLayer?: (layer: string) => Promise<OnnxEngine>,
): ForwardScorer {
  const { pool, workers } = engine;
  const whole: ForwardScorer =
    pool && workers > 1
      ? poolForwardScorer(() => pool.acquire(workers), workers, options)
      : { parallel: 1, layers: false, runsOn: 'native', run: (request) => answerOnnxForward(engine, request) };
  return {
    // Batches from a layer run on one session in this thread: the scorer then hands them over one at a time.
    parallel: fromLayer ? 1 : whole.parallel,
    layers: !!fromLayer,
    runsOn: 'native',
    async run(request) {
      if (request.type === 'forward') return whole.run(request);
      const head = await fromLayer!(request.layer);
      const [k, h, w, c] = request.shape;
      const { scores, classes } = await head.predictNCHW(toNCHW(request.activations, request.shape), [k, c, h, w]);
      return pick(scores, classes, request);
    },
  };
}

/**
 * The ONNX tensor the TF.js layer `layer` outputs: the last one in graph order that `layerOf` maps to it (a layer
 * that fuses several nodes, e.g. Conv and its Relu, outputs the last; an Identity after it has the same values).
 */
function tensorOf(graph: OnnxGraph, layer: string, layerOf: (tensor: string) => string): string | undefined {
  const tensors = graph.nodes.flatMap((n) => n.outputs).filter((t) => t !== '' && layerOf(t) === layer);
  return tensors[tensors.length - 1];
}

/**
 * Makes ScoreCAM, AblationCAM and deletion/insertion/infidelity on `model` (the TF.js conversion of `onnx`) score on
 * `engine`; `layerOf` names the TF.js layer computing an ONNX tensor (LoadedModel.resolveLayer). Returns what
 * detaches it and frees the sessions of the layers cut.
 */
export function attachOnnxForward(engine: OnnxEngine, model: object, onnx: Uint8Array, layerOf: (tensor: string) => string): () => Promise<void> {
  let graph: OnnxGraph | undefined;
  const heads = new Map<string, { tensor: string; nodes: OnnxNode[] } | undefined>();
  const sessions = new Map<string, Promise<OnnxEngine>>();
  const headAt = (layer: string) => {
    if (!heads.has(layer)) {
      graph ??= readOnnx(onnx);
      const tensor = tensorOf(graph, layer, layerOf);
      const nodes = tensor === undefined ? undefined : headOf(graph, tensor);
      heads.set(layer, tensor !== undefined && nodes ? { tensor, nodes } : undefined);
    }
    return heads.get(layer);
  };
  const fromLayer = (layer: string) => {
    let session = sessions.get(layer);
    if (!session) {
      const { tensor, nodes } = headAt(layer)!;
      const bytes = subModel(graph!, nodes, tensor, [graph!.output]);
      const { threads } = nativeThreads(availableParallelism(), { workers: 1 });
      session = OnnxEngine.create(bytes, { workers: 1, threads, incremental: false }).then((head) => {
        if (!head) throw new ExplainError('backend_unavailable', 'onnxruntime-node stopped loading models.');
        return head;
      });
      sessions.set(layer, session);
    }
    return session;
  };
  setForwardEngine(model, ({ signal, layer }) => onnxForwardScorer(engine, { signal }, layer !== undefined && headAt(layer) ? fromLayer : undefined));
  return async () => {
    setForwardEngine(model, undefined);
    await Promise.all([...sessions.values()].map(async (s) => (await s.catch(() => undefined))?.dispose()));
  };
}
