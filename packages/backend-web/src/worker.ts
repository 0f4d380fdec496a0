import * as tf from '@tensorflow/tfjs-core';
import {
  predictClasses,
  runMethod,
  runMetric,
  type MethodOptions,
  type MetricCurve,
  type MetricResult,
  type MethodResult,
  type Model,
  type NoiseTunnelInner,
  type OcclusionWorkerPool,
  type PooledOcclusionWorker,
  type Prediction,
} from '@easy-explain/core/internal';
import { backendAttempts, prepareInput } from '@easy-explain/runtime';
import { setupBackend, type SetupBackendOptions } from './backend.js';
import { loadModel, type LoadedModel } from './model.js';
import { resolveWebWorkers, withOcclusionHelpers } from './pool.js';
import type { BackendInfo, ExplainResult, ModelInfo, RawAttributeOptions, RawInnerOptions, WorkerReply, WorkerRequest, WorkerScope } from './protocol.js';

type Run = { target: number | number[]; onProgress: (done: number, total: number) => void; signal: AbortSignal };

/** A gradient method's raw options as the method table's (IG's `igMethod` is its `method` there). */
function innerOptions(inner: RawInnerOptions): NoiseTunnelInner {
  const { method, ...rest } = inner;
  if (method === 'integrated_gradients') {
    const { igMethod, ...ig } = rest as Omit<Extract<RawInnerOptions, { method: 'integrated_gradients' }>, 'method'>;
    return { method, options: { ...ig, method: igMethod } };
  }
  return { method, options: rest } as NoiseTunnelInner;
}

/** Runs one entry of core's method table on raw options (see RawAttributeOptions). */
async function rawAttribute(m: Model, x: tf.Tensor4D, options: RawAttributeOptions, run: Run): Promise<MethodResult> {
  const name = options.method ?? 'occlusion';
  if (name === 'noise_tunnel') {
    const { noise: values, inner, method: _method, ...rest } = options as Extract<RawAttributeOptions, { method: 'noise_tunnel' }>;
    const noise = values ? tf.tensor4d(values, [x.shape[0] * (rest.ntSamples ?? 5), x.shape[1], x.shape[2], x.shape[3]]) : undefined;
    try {
      return await runMethod('noise_tunnel', m, x, run, { ...rest, inner: innerOptions(inner), noise });
    } finally {
      noise?.dispose();
    }
  }
  const inner = name === 'integrated_gradients' || name === 'saliency' || name === 'guided_backprop' ? innerOptions(options as RawInnerOptions) : undefined;
  const { method: _method, ...rest } = options;
  const tableOptions = (inner?.options ?? rest) as MethodOptions;
  // Parity runs ask for exactly what they give: occlusion stays in this worker unless workers are named.
  const defaults = name === 'occlusion' ? { workers: 1 } : {};
  return runMethod(name, m, x, run, { ...defaults, ...tableOptions } as never);
}

export interface ExplainWorkerOptions {
  /**
   * Starts an occlusion helper worker (a module that calls `serveOcclusionHelper(self)`), e.g.
   * `() => new Worker(new URL('./helper.ts', import.meta.url), { type: 'module' })`. With it, Occlusion's `workers`
   * (a count, or 'auto': one per core on wasm/cpu, one on webgpu/webgl) spreads the windows over this worker and
   * `workers − 1` helpers; without it, occlusion runs in this worker alone.
   */
  spawnHelper?: () => Worker;
}

/**
 * Runs in a Web Worker: call it from the worker's module (`serveExplainWorker(self)`). It owns TF.js, the model
 * and the current image, so predictions and attributions never block the page.
 */
