// The method table: one vocabulary (Captum's names), the same defaults everywhere, options checked once.
import { describe, expect, it } from 'vitest';
import { METHOD_NAMES, METHODS, resolveMethodOptions } from '@easy-explain/core';
import { methodEntry } from '@easy-explain/core/internal';

const shape = [1, 224, 224, 3];

describe('method table', () => {
  it('lists the user-facing methods and keeps the parity-only entries runnable by name', () => {
    expect(METHOD_NAMES).toEqual(['occlusion', 'integrated_gradients', 'saliency', 'guided_backprop', 'grad_cam', 'guided_grad_cam', 'smoothgrad']);
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
  ])('%s with %j is refused with %s', (method, options, code) => {
    expect(() => resolveMethodOptions(method as never, options as never, shape)).toThrow(expect.objectContaining({ code }));
  });
});
