// Parity with Captum 0.8.0's gradient methods on the reference fixture, on cpu and wasm, for both model files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  asModel,
  approximationParameters,
  GuidedBackprop,
  GuidedGradCam,
  IntegratedGradients,
  LayerGradCam,
  NoiseTunnel,
  Saliency,
  type IntegrationMethod,
  type Model,
} from '@easy-explain/core/internal';
import { join } from 'node:path';
import { REFERENCE, loadLayersModel, maxAbsDiff, readJson, setKernelLeakChecks, useBackend } from './helpers';

const ig = readJson(join(REFERENCE, 'integrated_gradients.json'));
const gradients = readJson(join(REFERENCE, 'gradients.json'));
const noiseTunnel = readJson(join(REFERENCE, 'noise_tunnel.json'));
const inputs = readJson(join(REFERENCE, 'inputs.json'));
const imageOf = (name: string) => inputs.inputs.find((i: any) => i.name === name).image;
const flat = (a: unknown) => (a as number[][][][]).flat(3);
const atolOf = (c: any) => 1e-4 * Math.max(c.max_abs, 1e-6);

/** Runs `fn`, checks the tensor count is unchanged after disposing its result, and compares with `expected`. */
async function compare(label: string, expected: number[], atol: number, fn: () => Promise<tf.Tensor>, shape?: number[]) {
  const before = tf.memory().numTensors;
  const result = await fn();
  if (shape) expect(result.shape).toEqual(shape);
  const values = await result.data();
  result.dispose();
  expect(tf.memory().numTensors).toBe(before);
  const err = maxAbsDiff(values, expected);
  console.log(`${label}: max |Δ| ${err.toExponential(2)} (atol ${atol.toExponential(2)})`);
  expect(err).toBeLessThan(atol);
}

describe('Captum approximation tables', () => {
  const tables = ig.meta.n_steps_50_tables;
  for (const method of Object.keys(tables) as IntegrationMethod[]) {
    it(`${method}: alphas and step sizes for n = 50`, () => {
      const { alphas, stepSizes } = approximationParameters(method, 50);
      expect(maxAbsDiff(alphas, tables[method].alphas)).toBeLessThan(1e-7);
      expect(maxAbsDiff(stepSizes, tables[method].step_sizes)).toBeLessThan(1e-7);
    });
  }
});

