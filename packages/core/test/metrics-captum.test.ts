// Captum's infidelity and sensitivity_max on a linear model f(x) = w·x, where both have closed forms for given
// perturbations; the default perturbations regenerated from their seeds; option errors.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  asModel,
  ExplainError,
  fromPerturbedInputs,
  infidelity,
  runMetric,
  Saliency,
  sensitivityMax,
  type ExplainFunction,
  type InfidelityPerturbFunction,
  type SensitivityPerturbFunction,
} from '@easy-explain/core/internal';
import { useBackend, errorOf } from './helpers';

const SHAPE = [1, 3, 4, 2] as const;
const SIZE = 24;
const w = Float64Array.from({ length: SIZE }, (_, i) => Math.round(100 * Math.cos(1.3 * i + 0.2)) / 100);
const x = Float64Array.from({ length: SIZE }, (_, i) => Math.round(100 * (0.5 + Math.sin(0.7 * i))) / 100);
const d = Float64Array.from({ length: SIZE }, (_, i) => ((i * 7) % 5) / 10 - 0.2); // an attribution error
// Fixed perturbations I_s, s = 0…3.
const perturbations = Array.from({ length: 4 }, (_, s) => Float64Array.from({ length: SIZE }, (_, i) => Math.sin(i * (s + 1) + s) / 10));

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((sum, v, i) => sum + v * b[i], 0);
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));
const times = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v * b[i]);
const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v + b[i]);
const scaled = (a: ArrayLike<number>, k: number) => Float64Array.from(a, (v) => v * k);
const tensor = (values: ArrayLike<number>) => tf.tensor4d(Float32Array.from(values), [...SHAPE]);

// Scores [w·x, 0]: class 0's score is linear with gradient w everywhere.
let wTensor: tf.Tensor4D;
const linear = asModel((images: tf.Tensor4D) =>
  tf.tidy(() => {
    const score = tf.sum(tf.mul(images, wTensor), [1, 2, 3]);
    return tf.stack([score, tf.zerosLike(score)], 1) as tf.Tensor2D;
  }),
);

/** Hands out the fixed perturbations in order, however the metric batches them (one example). */
function fixedInfidelityPerturb(): InfidelityPerturbFunction {
  let next = 0;
  return (inputs) =>
    tf.tidy(() => {
      const k = inputs.shape[0];
      const perturbation = tf.concat(perturbations.slice(next, next + k).map(tensor)) as tf.Tensor4D;
      next += k;
      return { perturbation, perturbed: tf.sub(inputs, perturbation) as tf.Tensor4D };
    });
}

function fixedSensitivityPerturb(): SensitivityPerturbFunction {
  let next = 0;
  return (inputs) =>
    tf.tidy(() => {
      const k = inputs.shape[0];
      const delta = tf.concat(perturbations.slice(next, next + k).map(tensor));
      next += k;
      return tf.add(inputs, delta) as tf.Tensor4D;
    });
}

/** Input × gradient through the library's Saliency: w ⊙ x for the linear model. */
const inputTimesGradient: ExplainFunction = async (model, input, options) => {
  const gradient = await new Saliency(model).attribute(input, { ...options, abs: false });
  const result = tf.mul(gradient, input);
  gradient.dispose();
  return result;
};


// Relative tolerance: a_s, b_s are float32 sums of 24 products (≈ 1e-7 relative each); 1e-5 leaves room for squaring.
const close = (got: number, want: number, rel = 1e-5) => expect(Math.abs(got - want)).toBeLessThanOrEqual(rel * Math.abs(want) + 1e-9);

