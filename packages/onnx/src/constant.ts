// Constant tensors of an ONNX graph (initializers, Constant nodes, folded shape arithmetic), held as plain arrays.
// Shape computations are folded at conversion time; the batch size, unknown until run time, is NaN in them.
import { ExplainError } from '@easy-explain/core';
import type { TensorProto } from './proto.js';
import { num } from './proto.js';

export interface Constant {
  dims: number[];
  /** Float values in a Float32Array; integer (and boolean) values in a Float64Array, NaN for the batch size. */
  data: Float32Array | Float64Array;
  integer: boolean;
}

// TensorProto.DataType values.
const FLOAT = 1;
const DOUBLE = 11;
const INT64 = 7;
const INTEGER_TYPES: Record<number, { bytes: number; array: (b: ArrayBuffer) => ArrayLike<number | bigint> }> = {
  2: { bytes: 1, array: (b) => new Uint8Array(b) },
  3: { bytes: 1, array: (b) => new Int8Array(b) },
  4: { bytes: 2, array: (b) => new Uint16Array(b) },
  5: { bytes: 2, array: (b) => new Int16Array(b) },
  6: { bytes: 4, array: (b) => new Int32Array(b) },
  7: { bytes: 8, array: (b) => new BigInt64Array(b) },
  9: { bytes: 1, array: (b) => new Uint8Array(b) },
  12: { bytes: 4, array: (b) => new Uint32Array(b) },
  13: { bytes: 8, array: (b) => new BigUint64Array(b) },
};

export const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * A copy of raw little-endian bytes in a buffer of its own, so typed arrays are aligned. (`new Uint8Array(view)`
 * copies; a Node Buffer's slice() would not.)
 */
function ownBuffer(raw: Uint8Array): ArrayBuffer {
  return new Uint8Array(raw).buffer as ArrayBuffer;
}

/** Decodes an initializer or Constant value; refuses weights stored in external files and float16. */
export function decodeTensor(t: TensorProto, what: string): Constant {
  if (num(t.data_location) === 1 || (t.external_data?.length ?? 0) > 0) {
    throw new ExplainError(
      'invalid_model',
      `The ONNX model keeps tensor "${t.name ?? what}" in an external data file, which a single .onnx file cannot provide. ` +
        'Re-export with the weights inside the file (torch.onnx.export(..., external_data=False), or ' +
        'onnx.save_model(model, path, save_as_external_data=False) for models under 2 GB).',
    );
  }
  const dims = (t.dims ?? []).map(num);
  const n = size(dims);
  const type = num(t.data_type);
  const raw = t.raw_data && t.raw_data.length > 0 ? t.raw_data : undefined;
  let data: Float32Array | Float64Array;
  let integer = false;
  if (type === FLOAT) {
    data = raw ? new Float32Array(ownBuffer(raw), 0, n) : Float32Array.from(t.float_data ?? []);
  } else if (type === DOUBLE) {
    data = Float32Array.from(raw ? new Float64Array(ownBuffer(raw), 0, n) : (t.double_data ?? []));
  } else if (INTEGER_TYPES[type]) {
    integer = true;
    if (raw) {
      data = Float64Array.from(INTEGER_TYPES[type].array(ownBuffer(raw)) as ArrayLike<number>, (v) => Number(v));
    } else {
      const list = type === INT64 ? t.int64_data : type === 12 || type === 13 ? t.uint64_data : t.int32_data;
      data = Float64Array.from((list ?? []).map(num));
    }
  } else {
    throw new ExplainError(
      'invalid_model',
      `Tensor "${t.name ?? what}" has ONNX data type ${type} (${type === 10 ? 'float16' : type === 16 ? 'bfloat16' : 'unsupported'}); ` +
        'export the model in float32 (call model.float() before torch.onnx.export).',
    );
  }
  if (data.length !== n) {
    throw new ExplainError('invalid_model', `Tensor "${t.name ?? what}" holds ${data.length} values for shape [${dims}]; the file is damaged.`);
  }
  return { dims, data, integer };
}

export function constant(dims: number[], values: ArrayLike<number>, integer: boolean): Constant {
  return { dims, data: integer ? Float64Array.from(values) : Float32Array.from(values), integer };
}

export const values = (c: Constant): number[] => Array.from(c.data);

function strides(dims: number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** Calls `f(outIndex, multiIndex)` for every element of `dims` in C order. */
function forEachIndex(dims: number[], f: (flat: number, index: number[]) => void): void {
  const index = new Array<number>(dims.length).fill(0);
  const n = size(dims);
  for (let flat = 0; flat < n; flat++) {
    f(flat, index);
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
}

export function broadcastDims(a: number[], b: number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new ExplainError('invalid_model', `Shapes [${a}] and [${b}] do not broadcast.`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Element-wise binary operation with numpy broadcasting. */
export function binary(a: Constant, b: Constant, f: (x: number, y: number) => number, integer = a.integer && b.integer): Constant {
  const dims = broadcastDims(a.dims, b.dims);
  const rank = dims.length;
  const view = (c: Constant) => {
    const s = strides(c.dims);
    return dims.map((d, i) => {
      const axis = c.dims.length - rank + i;
      return axis < 0 || c.dims[axis] === 1 ? 0 : s[axis];
    });
  };
  const sa = view(a);
  const sb = view(b);
  const out = integer ? new Float64Array(size(dims)) : new Float32Array(size(dims));
  forEachIndex(dims, (flat, index) => {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      ia += index[d] * sa[d];
      ib += index[d] * sb[d];
    }
    out[flat] = f(a.data[ia], b.data[ib]);
  });
  return { dims, data: out, integer };
}

export function unary(a: Constant, f: (x: number) => number): Constant {
  return { dims: a.dims.slice(), data: a.data.map(f), integer: a.integer };
}

export function reshape(a: Constant, dims: number[]): Constant {
  if (size(dims) !== a.data.length) throw new ExplainError('invalid_model', `Cannot reshape [${a.dims}] to [${dims}].`);
  return { dims, data: a.data, integer: a.integer };
}

export function transpose(a: Constant, perm: number[]): Constant {
  const rank = a.dims.length;
  const dims = perm.map((p) => a.dims[p]);
  const out = a.integer ? new Float64Array(a.data.length) : new Float32Array(a.data.length);
  if (rank > 4) {
    const s = strides(a.dims);
    forEachIndex(dims, (flat, index) => {
      let source = 0;
      for (let d = 0; d < rank; d++) source += index[d] * s[perm[d]];
      out[flat] = a.data[source];
    });
    return { dims, data: out, integer: a.integer };
  }
  // Weights are large (11M values for ResNet-18): four plain nested loops over the output, ranks padded to 4.
  const pad = 4 - rank;
  const inStrides = [...new Array(pad).fill(0), ...strides(a.dims)];
  const p4 = [...new Array(pad).fill(0).map((_, i) => i), ...perm.map((p) => p + pad)];
  const d4 = [...new Array(pad).fill(1), ...dims];
  const [s0, s1, s2, s3] = p4.map((p) => inStrides[p]);
  const [n0, n1, n2, n3] = d4;
  let k = 0;
  for (let i0 = 0; i0 < n0; i0++)
    for (let i1 = 0; i1 < n1; i1++)
      for (let i2 = 0; i2 < n2; i2++) {
        const base = i0 * s0 + i1 * s1 + i2 * s2;
        for (let i3 = 0; i3 < n3; i3++) out[k++] = a.data[base + i3 * s3];
      }
  return { dims, data: out, integer: a.integer };
}

export function normaliseAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= Math.max(rank, 1)) throw new ExplainError('invalid_model', `Axis ${axis} is out of range for rank ${rank}.`);
  return a;
}

export function gather(a: Constant, indices: Constant, axis: number): Constant {
  const ax = normaliseAxis(axis, a.dims.length);
  const outer = size(a.dims.slice(0, ax));
  const inner = size(a.dims.slice(ax + 1));
  const n = a.dims[ax];
  const idx = Array.from(indices.data, (i) => (i < 0 ? i + n : i));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const i of idx) for (let k = 0; k < inner; k++) out.push(a.data[(o * n + i) * inner + k]);
  }
  return constant([...a.dims.slice(0, ax), ...indices.dims, ...a.dims.slice(ax + 1)], out, a.integer);
}

