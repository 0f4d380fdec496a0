import * as tf from '@tensorflow/tfjs-core';
import { ExplainError, throwIfAborted } from '../errors.js';
import { yieldToEventLoop } from '../platform.js';
import { checkImageBatch, positiveInteger, type AttributeOptions, type Attributor } from './attributor.js';

export const NOISE_TUNNEL_TYPES = ['smoothgrad', 'smoothgrad_sq', 'vargrad'] as const;
export type NoiseTunnelType = (typeof NOISE_TUNNEL_TYPES)[number];

export interface NoiseTunnelOptions {
  /** smoothgrad: mean of A; smoothgrad_sq: mean of A²; vargrad: variance of A. Default 'smoothgrad'. */
  ntType?: NoiseTunnelType;
  /** Noisy copies per example; default 5 (Captum). */
  ntSamples?: number;
  /** Noisy copies per example in one call of the inner method; default all. */
  ntSamplesBatchSize?: number;
  /** Standard deviation of the Gaussian noise, absolute (not scaled by the input range); default 1 (Captum). */
  stdevs?: number;
  /** Seed of the noise; runs with the same seed and ntSamplesBatchSize give the same noise. Default: random. */
  seed?: number;
  /** The noise itself, [N·ntSamples,H,W,C] example-major (row n·ntSamples + s), instead of drawing it (tests). */
  noise?: tf.Tensor4D;
}

/** tfjs draws unseeded noise for seed 0 (it tests the seed's truthiness): 0 maps to another fixed seed. */
const tfjsSeed = (seed: number) => (seed === 0 ? 0.5 : seed);

const NT_KEYS = ['ntType', 'ntSamples', 'ntSamplesBatchSize', 'stdevs', 'seed', 'noise', 'onProgress', 'target'] as const;

/**
 * Captum's NoiseTunnel over any attributor: runs it on copies of each example with Gaussian noise added and
 * aggregates the attributions (sums kept in float64).
 */
export class NoiseTunnel<Inner extends AttributeOptions = AttributeOptions>
  implements Attributor<Inner & NoiseTunnelOptions>
{
  constructor(readonly inner: Attributor<Inner>) {
    if (!inner || typeof inner.attribute !== 'function') {
      throw new ExplainError('invalid_option', 'NoiseTunnel wraps an attributor, e.g. new NoiseTunnel(new Saliency(model)).');
    }
  }

  async attribute(input: tf.Tensor4D, options: Inner & NoiseTunnelOptions): Promise<tf.Tensor4D> {
    checkImageBatch(input);
    const ntType = options.ntType ?? 'smoothgrad';
    if (!NOISE_TUNNEL_TYPES.includes(ntType)) {
      throw new ExplainError('invalid_option', `ntType must be one of ${NOISE_TUNNEL_TYPES.join(', ')}; got ${String(ntType)}.`);
    }
    const samples = positiveInteger(options.ntSamples, 'ntSamples', 5);
    const perBatch = Math.min(samples, positiveInteger(options.ntSamplesBatchSize, 'ntSamplesBatchSize', samples));
    const stdevs = options.stdevs ?? 1;
    if (!Number.isFinite(stdevs) || stdevs < 0) {
      throw new ExplainError('invalid_option', `stdevs must be a finite number ≥ 0; got ${stdevs}.`);
    }
    const [n, h, w, c] = input.shape;
    const size = h * w * c;
    if (options.noise !== undefined) {
      const expected = [n * samples, h, w, c];
      if (!(options.noise instanceof tf.Tensor) || options.noise.shape.join() !== expected.join()) {
        throw new ExplainError('invalid_option', `noise must be a tensor of shape [${expected}] (example-major).`);
      }
    }
    const targets = Array.isArray(options.target) ? options.target : new Array<number>(n).fill(options.target);
    if (targets.length !== n) {
      throw new ExplainError('invalid_target', `Got ${targets.length} targets for a batch of ${n}; pass one target or one per example.`);
    }
    const innerOptions = { ...options } as Record<string, unknown>;
    for (const key of NT_KEYS) delete innerOptions[key];
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
    const x = (await input.data()) as Float32Array;
    const noiseValues = options.noise ? ((await options.noise.data()) as Float32Array) : undefined;

    let sum: Float64Array | undefined;
    let sumSq: Float64Array | undefined;
    let outShape: number[] = [];
    for (let s0 = 0, batchIndex = 0; s0 < samples; s0 += perBatch, batchIndex++) {
      throwIfAborted(options.signal);
      const k = Math.min(perBatch, samples - s0);
      // Rows example-major within the batch, as Captum's repeat_interleave.
      const noisy = tf.tidy(() => {
        const repeated = new Float32Array(n * k * size);
        for (let e = 0; e < n; e++) for (let s = 0; s < k; s++) repeated.set(x.subarray(e * size, (e + 1) * size), (e * k + s) * size);
        let noise: Float32Array;
        if (noiseValues) {
          noise = new Float32Array(n * k * size);
          for (let e = 0; e < n; e++) {
            const from = (e * samples + s0) * size;
            noise.set(noiseValues.subarray(from, from + k * size), e * k * size);
          }
          return tf.add(tf.tensor4d(repeated, [n * k, h, w, c]), tf.tensor4d(noise, [n * k, h, w, c]));
        }
        return tf.add(tf.tensor4d(repeated, [n * k, h, w, c]), tf.randomNormal([n * k, h, w, c], 0, stdevs, 'float32', tfjsSeed(seed + batchIndex)));
      }) as tf.Tensor4D;
      let values: Float32Array;
      try {
        const rowTargets = targets.flatMap((t) => new Array<number>(k).fill(t));
        const attribution = await this.inner.attribute(noisy, { ...innerOptions, target: rowTargets } as unknown as Inner);
        outShape = attribution.shape.slice(1);
        values = (await attribution.data()) as Float32Array;
        attribution.dispose();
      } finally {
        noisy.dispose();
      }
      const per = values.length / (n * k);
      sum ??= new Float64Array(n * per);
      sumSq ??= new Float64Array(n * per);
      for (let e = 0; e < n; e++) {
        for (let s = 0; s < k; s++) {
          const row = (e * k + s) * per;
          for (let i = 0; i < per; i++) {
            const v = values[row + i];
            sum[e * per + i] += v;
            sumSq[e * per + i] += v * v;
          }
        }
      }
      options.onProgress?.(s0 + k, samples);
      await yieldToEventLoop();
    }
    const result = new Float32Array(sum!.length);
    for (let i = 0; i < result.length; i++) {
      const mean = sum![i] / samples;
      const meanSq = sumSq![i] / samples;
      result[i] = ntType === 'smoothgrad' ? mean : ntType === 'smoothgrad_sq' ? meanSq : meanSq - mean * mean;
    }
    return tf.tensor(result, [n, ...outShape]) as unknown as tf.Tensor4D;
  }
}
