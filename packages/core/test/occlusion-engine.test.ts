// A model's own scoring engine (setOcclusionEngine) and a scorer's predictInput: on an analytic toy model the map is
// known exactly, whichever side scores, and the model's predict is never run while an engine answers.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { asModel, ExplainError, inThreadPoolWorker, Occlusion, occlusionPoolScorer, setOcclusionEngine, uniformBaselineArray, type AblationScorerFactory, type OcclusionPoolWorker } from '@easy-explain/core/internal';
import { useBackend } from './helpers';

// f(x) = [Σx, 2·Σx]: ablating a region with baseline 0 drops class 1's score by 2·Σ(region).
const toy = () =>
  asModel((x: tf.Tensor4D) =>
    tf.tidy(() => {
      const total = tf.sum(x, [1, 2, 3]);
      return tf.stack([total, tf.mul(total, 2)], 1) as tf.Tensor2D;
    }),
  );

/** The same function computed in plain arrays, as a native engine would (NHWC input, one image). */
function arrayEngine(calls: { predictInput: number; regions: number }): AblationScorerFactory {
  const sum = (data: Float32Array) => data.reduce((a, b) => a + b, 0);
  return Object.assign(
    ({ inputData, shape: [, , w, c] }: { inputData: Float32Array; shape: [number, number, number, number] }) => ({
      async scoreRegions(regions: Array<{ start: number[]; end: number[] }>) {
        calls.regions += regions.length;
        return Float32Array.from(regions, ({ start, end }) => {
          let removed = 0;
          for (let y = start[0]; y < end[0]; y++) for (let x = start[1]; x < end[1]; x++) for (let z = start[2]; z < end[2]; z++) removed += inputData[(y * w + x) * c + z];
          return 2 * (sum(inputData) - removed);
        });
      },
      dispose() {},
    }),
    {
      predictInput: async (input: Float32Array) => {
        calls.predictInput++;
        return { scores: Float32Array.of(sum(input), 2 * sum(input)), classes: 2 };
      },
    },
  ) as unknown as AblationScorerFactory;
}

/** An 8×8×2 input, 2×2 windows at stride 1 (7 × 7 = 49 windows) in batches of `perturbationsPerEval`, and the toy model's map of it on TF.js. */
async function toyJob(perturbationsPerEval: number) {
  await useBackend('cpu');
  const x = tf.tensor4d(Array.from({ length: 8 * 8 * 2 }, (_, i) => (i % 9) / 9), [1, 8, 8, 2]);
  const options = { target: 1, slidingWindowShapes: [2, 2, 2] as [number, number, number], strides: 1, perturbationsPerEval };
  const reference = await new Occlusion(toy()).attribute(x, options);
  const expected = Array.from(reference.dataSync());
  reference.dispose();
  return { x, options, expected };
}

const maxError = (a: ArrayLike<number>, b: number[]) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
// float32 sums of 8 values below 1: rounding stays under 1e-6; 1e-5 still fails on any wrong window.

