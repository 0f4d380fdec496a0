// A native scoring engine for forward-only methods: the ONNX bytes of a network run on onnxruntime-node's CPU
// kernels with its own intra-op threads. Occlusion's ablated copies are built straight in the ONNX layout (NCHW),
// so no TF.js tensor is made; the scores are the ONNX output's, as the TF.js conversion of the same file returns.
import { availableParallelism } from 'node:os';
import {
  ExplainError,
  occlusionPoolScorer,
  setOcclusionEngine,
  type AbortSignalLike,
  type AblationContext, type AblationScorer, type AblationScorerFactory, type Region } from '@easy-explain/core/internal';
import { nchwAblationScorer, predictNHWC, toNCHW, type PredictNCHW } from '@easy-explain/runtime/nchw';
import { FusedIncremental } from './onnx-fused.js';
import { IncrementalOnnx } from './onnx-incremental.js';
import type { NativeWorkerPool } from './onnx-pool.js';
import { readOnnx } from './onnx-proto.js';
import { loadOnnxRuntime, type OnnxRuntime, type OrtSession, type OrtSessionOptions } from './onnx-runtime.js';

export interface OnnxEngineOptions {
  /**
   * Worker threads, each with its own onnxruntime session, that share an occlusion run's batches. Default: the
   * host's cores up to 4. Workers × threads never exceeds the cores: a count that would is refused.
   */
  workers?: number;
  /** onnxruntime's intra-op threads per session; default: the cores divided among the workers (at least 1). */
  threads?: number;
  /**
   * Exact incremental inference (default true): the network is cut where one tensor carries everything forward, and
   * each batch of windows runs as one onnxruntime graph that recomputes only the crops the windows reach, cut and
   * pasted by Gathers inside the graph (onnx-fused.ts), until the crops cover most of a layer; the rest of the
   * network then runs whole. Batches where the crops would skip under FUSED_MIN_SAVING of the multiply-adds (a large
   * window; ResNet-50, whose crops stop at its max pool) run full forward passes. easy-explain's job on 2 cores:
   * MobileNet v1 0.75 0.74 s against 1.53 s on full forward passes (see the package README). A batch input of several
   * images runs the per-piece scorer (one onnxruntime call per piece, crops moved through JavaScript: slower than
   * full forward passes on the networks measured). false always runs full forward passes; 'auto' times both exact
   * scorers on a run's first batches and keeps the faster for the engine. A network that cannot be cut runs full
   * forward passes (`onWarning` says why).
   */
  incremental?: boolean | 'auto';
  /**
   * Ablated copies per onnxruntime run on full forward passes (default NATIVE_BATCH). Occlusion's batches are cut
   * into runs of this size and dealt out to the workers; the map does not depend on it.
   */
  batch?: number;
  /** Told once when onnxruntime-node cannot be used and TF.js scores instead, or why incremental inference is off. */
  onWarning?: (message: string) => void;
}

/** Set by a native worker on its engine's options (this key is not exported from the package): see `create`. */
export const CHECKED_BYTES = Symbol('easy-explain.checkedBytes');
export interface WorkerEngineOptions extends OnnxEngineOptions {
  [CHECKED_BYTES]?: true;
}

/** An ONNX network loaded on onnxruntime-node. Its NHWC scorer plugs into Occlusion (`scorer`, or `attachTo`). */
export class OnnxEngine {
  private constructor(
    private readonly runtime: OnnxRuntime,
    /** The whole network's session; in a worker made on first use (`create`'s `checked`). */
    private readonly session: { get(): Promise<OrtSession>; release(): Promise<void> },
    /** The intra-op threads the session runs on. */
    readonly threads: number,
    /** The network cut into pieces, when incremental inference is on and the network can be cut. */
    readonly incremental: IncrementalOnnx | undefined,
    /** Worker threads sharing a run's batches (1: this thread's session scores). */
    readonly workers: number,
    /** The worker threads, when there are several (forward-only batches use them too: onnx-forward.ts). */
    readonly pool: NativeWorkerPool | undefined,
    /** Ablated copies per onnxruntime run on full forward passes. */
    readonly batch: number,
    /** How the default scorer uses the pieces: always, never, or timed ('auto'). */
    readonly mode: boolean | 'auto',
    onWarning?: (message: string) => void,
  ) {
    const fused = incremental && new FusedIncremental(runtime, incremental.graph, incremental.options, incremental, onWarning);
    this.fused = fused;
    this.incrementalScorer = incremental
      ? Object.assign(
          async (context: AblationContext) => {
            // One onnxruntime run per batch where the crops can be cut inside the graph.
            const full = () => this.fullForwardScorer(context) as AblationScorer;
            const scorer = await fused!.scorer(context, context.inputData, context.baseline, full);
            if (scorer) return scorer;
            // A batch of several images keeps the per-piece scorer; one image the fused graphs could not serve
            // (refused, or a network cut too early) runs full forward passes, faster than per-piece runs.
            return context.shape[0] > 1 ? incremental.scorer(context, toNCHW(context.inputData, context.shape), toNCHW(context.baseline, context.shape)) : full();
          },
          {
            predictInput: async (input: Float32Array, shape: [number, number, number, number]) => {
              if (shape[0] === 1 && !fused!.broken) {
                try {
                  const scores = await fused!.scores(input, shape);
                  return { scores: scores.data as Float32Array, classes: scores.dims[1] };
                } catch (cause) {
                  fused!.fail(cause);
                }
              }
              return predictNHWC(this.predictNCHW, input, shape);
            },
            scoresInput: true,
          },
        )
      : undefined;
  }

