// Parity with pytorch-grad-cam (084273b) and torchcam 0.4.0 on the Captum fixture (tiny_cnn), on cpu and wasm.
// Tolerances: pytorch-grad-cam raw maps within 1e-4 × their maximum, final maps within 2/255 (cv2's resize on
// 8-bit display scales), torchcam's normalised maps within 1e-4. Measured float32 noise here: ≤ 4e-7 on cpu and ≤ 6e-6 on
// wasm on every map (logged per case), so the bounds leave room for other backends' summation orders, not for formula errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  asModel,
  camExplain,
  pytorchGradCam,
  SmoothGradCamPP,
  torchcam,
  TorchcamLayerCam,
  type Model,
  type PytorchGradCamName,
} from '@easy-explain/core/internal';
import { join } from 'node:path';
import { REFERENCE, loadLayersModel, maxAbsDiff, setKernelLeakChecks, useBackend } from './helpers';
import { bilinearHalfPixel, camArray, noLeak, PYTORCH_GRAD_CAM_CASES } from './cam-helpers';

const MODEL = 'tiny_cnn';
const LAYER = 'relu3';
const FUSE_WITH = 'relu2';

function check(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number) {
  const err = maxAbsDiff(actual, expected);
  console.log(`${label}: max |Δ| ${err.toExponential(2)} (atol ${atol.toExponential(2)})`);
  expect(err).toBeLessThan(atol);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`CAM family vs pytorch-grad-cam and torchcam on ${backend}, ${MODEL}`, () => {
    let layers: Awaited<ReturnType<typeof loadLayersModel>>;
    let model: Model;
    let x: tf.Tensor4D;
    const target = camArray(`${MODEL}/pytorch_grad_cam/GradCAM/raw`).target!;
    beforeAll(async () => {
      await useBackend(backend);
      setKernelLeakChecks(false);
      layers = await loadLayersModel(join(REFERENCE, 'model', 'model.json'));
      model = asModel(layers);
      const input = camArray(`${MODEL}/input`);
      x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
    });
    afterAll(() => {
      x.dispose();
      layers.dispose();
      setKernelLeakChecks(true);
    });

    for (const c of PYTORCH_GRAD_CAM_CASES) {
      it(`pytorch-grad-cam ${c}: raw and final`, async () => {
        const eigenSmooth = c === 'GradCAM_eigen_smooth';
        const name = (eigenSmooth ? 'GradCAM' : c) as PytorchGradCamName;
        const cam = pytorchGradCam(name, model, LAYER);
        const result = await noLeak(() => cam.explain(x, { eigenSmooth }), (r) => [r.raw, r.final]);
        const refRaw = camArray(`${MODEL}/pytorch_grad_cam/${c}/raw`);
        const refFinal = camArray(`${MODEL}/pytorch_grad_cam/${c}/final`);
        expect(result.targets).toEqual([refRaw.target]);
        expect(result.raw.shape).toEqual(refRaw.shape);
        expect(result.final.shape).toEqual(refFinal.shape);
        check(`${backend} ${c} raw`, await result.raw.data(), refRaw.data, 1e-4 * refRaw.max_abs);
        check(`${backend} ${c} final`, await result.final.data(), refFinal.data, 2 / 255);
        tf.dispose([result.raw, result.final]);
      });
    }

    for (const name of ['GradCAM', 'GradCAMpp', 'LayerCAM'] as const) {
      it(`torchcam ${name}`, async () => {
        const ref = camArray(`${MODEL}/torchcam/${name}`);
        const { map, targets } = await noLeak(() => torchcam(name, model, LAYER).explain(x), (r) => [r.map]);
        expect(targets).toEqual([ref.target]);
        expect(map.shape).toEqual(ref.shape);
        check(`${backend} torchcam ${name}`, await map.data(), ref.data, 1e-4);
        map.dispose();
      });
    }

    it('torchcam SmoothGradCAMpp with the stored noise (4 samples, std 0.3)', async () => {
      const ref = camArray(`${MODEL}/torchcam/SmoothGradCAMpp`);
      const stored = camArray(`${MODEL}/torchcam/SmoothGradCAMpp_noise_nhwc`);
      const noise = tf.tensor4d(stored.data, stored.shape as [number, number, number, number]);
      const progress: number[] = [];
      const { map } = await noLeak(
        () => new SmoothGradCamPP(model, LAYER).explain(x, { target, noise, onProgress: (done) => progress.push(done) }),
        (r) => [r.map],
      );
      noise.dispose();
      expect(progress).toEqual([1, 2, 3, 4]);
      check(`${backend} torchcam SmoothGradCAMpp`, await map.data(), ref.data, 1e-4);
      map.dispose();
    });

    it('torchcam SmoothGradCAMpp with a seed repeats, and differs from another seed', async () => {
      const cam = new SmoothGradCamPP(model, LAYER);
      const a = (await cam.explain(x, { seed: 7 })).map;
      const b = (await cam.explain(x, { seed: 7 })).map;
      const c = (await cam.explain(x, { seed: 8 })).map;
      expect(maxAbsDiff(await a.data(), await b.data())).toBe(0);
      expect(maxAbsDiff(await a.data(), await c.data())).toBeGreaterThan(1e-3);
      tf.dispose([a, b, c]);
    });

    it('torchcam LayerCAM on two layers and LayerCAM.fuse_cams', async () => {
      const before = tf.memory().numTensors;
      const first = (await torchcam('LayerCAM', model, LAYER).explain(x)).map;
      const second = (await torchcam('LayerCAM', model, FUSE_WITH).explain(x)).map;
      const fused = TorchcamLayerCam.fuseCams([first, second]);
      const single = TorchcamLayerCam.fuseCams([first]);
      const ref0 = camArray(`${MODEL}/torchcam/LayerCAM_layer0`);
      const ref1 = camArray(`${MODEL}/torchcam/LayerCAM_layer1`);
      const refFused = camArray(`${MODEL}/torchcam/LayerCAM_fused`);
      expect(fused.shape.slice(1)).toEqual(refFused.shape);
      check(`${backend} LayerCAM ${LAYER}`, await first.data(), ref0.data, 1e-4);
      check(`${backend} LayerCAM ${FUSE_WITH}`, await second.data(), ref1.data, 1e-4);
      check(`${backend} fuse_cams`, await fused.data(), refFused.data, 1e-4);
      // One map is returned as it is, without the tanh scaling (torchcam's early return).
      expect(maxAbsDiff(await single.data(), await first.data())).toBe(0);
      tf.dispose([first, second, fused, single]);
      expect(tf.memory().numTensors).toBe(before);
    });

    it("camExplain: easy-explain's SmoothGradCAM++ map, LayerCAM mask (≥ 0.5) and fused map in one call", async () => {
      const stored = camArray(`${MODEL}/torchcam/SmoothGradCAMpp_noise_nhwc`);
      const noise = tf.tensor4d(stored.data, stored.shape as [number, number, number, number]);
      const before = tf.memory().numTensors;
      const out = await camExplain(model, x, { layers: [LAYER, FUSE_WITH], smooth: { noise } });
      expect(tf.memory().numTensors).toBe(before);
      noise.dispose();
      expect(out.target).toBe(target);
      expect(out.layer).toBe(LAYER);
      expect(out.maskLayer).toBe(LAYER);
      check(`${backend} camExplain SmoothGradCAMpp`, out.smoothGradCamPP.data, camArray(`${MODEL}/torchcam/SmoothGradCAMpp`).data, 1e-4);
      check(`${backend} camExplain fused`, out.fused!.data, camArray(`${MODEL}/torchcam/LayerCAM_fused`).data, 1e-4);
      expect(out.layerMaps.map((m) => [m.height, m.width])).toEqual([
        [16, 16],
        [32, 32],
      ]);
      // The mask: the reference LayerCAM map resized by an independent half-pixel bilinear, thresholded at 0.5.
      // Pixels within 1e-4 of the threshold may fall either way.
      const ref0 = camArray(`${MODEL}/torchcam/LayerCAM_layer0`);
      const resized = bilinearHalfPixel(ref0.data, 16, 16, 32, 32);
      expect([out.localisationMask.height, out.localisationMask.width]).toEqual([32, 32]);
      let ones = 0;
      for (let i = 0; i < resized.length; i++) {
        if (Math.abs(resized[i] - 0.5) < 1e-4) continue;
        expect(out.localisationMask.data[i]).toBe(resized[i] >= 0.5 ? 1 : 0);
        ones += out.localisationMask.data[i];
      }
      console.log(`${backend} localisation mask: ${ones} of 1024 pixels ≥ 0.5`);
      expect(ones).toBeGreaterThan(0);
      expect(ones).toBeLessThan(1024);
    });
  });
}
