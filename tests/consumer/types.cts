// The same packages from a CommonJS TypeScript file (TypeScript ≥ 5.8 types require() of ES modules under NodeNext).
import core = require('@easy-explain/core');
import viz = require('@easy-explain/viz');

export const version: string = core.VERSION;
export const names: readonly string[] = core.IMAGENET_CLASSES;
export const map: Float32Array = viz.normalizeAttr({ data: new Float32Array(12), height: 2, width: 2, channels: 3 }, 'all');