describe('infidelity (cpu)', () => {
  let input: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend('cpu');
    wTensor = tensor(w);
    input = tensor(x);
  });

  it('attribution = w (the gradient) is perfectly faithful: infidelity 0', async () => {
    const attribution = tensor(w);
    const before = tf.memory().numTensors;
    const result = await infidelity(linear, input, attribution, { target: 0, perturb: fixedInfidelityPerturb(), nPerturbSamples: 4 });
    expect(tf.memory().numTensors).toBe(before);
    attribution.dispose();
    // (a − b)² with a, b ≈ 0.1 computed in float32 two ways: measured 8.6e-15 on cpu.
    console.log(`infidelity of the exact attribution: ${result.values[0].toExponential(2)}`);
    expect(result.values[0]).toBeLessThan(1e-12);
  });

  it('attribution = w + d: infidelity = mean_s (d·I_s)², by batches of 1 or all at once', async () => {
    const attribution = tensor(plus(w, d));
    const want = perturbations.reduce((sum, I) => sum + dot(d, I) ** 2, 0) / 4;
    for (const batchSize of [1, 3, 4]) {
      const progress: number[] = [];
      const result = await infidelity(linear, input, attribution, {
        target: 0,
        perturb: fixedInfidelityPerturb(),
        nPerturbSamples: 4,
        batchSize,
        onProgress: (done) => progress.push(done),
      });
      close(result.values[0], want);
      expect(result.beta).toEqual([1]);
      expect(progress.at(-1)).toBe(4);
    }
    attribution.dispose();
  });

  it('normalize: a rescaled exact attribution (3w) scores 0 with β = 1/3; unnormalised it scores mean (2 w·I)²', async () => {
    const attribution = tensor(scaled(w, 3));
    const options = { target: 0, perturb: fixedInfidelityPerturb(), nPerturbSamples: 4 };
    const normalized = await infidelity(linear, input, attribution, { ...options, normalize: true });
    close(normalized.beta[0], 1 / 3);
    expect(normalized.values[0]).toBeLessThan(1e-12);
    const raw = await infidelity(linear, input, attribution, { ...options, perturb: fixedInfidelityPerturb() });
    close(raw.values[0], perturbations.reduce((sum, I) => sum + (2 * dot(w, I)) ** 2, 0) / 4);
    attribution.dispose();
  });

  it('normalize with attribution w + d: β = Σab / Σa², value = (β²Σa² − 2βΣab + Σb²)/n', async () => {
    const phi = plus(w, d);
    const attribution = tensor(phi);
    const a = perturbations.map((I) => dot(phi, I));
    const b = perturbations.map((I) => dot(w, I));
    const aa = a.reduce((s, v) => s + v * v, 0);
    const ab = a.reduce((s, v, i) => s + v * b[i], 0);
    const bb = b.reduce((s, v) => s + v * v, 0);
    const beta = ab / aa;
    const result = await infidelity(linear, input, attribution, { target: 0, perturb: fixedInfidelityPerturb(), nPerturbSamples: 4, normalize: true });
    attribution.dispose();
    close(result.beta[0], beta);
    close(result.values[0], (beta * beta * aa - 2 * beta * ab + bb) / 4, 1e-4);
  });

  it('the default perturbation is N(0, 0.003²) with seed 0 (tf.js seed 1), subtracted from the input', async () => {
    const attribution = tensor(scaled(w, 2));
    const result = await runMetric('infidelity', linear, input, attribution, { target: 0 });
    attribution.dispose();
    // Regenerate the 10 draws (one call with tf.js seed 0 + 0 + 1: the default batch holds all 10) and take mean (2w·I − w·I)².
    const noise = tf.randomNormal([10, ...SHAPE.slice(1)], 0, 0.003, 'float32', 1);
    const values = await noise.data();
    noise.dispose();
    let want = 0;
    for (let s = 0; s < 10; s++) want += dot(w, values.subarray(s * SIZE, (s + 1) * SIZE)) ** 2 / 10;
    expect(want).toBeGreaterThan(1e-7);
    // b = f(x) − f(x − I) loses float32 digits against f(x): measured relative error 9.3e-7 on cpu.
    console.log(`infidelity, default perturbation: ${result.values[0].toExponential(4)} vs ${want.toExponential(4)} by hand (relative error ${(Math.abs(result.values[0] / want - 1)).toExponential(1)})`);
    close(result.values[0], want, 1e-5);
  });

  it('fromPerturbedInputs (Captum’s decorator): I = x − x̃ for local maps, (x − x̃) / (x − baseline) for global ones', async () => {
    // x̃ = 0.9 x + 0.05: a = Σ φ·I and b = w·x − w·x̃ = w·(0.1 x − 0.05).
    const shrink = (inputs: tf.Tensor4D) => tf.tidy(() => tf.add(tf.mul(inputs, 0.9), 0.05) as tf.Tensor4D);
    const b = dot(w, x) * 0.1 - 0.05 * w.reduce((s, v) => s + v, 0);
    // Local: φ = w with I = x − x̃ is exact.
    const local = tensor(w);
    const exact = await infidelity(linear, input, local, { target: 0, perturb: fromPerturbedInputs(shrink, { multiplyByInputs: false }), nPerturbSamples: 2 });
    expect(exact.values[0]).toBeLessThan(1e-12);
    // Global, baseline 0.5: I = (0.1 x − 0.05) / (x − 0.5) = 0.1 wherever x ≠ 0.5, and 0.1·0.5 − 0.05 = 0 over 1 where
    // x = 0.5 — so for φ = w ⊙ (x − 0.5), a = 0.1 Σ w (x − 0.5) = b: exact too.
    const global = tensor(times(w, x.map((v) => v - 0.5)));
    const before = tf.memory().numTensors;
    const exactGlobal = await infidelity(linear, input, global, { target: 0, perturb: fromPerturbedInputs(shrink, { baselines: 0.5 }), nPerturbSamples: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(exactGlobal.values[0]).toBeLessThan(1e-12);
    // Without baselines the divisor is x itself: I = 0.1 − 0.05 / x. A local map in this global mode is off:
    // φ = w gives a = Σ w (0.1 − 0.05/x) ≠ b.
    const a = w.reduce((s, v, i) => s + v * (0.1 - 0.05 / x[i]), 0);
    const byInput = tensor(w);
    const result = await infidelity(linear, input, byInput, { target: 0, perturb: fromPerturbedInputs(shrink), nPerturbSamples: 2 });
    console.log(`fromPerturbedInputs without baselines: ${result.values[0].toExponential(4)} vs (a − b)² = ${((a - b) ** 2).toExponential(4)}, relative error ${Math.abs(result.values[0] / (a - b) ** 2 - 1).toExponential(1)}`);
    // Measured relative error 1.6e-7 on cpu (float32 division by |x| ≥ 0.12).
    close(result.values[0], (a - b) ** 2, 1e-5);
    tf.dispose([local, global, byInput]);
  });

  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['nPerturbSamples 0', { nPerturbSamples: 0 }, 'invalid_option', /positive integer/],
    ['batchSize −1', { batchSize: -1 }, 'invalid_option', /positive integer/],
    ['perturb not a function', { perturb: 3 }, 'invalid_option', /perturb must be a function/],
    ['perturb of the wrong shape', { perturb: () => ({ perturbation: tf.zeros([1, 2]), perturbed: tf.zeros([1, 2]) }) }, 'invalid_option', /repeated inputs' shape/],
    ['target 7', { target: 7 }, 'invalid_target', /0 to 1/],
    ['attribution of the wrong shape', { attribution: 'wrong' }, 'invalid_input', /input's shape/],
  ];
  for (const [what, change, code, message] of bad) {
    it(`${what} → ${code}, no tensor left`, async () => {
      const attribution = change.attribution ? tf.zeros([1, 3, 4, 1]) : tensor(w);
      const before = tf.memory().numTensors;
      const error = await errorOf(() => infidelity(linear, input, attribution, { target: 0, ...change } as never));
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
      expect(tf.memory().numTensors).toBe(before);
      attribution.dispose();
    });
  }
});

describe('sensitivity_max (cpu)', () => {
  let input: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend('cpu');
    wTensor ??= tensor(w);
    input = tensor(x);
  });

  it('a constant explanation has sensitivity 0', async () => {
    const constant: ExplainFunction = async (_model, perturbed) => tf.fill(perturbed.shape, 0.5);
    const attribution = tf.fill([...SHAPE], 0.5);
    const before = tf.memory().numTensors;
    const result = await sensitivityMax(linear, input, attribution, { target: 0, explain: constant });
    expect(tf.memory().numTensors).toBe(before);
    attribution.dispose();
    expect(result.values).toEqual([0]);
  });

  it('input × gradient (w ⊙ x): max_s ‖w ⊙ δ_s‖ / ‖w ⊙ x‖ for fixed δ_s, by batches of 1 or 3', async () => {
    const attribution = await inputTimesGradient(linear, input, { target: [0] });
    const want = Math.max(...perturbations.map((delta) => norm(times(w, delta)))) / norm(times(w, x));
    for (const batchSize of [1, 3]) {
      const before = tf.memory().numTensors;
      const result = await sensitivityMax(linear, input, attribution, {
        target: 0,
        explain: inputTimesGradient,
        perturb: fixedSensitivityPerturb(),
        nPerturbSamples: 4,
        batchSize,
      });
      expect(tf.memory().numTensors).toBe(before);
      close(result.values[0], want, 1e-5);
    }
    attribution.dispose();
  });

  it('the default perturbation is U(−0.02, 0.02) with seed 0 (tf.js seed 1): the same number regenerated by hand', async () => {
    const attribution = await inputTimesGradient(linear, input, { target: [0] });
    const result = await sensitivityMax(linear, input, attribution, { target: 0, explain: inputTimesGradient });
    attribution.dispose();
    const noise = tf.randomUniform([10, ...SHAPE.slice(1)], -0.02, 0.02, 'float32', 1);
    const values = await noise.data();
    noise.dispose();
    let want = 0;
    for (let s = 0; s < 10; s++) want = Math.max(want, norm(times(w, values.subarray(s * SIZE, (s + 1) * SIZE))));
    want /= norm(times(w, x));
    // Bounded by the L∞ ball: ‖w ⊙ δ‖ ≤ 0.02 ‖w‖.
    expect(want).toBeLessThanOrEqual((0.02 * norm(w)) / norm(times(w, x)));
    console.log(`sensitivity_max, default perturbation: ${result.values[0].toExponential(4)} vs ${want.toExponential(4)} by hand (relative error ${(Math.abs(result.values[0] / want - 1)).toExponential(1)})`);
    // (x + δ) − x in float32 keeps δ to ≈ 1e-7 absolute of 0.02: measured relative error 9.9e-8 on cpu.
    close(result.values[0], want, 1e-6);
  });

  it('two examples, a target each: each normalised by its own ‖expl(x)‖', async () => {
    const two = tf.concat([input, tf.mul(input, 2)]) as tf.Tensor4D;
    const attribution = await inputTimesGradient(linear, two, { target: [0, 0] });
    const constantDelta: SensitivityPerturbFunction = (inputs) => tf.tidy(() => tf.add(inputs, tensor(perturbations[0])) as tf.Tensor4D);
    const result = await sensitivityMax(linear, two, attribution, { target: [0, 0], explain: inputTimesGradient, perturb: constantDelta, nPerturbSamples: 2 });
    tf.dispose([two, attribution]);
    const change = norm(times(w, perturbations[0]));
    close(result.values[0], change / norm(times(w, x)));
    close(result.values[1], change / norm(times(w, scaled(x, 2))));
  });

  it('by name, and aborted between batches with no tensor left (both metrics)', async () => {
    const attribution = await inputTimesGradient(linear, input, { target: [0] });
    const named = await runMetric('sensitivity_max', linear, input, attribution, { target: 0, explain: inputTimesGradient, nPerturbSamples: 3 });
    expect(named.metric).toBe('sensitivity_max');
    expect(named.values[0]).toBeGreaterThan(0);
    const before = tf.memory().numTensors;
    for (const run of [
      (signal: { aborted: boolean }) =>
        sensitivityMax(linear, input, attribution, { target: 0, explain: inputTimesGradient, batchSize: 1, signal, onProgress: () => (signal.aborted = true) }),
      (signal: { aborted: boolean }) =>
        infidelity(linear, input, attribution, { target: 0, batchSize: 1, signal, onProgress: () => (signal.aborted = true) }),
    ]) {
      const error = await errorOf(() => run({ aborted: false }));
      expect(error.code).toBe('aborted');
      expect(tf.memory().numTensors).toBe(before);
    }
    attribution.dispose();
  });

  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['no explain', { explain: undefined }, 'invalid_option', /options.explain/],
    ['perturbRadius 0', { perturbRadius: 0 }, 'invalid_option', /perturbRadius/],
    ['nPerturbSamples 0', { nPerturbSamples: 0 }, 'invalid_option', /positive integer/],
    ['explain of the wrong shape', { explain: async () => tf.zeros([2, 2]) }, 'invalid_option', /explain returned/],
    ['perturb of the wrong shape', { perturb: () => tf.zeros([1]) }, 'invalid_option', /repeated inputs' shape/],
    ['target −1', { target: -1 }, 'invalid_target', /0 to 1/],
  ];
  for (const [what, change, code, message] of bad) {
    it(`${what} → ${code}, no tensor left`, async () => {
      const attribution = tensor(w);
      const before = tf.memory().numTensors;
      const error = await errorOf(() => sensitivityMax(linear, input, attribution, { target: 0, explain: inputTimesGradient, ...change } as never));
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
      expect(tf.memory().numTensors).toBe(before);
      attribution.dispose();
    });
  }
});
