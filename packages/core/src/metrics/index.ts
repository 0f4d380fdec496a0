import type * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../errors.js';
import type { Model } from '../model.js';
import type { CurveOptions } from './causal-curve.js';
import { deletion } from './deletion.js';
import { insertion } from './insertion.js';
import { infidelity, type InfidelityOptions } from './infidelity.js';
import { sensitivityMax, type SensitivityOptions } from './sensitivity.js';
import { modelRandomization, type ModelRandomizationOptions } from './model-randomization.js';
import { METRIC_NAMES, type MetricFunction, type MetricName, type MetricOptions, type MetricResult } from './metric.js';

export * from './metric.js';
export * from './causal-curve.js';
export * from './deletion.js';
export * from './insertion.js';
export * from './infidelity.js';
export * from './sensitivity.js';
export * from './model-randomization.js';

/**
 * Options of `runMetric`: the union of the metrics' options (each metric reads its own). `explain` is required by
 * sensitivity_max and model_randomization.
 */
export type AnyMetricOptions = MetricOptions &
  Partial<Omit<CurveOptions, keyof MetricOptions>> &
  Partial<Omit<InfidelityOptions, keyof MetricOptions>> &
  Partial<Omit<SensitivityOptions, keyof MetricOptions | 'perturb'>> &
  Partial<Omit<ModelRandomizationOptions, keyof MetricOptions>>;

/** Every metric by its name (the CLI's `--metrics` names). */
export const METRICS: Record<MetricName, MetricFunction<never, MetricResult>> = {
  deletion,
  insertion,
  infidelity,
  sensitivity_max: sensitivityMax,
  model_randomization: modelRandomization,
};

/**
 * Runs one metric by name on an input and its attribution. Infidelity's `perturb` applies to infidelity only; pass
 * a sensitivity perturbation by calling `sensitivityMax` directly.
 */
export function runMetric(
  name: MetricName,
  model: Model,
  input: tf.Tensor4D,
  attribution: tf.Tensor,
  options: AnyMetricOptions,
): Promise<MetricResult> {
  if (!(METRIC_NAMES as readonly string[]).includes(name)) {
    return Promise.reject(new ExplainError('invalid_option', `Unknown metric "${String(name)}"; use one of: ${METRIC_NAMES.join(', ')}.`));
  }
  return (METRICS[name] as MetricFunction<AnyMetricOptions & SensitivityOptions, MetricResult>)(model, input, attribution, options as never);
}