  /** The incremental scorer that cuts crops inside one onnxruntime graph (onnx-fused.ts). */
  private readonly fused: FusedIncremental | undefined;

  /**
   * Loads `onnx` (the model file's bytes; input `[N,C,H,W]`, output `[N,classes]`). Resolves to undefined when
   * onnxruntime-node is unavailable (told once through `onWarning`); rejects with `invalid_model` for bytes that
   * are not a model onnxruntime can run.
   */
  static async create(onnx: Uint8Array, options: OnnxEngineOptions = {}): Promise<OnnxEngine | undefined> {
    // A worker's engine, whose caller's engine checked the same bytes, makes the whole network's session on first
    // use: the fused graphs of incremental inference need none of it, and on ResNet-50 each such session cost a
    // cold worker about a second before its first window.
    const checked = (options as WorkerEngineOptions)[CHECKED_BYTES] === true;
    const { workers, threads } = nativeThreads(availableParallelism(), options);
    const batch = options.batch ?? NATIVE_BATCH;
    if (!(Number.isInteger(batch) && batch >= 1)) throw new ExplainError('invalid_option', `batch must be a positive integer; got ${String(batch)}.`);
    const runtime = await loadOnnxRuntime(options.onWarning);
    if (!runtime) return undefined;
    const sessionOptions: OrtSessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      // A spinning pool steals cores from the other sessions and workers (and from other processes on a shared host).
      extra: { session: { intra_op: { allow_spinning: '0' } } },
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    };
    const open = async () => {
      let session: OrtSession;
      try {
        session = await runtime.InferenceSession.create(onnx, sessionOptions);
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
      return session;
    };
    let opened: Promise<OrtSession> | undefined = checked ? undefined : Promise.resolve(await open());
    const session = {
      get: () => (opened ??= open()),
      release: async () => opened && (await opened.catch(() => undefined))?.release(),
    };
    const mode = options.incremental ?? true;
    if (mode !== true && mode !== false && mode !== 'auto') {
      throw new ExplainError('invalid_option', `incremental must be true, false or 'auto'; got ${String(mode)}.`);
    }
    let incremental: IncrementalOnnx | undefined;
    if (mode !== false) {
      const graph = readOnnx(onnx);
      const reason = IncrementalOnnx.check(graph);
      if (!reason) incremental = new IncrementalOnnx(runtime, graph, sessionOptions);
      // Told when asked for; by default a network that cannot be cut simply runs full forward passes.
      else if (options.incremental !== undefined) options.onWarning?.(`Incremental inference is off for this ONNX model: ${reason}; occlusion runs full forward passes.`);
    }
    const chosen = incremental ? mode : false;
    // Loaded only where workers are spawned: the thread machinery brings TF.js's backends and the runtime, ~0.4 s of
    // imports that each native worker (an engine of one session) would otherwise pay before its first window.
    const pool = workers > 1 ? new (await import('./onnx-pool.js')).NativeWorkerPool({ onnx, threads, incremental: chosen, batch }) : undefined;
    return new OnnxEngine(runtime, session, threads, incremental, workers, pool, batch, chosen, options.onWarning);
  }

  /** The scores [N, classes] of an NCHW batch, laid out row-major. */
  readonly predictNCHW: PredictNCHW = async (data, dims) => {
    const session = await this.session.get();
    const feeds = { [session.inputNames[0]]: new this.runtime.Tensor('float32', data, dims) };
    const outputs = await session.run(feeds);
    const output = outputs[session.outputNames[0]];
    if (output.dims.length !== 2 || output.dims[0] !== dims[0] || !(output.data instanceof Float32Array)) {
      throw new ExplainError(
        'invalid_model',
        `The ONNX model returned ${output.dims.length === 0 ? 'a scalar' : `shape [${output.dims}]`} for a batch of ${dims[0]}; it must return float32 [N, classes].`,
      );
    }
    return { scores: output.data, classes: output.dims[1] };
  };