export function serveExplainWorker(scope: WorkerScope, options: ExplainWorkerOptions = {}): void {
  let model: LoadedModel | undefined;
  // The loaded model's occlusion helpers, when `spawnHelper` was given.
  let helpers: OcclusionWorkerPool<PooledOcclusionWorker> | undefined;
  let backendOptions: SetupBackendOptions = {};
  let input: tf.Tensor4D | undefined;
  const jobs = new Map<number, AbortController>();
  const reply = (message: WorkerReply, transfer: Transferable[] = []) => scope.postMessage(message, transfer);

  const info = (): BackendInfo => ({
    backend: tf.getBackend(),
    attempts: backendAttempts(),
    flags: { ...tf.env().getFlags() },
    numTensors: tf.memory().numTensors,
    helpers: helpers?.workers.length ?? 0,
  });

  function requireModel(): LoadedModel {
    if (!model) throw Object.assign(new Error('Load a model first.'), { code: 'invalid_model' });
    return model;
  }

  async function attribute(
    id: number,
    target: number | number[],
    run: (
      progress: (done: number, total: number) => void,
      partial: (map: Float32Array, done: number, total: number) => void,
      signal: AbortSignal,
    ) => Promise<{ attribution: tf.Tensor4D; parameters: Record<string, unknown> }>,
  ): Promise<ExplainResult> {
    const controller = new AbortController();
    jobs.set(id, controller);
    const started = performance.now();
    try {
      const onProgress = (done: number, total: number) => reply({ id, type: 'progress', done, total });
      // Each partial map is a fresh array from core, so its buffer can be transferred.
      const onPartial = (map: Float32Array, done: number, total: number) =>
        reply({ id, type: 'progress', done, total, partial: map }, [map.buffer]);
      const { attribution, parameters } = await run(onProgress, onPartial, controller.signal);
      try {
        const data = (await attribution.data()) as Float32Array;
        return { attribution: data, shape: attribution.shape, parameters, target, backend: tf.getBackend(), ms: performance.now() - started };
      } finally {
        attribution.dispose();
      }
    } finally {
      jobs.delete(id);
    }
  }

  async function handle(id: number, request: WorkerRequest): Promise<{ value: unknown; transfer?: Transferable[] }> {
    switch (request.type) {
      case 'setup': {
        await setupBackend(request.backend, request.options);
        backendOptions = request.options;
        return { value: info() };
      }
      case 'info':
        return { value: info() };
      case 'loadModel': {
        const { source } = request;
        const plain = await loadModel(
          typeof source === 'string' || Array.isArray(source) ? source : (source as unknown as tf.io.ModelArtifacts),
          request.options,
        );
        const { spawnHelper } = options;
        const pooled = spawnHelper ? withOcclusionHelpers(plain, spawnHelper, () => backendOptions) : undefined;
        // Start the helpers 'auto' will use now, while the user picks an image, not inside the first run.
        const wanted = resolveWebWorkers('auto', tf.getBackend()) - 1;
        if (pooled && wanted > 0) pooled.helpers.acquire(wanted).catch(() => {}); // a failure resurfaces when a run needs them
        const loaded: LoadedModel = pooled ?? plain;
        model?.dispose();
        input?.dispose();
        input = undefined;
        model = loaded;
        helpers = pooled?.helpers;
        const classes = loaded.classes;
        const value: ModelInfo = {
          format: loaded.format,
          inputShape: loaded.inputShape,
          classes,
          outputKind: loaded.outputKind,
          labels: loaded.labels ? Array.from({ length: classes }, (_, i) => loaded.labels!.name(i)) : undefined,
        };
        return { value };
      }
      case 'predict': {
        const m = requireModel();
        const prepared = await prepareInput(request.image, m.preset ?? 'imagenet', m.inputShape);
        input?.dispose();
        input = prepared.input;
        const predictions: Prediction[] = await predictClasses(m, input, m.labels, request.k);
        return { value: { predictions, display: prepared.display }, transfer: [prepared.display.data.buffer] };
      }
      case 'explain': {
        const m = requireModel();
        if (!input) throw Object.assign(new Error('Pick an image first.'), { code: 'invalid_input' });
        const x = input;
        const metrics: NonNullable<ExplainResult['metrics']> = {};
        const result = await attribute(id, request.target, async (onProgress, onPartial, signal) => {
          const run = await runMethod(
            request.method,
            m,
            x,
            // Occlusion with live maps: the coarse grid first, then the full one (identical final map).
            { target: request.target, onProgress, signal, ...(request.partial ? { progressive: true, onPartial } : {}) },
            request.options,
          );
          try {
            for (const name of request.metrics ?? []) {
              const { values, curves } = (await runMetric(name, m, x, run.attribution, { ...request.metricOptions, target: request.target, signal })) as MetricResult & { curves?: MetricCurve[] };
              metrics[name] = { values, curves };
            }
          } catch (error) {
            run.attribution.dispose();
            throw error;
          }
          return run;
        });
        return { value: request.metrics?.length ? { ...result, metrics } : result, transfer: [result.attribution.buffer] };
      }
      case 'attribute': {
        // Raw tensors in, raw attribution out: for parity checks against reference data.
        const x = tf.tensor4d(request.input, request.shape);
        try {
          const m = requireModel();
          const result = await attribute(id, request.target, (onProgress, _onPartial, signal) =>
            rawAttribute(m, x, request.options ?? ({} as RawAttributeOptions), { target: request.target, onProgress, signal }),
          );
          return { value: result, transfer: [result.attribution.buffer] };
        } finally {
          x.dispose();
        }
      }
      case 'cancel':
        jobs.get(request.job)?.abort();
        return { value: jobs.has(request.job) };
    }
  }

  scope.onmessage = (event: MessageEvent) => {
    const { id, request } = event.data as { id: number; request: WorkerRequest };
    handle(id, request).then(
      ({ value, transfer }) => reply({ id, type: 'done', value }, transfer),
      (error: unknown) => {
        const e = error as { code?: string; message?: string };
        reply({ id, type: 'error', code: e?.code ?? 'internal', message: e?.message ?? String(error) });
      },
    );
  };
}
