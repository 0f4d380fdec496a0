// The CLI's method flags mapped onto the method table's options (Captum's names), in this one place.
import type { MethodName, MethodOptionsByName } from '@easy-explain/core';

export interface MethodFlags {
  window?: number;
  stride?: number;
  baseline?: number;
  workers?: 'auto' | number;
  steps?: number;
  samples?: number;
  layer?: string;
}

/** The CAM family takes the layer to explain. */
const camFlags = (f: MethodFlags) => ({ layer: f.layer });

const FLAGS_TO_OPTIONS: { readonly [K in MethodName]: (flags: MethodFlags) => MethodOptionsByName[K] } = {
  occlusion: (f) => ({
    slidingWindowShapes: f.window === undefined ? undefined : [f.window, f.window],
    strides: f.stride,
    baselines: f.baseline,
    workers: f.workers,
  }),
  integrated_gradients: (f) => ({ nSteps: f.steps, baselines: f.baseline }),
  saliency: () => ({}),
  guided_backprop: () => ({}),
  grad_cam: (f) => ({ layer: f.layer }),
  guided_grad_cam: (f) => ({ layer: f.layer }),
  smoothgrad: (f) => ({ ntSamples: f.samples }),
  grad_cam_plusplus: camFlags,
  hires_cam: camFlags,
  grad_cam_element_wise: camFlags,
  xgrad_cam: camFlags,
  layer_cam: camFlags,
  eigen_cam: camFlags,
  eigen_grad_cam: camFlags,
  // Forward-only CAMs spread their batches over --workers (default 'auto'), as occlusion.
  score_cam: (f) => ({ layer: f.layer, workers: f.workers }),
  ablation_cam: (f) => ({ layer: f.layer, workers: f.workers }),
};

/** The options `--window`, `--stride`, … give `method`; flags of other methods are ignored. */
export function methodOptionsFromFlags<K extends MethodName>(method: K, flags: MethodFlags): MethodOptionsByName[K] {
  return FLAGS_TO_OPTIONS[method](flags) as MethodOptionsByName[K];
}
