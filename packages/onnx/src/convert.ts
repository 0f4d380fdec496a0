// ONNX graph (NCHW, as PyTorch exports it) → functional tfjs-layers model taking NHWC images like every model of
// easy-explain. Weights are transposed at load; axes of channel-wise ops are remapped; shape arithmetic is folded.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ExplainError } from '@easy-explain/core';
import {
  binary,
  concat,
  constant,
  decodeTensor,
  gather,
  normaliseAxis,
  reshape,
  size,
  slice,
  transpose,
  unary,
  values,
  type Constant,
} from './constant.js';
import { decodeModel, num, type AttributeProto, type ModelProto, type NodeProto, type ValueInfoProto } from './proto.js';
import { OnnxBinary, OnnxClip, OnnxUnary, type UnaryOp, OnnxConstantOp, OnnxGroupConv2D, OnnxHardSigmoid, OnnxHardSwish, OnnxMaxPool2D, type BinaryOp } from './layers.js';

/**
 * How a computed tensor's tfjs layout relates to its ONNX shape:
 * - `nhwc`: ONNX [N,C,H,W] held as [N,H,W,C];
 * - `plain`: same shape and order as ONNX;
 * - `pooled`: ONNX [N,C,1,1] (after global pooling) held as [N,C], so the head is GlobalAveragePooling2D → Dense;
 * - `flat`: ONNX Flatten of [N,C,H,W] (C·H·W order) held as tfjs's H·W·C order; a Gemm reading it permutes its weight
 *   rows at load instead of permuting activations at run time.
 */
type Layout = 'nhwc' | 'plain' | 'pooled' | 'flat';
interface Computed {
  kind: 'computed';
  x: tfl.SymbolicTensor;
  layout: Layout;
  /** `flat` only: the [C,H,W] that was flattened. */
  chw?: [number, number, number];
  /** Known to be ≥ 0 (after ReLU and the like): zero padding then equals ONNX's −∞ padding for max pooling. */
  nonNegative?: boolean;
  /** The layer producing `x`. */
  layer: string;
}
type Value = { kind: 'const'; c: Constant } | Computed;

export interface ConvertOptions {
  /** Name of the tfjs model; default: the ONNX graph's name. */
  name?: string;
}

/** The names of the converted layers: every ONNX tensor (node output) and node name that became a layer's output. */
export type OnnxLayerNames = Record<string, string>;

/** Oldest default-domain opset accepted (PyTorch has exported ≥ 7 for years; semantics below follow 7–21). */
const MIN_OPSET = 7;

function invalid(message: string): ExplainError {
  return new ExplainError('invalid_model', message);
}

/** A valid tfjs layer name for an ONNX name (tfjs needs [A-Za-z0-9] first, then [-A-Za-z0-9._/]). */
export function sanitiseName(onnxName: string): string {
  const s = onnxName.replace(/[^-A-Za-z0-9._/]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return s.length > 0 ? s : 'tensor';
}

const FLOAT_TYPES = new Set([1, 10, 11, 16]);

export function decodeOnnx(bytes: Uint8Array): ModelProto {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw invalid('The ONNX file is empty; pass the bytes of a .onnx model.');
  }
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
  } catch (cause) {
    throw new ExplainError(
      'invalid_model',
      `The bytes are not a valid ONNX model (truncated or another format): ${cause instanceof Error ? cause.message : String(cause)}. ` +
        'Check that the whole .onnx file was read.',
      { cause },
    );
  }
  if (!model.graph || num(model.ir_version) <= 0 || model.opset_import.length === 0 || model.graph.node.length === 0) {
    throw invalid('The bytes do not hold an ONNX model (no graph, IR version or opset); pass a .onnx file exported by torch.onnx.export or similar.');
  }
  return model;
}

/** Whether the bytes decode as an ONNX ModelProto with a graph, an IR version and an opset (content, not file name). */
export function isOnnx(bytes: Uint8Array): boolean {
  try {
    decodeOnnx(bytes);
    return true;
  } catch {
    return false;
  }
}

class Converter {
  private readonly values = new Map<string, Value>();
  readonly created: tfl.layers.Layer[] = [];
  private readonly usedNames = new Set<string>();
  readonly layerNames: OnnxLayerNames = {};
  private node!: NodeProto;
  private attributes = new Map<string, AttributeProto>();

  constructor(readonly opset: number) {}

  // -------------------------------------------------------------------------------------------------------------
  // Bookkeeping

  fail(message: string, hint = 'If your model needs this, open an issue with the model architecture.'): never {
    const n = this.node;
    throw invalid(`ONNX node "${n.name || n.output[0]}" (${n.op_type}, opset ${this.opset}): ${message}. ${hint}`);
  }

  uniqueName(base: string): string {
    let name = sanitiseName(base);
    for (let k = 1; this.usedNames.has(name); k++) name = `${sanitiseName(base)}_${k}`;
    this.usedNames.add(name);
    return name;
  }

  /** Applies a new layer and loads its weights (transposed constants). */
  apply(layer: tfl.layers.Layer, inputs: tfl.SymbolicTensor | tfl.SymbolicTensor[], weights?: Constant[]): tfl.SymbolicTensor {
    this.created.push(layer);
    const y = layer.apply(inputs) as tfl.SymbolicTensor;
    if (weights) {
      const tensors = weights.map((w) => tf.tensor(w.data instanceof Float32Array ? w.data : Float32Array.from(w.data), w.dims, 'float32'));
      try {
        layer.setWeights(tensors);
      } finally {
        tf.dispose(tensors);
      }
    }
    return y;
  }

  /** The layer name for the current node's (first) output. */
  outName(suffix = ''): string {
    return this.uniqueName(`${this.node.output[0]}${suffix}`);
  }

