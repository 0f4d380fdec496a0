// The Captum fixture exported to ONNX (tiny_cnn.onnx): every reference case of ../shared/reference/*.json on the
// converted model, on cpu and wasm, within the tolerances core's TF.js fixture meets (1e-4 of each map's maximum).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { asModel, IntegratedGradients, LayerGradCam, Occlusion, Saliency, GuidedBackprop, type IntegrationMethod, type Model } from '@easy-explain/core/internal';
import { join } from 'node:path';
import { convertOnnx, onnxLayerName } from '@easy-explain/onnx';
import { REFERENCE, maxAbsDiff, onnxBytes, readJson, setKernelLeakChecks, take, useBackend } from './helpers';

const inputs = readJson(join(REFERENCE, 'inputs.json'));
const occlusion = readJson(join(REFERENCE, 'occlusion.json'));
const gradients = readJson(join(REFERENCE, 'gradients.json'));
const ig = readJson(join(REFERENCE, 'integrated_gradients.json'));
const rand0 = inputs.inputs.find((i: any) => i.name === 'rand0');
const flat = (a: unknown) => (a as number[][][][]).flat(3);
const atolOf = (c: any) => 1e-4 * Math.max(c.max_abs, 1e-6);

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`tiny_cnn.onnx vs Captum on ${backend}`, () => {
    let layers: tfl.LayersModel;
    let model: Model;
    let x: tf.Tensor4D;
    // The fixture's module names → the ONNX tensors they output → the converted layers.
    const layerFor = (name: string) => onnxLayerName(layers, `/${name}/${name.startsWith('relu') ? 'Relu' : 'Conv'}_output_0`);
    beforeAll(async () => {
      await useBackend(backend);
      setKernelLeakChecks(false);
      layers = await convertOnnx(onnxBytes('tiny_cnn'));
      model = asModel(layers);
      x = tf.tensor4d(rand0.image);
    });
    afterAll(() => {
      x.dispose();
      layers.dispose();
      setKernelLeakChecks(true);
    });

    it('reproduces the fixture logits (PyTorch) and reads as logits', async () => {
      const err = maxAbsDiff(await take(model.predict(x)), rand0.logits.flat());
      console.log(`${backend} tiny_cnn logits: max |Δ| ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
      expect(model.outputKind).toBe('logits');
      expect(layerFor('relu3')).toBe('relu3/Relu_output_0');
      // Node names and layer names are accepted too.
      expect(onnxLayerName(layers, '/relu3/Relu')).toBe('relu3/Relu_output_0');
      expect(onnxLayerName(layers, 'relu3/Relu_output_0')).toBe('relu3/Relu_output_0');
    });

    const check = async (label: string, c: any, run: () => Promise<tf.Tensor>) => {
      const before = tf.memory().numTensors;
      const result = await run();
      expect(result.shape).toEqual(c.shape);
      const err = maxAbsDiff(await take(result), flat(c.attribution));
      expect(tf.memory().numTensors).toBe(before);
      console.log(`${backend} ${label}: max |Δ| ${err.toExponential(2)} (atol ${atolOf(c).toExponential(2)})`);
      expect(err).toBeLessThan(atolOf(c));
    };

    for (const c of occlusion.cases) {
      it(c.id, async () => {
        const { sliding_window_shapes, strides, baselines } = c.params.nhwc_equivalent;
        const xi = tf.tensor4d(inputs.inputs.find((i: any) => i.name === c.input).image);
        await check(c.id, c, () =>
          new Occlusion(model).attribute(xi, { target: c.target, slidingWindowShapes: sliding_window_shapes, strides, baselines }),
        );
        xi.dispose();
      });
    }

    // Two IG variants per backend keep the file quick; core's fixture tests cover the others.
    for (const c of ig.cases.filter((c: any) => c.params.method === 'gausslegendre' || c.id.endsWith('riemann_trapezoid/rand0/top'))) {
      it(c.id, () =>
        check(c.id, c, () => new IntegratedGradients(model).attribute(x, { target: c.target, nSteps: c.params.n_steps, method: c.params.method as IntegrationMethod })),
      );
    }

    for (const c of gradients.cases) {
      if (c.method === 'GuidedGradCam') continue;
      it(c.id, async () => {
        switch (c.method) {
          case 'Saliency':
            return check(c.id, c, () => new Saliency(model).attribute(x, { target: c.target, abs: c.params.abs }));
          case 'GuidedBackprop':
            return check(c.id, c, () => new GuidedBackprop(model).attribute(x, { target: c.target }));
          case 'LayerGradCam':
            return check(c.id, c, () =>
              new LayerGradCam(model, layerFor(c.params.layer)).attribute(x, { target: c.target, reluAttributions: c.params.relu_attributions }),
            );
          default:
            throw new Error(`unknown method ${c.method}`);
        }
      });
    }
  });
}
