// PyTorch models through every Node path: loadModel (path, URL, bytes by content), runEasyExplain with ONNX layer
// names, worker threads, the CLI, and bad files. Parity of the conversion itself is @easy-explain/onnx's tests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Occlusion, runMethod } from '@easy-explain/core';
import { occlusionEngineOf } from '@easy-explain/core/internal';
import { loadModel, runEasyExplain, setupBackend, type LoadedModel } from '@easy-explain/backend-node';
import { hostileServer, image, lines, relativeError, removeDir, runCli, SHARED, tempDir } from './helpers';

const ONNX = join(SHARED, 'models', 'onnx');
const RESNET18 = join(ONNX, 'resnet18.onnx');
const TINY = join(ONNX, 'tiny_cnn.onnx');
const REFERENCE = join(SHARED, 'reference', 'onnx');

function floats(file: string): Float32Array {
  const bytes = readFileSync(file);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

let dir: string;
beforeAll(async () => {
  await setupBackend('wasm');
  dir = tempDir('ee-onnx-');
});
afterAll(() => removeDir(dir));

describe('ONNX models in backend-node', () => {
  let resnet: LoadedModel;
  beforeAll(async () => {
    resnet = await loadModel(RESNET18, { preset: 'imagenet' });
  });
  afterAll(() => resnet.dispose());

  it('loads a torchvision export as a 1000-class model with ImageNet labels, matching PyTorch on the reference input', async () => {
    expect(resnet.format).toBe('onnx');
    expect(resnet.classes).toBe(1000);
    expect(resnet.labels?.name(285)).toBe('Egyptian cat');
    const x = tf.tensor4d(floats(join(REFERENCE, 'resnet18__input.bin')), [1, 224, 224, 3]);
    const scores = tf.tidy(() => resnet.predict(x));
    const ours = (await scores.data()) as Float32Array;
    const theirs = floats(join(REFERENCE, 'resnet18__output.bin'));
    const max = Math.max(...Array.from(theirs, Math.abs));
    let worst = 0;
    for (let i = 0; i < theirs.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
    // @easy-explain/onnx measures 1.0e-6 relative on wasm; 1e-4 is the bar.
    expect(worst / max).toBeLessThan(1e-4);
    tf.dispose([x, scores]);
  });

  it('runs Grad-CAM at a layer named by its ONNX tensor: Captum\'s map on the reference input, and through runEasyExplain', async () => {
    const x = tf.tensor4d(floats(join(REFERENCE, 'resnet18__input.bin')), [1, 224, 224, 3]);
    const layer = resnet.resolveLayer('/layer4/layer4.1/relu_1/Relu_output_0');
    const { attribution: map } = await runMethod('layer_grad_cam', resnet, x, { target: 439 }, { layer });
    const ours = (await map.data()) as Float32Array;
    const theirs = floats(join(REFERENCE, 'resnet18__grad_cam.bin'));
    const max = Math.max(...Array.from(theirs, Math.abs));
    let worst = 0;
    for (let i = 0; i < theirs.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
    expect(worst / max).toBeLessThan(1e-4);
    tf.dispose([x, map]);

    const before = tf.memory().numTensors;
    const result = await runEasyExplain(resnet, {
      image: image('chelsea.png'),
      method: 'grad_cam',
      methodOptions: { layer: '/layer4/layer4.1/relu_1/Relu_output_0' },
      visTypes: [['heat_map']],
      visSigns: [['absolute_value']],
    });
    expect(result.explanation.method.parameters).toMatchObject({ layer: 'layer4/layer4.1/relu_1/Relu_output_0', mapShape: [1, 7, 7, 1] });
    expect(result.explanation.model).toMatchObject({ format: 'onnx', preset: 'imagenet', classes: 1000 });
    result.attribution.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('runs Occlusion on two worker threads, equal bit for bit to one thread (TF.js engine)', async () => {
    const tiny = await loadModel(TINY, { preset: 'unit', engine: 'tfjs' });
    try {
      const x = tf.tidy(() => tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D);
      const options = { target: 2, slidingWindowShapes: [8, 8, 3] as [number, number, number], strides: [4, 4, 3] as [number, number, number] };
      const one = await new Occlusion(tiny).attribute(x, { ...options, workers: 1 });
      const occlusion = new Occlusion(tiny);
      const two = await occlusion.attribute(x, { ...options, workers: 2 });
      expect(occlusion.workers).toBe(2);
      expect(Array.from(await two.data())).toEqual(Array.from(await one.data()));
      tf.dispose([x, one, two]);
    } finally {
      tiny.dispose();
    }
  });

  it('loads an .onnx URL (query string kept) and ONNX bytes under another name, detected by content', async () => {
    const bytes = readFileSync(TINY);
    const server = await hostileServer({ '/models/tiny.onnx': new Uint8Array(bytes) });
    try {
      const model = await loadModel(new URL('models/tiny.onnx?sig=1', server.url).href);
      expect([model.format, model.classes]).toEqual(['onnx', 10]);
      model.dispose();
      expect(server.requests).toEqual(['/models/tiny.onnx?sig=1']);
    } finally {
      await server.close();
    }
    const renamed = join(dir, 'model.bin');
    copyFileSync(TINY, renamed);
    const model = await loadModel(renamed);
    expect(model.format).toBe('onnx');
    model.dispose();
  });

  it.each([
    ['an empty .onnx file', new Uint8Array(0), /is empty/],
    ['a truncated .onnx file', new Uint8Array(readFileSync(TINY).subarray(0, 2000)), /neither a TF\.js model\.json nor an ONNX model|truncated/],
    ['text named .onnx', new TextEncoder().encode('hello, not a model'), /neither a TF\.js model\.json nor an ONNX model/],
  ])('refuses %s with invalid_model and leaks nothing', async (name, bytes, message) => {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.onnx`);
    writeFileSync(file, bytes);
    const before = tf.memory().numTensors;
    await expect(loadModel(file)).rejects.toMatchObject({ code: 'invalid_model', message: expect.stringMatching(message) });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the native engine for ONNX models (engine: native)', () => {
  it('scores Occlusion on onnxruntime-node equal to the TF.js conversion within 1e-5 of the maximum, gradients on TF.js', async () => {
    const warnings: string[] = [];
    const native = await loadModel(TINY, { preset: 'unit', engine: 'native', onWarning: (m) => warnings.push(m) });
    const tfjs = await loadModel(TINY, { preset: 'unit', engine: 'tfjs' });
    try {
      const x = tf.tidy(() => tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 11) as tf.Tensor4D);
      const options = { target: 4, slidingWindowShapes: [8, 8, 3] as [number, number, number], strides: [4, 4, 3] as [number, number, number], workers: 1 };
      const a = await new Occlusion(native).attribute(x, options);
      const b = await new Occlusion(tfjs).attribute(x, options);
      // Two correct engines differ by float32 noise: ~1e-5 of the maximum on Occlusion (5.9e-6 measured here).
      expect(relativeError(await a.data(), await b.data())).toBeLessThan(1e-5);
      expect(warnings).toEqual([]);
      // Saliency still differentiates the TF.js conversion.
      const { attribution } = await runMethod('saliency', native, x, { target: 4 });
      expect(attribution.shape).toEqual([1, 32, 32, 3]);
      tf.dispose([x, a, b, attribution]);
    } finally {
      native.dispose();
      tfjs.dispose();
    }
  });

  it("scores an ONNX model's Occlusion natively by default ('auto'); 'tfjs' keeps the TF.js conversion; TF.js models ignore it", async () => {
    const warnings: string[] = [];
    const byDefault = await loadModel(TINY, { preset: 'unit', onWarning: (m) => warnings.push(m) });
    const tfjs = await loadModel(TINY, { preset: 'unit', engine: 'tfjs' });
    const layers = await loadModel(join(SHARED, 'reference', 'model', 'model.json'), { engine: 'native' });
    try {
      expect(occlusionEngineOf(byDefault)).toBeDefined();
      expect(occlusionEngineOf(tfjs)).toBeUndefined();
      expect(occlusionEngineOf(layers)).toBeUndefined();
      expect(warnings).toEqual([]);
      // The native default gives the TF.js conversion's map within float32 noise.
      const x = tf.tidy(() => tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D);
      const options = { target: 1, slidingWindowShapes: [8, 8, 3] as [number, number, number], strides: [4, 4, 3] as [number, number, number] };
      const a = await new Occlusion(byDefault).attribute(x, options);
      const b = await new Occlusion(tfjs).attribute(x, options);
      expect(relativeError(await a.data(), await b.data())).toBeLessThan(1e-5);
      tf.dispose([x, a, b]);
    } finally {
      byDefault.dispose();
      tfjs.dispose();
      layers.dispose();
    }
  });

  it('refuses an unknown engine', async () => {
    await expect(loadModel(TINY, { engine: 'gpu' as never })).rejects.toMatchObject({ code: 'invalid_option' });
    const run = await runCli([image('chelsea.png'), '--model', TINY, '--engine', 'gpu']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--engine must be one of auto, native, tfjs/);
  });
});

describe('ONNX models in the CLI', () => {
  it('explains a photo with --model resnet18.onnx --preset imagenet', async () => {
    const out = join(dir, 'cli');
    const run = await runCli([image('chelsea.png'), '--model', RESNET18, '--preset', 'imagenet', '--method', 'grad_cam', '--out', out, '--json', '--quiet']);
    const native = await runCli([
      image('chelsea.png'), '--model', RESNET18, '--preset', 'imagenet', '--engine', 'native', '--window', '112', '--stride', '112', '--out', join(dir, 'native'), '--json', '--quiet',
    ]);
    expect(native.code, native.stderr).toBe(0);
    expect(JSON.parse(native.stdout).method.name).toBe('occlusion');
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(doc.model).toMatchObject({ source: RESNET18, format: 'onnx', preset: 'imagenet', classes: 1000 });
    expect(doc.method.parameters.layer).toBe('layer4/layer4.1/relu_1/Relu_output_0');
    const help = await runCli(['--help']);
    expect(help.stdout).toMatch(/\.onnx/);
    expect(help.stdout).toMatch(/torchvision.*imagenet/s);
  });

  it('refuses a .onnx file that is not a model, in one line', async () => {
    const run = await runCli([image('chelsea.png'), '--model', join(dir, 'text-named-onnx.onnx'), '--out', join(dir, 'bad')]);
    expect(run.code).toBe(2);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(/invalid|neither a TF\.js model\.json nor an ONNX model/);
  });
});