  computedOf(x: tfl.SymbolicTensor, layout: Layout, layer: string, extra: Partial<Computed> = {}): Computed {
    return { kind: 'computed', x, layout, layer, ...extra };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Inputs and attributes

  input(i: number): Value {
    const name = this.node.input[i];
    if (!name) this.fail(`input ${i} is missing`);
    const v = this.values.get(name);
    if (!v) this.fail(`input "${name}" is produced by no earlier node`, 'The graph is not topologically sorted or the file is damaged.');
    return v;
  }

  constInput(i: number, what: string): Constant {
    if (!this.node.input[i]) this.fail(`the ${what} input is missing`);
    const v = this.input(i);
    if (v.kind !== 'const') this.fail(`the ${what} is computed at run time; easy-explain needs it constant`, 'Re-export with do_constant_folding=True.');
    return v.c;
  }

  optionalConst(i: number, what: string): Constant | undefined {
    return this.node.input[i] ? this.constInput(i, what) : undefined;
  }

  computedInput(i: number): Computed {
    const v = this.input(i);
    if (v.kind !== 'computed') this.fail('expected a computed tensor, got a constant');
    return v;
  }

  attr(name: string): AttributeProto | undefined {
    return this.attributes.get(name);
  }
  int(name: string, fallback: number): number {
    const a = this.attr(name);
    return a ? num(a.i) : fallback;
  }
  ints(name: string, fallback: number[]): number[] {
    const a = this.attr(name);
    return a ? (a.ints ?? []).map(num) : fallback;
  }
  float(name: string, fallback: number): number {
    const a = this.attr(name);
    return a ? (a.f ?? 0) : fallback;
  }
  str(name: string, fallback: string): string {
    const a = this.attr(name);
    return a?.s ? new TextDecoder().decode(a.s) : fallback;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Layouts

  /** The ONNX shape of a value (batch NaN). */
  onnxShape(v: Value): number[] {
    if (v.kind === 'const') return v.c.dims;
    const s = v.x.shape.map((d) => (d == null ? NaN : d));
    switch (v.layout) {
      case 'nhwc':
        return [s[0], s[3], s[1], s[2]];
      case 'pooled':
        return [s[0], s[1], 1, 1];
      case 'flat':
        return [s[0], s[1]];
      default:
        return s;
    }
  }

  toNHWC(v: Computed): Computed {
    if (v.layout === 'nhwc') return v;
    if (v.layout === 'pooled') {
      const name = this.uniqueName(`${v.layer}_4d`);
      const channels = v.x.shape[1] as number;
      const y = this.apply(tfl.layers.reshape({ name, targetShape: [1, 1, channels] }), v.x);
      return this.computedOf(y, 'nhwc', name, { nonNegative: v.nonNegative });
    }
    this.fail(`expected an image-like [N,C,H,W] tensor, got ONNX shape [${this.onnxShape(v)}]`);
  }

  /** The value with tfjs shape and order equal to ONNX's. */
  toPlain(v: Computed): Computed {
    if (v.layout === 'plain') return v;
    if (v.layout === 'pooled') {
      const name = this.uniqueName(`${v.layer}_nchw`);
      const y = this.apply(tfl.layers.reshape({ name, targetShape: [v.x.shape[1] as number, 1, 1] }), v.x);
      return this.computedOf(y, 'plain', name, { nonNegative: v.nonNegative });
    }
    if (v.layout === 'nhwc') {
      const name = this.uniqueName(`${v.layer}_nchw`);
      const y = this.apply(tfl.layers.permute({ name, dims: [3, 1, 2] }), v.x);
      return this.computedOf(y, 'plain', name, { nonNegative: v.nonNegative });
    }
    // flat: back to [H,W,C], to [C,H,W], flattened again in ONNX's order.
    const [c, h, w] = v.chw as [number, number, number];
    const r = this.apply(tfl.layers.reshape({ name: this.uniqueName(`${v.layer}_hwc`), targetShape: [h, w, c] }), v.x);
    const p = this.apply(tfl.layers.permute({ name: this.uniqueName(`${v.layer}_chw`), dims: [3, 1, 2] }), r);
    const name = this.uniqueName(`${v.layer}_flat`);
    const y = this.apply(tfl.layers.flatten({ name }), p);
    return this.computedOf(y, 'plain', name, { nonNegative: v.nonNegative });
  }

  /** Spatial size [H,W] of an NHWC value; these models need it fixed. */
  spatial(v: Computed): [number, number] {
    const [, h, w] = v.x.shape;
    if (h == null || w == null) this.fail('the spatial size is not fixed', 'Export with a fixed input height and width.');
    return [h, w];
  }

  // -------------------------------------------------------------------------------------------------------------
  // Graph

  addInput(info: ValueInfoProto): tfl.SymbolicTensor {
    const t = info.type?.tensor_type;
    const dims = (t?.shape?.dim ?? []).map((d) => (d.dim_value != null && num(d.dim_value) > 0 ? num(d.dim_value) : (d.dim_param ?? '?')));
    const shown = `"${info.name}" [${dims.join(', ')}]`;
    if (!t || !FLOAT_TYPES.has(t.elem_type ?? 0) || dims.length !== 4 || dims.slice(1).some((d) => typeof d !== 'number')) {
      throw invalid(
        `The ONNX model's input ${shown} is not an image batch: easy-explain needs one float input [N,C,H,W] with fixed C, H and W. ` +
          'Re-export with a fixed-size dummy image (dynamic_axes for the batch only).',
      );
    }
    const [, c, h, w] = dims as number[];
    const name = this.uniqueName(info.name);
    const x = tfl.input({ shape: [h, w, c], name });
    this.values.set(info.name, this.computedOf(x, 'nhwc', name));
    return x;
  }

  addInitializer(name: string, c: Constant): void {
    this.values.set(name, { kind: 'const', c });
  }

  run(node: NodeProto): void {
    this.node = node;
    this.attributes = new Map(node.attribute.map((a) => [a.name, a]));
    const handler = HANDLERS[node.op_type];
    const out = handler.call(this);
    const outputs = Array.isArray(out) ? out : [out];
    outputs.forEach((v, i) => {
      const name = node.output[i];
      if (!name) return;
      this.values.set(name, v);
      if (v.kind === 'computed') {
        this.layerNames[name] = v.layer;
        if (node.name && i === 0) this.layerNames[node.name] = v.layer;
      }
    });
    // Outputs a handler does not produce (e.g. Dropout's mask, MaxPool's indices) must be unused.
    for (const name of node.output.slice(outputs.length)) {
      if (name) this.values.delete(name);
    }
  }

  output(name: string): tfl.SymbolicTensor {
    const v = this.values.get(name);
    if (!v) throw invalid(`The ONNX graph output "${name}" is produced by no node.`);
    if (v.kind === 'const') throw invalid(`The ONNX graph output "${name}" is a constant; it does not depend on the image.`);
    if (v.layout === 'nhwc') {
      throw invalid(`The ONNX graph output "${name}" is a feature map [N,C,H,W]; easy-explain explains classifiers with an output [N, classes].`);
    }
    if (v.layout === 'flat') return this.toPlain(v).x;
    return v.x;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Operators

  /** Element-wise layers keep the layout (they commute with any permutation of elements). */
  elementwise(layer: (name: string) => tfl.layers.Layer, nonNegative: boolean, weights?: Constant[]): Value {
    const v = this.computedInput(0);
    const name = this.outName();
    const y = this.apply(layer(name), v.x, weights);
    return this.computedOf(y, v.layout, name, { chw: v.chw, nonNegative });
  }

  foldUnary(f: (x: number) => number): Value | undefined {
    const v = this.input(0);
    return v.kind === 'const' ? { kind: 'const', c: unary(v.c, f) } : undefined;
  }

  clip(): Value {
    const older = this.opset < 11;
    const bound = (i: number, attr: string, fallback: number) => {
      if (older) return this.float(attr, fallback);
      const c = this.optionalConst(i, attr);
      return c ? c.data[0] : fallback;
    };
    const min = bound(1, 'min', -Infinity);
    const max = bound(2, 'max', Infinity);
    const folded = this.foldUnary((x) => Math.min(Math.max(x, min), max));
    if (folded) return folded;
    if (min === 0) return this.elementwise((name) => tfl.layers.reLU({ name, maxValue: Number.isFinite(max) ? max : undefined }), true);
    return this.elementwise((name) => new OnnxClip({ name, min, max }), min >= 0);
  }

  binaryOp(op: BinaryOp): Value {
    const a = this.input(0) as Value;
    const b = this.input(1) as Value;
    if (a.kind === 'const' && b.kind === 'const') {
      const integer = a.c.integer && b.c.integer;
      const f: Record<BinaryOp, (x: number, y: number) => number> = {
        add: (x, y) => x + y,
        sub: (x, y) => x - y,
        mul: (x, y) => x * y,
        // ONNX integer division truncates (as onnxruntime computes it).
        div: (x, y) => (integer ? Math.trunc(x / y) : x / y),
      };
      return { kind: 'const', c: binary(a.c, b.c, f[op], integer) };
    }
    const name = this.outName();
    if (a.kind === 'computed' && b.kind === 'computed') {
      let [x, y] = [a, b];
      if (x.layout !== y.layout) {
        const spatial = (v: Computed) => v.layout === 'nhwc' || v.layout === 'pooled';
        if (spatial(x) && spatial(y)) [x, y] = [this.toNHWC(x), this.toNHWC(y)];
        else [x, y] = [this.toPlain(x), this.toPlain(y)];
      } else if (x.layout === 'flat' && x.chw?.join() !== y.chw?.join()) {
        [x, y] = [this.toPlain(x), this.toPlain(y)];
      }
      const layer =
        op === 'add' ? tfl.layers.add({ name }) : op === 'mul' ? tfl.layers.multiply({ name }) : new OnnxBinary({ name, op });
      const out = this.apply(layer, [x.x, y.x]);
      const nonNegative = op !== 'sub' && !!x.nonNegative && !!y.nonNegative;
      return this.computedOf(out, x.layout, name, { chw: x.chw, nonNegative });
    }
    // A computed tensor and a constant: bring the constant into the computed tensor's layout.
    const constantFirst = a.kind === 'const';
    let v = (constantFirst ? b : a) as Computed;
    let c = (constantFirst ? a : b) as { kind: 'const'; c: Constant };
    let k = c.c;
    if (size(k.dims) === 1) {
      k = reshape(k, []);
    } else {
      if (v.layout === 'pooled') v = this.toNHWC(v);
      if (v.layout === 'flat') v = this.toPlain(v);
      if (v.layout === 'nhwc') {
        if (k.dims.length > 4) this.fail(`a constant of shape [${k.dims}] does not broadcast to [N,C,H,W]`);
        const dims = [...new Array(4 - k.dims.length).fill(1), ...k.dims];
        k = transpose(reshape(k, dims), [0, 2, 3, 1]);
      }
    }
    const out = this.apply(new OnnxConstantOp({ name, op, constantShape: k.dims, constantFirst }), v.x, [k]);
    return this.computedOf(out, v.layout, name, { chw: v.chw });
  }

  /** ONNX pads [top, left, bottom, right] for a 2-D window, from `pads` or `auto_pad`. */
  windowPads(h: number, w: number, kernel: [number, number], strides: [number, number]): number[] {
    const autoPad = this.str('auto_pad', 'NOTSET');
    if (autoPad === 'VALID') return [0, 0, 0, 0];
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const axis = (size: number, k: number, s: number) => {
        const total = Math.max((Math.ceil(size / s) - 1) * s + k - size, 0);
        const small = Math.floor(total / 2);
        return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
      };
      const [t, b] = axis(h, kernel[0], strides[0]);
      const [l, r] = axis(w, kernel[1], strides[1]);
      return [t, l, b, r];
    }
    const pads = this.ints('pads', [0, 0, 0, 0]);
    if (pads.length !== 4 || pads.some((p) => p < 0)) this.fail(`pads [${pads}] are not 2-D non-negative padding`);
    return pads;
  }

  /** Whether pads [t,l,b,r] equal TF's 'same' padding for this geometry (then 'same' computes ONNX's result). */
  isSame(h: number, w: number, kernel: [number, number], strides: [number, number], pads: number[]): boolean {
    const axis = (size: number, k: number, s: number, before: number, after: number) => {
      const total = Math.max((Math.ceil(size / s) - 1) * s + k - size, 0);
      return before === Math.floor(total / 2) && after === total - Math.floor(total / 2);
    };
    return axis(h, kernel[0], strides[0], pads[0], pads[2]) && axis(w, kernel[1], strides[1], pads[1], pads[3]);
  }

  zeroPad(v: Computed, pads: number[]): Computed {
    const name = this.outName('_pad');
    const y = this.apply(tfl.layers.zeroPadding2d({ name, padding: [[pads[0], pads[2]], [pads[1], pads[3]]] }), v.x);
    return this.computedOf(y, 'nhwc', name, { nonNegative: v.nonNegative });
  }

  conv(): Value {
    const weight = this.constInput(1, 'weight');
    const bias = this.optionalConst(2, 'bias');
    if (weight.dims.length !== 4) this.fail(`a ${weight.dims.length - 2}-D convolution`, 'easy-explain converts 2-D convolutions only.');
    const [filters, perGroup, kh, kw] = weight.dims;
    const group = this.int('group', 1);
    const strides = this.ints('strides', [1, 1]) as [number, number];
    const dilations = this.ints('dilations', [1, 1]) as [number, number];
    const kernel: [number, number] = [(kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1];
    let v = this.computedInput(0);
    const name = this.outName();
    const biasWeights = bias ? [bias] : [];

    // A 1×1 convolution on globally pooled features (MobileNet's classifier, squeeze-excitation) is a Dense layer.
    if (v.layout === 'pooled' && kh === 1 && kw === 1 && group === 1 && this.ints('pads', [0, 0, 0, 0]).every((p) => p === 0)) {
      const kernel2 = transpose(reshape(weight, [filters, perGroup]), [1, 0]);
      const y = this.apply(tfl.layers.dense({ name, units: filters, useBias: !!bias, kernelInitializer: 'zeros' }), v.x, [kernel2, ...biasWeights]);
      return this.computedOf(y, 'pooled', name);
    }
    v = this.toNHWC(v);
    const [h, w] = this.spatial(v);
    const channels = v.x.shape[3] as number;
    if (channels !== perGroup * group) this.fail(`weight [${weight.dims}] with group ${group} does not match ${channels} input channels`);
    const pads = this.windowPads(h, w, kernel, strides);
    let padding: 'valid' | 'same' = 'valid';
    const grouped = group !== 1 && !(group === channels && perGroup === 1);
    if (pads.some((p) => p > 0)) {
      if (!grouped && this.isSame(h, w, kernel, strides, pads)) padding = 'same';
      else v = this.zeroPad(v, pads);
    }
    const common = { name, kernelSize: [kh, kw], strides, dilationRate: dilations, padding, useBias: !!bias };
    let y: tfl.SymbolicTensor;
    if (group === 1) {
      const layer = tfl.layers.conv2d({ ...common, filters, kernelInitializer: 'zeros' });
      y = this.apply(layer, v.x, [transpose(weight, [2, 3, 1, 0]), ...biasWeights]);
    } else if (!grouped) {
      // Depthwise: output channel c·m + j reads input channel c, as in TF's depthwise layout [kh,kw,C,m].
      const multiplier = filters / channels;
      const depthwise = transpose(reshape(weight, [channels, multiplier, kh, kw]), [2, 3, 0, 1]);
      const layer = tfl.layers.depthwiseConv2d({ ...common, kernelSize: [kh, kw], depthMultiplier: multiplier, depthwiseInitializer: 'zeros' });
      y = this.apply(layer, v.x, [depthwise, ...biasWeights]);
    } else {
      if (filters % group !== 0) this.fail(`${filters} output channels do not split into ${group} groups`);
      if (strides.some((s) => s > 1) && dilations.some((d) => d > 1)) this.fail('strides and dilations both above 1', 'TF.js convolutions cannot combine them.');
      const layer = new OnnxGroupConv2D({ name, groups: group, filters, kernelSize: [kh, kw], strides, dilationRate: dilations, useBias: !!bias });
      y = this.apply(layer, v.x, [transpose(weight, [2, 3, 1, 0]), ...biasWeights]);
    }
    return this.computedOf(y, 'nhwc', name);
  }

  pool(type: 'max' | 'avg'): Value {
    if (this.node.output[1]) this.fail('the indices output is used');
    let v = this.toNHWC(this.computedInput(0));
    const [h, w] = this.spatial(v);
    const size = this.ints('kernel_shape', []) as [number, number];
    if (size.length !== 2) this.fail(`a ${size.length}-D pooling window`, 'easy-explain converts 2-D pooling only.');
    const strides = this.ints('strides', [1, 1]) as [number, number];
    if (this.ints('dilations', [1, 1]).some((d) => d !== 1)) this.fail('dilated pooling');
    const pads = this.windowPads(h, w, size, strides);
    // ceil_mode: one more window where the last would start inside the input (or its leading padding).
    const ceil = this.int('ceil_mode', 0) === 1;
    const endPad = (length: number, k: number, s: number, before: number, after: number) => {
      let out = Math.floor((length + before + after - k) / s) + 1;
      if (ceil) {
        out = Math.ceil((length + before + after - k) / s) + 1;
        if ((out - 1) * s >= length + before) out -= 1;
      }
      return Math.max(0, (out - 1) * s + k - length - before);
    };
    const effective = [pads[0], pads[1], endPad(h, size[0], strides[0], pads[0], pads[2]), endPad(w, size[1], strides[1], pads[1], pads[3])];
    const padded = effective.some((p) => p > 0);
    const name = this.outName();
    const layerOf = (padding: 'valid' | 'same') =>
      type === 'max'
        ? tfl.layers.maxPooling2d({ name, poolSize: size, strides, padding })
        : tfl.layers.averagePooling2d({ name, poolSize: size, strides, padding });
    let y: tfl.SymbolicTensor;
    if (!padded) {
      y = this.apply(layerOf('valid'), v.x);
    } else if (type === 'max') {
      if (this.isSame(h, w, size, strides, effective)) y = this.apply(layerOf('same'), v.x);
      else if (v.nonNegative) {
        // Every window holds a real element ≥ 0, so zero padding never wins.
        v = this.zeroPad(v, effective);
        y = this.apply(layerOf('valid'), v.x);
      } else {
        const layer = new OnnxMaxPool2D({ name, poolSize: size, strides, pads: [[effective[0], effective[2]], [effective[1], effective[3]]] });
        y = this.apply(layer, v.x);
      }
    } else {
      const includePad = this.int('count_include_pad', 0) === 1;
      // Windows reaching past the given pads (ceil_mode); end padding no window reads does not count.
      const ceilExtra = effective[2] > pads[2] || effective[3] > pads[3];
      if (includePad && !ceilExtra) {
        v = this.zeroPad(v, effective);
        y = this.apply(layerOf('valid'), v.x);
      } else if (!includePad && this.isSame(h, w, size, strides, effective)) {
        y = this.apply(layerOf('same'), v.x);
      } else {
        this.fail(`average pooling with pads [${pads}], count_include_pad ${Number(includePad)} and ceil_mode ${Number(ceil)}`);
      }
    }
    return this.computedOf(y, 'nhwc', name, { nonNegative: v.nonNegative && type === 'max' });
  }

  globalPool(type: 'avg' | 'max', keepDims: boolean): Value {
    const v = this.computedInput(0);
    if (v.layout === 'pooled') return keepDims ? v : { ...v, layout: 'plain' };
    const x = this.toNHWC(v);
    const name = this.outName();
    const layer = type === 'avg' ? tfl.layers.globalAveragePooling2d({ name }) : tfl.layers.globalMaxPooling2d({ name });
    return this.computedOf(this.apply(layer, x.x), keepDims ? 'pooled' : 'plain', name, { nonNegative: v.nonNegative });
  }

  reduce(type: 'avg' | 'max'): Value {
    const keepDims = this.int('keepdims', 1) === 1;
    // Axes became an input in opset 18.
    const axes = this.opset >= 18 ? values(this.optionalConst(1, 'axes') ?? constant([0], [], true)) : this.ints('axes', []);
    const v = this.computedInput(0);
    const rank = this.onnxShape(v).length;
    const sorted = axes.map((a) => normaliseAxis(a, rank)).sort();
    if ((v.layout !== 'nhwc' && v.layout !== 'pooled') || sorted.join() !== '2,3') {
      this.fail(`reducing axes [${axes}] of a tensor of shape [${this.onnxShape(v)}]`, 'easy-explain converts a mean over H and W (global pooling) only.');
    }
    return this.globalPool(type, keepDims);
  }

  /** Flatten from axis 1 of a computed value. */
  flatten(v: Computed): Value {
    if (v.layout === 'pooled') return { ...v, layout: 'plain' };
    if (v.layout === 'flat' || (v.layout === 'plain' && v.x.shape.length === 2)) return v;
    const name = this.outName();
    const y = this.apply(tfl.layers.flatten({ name }), v.x);
    if (v.layout === 'plain') return this.computedOf(y, 'plain', name, { nonNegative: v.nonNegative });
    const [, h, w, c] = v.x.shape as number[];
    // A 1×1 map flattens to the same order in both layouts.
    if (h === 1 && w === 1) return this.computedOf(y, 'plain', name, { nonNegative: v.nonNegative });
    return this.computedOf(y, 'flat', name, { chw: [c, h, w], nonNegative: v.nonNegative });
  }

  reshapeOp(): Value {
    const data = this.input(0) as Value;
    const target = values(this.constInput(1, 'shape'));
    const inShape = this.onnxShape(data);
    const allowZero = this.int('allowzero', 0) === 1;
    const dims = target.map((d, i) => (d === 0 && !allowZero ? inShape[i] : d));
    if (data.kind === 'const') {
      const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      return { kind: 'const', c: reshape(data.c, dims.map((d) => (d === -1 ? data.c.data.length / known : d))) };
    }
    const rest = inShape.slice(1);
    const restSize = size(rest);
    const batchFirst = Number.isNaN(dims[0]) || (dims[0] === -1 && dims.slice(1).every((d) => d > 0));
    if (!batchFirst) this.fail(`reshaping [${inShape}] to [${target}] mixes the batch axis with others`);
    const known = dims.slice(1).filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const out = dims.slice(1).map((d) => (d === -1 ? restSize / known : d));
    if (size(out) !== restSize) this.fail(`cannot reshape [${inShape}] to [${target}]`);
    if (out.length === 1) return this.flatten(data);
    if (out.join() === rest.join()) return data;
    const v = this.toPlain(data);
    const name = this.outName();
    const y = this.apply(tfl.layers.reshape({ name, targetShape: out }), v.x);
    return this.computedOf(y, 'plain', name, { nonNegative: v.nonNegative });
  }

  /** Dense layer from a [K, units] matrix; rows permuted when the input is a flattened NHWC map. */
  dense(a: Computed, kernel: Constant, bias: Constant | undefined): Value {
    if (a.layout === 'pooled') a = { ...a, layout: 'plain' };
    if (a.layout === 'nhwc' || a.x.shape.length !== 2) this.fail(`a matrix product on a tensor of shape [${this.onnxShape(a)}]`);
    const [k, units] = kernel.dims;
    if (a.x.shape[1] !== k) this.fail(`weight [${kernel.dims}] does not match ${a.x.shape[1]} input features`);
    let rows = kernel;
    if (a.layout === 'flat') {
      const [c, h, w] = a.chw as [number, number, number];
      const permuted = new Float32Array(kernel.data.length);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          for (let ch = 0; ch < c; ch++) {
            const from = (ch * h + y) * w + x;
            const to = (y * w + x) * c + ch;
            permuted.set(kernel.data.subarray(from * units, (from + 1) * units), to * units);
          }
        }
      }
      rows = { dims: kernel.dims, data: permuted, integer: false };
    }
    const name = this.outName();
    const layer = tfl.layers.dense({ name, units, useBias: !!bias, kernelInitializer: 'zeros' });
    const y = this.apply(layer, a.x, bias ? [rows, bias] : [rows]);
    return this.computedOf(y, 'plain', name);
  }

  gemm(): Value {
    if (this.int('transA', 0) !== 0) this.fail('transA = 1');
    const a = this.computedInput(0);
    let b = this.constInput(1, 'weight');
    if (this.int('transB', 0) === 1) b = transpose(b, [1, 0]);
    const alpha = this.float('alpha', 1);
    const beta = this.float('beta', 1);
    if (alpha !== 1) b = unary(b, (x) => x * alpha);
    let c = this.optionalConst(2, 'bias');
    if (c) {
      const units = b.dims[1];
      c = binary(constant([units], new Array(units).fill(0), false), c, (_zero, y) => beta * y, false);
      if (c.dims.length !== 1) c = reshape(c, [units]);
    }
    return this.dense(a, b, c);
  }

  concatOp(): Value {
    const inputs = this.node.input.map((_, i) => this.input(i) as Value);
    const axis = this.int('axis', 1);
    if (inputs.every((v) => v.kind === 'const')) return { kind: 'const', c: concat(inputs.map((v) => (v as { c: Constant }).c), axis) };
    if (inputs.some((v) => v.kind === 'const')) this.fail('concatenating a constant with computed tensors');
    let parts = inputs as Computed[];
    const rank = this.onnxShape(parts[0]).length;
    if (normaliseAxis(axis, rank) !== 1) this.fail(`concatenation along axis ${axis}`, 'easy-explain converts concatenation along channels or features only.');
    if (parts.some((p) => p.layout !== parts[0].layout)) parts = parts.map((p) => this.toNHWC(p));
    if (parts[0].layout === 'flat' || (parts[0].layout === 'plain' && rank !== 2)) parts = parts.map((p) => this.toPlain(p));
    const name = this.outName();
    const y = this.apply(tfl.layers.concatenate({ name, axis: -1 }), parts.map((p) => p.x));
    return this.computedOf(y, parts[0].layout, name, { nonNegative: parts.every((p) => p.nonNegative) });
  }

  padOp(): Value {
    const mode = this.str('mode', 'constant');
    if (mode !== 'constant') this.fail(`"${mode}" padding`, 'Only constant (zero) padding is converted; open an issue if you need it.');
    let pads = this.opset < 11 ? this.ints('pads', []) : values(this.constInput(1, 'pads'));
    const value = this.opset < 11 ? this.float('value', 0) : (this.optionalConst(2, 'constant_value')?.data[0] ?? 0);
    const v = this.toNHWC(this.computedInput(0));
    const axesConst = this.opset >= 18 ? this.optionalConst(3, 'axes') : undefined;
    if (axesConst) {
      const full = new Array(8).fill(0);
      values(axesConst).forEach((a, i) => {
        const ax = normaliseAxis(a, 4);
        full[ax] = pads[i];
        full[ax + 4] = pads[i + axesConst.data.length];
      });
      pads = full;
    }
    if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5] || pads.some((p) => p < 0)) {
      this.fail(`pads [${pads}] (only non-negative padding of H and W is converted)`);
    }
    if (value !== 0) this.fail(`padding with the value ${value} (only zero padding is converted)`);
    const name = this.outName();
    const y = this.apply(tfl.layers.zeroPadding2d({ name, padding: [[pads[2], pads[6]], [pads[3], pads[7]]] }), v.x);
    return this.computedOf(y, 'nhwc', name, { nonNegative: v.nonNegative });
  }

  softmax(): Value {
    const v = this.computedInput(0);
    const shape = this.onnxShape(v);
    const axis = normaliseAxis(this.int('axis', this.opset < 13 ? 1 : -1), shape.length);
    // Before opset 13 Softmax flattens the axes from `axis` on; over [C,1,1] or a last axis that is the same softmax.
    const overChannels = (v.layout === 'pooled' && axis === 1) || (v.layout === 'nhwc' && axis === 1 && this.opset >= 13);
    // Softmax over all features commutes with their permutation, so a `flat` value keeps its layout.
    const overLast = (v.layout === 'plain' || v.layout === 'flat') && axis === shape.length - 1;
    if (!overChannels && !overLast) this.fail(`softmax along axis ${axis} of shape [${shape}]`);
    return this.elementwise((name) => tfl.layers.activation({ name, activation: 'softmax' }), true);
  }

  axesOf(inputIndex: number): number[] | undefined {
    if (this.opset >= 13) {
      const c = this.optionalConst(inputIndex, 'axes');
      return c ? values(c) : undefined;
    }
    const a = this.attr('axes');
    return a ? this.ints('axes', []) : undefined;
  }

  unsqueeze(): Value {
    const v = this.input(0) as Value;
    const axes = this.axesOf(1) ?? this.fail('no axes');
    const rank = this.onnxShape(v).length + axes.length;
    const norm = axes.map((a) => normaliseAxis(a, rank)).sort((a, b) => a - b);
    if (v.kind === 'const') {
      const dims = v.c.dims.slice();
      for (const a of norm) dims.splice(a, 0, 1);
      return { kind: 'const', c: reshape(v.c, dims) };
    }
    if (v.layout === 'plain' && v.x.shape.length === 2 && norm.join() === '2,3') return { ...v, layout: 'pooled' };
    this.fail(`unsqueezing axes [${axes}] of a computed tensor`);
  }

  squeeze(): Value {
    const v = this.input(0) as Value;
    const shape = this.onnxShape(v);
    const axes = (this.axesOf(1) ?? shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)).map((a) => normaliseAxis(a, shape.length));
    if (v.kind === 'const') return { kind: 'const', c: reshape(v.c, shape.filter((_, i) => !axes.includes(i))) };
    if (v.layout === 'pooled' && axes.sort().join() === '2,3') return { ...v, layout: 'plain' };
    this.fail(`squeezing axes [${axes}] of a computed tensor of shape [${shape}]`);
  }

  constantOp(): Value {
    const a = this.node.attribute[0];
    if (!a) this.fail('no value');
    switch (a.name) {
      case 'value':
        return { kind: 'const', c: decodeTensor(a.t ?? {}, this.node.output[0]) };
      case 'value_float':
        return { kind: 'const', c: constant([], [a.f ?? 0], false) };
      case 'value_floats':
        return { kind: 'const', c: constant([a.floats?.length ?? 0], a.floats ?? [], false) };
      case 'value_int':
        return { kind: 'const', c: constant([], [num(a.i)], true) };
      case 'value_ints':
        return { kind: 'const', c: constant([a.ints?.length ?? 0], (a.ints ?? []).map(num), true) };
      default:
        this.fail(`a "${a.name}" constant`);
    }
  }

  /** A unary function: folded on constants when `fold` is given, a layer on computed tensors. */
  unaryOp(op: UnaryOp, fold?: (x: number) => number): Value {
    const v = this.input(0);
    if (v.kind === 'const') {
      if (!fold) this.fail('this operator on a constant');
      return { kind: 'const', c: unary(v.c, fold) };
    }
    return this.elementwise((name) => new OnnxUnary({ name, op }), op === 'abs' || op === 'exp' || op === 'sqrt');
  }

  /** PRelu with one slope per channel (or one for all): tfjs PReLU with its slope shared over the other axes. */
  prelu(): Value {
    const slope = this.constInput(1, 'slope');
    let v = this.computedInput(0);
    const n = slope.data.length;
    if (v.layout === 'pooled') v = this.toNHWC(v);
    if (v.layout === 'flat') v = this.toPlain(v);
    const rank = v.x.shape.length;
    const channels = v.x.shape[rank - 1] as number;
    const channelSlope = v.layout === 'nhwc' ? n === channels && slope.dims.slice(1).every((d) => d === 1) : rank === 2 && n === channels;
    if (n !== 1 && !channelSlope) this.fail(`a slope of shape [${slope.dims}] (one per channel or one for all are converted)`);
    const sharedAxes = n === 1 ? Array.from({ length: rank - 1 }, (_, i) => i + 1) : Array.from({ length: rank - 2 }, (_, i) => i + 1);
    const alphaShape = v.x.shape.slice(1).map((d, i) => (sharedAxes.includes(i + 1) ? 1 : (d as number)));
    const name = this.outName();
    const layer = tfl.layers.prelu({ name, sharedAxes: sharedAxes.length > 0 ? sharedAxes : undefined });
    const y = this.apply(layer, v.x, [reshape(slope, alphaShape)]);
    return this.computedOf(y, v.layout, name);
  }

  batchNorm(): Value {
    if (this.int('training_mode', 0) === 1) this.fail('training-mode batch normalisation');
    const v = this.computedInput(0);
    if (v.layout === 'flat' || (v.layout === 'plain' && v.x.shape.length !== 2)) this.fail(`batch normalisation of shape [${this.onnxShape(v)}]`);
    // tfjs order: gamma, beta, moving mean, moving variance; ONNX inputs 1–4 are the same four.
    const weights = ['scale', 'bias', 'mean', 'variance'].map((what, i) => this.constInput(i + 1, what));
    const epsilon = this.float('epsilon', 1e-5);
    return this.elementwise((name) => tfl.layers.batchNormalization({ name, axis: -1, epsilon }), false, weights);
  }

  foldOnly(op: () => Constant): Value {
    if (this.node.input.some((name, i) => name && this.input(i).kind !== 'const')) {
      this.fail('this operator is converted on constants (shape arithmetic) only, and here it reads a computed tensor');
    }
    return { kind: 'const', c: op() };
  }
}