  /**
   * Occlusion's scorer on full forward passes: ablated copies of an NHWC input, scored by the native session; the
   * unperturbed input is scored here too (`predictInput`), so the map depends on one engine only.
   */
  readonly fullForwardScorer: AblationScorerFactory = Object.assign((context: AblationContext) => nchwAblationScorer(this.predictNCHW, context, this.batch), {
    predictInput: (input: Float32Array, shape: [number, number, number, number]) => predictNHWC(this.predictNCHW, input, shape),
  });

  /**
   * Occlusion's scorer with incremental inference: each piece of the network runs on the crops the windows reach.
   * The unperturbed input runs through the same pieces, so f(x) and f(x ablated) come from one computation.
   */
  readonly incrementalScorer: AblationScorerFactory | undefined;

  /**
   * What 'auto' settled on in this engine's session (each worker settles on its own): undefined until a run has
   * timed both scorers.
   */
  choice: 'full' | 'incremental' | undefined;

  /**
   * Incremental 'auto': a run's first calls score on full forward passes (the coarse pass of a progressive run
   * comes quickly), then both scorers are timed on alternate calls once warm, and the faster per copy serves the
   * rest of the run and every later run of the engine. Both are exact, so the map is the same within float32 noise.
   */
  private readonly autoScorer: AblationScorerFactory = Object.assign(
    async (context: AblationContext): Promise<AblationScorer> => {
      const full = await this.fullForwardScorer(context);
      if (this.choice === 'full' || !this.incrementalScorer) return full;
      let incremental: Promise<AblationScorer> | undefined;
      const incrementalOf = () => (incremental ??= Promise.resolve(this.incrementalScorer!(context)));
      if (this.choice === 'incremental') return incrementalOf();
      const trial = new ScorerTrial();
      return {
        scoreRegions: async (regions: Region[]) => {
          const which = this.choice ?? trial.next();
          const scorer = which === 'full' ? full : await incrementalOf();
          const start = performance.now();
          const scores = await scorer.scoreRegions(regions);
          if (!this.choice) this.choice = trial.record(which, (performance.now() - start) / regions.length);
          return scores;
        },
        dispose: async () => {
          await full.dispose();
          await (await incremental)?.dispose();
        },
      };
    },
    { predictInput: (input: Float32Array, shape: [number, number, number, number]) => this.fullForwardScorer.predictInput!(input, shape) },
  );

  /**
   * The default scorer: on the workers when there are several; full forward passes, incremental or 'auto' as the
   * engine was created (full forward passes when the network could not be cut or the caller asks incremental: false). `signal` lets a batch in flight on the workers be abandoned at once.
   */
  scorerFor(options: { signal?: AbortSignalLike; incremental?: false } = {}): AblationScorerFactory {
    const full = !this.incrementalScorer || this.mode === false || options.incremental === false;
    const local = full ? this.fullForwardScorer : this.mode === 'auto' ? this.autoScorer : this.incrementalScorer!;
    const pool = this.pool;
    if (!pool) return local;
    const workers = this.workers;
    // incremental: false reaches the workers' engines too (they run full forward passes for that job).
    const pooled = occlusionPoolScorer(() => pool.acquire(workers), { workers, signal: options.signal, incremental: full ? false : undefined });
    // Each batch Occlusion hands over is cut into slices dealt to the workers in turn: one slice per worker, or runs
    // of `batch` copies on full forward passes (small runs are faster per image on onnxruntime, see NATIVE_BATCH).
    const slice = (perEval: number) => Math.ceil(perEval / workers);
    const size = local === this.fullForwardScorer ? (perEval: number) => Math.min(this.batch, slice(perEval)) : slice;
    return Object.assign((context: AblationContext) => pooled({ ...context, perturbationsPerEval: size(context.perturbationsPerEval) }), {
      predictInput: local.predictInput,
      // The incremental scorer's start-up runs the whole network once: its f(x) comes back with the workers' start.
      scoresInput: local === this.incrementalScorer,
    });
  }

  get scorer(): AblationScorerFactory {
    return this.scorerFor();
  }

