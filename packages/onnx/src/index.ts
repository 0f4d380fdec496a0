export { VERSION } from './version.js';
// @easy-explain/onnx: ONNX image classifiers (e.g. PyTorch exports) as TF.js LayersModels that every method of
// easy-explain understands (gradients, Grad-CAM by layer name, incremental Occlusion).
import type * as tfl from '@tensorflow/tfjs-layers';
import { convert, sanitiseName, type ConvertOptions, type OnnxLayerNames } from './convert.js';

export { isOnnx, sanitiseName, SUPPORTED_OPS, type ConvertOptions, type OnnxLayerNames } from './convert.js';
export { CUSTOM_LAYER_CLASSES } from './layers.js';

const NAMES = new WeakMap<object, OnnxLayerNames>();

/**
 * Converts ONNX bytes (one float image input [N,C,H,W], one output [N, classes]) into a functional tf.LayersModel
 * that takes NHWC images [N,H,W,C]. Layers are named after the ONNX tensors they compute (see `onnxLayerName`).
 * Throws ExplainError('invalid_model') for bytes that are not ONNX, external weight files, several inputs,
 * non-image inputs and unsupported operators or attributes (naming the node). Creates the weights on the current
 * TF.js backend; dispose the model to free them.
 */
export async function convertOnnx(bytes: Uint8Array, options: ConvertOptions = {}): Promise<tfl.LayersModel> {
  const { model, layerNames } = convert(bytes, options);
  NAMES.set(model, layerNames);
  return model;
}

/**
 * The layer of a converted model that computes an ONNX tensor or node, e.g.
 * `onnxLayerName(model, '/layer4/layer4.1/relu_1/Relu_output_0')` → 'layer4/layer4.1/relu_1/Relu_output_0' (pass it
 * to Grad-CAM). Tensors that converted to no layer of their own (Identity, Dropout, Flatten of pooled features) name
 * the layer computing their value. A name that already is a layer name is returned as is.
 */
export function onnxLayerName(model: tfl.LayersModel, onnxName: string): string {
  const names = NAMES.get(model) ?? {};
  if (names[onnxName]) return names[onnxName];
  if (model.layers.some((l) => l.name === onnxName)) return onnxName;
  const sanitised = sanitiseName(onnxName);
  if (model.layers.some((l) => l.name === sanitised)) return sanitised;
  return onnxName;
}

/** Every ONNX tensor and node name of a converted model with the layer computing it. */
export function onnxLayerNames(model: tfl.LayersModel): OnnxLayerNames {
  return { ...(NAMES.get(model) ?? {}) };
}
