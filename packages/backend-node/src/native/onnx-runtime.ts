// onnxruntime-node, loaded on first use. It is an optional dependency (like tfjs-node): when it is missing or its
// native library does not load, every caller falls back to TF.js, and the reason is told once per process.

/** The parts of onnxruntime-node's API the engine uses (typed here, so builds never need the package). */
export interface OrtTensor {
  readonly type: string;
  readonly data: unknown;
  readonly dims: readonly number[];
}
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface OrtSessionOptions {
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  executionMode?: 'sequential' | 'parallel';
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Whether onnxruntime plans one block for a run's intermediate tensors from the shapes of earlier runs. */
  enableMemPattern?: boolean;
  /** Session config entries, nested by their dotted names. */
  extra?: Record<string, unknown>;
}
export interface OnnxRuntime {
  InferenceSession: { create(model: Uint8Array, options?: OrtSessionOptions): Promise<OrtSession> };
  Tensor: {
    new (type: 'float32', data: Float32Array, dims: readonly number[]): OrtTensor;
    new (type: 'int32', data: Int32Array, dims: readonly number[]): OrtTensor;
    new (type: 'int64', data: BigInt64Array, dims: readonly number[]): OrtTensor;
  };
  env: { versions?: { common?: string } };
}

let loading: Promise<OnnxRuntime | undefined> | undefined;
let told = false;

/**
 * onnxruntime-node, or undefined when it cannot be used here. The first failure is reported through `onWarning`
 * (console.warn without one); later calls stay silent, as they would only repeat it.
 */
export async function loadOnnxRuntime(onWarning?: (message: string) => void): Promise<OnnxRuntime | undefined> {
  loading ??= import('onnxruntime-node').then(
    (module) => ((module as { default?: OnnxRuntime }).default ?? module) as unknown as OnnxRuntime,
    (error: unknown) => {
      failure = `onnxruntime-node is not available (${firstLine(error)}); ONNX models score on TF.js (wasm) instead. Install onnxruntime-node 1.30.0 for native speed.`;
      return undefined;
    },
  );
  const runtime = await loading;
  if (!runtime && !told) {
    told = true;
    (onWarning ?? console.warn)(failure);
  }
  return runtime;
}
let failure = '';

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0];
}
