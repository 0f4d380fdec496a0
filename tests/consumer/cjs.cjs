// require() of every package (Node ≥ 20.19 loads ES modules synchronously when their graph has no top-level await):
// each loads, reports its package.json version, and has the names of the public API contract (docs/API.md).
const assert = require('node:assert/strict');

const contract = {
  '@easy-explain/core': [
    'asModel', 'Occlusion', 'IntegratedGradients', 'Saliency', 'GuidedBackprop', 'LayerGradCam', 'GuidedGradCam',
    'NoiseTunnel', 'predictClasses', 'parseLabels', 'preprocess', 'ExplainError', 'IMAGENET_CLASSES',
  ],
  '@easy-explain/viz': ['normalizeAttr', 'visualizeImageAttr', 'drawFigure', 'colormap'],
  '@easy-explain/backend-node': ['setupBackend', 'loadModel', 'loadImage', 'runEasyExplain'],
  '@easy-explain/backend-web': ['setupBackend', 'loadModel', 'loadImage', 'runEasyExplain'],
};
for (const [name, names] of Object.entries(contract)) {
  const mod = require(name);
  const { version } = require(`${name}/package.json`);
  assert.equal(mod.VERSION, version, `${name}: VERSION ${mod.VERSION} is not package.json's ${version}`);
  const missing = names.filter((n) => typeof mod[n] === 'undefined');
  assert.deepEqual(missing, [], `${name} lacks ${missing.join(', ')}`);
  console.log(`CJS: require('${name}') ${version}: ${Object.keys(mod).length} exports`);
}
assert.equal(typeof require('@easy-explain/core').LayerGradCam.interpolate, 'function');
// The error class is shared: backend-node re-exports core's.
assert.equal(require('@easy-explain/backend-node').ExplainError, require('@easy-explain/core').ExplainError);
