// Loaded models, once for both platforms: reading a model.json and its shards through a platform's file source
// (checked and bounded), format detection, the checks that a model is an image classifier, and the LoadedModel
// both backends return. A platform adds only where bytes come from (disk, a download, picked files).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { convertOnnx, isOnnx, onnxLayerName } from '@easy-explain/onnx';
import { asModel, ExplainError, IMAGENET_CLASSES, parseLabels, type Labels, type Model, type OutputKind, type PreprocessPreset } from '@easy-explain/core';
import { checkPreset } from '@easy-explain/core/internal';
import { firstLine } from './backends.js';
import { download, MODEL_JSON_MAX_BYTES, MODEL_MAX_BYTES, SHARD_MAX_BYTES, shardUrl, type ByteBudget } from './download.js';
import { imagenetLabels } from './labels.js';
import { validateWeightsManifest } from './manifest.js';
import { printable } from './text.js';

/** The model `@tensorflow-models/mobilenet` 1.x loads for version 1, alpha 0.75: the default model of both platforms. */
export const DEFAULT_MODEL_URL = 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.75_224/model.json';

export type ModelFormat = 'layers-model' | 'graph-model' | 'onnx';

/**
 * A model's files in memory (what workers are handed to rebuild a model): a TF.js model.json with its weight shards,
 * or the bytes of an ONNX file.
 */
export type ModelFiles =
  | { format: 'layers-model' | 'graph-model'; json: tf.io.ModelJSON; shards: Map<string, Uint8Array> }
  | { format: 'onnx'; bytes: Uint8Array };

