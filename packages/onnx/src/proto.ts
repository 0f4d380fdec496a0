// Decoding of .onnx files with protobufjs and the official onnx.proto schema.
import protobuf from 'protobufjs';
import { ONNX_PROTO } from './onnx-schema.js';

/** int64 fields decode as Long objects when the long package is present, as numbers otherwise. */
type Int64 = number | { toNumber(): number };

export function num(value: Int64 | null | undefined): number {
  if (value == null) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

export interface TensorProto {
  name?: string;
  dims?: Int64[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: Int64[];
  uint64_data?: Int64[];
  double_data?: number[];
  raw_data?: Uint8Array;
  external_data?: unknown[];
  data_location?: number;
}

export interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: Int64[];
  ref_attr_name?: string;
}

export interface NodeProto {
  name?: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
}

export interface ValueInfoProto {
  name: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: Array<{ dim_value?: Int64; dim_param?: string }> } } };
}

export interface GraphProto {
  name?: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
}

export interface ModelProto {
  ir_version?: Int64;
  opset_import: Array<{ domain?: string; version?: Int64 }>;
  producer_name?: string;
  graph?: GraphProto;
}

let modelType: protobuf.Type | undefined;

/** The protobufjs type of onnx.ModelProto (parsed from the schema once). */
export function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

/** Decodes ModelProto bytes; throws protobufjs's error on bytes that are not a valid message. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnxModelType().decode(bytes) as unknown as ModelProto;
}
