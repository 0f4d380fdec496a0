// explainBatch: many images through one model, each image's result as it finishes, failures yielded not thrown,
// folders that are never overwritten, attribution.npy equal to the map, explanation.json valid against its schema.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import * as tf from '@tensorflow/tfjs-core';
import { decodeNpy, explainBatch, loadImage, loadModel, removeAbandonedPartials, runEasyExplain, setupBackend, type BatchItem, type LoadedModel } from '@easy-explain/backend-node';
import { AUTO_WORKERS, image, MOBILENET, PACKAGE, removeDir, tempDir } from './helpers';

// 16 windows per image: coarse occlusion keeps the test short; the map is compared exactly with a single call's.
const coarse = { method: 'occlusion' as const, methodOptions: { slidingWindowShapes: [56, 56] as [number, number], strides: 56 } };
const schema = JSON.parse(readFileSync(join(PACKAGE, 'schema', 'explanation.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: true }).addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/).compile(schema);

let model: LoadedModel;
let dir: string;
beforeAll(async () => {
  await setupBackend('wasm');
  model = await loadModel(MOBILENET);
  dir = tempDir('ee-batch-');
});
afterAll(() => {
  model.dispose();
  removeDir(dir);
});

async function collect(items: AsyncIterable<BatchItem>): Promise<BatchItem[]> {
  const out: BatchItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('explainBatch', () => {
  it('yields every image in order, a bad one as a failure, with the same map as a single call and no tensor left', async () => {
    const coffee = await loadImage(image('coffee.png'));
    const before = tf.memory().numTensors;
    const started: string[] = [];
    const items = await collect(
      explainBatch(model, [image('chelsea.png'), new TextEncoder().encode('not an image'), coffee], { methods: [coarse], onImage: (_i, name) => started.push(name) }),
    );
    expect(tf.memory().numTensors).toBe(before);
    coffee.dispose();
    expect(items.map((i) => [i.index, i.ok])).toEqual([[0, true], [1, false], [2, true]]);
    expect(started).toEqual([image('chelsea.png'), 'bytes-2', 'tensor-3']);
    const bad = items[1] as Extract<BatchItem, { ok: false }>;
    expect(bad.error.code).toBe('image_invalid');
    const [chelsea, , mug] = items as Array<Extract<BatchItem, { ok: true }>>;
    expect([285, 281]).toContain(chelsea.predictions[0].index);
    expect(mug.predictions[0].index).toBe(967); // espresso
    expect(chelsea.key).toMatch(/^chelsea-[0-9a-f]{12}$/);
    expect(mug.key).toMatch(/^tensor-3-[0-9a-f]{12}$/);

    // The batch's map is the one-image call's map, bit for bit (same model, options and backend).
    const single = await runEasyExplain(model, { image: image('chelsea.png'), ...coarse });
    const expected = (await single.attribution.data()) as Float32Array;
    single.attribution.dispose();
    expect(chelsea.runs).toHaveLength(1);
    expect(chelsea.runs[0].attribution.shape).toEqual([1, 224, 224, 3]);
    expect(chelsea.runs[0].attribution.data).toEqual(expected);
    expect(chelsea.runs[0].explanation.method.parameters).toMatchObject({ workers: AUTO_WORKERS });
  });

  it('writes a folder per image: figures, attribution.npy equal to the map, schema-valid explanation.json, image.json last', async () => {
    const out = join(dir, 'out');
    const items = (await collect(explainBatch(model, [image('rocket.jpg')], { methods: [coarse, { method: 'grad_cam' }], targets: { topK: 2 }, outDir: out }))) as Array<
      Extract<BatchItem, { ok: true }>
    >;
    expect(items.every((i) => i.ok)).toBe(true);
    expect(readdirSync(join(out, 'images')).sort()).toEqual(items.map((i) => i.key).sort()); // no partial folder left
    for (const item of items) {
      // Each of the top 2 classes, by both methods: 4 runs, target-major.
      const top2 = item.predictions.slice(0, 2).map((p) => p.index);
      expect(item.runs.map((r) => [r.method, r.target])).toEqual([
        ['occlusion', top2[0]],
        ['grad_cam', top2[0]],
        ['occlusion', top2[1]],
        ['grad_cam', top2[1]],
      ]);
      const record = JSON.parse(readFileSync(join(item.dir!, 'image.json'), 'utf8'));
      expect(record).toMatchObject({ schemaVersion: 1, key: item.key, source: item.name, width: expect.any(Number), predictions: item.predictions });
      expect(record.sha256).toMatch(new RegExp(`^${item.key.slice(-12)}[0-9a-f]{52}$`));
      for (const run of item.runs) {
        expect(run.dir).toBe(join(item.dir!, `${run.method}-${run.target}`));
        const saved = JSON.parse(readFileSync(join(run.dir!, 'explanation.json'), 'utf8'));
        expect(validate(saved), JSON.stringify(validate.errors)).toBe(true);
        // The schema does judge: a future version, a missing field, a channels-first map are refused.
        expect(validate({ ...saved, schemaVersion: 2 })).toBe(false);
        expect(validate({ ...saved, predictions: undefined })).toBe(false);
        expect(validate({ ...saved, attribution: { ...saved.attribution, layout: 'NCHW' } })).toBe(false);
        expect(saved).toMatchObject({ schemaVersion: 1, toolVersion: '0.1.0', target: { index: run.target }, method: { name: run.method } });
        expect(saved.attribution).toEqual({ file: 'attribution.npy', dtype: 'float32', shape: run.attribution.shape, layout: 'NHWC' });
        const npy = decodeNpy(readFileSync(join(run.dir!, 'attribution.npy')));
        expect(npy.shape).toEqual(run.attribution.shape);
        expect(npy.data).toEqual(run.attribution.data);
        expect(existsSync(join(run.dir!, 'figure-1.png'))).toBe(true);
      }
      // The two classes get different maps.
      expect(item.runs[0].attribution.data).not.toEqual(item.runs[2].attribution.data);
    }
  });

  it('with resume, skips images already done (the same pixels under another name too) without touching their files', async () => {
    const out = join(dir, 'resume');
    const [first] = (await collect(explainBatch(model, [image('chelsea.png')], { methods: [coarse], outDir: out }))) as Array<Extract<BatchItem, { ok: true }>>;
    const json = join(first.dir!, 'occlusion-' + first.runs[0].target, 'explanation.json');
    const mtime = statSync(json).mtimeMs;
    const pixels = await loadImage(image('chelsea.png'));
    const again = await collect(explainBatch(model, [image('chelsea.png'), pixels, image('coffee.png')], { methods: [coarse], outDir: out, resume: true }));
    pixels.dispose();
    expect(again.map((i) => i.ok && i.skipped === true)).toEqual([true, true, false]);
    expect(again.slice(0, 2).map((i) => i.ok && i.dir)).toEqual([first.dir, first.dir]);
    expect(statSync(json).mtimeMs).toBe(mtime);
    expect(readdirSync(join(out, 'images'))).toHaveLength(2);
  });

  it('takes a class for all, or a rule per image; refuses a bad rule before loading anything', async () => {
    const fixed = (await collect(explainBatch(model, [image('coffee.png')], { methods: [{ method: 'grad_cam' }], targets: 504 }))) as Array<Extract<BatchItem, { ok: true }>>;
    expect(fixed[0].runs.map((r) => [r.target, r.targetLabel])).toEqual([[504, 'coffee mug']]);
    expect(fixed[0].predictions[0].index).toBe(967);
    // Per image: the second prediction (the top class's run only told the predictions and is dropped).
    const second = (await collect(explainBatch(model, [image('coffee.png')], { methods: [{ method: 'grad_cam' }], targets: (p) => p[1].index }))) as Array<Extract<BatchItem, { ok: true }>>;
    expect(second[0].runs.map((r) => r.target)).toEqual([second[0].predictions[1].index]);
    await expect(collect(explainBatch(model, [image('coffee.png')], { targets: { topK: 0 } }))).rejects.toThrow(/targets must be/);
    await expect(collect(explainBatch(model, [image('coffee.png')], { methods: [{ method: 'nope' as never }] }))).rejects.toThrow(/Unknown method "nope"/);
  });

  it('stops on abort with an aborted error, leaving no partial folder and no tensor', async () => {
    const out = join(dir, 'abort');
    const controller = new AbortController();
    const before = tf.memory().numTensors;
    const seen: BatchItem[] = [];
    const run = (async () => {
      for await (const item of explainBatch(model, [image('coffee.png'), image('chelsea.png'), image('rocket.jpg')], {
        methods: [coarse],
        outDir: out,
        signal: controller.signal,
        onProgress: (done) => seen.length === 1 && done > 0 && controller.abort(),
      })) {
        seen.push(item);
      }
    })();
    await expect(run).rejects.toMatchObject({ code: 'aborted' });
    expect(seen).toHaveLength(1);
    expect(readdirSync(join(out, 'images'))).toEqual([(seen[0] as Extract<BatchItem, { ok: true }>).key]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('removes partial folders of dead processes on this host, not those of live ones or other hosts', async () => {
    const out = join(dir, 'partials');
    const host = hostname().replace(/[^A-Za-z0-9-]/g, '_');
    const dead = spawnSync(process.execPath, ['-e', '']).pid!; // exited: its pid is free
    const names = [`.partial-a-0123456789ab.${host}.${dead}.0badc0de`, `.partial-b-0123456789ab.${host}.${process.pid}.0badc0de`, `.partial-c-0123456789ab.otherhost.${dead}.0badc0de`, 'chelsea-0123456789ab'];
    for (const name of names) mkdirSync(join(out, 'images', name), { recursive: true });
    expect(await removeAbandonedPartials(out)).toEqual([names[0]]);
    expect(readdirSync(join(out, 'images')).sort()).toEqual(names.slice(1).sort());
  });

  it('loads a model given by path once and disposes it at the end, also when the loop breaks early', async () => {
    const before = tf.memory().numTensors;
    for await (const item of explainBatch(MOBILENET, [image('coffee.png'), image('chelsea.png')], { methods: [{ method: 'grad_cam' }] })) {
      expect(item.ok).toBe(true);
      break;
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
