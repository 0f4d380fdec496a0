// Hostile model files and servers (issue 11): a test server on 127.0.0.1 plays the attacker; the file system is
// checked afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { Occlusion } from '@easy-explain/core';
import { join } from 'node:path';
import { cachedModelDir, decodeImage, loadDefaultModel, loadModel, setupBackend } from '@easy-explain/backend-node';
import { download, IMAGE_MAX_BYTES, MODEL_JSON_MAX_BYTES, shardUrl } from '@easy-explain/runtime';
import { EMOTION, endless, hostileServer, image, removeDir, saveTinyModel, SHARED, stalled, tempDir } from './helpers';

let dir: string;
let tinyJson: { modelTopology: unknown; weightsManifest: { paths: string[]; weights: unknown[] }[] };
let tinyWeights: Uint8Array;
beforeAll(async () => {
  await setupBackend('cpu');
  dir = tempDir('ee-hostile-');
  const path = await saveTinyModel(join(dir, 'tiny'));
  tinyJson = JSON.parse(readFileSync(path, 'utf8'));
  tinyWeights = readFileSync(join(dir, 'tiny', 'weights.bin'));
});
afterAll(() => removeDir(dir));

/** The tiny model's model.json with its one group's paths and weights replaced. */
function manifestWith(group: unknown): string {
  return JSON.stringify({ ...tinyJson, weightsManifest: [group] });
}