describe('Occlusion with a model engine', () => {
  it('scores with the registered engine (predict never runs), and with TF.js again once it is removed', async () => {
    await useBackend('cpu');
    const x = tf.tensor4d(Array.from({ length: 4 * 4 * 2 }, (_, i) => (i % 7) / 7), [1, 4, 4, 2]);
    const options = { target: 1, slidingWindowShapes: [2, 2, 2] as [number, number, number], strides: 2 };
    // Non-overlapping 2×2 windows: each element's attribution is 2·Σ(its window) / 1.
    const values = x.dataSync();
    const expected = Array.from(values, (_, i) => {
      const [y, xx] = [Math.floor(i / 8), Math.floor(i / 2) % 4];
      let s = 0;
      for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) for (let z = 0; z < 2; z++) s += values[((2 * Math.floor(y / 2) + dy) * 4 + 2 * Math.floor(xx / 2) + dx) * 2 + z];
      return 2 * s;
    });

    const model = toy();
    const calls = { predictInput: 0, regions: 0 };
    const engine = arrayEngine(calls);
    const poisoned = { ...model, predict: () => { throw new Error('predict ran although the engine scores'); } };
    setOcclusionEngine(poisoned, () => engine);
    const before = tf.memory().numTensors;
    const native = await new Occlusion(poisoned).attribute(x, { ...options, workers: 2 });
    expect(maxError(native.dataSync(), expected)).toBeLessThan(1e-5);
    expect(calls).toEqual({ predictInput: 1, regions: 4 });
    native.dispose();
    expect(tf.memory().numTensors).toBe(before);

    // An engine that declines (returns undefined) leaves the model to TF.js; so does removing it.
    setOcclusionEngine(model, () => undefined);
    const declined = await new Occlusion(model).attribute(x, options);
    setOcclusionEngine(model, undefined);
    const tfjs = await new Occlusion(model).attribute(x, options);
    for (const map of [declined, tfjs]) {
      expect(maxError(map.dataSync(), expected)).toBeLessThan(1e-5);
    }
    expect(calls.regions).toBe(4);
    tf.dispose([declined, tfjs, x]);
  });

  it('takes f(x) from a scorer that brings it (scoresInput), and runs predictInput only for one that does not', async () => {
    await useBackend('cpu');
    const x = tf.tensor4d(Array.from({ length: 4 * 4 * 2 }, (_, i) => (i % 5) / 5), [1, 4, 4, 2]);
    const options = { target: 1, slidingWindowShapes: [2, 2, 2] as [number, number, number], strides: 2 };
    const reference = await new Occlusion(toy()).attribute(x, options);
    const expected = Array.from(reference.dataSync());
    const before = tf.memory().numTensors;
    const sum = Array.from(x.dataSync()).reduce((a, b) => a + b, 0);
    for (const brings of [true, false]) {
      const calls = { predictInput: 0, regions: 0 };
      const engine = arrayEngine(calls);
      const factory = Object.assign(
        async (context: Parameters<AblationScorerFactory>[0]) => {
          const scorer = await engine(context);
          return brings ? { ...scorer, inputScores: { scores: Float32Array.of(sum, 2 * sum), classes: 2 } } : scorer;
        },
        { predictInput: engine.predictInput, scoresInput: true },
      );
      const map = await new Occlusion(toy()).attribute(x, { ...options, scorer: factory });
      expect(maxError(map.dataSync(), expected)).toBeLessThan(1e-5);
      expect(calls).toEqual({ predictInput: brings ? 0 : 1, regions: 4 });
      map.dispose();
    }
    // The class count comes with the scores: a target beyond it is still refused.
    const brought = Object.assign(
      async (context: Parameters<AblationScorerFactory>[0]) => ({ ...(await arrayEngine({ predictInput: 0, regions: 0 })(context)), inputScores: { scores: Float32Array.of(1, 2), classes: 2 } }),
      { predictInput: async () => ({ scores: Float32Array.of(1, 2), classes: 2 }), scoresInput: true },
    );
    await expect(new Occlusion(toy()).attribute(x, { ...options, target: 2, scorer: brought })).rejects.toMatchObject({ code: 'invalid_target' });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([reference, x]);
  });

  it('hands a pipelined scorer its next batch before the current one settles, never during the coarse pass; the map is the same', async () => {
    // A coarse pass of 4 (the corners), then 45 windows in batches of 5.
    const { x, options, expected } = await toyJob(5);
    const before = tf.memory().numTensors;
    for (const pipelined of [true, false]) {
      const engine = arrayEngine({ predictInput: 0, regions: 0 });
      // Batches are answered one after another, 2 ms each, as a worker's queue answers them. Each call records how
      // many windows Occlusion had used (summed, reported through onProgress) when it asked: a fact of the loop's
      // order, not of timing.
      const usedAtCall: number[] = [];
      let used = 0;
      let calls = 0;
      let queue: Promise<unknown> = Promise.resolve();
      const factory = Object.assign(
        async (context: Parameters<AblationScorerFactory>[0]) => {
          const scorer = await engine(context);
          return {
            ...scorer,
            pipelined,
            async scoreRegions(regions: Parameters<typeof scorer.scoreRegions>[0]) {
              calls++;
              usedAtCall.push(used);
              const answer = queue.then(async () => {
                const scores = await scorer.scoreRegions(regions);
                await new Promise((resolve) => setTimeout(resolve, 2));
                return scores;
              });
              queue = answer;
              return answer;
            },
          };
        },
        { predictInput: engine.predictInput },
      );
      const partials: number[] = [];
      const map = await new Occlusion(toy()).attribute(x, { ...options, scorer: factory, progressive: true, onPartial: (_m, done) => partials.push(done), onProgress: (done) => (used = done) });
      expect(maxError(map.dataSync(), expected)).toBeLessThan(1e-5);
      map.dispose();
      expect(calls).toBe(1 + 9);
      expect(partials[0]).toBe(4);
      // Batch 0 is the coarse pass (4 windows), batches 1–9 hold 5 each: once batch b is used, 4 + 5·b windows are.
      if (pipelined) {
        // The coarse batch is used before batch 1 is asked for; from then on batch b + 1 is asked for before batch b
        // is used (batches 1 and 2 together, once the coarse map is in).
        expect(usedAtCall).toEqual([0, 4, ...Array.from({ length: 8 }, (_, k) => 4 + 5 * k)]);
      } else {
        expect(usedAtCall).toEqual(Array.from({ length: 10 }, (_, k) => (k === 0 ? 0 : 4 + 5 * (k - 1))));
      }
    }
    // An abort while a batch is queued ahead rejects the run and leaves nothing behind.
    const controller = new AbortController();
    const engine = arrayEngine({ predictInput: 0, regions: 0 });
    let disposed = 0;
    const aborting = Object.assign(
      async (context: Parameters<AblationScorerFactory>[0]) => {
        const scorer = await engine(context);
        let calls = 0;
        return {
          ...scorer,
          pipelined: true,
          async scoreRegions(regions: Parameters<typeof scorer.scoreRegions>[0]) {
            if (++calls === 3) controller.abort();
            return scorer.scoreRegions(regions);
          },
          dispose: () => void disposed++,
        };
      },
      { predictInput: engine.predictInput },
    );
    await expect(new Occlusion(toy()).attribute(x, { ...options, scorer: aborting, signal: controller.signal })).rejects.toMatchObject({ code: 'aborted' });
    expect(disposed).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it("sends the first batch right behind the workers' start, before they reply; a start that fails is the run's error", async () => {
    const { x, options, expected } = await toyJob(8);
    const before = tf.memory().numTensors;
    const events: string[] = [];
    const poolOf = (fail: boolean) => {
      const workers: OcclusionPoolWorker[] = [0, 1].map((w) => {
        const inner = inThreadPoolWorker(toy());
        // Answered one at a time, in the order sent, as a worker thread does.
        let queue: Promise<unknown> = Promise.resolve();
        return {
          request(message) {
            events.push(`${message.type} ${w}`);
            const reply = queue.then(async () => {
              if (message.type === 'start') {
                // The start takes a while (a native worker's whole-network pass); the batch is queued by then.
                await new Promise((resolve) => setTimeout(resolve, 20));
                events.push(`started ${w}`);
                if (fail) throw new ExplainError('worker_failed', `worker ${w} could not start`);
              }
              return inner.request(message);
            });
            queue = reply.catch(() => {});
            return reply;
          },
        };
      });
      return occlusionPoolScorer(async () => workers, { workers: 2 });
    };
    const map = await new Occlusion(toy()).attribute(x, { ...options, scorer: poolOf(false) });
    expect(maxError(map.dataSync(), expected)).toBeLessThan(1e-5);
    map.dispose();
    // Both workers have the first batch's slices before either has started (it fails if the pool waits for them).
    expect(events.slice(0, 4)).toEqual(['start 0', 'start 1', 'score 0', 'score 1']);
    expect(events.indexOf('started 0')).toBeGreaterThan(3);

    events.length = 0;
    await expect(new Occlusion(toy()).attribute(x, { ...options, scorer: poolOf(true) })).rejects.toMatchObject({ code: 'worker_failed', message: 'worker 0 could not start' });
    // Both workers are told the job ended.
    expect(events.filter((e) => e.startsWith('end')).sort()).toEqual(['end 0', 'end 1']);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('sends a number baseline to the workers as the number, a tensor baseline as its values; the maps are one thread\'s', async () => {
    const { x, options } = await toyJob(8);
    const before = tf.memory().numTensors;
    const sent: Array<Float32Array | number> = [];
    const workers: OcclusionPoolWorker[] = [0, 1].map(() => {
      const inner = inThreadPoolWorker(toy());
      return {
        request(message) {
          if (message.type === 'start') sent.push(message.baseline);
          return inner.request(message);
        },
      };
    });
    const scorer = occlusionPoolScorer(async () => workers, { workers: 2 });
    const tensorBaseline = tf.fill([1, 8, 8, 2], 0.25);
    for (const baselines of [0.5, tensorBaseline]) {
      sent.length = 0;
      const reference = await new Occlusion(toy()).attribute(x, { ...options, baselines });
      const map = await new Occlusion(toy()).attribute(x, { ...options, baselines, scorer });
      expect(maxError(map.dataSync(), Array.from(reference.dataSync()))).toBeLessThan(1e-5);
      tf.dispose([reference, map]);
      if (typeof baselines === 'number') expect(sent).toEqual([0.5, 0.5]);
      else expect(sent.map((b) => (b instanceof Float32Array ? Array.from(new Set(b)) : b))).toEqual([[0.25], [0.25]]);
    }
    // Workers share one array per length and value instead of filling a new one per job, and so do the caller's runs.
    expect(uniformBaselineArray(128, 0.5)).toBe(uniformBaselineArray(128, 0.5));
    const seen: Float32Array[] = [];
    const recording: AblationScorerFactory = (context) => (seen.push(context.baseline), scorer(context));
    for (let run = 0; run < 2; run++) (await new Occlusion(toy()).attribute(x, { ...options, baselines: 0.5, scorer: recording })).dispose();
    expect(seen[0]).toBe(seen[1]);
    expect(Array.from(new Set(seen[0]))).toEqual([0.5]);
    expect(Array.from(new Set(uniformBaselineArray(128, -1)))).toEqual([-1]);
    tensorBaseline.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('deals the longer slice of each batch to the workers in turn, so they end together; the map is the same', async () => {
    // Batches of 3, each cut into slices of 2 + 1 for 2 workers (as the native engine cuts 27 into 14 + 13).
    const { x, options, expected } = await toyJob(3);
    const before = tf.memory().numTensors;
    const windows = [0, 0];
    const workers: OcclusionPoolWorker[] = [0, 1].map((w) => {
      const inner = inThreadPoolWorker(toy());
      return {
        request(message) {
          if (message.type === 'score') windows[w] += message.regions.length;
          return inner.request(message);
        },
      };
    });
    const pooled = occlusionPoolScorer(async () => workers, { workers: 2 });
    const factory: AblationScorerFactory = (context) => pooled({ ...context, perturbationsPerEval: 2 });
    const map = await new Occlusion(toy()).attribute(x, { ...options, scorer: factory });
    expect(maxError(map.dataSync(), expected)).toBeLessThan(1e-5);
    map.dispose();
    // 16 batches of 2 + 1 and a last one of 1: dealt from worker 0, then 1, then 0… each gets 24 or 25 windows
    // (33 and 16 if every batch's first slice went to worker 0).
    expect(windows[0] + windows[1]).toBe(49);
    expect(Math.abs(windows[0] - windows[1])).toBeLessThanOrEqual(1);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