type Handler = (this: Converter) => Value | Value[];
const passThrough: Handler = function () {
  return this.input(0) as Value;
};

const HANDLERS: Record<string, Handler> = {
  Conv() {
    return this.conv();
  },
  BatchNormalization() {
    return this.batchNorm();
  },
  Relu() {
    return this.foldUnary((x) => Math.max(x, 0)) ?? this.elementwise((name) => tfl.layers.reLU({ name }), true);
  },
  LeakyRelu() {
    const alpha = this.float('alpha', 0.01);
    return this.elementwise((name) => tfl.layers.leakyReLU({ name, alpha }), false);
  },
  Clip() {
    return this.clip();
  },
  Sigmoid() {
    return this.elementwise((name) => tfl.layers.activation({ name, activation: 'sigmoid' }), true);
  },
  Tanh() {
    return this.elementwise((name) => tfl.layers.activation({ name, activation: 'tanh' }), false);
  },
  HardSigmoid() {
    const alpha = this.float('alpha', 0.2);
    const beta = this.float('beta', 0.5);
    return this.elementwise((name) => new OnnxHardSigmoid({ name, alpha, beta }), true);
  },
  HardSwish() {
    return this.elementwise((name) => new OnnxHardSwish({ name }), false);
  },
  Softmax() {
    return this.softmax();
  },
  Add() {
    return this.binaryOp('add');
  },
  Sub() {
    return this.binaryOp('sub');
  },
  Mul() {
    return this.binaryOp('mul');
  },
  Div() {
    return this.binaryOp('div');
  },
  MaxPool() {
    return this.pool('max');
  },
  AveragePool() {
    return this.pool('avg');
  },
  GlobalAveragePool() {
    return this.globalPool('avg', true);
  },
  GlobalMaxPool() {
    return this.globalPool('max', true);
  },
  ReduceMean() {
    return this.reduce('avg');
  },
  ReduceMax() {
    return this.reduce('max');
  },
  Flatten() {
    const v = this.input(0);
    const axis = this.int('axis', 1);
    if (v.kind === 'const') {
      const ax = normaliseAxis(axis, v.c.dims.length);
      return { kind: 'const', c: reshape(v.c, [size(v.c.dims.slice(0, ax)), size(v.c.dims.slice(ax))]) };
    }
    if (axis !== 1) this.fail(`flattening from axis ${axis}`);
    return this.flatten(v);
  },
  Reshape() {
    return this.reshapeOp();
  },
  Gemm() {
    return this.gemm();
  },
  MatMul() {
    const b = this.constInput(1, 'weight');
    if (b.dims.length !== 2) this.fail(`a matrix product with a weight of shape [${b.dims}]`);
    return this.dense(this.computedInput(0), b, undefined);
  },
  Concat() {
    return this.concatOp();
  },
  Pad() {
    return this.padOp();
  },
  Dropout: passThrough,
  Identity: passThrough,
  Constant() {
    return this.constantOp();
  },
  Shape() {
    const shape = this.onnxShape(this.input(0));
    const start = this.int('start', 0);
    const end = this.int('end', shape.length);
    const dims = shape.slice(start < 0 ? start + shape.length : start, end < 0 ? end + shape.length : end);
    return { kind: 'const', c: constant([dims.length], dims, true) };
  },
  Gather() {
    return this.foldOnly(() => gather(this.constInput(0, 'data'), this.constInput(1, 'indices'), this.int('axis', 0)));
  },
  Unsqueeze() {
    return this.unsqueeze();
  },
  Squeeze() {
    return this.squeeze();
  },
  Cast() {
    const v = this.input(0);
    const to = this.int('to', 1);
    if (v.kind === 'computed') return FLOAT_TYPES.has(to) ? v : this.fail(`casting a computed tensor to ONNX type ${to}`);
    const integer = !FLOAT_TYPES.has(to);
    return { kind: 'const', c: constant(v.c.dims, integer ? Array.from(v.c.data, Math.trunc) : v.c.data, integer) };
  },
  Neg() {
    return this.unaryOp('neg', (x) => -x);
  },
  Abs() {
    return this.unaryOp('abs', Math.abs);
  },
  Exp() {
    return this.unaryOp('exp', Math.exp);
  },
  Sqrt() {
    return this.unaryOp('sqrt', Math.sqrt);
  },
  Reciprocal() {
    return this.unaryOp('reciprocal', (x) => 1 / x);
  },
  Erf() {
    return this.unaryOp('erf');
  },
  Gelu() {
    const approximate = this.str('approximate', 'none');
    if (approximate !== 'none' && approximate !== 'tanh') this.fail(`approximate "${approximate}"`);
    return this.unaryOp(approximate === 'tanh' ? 'geluTanh' : 'gelu');
  },
  Softplus() {
    return this.elementwise((name) => tfl.layers.activation({ name, activation: 'softplus' }), true);
  },
  Elu() {
    const alpha = this.float('alpha', 1);
    return this.elementwise((name) => (alpha === 1 ? tfl.layers.activation({ name, activation: 'elu' }) : new OnnxUnary({ name, op: 'elu', alpha })), false);
  },
  Selu() {
    // tfjs's selu has PyTorch's (and ONNX's default) constants only.
    const alpha = this.float('alpha', 1.67326319217681884765625);
    const gamma = this.float('gamma', 1.05070102214813232421875);
    if (Math.abs(alpha - 1.6732632) > 1e-6 || Math.abs(gamma - 1.050701) > 1e-6) this.fail(`Selu with alpha ${alpha}, gamma ${gamma}`);
    return this.elementwise((name) => tfl.layers.activation({ name, activation: 'selu' }), false);
  },
  PRelu() {
    return this.prelu();
  },
  Floor() {
    return this.foldOnly(() => unary(this.constInput(0, 'x'), Math.floor));
  },
  Ceil() {
    return this.foldOnly(() => unary(this.constInput(0, 'x'), Math.ceil));
  },
  ConstantOfShape() {
    return this.foldOnly(() => {
      const dims = values(this.constInput(0, 'shape'));
      const t = this.attr('value')?.t;
      const fill = t ? decodeTensor(t, 'value') : constant([1], [0], false);
      return constant(dims, new Array(size(dims)).fill(fill.data[0] ?? 0), fill.integer);
    });
  },
  Slice() {
    return this.foldOnly(() => {
      const data = this.constInput(0, 'data');
      if (this.opset < 10) {
        const starts = this.ints('starts', []);
        return slice(data, starts, this.ints('ends', []), this.ints('axes', starts.map((_, i) => i)), []);
      }
      const starts = values(this.constInput(1, 'starts'));
      const ends = values(this.constInput(2, 'ends'));
      const axes = this.optionalConst(3, 'axes');
      const steps = this.optionalConst(4, 'steps');
      return slice(data, starts, ends, axes ? values(axes) : starts.map((_, i) => i), steps ? values(steps) : []);
    });
  },
  Transpose() {
    return this.foldOnly(() => {
      const data = this.constInput(0, 'data');
      return transpose(data, this.ints('perm', data.dims.map((_, i) => data.dims.length - 1 - i)));
    });
  },
};

