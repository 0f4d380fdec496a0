import type { InterpolateMode, IntegrationMethod, MethodName, MethodOptions, MetricCurve, MetricName, NoiseTunnelType, Prediction, OutputKind } from '@easy-explain/core';
import type { PresetName } from './preset.js';
import type { BackendAttempt, SetupBackendOptions } from './backend.js';
import type { RgbImage } from './image.js';

/** What `serveExplainWorker` and `serveOcclusionHelper` need of a worker's global scope (`self`). */
export interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

/** Messages between `ExplainWorkerClient` (page) and `serveExplainWorker` (worker). Plain data only. */
export type WorkerRequest =
  | { type: 'setup'; backend: string; options: SetupBackendOptions }
  | {
      type: 'loadModel';
      /** A URL, the picked files, or in-memory artifacts (model JSON plus an ArrayBuffer of weights). */
      source: string | File[] | { modelTopology: unknown; weightSpecs: unknown[]; weightData: ArrayBuffer; format?: string };
      options: { outputKind?: OutputKind; preset?: PresetName; labels?: unknown; outputLayer?: string };
    }
  | { type: 'predict'; image: RgbImage; k: number }
  | {
      type: 'explain';
      method: MethodName;
      target: number;
      options: MethodOptions;
      partial: boolean;
      /** Faithfulness metrics of the attribution (deletion, insertion, …), computed in the worker after it. */
      metrics?: MetricName[];
      metricOptions?: { steps?: number };
    }
  | {
      type: 'attribute';
      input: Float32Array;
      shape: [number, number, number, number];
      target: number | number[];
      options: RawAttributeOptions;
    }
  | { type: 'cancel'; job: number }
  | { type: 'info' };

/** Occlusion with core's own option names (the `method` may be left out). */
export interface RawOcclusionOptions {
  method?: 'occlusion';
  slidingWindowShapes: [number, number, number];
  strides?: number | [number, number, number];
  baselines?: number;
  perturbationsPerEval?: number;
  /** Workers to spread the windows over (see ExplainWorkerOptions.spawnHelper); default 1. */
  workers?: 'auto' | number;
  /** As core's OcclusionOptions.incremental; default true. */
  incremental?: boolean | { approximate?: { tau: number } };
}

/** Options of the gradient methods that a noise tunnel can wrap. */
export type RawInnerOptions =
  | { method: 'integrated_gradients'; nSteps?: number; igMethod?: IntegrationMethod; baselines?: number; internalBatchSize?: number }
  | { method: 'saliency'; abs?: boolean }
  | { method: 'guided_backprop' };

/**
 * A method of core's table run directly on a raw [N,H,W,C] input, with Captum's parameters: for parity checks
 * against reference data. `method` names the table entry, so IG's integration method is `igMethod` here. integrated_gradients reports `parameters.convergenceDelta`; layer_grad_cam
 * returns the layer map [N,h,w,1], or the map resized by `LayerGradCam.interpolate` when `interpolate` is given.
 */
export type RawAttributeOptions =
  | RawOcclusionOptions
  | RawInnerOptions
  | {
      method: 'layer_grad_cam';
      layer?: string;
      reluAttributions?: boolean;
      interpolate?: { size: [number, number]; mode: InterpolateMode };
    }
  | { method: 'guided_grad_cam'; layer?: string; interpolateMode?: InterpolateMode }
  | {
      method: 'noise_tunnel';
      inner: RawInnerOptions;
      ntType?: NoiseTunnelType;
      ntSamples?: number;
      ntSamplesBatchSize?: number;
      stdevs?: number;
      seed?: number;
      /** The noise itself, [N·ntSamples,H,W,C] example-major, instead of drawing it. */
      noise?: Float32Array;
    };

export type RawMethod = NonNullable<RawAttributeOptions['method']>;

export interface ModelInfo {
  format: 'layers-model' | 'graph-model' | 'onnx';
  inputShape?: [number, number, number];
  classes: number;
  outputKind: OutputKind;
  /** Class names, index = class; absent when the model came without labels and is not a 1000-class ImageNet model. */
  labels?: string[];
}

export interface BackendInfo {
  backend: string;
  attempts: BackendAttempt[];
  flags: Record<string, unknown>;
  numTensors: number;
  /** Occlusion helper workers running for the loaded model (see ExplainWorkerOptions.spawnHelper). */
  helpers: number;
}

export interface ExplainResult {
  attribution: Float32Array;
  shape: number[];
  parameters: Record<string, unknown>;
  target: number | number[];
  backend: string;
  /** Wall time of the attribution in the worker, in ms. */
  ms: number;
  /** The metrics asked for: one value per image, and deletion/insertion curves. */
  metrics?: Partial<Record<MetricName, { values: number[]; curves?: MetricCurve[] }>>;
}

export type WorkerReply =
  | { id: number; type: 'done'; value: unknown }
  | { id: number; type: 'error'; code: string; message: string }
  | { id: number; type: 'progress'; done: number; total: number; partial?: Float32Array };

export type { Prediction, RgbImage };
