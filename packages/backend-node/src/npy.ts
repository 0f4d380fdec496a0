// NumPy's .npy format (version 1.0), float32 only: what `np.load` opens. The header is a Python dict literal padded
// with spaces to a multiple of 64 bytes and ended by a newline (NumPy's own writer aligns data that way), so the data
// starts aligned for a memory map. No Node APIs: usable from a browser too.
import { ExplainError } from '@easy-explain/core/internal';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;

/** A float32 array and its shape, C order (row-major). */
export interface NpyArray {
  data: Float32Array;
  shape: number[];
}

function checkShape(data: Float32Array, shape: readonly number[]): void {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0) || size !== data.length) {
    throw new ExplainError('invalid_option', `An .npy shape [${shape.join(', ')}] must hold the ${data.length} values it is given.`);
  }
}

/** Encodes a float32 array of the given shape as .npy bytes (little-endian '<f4', C order). */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  checkShape(data, shape);
  // Python's tuple syntax: a one-element tuple needs its trailing comma.
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`;
  const preamble = MAGIC.length + 2 + 2; // magic, version 1.0, header length (uint16)
  const padded = Math.ceil((preamble + dict.length + 1) / ALIGN) * ALIGN;
  const header = dict.padEnd(padded - preamble - 1, ' ') + '\n';
  const out = new Uint8Array(padded + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1; // major version
  out[7] = 0; // minor version
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  const view = new DataView(out.buffer, padded);
  // DataView with an explicit byte order: the file is little-endian whatever the host is.
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

/** Decodes .npy bytes written as float32 ('<f4'), C order, format 1.0–3.0: the inverse of {@link encodeNpy}. */
export function decodeNpy(bytes: Uint8Array): NpyArray {
  const fail = (why: string): never => {
    throw new ExplainError('invalid_option', `Not a float32 .npy file: ${why}.`);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('no \\x93NUMPY magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lengthBytes;
  let header = '';
  for (let i = start; i < start + headerLength; i++) header += String.fromCharCode(bytes[i]);
  if (!/'descr':\s*'<f4'/.test(header)) fail(`dtype is not '<f4' (header ${header.trim()})`);
  if (!/'fortran_order':\s*False/.test(header)) fail('Fortran order is not supported');
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? fail('no shape');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const size = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLength;
  if (bytes.length - dataStart !== size * 4) fail(`${bytes.length - dataStart} data bytes for shape (${shape.join(', ')})`);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = view.getFloat32(dataStart + i * 4, true);
  return { data, shape };
}
