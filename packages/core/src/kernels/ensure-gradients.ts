import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../errors.js';

// Gradients core's attributors need; tfjs-core registers none of them by itself.
const NEEDED = ['Conv2D', 'Relu', 'BatchMatMul', 'Mean', 'Add', 'Reshape'];

const registered = () => NEEDED.every((name) => tf.getGradient(name) !== undefined);

let loading: Promise<void> | undefined;

/**
 * Makes sure tfjs's gradient functions are registered. Bundlers resolve the dynamic import below; in plain Node
 * (where tfjs-core's ESM files cannot load) the CJS bundles of @tensorflow/tfjs-layers or @tensorflow/tfjs register
 * them when loaded, so the import may fail harmlessly there.
 */
export async function ensureGradients(): Promise<void> {
  if (registered()) return;
  loading ??= import('@tensorflow/tfjs-core/dist/register_all_gradients.js').then(
    () => undefined,
    () => undefined,
  );
  await loading;
  if (!registered()) {
    throw new ExplainError(
      'backend_unavailable',
      "TF.js gradient functions are not registered. Import '@tensorflow/tfjs-core/dist/register_all_gradients' " +
        '(bundlers), or load @tensorflow/tfjs-layers or @tensorflow/tfjs before computing gradient attributions (Node).',
    );
  }
}
