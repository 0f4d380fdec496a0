import * as tf from '@tensorflow/tfjs-core';
import { checkImageBatch } from './attributors/attributor.js';
import { ExplainError } from './errors.js';
import type { Labels } from './labels.js';
import { predictScores, type Model } from './model.js';

export interface Prediction {
  index: number;
  label: string;
  probability: number;
  /** probability × 100 */
  percentage: number;
}

/** Top-k classes of one image [1,H,W,C], most likely first. Softmax is applied only when the model gives logits. */
export async function predictClasses(model: Model, input: tf.Tensor4D, labels?: Labels, k = 5): Promise<Prediction[]> {
  checkImageBatch(input);
  if (input.shape[0] !== 1) {
    throw new ExplainError('invalid_input', `predictClasses takes one image [1,H,W,C]; got a batch of ${input.shape[0]}.`);
  }
  if (!Number.isInteger(k) || k < 1) throw new ExplainError('invalid_option', `k must be a positive integer; got ${k}.`);
  const probabilities = tf.tidy(() => {
    const scores = predictScores(model, input);
    return model.outputKind === 'logits' ? tf.softmax(scores) : scores;
  });
  let values: Float32Array;
  try {
    values = (await probabilities.data()) as Float32Array;
  } finally {
    probabilities.dispose();
  }
  if (labels && labels.size !== values.length) {
    throw new ExplainError(
      'invalid_labels',
      `The model has ${values.length} classes but the labels name ${labels.size}; pass the label file that belongs to this model.`,
    );
  }
  const order = Array.from(values.keys()).sort((a, b) => values[b] - values[a] || a - b);
  return order.slice(0, Math.min(k, values.length)).map((index) => ({
    index,
    label: labels ? labels.name(index) : `class ${index}`,
    probability: values[index],
    percentage: values[index] * 100,
  }));
}
