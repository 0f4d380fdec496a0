// Just enough of ONNX's protobuf encoding to cut a network into pieces: read a model's nodes, initializers and
// opsets, and write sub-models made of the original node and initializer bytes with a new input and output.
// Field numbers are onnx.proto's (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto).
import { ExplainError } from '@easy-explain/core/internal';

type Value = bigint | Uint8Array | number;
interface Field {
  no: number;
  value: Value;
}

function fields(buffer: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= buffer.length) throw new Error('truncated varint');
      const byte = buffer[at++];
      result |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return result;
      shift += 7n;
    }
  };
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  while (at < buffer.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, value: BigInt.asIntN(64, varint()) });
    else if (wire === 2) {
      const length = Number(varint());
      if (at + length > buffer.length) throw new Error('truncated field');
      out.push({ no, value: buffer.subarray(at, at + length) });
      at += length;
    } else if (wire === 5) {
      out.push({ no, value: view.getFloat32(at, true) });
      at += 4;
    } else if (wire === 1) {
      out.push({ no, value: view.getFloat64(at, true) });
      at += 8;
    } else throw new Error(`unknown wire type ${wire}`);
  }
  return out;
}
const all = (list: Field[], no: number) => list.filter((f) => f.no === no).map((f) => f.value);
const bytesOf = (list: Field[], no: number) => all(list, no) as Uint8Array[];
const text = (value: Value | undefined) => (value instanceof Uint8Array ? new TextDecoder().decode(value) : '');
/** Repeated int64 fields, packed or not. */
function ints(list: Field[], no: number): number[] {
  const out: number[] = [];
  for (const value of all(list, no)) {
    if (typeof value === 'bigint') out.push(Number(value));
    else if (value instanceof Uint8Array) {
      // A packed run: varints back to back.
      let at = 0;
      while (at < value.length) {
        let result = 0n;
        let shift = 0n;
        for (;;) {
          const byte = value[at++];
          result |= BigInt(byte & 0x7f) << shift;
          if (!(byte & 0x80)) break;
          shift += 7n;
        }
        out.push(Number(BigInt.asIntN(64, result)));
      }
    }
  }
  return out;
}

export interface OnnxAttribute {
  i?: number;
  f?: number;
  s?: string;
  ints?: number[];
  /** A tensor attribute's TensorProto bytes (Constant's `value`). */
  t?: Uint8Array;
}
export interface OnnxNode {
  /** The NodeProto's bytes, copied as they are into sub-models. */
  raw: Uint8Array;
  op: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, OnnxAttribute>;
}
export interface OnnxTensor {
  dims: number[];
  /** Integer or float values (int64, int32, float). */
  values(): number[];
}
export interface OnnxGraph {
  irVersion: number;
  opsets: Uint8Array[];
  nodes: OnnxNode[];
  /** Initializer bytes (TensorProto) by name. */
  initializers: Map<string, Uint8Array>;
  input: string;
  output: string;
}

export function readTensor(raw: Uint8Array): OnnxTensor {
  const list = fields(raw);
  const type = Number(all(list, 2)[0] ?? 0);
  return {
    dims: ints(list, 1),
    values() {
      const data = bytesOf(list, 9)[0];
      if (data) {
        const copy = data.slice();
        if (type === 1) return Array.from(new Float32Array(copy.buffer));
        if (type === 7) return Array.from(new BigInt64Array(copy.buffer), Number);
        if (type === 6) return Array.from(new Int32Array(copy.buffer));
        throw new Error(`tensor data type ${type}`);
      }
      if (type === 7) return ints(list, 7);
      if (type === 6) return ints(list, 5);
      const floats = all(list, 4);
      return floats.flatMap((v) => (typeof v === 'number' ? [v] : v instanceof Uint8Array ? Array.from(new Float32Array(v.slice().buffer)) : []));
    },
  };
}

function readOnnxNode(raw: Uint8Array): OnnxNode {
  const list = fields(raw);
  const attributes = new Map<string, OnnxAttribute>();
  for (const a of bytesOf(list, 5)) {
    const f = fields(a);
    const float = all(f, 2)[0];
    attributes.set(text(all(f, 1)[0]), {
      i: all(f, 3).length ? Number(all(f, 3)[0]) : undefined,
      f: typeof float === 'number' ? float : undefined,
      s: all(f, 4).length ? text(all(f, 4)[0]) : undefined,
      ints: ints(f, 8),
      t: bytesOf(f, 5)[0],
    });
  }
  return { raw, op: text(all(list, 4)[0]), inputs: bytesOf(list, 1).map(text), outputs: bytesOf(list, 2).map(text), attributes };
}

/** The graph of ONNX model bytes: its nodes in order, initializers, opsets, one input and one output. */
export function readOnnx(bytes: Uint8Array): OnnxGraph {
  try {
    const model = fields(bytes);
    const graph = fields(bytesOf(model, 7)[0] ?? new Uint8Array());
    const initializers = new Map<string, Uint8Array>();
    for (const raw of bytesOf(graph, 5)) initializers.set(text(all(fields(raw), 8)[0]), raw);
    const nodes = bytesOf(graph, 1).map(readOnnxNode);
    const name = (raw: Uint8Array) => text(all(fields(raw), 1)[0]);
    const inputs = bytesOf(graph, 11).map(name).filter((n) => !initializers.has(n));
    const outputs = bytesOf(graph, 12).map(name);
    return { irVersion: Number(all(model, 1)[0] ?? 7), opsets: bytesOf(model, 8), nodes, initializers, input: inputs[0], output: outputs[0] };
  } catch (cause) {
    throw new ExplainError('invalid_model', `The ONNX bytes could not be read (${(cause as Error).message}); pass the bytes of a valid .onnx file.`, { cause });
  }
}

