// Per-step tensor work: each plan step on full activations (once per run) and on batched patches (per batch).
import * as tf from '@tensorflow/tfjs-core';
import { samePatch, type Patch } from './field.js';
import type { Activation, IncrementalPlan, LocalOp, PlanNode, Shape3 } from './plan.js';

/** Row offsets in a gather source: after the N·H·W activation rows come a zero row and a −∞ row (max-pool padding). */
const ZERO_ROW = 0;
const NEG_INF_ROW = 1;

/** A plan with its weights prepared (batch norms folded into convolutions). Owns those tensors. */
export class CompiledPlan {
  private readonly owned: tf.Tensor[] = [];
  /** Per node: the filter and bias actually used by a conv step. */
  private readonly convWeights: Array<{ filter: tf.Tensor4D; bias?: tf.Tensor1D } | undefined>;

  constructor(readonly plan: IncrementalPlan) {
    this.convWeights = plan.nodes.map((node) => (node.op.kind === 'conv' ? this.prepareConv(node.op) : undefined));
  }

  private prepareConv(op: Extract<LocalOp, { kind: 'conv' }>): { filter: tf.Tensor4D; bias?: tf.Tensor1D } {
    const bn = op.batchNorm;
    if (!bn) return { filter: op.filter as tf.Tensor4D, bias: op.bias as tf.Tensor1D | undefined };
    const folded = tf.tidy(() => {
      const inv = tf.rsqrt(tf.add(bn.variance, bn.epsilon));
      const scale = bn.gamma ? tf.mul(bn.gamma, inv) : inv;
      const shift = tf.sub(bn.beta ?? tf.scalar(0), tf.mul(bn.mean, scale));
      const [, , c, m] = op.filter.shape;
      const filter = tf.mul(op.filter, op.depthwise ? tf.reshape(scale, [c, m]) : scale) as tf.Tensor4D;
      const bias = (op.bias ? tf.add(tf.mul(op.bias, scale), shift) : shift) as tf.Tensor1D;
      return { filter, bias };
    });
    this.owned.push(folded.filter, folded.bias);
    return folded;
  }

  /** Runs step i on whole activations ('full', the step's own padding) or on gathered crops ('crop', no padding). */
  apply(i: number, inputs: tf.Tensor4D[], mode: 'full' | 'crop'): tf.Tensor4D {
    const node = this.plan.nodes[i];
    const op = node.op;
    const x = inputs[0];
    switch (op.kind) {
      case 'input':
      case 'identity':
        return x;
      case 'conv': {
        const { filter, bias } = this.convWeights[i] as { filter: tf.Tensor4D; bias?: tf.Tensor1D };
        const args = {
          x,
          filter,
          strides: op.strides,
          pad: mode === 'full' ? op.padding : 'valid',
          dilations: op.dilations,
          bias,
          activation: op.activation,
          leakyreluAlpha: op.alpha,
        } as const;
        return op.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
      }
      case 'pool': {
        const size: [number, number] = [(op.kernel[0] - 1) / op.dilations[0] + 1, (op.kernel[1] - 1) / op.dilations[1] + 1];
        const pad = mode === 'full' ? op.padding : 'valid';
        return op.type === 'max' ? tf.maxPool(x, size, op.strides, pad) : tf.avgPool(x, size, op.strides, pad);
      }
      case 'batchNorm': {
        const p = op.params;
        return tf.batchNorm(x, p.mean as tf.Tensor1D, p.variance as tf.Tensor1D, p.beta as tf.Tensor1D, p.gamma as tf.Tensor1D, p.epsilon);
      }
      case 'bias':
        return tf.add(x, op.bias);
      case 'activation':
        return activate(x, op.activation, op.alpha, op.maxValue);
      case 'zeroPad':
        // On patches, padding only shifts coordinates (see field.ts).
        return mode === 'full' ? tf.pad(x, [[0, 0], [op.top, op.bottom], [op.left, op.right], [0, 0]]) : x;
      case 'add':
        return inputs.slice(1).reduce((sum, y) => tf.add(sum, y), x);
      case 'multiply':
        return inputs.slice(1).reduce((product, y) => tf.mul(product, y), x);
      case 'concat':
        return tf.concat(inputs, 3);
    }
  }