describe('shard paths stay inside the model folder or cache entry', () => {
  it('a downloaded model.json naming ../, absolute or other-host shards writes nothing and fetches nothing', async () => {
    const victim = join(dir, 'victim.sh');
    writeFileSync(victim, 'original');
    const hostile = [
      `${'../'.repeat(12)}${victim.slice(1)}`, // the probe that overwrote /tmp/victim.sh
      '../victim.sh',
      'a/../../victim.sh',
      '%2e%2e/victim.sh',
      victim, // absolute
      'http://127.0.0.1:9/evil.bin',
      '//127.0.0.1:9/evil.bin',
      'a\\..\\..\\victim.sh',
      'weights.bin\u0000.txt',
      'C:evil.bin',
      'weights.bin?x=1',
    ];
    for (const [i, path] of hostile.entries()) {
      const server = await hostileServer({
        '/model.json': manifestWith({ paths: [path], weights: tinyJson.weightsManifest[0].weights }),
        '/weights.bin': tinyWeights,
      });
      const cacheDir = join(dir, `cache-${i}`);
      try {
        const error = await loadDefaultModel({ url: `${server.url}model.json`, cacheDir }).catch((e) => e);
        expect(error.code, path).toBe('invalid_model');
        expect(error.message).toContain('weight shard path');
        expect(error.message).toContain('weightsManifest[0].paths[0]');
        expect(server.requests, path).toEqual(['/model.json']); // no shard fetched, from here or elsewhere
        expect(readFileSync(victim, 'utf8')).toBe('original');
        // Nothing written: no cache entry, no partial folder left behind.
        expect(existsSync(join(cacheDir, 'models')) ? readdirSync(join(cacheDir, 'models')) : []).toEqual([]);
      } finally {
        await server.close();
      }
    }
  });

  it('a downloaded model that does not load is not cached', async () => {
    const json = structuredClone(tinyJson) as any;
    json.modelTopology.config.layers[1].class_name = 'NoSuchLayer';
    const server = await hostileServer({ '/model.json': JSON.stringify(json), '/weights.bin': tinyWeights });
    const cacheDir = join(dir, 'cache-broken');
    try {
      await expect(loadDefaultModel({ url: `${server.url}model.json`, cacheDir })).rejects.toMatchObject({
        code: 'invalid_model',
        message: expect.stringContaining('NoSuchLayer'),
      });
      expect(server.requests).toEqual(['/model.json', '/weights.bin']);
      expect(existsSync(join(cacheDir, 'models')) ? readdirSync(join(cacheDir, 'models')) : []).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a planted cache entry whose shard points at /dev/zero is refused, not read', async () => {
    const url = 'http://127.0.0.1:9/model.json';
    const cacheDir = join(dir, 'cache-planted');
    const entry = cachedModelDir(url, cacheDir);
    mkdirSync(entry, { recursive: true });
    const path = `${'../'.repeat(12)}dev/zero`;
    writeFileSync(join(entry, 'model.json'), manifestWith({ paths: [path], weights: tinyJson.weightsManifest[0].weights }));
    await expect(loadDefaultModel({ url, cacheDir })).rejects.toMatchObject({ code: 'invalid_model', message: expect.stringContaining(JSON.stringify(path)) });
  });

  it('a local model.json naming a shard outside its folder is refused before reading it', async () => {
    const folder = join(dir, 'local-escape');
    await saveTinyModel(folder);
    for (const path of ['../tiny/weights.bin', '/dev/zero', `${'../'.repeat(12)}dev/zero`]) {
      writeFileSync(join(folder, 'model.json'), manifestWith({ paths: [path], weights: tinyJson.weightsManifest[0].weights }));
      await expect(loadModel(join(folder, 'model.json'))).rejects.toMatchObject({
        code: 'invalid_model',
        message: expect.stringContaining(JSON.stringify(path)),
      });
    }
  });
});

describe('a weightsManifest is checked completely before anything is read', () => {
  const weights = () => tinyJson.weightsManifest[0].weights as { name: string; shape: number[]; dtype: string }[];
  const cases: [string, () => unknown, RegExp][] = [
    ['a group without paths', () => ({ weights: weights() }), /weightsManifest\[0\] has no list of paths/],
    ['a null group', () => null, /weightsManifest\[0\] is not an object/],
    ['a string paths', () => ({ paths: 'weights.bin', weights: weights() }), /weightsManifest\[0\] has no list of paths/],
    ['no weights', () => ({ paths: ['weights.bin'] }), /weightsManifest\[0\] has no list of weights/],
    ['a weight without shape', () => ({ paths: ['weights.bin'], weights: [{ name: 'w', dtype: 'float32' }] }), /weights\[0\] \("w"\) has no shape/],
    ['a negative dimension', () => ({ paths: ['weights.bin'], weights: [{ name: 'w', shape: [-1], dtype: 'float32' }] }), /shape \[-1\]/],
    ['an unknown dtype', () => ({ paths: ['weights.bin'], weights: [{ name: 'w', shape: [1], dtype: 'float64' }] }), /dtype "float64"/],
    ['a number as path', () => ({ paths: [7], weights: weights() }), /weight shard path 7 .* is not a string/],
    ['too many shards', () => ({ paths: Array.from({ length: 5000 }, (_, i) => `s${i}.bin`), weights: weights() }), /names 5000 weight shards, more than 4096/],
    ['more weights than one model may hold', () => ({ paths: ['weights.bin'], weights: [{ name: 'w', shape: [2 ** 30], dtype: 'float32' }] }), /declares 4294967296 bytes of weights, more than 2147483648/],
    ['an overflowing size', () => ({ paths: ['weights.bin'], weights: [{ name: 'w', shape: [2 ** 40, 2 ** 40], dtype: 'float32' }] }), /more weight bytes than can be counted/],
  ];
  for (const [what, group, message] of cases) {
    it(`refuses ${what} with invalid_model naming the entry`, async () => {
      const folder = join(dir, `manifest-${what.replace(/\W+/g, '-')}`);
      await saveTinyModel(folder);
      writeFileSync(join(folder, 'model.json'), manifestWith(group()));
      const error = await loadModel(join(folder, 'model.json')).catch((e) => e);
      expect(error.code).toBe('invalid_model');
      expect(error.message).toMatch(message);
      expect(error.message).toContain(join(folder, 'model.json'));
      expect(error.message).not.toContain('\n');
    });
  }
});

describe('local files: symlinks out and device files are refused', () => {
  it('refuses a shard that is a symlink out of the folder or to /dev/zero, and a model.json that is a device', async () => {
    const folder = join(dir, 'links');
    await saveTinyModel(folder);
    const json = join(folder, 'model.json');
    const secret = join(dir, 'secret.bin');
    writeFileSync(secret, tinyWeights);
    for (const [target, message] of [
      [secret, /is a link to .*secret\.bin, outside the model's folder/],
      ['/dev/zero', /is a link to \/dev\/zero, outside the model's folder/],
    ] as const) {
      removeDir(join(folder, 'weights.bin'));
      symlinkSync(target, join(folder, 'weights.bin'));
      await expect(loadModel(json)).rejects.toMatchObject({ code: 'invalid_model', message: expect.stringMatching(message) });
    }
    await expect(loadModel('/dev/zero')).rejects.toMatchObject({ code: 'invalid_model', message: expect.stringContaining('not a regular file') });
  });

  it('refuses a device file inside the folder and a shard larger than model.json declares, without reading it all', async () => {
    const folder = join(dir, 'inside');
    await saveTinyModel(folder);
    mkdirSync(join(folder, 'sub'));
    symlinkSync('../weights.bin', join(folder, 'sub', 'ok.bin')); // a link that stays inside is fine
    writeFileSync(join(folder, 'model.json'), manifestWith({ paths: ['sub/ok.bin'], weights: tinyJson.weightsManifest[0].weights }));
    const model = await loadModel(join(folder, 'model.json'));
    model.dispose();

    writeFileSync(join(folder, 'big.bin'), new Uint8Array(tinyWeights.length + 1));
    writeFileSync(join(folder, 'model.json'), manifestWith({ paths: ['big.bin'], weights: tinyJson.weightsManifest[0].weights }));
    await expect(loadModel(join(folder, 'model.json'))).rejects.toMatchObject({
      code: 'invalid_model',
      message: expect.stringContaining(`has ${tinyWeights.length + 1} bytes, more than ${tinyWeights.length} (the size model.json declares`),
    });
  });
});

describe('downloads are bounded in size', () => {
  it('stops reading an endless shard at the size model.json declares', async () => {
    const server = await hostileServer({ '/model.json': JSON.stringify(tinyJson), '/weights.bin': endless() });
    try {
      const error = await loadModel(`${server.url}model.json`).catch((e) => e);
      expect(error.code).toBe('invalid_model');
      expect(error.message).toContain(`more than ${tinyWeights.length} (the size model.json declares for its weights)`);
    } finally {
      await server.close();
    }
  });

  it('counts the shards of a model together: an endless second shard stops at what is left of the declared size', async () => {
    const half = tinyWeights.length >> 1;
    const server = await hostileServer({
      '/model.json': manifestWith({ paths: ['a.bin', 'b.bin'], weights: tinyJson.weightsManifest[0].weights }),
      '/a.bin': tinyWeights.subarray(0, half),
      // 8 bytes every 2 ms, without end: small chunks, so the shared count trips before this shard's own cap.
      '/b.bin': (_req, res) => {
        res.writeHead(200);
        const timer = setInterval(() => res.write(new Uint8Array(8)), 2);
        res.on('close', () => clearInterval(timer));
      },
    });
    try {
      const error = await loadModel(`${server.url}model.json`).catch((e) => e);
      expect(error).toMatchObject({
        code: 'invalid_model',
        message: expect.stringContaining(`b.bin goes past the ${tinyWeights.length} bytes model.json declares for all its weights`),
      });
    } finally {
      await server.close();
    }
  });

  it('refuses a model.json or an image whose Content-Length or stream passes the cap', async () => {
    const server = await hostileServer({
      '/model.json': endless(new Uint8Array(1 << 20).fill(32)),
      '/photo.jpg': endless(),
      '/declared.jpg': (_req, res) => res.writeHead(200, { 'content-length': String(IMAGE_MAX_BYTES + 1) }).end(),
      '/small.png': readFileSync(image('chelsea.png')),
    });
    try {
      const json = await loadModel(`${server.url}model.json`).catch((e) => e);
      expect(json).toMatchObject({ code: 'invalid_model', message: expect.stringContaining(`more than ${MODEL_JSON_MAX_BYTES} (the cap on a model.json)`) });
      const endlessImage = await decodeImage(`${server.url}photo.jpg`).catch((e) => e);
      expect(endlessImage).toMatchObject({ code: 'image_invalid', message: expect.stringContaining(`more than ${IMAGE_MAX_BYTES} (the image size cap`) });
      const declared = await decodeImage(`${server.url}declared.jpg`).catch((e) => e);
      expect(declared.message).toContain(`has ${IMAGE_MAX_BYTES + 1} bytes, more than ${IMAGE_MAX_BYTES}`);
      // The cap is adjustable: per call, and by environment variable.
      const size = readFileSync(image('chelsea.png')).length;
      await expect(decodeImage(`${server.url}small.png`, { maxBytes: size - 1 })).rejects.toMatchObject({ code: 'image_invalid' });
      process.env.EASY_EXPLAIN_MAX_IMAGE_BYTES = String(size - 1);
      try {
        await expect(decodeImage(image('chelsea.png'))).rejects.toMatchObject({ message: expect.stringContaining('EASY_EXPLAIN_MAX_IMAGE_BYTES') });
      } finally {
        delete process.env.EASY_EXPLAIN_MAX_IMAGE_BYTES;
      }
      expect((await decodeImage(`${server.url}small.png`, { maxBytes: size })).width).toBe(451);
    } finally {
      await server.close();
    }
  });
});

describe('downloads time out, with or without a caller signal', () => {
  it('ends a stalled answer (no headers, headers only, a stalled body) within the timeout', async () => {
    const server = await hostileServer({
      '/silent': () => {}, // never answers
      '/headers': stalled(),
      '/body': stalled(new Uint8Array(100)),
    });
    try {
      for (const path of ['silent', 'headers', 'body']) {
        for (const signal of [undefined, new AbortController().signal]) {
          const started = performance.now();
          const error = await download(`${server.url}${path}`, {
            what: 'the file',
            maxBytes: 1000,
            capReason: 'test',
            failCode: 'model_not_found',
            tooLargeCode: 'invalid_model',
            signal,
            timeoutMs: 300,
          }).catch((e) => e);
          expect(error.code, path).toBe('model_not_found');
          expect(error.message).toContain('no complete answer within 0.3 s');
          expect(performance.now() - started).toBeGreaterThanOrEqual(290); // it waited for the timeout, not less
        }
      }
      // Through loadModel with the CLI's situation (a signal always passed), the timeout from the environment.
      process.env.EASY_EXPLAIN_DOWNLOAD_TIMEOUT_MS = '300';
      try {
        const controller = new AbortController();
        const error = await loadModel(`${server.url}body`, { signal: controller.signal }).catch((e) => e);
        expect(error).toMatchObject({ code: 'model_not_found', message: expect.stringContaining('no complete answer within 0.3 s') });
        // The caller's abort is still an abort.
        const aborting = loadModel(`${server.url}headers`, { signal: controller.signal }).catch((e) => e);
        process.env.EASY_EXPLAIN_DOWNLOAD_TIMEOUT_MS = '60000';
        setTimeout(() => controller.abort(), 50);
        expect((await aborting).code).toBe('aborted');
      } finally {
        delete process.env.EASY_EXPLAIN_DOWNLOAD_TIMEOUT_MS;
      }
    } finally {
      await server.close();
    }
  });
});

describe('shard URLs', () => {
  it('are resolved next to model.json and keep its query string (signed URLs)', async () => {
    expect(shardUrl('https://h.example/a/b/model.json?sig=x&exp=1#frag', 'group1-shard1of2.bin')).toBe('https://h.example/a/b/group1-shard1of2.bin?sig=x&exp=1');
    expect(shardUrl('https://h.example/a/model.json', 'sub/w.bin')).toBe('https://h.example/a/sub/w.bin');
    expect(() => shardUrl('https://h.example/a/model.json', '//evil.example/w.bin')).toThrow(/another host/);
    const server = await hostileServer({ '/m/model.json': JSON.stringify(tinyJson), '/m/weights.bin': tinyWeights });
    try {
      const model = await loadModel(`${server.url}m/model.json?sig=abc%2F1`);
      model.dispose();
      expect(server.requests).toEqual(['/m/model.json?sig=abc%2F1', '/m/weights.bin?sig=abc%2F1']);
    } finally {
      await server.close();
    }
  });
});

/** A copy of the emotion GraphModel (64×64×1 → 7 classes) with its model.json changed by `edit`. */
function emotionVariant(name: string, edit: (json: any) => void): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  copyFileSync(join(EMOTION, '..', 'emotion.bin'), join(folder, 'emotion.bin'));
  const json = JSON.parse(readFileSync(EMOTION, 'utf8'));
  edit(json);
  writeFileSync(join(folder, 'model.json'), JSON.stringify(json));
  return join(folder, 'model.json');
}

describe('models TF.js cannot use are refused in one line', () => {
  it('a GraphModel with an unknown op, or whose output is a 4-D map, is invalid_model at load, leaving no tensor', async () => {
    const unknownOp = emotionVariant('unknown-op', (json) => {
      json.modelTopology.node.find((n: any) => n.op === 'Relu').op = 'FancyOp';
    });
    const fourD = emotionVariant('four-d', (json) => {
      const nodes = json.modelTopology.node;
      nodes.find((n: any) => n.op === 'Identity').input = [nodes.find((n: any) => n.op === 'Relu').name];
    });
    const before = tf.memory().numTensors;
    await expect(loadModel(unknownOp)).rejects.toMatchObject({ code: 'invalid_model', message: expect.stringContaining("cannot run in TF.js: Unknown op 'FancyOp'") });
    // A Relu inside the emotion net outputs [1,15,15,128]: once taken as 28800 classes, now refused.
    await expect(loadModel(fourD)).rejects.toMatchObject({
      code: 'invalid_model',
      message: expect.stringMatching(/outputs shape \[1,15,15,128\] at node "Identity:0", not class scores \[N, classes\]/),
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a GraphModel with a fixed batch of 1 explains one image per pass, and says so for a method that batches', async () => {
    const fixed = emotionVariant('fixed-batch', (json) => {
      json.modelTopology.node.find((n: any) => n.op === 'Placeholder').attr.shape.shape.dim[0].size = '1';
    });
    const model = await loadModel(fixed);
    try {
      const one = tf.zeros([1, 64, 64, 1]) as tf.Tensor4D;
      const two = tf.zeros([2, 64, 64, 1]) as tf.Tensor4D;
      const scores = model.predict(one);
      expect(scores.shape).toEqual([1, 7]);
      expect(() => model.predict(two)).toThrow(expect.objectContaining({ code: 'invalid_model', message: expect.stringContaining('takes a fixed batch of 1 image(s), but this method evaluates 2 at once') }));
      tf.dispose([one, two, scores]);
    } finally {
      model.dispose();
    }
  });

  it('strips control characters from a layer class name before it reaches a message', async () => {
    const folder = join(dir, 'ansi');
    await saveTinyModel(folder);
    const json = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8'));
    json.modelTopology.config.layers[1].class_name = '\u001b]0;pwned\u0007\r\u001b[2K\u009bWrote 2 files';
    writeFileSync(join(folder, 'model.json'), JSON.stringify(json));
    const error = await loadModel(join(folder, 'model.json')).catch((e) => e);
    expect(error.code).toBe('invalid_model');
    expect(error.message).toContain('?]0;pwned???[2K?Wrote 2 files');
    expect(error.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});

describe('workers', () => {
  it('more workers than cores are lowered to the cores, with one warning per model, and the same map', async () => {
    const model = await loadModel(join(SHARED, 'reference', 'model', 'model.json'));
    const x = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D; // the fixture's input size
    const warnings: string[] = [];
    const options = { target: 0, slidingWindowShapes: [8, 8, 3] as [number, number, number], strides: [4, 4, 3] as [number, number, number], perturbationsPerEval: 4 };
    try {
      const single = new Occlusion(model);
      const reference = await single.attribute(x, options);
      for (let call = 0; call < 2; call++) {
        const occlusion = new Occlusion(model);
        const map = await occlusion.attribute(x, { ...options, workers: 1000, onWarning: (m) => warnings.push(m) });
        expect(occlusion.workers).toBe(Math.min(availableParallelism(), 1000));
        expect(await map.data()).toEqual(await reference.data());
        map.dispose();
      }
      reference.dispose();
      const cores = availableParallelism();
      expect(warnings).toEqual(cores < 1000 ? [`workers lowered from 1000 to ${cores}, the cores available here; more threads would only add memory.`] : []);
    } finally {
      x.dispose();
      model.dispose();
    }
  });
});
