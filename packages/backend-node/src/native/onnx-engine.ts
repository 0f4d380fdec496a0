// A native scoring engine for forward-only methods: the ONNX bytes of a network run on onnxruntime-node's CPU
// kernels with its own intra-op threads. Occlusion's ablated copies are built straight in the ONNX layout (NCHW),
// so no TF.js tensor is made; the scores are the ONNX output's, as the TF.js conversion of the same file returns.
import { availableParallelism } from 'node:os';
import { ExplainError, setOcclusionEngine, type AblationContext, type AblationScorer, type AblationScorerFactory, type Region } from '@easy-explain/core/internal';
import { loadOnnxRuntime, type OnnxRuntime, type OrtSession } from './onnx-runtime.js';

export interface OnnxEngineOptions {
  /**
   * onnxruntime's intra-op threads; default: every core of the host. One session with all cores beats worker
   * threads each running a one-thread session (measured in bench/native.mjs), and never oversubscribes.
   */
  threads?: number;
  /** Told once when onnxruntime-node cannot be used and TF.js scores instead. */
  onWarning?: (message: string) => void;
}

/** An ONNX network loaded on onnxruntime-node. Its NHWC scorer plugs into Occlusion (`scorer`, or `attachTo`). */
export class OnnxEngine {
  private constructor(
    private readonly runtime: OnnxRuntime,
    private readonly session: OrtSession,
    /** The intra-op threads the session runs on. */
    readonly threads: number,
  ) {}

  /**
   * Loads `onnx` (the model file's bytes; input `[N,C,H,W]`, output `[N,classes]`). Resolves to undefined when
   * onnxruntime-node is unavailable (told once through `onWarning`); rejects with `invalid_model` for bytes that
   * are not a model onnxruntime can run.
   */
  static async create(onnx: Uint8Array, options: OnnxEngineOptions = {}): Promise<OnnxEngine | undefined> {
    const threads = options.threads ?? availableParallelism();
    if (!(Number.isInteger(threads) && threads >= 1)) {
      throw new ExplainError('invalid_option', `threads must be a positive integer; got ${String(threads)}.`);
    }
    const runtime = await loadOnnxRuntime(options.onWarning);
    if (!runtime) return undefined;
    let session: OrtSession;
    try {
      session = await runtime.InferenceSession.create(onnx, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (cause) {
      throw new ExplainError(
        'invalid_model',
        `onnxruntime could not load this ONNX model (${String((cause as Error)?.message ?? cause).split('\n')[0]}); pass the bytes of a valid .onnx file.`,
        { cause },
      );
    }
    if (session.inputNames.length !== 1 || session.outputNames.length < 1) {
      await session.release();
      throw new ExplainError('invalid_model', `The ONNX model has ${session.inputNames.length} inputs; it must take one image batch [N,C,H,W].`);
    }
    return new OnnxEngine(runtime, session, threads);
  }

  /** The scores [N, classes] of an NCHW batch, laid out row-major. */
  async predictNCHW(data: Float32Array, dims: [number, number, number, number]): Promise<{ scores: Float32Array; classes: number }> {
    const feeds = { [this.session.inputNames[0]]: new this.runtime.Tensor('float32', data, dims) };
    const outputs = await this.session.run(feeds);
    const output = outputs[this.session.outputNames[0]];
    if (output.dims.length !== 2 || output.dims[0] !== dims[0] || !(output.data instanceof Float32Array)) {
      throw new ExplainError(
        'invalid_model',
        `The ONNX model returned ${output.dims.length === 0 ? 'a scalar' : `shape [${output.dims}]`} for a batch of ${dims[0]}; it must return float32 [N, classes].`,
      );
    }
    return { scores: output.data, classes: output.dims[1] };
  }

  /**
   * Occlusion's scorer: ablated copies of an NHWC input, scored by the native session; the unperturbed input is
   * scored here too (`predictInput`), so the map depends on one engine only.
   */
  readonly scorer: AblationScorerFactory = Object.assign((context: AblationContext) => this.scoreAblations(context), {
    predictInput: (input: Float32Array, shape: [number, number, number, number]) =>
      this.predictNCHW(toNCHW(input, shape), [shape[0], shape[3], shape[1], shape[2]]),
  });

  private scoreAblations({ inputData, baseline, shape, targets }: AblationContext): AblationScorer {
    const [n, h, w, c] = shape;
    const input = toNCHW(inputData, shape);
    const base = toNCHW(baseline, shape);
    const imageSize = h * w * c;
    return {
      scoreRegions: async (regions: Region[]) => {
        const batch = new Float32Array(regions.length * input.length);
        regions.forEach((region, j) => {
          batch.set(input, j * input.length);
          for (let image = 0; image < n; image++) {
            const offset = (j * n + image) * imageSize;
            const [y0, x0, c0] = region.start;
            const [y1, x1, c1] = region.end;
            for (let ch = c0; ch < c1; ch++) {
              for (let y = y0; y < y1; y++) {
                const from = image * imageSize + (ch * h + y) * w;
                batch.set(base.subarray(from + x0, from + x1), offset + (ch * h + y) * w + x0);
              }
            }
          }
        });
        const { scores, classes } = await this.predictNCHW(batch, [regions.length * n, c, h, w]);
        const picked = new Float32Array(regions.length * n);
        for (let row = 0; row < picked.length; row++) {
          const target = targets[row % n];
          if (target >= classes) {
            throw new ExplainError('invalid_target', `Target ${target} is out of range for the ONNX model's ${classes} classes.`);
          }
          picked[row] = scores[row * classes + target];
        }
        return picked;
      },
      dispose() {},
    };
  }

  /**
   * Makes Occlusion on `model` (the TF.js conversion of the same network, which gradient methods keep using)
   * score with this engine. Its `workers` option then does not apply: the engine's threads take every core.
   */
  attachTo(model: object): void {
    setOcclusionEngine(model, () => this.scorer);
  }

  /** Frees the native session; models it was attached to go back to TF.js. */
  async dispose(model?: object): Promise<void> {
    if (model) setOcclusionEngine(model, undefined);
    await this.session.release();
  }
}

/** [N,H,W,C] → [N,C,H,W]. */
export function toNCHW(data: Float32Array, [n, h, w, c]: [number, number, number, number]): Float32Array {
  const out = new Float32Array(data.length);
  const plane = h * w;
  for (let image = 0; image < n; image++) {
    const offset = image * plane * c;
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < c; ch++) out[offset + ch * plane + p] = data[offset + p * c + ch];
    }
  }
  return out;
}

/**
 * Occlusion's scorer for an ONNX network on onnxruntime-node, or undefined when onnxruntime-node is not available
 * (Occlusion then scores on TF.js; the reason is told once). Pass it as Occlusion's `scorer`.
 */
export async function nativeOcclusionScorer(onnx: Uint8Array, options: OnnxEngineOptions = {}): Promise<AblationScorerFactory | undefined> {
  return (await OnnxEngine.create(onnx, options))?.scorer;
}
