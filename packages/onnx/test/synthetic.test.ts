// Small ONNX graphs built in the test exercise the conversions the shared models do not (grouped convolution,
// asymmetric pads, ceil_mode max pooling of negative values, average pooling with pads, Flatten of a spatial map
// into Gemm, constants in arithmetic, Sub/Div, Clip, HardSigmoid, HardSwish, squeeze-excitation, MatMul, opset 10
// attributes). Each is checked against a plain NCHW reference written below from the ONNX operator definitions.
// Tolerance 1e-5 of the output's maximum: float32 (TF.js) vs float64 (reference) on a few hundred-term sums.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { convertOnnx, onnxLayerName } from '@easy-explain/onnx';
import { onnxModelType } from '../src/proto';
import { maxAbsDiff, take, useBackend } from './helpers';

// ---------------------------------------------------------------------------------------------------------------
// A plain NCHW reference (float64).

interface T {
  shape: number[];
  data: Float64Array;
}
const sizeOf = (s: number[]) => s.reduce((a, b) => a * b, 1);
const make = (shape: number[], f: (i: number) => number): T => ({ shape, data: Float64Array.from({ length: sizeOf(shape) }, (_, i) => f(i)) });

let seed = 1;
const random = () => {
  seed = (seed * 16807) % 2147483647;
  return (seed / 2147483647) * 2 - 1;
};
const randomT = (shape: number[], scale = 1) => make(shape, () => random() * scale);

function conv(x: T, w: T, b: T | undefined, group: number, pads: number[], strides: number[], dilations = [1, 1]): T {
  const [n, c, h, wd] = x.shape;
  const [o, cg, kh, kw] = w.shape;
  const oh = Math.floor((h + pads[0] + pads[2] - ((kh - 1) * dilations[0] + 1)) / strides[0]) + 1;
  const ow = Math.floor((wd + pads[1] + pads[3] - ((kw - 1) * dilations[1] + 1)) / strides[1]) + 1;
  const og = o / group;
  const out = make([n, o, oh, ow], () => 0);
  for (let bi = 0; bi < n; bi++)
    for (let oc = 0; oc < o; oc++)
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++) {
          let s = b ? b.data[oc] : 0;
          const g = Math.floor(oc / og);
          for (let ic = 0; ic < cg; ic++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = y * strides[0] - pads[0] + ky * dilations[0];
                const ix = xx * strides[1] - pads[1] + kx * dilations[1];
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                s += x.data[((bi * c + g * cg + ic) * h + iy) * wd + ix] * w.data[((oc * cg + ic) * kh + ky) * kw + kx];
              }
          out.data[((bi * o + oc) * oh + y) * ow + xx] = s;
        }
  return out;
}

function pool(x: T, type: 'max' | 'avg', k: number[], strides: number[], pads: number[], ceil: boolean, includePad: boolean): T {
  const [n, c, h, w] = x.shape;
  const outSize = (len: number, i: number) => {
    const span = len + pads[i] + pads[i + 2] - k[i];
    let out = (ceil ? Math.ceil(span / strides[i]) : Math.floor(span / strides[i])) + 1;
    if (ceil && (out - 1) * strides[i] >= len + pads[i]) out--;
    return out;
  };
  const oh = outSize(h, 0);
  const ow = outSize(w, 1);
  const out = make([n, c, oh, ow], () => 0);
  for (let p = 0; p < n * c; p++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++) {
        let best = -Infinity;
        let sum = 0;
        let count = 0;
        for (let ky = 0; ky < k[0]; ky++)
          for (let kx = 0; kx < k[1]; kx++) {
            const iy = y * strides[0] - pads[0] + ky;
            const ix = xx * strides[1] - pads[1] + kx;
            const inPadded = iy < h + pads[2] && ix < w + pads[3];
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
              if (includePad && inPadded) count++;
              continue;
            }
            const v = x.data[(p * h + iy) * w + ix];
            best = Math.max(best, v);
            sum += v;
            count++;
          }
        out.data[(p * oh + y) * ow + xx] = type === 'max' ? best : sum / count;
      }
  return out;
}

