import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import {
  cachedModelDir,
  defaultCacheDir,
  DEFAULT_MODEL_URL,
  loadDefaultModel,
  loadModel,
  setupBackend,
} from '@easy-explain/backend-node';
import { closedPort, EMOTION, MOBILENET, removeDir, saveTinyModel, serveFolder, tempDir } from './helpers';

let dir: string;
beforeAll(async () => {
  await setupBackend('wasm');
  dir = tempDir();
});
afterAll(() => removeDir(dir));

describe('loadModel', () => {
  it('loads a LayersModel from a path, a folder and a file:// URL, and frees it on dispose', async () => {
    const before = tf.memory().numTensors;
    for (const source of [MOBILENET, join(MOBILENET, '..'), pathToFileURL(MOBILENET)]) {
      const model = await loadModel(source);
      expect(model.format).toBe('layers-model');
      expect(model.inputShape).toEqual([224, 224, 3]);
      expect(model.outputKind).toBe('probabilities');
      expect(model.preset).toBe('mobilenet'); // from the Keras model name
      expect(model.source).toBe(MOBILENET);
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('detects a GraphModel from its model.json', async () => {
    const model = await loadModel(EMOTION);
    expect(model.format).toBe('graph-model');
    expect(model.inputShape).toEqual([64, 64, 1]);
    const out = tf.tidy(() => model.predict(tf.zeros([1, 64, 64, 1])));
    expect(out.shape).toEqual([1, 7]);
    out.dispose();
    model.dispose();
  });

  it('loads over http, shards fetched next to model.json', async () => {
    const server = await serveFolder(join(MOBILENET, '..'));
    try {
      const model = await loadModel(`${server.url}model.json`);
      expect(model.format).toBe('layers-model');
      expect(server.requests.get('/group29-shard1of1')).toBe(1);
      model.dispose();
      await expect(loadModel(`${server.url}nothing/model.json`)).rejects.toMatchObject({
        code: 'model_not_found',
        message: expect.stringContaining('HTTP 404'),
      });
    } finally {
      await server.close();
    }
  });

  it('names the file and the problem: missing model.json, missing shard, short shard, not JSON, not an image model', async () => {
    const missing = join(dir, 'none', 'model.json');
    await expect(loadModel(missing)).rejects.toMatchObject({ code: 'model_not_found', message: `The model file ${missing} does not exist.` });

    const noShard = await saveTinyModel(join(dir, 'no-shard'));
    rmSync(join(dir, 'no-shard', 'weights.bin'));
    await expect(loadModel(noShard)).rejects.toMatchObject({
      code: 'model_not_found',
      message: `The weight shard ${join(dir, 'no-shard', 'weights.bin')} does not exist.`,
    });

    const short = await saveTinyModel(join(dir, 'short'));
    truncateSync(join(dir, 'short', 'weights.bin'), 20);
    const error = await loadModel(short).catch((e) => e);
    expect(error.code).toBe('invalid_model');
    expect(error.message).toContain(join(dir, 'short', 'weights.bin'));
    expect(error.message).toMatch(/has 20 bytes but model.json says its weights need \d+/);

    const notJson = join(dir, 'bad.json');
    writeFileSync(notJson, '{"modelTopology": ');
    await expect(loadModel(notJson)).rejects.toMatchObject({ code: 'invalid_model', message: expect.stringContaining('is not JSON') });

    const vector = await saveTinyModel(join(dir, 'vector'), { image: false });
    const before = tf.memory().numTensors;
    await expect(loadModel(vector)).rejects.toMatchObject({
      code: 'invalid_model',
      message: expect.stringContaining('not an image batch'),
    });
    expect(tf.memory().numTensors).toBe(before); // the refused model was freed
  });

  it('loads a good generated model', async () => {
    const model = await loadModel(await saveTinyModel(join(dir, 'good')));
    expect(model.inputShape).toEqual([16, 16, 3]);
    expect(model.outputKind).toBe('logits');
    expect(model.preset).toBeUndefined();
    model.dispose();
  });
});

describe('the default model', () => {
  it('lives in $XDG_CACHE_HOME/easy-explain, else ~/.cache/easy-explain', () => {
    const saved = process.env.XDG_CACHE_HOME;
    try {
      process.env.XDG_CACHE_HOME = '/tmp/xdg';
      expect(defaultCacheDir()).toBe('/tmp/xdg/easy-explain');
      delete process.env.XDG_CACHE_HOME;
      expect(defaultCacheDir()).toMatch(/\.cache\/easy-explain$/);
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
    expect(cachedModelDir(DEFAULT_MODEL_URL, '/c')).toBe('/c/models/mobilenet_v1_0.75_224');
  });

  it('is downloaded once into the cache and used from there afterwards', async () => {
    const server = await serveFolder(join(MOBILENET, '..'));
    const cacheDir = join(dir, 'cache');
    const url = `${server.url}model.json`;
    try {
      const downloads: string[] = [];
      const first = await loadDefaultModel({ url, cacheDir, onDownload: (u) => downloads.push(u) });
      expect(downloads).toEqual([url]);
      expect(first.preset).toBe('mobilenet');
      expect(first.labels?.size).toBe(1000);
      expect(first.labels?.name(285)).toBe('Egyptian cat');
      const cached = cachedModelDir(url, cacheDir);
      expect(first.source).toBe(join(cached, 'model.json'));
      expect(readFileSync(join(cached, 'group29-shard1of1')).length).toBe(3_076_000);
      first.dispose();
      const served = server.requests.get('/model.json');

      const second = await loadDefaultModel({ url, cacheDir, onDownload: (u) => downloads.push(u) });
      expect(downloads).toHaveLength(1);
      expect(server.requests.get('/model.json')).toBe(served);
      second.dispose();
      expect(existsSync(join(cacheDir, 'models'))).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('without network or cache, says how to pass a local model', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/model.json`;
    const error = await loadDefaultModel({ url, cacheDir: join(dir, 'empty-cache') }).catch((e) => e);
    expect(error.code).toBe('model_not_found');
    expect(error.message).toContain('--model path/to/model.json');
    expect(error.message).toContain('ECONNREFUSED');
    expect(existsSync(cachedModelDir(url, join(dir, 'empty-cache')))).toBe(false);
  });
});