  /**
   * Makes Occlusion on `model` (the TF.js conversion of the same network, which gradient methods keep using)
   * score with this engine. Its `workers` option then does not apply: the engine's threads take every core.
   */
  attachTo(model: object): void {
    setOcclusionEngine(model, ({ incremental, signal }) => this.scorerFor({ signal, incremental: incremental === false ? false : undefined }));
  }

  /** Frees the native session; models it was attached to go back to TF.js. */
  async dispose(model?: object): Promise<void> {
    if (model) setOcclusionEngine(model, undefined);
    await Promise.all([this.session.release(), this.incremental?.release(), this.fused?.release(), this.pool?.close()]);
  }
}

/**
 * The schedule of incremental 'auto': calls 0–1 full forwards (also the coarse pass), call 2 warms the incremental
 * pieces up (their first onnxruntime runs are slow), then calls 3–6 alternate full and incremental, timed per copy.
 * Incremental must be 10 % faster to be kept: cutting costs memory and a tie is not worth it.
 */
export class ScorerTrial {
  private calls = 0;
  private readonly perCopy = { full: 0, incremental: 0 };
  static readonly SCHEDULE: ReadonlyArray<'full' | 'incremental'> = ['full', 'full', 'incremental', 'full', 'incremental', 'full', 'incremental'];
  static readonly TIMED_FROM = 3;

  /** Which scorer the next call uses. */
  next(): 'full' | 'incremental' {
    return ScorerTrial.SCHEDULE[this.calls];
  }

  /** Records one call's time per copy; returns the choice once the schedule is through. */
  record(which: 'full' | 'incremental', msPerCopy: number): 'full' | 'incremental' | undefined {
    if (this.calls++ >= ScorerTrial.TIMED_FROM) this.perCopy[which] += msPerCopy;
    if (this.calls < ScorerTrial.SCHEDULE.length) return undefined;
    return fasterScorer(this.perCopy.full, this.perCopy.incremental);
  }
}

/** Incremental when it is at least 10 % faster than full forward passes (times per copy, summed over the trials). */
export function fasterScorer(fullMs: number, incrementalMs: number): 'full' | 'incremental' {
  return incrementalMs < 0.9 * fullMs ? 'incremental' : 'full';
}

/**
 * Occlusion's scorer for an ONNX network on onnxruntime-node, or undefined when onnxruntime-node is not available
 * (Occlusion then scores on TF.js; the reason is told once). Pass it as Occlusion's `scorer`.
 */
export async function nativeOcclusionScorer(onnx: Uint8Array, options: OnnxEngineOptions = {}): Promise<AblationScorerFactory | undefined> {
  return (await OnnxEngine.create(onnx, options))?.scorer;
}

/**
 * Ablated copies per onnxruntime run. onnxruntime's CPU kernels are faster per image on small batches when the
 * activations stay in cache: MobileNet v1 0.75 on one thread 6.2 ms/image at batch 1 against 8.1 at batch 27;
 * ResNet-50 ran 44 ms/image at any batch from 1 to 27. easy-explain's job on MobileNet, 2 workers (loaded host,
 * 4 interleaved runs): batch 1 1.9–2.5 s, 2 1.8–2.0 s, 4 1.9–2.2 s, 27 2.4–3.4 s.
 */
export const NATIVE_BATCH = 2;

/** The most workers `nativeThreads` picks by default: each holds a copy of the network. */
export const MAX_NATIVE_WORKERS = 4;

/**
 * Workers and intra-op threads per worker for `cores`: by default min(cores, 4) workers with the cores shared out
 * (2 cores: 2 × 1; 16 cores: 4 × 4, not measured). Under contention separate sessions hold up better than one
 * session's threads, which wait for each other at every operator (ResNet-50: 45 vs 108 ms/image at batch 27 in one
 * loaded run; other runs were a wash, see the README); never more threads in all than cores.
 */
export function nativeThreads(cores: number, options: { workers?: number; threads?: number } = {}): { workers: number; threads: number } {
  for (const [name, value] of Object.entries({ workers: options.workers, threads: options.threads })) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      throw new ExplainError('invalid_option', `${name} must be a positive integer; got ${String(value)}.`);
    }
  }
  const workers = options.workers ?? Math.max(1, Math.min(cores, MAX_NATIVE_WORKERS, Math.floor(cores / (options.threads ?? 1))));
  const threads = options.threads ?? Math.max(1, Math.floor(cores / workers));
  if (workers * threads > Math.max(cores, 1) && workers * threads > 1) {
    throw new ExplainError(
      'invalid_option',
      `${workers} workers × ${threads} threads exceed the ${cores} cores of this host; lower one of them so that workers × threads ≤ ${cores}.`,
    );
  }
  return { workers, threads };
}