function broadcast(a: T, b: T, f: (x: number, y: number) => number): T {
  const rank = Math.max(a.shape.length, b.shape.length);
  const pad = (s: number[]) => [...new Array(rank - s.length).fill(1), ...s];
  const sa = pad(a.shape);
  const sb = pad(b.shape);
  const shape = sa.map((d, i) => Math.max(d, sb[i]));
  const index = (s: number[], idx: number[]) => idx.reduce((acc, v, i) => acc * s[i] + (s[i] === 1 ? 0 : v), 0);
  return make(shape, (flat) => {
    const idx: number[] = [];
    let r = flat;
    for (let i = rank - 1; i >= 0; i--) {
      idx.unshift(r % shape[i]);
      r = Math.floor(r / shape[i]);
    }
    return f(a.data[index(sa, idx)], b.data[index(sb, idx)]);
  });
}
const map = (a: T, f: (x: number) => number): T => ({ shape: a.shape, data: a.data.map(f) });
const hardSigmoid = (x: number, alpha: number, beta: number) => Math.max(0, Math.min(1, alpha * x + beta));

function matmul(a: T, b: T): T {
  const [n, k] = a.shape;
  const m = b.shape[1];
  return make([n, m], (i) => {
    const r = Math.floor(i / m);
    const c = i % m;
    let s = 0;
    for (let j = 0; j < k; j++) s += a.data[r * k + j] * b.data[j * m + c];
    return s;
  });
}
const transpose2 = (a: T): T => make([a.shape[1], a.shape[0]], (i) => a.data[(i % a.shape[0]) * a.shape[1] + Math.floor(i / a.shape[0])]);
function softmaxRows(a: T): T {
  const [n, k] = a.shape;
  const out = make(a.shape, () => 0);
  for (let r = 0; r < n; r++) {
    const row = Array.from(a.data.subarray(r * k, (r + 1) * k));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((x, y) => x + y, 0);
    e.forEach((v, j) => (out.data[r * k + j] = v / s));
  }
  return out;
}
function globalMean(x: T): T {
  const [n, c, h, w] = x.shape;
  return make([n, c, 1, 1], (i) => {
    let s = 0;
    for (let j = 0; j < h * w; j++) s += x.data[i * h * w + j];
    return s / (h * w);
  });
}
function concatChannels(a: T, b: T): T {
  const [n, ca, h, w] = a.shape;
  const cb = b.shape[1];
  const hw = h * w;
  return make([n, ca + cb, h, w], (i) => {
    const bi = Math.floor(i / ((ca + cb) * hw));
    const c = Math.floor(i / hw) % (ca + cb);
    const p = i % hw;
    return c < ca ? a.data[(bi * ca + c) * hw + p] : b.data[(bi * cb + c - ca) * hw + p];
  });
}

function padT(x: T, [t, l, b, r]: number[]): T {
  const [n, c, h, w] = x.shape;
  const oh = h + t + b;
  const ow = w + l + r;
  return make([n, c, oh, ow], (i) => {
    const xx = (i % ow) - l;
    const y = (Math.floor(i / ow) % oh) - t;
    const p = Math.floor(i / (oh * ow));
    return y < 0 || y >= h || xx < 0 || xx >= w ? 0 : x.data[(p * h + y) * w + xx];
  });
}

function batchNormRef(x: T, scale: T, bias: T, mean: T, variance: T, epsilon: number): T {
  const c = x.shape[1];
  const inner = sizeOf(x.shape.slice(2));
  return make(x.shape, (i) => {
    const ch = Math.floor(i / inner) % c;
    return ((x.data[i] - mean.data[ch]) / Math.sqrt(variance.data[ch] + epsilon)) * scale.data[ch] + bias.data[ch];
  });
}
function globalMax(x: T): T {
  const [n, c, h, w] = x.shape;
  return make([n, c], (i) => Math.max(...x.data.subarray(i * h * w, (i + 1) * h * w)));
}
/** erf to ~1e-7 (Abramowitz & Stegun 7.1.26). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

// ---------------------------------------------------------------------------------------------------------------
// Building ONNX models.

type Attr = { f: number } | { i: number } | { ints: number[] } | { floats: number[] } | { s: string };
const attribute = (name: string, a: Attr) => {
  if ('f' in a) return { name, type: 1, f: a.f };
  if ('i' in a) return { name, type: 2, i: a.i };
  if ('s' in a) return { name, type: 3, s: new TextEncoder().encode(a.s) };
  if ('floats' in a) return { name, type: 6, floats: a.floats };
  return { name, type: 7, ints: a.ints };
};

class Builder {
  nodes: unknown[] = [];
  initializers: unknown[] = [];
  private k = 0;
  constructor(readonly opset: number) {}
  weight(t: T): string {
    const name = `w${this.k++}`;
    this.initializers.push({ name, dims: t.shape, data_type: 1, float_data: Array.from(t.data) });
    return name;
  }
  ints(values: number[]): string {
    const name = `i${this.k++}`;
    this.initializers.push({ name, dims: [values.length], data_type: 7, int64_data: values });
    return name;
  }
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, output = `t${this.k++}`): string {
    this.nodes.push({ op_type: op, name: `/${op}_${this.k}`, input: inputs, output: [output], attribute: Object.entries(attrs).map(([n, a]) => attribute(n, a)) });
    return output;
  }
  encode(input: number[], output: string): Uint8Array {
    const type = onnxModelType();
    const tensorType = (dims: Array<number | string>) => ({
      tensor_type: { elem_type: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } },
    });
    const model = {
      ir_version: 8,
      opset_import: [{ domain: '', version: this.opset }],
      graph: {
        name: 'synthetic',
        node: this.nodes,
        initializer: this.initializers,
        input: [{ name: 'x', type: tensorType(['batch', ...input.slice(1)]) }],
        output: [{ name: output, type: tensorType(['batch']) }],
      },
    };
    return type.encode(type.fromObject(model)).finish();
  }
}

/** Saves and reloads a model (model.json + weights in memory): the custom layers must serialise. */
async function roundTrip(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return tfl.loadLayersModel(tf.io.fromMemory(artifacts as tf.io.ModelArtifacts));
}

