// The few ONNX operations no tfjs-layers layer computes exactly, as custom layers registered for serialization.
// Core's incremental planner does not know these classes: a model using one on its spatial path falls back to full
// recomputation for Occlusion (still correct, only slower).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type Shape = Array<number | null>;
type Kwargs = Record<string, unknown>;
interface BaseArgs {
  name?: string;
  trainable?: boolean;
}

function broadcastShape(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    const x = i - rank + a.length >= 0 ? a[i - rank + a.length] : 1;
    const y = i - rank + b.length >= 0 ? b[i - rank + b.length] : 1;
    out.push(x === 1 ? y : y === 1 ? x : x ?? y);
  }
  return out;
}

const single = (inputs: tf.Tensor | tf.Tensor[]) => (Array.isArray(inputs) ? inputs[0] : inputs);
const singleShape = (shape: Shape | Shape[]) => (Array.isArray(shape[0]) ? (shape[0] as Shape) : (shape as Shape));

/** ONNX HardSigmoid: max(0, min(1, alpha·x + beta)); PyTorch exports alpha 1/6, beta 0.5 (not Keras's 0.2x + 0.5). */
export class OnnxHardSigmoid extends tfl.layers.Layer {
  static className = 'OnnxHardSigmoid';
  readonly alpha: number;
  readonly beta: number;
  constructor(args: BaseArgs & { alpha: number; beta: number }) {
    super(args);
    this.alpha = args.alpha;
    this.beta = args.beta;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.clipByValue(tf.add(tf.mul(single(inputs), this.alpha), this.beta), 0, 1));
  }
  override getConfig() {
    return { ...super.getConfig(), alpha: this.alpha, beta: this.beta };
  }
}

/** ONNX HardSwish: x · max(0, min(1, x/6 + 1/2)). */
export class OnnxHardSwish extends tfl.layers.Layer {
  static className = 'OnnxHardSwish';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = single(inputs);
    return tf.tidy(() => tf.mul(x, tf.clipByValue(tf.add(tf.div(x, 6), 0.5), 0, 1)));
  }
}

/** ONNX Clip with bounds no ReLU layer expresses (a ReLU with maxValue covers Clip(0, max)). */
export class OnnxClip extends tfl.layers.Layer {
  static className = 'OnnxClip';
  readonly min: number;
  readonly max: number;
  constructor(args: BaseArgs & { min: number; max: number }) {
    super(args);
    this.min = args.min;
    this.max = args.max;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = single(inputs);
    return tf.tidy(() => tf.minimum(tf.maximum(x, this.min), this.max));
  }
  override getConfig() {
    // JSON has no Infinity: open bounds are stored as null.
    const bound = (v: number) => (Number.isFinite(v) ? v : null);
    return { ...super.getConfig(), min: bound(this.min), max: bound(this.max) } as tf.serialization.ConfigDict;
  }
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls({ ...config, min: config['min'] ?? -Infinity, max: config['max'] ?? Infinity });
  }
}

export type UnaryOp = 'erf' | 'gelu' | 'geluTanh' | 'abs' | 'neg' | 'exp' | 'sqrt' | 'reciprocal' | 'elu';
const UNARY: Record<UnaryOp, (x: tf.Tensor, alpha: number) => tf.Tensor> = {
  erf: tf.erf,
  // ONNX Gelu (opset 20): x·Φ(x), or its tanh approximation.
  gelu: (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))),
  geluTanh: (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))),
  abs: tf.abs,
  neg: tf.neg,
  exp: tf.exp,
  sqrt: tf.sqrt,
  reciprocal: tf.reciprocal,
  // ELU with any alpha (tfjs's ELU layer accepts alpha 1 only).
  elu: (x, alpha) => tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.sub(tf.exp(tf.minimum(x, 0)), 1))),
};

/** Element-wise functions no Activation covers (Erf and Gelu of transformers' MLPs, Abs, Exp, ...). */
export class OnnxUnary extends tfl.layers.Layer {
  static className = 'OnnxUnary';
  readonly op: UnaryOp;
  readonly alpha: number;
  constructor(args: BaseArgs & { op: UnaryOp; alpha?: number }) {
    super(args);
    this.op = args.op;
    this.alpha = args.alpha ?? 1;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => UNARY[this.op](single(inputs), this.alpha));
  }
  override getConfig() {
    return { ...super.getConfig(), op: this.op, alpha: this.alpha };
  }
}

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';
const BINARY: Record<BinaryOp, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  add: tf.add,
  sub: tf.sub,
  mul: tf.mul,
  div: tf.div,
};

/** Subtraction or division of two computed tensors, with broadcasting (tfjs-layers has Add and Multiply only). */
export class OnnxBinary extends tfl.layers.Layer {
  static className = 'OnnxBinary';
  readonly op: BinaryOp;
  constructor(args: BaseArgs & { op: BinaryOp }) {
    super(args);
    this.op = args.op;
  }
  override computeOutputShape(shapes: Shape | Shape[]): Shape {
    const [a, b] = shapes as Shape[];
    return broadcastShape(a, b);
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [a, b] = inputs as tf.Tensor[];
    return BINARY[this.op](a, b);
  }
  override getConfig() {
    return { ...super.getConfig(), op: this.op };
  }
}

