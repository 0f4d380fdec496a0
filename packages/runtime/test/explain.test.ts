// The shared pipeline on a stand-in platform and an analytic model: what runs, in which order, with which numbers.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { asModel, deletion, Occlusion, type Model } from '@easy-explain/core';
import { backendAttempts, explainImage, prepareInput, resolveBackend, type ExplainPlatform, type FigureInfo } from '@easy-explain/runtime';

// Three classes over an 8×8 RGB image in 0..1 ('unit' preset): class k sums channel k, so occluding a window lowers
// the target's score by exactly the window's sum in that channel.
const model: Model = asModel((x) => tf.tidy(() => tf.sum(x, [1, 2]) as tf.Tensor2D), { outputKind: 'logits', inputShape: [8, 8, 3] });

function photo(): { data: Uint8Array; height: number; width: number } {
  const data = new Uint8Array(8 * 8 * 3);
  for (let i = 0; i < 64; i++) {
    data[i * 3] = 10; // red: small
    data[i * 3 + 1] = 200; // green: the top class
    data[i * 3 + 2] = (i % 8) * 30; // blue: grows to the right
  }
  return { data, height: 8, width: 8 };
}

function platform(log: string[]): ExplainPlatform<string, FigureInfo & { title: string }> {
  return {
    tool: 'test',
    ensureBackend: async () => (log.push('backend'), tf.getBackend()),
    decodeImage: async (name) => (log.push(`decode ${name}`), photo()),
    describeImage: (name) => `photo:${name}`,
    readLabels: async () => {
      throw new Error('not used');
    },
    drawPanels: async (panels) => {
      log.push(`panels ${panels.map((p) => `${p.image.width}x${p.image.height}`).join('+')}`);
      return { methods: [], signs: [], titles: panels.map((p) => p.title ?? ''), width: 1, height: 1, title: 'panels' };
    },
    drawCurves: async (curves) => {
      log.push(`curves ${curves.map((c) => c.metric).join('+')}`);
      return { methods: [], signs: [], titles: [], width: 1, height: 1, title: 'curves' };
    },
    drawFigure: async (attribution, image, methods, signs, title) => {
      log.push(`figure ${methods.join('+')} ${attribution.height}x${attribution.width} over ${image.height}x${image.width}`);
      return { methods, signs, titles: methods.map((m) => `${m} ${title}`), width: 10, height: 5, title };
    },
  };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('explainImage', () => {
  it('predicts, attributes with the table defaults and draws each row; only the attribution is left', async () => {
    const log: string[] = [];
    const before = tf.memory().numTensors;
    const result = await explainImage(platform(log), model, {
      image: 'p.png',
      preset: 'unit',
      labels: ['red', 'green', 'blue'],
      totalPreds: 2,
      method: 'occlusion',
      methodOptions: { slidingWindowShapes: [4, 4], strides: 4, workers: 1 },
      visTypes: [['heat_map'], ['blended_heat_map', 'original_image']],
      visSigns: [['positive'], ['all', 'all']],
    });
    expect(tf.memory().numTensors).toBe(before + 1);
    // Sums of the 0..1 channels: green 64·200/255, blue 8·(0+30+…+210)/255, red 64·10/255.
    expect(result.predictions.map((p) => p.label)).toEqual(['green', 'blue']);
    expect(result.target).toBe(1);
    const x = tf.tidy(() => tf.div(tf.tensor4d(photo().data, [1, 8, 8, 3], 'float32'), 255) as tf.Tensor4D);
    const expected = await new Occlusion(model).attribute(x, {
      target: 1,
      slidingWindowShapes: [4, 4, 3],
      strides: [4, 4, 3],
    });
    // Occlusion gives each pixel the drop of the window covering it (each pixel is in exactly one 4×4 window here):
    // the green score loses 16·200/255 per window.
    const green = Array.from(await result.attribution.data()).filter((_, i) => i % 3 === 1);
    for (const v of green) expect(v).toBeCloseTo((16 * 200) / 255, 4);
    expect(Array.from(await result.attribution.data())).toEqual(Array.from(await expected.data()));
    tf.dispose([x, expected, result.attribution]);
    expect(result.explanation.method).toEqual({
      name: 'occlusion',
      parameters: { slidingWindowShapes: [4, 4, 3], strides: [4, 4, 3], baselines: 0, workers: 1, incremental: true },
    });
    expect(result.explanation.image).toEqual({ source: 'photo:p.png', width: 8, height: 8 });
    expect(result.figures.map((f) => f.title)).toEqual(['Green', 'Green']);
    expect(log).toEqual(['backend', 'decode p.png', 'figure heat_map 8x8 over 8x8', 'figure blended_heat_map+original_image 8x8 over 8x8']);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('checks options before decoding anything, and method options against the image before predicting', async () => {
    const log: string[] = [];
    const before = tf.memory().numTensors;
    await expect(explainImage(platform(log), model, { image: 'p.png', method: 'lime' as never })).rejects.toMatchObject({ code: 'invalid_option' });
    await expect(explainImage(platform(log), model, { image: 'p.png', totalPreds: 0 })).rejects.toMatchObject({ code: 'invalid_option' });
    expect(log).toEqual([]);
    await expect(
      explainImage(platform(log), model, { image: 'p.png', preset: 'unit', methodOptions: { slidingWindowShapes: [9, 9] } }),
    ).rejects.toMatchObject({ code: 'window_too_large' });
    await expect(
      explainImage(platform(log), model, { image: 'p.png', preset: 'unit', method: 'integrated_gradients', methodOptions: { nSteps: 0 } }),
    ).rejects.toMatchObject({ code: 'invalid_option' });
    await expect(explainImage(platform(log), model, { image: 'p.png', preset: 'unit', target: 3, methodOptions: { slidingWindowShapes: [4, 4], strides: 4 } })).rejects.toMatchObject({ code: 'invalid_target' });
    expect(log.filter((l) => l.startsWith('figure'))).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('explainImage with metrics', () => {
  it('adds the metrics the caller names, equal to the metric functions, and draws the curves once', async () => {
    const log: string[] = [];
    const before = tf.memory().numTensors;
    const progress: string[] = [];
    const result = await explainImage(platform(log), model, {
      image: 'p.png',
      preset: 'unit',
      method: 'saliency',
      metrics: ['deletion', 'insertion', 'sensitivity_max'],
      metricOptions: { steps: 4 },
      onMetricProgress: (name, done, total) => progress.push(`${name} ${done}/${total}`),
    });
    const { input: x } = await prepareInput(photo(), 'unit', [8, 8, 3]);
    const direct = await deletion(model, x, result.attribution, { target: 1, steps: 4 });
    expect(result.metrics!.deletion!.values).toEqual(direct.values);
    expect(result.explanation.metrics!.deletion!.curves![0].x).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(result.explanation.metrics!.insertion!.values).toHaveLength(1);
    // Saliency of a sum is constant (1 on the target channel): sensitivity to any perturbation is 0.
    expect(result.explanation.metrics!.sensitivity_max!.values).toEqual([0]);
    expect(log.filter((l) => l.startsWith('curves'))).toEqual(['curves deletion+insertion']);
    expect(progress.some((p) => p.startsWith('insertion'))).toBe(true);
    tf.dispose([x, result.attribution]);
    expect(tf.memory().numTensors).toBe(before);
    await expect(explainImage(platform([]), model, { image: 'p.png', metrics: ['faithfulness' as never] })).rejects.toMatchObject({ code: 'invalid_option' });
  });
});

describe('resolveBackend', () => {
  it('keeps the first candidate that starts and records why the others did not', async () => {
    const started = await resolveBackend(['gpu', 'fast', 'slow'], async (name) => {
      if (name === 'gpu') throw new Error('no adapter\nsecond line');
      if (name === 'fast') return 'not registered';
    });
    expect(started).toBe('slow');
    expect(backendAttempts()).toEqual([
      { name: 'gpu', ok: false, reason: 'no adapter' },
      { name: 'fast', ok: false, reason: 'not registered' },
      { name: 'slow', ok: true, reason: undefined },
    ]);
    await expect(resolveBackend(['a', 'b'], async () => 'nope')).rejects.toMatchObject({ code: 'backend_unavailable', message: expect.stringMatching(/a: nope; b: nope/) });
  });
});