  dispose(): void {
    tf.dispose(this.owned);
    this.owned.length = 0;
  }
}

function activate(x: tf.Tensor4D, activation: Activation, alpha: number, maxValue?: number): tf.Tensor4D {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return maxValue === undefined ? tf.relu(x) : tf.clipByValue(x, 0, maxValue);
    case 'relu6':
      return tf.relu6(x);
    case 'leakyrelu':
      return tf.leakyRelu(x, alpha);
    case 'elu':
      return tf.elu(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
    case 'softplus':
      return tf.softplus(x);
    case 'selu':
      return tf.selu(x);
    case 'swish':
      return tf.mul(x, tf.sigmoid(x));
  }
}

/** Nodes whose full activations later steps gather from: inputs of window and merge steps, and the frontier. */
export function gatheredNodes(plan: IncrementalPlan): Set<number> {
  const set = new Set<number>(plan.frontier);
  for (const node of plan.nodes) {
    if (['conv', 'pool', 'add', 'multiply', 'concat'].includes(node.op.kind)) node.inputs.forEach((i) => set.add(i));
  }
  return set;
}

/**
 * Runs the unoccluded input through every step and returns, for the gathered nodes, the gather source
 * [N·H·W + 2, C]: the activation's pixels as rows, then a zero row and a −∞ row. Throws if a shape disagrees with the plan.
 */
export function fullSources(compiled: CompiledPlan, input: tf.Tensor4D): Map<number, tf.Tensor2D> {
  const { nodes } = compiled.plan;
  const gathered = gatheredNodes(compiled.plan);
  const sources = new Map<number, tf.Tensor2D>();
  try {
    runFull(compiled, input, gathered, sources);
  } catch (cause) {
    tf.dispose([...sources.values()]);
    throw cause;
  }
  return sources;
}

function runFull(compiled: CompiledPlan, input: tf.Tensor4D, gathered: Set<number>, sources: Map<number, tf.Tensor2D>): void {
  const { nodes } = compiled.plan;
  tf.tidy(() => {
    const outputs: tf.Tensor4D[] = [];
    nodes.forEach((node, i) => {
      const out = i === 0 ? input : compiled.apply(i, node.inputs.map((j) => outputs[j]), 'full');
      if (out.shape.slice(1).join() !== node.shape.join()) {
        throw new Error(`step "${node.name}" gives [${out.shape.slice(1)}], planned [${node.shape}]`);
      }
      outputs.push(out);
      if (gathered.has(i)) {
        const [n, h, w, c] = out.shape;
        const padRows = tf.concat([tf.zeros([1, c]), tf.fill([1, c], -Infinity)], 0);
        sources.set(i, tf.keep(tf.concat([tf.reshape(out, [n * h * w, c]), padRows], 0)) as tf.Tensor2D);
      }
    });
  });
}

/**
 * Copy b's input rows [cy[b], cy[b]+ch) × columns [cx[b], cx[b]+cw): from the patch where it lies inside the patch,
 * else from the unoccluded activation, and padding outside the activation. One gather for the whole batch.
 */