/** A computed tensor combined with a constant of the graph (stored as a non-trainable weight), with broadcasting. */
export class OnnxConstantOp extends tfl.layers.Layer {
  static className = 'OnnxConstantOp';
  readonly op: BinaryOp;
  readonly constantShape: number[];
  /** The constant is the left operand (matters for sub and div). */
  readonly constantFirst: boolean;
  private constant?: tfl.LayerVariable;
  constructor(args: BaseArgs & { op: BinaryOp; constantShape: number[]; constantFirst: boolean }) {
    super(args);
    this.op = args.op;
    this.constantShape = args.constantShape;
    this.constantFirst = args.constantFirst;
  }
  override build(): void {
    this.constant = this.addWeight('constant', this.constantShape, 'float32', tfl.initializers.zeros(), undefined, false);
    this.built = true;
  }
  override computeOutputShape(shape: Shape | Shape[]): Shape {
    return broadcastShape(singleShape(shape), this.constantShape);
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = single(inputs);
    const c = (this.constant as tfl.LayerVariable).read();
    return this.constantFirst ? BINARY[this.op](c, x) : BINARY[this.op](x, c);
  }
  override getConfig() {
    return { ...super.getConfig(), op: this.op, constantShape: this.constantShape, constantFirst: this.constantFirst };
  }
}

/** Convolution with 1 < groups < channels (ResNeXt, RegNet, ShuffleNet): one convolution per group, concatenated. */
export class OnnxGroupConv2D extends tfl.layers.Layer {
  static className = 'OnnxGroupConv2D';
  readonly groups: number;
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly dilationRate: [number, number];
  readonly useBias: boolean;
  private kernel?: tfl.LayerVariable;
  private bias?: tfl.LayerVariable;
  constructor(
    args: BaseArgs & { groups: number; filters: number; kernelSize: [number, number]; strides: [number, number]; dilationRate: [number, number]; useBias: boolean },
  ) {
    super(args);
    this.groups = args.groups;
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.strides = args.strides;
    this.dilationRate = args.dilationRate;
    this.useBias = args.useBias;
  }
  override build(shape: Shape | Shape[]): void {
    const channels = singleShape(shape)[3] as number;
    const kernelShape = [...this.kernelSize, channels / this.groups, this.filters];
    this.kernel = this.addWeight('kernel', kernelShape, 'float32', tfl.initializers.zeros());
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', tfl.initializers.zeros());
    this.built = true;
  }
  override computeOutputShape(shape: Shape | Shape[]): Shape {
    const [n, h, w] = singleShape(shape);
    const out = (size: number | null, i: 0 | 1) =>
      size == null ? null : Math.floor((size - ((this.kernelSize[i] - 1) * this.dilationRate[i] + 1)) / this.strides[i]) + 1;
    return [n, out(h, 0), out(w, 1), this.filters];
  }
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs?: Kwargs): tf.Tensor {
    const x = single(inputs) as tf.Tensor4D;
    return tf.tidy(() => {
      const kernel = (this.kernel as tfl.LayerVariable).read() as tf.Tensor4D;
      const xs = tf.split(x, this.groups, 3);
      const ks = tf.split(kernel, this.groups, 3);
      const ys = xs.map((xi, g) => tf.conv2d(xi as tf.Tensor4D, ks[g] as tf.Tensor4D, this.strides, 'valid', 'NHWC', this.dilationRate));
      const y = tf.concat(ys, 3);
      return this.bias ? tf.add(y, this.bias.read()) : y;
    });
  }
  override getConfig() {
    return {
      ...super.getConfig(),
      groups: this.groups,
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      dilationRate: this.dilationRate,
      useBias: this.useBias,
    };
  }
}

/** Max pooling whose padding must never win (ONNX pads with −∞), for inputs that may be negative. */
export class OnnxMaxPool2D extends tfl.layers.Layer {
  static className = 'OnnxMaxPool2D';
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  /** [[top, bottom], [left, right]]. */
  readonly pads: [[number, number], [number, number]];
  constructor(args: BaseArgs & { poolSize: [number, number]; strides: [number, number]; pads: [[number, number], [number, number]] }) {
    super(args);
    this.poolSize = args.poolSize;
    this.strides = args.strides;
    this.pads = args.pads;
  }
  override computeOutputShape(shape: Shape | Shape[]): Shape {
    const [n, h, w, c] = singleShape(shape);
    const out = (size: number | null, i: 0 | 1) =>
      size == null ? null : Math.floor((size + this.pads[i][0] + this.pads[i][1] - this.poolSize[i]) / this.strides[i]) + 1;
    return [n, out(h, 0), out(w, 1), c];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = single(inputs) as tf.Tensor4D;
    return tf.tidy(() => {
      const padded = tf.pad(x, [[0, 0], this.pads[0], this.pads[1], [0, 0]], -Infinity);
      return tf.maxPool(padded, this.poolSize, this.strides, 'valid');
    });
  }
  override getConfig() {
    return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, pads: this.pads } as tf.serialization.ConfigDict;
  }
}

for (const cls of [OnnxHardSigmoid, OnnxHardSwish, OnnxClip, OnnxUnary, OnnxBinary, OnnxConstantOp, OnnxGroupConv2D, OnnxMaxPool2D]) {
  tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
}

/** Class names of the layers above, for callers that check whether a converted model uses any. */
export const CUSTOM_LAYER_CLASSES = [
  'OnnxHardSigmoid',
  'OnnxHardSwish',
  'OnnxClip',
  'OnnxUnary',
  'OnnxBinary',
  'OnnxConstantOp',
  'OnnxGroupConv2D',
  'OnnxMaxPool2D',
] as const;
