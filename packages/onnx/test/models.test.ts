// The 224×224 ONNX models vs PyTorch and Captum (../shared/reference/onnx), converted and run on wasm.
// Tolerances: outputs 1e-4 relative; Occlusion and Grad-CAM 1e-4 of the map's maximum (they agree to ~1e-5 between
// float32 implementations), widened to 1e-5 of the output's maximum where that is larger: an Occlusion value is a
// difference of two logits, and wasm's logits differ from PyTorch's by up to 5e-6 of their maximum (mobilenet_v2:
// 4.6e-5 on logits of 8.7, so 3.1e-5 on an occlusion map of maximum 0.25). Saliency and Integrated Gradients:
// 5e-2 of the maximum: gradients of deep ReLU/ReLU6 networks flip at activation kinks under float32 rounding
// (../shared/reference/onnx/README.md). Measured on the same converted model, Saliency on cpu vs wasm differs by
// 3.6e-2 of the maximum on resnet18, 1.8e-2 on mobilenet v1, 6.4e-3 on squeezenet; wasm vs Captum here: 3.6e-2
// (resnet18), 6.4e-3 (squeezenet), 4.0e-3 (mobilenet v1), < 1e-5 (v2, v3); IG ≤ 2.9e-2 (mobilenet_v2).
// Integrated Gradients runs on the three MobileNets only: on resnet18 and squeezenet its 32 steps take 60–100 s on
// wasm, and Saliency already checks their gradients.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { asModel, IntegratedGradients, LayerGradCam, Occlusion, Saliency, type Model } from '@easy-explain/core/internal';
import { convertOnnx, onnxLayerName } from '@easy-explain/onnx';
import { maxAbsDiff, onnxBytes, onnxIndex, referenceArray, setKernelLeakChecks, take, useBackend } from './helpers';

const GRADIENT_TOLERANCE = 5e-2;
const IG_MODELS = new Set(['mobilenet_v2', 'mobilenet_v3_small', 'mobilenet_v1_0.75']);

for (const name of ['resnet18', 'mobilenet_v2', 'squeezenet1_1', 'mobilenet_v3_small', 'mobilenet_v1_0.75']) {
  const info = onnxIndex.models[name];
  describe(`${name}.onnx on wasm`, () => {
    let layers: tfl.LayersModel;
    let model: Model;
    let x: tf.Tensor4D;
    beforeAll(async () => {
      await useBackend('wasm');
      setKernelLeakChecks(false);
      layers = await convertOnnx(onnxBytes(name));
      model = asModel(layers);
      const input = referenceArray(`${name}/input`);
      x = tf.tensor4d(input.values, input.shape as [number, number, number, number]);
    });
    afterAll(() => {
      x.dispose();
      layers.dispose();
      setKernelLeakChecks(true);
    });

    it('outputs PyTorch’s output within 1e-4 relative', async () => {
      const expected = referenceArray(`${name}/output`);
      const err = maxAbsDiff(await take(model.predict(x)), expected.values);
      console.log(`${name} output: max |Δ| ${err.toExponential(2)} of max ${expected.maxAbs.toFixed(3)}`);
      expect(err).toBeLessThan(1e-4 * expected.maxAbs);
      expect(model.outputKind).toBe(name === 'mobilenet_v1_0.75' ? 'probabilities' : 'logits');
    });

    const compare = async (label: string, key: string, run: () => Promise<tf.Tensor>, tolerance: number, floor = 0) => {
      const expected = referenceArray(key);
      const before = tf.memory().numTensors;
      const result = await run();
      expect(result.shape).toEqual(expected.shape);
      const err = maxAbsDiff(await take(result), expected.values);
      expect(tf.memory().numTensors).toBe(before);
      console.log(`${name} ${label}: max |Δ| / max ${(err / expected.maxAbs).toExponential(2)} (tolerance ${tolerance})`);
      expect(err).toBeLessThan(Math.max(tolerance * expected.maxAbs, floor));
    };

    it('Occlusion (window 56, stride 28) matches Captum within 1e-4 of the maximum (logit noise floor)', () =>
      compare('occlusion', `${name}/occlusion_56_28`, () =>
        new Occlusion(model).attribute(x, { target: info.target, slidingWindowShapes: [56, 56, 3], strides: [28, 28, 3], baselines: 0 }),
        1e-4, 1e-5 * referenceArray(`${name}/output`).maxAbs));

    if (info.grad_cam_layer_onnx_tensor) {
      it(`Grad-CAM at ${info.grad_cam_layer_onnx_tensor} matches Captum within 1e-4 of the maximum`, () =>
        compare('grad-cam', `${name}/grad_cam`, () =>
          new LayerGradCam(model, onnxLayerName(layers, info.grad_cam_layer_onnx_tensor)).attribute(x, { target: info.target }), 1e-4));
    }

    it('Saliency matches Captum within the float32 gradient tolerance', () =>
      compare('saliency', `${name}/saliency_abs`, () => new Saliency(model).attribute(x, { target: info.target, abs: true }), GRADIENT_TOLERANCE));

    it.runIf(IG_MODELS.has(name))('Integrated Gradients matches Captum within the float32 gradient tolerance', () =>
      compare('integrated gradients', `${name}/integrated_gradients_32`, () =>
        new IntegratedGradients(model).attribute(x, { target: info.target, nSteps: 32, method: 'gausslegendre' }), GRADIENT_TOLERANCE));
  });
}
