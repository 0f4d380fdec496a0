import * as tf from '@tensorflow/tfjs-core';
import {
  ExplainError,
  GuidedBackprop,
  GuidedGradCam,
  IntegratedGradients,
  LayerGradCam,
  NoiseTunnel,
  Occlusion,
  predictClasses,
  runMethod,
  Saliency,
  type AttributeOptions,
  type Attributor,
  type Model,
  type OcclusionWorkerPool,
  type PooledOcclusionWorker,
  type Prediction,
} from '@easy-explain/core';
import { backendAttempts, setupBackend, type SetupBackendOptions } from './backend.js';
import { loadModel, type LoadedModel } from './model.js';
import { resolveWebWorkers, withOcclusionHelpers } from './pool.js';
import { prepareInput } from './prepare.js';
import type { BackendInfo, ExplainResult, ModelInfo, RawAttributeOptions, RawInnerOptions, WorkerReply, WorkerRequest, WorkerScope } from './protocol.js';

type Run = { target: number | number[]; onProgress: (done: number, total: number) => void; signal: AbortSignal };

/** An inner gradient method of a noise tunnel, with its options bound. */
function innerAttributor(m: Model, inner: RawInnerOptions): Attributor {
  switch (inner.method) {
    case 'integrated_gradients': {
      const ig = new IntegratedGradients(m);
      const options = { nSteps: inner.nSteps, method: inner.igMethod, baselines: inner.baselines, internalBatchSize: inner.internalBatchSize };
      return { attribute: (x, o: AttributeOptions) => ig.attribute(x, { ...o, ...options }) };
    }
    case 'saliency': {
      const saliency = new Saliency(m);
      return { attribute: (x, o: AttributeOptions) => saliency.attribute(x, { ...o, abs: inner.abs }) };
    }
    case 'guided_backprop':
      return new GuidedBackprop(m);
    default:
      throw new ExplainError('invalid_option', `A noise tunnel wraps integrated_gradients, saliency or guided_backprop; got ${String((inner as { method?: unknown })?.method)}.`);
  }
}

/** Runs one core attributor by its raw options (see RawAttributeOptions); returns the attribution and what was used. */
async function rawAttribute(
  m: Model,
  x: tf.Tensor4D,
  options: RawAttributeOptions,
  run: Run,
): Promise<{ attribution: tf.Tensor4D; parameters: Record<string, unknown> }> {
  switch (options.method) {
    case undefined:
    case 'occlusion': {
      const { method: _method, ...rest } = options;
      const occlusion = new Occlusion(m);
      const attribution = await occlusion.attribute(x, { ...rest, ...run });
      return { attribution, parameters: { method: 'occlusion', ...rest, workers: occlusion.workers } };
    }
    case 'integrated_gradients': {
      const { attribution, delta } = await new IntegratedGradients(m).attributeWithDelta(x, {
        ...run,
        nSteps: options.nSteps,
        method: options.igMethod,
        baselines: options.baselines,
        internalBatchSize: options.internalBatchSize,
      });
      return { attribution, parameters: { ...options, convergenceDelta: delta } };
    }
    case 'saliency':
    case 'guided_backprop':
      return { attribution: await innerAttributor(m, options).attribute(x, run), parameters: { ...options } };
    case 'layer_grad_cam': {
      const cam = new LayerGradCam(m, options.layer);
      const map = await cam.attribute(x, { ...run, reluAttributions: options.reluAttributions });
      const parameters = { ...options, layer: cam.layer, mapShape: map.shape };
      if (!options.interpolate) return { attribution: map, parameters };
      try {
        return { attribution: LayerGradCam.interpolate(map, options.interpolate.size, options.interpolate.mode), parameters };
      } finally {
        map.dispose();
      }
    }
    case 'guided_grad_cam': {
      const guided = new GuidedGradCam(m, options.layer);
      const attribution = await guided.attribute(x, { ...run, interpolateMode: options.interpolateMode });
      return { attribution, parameters: { ...options, layer: guided.layer } };
    }
    case 'noise_tunnel': {
      const { noise: values, inner, method: _method, ...rest } = options;
      const noise = values ? tf.tensor4d(values, [x.shape[0] * (rest.ntSamples ?? 5), x.shape[1], x.shape[2], x.shape[3]]) : undefined;
      try {
        const attribution = await new NoiseTunnel(innerAttributor(m, inner)).attribute(x, { ...run, ...rest, noise });
        return { attribution, parameters: { ...rest, inner, injectedNoise: !!noise } };
      } finally {
        noise?.dispose();
      }
    }
    default:
      throw new ExplainError('invalid_option', `Unknown raw attribution method "${String((options as { method?: unknown }).method)}".`);
  }
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
        const prepared = await prepareInput(request.image, m.preset, m.inputShape);
        input?.dispose();
        input = prepared.input;
        const predictions: Prediction[] = await predictClasses(m, input, m.labels, request.k);
        return { value: { predictions, display: prepared.display }, transfer: [prepared.display.data.buffer] };
      }
      case 'explain': {
        const m = requireModel();
        if (!input) throw Object.assign(new Error('Pick an image first.'), { code: 'invalid_input' });
        const x = input;
        const result = await attribute(id, request.target, (onProgress, onPartial, signal) =>
          runMethod(
            request.method,
            m,
            x,
            // Occlusion with live maps: the coarse grid first, then the full one (identical final map).
            { target: request.target, onProgress, signal, ...(request.partial ? { progressive: true, onPartial } : {}) },
            request.settings,
          ),
        );
        return { value: result, transfer: [result.attribution.buffer] };
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
