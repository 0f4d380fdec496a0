import { describe, expect, it } from 'vitest';
import { resolveMethodOptions } from '@easy-explain/core';
import { methodOptionsFromFlags } from '../src/cli-methods';

describe('CLI flags → method options', () => {
  const flags = { window: 16, stride: 8, baseline: 0.5, workers: 2 as const, steps: 7, samples: 3, layer: 'conv3' };
  it('maps each flag onto the option of the chosen method, in Captum names', () => {
    expect(resolveMethodOptions('occlusion', methodOptionsFromFlags('occlusion', flags), [1, 32, 32, 3])).toMatchObject({
      slidingWindowShapes: [16, 16, 3], strides: [8, 8, 3], baselines: 0.5, workers: 2,
    });
    expect(methodOptionsFromFlags('integrated_gradients', flags)).toEqual({ nSteps: 7, baselines: 0.5 });
    expect(methodOptionsFromFlags('smoothgrad', flags)).toEqual({ ntSamples: 3 });
    expect(methodOptionsFromFlags('grad_cam', flags)).toEqual({ layer: 'conv3' });
    expect(methodOptionsFromFlags('guided_grad_cam', flags)).toEqual({ layer: 'conv3' });
    expect(methodOptionsFromFlags('saliency', flags)).toEqual({});
  });
  it('leaves unset flags to the table defaults', () => {
    expect(resolveMethodOptions('occlusion', methodOptionsFromFlags('occlusion', {}), [1, 224, 224, 3])).toMatchObject({
      slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3], baselines: 0, workers: 'auto',
    });
  });
});
