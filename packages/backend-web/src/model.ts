// Loading models in a browser: the runtime's loader (the same checks, caps and LoadedModel as Node's) over a URL,
// the files a user picked, or files handed over from another worker.
import type * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '@easy-explain/core/internal';
import {
  buildLoadedModel,
  filesFromArtifacts,
  httpModelSource,
  isOnnxName,
  modelCapReason,
  readModelFiles,
  shardCapReason,
  type LoadedModel as SharedLoadedModel,
  type LoadModelOptions as SharedLoadModelOptions,
  type ModelFiles,
  type ModelFileSource,
} from '@easy-explain/runtime';

import { DEFAULT_MODEL_URL } from './default-model.js';

export { DEFAULT_MODEL_URL, type ModelFiles };
export type { ModelFormat } from '@easy-explain/runtime';

export interface LoadModelOptions extends SharedLoadModelOptions {
  /** Called once the model's files are in, with 1 (kept for callers of the earlier API). */
  onProgress?: (fraction: number) => void;
}

/** A loaded model, with the files it was built from (occlusion helper workers rebuild it from them, without a download). */
export interface LoadedModel extends SharedLoadedModel {
  readonly files: ModelFiles;
}

/** A URL, the files a user picked (model.json and its shards), ModelFiles handed over, or in-memory artifacts. */
export type ModelSource = string | URL | File[] | FileList | ModelFiles | tf.io.ModelArtifacts;

const baseName = (path: string) => path.split('/').pop() ?? path;

function isModelFiles(s: unknown): s is ModelFiles {
  const f = s as Partial<{ format: string; shards: unknown; bytes: unknown }>;
  return typeof s === 'object' && s !== null && typeof f.format === 'string' && (f.shards instanceof Map || f.bytes instanceof Uint8Array);
}

function isArtifacts(s: unknown): s is tf.io.ModelArtifacts {
  return typeof s === 'object' && s !== null && 'modelTopology' in s && !(s instanceof URL);
}

/**
 * The model among the files a user picked: an .onnx file, or model.json with its shards (matched by base name).
 */
function pickedFilesSource(files: File[]): ModelFileSource {
  const jsons = files.filter((f) => f.name.toLowerCase().endsWith('.json'));
  const json =
    files.find((f) => isOnnxName(f.name)) ?? jsons.find((f) => f.name === 'model.json') ?? jsons.find((f) => !/label|class/i.test(f.name)) ?? jsons[0];
  if (!json) throw new ExplainError('invalid_model', 'Pick an .onnx file, or the model.json file together with its weight shards (.bin files).');
  const byName = new Map(files.map((f) => [f.name, f]));
  const read = async (file: File, maxBytes: number, reason: string) => {
    if (file.size > maxBytes) throw new ExplainError('invalid_model', `"${file.name}" has ${file.size} bytes, more than ${maxBytes} (${reason}).`);
    return new Uint8Array(await file.arrayBuffer());
  };
  return {
    where: json.name,
    shardWhere: (name) => `"${baseName(name)}"`,
    readJson: (maxBytes) => read(json, maxBytes, modelCapReason(maxBytes)),
    async readShard(name, maxBytes, declared, budget) {
      const file = byName.get(baseName(name));
      if (!file) {
        throw new ExplainError(
          'model_not_found',
          `${json.name} needs the weight file "${baseName(name)}", which was not picked. Select model.json together with all its shards.`,
        );
      }
      if ((budget.left -= file.size) < 0) throw new ExplainError('invalid_model', `"${file.name}" goes past ${budget.reason}.`);
      return read(file, maxBytes, shardCapReason(declared));
    },
    close() {},
  };
}

function absoluteUrl(text: string): string {
  try {
    return new URL(text, globalThis.location?.href).href;
  } catch (cause) {
    throw new ExplainError('invalid_option', `Cannot load a model from "${text}": give a full http(s) URL, or one relative to the page.`, { cause });
  }
}

/**
 * Loads a TF.js model (LayersModel or GraphModel) or an ONNX model (converted to a LayersModel) from a URL (model.json
 * and its shards, or an .onnx file, each download checked and
 * bounded as in Node), from the files a user picked (read locally, nothing uploaded), or from files in memory.
 * Rejects with ExplainError: `model_not_found` (download failed, shards missing), `invalid_model` (not a model.json,
 * a hostile manifest, or a model whose input is not an image), `invalid_labels` (labels of another size).
 */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<LoadedModel> {
  // A relative URL (e.g. '/model/model.json') is relative to the page or worker, as fetch takes it.
  const url = typeof source === 'string' || source instanceof URL ? absoluteUrl(String(source)) : undefined;
  let files: ModelFiles;
  let where: string;
  if (url !== undefined) {
    files = await readModelFiles(httpModelSource(url, options.signal));
    where = url;
  } else if (isModelFiles(source)) {
    files = source;
    where = 'memory';
  } else if (isArtifacts(source)) {
    files = filesFromArtifacts(source);
    where = 'memory';
  } else {
    const picked = Array.from(source as ArrayLike<File>);
    files = await readModelFiles(pickedFilesSource(picked));
    where = `files: ${picked.map((f) => f.name).join(', ')}`;
  }
  options.onProgress?.(1);
  // The default model is a Keras MobileNet: pixels scaled to [-1, 1].
  const preset = options.preset ?? (url === DEFAULT_MODEL_URL ? 'mobilenet' : undefined);
  const model = await buildLoadedModel(files, where, { ...options, preset });
  return Object.assign(model, { files });
}