/** Converts, predicts on the NHWC transpose of x, and checks a saved-and-reloaded copy predicts the same. */
async function run(bytes: Uint8Array, x: T): Promise<{ values: Float32Array; layers: tfl.LayersModel }> {
  const layers = await convertOnnx(bytes);
  const nchw = tf.tensor4d(Float32Array.from(x.data), x.shape as [number, number, number, number]);
  const nhwc = tf.transpose(nchw, [0, 2, 3, 1]);
  const values = await take(layers.predict(nhwc) as tf.Tensor);
  const reloaded = await roundTrip(layers);
  expect(maxAbsDiff(await take(reloaded.predict(nhwc) as tf.Tensor), values)).toBe(0);
  reloaded.dispose();
  tf.dispose([nchw, nhwc]);
  return { values, layers };
}

function expectClose(label: string, actual: Float32Array, expected: T): void {
  const max = expected.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const err = maxAbsDiff(actual, expected.data);
  console.log(`${label}: max |Δ| / max ${(err / max).toExponential(2)}`);
  expect(max).toBeGreaterThan(0);
  expect(err).toBeLessThan(1e-5 * max);
}

describe('synthetic ONNX graphs vs an NCHW reference (cpu)', () => {
  beforeAll(() => useBackend('cpu'));

  it('grouped conv, asymmetric pads, LeakyRelu, ceil-mode max pool of negatives, average pool with pads, Flatten → Gemm, Softmax', async () => {
    const g = new Builder(13);
    const x = randomT([2, 4, 11, 10]);
    const w1 = randomT([6, 2, 3, 3], 0.5);
    const b1 = randomT([6], 0.1);
    const gemmW = randomT([5, 6 * 4 * 5], 0.2);
    const gemmC = randomT([5], 0.1);
    let t = g.node('Conv', ['x', g.weight(w1), g.weight(b1)], { group: { i: 2 }, kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 0, 2, 1] }, strides: { ints: [2, 1] } });
    t = g.node('LeakyRelu', [t], { alpha: { f: 0.1 } });
    t = g.node('MaxPool', [t], { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] }, ceil_mode: { i: 1 } });
    t = g.node('AveragePool', [t], { kernel_shape: { ints: [2, 2] }, strides: { ints: [1, 1] }, pads: { ints: [1, 1, 0, 0] }, count_include_pad: { i: 1 } });
    t = g.node('Flatten', [t], { axis: { i: 1 } });
    t = g.node('Gemm', [t, g.weight(gemmW), g.weight(gemmC)], { transB: { i: 1 }, alpha: { f: 0.5 }, beta: { f: 2 } });
    const y = g.node('Softmax', [t], { axis: { i: 1 } });

    let r = conv(x, w1, b1, 2, [1, 0, 2, 1], [2, 1]);
    r = map(r, (v) => (v < 0 ? 0.1 * v : v));
    r = pool(r, 'max', [3, 3], [2, 2], [1, 1, 1, 1], true, false);
    r = pool(r, 'avg', [2, 2], [1, 1], [1, 1, 0, 0], false, true);
    expect(r.shape).toEqual([2, 6, 4, 5]);
    r = { shape: [2, 120], data: r.data };
    r = broadcast(map(matmul(r, transpose2(gemmW)), (v) => 0.5 * v), gemmC, (a, b) => a + 2 * b);
    const expected = softmaxRows(r);

    const before = tf.memory().numTensors;
    const { values, layers } = await run(g.encode(x.shape, y), x);
    const classes = new Set(layers.layers.map((l) => l.getClassName()));
    expect(classes).toContain('OnnxGroupConv2D');
    expect(classes).toContain('OnnxMaxPool2D');
    expect(layers.layers.at(-1)?.getClassName()).toBe('Activation');
    layers.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expectClose('grouped conv … softmax', values, expected);
  });

  it('constants in arithmetic, Sub/Div, Clip, HardSigmoid, HardSwish, Pad, depthwise ×2, Concat, squeeze-excitation, ReduceMean, MatMul', async () => {
    const g = new Builder(13);
    const x = randomT([2, 3, 8, 9]);
    const scale = randomT([3, 1, 1]);
    const dw = randomT([6, 1, 3, 3], 0.5);
    const fc1 = randomT([4, 9, 1, 1], 0.5);
    const fc1b = randomT([4], 0.1);
    const fc2 = randomT([9, 4, 1, 1], 0.5);
    const mm = randomT([9, 7], 0.3);
    const bias = randomT([7], 0.1);
    let a = g.node('Mul', ['x', g.weight(scale)]);
    a = g.node('Sub', [g.weight(make([1], () => 0.25)), a]);
    a = g.node('Clip', [a, g.weight(make([], () => -1)), g.weight(make([], () => 2))]);
    const p = g.node('Pad', [a, g.ints([0, 0, 1, 2, 0, 0, 1, 0])]);
    let d = g.node('Conv', [p, g.weight(dw)], { group: { i: 3 }, kernel_shape: { ints: [3, 3] } });
    d = g.node('HardSwish', [d]);
    const b = g.node('Div', [a, g.node('Add', [a, g.weight(make([1], () => 3))])]);
    const c = g.node('Concat', [d, b], { axis: { i: 1 } });
    let s = g.node('GlobalAveragePool', [c]);
    s = g.node('Conv', [s, g.weight(fc1), g.weight(fc1b)], { kernel_shape: { ints: [1, 1] } });
    s = g.node('Relu', [s]);
    s = g.node('Conv', [s, g.weight(fc2)], { kernel_shape: { ints: [1, 1] } });
    s = g.node('HardSigmoid', [s], { alpha: { f: 1 / 6 }, beta: { f: 0.5 } });
    const se = g.node('Mul', [s, c], {}, '/se/Mul_output_0');
    let m = g.node('ReduceMean', [se], { axes: { ints: [2, 3] }, keepdims: { i: 0 } });
    m = g.node('MatMul', [m, g.weight(mm)]);
    const y = g.node('Add', [m, g.weight(bias)]);

    let ra = broadcast(x, scale, (u, v) => u * v);
    ra = map(ra, (v) => Math.min(2, Math.max(-1, 0.25 - v)));
    let rd = conv(padT(ra, [1, 2, 1, 0]), dw, undefined, 3, [0, 0, 0, 0], [1, 1]);
    rd = map(rd, (v) => v * hardSigmoid(v, 1 / 6, 0.5));
    const rb = map(ra, (v) => v / (v + 3));
    const rc = concatChannels(rd, rb);
    let rs = conv(globalMean(rc), fc1, fc1b, 1, [0, 0, 0, 0], [1, 1]);
    rs = map(rs, (v) => Math.max(0, v));
    rs = conv(rs, fc2, undefined, 1, [0, 0, 0, 0], [1, 1]);
    rs = map(rs, (v) => hardSigmoid(v, 1 / 6, 0.5));
    const rse = broadcast(rs, rc, (u, v) => u * v);
    const rm = globalMean(rse);
    const expected = broadcast(matmul({ shape: [2, 9], data: rm.data }, mm), bias, (u, v) => u + v);

    const { values, layers } = await run(g.encode(x.shape, y), x);
    expect(onnxLayerName(layers, '/se/Mul_output_0')).toBe('se/Mul_output_0');
    expect(layers.getLayer('se/Mul_output_0').getClassName()).toBe('Multiply');
    layers.dispose();
    expectClose('constants … MatMul', values, expected);
  });

  it('opset 10: Clip bounds and Pad as attributes, Reshape through the folded x.view(x.size(0), -1) chain', async () => {
    const g = new Builder(10);
    const x = randomT([1, 2, 5, 5]);
    const w = randomT([3, 2, 3, 3], 0.5);
    const fc = randomT([3 * 5 * 5, 4], 0.2);
    let t = g.node('Pad', ['x'], { pads: { ints: [0, 0, 1, 1, 0, 0, 1, 1] } });
    t = g.node('Conv', [t, g.weight(w)], { kernel_shape: { ints: [3, 3] } });
    t = g.node('Clip', [t], { min: { f: 0 }, max: { f: 0.5 } });
    const shape = g.node('Shape', [t]);
    const batch = g.node('Gather', [shape, g.ints([0])], { axis: { i: 0 } });
    const target = g.node('Concat', [batch, g.ints([-1])], { axis: { i: 0 } });
    t = g.node('Reshape', [t, target]);
    const y = g.node('MatMul', [t, g.weight(fc)]);

    let r = conv(padT(x, [1, 1, 1, 1]), w, undefined, 1, [0, 0, 0, 0], [1, 1]);
    r = map(r, (v) => Math.min(0.5, Math.max(0, v)));
    const expected = matmul({ shape: [1, 75], data: r.data }, fc);

    const { values, layers } = await run(g.encode(x.shape, y), x);
    expect(layers.layers.map((l) => l.getClassName())).toEqual(['InputLayer', 'ZeroPadding2D', 'Conv2D', 'ReLU', 'Flatten', 'Dense']);
    layers.dispose();
    expectClose('opset 10 chain', values, expected);
  });

  it('dilated SAME_UPPER conv, BatchNormalization (2-D and 1-D), PRelu, Elu, average pool excluding pads, Erf-built Gelu, GlobalMaxPool → Squeeze, Softplus, Gemm', async () => {
    const g = new Builder(13);
    const x = randomT([2, 3, 9, 8]);
    const w = randomT([4, 3, 3, 3], 0.5);
    const bn = [randomT([4], 0.5), randomT([4], 0.2), randomT([4], 0.2), map(randomT([4]), (v) => 0.5 + Math.abs(v))];
    const slope = randomT([4, 1, 1], 0.3);
    const bn1 = [randomT([4], 0.5), randomT([4], 0.2), randomT([4], 0.2), map(randomT([4]), (v) => 0.5 + Math.abs(v))];
    const fc = randomT([4, 3], 0.5);
    let t = g.node('Conv', ['x', g.weight(w)], { kernel_shape: { ints: [3, 3] }, dilations: { ints: [2, 2] }, auto_pad: { s: 'SAME_UPPER' } });
    t = g.node('BatchNormalization', [t, ...bn.map((b) => g.weight(b))], { epsilon: { f: 1e-3 } });
    t = g.node('PRelu', [t, g.weight(slope)]);
    t = g.node('Elu', [t], { alpha: { f: 0.5 } });
    t = g.node('AveragePool', [t], { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] }, count_include_pad: { i: 0 } });
    const e = g.node('Erf', [g.node('Div', [t, g.weight(make([], () => Math.SQRT2))])]);
    t = g.node('Mul', [g.node('Mul', [t, g.node('Add', [e, g.weight(make([], () => 1))])]), g.weight(make([], () => 0.5))]);
    t = g.node('GlobalMaxPool', [t]);
    t = g.node('Squeeze', [t, g.ints([2, 3])]);
    t = g.node('BatchNormalization', [t, ...bn1.map((b) => g.weight(b))]);
    t = g.node('Softplus', [t]);
    t = g.node('Dropout', [t]);
    const y = g.node('Gemm', [t, g.weight(fc)]);

    let r = conv(x, w, undefined, 1, [2, 2, 2, 2], [1, 1], [2, 2]);
    r = batchNormRef(r, bn[0], bn[1], bn[2], bn[3], 1e-3);
    r = broadcast(r, slope, (v, a) => (v < 0 ? a * v : v));
    r = map(r, (v) => (v < 0 ? 0.5 * (Math.exp(v) - 1) : v));
    r = pool(r, 'avg', [3, 3], [1, 1], [1, 1, 1, 1], false, false);
    r = map(r, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
    let m = globalMax(r);
    m = batchNormRef(m, bn1[0], bn1[1], bn1[2], bn1[3], 1e-5);
    m = map(m, (v) => Math.log1p(Math.exp(v)));
    const expected = matmul(m, fc);

    const { values, layers } = await run(g.encode(x.shape, y), x);
    const classes = layers.layers.map((l) => l.getClassName());
    expect(classes).toContain('PReLU');
    expect(classes).toContain('OnnxUnary');
    expect(classes.filter((c) => c === 'BatchNormalization').length).toBe(2);
    layers.dispose();
    expectClose('dilated conv … Gemm', values, expected);
  });
});
