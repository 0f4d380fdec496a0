// The method table: one vocabulary (Captum's names), the same defaults everywhere, options checked once.
import { describe, expect, it } from 'vitest';
import { METHOD_NAMES, METHODS, resolveMethodOptions } from '@easy-explain/core';
import { methodEntry } from '@easy-explain/core/internal';

const shape = [1, 224, 224, 3];

describe('method table', () => {
  it('lists the user-facing methods and keeps the parity-only entries runnable by name', () => {
    expect(METHOD_NAMES).toEqual([
      'occlusion', 'integrated_gradients', 'saliency', 'guided_backprop', 'grad_cam', 'guided_grad_cam', 'smoothgrad',
      'grad_cam_plusplus', 'hires_cam', 'grad_cam_element_wise', 'xgrad_cam', 'layer_cam', 'eigen_cam', 'eigen_grad_cam', 'score_cam', 'ablation_cam',
    ]);
    expect(METHODS.layer_grad_cam.output).toBe('layer');
    expect(METHODS.noise_tunnel.listed).toBe(false);
    expect(() => methodEntry('toString')).toThrow(/Unknown method "toString"/);
  });

  it("fills in easy-explain's and Captum's defaults", () => {
    expect(resolveMethodOptions('occlusion', {}, shape)).toEqual({
      slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3], baselines: 0, perturbationsPerEval: undefined, workers: 'auto', incremental: true,
    });
    expect(resolveMethodOptions('occlusion', { slidingWindowShapes: [16, 16, 1], strides: [8, 4] }, [1, 64, 64, 1])).toMatchObject({
      slidingWindowShapes: [16, 16, 1], strides: [8, 4, 1],
    });
    expect(resolveMethodOptions('integrated_gradients', {}, shape)).toEqual({ nSteps: 50, method: 'gausslegendre', baselines: 0, internalBatchSize: undefined });
    expect(resolveMethodOptions('saliency', {}, shape)).toEqual({ abs: true });
    expect(resolveMethodOptions('grad_cam', {}, shape)).toEqual({ layer: undefined, reluAttributions: false, interpolateMode: 'bilinear' });
    expect(resolveMethodOptions('guided_grad_cam', {}, shape)).toEqual({ layer: undefined, interpolateMode: 'nearest' });
    expect(resolveMethodOptions('smoothgrad', {}, shape)).toEqual({ abs: true, ntSamples: 20, ntSamplesBatchSize: 10, stdevs: undefined, seed: 0 });
    expect(resolveMethodOptions('score_cam', {}, shape)).toEqual({ layer: undefined, eigenSmooth: false, batchSize: undefined, workers: 'auto' });
    // Only the forward-only CAMs run on workers.
    expect(resolveMethodOptions('grad_cam_plusplus', {}, shape)).toEqual({ layer: undefined, eigenSmooth: false, batchSize: undefined });
    expect(resolveMethodOptions('noise_tunnel', {}, shape)).toMatchObject({ inner: { method: 'saliency' }, ntType: 'smoothgrad' });
  });

  it.each([
    ['occlusion', { slidingWindowShapes: [300, 300] }, 'window_too_large'],
    ['occlusion', { slidingWindowShapes: [45] }, 'invalid_window'],
    ['occlusion', { strides: 50 }, 'stride_too_large'],
    ['occlusion', { workers: 0 }, 'invalid_option'],
    ['occlusion', { baselines: Number.NaN }, 'invalid_option'],
    ['occlusion', { perturbationsPerEval: 1.5 }, 'invalid_option'],
    ['integrated_gradients', { nSteps: 0 }, 'invalid_option'],
    ['integrated_gradients', { method: 'simpson' }, 'invalid_option'],
    ['grad_cam', { interpolateMode: 'bicubic' }, 'invalid_option'],
    ['smoothgrad', { ntSamples: -1 }, 'invalid_option'],
    ['noise_tunnel', { ntType: 'smoothgrad_cubed' }, 'invalid_option'],
    ['noise_tunnel', { inner: { method: 'occlusion' } }, 'invalid_option'],
    ['ablation_cam', { batchSize: 0 }, 'invalid_option'],
    ['score_cam', { workers: 0 }, 'invalid_option'],
    ['ablation_cam', { workers: 'many' }, 'invalid_option'],
  ])('%s with %j is refused with %s', (method, options, code) => {
    expect(() => resolveMethodOptions(method as never, options as never, shape)).toThrow(expect.objectContaining({ code }));
  });
});

describe('CAM family in the table', () => {
  it("score_cam's channel sum is pytorch-grad-cam's final map, and every CAM entry names its layer", async () => {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    const { loadLayersModel, REFERENCE } = await import('./helpers');
    const { asModel, ScoreCam, runMethod } = await import('@easy-explain/core/internal');
    const model = asModel(await loadLayersModel(`${REFERENCE}/model/model.json`));
    const x = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 5) as import('@tensorflow/tfjs-core').Tensor4D;
    const warm = await runMethod('score_cam', model, x, { target: 2 }, { layer: 'relu3' }); // the model builds lazily on first use
    warm.attribution.dispose();
    const before = tf.memory().numTensors;
    const { attribution, parameters } = await runMethod('score_cam', model, x, { target: 2 }, { layer: 'relu3' });
    const { raw, final } = await new ScoreCam(model, 'relu3').explain(x, { target: 2 });
    const summed = tf.sum(attribution, 3, true);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(summed, final))).dataSync()[0])).toBeLessThan(1e-6);
    expect(parameters).toMatchObject({ layer: 'relu3', mapShape: raw.shape, className: 'ScoreCAM' });
    tf.dispose([attribution, raw, final, summed]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