export function concat(parts: Constant[], axis: number): Constant {
  const ax = normaliseAxis(axis, parts[0].dims.length);
  const outer = size(parts[0].dims.slice(0, ax));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const chunk = size(p.dims.slice(ax));
      for (let k = 0; k < chunk; k++) out.push(p.data[o * chunk + k]);
    }
  }
  const dims = parts[0].dims.slice();
  dims[ax] = parts.reduce((sum, p) => sum + p.dims[ax], 0);
  return constant(dims, out, parts.every((p) => p.integer));
}

/** ONNX Slice on a constant (starts/ends clamped as the spec says, negative steps included). */
export function slice(a: Constant, starts: number[], ends: number[], axes: number[], steps: number[]): Constant {
  const rank = a.dims.length;
  const ranges = a.dims.map((d) => ({ start: 0, step: 1, count: d }));
  axes.forEach((axis, i) => {
    const ax = normaliseAxis(axis, rank);
    const d = a.dims[ax];
    const step = steps[i] ?? 1;
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    const start = step > 0 ? clamp(starts[i], 0, d) : clamp(starts[i], 0, d - 1);
    const end = step > 0 ? clamp(ends[i], 0, d) : clamp(ends[i], -1, d - 1);
    const count = Math.max(0, Math.ceil((end - start) / step));
    ranges[ax] = { start, step, count };
  });
  const dims = ranges.map((r) => r.count);
  const s = strides(a.dims);
  const out: number[] = [];
  forEachIndex(dims, (_flat, index) => {
    let source = 0;
    for (let d = 0; d < rank; d++) source += (ranges[d].start + index[d] * ranges[d].step) * s[d];
    out.push(a.data[source]);
  });
  return constant(dims, out, a.integer);
}
