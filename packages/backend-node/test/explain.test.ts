import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, runEasyExplain, setupBackend, type LoadedModel } from '@easy-explain/backend-node';
import { AUTO_WORKERS, EMOTION, image, MOBILENET, removeDir, tempDir } from './helpers';

let mobilenet: LoadedModel;
let dir: string;
// Coarse occlusion (16 forward passes) keeps these tests fast; the CLI test runs easy-explain's full setting once.
const coarse = { methodOptions: { slidingWindowShapes: [56, 56] as [number, number], strides: 56 } };

beforeAll(async () => {
  await setupBackend('wasm');
  mobilenet = await loadModel(MOBILENET);
  dir = tempDir();
});
afterAll(() => {
  mobilenet.dispose();
  removeDir(dir);
});

describe('runEasyExplain', () => {
  it('predicts, attributes and draws easy-explain figures, leaving only the attribution behind', async () => {
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const result = await runEasyExplain(mobilenet, {
      image: image('chelsea.png'),
      ...coarse,
      visTypes: [['blended_heat_map', 'original_image'], ['heat_map']],
      visSigns: [['positive', 'all'], ['absolute_value']],
      onProgress: (done, total) => progress.push(done / total),
    });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(result.attribution.shape).toEqual([1, 224, 224, 3]);
    result.attribution.dispose();
    expect(tf.memory().numTensors).toBe(before);

    expect(result.predictions).toHaveLength(5);
    expect([285, 281]).toContain(result.predictions[0].index);
    expect(result.target).toBe(result.predictions[0].index);
    expect(progress.at(-1)).toBe(1);
    expect(result.files).toBeUndefined();
    expect(result.figures.map((f) => f.titles)).toEqual([
      [`Positive Blended heat map for ${result.targetLabel}`, `Original image for ${result.targetLabel}`],
      [`Absolute value Heat map for ${result.targetLabel}`],
    ]);
    for (const figure of result.figures) {
      const meta = await sharp(figure.png).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', figure.width, figure.height]);
    }
    expect(result.explanation.method).toEqual({
      name: 'occlusion',
      parameters: { slidingWindowShapes: [56, 56, 3], strides: [56, 56, 3], baselines: 0, workers: AUTO_WORKERS, incremental: true },
    });
    expect(result.explanation.backend).toBe('wasm');
  });

  it('passes partialIntervalMs on: after every batch at 0, the coarse and the final map only at Infinity (as the CLI asks)', async () => {
    // 16 windows: the 4 corners first, then 12 in batches of 2.
    const options = { image: image('chelsea.png'), methodOptions: { ...coarse.methodOptions, perturbationsPerEval: 2, workers: 1 }, visTypes: [['heat_map']] as Array<Array<'heat_map'>>, visSigns: [['all']] as Array<Array<'all'>> };
    const reports: number[][] = [];
    const before = tf.memory().numTensors;
    for (const partialIntervalMs of [0, Infinity]) {
      const done: number[] = [];
      const result = await runEasyExplain(mobilenet, { ...options, partialIntervalMs, onPartial: (_map, d) => done.push(d) });
      result.attribution.dispose();
      reports.push(done);
    }
    expect(reports).toEqual([[4, 6, 8, 10, 12, 14, 16], [4, 16]]);
    await expect(runEasyExplain(mobilenet, { ...options, partialIntervalMs: -1, onPartial: () => {} })).rejects.toMatchObject({ code: 'invalid_option' });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('writes figure-N.png and explanation.json into outDir, explaining the requested target', async () => {
    const out = join(dir, 'out');
    const result = await runEasyExplain(mobilenet, { image: image('coffee.png'), target: 504, outDir: out, ...coarse });
    result.attribution.dispose();
    expect(result.files).toEqual([join(out, 'figure-1.png'), join(out, 'attribution.npy'), join(out, 'explanation.json')]);
    const saved = JSON.parse(readFileSync(join(out, 'explanation.json'), 'utf8'));
    expect(saved.target).toEqual({ index: 504, label: 'coffee mug' });
    expect(saved.predictions[0].index).toBe(967); // espresso
    expect(saved.image).toEqual({ source: image('coffee.png'), width: 600, height: 400 });
    expect(saved.model).toMatchObject({ source: MOBILENET, format: 'layers-model', preset: 'mobilenet', classes: 1000 });
    expect(saved.figures[0]).toMatchObject({ file: 'figure-1.png', titles: ['Blended heat map for Coffee mug', 'Original image for Coffee mug'] });
    expect(Object.keys(saved.timings)).toEqual(expect.arrayContaining(['decodeMs', 'predictMs', 'attributionMs', 'figuresMs', 'writeMs', 'totalMs']));
  });

  it('refuses an outDir that cannot be a folder before predicting or attributing, leaving nothing behind', async () => {
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, 'x');
    const before = tf.memory().numTensors;
    let predicted = false;
    for (const [outDir, problem] of [
      [file, 'is a file, not a folder'],
      [join(file, 'sub'), 'lies under a file, not a folder'],
    ]) {
      await expect(
        runEasyExplain(mobilenet, { image: image('chelsea.png'), ...coarse, outDir, onPredictions: () => (predicted = true) }),
      ).rejects.toMatchObject({ code: 'invalid_option', message: `The output folder ${outDir} ${problem}; choose another with --out (outDir).` });
    }
    expect(predicted).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('runs the emotion GraphModel (64×64 grey) through the library call', async () => {
    const emotion = await loadModel(EMOTION, { preset: 'mobilenet' });
    const face = await sharp(image('astronaut.png')).extract({ top: 55, left: 160, height: 135, width: 135 }).png().toBuffer();
    const before = tf.memory().numTensors;
    try {
      const result = await runEasyExplain(emotion, {
        image: face,
        labels: ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'],
        totalPreds: 3,
        methodOptions: { slidingWindowShapes: [16, 16], strides: 8 },
      });
      expect(result.predictions[0]).toMatchObject({ index: 3, label: 'happy' });
      expect(result.predictions[0].probability).toBeGreaterThan(0.9);
      expect(result.attribution.shape).toEqual([1, 64, 64, 1]);
      expect(result.figures[0].titles[0]).toBe('Blended heat map for Happy');
      result.attribution.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      emotion.dispose();
    }
  });

  it('stops on abort with code aborted and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const error = await runEasyExplain(mobilenet, {
      image: image('chelsea.png'),
      methodOptions: { slidingWindowShapes: [45, 45], strides: 9 },
      signal: controller.signal,
      onProgress: () => controller.abort(),
    }).catch((e) => e);
    expect(error).toMatchObject({ name: 'ExplainError', code: 'aborted' });
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([
    ['an unknown vis method', { visTypes: [['sparkles']], visSigns: [['all']] }, 'invalid_option'],
    ['masked_image with sign all', { visTypes: [['masked_image']], visSigns: [['all']] }, 'invalid_sign'],
    ['rows that do not match', { visTypes: [['heat_map', 'original_image']], visSigns: [['all']] }, 'invalid_option'],
    ['a window larger than the input', { methodOptions: { slidingWindowShapes: [300, 300] } }, 'window_too_large'],
    ['an unknown method option value', { method: 'integrated_gradients', methodOptions: { method: 'simpson' } }, 'invalid_option'],
    ['an unknown method', { method: 'lime' }, 'invalid_option'],
    ['a target past the last class', { target: 1000 }, 'invalid_target'],
    ['labels of the wrong size', { labels: ['cat', 'dog'] }, 'invalid_labels'],
    ['an unknown preset', { preset: 'sepia' }, 'invalid_option'],
  ])('refuses %s before any attribution, leaking nothing', async (_name, options, code) => {
    const before = tf.memory().numTensors;
    let progressed = false;
    const error = await runEasyExplain(mobilenet, {
      image: image('chelsea.png'),
      onProgress: () => (progressed = true),
      ...(options as object),
    }).catch((e) => e);
    expect(error).toMatchObject({ name: 'ExplainError', code });
    expect(progressed).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('registerFonts', () => {
  it('registers DejaVu Sans from @fontsource, so figures need no system font', async () => {
    const { registerFonts, FIGURE_FONT } = await import('@easy-explain/backend-node');
    const { GlobalFonts } = await import('@napi-rs/canvas');
    const files = registerFonts();
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/@fontsource\/dejavu-sans\/files\/dejavu-sans-latin-400-normal\.woff2$/);
    expect(GlobalFonts.families.some((f) => f.family === FIGURE_FONT)).toBe(true);
    expect(registerFonts()).toBe(files); // once
  });
});
