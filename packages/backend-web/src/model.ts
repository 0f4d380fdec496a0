import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { asModel, ExplainError, parseLabels, type Labels, type Model, type OutputKind } from '@easy-explain/core';
// The 1000 ImageNet class names in the standard (Keras/PyTorch) order, as @tensorflow-models/mobilenet ships them.
import { IMAGENET_CLASSES } from '@tensorflow-models/mobilenet/dist/imagenet_classes.js';
import { checkPreset, type PresetName } from './preset.js';

import { DEFAULT_MODEL_URL } from './default-model.js';

export { DEFAULT_MODEL_URL };

export interface LoadModelOptions {
  /** What the model returns; detected from its last layers when omitted. */
  outputKind?: OutputKind;
  /** Preprocessing preset to record on the model; default 'mobilenet' for the default model, else 'imagenet'. */
  preset?: PresetName;
  /** A layer (LayersModel) or node (GraphModel) whose output holds the class scores. */
  outputLayer?: string;
  /** Class names (any format `parseLabels` reads); default ImageNet's for 1000-class models. */
  labels?: Labels | unknown;
  /** Called while weights download, from 0 to 1. */
  onProgress?: (fraction: number) => void;
}

export type ModelFormat = 'layers-model' | 'graph-model';

/** A Model loaded from a model.json, with where it came from and how to feed it (as backend-node's). */
export interface LoadedModel extends Model {
  /** The URL of model.json, or "files: model.json, …" / "memory". */
  readonly source: string;
  readonly format: ModelFormat;
  /** Preprocessing preset that suits the model. */
  readonly preset: PresetName;
  /** The model's class names, when known (1000-class models: ImageNet's). */
  readonly labels?: Labels;
  /** Number of classes the model outputs. */
  readonly classes: number;
  /** The underlying tf.LayersModel or tf.GraphModel. */
  readonly tfModel: LayersModel | GraphModel;
  /** The model.json and weights it was built from (occlusion helper workers rebuild it from them, without a download). */
  readonly artifacts: tf.io.ModelArtifacts;
  /** Frees the model's weights. */
  dispose(): void;
}

export type ModelSource = string | URL | File[] | FileList | tf.io.ModelArtifacts;

function isArtifacts(s: unknown): s is tf.io.ModelArtifacts {
  return typeof s === 'object' && s !== null && 'modelTopology' in s && !(s instanceof URL);
}

const baseName = (path: string) => path.split('/').pop() ?? path;

/** Artifacts from a picked model.json and its weight files; names what is missing instead of failing later. */
async function artifactsFromFiles(files: File[]): Promise<tf.io.ModelArtifacts> {
  const jsons = files.filter((f) => f.name.toLowerCase().endsWith('.json'));
  const json = jsons.find((f) => f.name === 'model.json') ?? jsons.find((f) => !/label|class/i.test(f.name)) ?? jsons[0];
  if (!json) throw new ExplainError('invalid_model', 'Pick the model.json file together with its weight shards (.bin files).');
  let config: tf.io.ModelJSON;
  try {
    config = JSON.parse(await json.text()) as tf.io.ModelJSON;
  } catch (cause) {
    throw new ExplainError('invalid_model', `"${json.name}" is not valid JSON; pick a TF.js model.json.`, { cause });
  }
  if (typeof config !== 'object' || config === null || !config.modelTopology || !Array.isArray(config.weightsManifest)) {
    throw new ExplainError('invalid_model', `"${json.name}" is not a TF.js model.json (it has no modelTopology and weightsManifest).`);
  }
  const byName = new Map(files.map((f) => [f.name, f]));
  const paths = config.weightsManifest.flatMap((group) => group.paths);
  const missing = paths.filter((p) => !byName.has(baseName(p)));
  if (missing.length > 0) {
    throw new ExplainError(
      'model_not_found',
      `${json.name} needs ${paths.length} weight file(s) that were not picked: ${missing.slice(0, 5).map(baseName).join(', ')}` +
        `${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}. Select model.json together with all its shards.`,
    );
  }
  const buffers = await Promise.all(paths.map((p) => byName.get(baseName(p))!.arrayBuffer()));
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    weightData.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return tf.io.getModelArtifactsForJSONSync(config, config.weightsManifest.flatMap((g) => g.weights), weightData.buffer);
}

