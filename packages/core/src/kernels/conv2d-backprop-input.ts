import * as tf from '@tensorflow/tfjs-core';

type Info = tf.TensorInfo;

/**
 * Conv2DBackpropInput built from the backend's own forward kernels: dx = conv2d(pad(dilate(dy)), flip(Wᵀ)).
 * The wasm (and cpu) kernels of Conv2DBackpropInput are plain loops, several times slower than their Conv2D
 * (XNNPACK / im2col), which dominated MobileNet's input gradients. NHWC only; other layouts use the original kernel.
 */
export function conv2dBackpropInputViaConv(backendName: string, original: tf.KernelConfig | undefined): tf.KernelConfig {
  return {
    kernelName: 'Conv2DBackpropInput',
    backendName,
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const a = attrs as unknown as {
        strides: number | [number, number];
        pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
        dataFormat: 'NHWC' | 'NCHW';
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
        inputShape: [number, number, number, number];
      };
      if (a.dataFormat === 'NCHW' && original) return original.kernelFunc(args);
      const dy = inputs.dy as Info;
      const filter = inputs.filter as Info;
      const temps: Info[] = [];
      const run = (name: string, kernelInputs: Record<string, Info>, kernelAttrs: Record<string, unknown>): Info => {
        const kernel = tf.getKernel(name, backendName);
        if (!kernel) throw new Error(`Kernel ${name} is not registered for backend ${backendName}.`);
        const out = kernel.kernelFunc({ inputs: kernelInputs, backend, attrs: kernelAttrs as never }) as Info;
        temps.push(out);
        return out;
      };
      const [kh, kw, , outC] = filter.shape;
      const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as [number, number, number, number], a.strides, 1, a.pad, a.dimRoundingMode);
      const [n, h, w] = a.inputShape;
      const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
      try {
        let f = filter;
        if (kh > 1 || kw > 1) f = run('Reverse', { x: f }, { dims: [0, 1] });
        f = run('Transpose', { x: f }, { perm: [0, 1, 3, 2] });
        let g = dy;
        let gh = oh;
        let gw = ow;
        if (sh > 1 || sw > 1) {
          const six = run('Reshape', { x: g }, { shape: [n, oh, 1, ow, 1, outC] });
          const padded = run('PadV2', { x: six }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
          gh = oh * sh;
          gw = ow * sw;
          g = run('Reshape', { x: padded }, { shape: [n, gh, gw, outC] });
        }
        const top = kh - 1 - info.padInfo.top;
        const left = kw - 1 - info.padInfo.left;
        const bottom = h + kh - 1 - top - gh;
        const right = w + kw - 1 - left - gw;
        if (top < 0 || left < 0 || bottom < 0 || right < 0) {
          const begin = [0, Math.max(0, -top), Math.max(0, -left), 0];
          const size = [n, gh - begin[1] - Math.max(0, -bottom), gw - begin[2] - Math.max(0, -right), outC];
          g = run('Slice', { x: g }, { begin, size });
        }
        if (top > 0 || left > 0 || bottom > 0 || right > 0) {
          const paddings = [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]];
          g = run('PadV2', { x: g }, { paddings, constantValue: 0 });
        }
        const dx = tf.getKernel('Conv2D', backendName)!.kernelFunc({
          inputs: { x: g, filter: f },
          backend,
          attrs: { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1 } as never,
        }) as Info;
        return dx;
      } finally {
        for (const t of temps) (backend as tf.KernelBackend).disposeData(t.dataId);
      }
    },
  };
}
