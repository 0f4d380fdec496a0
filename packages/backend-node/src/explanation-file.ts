// What explanation.json adds to the shared Explanation when Node writes it: the schema version (see
// schema/explanation.schema.json, shipped with this package), the tool version, and the attribution saved as .npy.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import type { Explanation } from '@easy-explain/runtime';
import { encodeNpy } from './npy.js';
import { VERSION } from './version.js';

/**
 * The version of explanation.json's layout. Bump it when a field changes meaning or goes away (adding an optional
 * field does not); schema/explanation.schema.json describes this version.
 */
export const EXPLANATION_SCHEMA_VERSION = 1;

/** The file name of the saved attribution in each output folder. */
export const ATTRIBUTION_FILE = 'attribution.npy';

/** How explanation.json points at the saved attribution. */
export interface AttributionFileInfo {
  file: string;
  dtype: 'float32';
  /** [1, height, width, channels]: NHWC, as the model input. */
  shape: number[];
  layout: 'NHWC';
}

/** explanation.json as Node writes it. */
export type ExplanationFile = Explanation & {
  schemaVersion: number;
  toolVersion: string;
  attribution?: AttributionFileInfo;
};

/** Puts the schema and tool versions first, as readers look for them before anything else. */
export function versioned(explanation: Explanation): ExplanationFile {
  return { schemaVersion: EXPLANATION_SCHEMA_VERSION, toolVersion: VERSION, ...explanation };
}

/** Writes the attribution as attribution.npy (float32, NHWC, as `np.load` reads it) into dir. */
export async function writeAttributionNpy(dir: string, attribution: tf.Tensor4D): Promise<{ path: string; info: AttributionFileInfo }> {
  const data = (await attribution.data()) as Float32Array;
  const path = join(dir, ATTRIBUTION_FILE);
  await writeFile(path, encodeNpy(data, attribution.shape));
  return { path, info: { file: ATTRIBUTION_FILE, dtype: 'float32', shape: [...attribution.shape], layout: 'NHWC' } };
}
