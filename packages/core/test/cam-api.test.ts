// CAM family behaviour on the Captum fixture (cpu): errors, batches, progress, abort, defaults, and the
// principal-component projection on data with a known answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  AblationCam,
  asModel,
  camExplain,
  EigenCam,
  ExplainError,
  firstComponentProjection,
  GradCam,
  pytorchGradCam,
  ScoreCam,
  SmoothGradCamPP,
  symmetricEigen,
  torchcam,
  TorchcamLayerCam,
  type Model,
} from '@easy-explain/core/internal';
import { join } from 'node:path';
import { REFERENCE, loadLayersModel, maxAbsDiff, setKernelLeakChecks, useBackend } from './helpers';
import { camArray } from './cam-helpers';

/** Expects `fn` to reject with an ExplainError of `code`, leaving numTensors unchanged. */
async function rejects(code: string, fn: () => unknown) {
  const before = tf.memory().numTensors;
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ExplainError);
  expect((error as ExplainError).code).toBe(code);
  expect(tf.memory().numTensors).toBe(before);
  return (error as ExplainError).message;
}

describe('CAM family: errors, batches, progress and abort (cpu, tiny_cnn)', () => {
  let layers: Awaited<ReturnType<typeof loadLayersModel>>;
  let model: Model;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend('cpu');
    setKernelLeakChecks(false);
    layers = await loadLayersModel(join(REFERENCE, 'model', 'model.json'));
    model = asModel(layers);
    const input = camArray('tiny_cnn/input');
    x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
  });
  afterAll(() => {
    x.dispose();
    layers.dispose();
    setKernelLeakChecks(true);
  });

  it('an unknown layer is an invalid_model error naming the layers', async () => {
    const message = await rejects('invalid_model', () => pytorchGradCam('GradCAM', model, 'conv9'));
    expect(message).toContain('relu3');
    await rejects('invalid_model', () => torchcam('LayerCAM', model, 'nope'));
    await rejects('invalid_model', () => camExplain(model, x, { layers: ['relu3', 'nope'] }));
  });

  it('a layer without spatial dimensions is an invalid_model error, at construction or when run', async () => {
    for (const layer of ['gap', 'fc']) {
      expect(await rejects('invalid_model', () => new GradCam(model, layer))).toContain('spatial');
    }
    // A model that cannot tell layer shapes up front (no layerNames/layerShape): its 'pooled' layer is a 1×1 map
    // (the image's channel means), caught when the activations arrive.
    const scoresOf = (a: tf.Tensor) => tf.reshape(a, [a.shape[0], -1]) as tf.Tensor2D;
    const pooled: Model = {
      outputKind: 'logits',
      predict: (images) => scoresOf(tf.mean(images, [1, 2])),
      predictWithLayer: (images) => {
        const activations = tf.mean(images, [1, 2], true) as tf.Tensor4D;
        return { activations, scores: scoresOf(activations) };
      },
      scoresFromLayer: (_images, _layer, activations) => scoresOf(activations),
    };
    await rejects('invalid_model', () => new GradCam(pooled, 'pooled').explain(x, { target: 0 }));
    await rejects('invalid_model', () => new ScoreCam(pooled, 'pooled').explain(x, { target: 0 }));
    await rejects('invalid_model', () => torchcam('SmoothGradCAMpp', pooled, 'pooled').explain(x, { target: 0 }));
    await rejects('invalid_model', () => camExplain(pooled, x, { layer: 'pooled', maskLayer: 'pooled' }));
  });

  it('a model that cannot run up to a layer is an invalid_model error', async () => {
    const plain = asModel((images: tf.Tensor4D) => tf.reshape(images, [images.shape[0], -1]) as tf.Tensor2D);
    await rejects('invalid_model', () => new GradCam(plain, 'relu3'));
    await rejects('invalid_model', () => camExplain(plain, x));
  });

  it('targets out of range, not integers or of the wrong count are invalid_target errors', async () => {
    for (const target of [10, -1, 2.5, [4, 4]]) {
      await rejects('invalid_target', () => new GradCam(model, 'relu3').explain(x, { target }));
      await rejects('invalid_target', () => new ScoreCam(model, 'relu3').explain(x, { target }));
      await rejects('invalid_target', () => torchcam('SmoothGradCAMpp', model, 'relu3').explain(x, { target }));
    }
    await rejects('invalid_target', () => camExplain(model, x, { target: 12 }));
  });

  it('unknown names and bad options are invalid_option errors; bad inputs invalid_input', async () => {
    await rejects('invalid_option', () => pytorchGradCam('GradCam' as never, model));
    await rejects('invalid_option', () => torchcam('GradCAMPlusPlus' as never, model));
    await rejects('invalid_option', () => new ScoreCam(model, 'relu3').explain(x, { batchSize: 0 }));
    await rejects('invalid_option', () => new AblationCam(model, 'relu3').explain(x, { batchSize: 1.5 }));
    await rejects('invalid_option', () => new SmoothGradCamPP(model, 'relu3').explain(x, { numSamples: 0 }));
    const noise = tf.zeros([3, 32, 32, 3]) as tf.Tensor4D;
    await rejects('invalid_option', () => new SmoothGradCamPP(model, 'relu3').explain(x, { noise }));
    noise.dispose();
    await rejects('invalid_option', () => camExplain(model, x, { layers: 'relu3' as never }));
    await rejects('invalid_option', () => camExplain(model, x, { threshold: Number.NaN }));
    const pair = tf.concat([x, x]) as tf.Tensor4D;
    await rejects('invalid_input', () => camExplain(model, pair));
    pair.dispose();
    const flat = tf.zeros([32, 32, 3]);
    await rejects('invalid_input', () => new GradCam(model, 'relu3').explain(flat as never));
    flat.dispose();
  });

  it('the default layer is the last spatial layer before global pooling; the default target the top-1 class', async () => {
    const cam = pytorchGradCam('GradCAM', model);
    expect(cam.layer).toBe('relu3');
    expect(cam.layerIsDefault).toBe(true);
    const out = await cam.explain(x);
    expect(out.targets).toEqual([4]);
    tf.dispose([out.raw, out.final]);
  });

  it("camExplain's layers: SmoothGradCAM++ on `layer`, the mask on the located layer (as easy-explain), fusion only when asked", async () => {
    const before = tf.memory().numTensors;
    const plain = await camExplain(model, x, { smooth: { seed: 1 } });
    expect([plain.layer, plain.maskLayer, plain.layers, plain.layerMaps, plain.fused]).toEqual(['relu3', 'relu3', [], [], undefined]);
    const other = await camExplain(model, x, { layer: 'relu2', layers: ['relu2'], smooth: { seed: 1 } });
    expect([other.layer, other.maskLayer]).toEqual(['relu2', 'relu3']);
    expect([other.smoothGradCamPP.height, other.layerCam.height, other.localisationMask.height]).toEqual([32, 16, 32]);
    // The mask comes from the same LayerCAM map either way; one fused layer is that layer's map unchanged.
    expect(Array.from(other.localisationMask.data)).toEqual(Array.from(plain.localisationMask.data));
    expect(Array.from(other.fused!.data)).toEqual(Array.from(other.layerMaps[0].data));
    // threshold 0 marks every pixel (maps are ≥ 0); above 1, none.
    const all = await camExplain(model, x, { threshold: 0, smooth: { numSamples: 1 } });
    const none = await camExplain(model, x, { threshold: 1.01, smooth: { numSamples: 1 } });
    expect(all.localisationMask.data.every((v) => v === 1)).toBe(true);
    expect(none.localisationMask.data.every((v) => v === 0)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a batch with one target per example gives each example its own map', async () => {
    const other = tf.tidy(() => tf.reverse(x, 2)) as tf.Tensor4D; // a mirrored copy: a different map
    const pair = tf.concat([x, other]) as tf.Tensor4D;
    const targets = [4, 1];
    const methods = [
      ['GradCAM', new GradCam(model, 'relu3')],
      ['EigenCAM', new EigenCam(model, 'relu3')],
      ['ScoreCAM', new ScoreCam(model, 'relu3')],
      ['AblationCAM', new AblationCam(model, 'relu3')],
    ] as const;
    for (const [name, cam] of methods) {
      const both = await cam.explain(pair, { target: targets });
      const first = await cam.explain(x, { target: 4 });
      const second = await cam.explain(other, { target: 1 });
      const joined = tf.concat([first.final, second.final]);
      const err = maxAbsDiff(await both.final.data(), await joined.data());
      console.log(`${name} batch of 2 vs one by one: max |Δ| ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
      tf.dispose([both.raw, both.final, first.raw, first.final, second.raw, second.final, joined]);
    }
    const layerCam = new TorchcamLayerCam(model, 'relu3');
    const both = (await layerCam.explain(pair, { target: targets })).map;
    const first = (await layerCam.explain(x, { target: 4 })).map;
    const second = (await layerCam.explain(other, { target: 1 })).map;
    const joined = tf.concat([first, second]);
    expect(maxAbsDiff(await both.data(), await joined.data())).toBeLessThan(1e-5);
    tf.dispose([both, first, second, joined, pair, other]);
  });

  it('ScoreCAM and AblationCAM report progress per batch and stop on abort without leaking', async () => {
    const progress: Array<[number, number]> = [];
    const out = await new ScoreCam(model, 'relu3').explain(x, { batchSize: 4, onProgress: (d, t) => progress.push([d, t]) });
    expect(progress).toEqual([
      [4, 16],
      [8, 16],
      [12, 16],
      [16, 16],
    ]);
    tf.dispose([out.raw, out.final]);
    // The batch size does not change the result.
    const a = await new AblationCam(model, 'relu3').explain(x, { batchSize: 5 });
    const b = await new AblationCam(model, 'relu3').explain(x);
    expect(maxAbsDiff(await a.raw.data(), await b.raw.data())).toBeLessThan(1e-7);
    tf.dispose([a.raw, a.final, b.raw, b.final]);

    const aborted = { aborted: true, reason: 'stop' };
    await rejects('aborted', () => new ScoreCam(model, 'relu3').explain(x, { signal: aborted }));
    await rejects('aborted', () => new AblationCam(model, 'relu3').explain(x, { signal: aborted }));
    await rejects('aborted', () => new SmoothGradCamPP(model, 'relu3').explain(x, { signal: aborted }));
    for (const Method of [ScoreCam, AblationCam]) {
      const signal = { aborted: false };
      let calls = 0;
      await rejects('aborted', () =>
        new Method(model, 'relu3').explain(x, {
          batchSize: 4,
          signal,
          onProgress: () => {
            calls++;
            signal.aborted = true;
          },
        }),
      );
      expect(calls).toBe(1);
    }
  });
});

describe('principal-component projection (get_2d_projection without an SVD routine)', () => {
  it('symmetricEigen diagonalises a symmetric matrix', () => {
    const a = Float64Array.from([4, 1, 2, 1, 3, 0, 2, 0, 5]);
    const { values, vectors } = symmetricEigen(a, 3);
    // A·v = λ·v for each column, and the eigenvalues sum to the trace.
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < 3; i++) {
        let av = 0;
        for (let j = 0; j < 3; j++) av += a[i * 3 + j] * vectors[j * 3 + k];
        expect(Math.abs(av - values[k] * vectors[i * 3 + k])).toBeLessThan(1e-12);
      }
    }
    expect(Math.abs(values.reduce((s, v) => s + v, 0) - 12)).toBeLessThan(1e-12);
  });

  it('rank-one data project onto their one direction, with the same answer from either Gram matrix', () => {
    // x[p][c] = a[p]·b[c]: centred, M = (a − ā)bᵀ, so the projection is ±|b|·(a − ā). Σ b > 0, so the
    // orientation rule (Σ_c v₁[c] < 0, v₁ = ∓b/|b|) picks −|b|·(a − ā).
    for (const [P, C] of [
      [6, 3],
      [3, 6],
    ]) {
      const a = Array.from({ length: P }, (_, p) => Math.sin(p + 1) + 2);
      const b = Array.from({ length: C }, (_, c) => 0.5 + c);
      const x = new Float64Array(P * C);
      for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) x[p * C + c] = a[p] * b[c];
      const mean = a.reduce((s, v) => s + v, 0) / P;
      const norm = Math.hypot(...b);
      const projection = firstComponentProjection(x, P, C);
      const expected = a.map((v) => -(v - mean) * norm);
      expect(maxAbsDiff(projection, expected)).toBeLessThan(1e-10);
    }
  });
});