for (const backend of ['cpu', 'wasm'] as const) {
  for (const file of ['model.json', 'model_fused_relu.json']) {
    const fused = file === 'model_fused_relu.json';
    // In the fused file, layer conv3 outputs what relu3 outputs in the reference (and relu3 does not exist).
    const layerFor = (layer: string) => (fused ? (layer === 'relu3' ? 'conv3' : undefined) : layer);

    describe(`gradient methods vs Captum on ${backend}, ${file}`, () => {
      let layers: Awaited<ReturnType<typeof loadLayersModel>>;
      let model: Model;
      let x: tf.Tensor4D;
      beforeAll(async () => {
        await useBackend(backend);
        setKernelLeakChecks(false);
        layers = await loadLayersModel(join(REFERENCE, 'model', file));
        model = asModel(layers);
        x = tf.tensor4d(imageOf('rand0'));
      });
      afterAll(() => {
        x.dispose();
        layers.dispose();
        setKernelLeakChecks(true);
      });

      for (const c of ig.cases) {
        it(c.id, async () => {
          const method = c.params.method as IntegrationMethod;
          let delta: number[] = [];
          await compare(`${backend} ${file} ${c.id}`, flat(c.attribution), atolOf(c), async () => {
            const out = await new IntegratedGradients(model).attributeWithDelta(x, { target: c.target, nSteps: c.params.n_steps, method });
            delta = out.delta;
            return out.attribution;
          }, c.shape);
          console.log(`  delta ${delta[0].toExponential(4)} vs Captum ${c.convergence_delta.toExponential(4)}`);
          expect(Math.abs(delta[0] - c.convergence_delta)).toBeLessThan(2e-5 + 1e-3 * Math.abs(c.convergence_delta));
        });
      }

      it('IG: internalBatchSize does not change the result', async () => {
        const c = ig.cases[0];
        const results: Float32Array[] = [];
        for (const internalBatchSize of [7, 50]) {
          const a = await new IntegratedGradients(model).attribute(x, { target: c.target, internalBatchSize });
          results.push((await a.data()) as Float32Array);
          a.dispose();
        }
        expect(maxAbsDiff(results[0], results[1])).toBe(0);
      });

      for (const c of gradients.cases) {
        const layer = c.params.layer ? layerFor(c.params.layer) : null;
        if (layer === undefined) continue;
        it(c.id, async () => {
          const label = `${backend} ${file} ${c.id}`;
          switch (c.method) {
            case 'Saliency':
              return compare(label, flat(c.attribution), atolOf(c), () =>
                new Saliency(model).attribute(x, { target: c.target, abs: c.params.abs }), c.shape);
            case 'GuidedBackprop':
              return compare(label, flat(c.attribution), atolOf(c), () => new GuidedBackprop(model).attribute(x, { target: c.target }), c.shape);
            case 'GuidedGradCam':
              return compare(label, flat(c.attribution), atolOf(c), () =>
                new GuidedGradCam(model, layer!).attribute(x, { target: c.target, interpolateMode: c.params.interpolate_mode }), c.shape);
            case 'LayerGradCam': {
              const options = { target: c.target, reluAttributions: c.params.relu_attributions };
              await compare(label, flat(c.attribution), atolOf(c), () => new LayerGradCam(model, layer!).attribute(x, options), c.shape);
              for (const mode of ['nearest', 'bilinear'] as const) {
                await compare(`${label} upsampled ${mode}`, flat(c[`upsampled_${mode}`]), atolOf(c), async () => {
                  const map = await new LayerGradCam(model, layer!).attribute(x, options);
                  const up = LayerGradCam.interpolate(map, [32, 32], mode);
                  map.dispose();
                  return up;
                }, [1, 32, 32, 1]);
              }
              return;
            }
            default:
              throw new Error(`unknown method ${c.method}`);
          }
        });
      }

      for (const c of noiseTunnel.cases) {
        if (c.noise) {
          it(`${c.id} (injected noise, batch sizes 4 and 3)`, async () => {
            const noise = tf.tensor4d(c.noise);
            for (const ntSamplesBatchSize of [4, 3]) {
              await compare(`${backend} ${file} ${c.id} batch ${ntSamplesBatchSize}`, flat(c.attribution), atolOf(c), () =>
                new NoiseTunnel(new Saliency(model)).attribute(x, {
                  target: c.target, abs: true, ntType: c.params.nt_type, ntSamples: c.params.nt_samples,
                  stdevs: c.params.stdevs, noise, ntSamplesBatchSize,
                }), c.shape);
            }
            noise.dispose();
          });
        } else {
          it(`${c.id} (own noise, within the standard error)`, async () => {
            const samples = 128;
            const a = await new NoiseTunnel(new Saliency(model)).attribute(x, {
              target: c.target, abs: true, ntType: c.params.nt_type, ntSamples: samples, stdevs: c.params.stdevs, seed: 7, ntSamplesBatchSize: 64,
            });
            const values = await a.data();
            a.dispose();
            const expected = flat(c.attribution);
            const sem = flat(c.standard_error);
            let outside = 0;
            let worst = 0;
            for (let i = 0; i < expected.length; i++) {
              const sd = sem[i] * Math.sqrt(512);
              const bound = 4 * Math.sqrt(sem[i] ** 2 + sd ** 2 / samples) + 1e-9;
              worst = Math.max(worst, Math.abs(values[i] - expected[i]) / bound);
              if (Math.abs(values[i] - expected[i]) > bound) outside++;
            }
            console.log(`${backend} ${file} ${c.id}: worst |Δ|/bound ${worst.toFixed(3)}, ${outside} of ${expected.length} outside`);
            expect(outside).toBeLessThanOrEqual(Math.ceil(expected.length * 0.001));
          });
        }
      }
    });
  }
}
