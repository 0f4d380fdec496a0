import * as tf from '@tensorflow/tfjs-core';
import { depthwiseInputGradient, type DepthwiseAttrs } from './depthwise-conv-grad.js';
import { maxPoolInputGradient, type MaxPoolAttrs } from './max-pool-grad.js';
import { conv2dBackpropInputViaConv } from './conv2d-backprop-input.js';

/** 'plain': true gradients. 'guided': ReLU backward passes only positive gradients (guided backpropagation). */
export type GradientMode = 'plain' | 'guided';

type GradConfig = tf.GradConfig;
type Grads = Record<string, () => tf.Tensor>;

function depthwiseConfig(original: GradConfig | undefined): GradConfig {
  return {
    kernelName: 'DepthwiseConv2dNative',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const grads: Grads = {
        x: () => depthwiseInputGradient(x.shape, dy as tf.Tensor4D, filter, attrs as unknown as DepthwiseAttrs),
      };
      // The filter gradient stays lazy: tfjs only calls it when the filter is being differentiated.
      const filterGrad = original && (original.gradFunc(dy, saved, attrs) as Grads).filter;
      if (filterGrad) grads.filter = filterGrad;
      return grads;
    },
  };
}

/** Batch norm's input gradient as a per-channel broadcast (tfjs's tiles the scale to the input's full size first). */
function batchNormConfig(original: GradConfig | undefined): GradConfig {
  return {
    kernelName: 'FusedBatchNorm',
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const [x, , variance, scale] = saved;
      const epsilon = (attrs as { varianceEpsilon: number }).varianceEpsilon;
      const rest = () => (original ? (original.gradFunc(dy, saved, attrs) as Grads) : {});
      const lazy = (name: string) => () => rest()[name]();
      return {
        x: () =>
          tf.tidy(() => {
            let factor = tf.rsqrt(tf.add(variance, epsilon));
            if (scale) factor = tf.mul(factor, scale);
            return tf.reshape(tf.mul(dy as tf.Tensor, factor), x.shape);
          }),
        mean: lazy('mean'),
        variance: lazy('variance'),
        scale: lazy('scale'),
        offset: lazy('offset'),
      };
    },
  };
}

const maxPoolConfig: GradConfig = {
  kernelName: 'MaxPool',
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, y] = saved as [tf.Tensor4D, tf.Tensor4D];
    return { x: () => maxPoolInputGradient(dy as tf.Tensor4D, x, y, attrs as unknown as MaxPoolAttrs) };
  },
};

// Guided backprop: grad_in = relu(grad_out) · (x > 0) (and x ≤ 6 for Relu6).
const guidedRelu: GradConfig = {
  kernelName: 'Relu',
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    return { x: () => tf.mul(tf.relu(dy as tf.Tensor), tf.cast(tf.greater(x, 0), 'float32')) };
  },
};
const guidedRelu6: GradConfig = {
  kernelName: 'Relu6',
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    const mask = tf.logicalAnd(tf.greater(x, 0), tf.lessEqual(x, 6));
    return { x: () => tf.mul(tf.relu(dy as tf.Tensor), tf.cast(mask, 'float32')) };
  },
};

/**
 * Fused convolutions (tf.fused.conv2d / depthwiseConv2d with a linear activation) compute the filter gradient
 * eagerly inside their custom gradient, even when only the input is differentiated. While an input gradient runs,
 * these kernels are swapped for one that returns zeros without computing anything; the value is discarded by tfjs
 * because the filter is not on the path from the input.
 */
const FILTER_GRADIENT_KERNELS = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter'];

/** Backends whose Conv2DBackpropInput kernel is a slow loop; core routes it through their Conv2D kernel. */
const FAST_BACKPROP_INPUT_BACKENDS = ['wasm', 'cpu'];

function skippedFilterGradient(kernelName: string, backendName: string): tf.KernelConfig {
  return {
    kernelName,
    backendName,
    kernelFunc: ({ backend, attrs }) => {
      const shape = (attrs as { filterShape: number[] }).filterShape;
      const size = shape.reduce((a, b) => a * b, 1);
      const dataId = (backend as tf.KernelBackend).write(new Float32Array(size), shape, 'float32');
      return { dataId, shape, dtype: 'float32' };
    },
  };
}

/**
 * Runs `fn` (synchronous: a whole tf.grad call, forward and backward) with core's gradient rules installed, and
 * restores tfjs's registries afterwards. tfjs binds a node's gradient at forward time, so the scope must cover both.
 */
export function withGradientRules<T>(mode: GradientMode, fn: () => T): T {
  const backendName = tf.getBackend();
  const gradients: GradConfig[] = [
    depthwiseConfig(tf.getGradient('DepthwiseConv2dNative')),
    batchNormConfig(tf.getGradient('FusedBatchNorm')),
    maxPoolConfig,
  ];
  if (mode === 'guided') gradients.push(guidedRelu, guidedRelu6);
  const savedGradients = gradients.map((g) => tf.getGradient(g.kernelName));
  const kernels = FILTER_GRADIENT_KERNELS.map((name) => skippedFilterGradient(name, backendName));
  if (FAST_BACKPROP_INPUT_BACKENDS.includes(backendName)) {
    kernels.push(conv2dBackpropInputViaConv(backendName, tf.getKernel('Conv2DBackpropInput', backendName)));
  }
  const savedKernels = kernels.map((k) => tf.getKernel(k.kernelName, backendName));
  gradients.forEach((g) => tf.registerGradient(g));
  kernels.forEach((k, i) => {
    if (savedKernels[i]) tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel(k);
  });
  try {
    return fn();
  } finally {
    kernels.forEach(({ kernelName: name }, i) => {
      tf.unregisterKernel(name, backendName);
      const original = savedKernels[i];
      if (original) tf.registerKernel(original);
    });
    gradients.forEach((g, i) => {
      const original = savedGradients[i];
      if (original) tf.registerGradient(original);
      else tf.unregisterGradient(g.kernelName);
    });
  }
}