/** Supported operator types (default ONNX domain). */
export const SUPPORTED_OPS = Object.keys(HANDLERS).sort();

export interface Conversion {
  model: tfl.LayersModel;
  layerNames: OnnxLayerNames;
}

export function convert(bytes: Uint8Array, options: ConvertOptions = {}): Conversion {
  const proto = decodeOnnx(bytes);
  const graph = proto.graph!;
  const opsetEntry = proto.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = num(opsetEntry?.version);
  if (!opsetEntry || opset < MIN_OPSET) {
    throw invalid(`The ONNX model uses opset ${opset || 'none'}; easy-explain converts opsets ${MIN_OPSET} and later. Re-export with opset_version=13 or later.`);
  }
  for (const node of graph.node) {
    if ((node.domain && node.domain !== 'ai.onnx') || !HANDLERS[node.op_type]) {
      throw invalid(
        `ONNX operator ${node.domain ? `${node.domain}.` : ''}${node.op_type} (node "${node.name || node.output[0]}") is not supported by easy-explain's converter. ` +
          `Supported: ${SUPPORTED_OPS.join(', ')}. Re-exporting with do_constant_folding=True and opset_version=13 removes some operators; ` +
          'otherwise open an issue naming the operator and the model.',
      );
    }
  }
  const initializerNames = new Set(graph.initializer.map((t) => t.name));
  const inputs = graph.input.filter((i) => !initializerNames.has(i.name));
  if (inputs.length !== 1) {
    throw invalid(`The ONNX model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); easy-explain needs a model with one image input.`);
  }
  if (graph.output.length !== 1) {
    throw invalid(`The ONNX model has ${graph.output.length} outputs; easy-explain needs a classifier with one output [N, classes].`);
  }
  const converter = new Converter(opset);
  try {
    const input = converter.addInput(inputs[0]);
    for (const t of graph.initializer) converter.addInitializer(t.name ?? '', decodeTensor(t, t.name ?? 'initializer'));
    for (const node of graph.node) converter.run(node);
    const output = converter.output(graph.output[0].name);
    const model = tfl.model({ inputs: input, outputs: output, name: sanitiseName(options.name ?? (graph.name || 'onnx_model')) });
    return { model, layerNames: converter.layerNames };
  } catch (error) {
    for (const layer of converter.created) {
      try {
        layer.dispose();
      } catch {
        // A layer that failed before being built holds no weights.
      }
    }
    throw error;
  }
}