export function gatherCrop(
  source: tf.Tensor2D,
  [h, w, c]: Shape3,
  images: number,
  patch: Patch,
  values: tf.Tensor4D,
  cy: Int32Array,
  cx: Int32Array,
  ch: number,
  cw: number,
  padRow: 'zero' | 'negInf',
): tf.Tensor4D {
  const copies = cy.length;
  if (ch === patch.h && cw === patch.w && cy.every((v, b) => v === patch.y[b]) && cx.every((v, b) => v === patch.x[b])) return values;
  const pad = images * h * w + (padRow === 'zero' ? ZERO_ROW : NEG_INF_ROW);
  // Per crop pixel: its row in the patch, or −1 − j for the j-th pixel read from the source (rows in `fromSource`).
  const indices = new Int32Array(copies * ch * cw);
  const fromSource = new Int32Array(indices.length);
  let s = 0;
  let k = 0;
  for (let b = 0; b < copies; b++) {
    const n = b % images;
    const py = patch.y[b];
    const px = patch.x[b];
    for (let r = 0; r < ch; r++) {
      const y = cy[b] + r;
      for (let col = 0; col < cw; col++) {
        const x = cx[b] + col;
        if (y >= py && y < py + patch.h && x >= px && x < px + patch.w) {
          indices[k++] = (b * patch.h + y - py) * patch.w + x - px;
        } else {
          fromSource[s] = y < 0 || y >= h || x < 0 || x >= w ? pad : (n * h + y) * w + x;
          indices[k++] = -1 - s++;
        }
      }
    }
  }
  const flat = tf.reshape(values, [copies * patch.h * patch.w, c]);
  // The gather table is [source rows; patch rows]. Concatenating the whole source copies all of it: when the crops
  // read fewer than half as many source rows, gathering just those first copies less.
  const sourceRows = source.shape[0];
  const compact = 2 * s < sourceRows;
  let table = flat;
  if (s > 0) {
    const rows = compact ? tf.gatherND(source, tf.tensor2d(fromSource.subarray(0, s), [s, 1], 'int32')) : source;
    table = tf.concat([rows, flat], 0);
    const patchOffset = compact ? s : sourceRows;
    for (let i = 0; i < indices.length; i++) {
      const v = indices[i];
      indices[i] = v >= 0 ? v + patchOffset : compact ? -1 - v : fromSource[-1 - v];
    }
  }
  // gatherND copies whole rows (wasm: a copy loop per row); gather computes every element's location (30-40 ns each).
  return tf.reshape(tf.gatherND(table, tf.tensor2d(indices, [indices.length, 1], 'int32')), [copies, ch, cw, c]);
}

/** Runs one step on the batch's patches, gathering the crops it reads. */
export function patchStep(
  compiled: CompiledPlan,
  i: number,
  patches: Patch[],
  values: tf.Tensor4D[],
  sources: Map<number, tf.Tensor2D>,
  images: number,
): tf.Tensor4D {
  const nodes = compiled.plan.nodes;
  const node: PlanNode = nodes[i];
  const op = node.op;
  const out = patches[i];
  if (op.kind === 'conv' || op.kind === 'pool') {
    const j = node.inputs[0];
    const ch = (out.h - 1) * op.strides[0] + op.kernel[0];
    const cw = (out.w - 1) * op.strides[1] + op.kernel[1];
    const cy = out.y.map((y) => y * op.strides[0] - op.padBefore[0]);
    const cx = out.x.map((x) => x * op.strides[1] - op.padBefore[1]);
    const padRow = op.kind === 'pool' && op.type === 'max' ? 'negInf' : 'zero';
    const crop = gatherCrop(sources.get(j) as tf.Tensor2D, nodes[j].shape, images, patches[j], values[j], cy, cx, ch, cw, padRow);
    return compiled.apply(i, [crop], 'crop');
  }
  if (op.kind === 'add' || op.kind === 'multiply' || op.kind === 'concat') {
    const inputs = node.inputs.map((j) =>
      samePatch(patches[j], out)
        ? values[j]
        : gatherCrop(sources.get(j) as tf.Tensor2D, nodes[j].shape, images, patches[j], values[j], out.y, out.x, out.h, out.w, 'zero'),
    );
    return compiled.apply(i, inputs, 'crop');
  }
  return compiled.apply(i, node.inputs.map((j) => values[j]), 'crop');
}

/** The full activation [copies, H, W, C] of a frontier node: the unoccluded one with each copy's patch pasted in. */
export function fullActivation(source: tf.Tensor2D, shape: Shape3, images: number, patch: Patch, values: tf.Tensor4D): tf.Tensor4D {
  const copies = patch.y.length;
  return gatherCrop(source, shape, images, patch, values, new Int32Array(copies), new Int32Array(copies), shape[0], shape[1], 'zero');
}