// ---------- writing ----------
function varintBytes(value: number): number[] {
  const bytes: number[] = [];
  let v = BigInt(value);
  if (v < 0n) v += 1n << 64n;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    bytes.push(byte);
  } while (v);
  return bytes;
}
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
const intField = (no: number, value: number) => Uint8Array.from([...varintBytes(no << 3), ...varintBytes(value)]);
/** The key and length of a length-delimited field, for writing its bytes after it without a copy of them. */
const fieldHeader = (no: number, length: number) => Uint8Array.from([...varintBytes((no << 3) | 2), ...varintBytes(length)]);
const bytesField = (no: number, data: Uint8Array) => concat([fieldHeader(no, data.length), data]);
const textField = (no: number, value: string) => bytesField(no, new TextEncoder().encode(value));
/** A tensor's ValueInfoProto (`type` a TensorProto data type, float by default); dims are numbers or symbolic names. */
function valueInfo(no: number, name: string, dims?: Array<number | string>, type = 1): Uint8Array {
  const shape = dims ? [bytesField(2, concat(dims.map((d) => bytesField(1, typeof d === 'number' ? intField(1, d) : textField(2, d)))))] : [];
  const tensorType = bytesField(1, concat([intField(1, type), ...shape]));
  return bytesField(no, concat([textField(1, name), bytesField(2, tensorType)]));
}

/**
 * A model of `nodes` (and the initializers they read, from the graph or `extra`) from `input` (float [N, C, H, W],
 * any sizes) to `outputs` (types left to onnxruntime's inference).
 */
export function subModel(graph: OnnxGraph, nodes: OnnxNode[], input: string, outputs: string[], extra = new Map<string, Uint8Array>()): Uint8Array {
  return graphModel(graph, nodes, [{ name: input, dims: ['n', 'c', 'h', 'w'] }], outputs, extra);
}

/** A graph input of a written model: float32 unless `type` says otherwise. */
export interface GraphInput {
  name: string;
  dims: Array<number | string>;
  type?: 'float32' | 'int32' | 'int64';
}

/** A model of `nodes` with several typed inputs (see `subModel`), under the opsets of `graph`. */
export function graphModel(
  graph: OnnxGraph,
  nodes: OnnxNode[],
  inputs: GraphInput[],
  outputs: string[],
  extra = new Map<string, Uint8Array>(),
  /** Shapes of inner tensors (value_info) that onnxruntime's inference cannot know (after a Reshape to given dims). */
  shapes: GraphInput[] = [],
): Uint8Array {
  const used = new Set(nodes.flatMap((n) => n.inputs));
  const initializers = [...used].map((name) => graph.initializers.get(name) ?? extra.get(name)).filter((raw): raw is Uint8Array => !!raw);
  // The weights are copied once, into the model's buffer: every copy of a fresh 100 MB buffer (ResNet-50) cost
  // ~0.3 s of page faults here, and four nested copies made a fused graph take 1.3 s to write.
  const body = [
    ...nodes.map((n) => bytesField(1, n.raw)),
    textField(2, 'piece'),
    ...initializers.flatMap((raw) => [fieldHeader(5, raw.length), raw]),
    ...inputs.map((i) => valueInfo(11, i.name, i.dims, TENSOR_TYPES[i.type ?? 'float32'])),
    ...outputs.map((o) => bytesField(12, textField(1, o))),
    ...shapes.map((v) => valueInfo(13, v.name, v.dims, TENSOR_TYPES[v.type ?? 'float32'])),
  ];
  const bodyLength = body.reduce((n, part) => n + part.length, 0);
  return concat([intField(1, graph.irVersion), textField(2, 'easy-explain'), fieldHeader(7, bodyLength), ...body, ...graph.opsets.map((o) => bytesField(8, o))]);
}

/** A new node of the default domain; attributes are ints or int lists. */
export function nodeProto(op: string, inputs: string[], outputs: string[], attributes: Record<string, number | number[]> = {}): OnnxNode {
  const attributeBytes = Object.entries(attributes).map(([name, value]) =>
    bytesField(
      5,
      Array.isArray(value)
        ? concat([textField(1, name), intField(20, 7), ...value.map((v) => intField(8, v))])
        : concat([textField(1, name), intField(20, 2), intField(3, value)]),
    ),
  );
  const raw = concat([...inputs.map((i) => textField(1, i)), ...outputs.map((o) => textField(2, o)), textField(4, op), ...attributeBytes]);
  return readOnnxNode(raw);
}

/** `node` reading and writing the tensors `rename` maps to new names (every other field kept as it is). */
export function renamedNode(node: OnnxNode, rename: Map<string, string>): OnnxNode {
  // Every NodeProto field is length-delimited, so the node is its fields written back in order.
  const raw = concat(
    fields(node.raw).map(({ no, value }) => {
      const bytes = value as Uint8Array;
      if (no !== 1 && no !== 2) return bytesField(no, bytes);
      const name = text(bytes);
      return textField(no, rename.get(name) ?? name);
    }),
  );
  return readOnnxNode(raw);
}

const TENSOR_TYPES: Record<string, number> = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 };

/** A TensorProto holding the values onnxruntime computed for `name`. */
export function tensorProto(name: string, type: string, dims: readonly number[], data: ArrayBufferView): Uint8Array {
  const code = TENSOR_TYPES[type];
  if (!code) throw new Error(`tensor type ${type}`);
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return concat([...dims.map((d) => intField(1, d)), intField(2, code), textField(8, name), bytesField(9, raw)]);
}
