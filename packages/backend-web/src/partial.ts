import * as tf from '@tensorflow/tfjs-core';
import { windowCount, type Model } from '@easy-explain/core';

/** Occlusion settings as core's `occlusionSettings` gives them. */
export interface OcclusionGeometry {
  slidingWindowShapes: [number, number, number];
  strides: [number, number, number];
}

/**
 * Live partial maps for Occlusion without changing core: wraps the model so the target score of every forward
 * batch is kept, then replays core's accumulation (windows in row-major order, first call = the unoccluded input)
 * for the windows done so far. Superseded by Occlusion's own `onPartial` once core has it (issue 7).
 */
export class OcclusionPartials {
  readonly model: Model;
  private readonly pending: tf.Tensor[] = [];
  private readonly sums: Float64Array;
  private readonly counts: Uint32Array;
  private readonly regions: { start: number[]; end: number[] }[] = [];
  private initial: number | undefined;
  private next = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    inner: Model,
    private readonly shape: [number, number, number, number],
    geometry: OcclusionGeometry,
    private readonly target: number,
  ) {
    const [, h, w, c] = shape;
    const [wh, ww, wc] = geometry.slidingWindowShapes;
    const [sh, sw, sc] = geometry.strides;
    const counts = [windowCount(h, wh, sh), windowCount(w, ww, sw), windowCount(c, wc, sc)];
    for (let iy = 0; iy < counts[0]; iy++)
      for (let ix = 0; ix < counts[1]; ix++)
        for (let ic = 0; ic < counts[2]; ic++) {
          const start = [iy * sh, ix * sw, ic * sc];
          this.regions.push({ start, end: [Math.min(start[0] + wh, h), Math.min(start[1] + ww, w), Math.min(start[2] + wc, c)] });
        }
    this.sums = new Float64Array(h * w * c);
    this.counts = new Uint32Array(h * w * c);
    this.model = {
      ...inner,
      predict: (images) => {
        const scores = inner.predict(images);
        // Called inside core's tidy: keep just the target column for later reading.
        this.pending.push(tf.keep(tf.slice(scores, [0, target], [-1, 1])));
        return scores;
      },
    };
  }

  /** Reads the scores queued so far and returns the map of the windows done (zeros elsewhere), HWC. */
  update(): Promise<Float32Array> {
    const queued = this.pending.splice(0);
    const step = this.chain.then(async () => {
      for (const t of queued) {
        const values = (await t.data()) as Float32Array;
        t.dispose();
        for (const v of values) {
          if (this.initial === undefined) this.initial = v;
          else this.add(this.regions[this.next++], this.initial - v);
        }
      }
    });
    this.chain = step.catch(() => undefined);
    return step.then(() => this.map());
  }

  private add(region: { start: number[]; end: number[] } | undefined, diff: number): void {
    if (!region) return;
    const [, , w, c] = this.shape;
    for (let y = region.start[0]; y < region.end[0]; y++)
      for (let x = region.start[1]; x < region.end[1]; x++)
        for (let k = region.start[2]; k < region.end[2]; k++) {
          const i = (y * w + x) * c + k;
          this.sums[i] += diff;
          this.counts[i]++;
        }
  }

  private map(): Float32Array {
    const out = new Float32Array(this.sums.length);
    for (let i = 0; i < out.length; i++) out[i] = this.counts[i] ? this.sums[i] / this.counts[i] : 0;
    return out;
  }

  dispose(): void {
    for (const t of this.pending.splice(0)) t.dispose();
  }
}