/** An ONNX file as the name says it, before its content does (`.onnx`, query string and fragment ignored). */
export function isOnnxName(where: string): boolean {
  return /\.onnx$/i.test(where.replace(/[?#].*$/, ''));
}

/** A Model loaded from files, with where it came from and how to feed it: the same on both platforms. */
export interface LoadedModel extends Model {
  /** Where it came from: a path, a URL, "files: …" or "memory". */
  readonly source: string;
  readonly format: ModelFormat;
  /** Preprocessing preset that suits the model, when known (MobileNets: 'mobilenet'). */
  readonly preset?: PreprocessPreset;
  /** The model's class names: the ones given, else ImageNet's for a 1000-class model. */
  readonly labels?: Labels;
  /** Number of classes the model outputs. */
  readonly classes: number;
  /** The underlying tf.LayersModel (also what an ONNX model converts to) or tf.GraphModel. */
  readonly tfModel: tfl.LayersModel | tfc.GraphModel;
  /**
   * The model's own name for a layer: for ONNX models an ONNX tensor or node name (e.g. `/layer4/layer4.1/relu_1/Relu`)
   * becomes the converted layer's; other names are returned as they are.
   */
  resolveLayer(name: string): string;
  /** Frees the model's weights (and its occlusion workers, where the platform gave it some). */
  dispose(): void;
}

export interface LoadModelOptions {
  /** What the model returns; detected from its last layers when omitted. */
  outputKind?: OutputKind;
  /** Layer (LayersModel) or node (GraphModel) whose output holds the class scores. */
  outputLayer?: string;
  /** Preprocessing preset to record on the model; default 'mobilenet' for MobileNets, else none (runEasyExplain then uses 'imagenet'). */
  preset?: PreprocessPreset;
  /** Class names (Labels, an array of names, or parsed JSON `parseLabels` reads); default ImageNet's for 1000 classes. */
  labels?: Labels | readonly string[] | unknown;
  /** Aborts a download. */
  signal?: AbortSignal;
}

/** Where a model.json and its shards come from; each platform has its own (files on disk, URLs, picked files). */
export interface ModelFileSource {
  /** Where model.json is, for messages. */
  readonly where: string;
  /** Human-readable location of a shard. */
  shardWhere(name: string): string;
  /** The model file's bytes (model.json, or an .onnx file), at most `maxBytes`. */
  readJson(maxBytes: number): Promise<Uint8Array>;
  /**
   * A shard's bytes; more than `maxBytes` is an error (`declared`: the cap is the size model.json declares), and so is
   * running out of `budget`, shared by the shards of the model.
   */
  readShard(name: string, maxBytes: number, declared: boolean, budget: ByteBudget): Promise<Uint8Array>;
  /** Ends reads still in flight (a sibling shard failed). */
  close(): void;
}

/** Why a shard may hold only so many bytes, for messages. */
export function shardCapReason(declared: boolean): string {
  return declared ? 'the size model.json declares for its weights' : `the ${SHARD_MAX_BYTES}-byte cap on one shard`;
}

/** model.json at a URL, shards next to it with its query string; every download bounded in size and time. */
export function httpModelSource(modelJson: string, signal?: AbortSignal): ModelFileSource {
  // One signal for the reads of this model: the caller's abort, or close() when a sibling shard failed.
  const reads = new AbortController();
  const onAbort = () => reads.abort(signal?.reason);
  if (signal?.aborted) reads.abort(signal.reason);
  else signal?.addEventListener('abort', onAbort, { once: true });
  const get = (url: string, what: string, maxBytes: number, reason: string, budget?: ByteBudget) =>
    download(url, { what, maxBytes, capReason: reason, budget, failCode: 'model_not_found', tooLargeCode: 'invalid_model', signal: reads.signal }).catch(
      (error: unknown) => {
        // The shared signal also fires on close(); only the caller's abort is an abort.
        if (error instanceof ExplainError && error.code === 'aborted' && signal?.aborted !== true) {
          throw new ExplainError('model_not_found', `The download of ${url} was stopped.`, { cause: error });
        }
        throw error;
      },
    );
  return {
    where: modelJson,
    shardWhere: (name) => shardUrl(modelJson, name),
    readJson: (maxBytes) => get(modelJson, 'the model file', maxBytes, modelCapReason(maxBytes)),
    readShard: (name, maxBytes, declared, budget) => get(shardUrl(modelJson, name), 'the weight shard', maxBytes, shardCapReason(declared), budget),
    close() {
      signal?.removeEventListener('abort', onAbort);
      reads.abort();
    },
  };
}

/** Why the model file may hold only so many bytes, for messages. */
export function modelCapReason(maxBytes: number): string {
  return maxBytes === MODEL_JSON_MAX_BYTES ? 'the cap on a model.json' : 'the cap on one model';
}

/** A format from model.json's own words: GraphModels say so, or have a node list. */
export function detectFormat(json: tf.io.ModelJSON): 'layers-model' | 'graph-model' {
  const topology = json.modelTopology as { node?: unknown };
  return json.format === 'graph-model' || Array.isArray(topology.node) ? 'graph-model' : 'layers-model';
}

/**
 * Reads model.json and every shard it names. The whole weightsManifest is checked first (shard names stay inside the
 * model's folder), so nothing is fetched for a hostile file; then each group must have exactly the bytes it declares.
 */
export async function readModelFiles(source: ModelFileSource): Promise<ModelFiles> {
  try {
    return await readAll(source);
  } finally {
    source.close();
  }
}

async function readAll(source: ModelFileSource): Promise<ModelFiles> {
  // ONNX files are read whole, up to the cap on one model; anything else as a model.json, under its own cap.
  const onnxByName = isOnnxName(source.where);
  const raw = await source.readJson(onnxByName ? MODEL_MAX_BYTES : MODEL_JSON_MAX_BYTES);
  if (onnxByName) {
    if (!isOnnx(raw)) throw notAModel(source.where, raw);
    return { format: 'onnx', bytes: raw };
  }
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(new TextDecoder().decode(raw)) as tf.io.ModelJSON;
  } catch {
    // Detected by content: an ONNX file under another name.
    if (isOnnx(raw)) return { format: 'onnx', bytes: raw };
    throw notAModel(source.where, raw);
  }
  if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' || json.modelTopology === null) {
    throw new ExplainError('invalid_model', `${source.where} has no modelTopology; it is not a TF.js model.json.`);
  }
  const groups = validateWeightsManifest(json, source.where);
  // All shards together may read what model.json declares (string weights: no size known) and never past the cap.
  const declaredTotal = groups.every((g) => g.bytes !== undefined) ? groups.reduce((a, g) => a + g.bytes!, 0) : undefined;
  if (declaredTotal !== undefined && declaredTotal > MODEL_MAX_BYTES) {
    throw new ExplainError('invalid_model', `${source.where} declares ${declaredTotal} bytes of weights, more than ${MODEL_MAX_BYTES} (the cap on one model).`);
  }
  const budget: ByteBudget =
    declaredTotal !== undefined
      ? { left: declaredTotal, reason: `the ${declaredTotal} bytes model.json declares for all its weights` }
      : { left: MODEL_MAX_BYTES, reason: `the ${MODEL_MAX_BYTES}-byte cap on one model's weights` };
  const shards = new Map<string, Uint8Array>();
  // Shards are independent files: fetch each group's shards concurrently, groups one after another.
  for (const [g, group] of groups.entries()) {
    // Each shard is read up to what its group declares (a shard cannot hold more), and never past the hard cap.
    const declared = group.bytes !== undefined && group.bytes <= SHARD_MAX_BYTES;
    const cap = declared ? group.bytes! : SHARD_MAX_BYTES;
    const buffers = await Promise.all(group.paths.map((p) => source.readShard(p, cap, declared, budget)));
    group.paths.forEach((p, i) => shards.set(p, buffers[i]));
    const expected = group.bytes;
    const actual = buffers.reduce((a, b) => a + b.length, 0);
    if (expected !== undefined && expected !== actual) {
      const files = group.paths.map((p) => source.shardWhere(p)).join(', ');
      const subject = group.paths.length === 1 ? `The weight shard ${files} has` : `Weight group ${g + 1} (${files}) has`;
      throw new ExplainError(
        'invalid_model',
        `${subject} ${actual} bytes but model.json says its weights need ${expected}; the file is truncated or belongs to another model.`,
      );
    }
  }
  return { json, shards, format: detectFormat(json) };
}

function notAModel(where: string, raw: Uint8Array): ExplainError {
  const looksJson = /\.json$/i.test(where.replace(/[?#].*$/, '')) || /^\s*[{[]/.test(new TextDecoder().decode(raw.subarray(0, 64)));
  const what =
    raw.length === 0 ? 'is empty' : looksJson ? 'is not JSON (it is truncated or damaged)' : 'is neither a TF.js model.json nor an ONNX model (or it is truncated)';
  return new ExplainError('invalid_model', `${where} ${what}; pass a TF.js model.json or a .onnx file exported from PyTorch.`);
}

/** In-memory tf.io.ModelArtifacts (weights in one buffer) as ModelFiles. */
export function filesFromArtifacts(artifacts: tf.io.ModelArtifacts): ModelFiles {
  const weightData = artifacts.weightData;
  const bytes = weightData === undefined ? new Uint8Array(0) : new Uint8Array(Array.isArray(weightData) ? tf.io.concatenateArrayBuffers(weightData) : weightData);
  const json = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
  } as tf.io.ModelJSON;
  return { json, shards: new Map([['weights.bin', bytes]]), format: detectFormat(json) };
}

function concat(parts: Uint8Array[]): ArrayBuffer {
  const total = parts.reduce((a, b) => a + b.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out.buffer;
}

function handlerFor(files: Extract<ModelFiles, { json: unknown }>): tf.io.IOHandler {
  return {
    load: () =>
      tf.io.getModelArtifactsForJSON(files.json, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights);
        const data = concat(manifest.flatMap((group) => group.paths.map((p) => files.shards.get(p)!)));
        return [specs, data];
      }),
  };
}

function checkImageModel(model: tfl.LayersModel | tfc.GraphModel, where: string): void {
  const count = model.inputs.length;
  if (count !== 1) {
    throw new ExplainError('invalid_model', `${where} has ${count} inputs; easy-explain needs a model with one image input [N,H,W,C].`);
  }
  const shape = model.inputs[0]?.shape as readonly (number | null)[] | undefined;
  // A GraphModel may leave its input shape unspecified; it is checked again when first run.
  if (shape === undefined && model instanceof tfc.GraphModel) return;
  const channels = shape?.[3];
  if (!shape || shape.length !== 4 || (channels != null && channels > 0 && channels !== 1 && channels !== 3)) {
    throw new ExplainError(
      'invalid_model',
      `${where} takes input of shape [${shape?.map((d) => d ?? 'null').join(',')}], not an image batch [N,H,W,1 or 3]; easy-explain explains image classifiers.`,
    );
  }
  if (model instanceof tfl.LayersModel && model.outputs.length === 1) {
    const out = model.outputs[0]?.shape;
    if (out && !isClassScores(out)) throw notClassScores(where, out);
  }
}

/** [N, classes], or [N,1,1,classes] (squeezed): anything else is a map, not one score per class. */
function isClassScores(shape: readonly (number | null)[]): boolean {
  return shape.length === 2 || (shape.length > 2 && shape.slice(1, -1).every((d) => d === 1));
}

function notClassScores(where: string, shape: readonly (number | null)[], node?: string): ExplainError {
  const at = node === undefined ? '' : ` at node "${printable(node)}"`;
  return new ExplainError(
    'invalid_model',
    `${where} outputs shape [${shape.map((d) => d ?? 'null').join(',')}]${at}, not class scores [N, classes]; ` +
      'use a classifier, or pass outputLayer naming the layer or node that holds the class scores.',
  );
}

/**
 * Runs a GraphModel once on zeros (when its input size is known), so an op TF.js lacks, a graph that cannot run, or
 * an output that is not class scores is an `invalid_model` error at load, not a failure in the middle of a method.
 */
function probeGraph(model: tfc.GraphModel, where: string, outputLayer: string | undefined): void {
  const shape = model.inputs[0]?.shape;
  if (!shape || shape.length !== 4 || shape.slice(1).some((d) => d == null || d <= 0)) return;
  const batch = shape[0] != null && shape[0] > 0 ? shape[0] : 1;
  const node = outputLayer ?? model.outputNodes[0];
  let out: number[] | undefined;
  try {
    out = tf.tidy(() => {
      const y = model.execute(tf.zeros([batch, shape[1], shape[2], shape[3]]), node);
      return y instanceof tf.Tensor ? y.shape : undefined;
    });
  } catch (cause) {
    throw new ExplainError('invalid_model', `${where} cannot run in TF.js: ${printable(firstLine(cause))}`, { cause });
  }
  if (out && !isClassScores(out)) throw notClassScores(where, out, node);
}

/** A GraphModel exported with a fixed batch size asserts on any other batch deep inside TF.js; say it plainly instead. */
function guardFixedBatch(model: Model, inner: tfc.GraphModel, where: string): void {
  const batch = inner.inputs[0]?.shape?.[0];
  if (batch == null || batch <= 0) return;
  const check = (images: tf.Tensor4D) => {
    if (images.shape[0] !== batch) {
      throw new ExplainError(
        'invalid_model',
        `${where} takes a fixed batch of ${batch} image(s), but this method evaluates ${images.shape[0]} at once; ` +
          're-export the model with a variable batch size (None or -1).',
      );
    }
  };
  const m = model as { -readonly [K in keyof Model]: Model[K] };
  const { predict, predictWithLayer, scoresFromLayer } = model;
  m.predict = (images) => (check(images), predict.call(model, images));
  if (predictWithLayer) m.predictWithLayer = (images, layer) => (check(images), predictWithLayer.call(model, images, layer));
  if (scoresFromLayer) m.scoresFromLayer = (images, layer, a) => (check(images), scoresFromLayer.call(model, images, layer, a));
}

function modelName(json: tf.io.ModelJSON): string {
  const t = json.modelTopology as { config?: { name?: unknown }; model_config?: { config?: { name?: unknown } } };
  const name = t.model_config?.config?.name ?? t.config?.name;
  return typeof name === 'string' ? name : '';
}

/** Number of classes: one forward pass on zeros (output shapes in model.json are often unknown). */
function countClasses(model: Model, inner: tfl.LayersModel | tfc.GraphModel): number {
  const [h, w, c] = (model.inputShape ?? [224, 224, 3]).map((d) => (d > 0 ? d : 224));
  const fixed = inner.inputs[0]?.shape?.[0];
  const batch = fixed != null && fixed > 0 ? fixed : 1;
  return tf.tidy(() => model.predict(tf.zeros([batch, h, w, c]) as tf.Tensor4D).shape[1]);
}

function toLabels(given: LoadModelOptions['labels']): Labels | undefined {
  if (given === undefined) return undefined;
  const l = given as Partial<Labels>;
  if (typeof l === 'object' && l !== null && typeof l.name === 'function' && typeof l.size === 'number') return given as Labels;
  return parseLabels(given);
}

/**
 * Builds a LoadedModel from files in memory (`where` names them in messages): loads the LayersModel or GraphModel,
 * checks it is an image classifier, counts its classes, and attaches labels (the given ones must match the class
 * count; a 1000-class model gets ImageNet's) and a preset. The platform adds its own extras (workers) around it.
 */
export async function buildLoadedModel(files: ModelFiles, where: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  let inner: tfl.LayersModel | tfc.GraphModel;
  try {
    if (files.format === 'onnx') inner = await convertOnnx(files.bytes, { name: where.split(/[\\/]/).pop() });
    else inner = files.format === 'graph-model' ? await tfc.loadGraphModel(handlerFor(files)) : await tfl.loadLayersModel(handlerFor(files));
  } catch (cause) {
    if (cause instanceof ExplainError) throw new ExplainError(cause.code, `${where}: ${cause.message}`, { cause });
    throw new ExplainError('invalid_model', `${where} could not be loaded as a ${files.format}: ${printable(firstLine(cause))}`, { cause });
  }
  try {
    checkImageModel(inner, where);
    if (inner instanceof tfc.GraphModel) probeGraph(inner, where, options.outputLayer);
    const model = asModel(inner, { outputKind: options.outputKind, outputLayer: options.outputLayer });
    if (inner instanceof tfc.GraphModel) guardFixedBatch(model, inner, where);
    const classes = countClasses(model, inner);
    let labels = toLabels(options.labels);
    if (labels && labels.size !== classes) {
      throw new ExplainError('invalid_labels', `The model has ${classes} classes but the labels name ${labels.size}; pick the label file that belongs to it.`);
    }
    if (!labels && classes === IMAGENET_CLASSES.length) labels = imagenetLabels();
    // Keras MobileNets scale pixels to [-1, 1]; other models get the preset the caller asks for.
    const named = files.format !== 'onnx' && /mobilenet/i.test(modelName(files.json));
    const preset = options.preset !== undefined ? checkPreset(options.preset) : named ? 'mobilenet' : undefined;
    const converted = inner;
    const resolveLayer = files.format === 'onnx' ? (name: string) => onnxLayerName(converted as tfl.LayersModel, name) : (name: string) => name;
    return Object.assign(model, {
      resolveLayer,
      source: where,
      format: files.format,
      preset,
      labels,
      classes,
      tfModel: inner,
      dispose: () => inner.dispose(),
    });
  } catch (error) {
    inner.dispose();
    throw error;
  }
}
