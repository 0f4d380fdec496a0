// A ResNet-50 (torchvision's v1.5 layout, BatchNorm folded into the convolutions as PyTorch's export does) with
// seeded random weights, written as ONNX bytes without Python: a minimal protobuf encoder for the few onnx.proto
// messages a graph of Conv/Relu/MaxPool/Add/GlobalAveragePool/Flatten/Gemm needs. Random weights give meaningless
// classes but the real network's cost, which is all a speed benchmark needs.

// ---------- protobuf wire format ----------
function varint(value) {
  const bytes = [];
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
const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const key = (field, wire) => Uint8Array.from(varint((field << 3) | wire));
const int = (field, value) => concat([key(field, 0), Uint8Array.from(varint(value))]);
const bytes = (field, data) => concat([key(field, 2), Uint8Array.from(varint(data.length)), data]);
const str = (field, text) => bytes(field, new TextEncoder().encode(text));
const msg = (field, parts) => bytes(field, concat(parts));

// ---------- onnx.proto messages (field numbers from onnx.proto3) ----------
const FLOAT = 1;
const attrInts = (name, values) => msg(5, [str(1, name), int(20, 7), ...values.map((v) => int(8, v))]);
const attrInt = (name, value) => msg(5, [str(1, name), int(20, 2), int(3, value)]);
const node = (op, inputs, outputs, attributes = []) =>
  msg(1, [...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(3, outputs[0]), str(4, op), ...attributes]);
const initializer = (name, dims, data) =>
  msg(5, [...dims.map((d) => int(1, d)), int(2, FLOAT), str(8, name), bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))]);
const dim = (d) => msg(1, [typeof d === 'number' ? int(1, d) : str(2, d)]);
const valueInfo = (field, name, dims) => msg(field, [str(1, name), msg(2, [msg(1, [int(1, FLOAT), msg(2, dims.map(dim))])])]);

/** The ONNX bytes of ResNet-50: input `input` [batch,3,224,224], output `output` [batch,1000] logits. */
export function resnet50Onnx(seed = 1) {
  let state = seed >>> 0 || 1;
  // xorshift32: uniform in [-1, 1).
  const uniform = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 31 - 1;
  };
  const random = (length, scale) => {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = scale * uniform();
    return out;
  };
  const nodes = [];
  const inits = [];
  let count = 0;
  const conv = (x, cin, cout, k, stride, { relu = true, gain = 1 } = {}) => {
    const name = `conv${count++}`;
    // He-uniform weights (variance 2/fan_in), so activations keep their scale through 50 layers.
    const limit = gain * Math.sqrt(6 / (cin * k * k));
    const w = random(cout * cin * k * k, limit);
    const b = random(cout, 0.01);
    inits.push(initializer(`${name}.w`, [cout, cin, k, k], w), initializer(`${name}.b`, [cout], b));
    const pad = (k - 1) >> 1;
    nodes.push(node('Conv', [x, `${name}.w`, `${name}.b`], [name], [attrInts('kernel_shape', [k, k]), attrInts('strides', [stride, stride]), attrInts('pads', [pad, pad, pad, pad])]));
    if (!relu) return name;
    nodes.push(node('Relu', [name], [`${name}.relu`]));
    return `${name}.relu`;
  };
  let x = conv('input', 3, 64, 7, 2);
  nodes.push(node('MaxPool', [x], ['pool'], [attrInts('kernel_shape', [3, 3]), attrInts('strides', [2, 2]), attrInts('pads', [1, 1, 1, 1])]));
  x = 'pool';
  let channels = 64;
  [[64, 3, 1], [128, 4, 2], [256, 6, 2], [512, 3, 2]].forEach(([width, blocks, stride]) => {
    for (let b = 0; b < blocks; b++) {
      const s = b === 0 ? stride : 1;
      const out = width * 4;
      let y = conv(x, channels, width, 1, 1);
      y = conv(y, width, width, 3, s);
      // The residual branch's last conv small, so the sum stays bounded over 16 blocks (as BN's zero-init does).
      y = conv(y, width, out, 1, 1, { relu: false, gain: 0.2 });
      const shortcut = b === 0 ? conv(x, channels, out, 1, s, { relu: false }) : x;
      const sum = `add${count++}`;
      nodes.push(node('Add', [y, shortcut], [sum]), node('Relu', [sum], [`${sum}.relu`]));
      x = `${sum}.relu`;
      channels = out;
    }
  });
  nodes.push(node('GlobalAveragePool', [x], ['gap']), node('Flatten', ['gap'], ['flat'], [attrInt('axis', 1)]));
  const limit = Math.sqrt(6 / 2048);
  inits.push(
    initializer('fc.w', [1000, 2048], random(1000 * 2048, limit)),
    initializer('fc.b', [1000], new Float32Array(1000)),
  );
  nodes.push(node('Gemm', ['flat', 'fc.w', 'fc.b'], ['output'], [attrInt('transB', 1)]));
  const graph = msg(7, [
    ...nodes,
    str(2, 'resnet50'),
    ...inits,
    valueInfo(11, 'input', ['batch', 3, 224, 224]),
    valueInfo(12, 'output', ['batch', 1000]),
  ]);
  return concat([int(1, 7), str(2, 'easy-explain bench'), graph, msg(8, [str(1, ''), int(2, 13)])]);
}
