// Type-checked (tsc --noEmit, strict, NodeNext) against the installed packages' declarations; never run.
import * as tf from '@tensorflow/tfjs-core';
import {
  asModel,
  ExplainError,
  IMAGENET_CLASSES,
  Occlusion,
  parseLabels,
  predictClasses,
  preprocess,
  type Attributor,
  type Labels,
  type Model,
  type OcclusionOptions,
  type Prediction,
} from '@easy-explain/core';
import { colormap, normalizeAttr, visualizeImageAttr, type HWC, type VisMethod, type VisSign } from '@easy-explain/viz';
import * as node from '@easy-explain/backend-node';
import * as web from '@easy-explain/backend-web';

export async function explain(modelPath: string, imagePath: string): Promise<Prediction[]> {
  const backend: string = await node.setupBackend('auto');
  const model: node.LoadedModel = await node.loadModel(modelPath);
  const input: tf.Tensor4D = preprocess(await node.loadImage(imagePath), 'mobilenet');
  const labels: Labels = model.labels ?? parseLabels([...IMAGENET_CLASSES]);
  const predictions = await predictClasses(model, input, labels, 5);
  const options: OcclusionOptions = { target: predictions[0].index, slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3], baselines: 0 };
  const attributor: Attributor<OcclusionOptions> = new Occlusion(model);
  const map: tf.Tensor4D = await attributor.attribute(input, options);
  map.dispose();
  console.log(backend);
  return predictions;
}

// A plain function over the app's own tfjs-core tensors is a Model.
export const toy: Model = asModel((x: tf.Tensor4D) => tf.zeros([x.shape[0], 10]) as tf.Tensor2D, { outputKind: 'logits' });

export function figure(attr: HWC, image: HWC) {
  const method: VisMethod = 'blended_heat_map';
  const sign: VisSign = 'all';
  const normalized: Float32Array = normalizeAttr(attr, sign);
  return { normalized, panel: visualizeImageAttr(attr, image, { method, sign, cmap: colormap('RdWhGn') }) };
}

export async function inBrowser(files: File[]): Promise<string> {
  await web.setupBackend();
  const model = await web.loadModel(files);
  return model.source;
}

export function code(error: unknown): string | undefined {
  return error instanceof ExplainError ? error.code : undefined;
}

// @ts-expect-error -- a window is [h, w, c], and target is a class index: the types must reject this.
export const wrong: OcclusionOptions = { target: 'cat', slidingWindowShapes: [45, 45] };