async function artifactsFromUrl(url: string, onProgress?: (fraction: number) => void): Promise<tf.io.ModelArtifacts> {
  try {
    return await tf.io.http(url, { onProgress }).load!();
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new ExplainError('model_not_found', `Could not download the model from ${url}: ${why}`, { cause });
  }
}

function isGraph(artifacts: tf.io.ModelArtifacts): boolean {
  const topology = artifacts.modelTopology as { node?: unknown } | undefined;
  return artifacts.format === 'graph-model' || Array.isArray(topology?.node);
}

function imagenetLabels(): Labels {
  // First synonym only ("tabby, tabby cat" → "tabby"), as backend-node and imagenet_class_index.json name them.
  return parseLabels(Array.from({ length: 1000 }, (_, i) => String(IMAGENET_CLASSES[i]).split(',')[0].trim()));
}

/**
 * Loads a TF.js model (LayersModel or GraphModel) from a URL, from the files a user picked (model.json plus its
 * shards, read locally), or from in-memory artifacts. Rejects with ExplainError: `model_not_found` (download failed,
 * shards missing), `invalid_model` (not a model.json, or its input is not an image).
 */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const url = typeof source === 'string' || source instanceof URL ? String(source) : undefined;
  const artifacts = url
    ? await artifactsFromUrl(url, options.onProgress)
    : isArtifacts(source)
      ? source
      : await artifactsFromFiles(Array.from(source as ArrayLike<File>));
  const graph = isGraph(artifacts);
  let loaded: LayersModel | GraphModel;
  try {
    loaded = graph ? await loadGraphModel(tf.io.fromMemory(artifacts)) : await loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new ExplainError('invalid_model', `The model could not be built: ${why}`, { cause });
  }
  const inputShape = (graph ? (loaded as GraphModel).inputs[0]?.shape : (loaded as LayersModel).inputs[0]?.shape) as (number | null)[] | undefined;
  const channels = inputShape?.[3];
  if (!inputShape || inputShape.length !== 4 || (channels != null && channels > 0 && channels !== 1 && channels !== 3)) {
    loaded.dispose();
    throw new ExplainError(
      'invalid_model',
      `The model's input has shape [${inputShape?.map((d) => d ?? 'null').join(', ') ?? '?'}], not an image [N, H, W, 1 or 3]; ` +
        'easy-explain explains image classifiers.',
    );
  }
  const model = asModel(loaded as never, { outputKind: options.outputKind, outputLayer: options.outputLayer });
  const preset = checkPreset(options.preset ?? (url === DEFAULT_MODEL_URL ? 'mobilenet' : 'imagenet'));
  let labels: Labels | undefined;
  if (options.labels !== undefined) {
    const l = options.labels as Partial<Labels>;
    labels = typeof l === 'object' && l !== null && typeof l.name === 'function' ? (l as Labels) : parseLabels(options.labels);
  }
  const classes = await outputClasses(model);
  if (labels && labels.size !== classes) {
    loaded.dispose();
    throw new ExplainError('invalid_labels', `The model has ${classes} classes but the labels name ${labels.size}; pick the label file that belongs to it.`);
  }
  if (!labels && classes === 1000) labels = imagenetLabels();
  const where = url ?? (isArtifacts(source) ? 'memory' : `files: ${Array.from(source as ArrayLike<File>, (f) => f.name).join(', ')}`);
  const loadedModel: LoadedModel = {
    ...model,
    source: where,
    format: graph ? 'graph-model' : 'layers-model',
    preset,
    labels,
    classes,
    tfModel: loaded,
    artifacts,
    dispose: () => loaded.dispose(),
  };
  return loadedModel;
}
/** Number of classes, from one forward pass on zeros (output shapes in model.json are often unknown). */
async function outputClasses(model: Model): Promise<number> {
  const [h, w, c] = (model.inputShape ?? [224, 224, 3]).map((d) => (d > 0 ? d : 224));
  const scores = tf.tidy(() => model.predict(tf.zeros([1, h, w, c]) as tf.Tensor4D));
  try {
    if (scores.rank !== 2) throw new ExplainError('invalid_model', `The model returns shape [${scores.shape}], not class scores [N, classes].`);
    await scores.data();
    return scores.shape[1];
  } finally {
    scores.dispose();
  }
}
