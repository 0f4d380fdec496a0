// The README's core snippet, run from the installed tarballs: MobileNet v1 0.75 on chelsea.png, Occlusion with
// 56×56 windows at stride 56 (16 windows, so it is quick). EE_SHARED is the shared data folder.
import assert from 'node:assert/strict';
import { join } from 'node:path';
// The app's own import of tfjs-core: the copy npm installed for the packages' peer dependency, so the same engine.
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend, loadModel, loadImage, imagenetLabels } from '@easy-explain/backend-node';
import { Occlusion, predictClasses, preprocess } from '@easy-explain/core';

const shared = process.env.EE_SHARED;
assert.ok(shared, 'EE_SHARED must name the shared data folder');

const backend = await setupBackend('auto'); // tfjs-node is not installed, so wasm
assert.equal(backend, 'wasm');
const model = await loadModel(join(shared, 'models/mobilenet_v1_0.75_224/model.json'));
const image = await loadImage(join(shared, 'images/chelsea.png'));
const input = preprocess(image, 'mobilenet'); // [1,224,224,3]
image.dispose();
const before = tf.memory().numTensors;

// PROVENANCE.md of the model: chelsea.png → Egyptian cat (285) first, with the mobilenet preset.
const labels = imagenetLabels(); // the ImageNet names shipped in core (IMAGENET_CLASSES)
const top5 = await predictClasses(model, input, labels, 5);
assert.equal(top5.length, 5);
const [top] = top5;
assert.equal(top.index, 285);
assert.equal(top.label, 'Egyptian cat');
assert.ok(top.probability > 0.3 && top.probability < 1, `top-1 probability ${top.probability}`);

// A tensor the app made itself is a tensor to core (one tfjs-core, one engine).
const own = tf.zeros([1, 224, 224, 3]);
const [ownTop] = await predictClasses(model, own, labels, 1);
assert.ok(Number.isInteger(ownTop.index));
own.dispose();

let progress = 0;
const attribution = await new Occlusion(model).attribute(input, {
  target: top.index,
  slidingWindowShapes: [56, 56, 3],
  strides: [56, 56, 3],
  baselines: 0,
  onProgress: (done) => (progress = done),
});
assert.deepEqual(attribution.shape, [1, 224, 224, 3]);
const map = await attribution.data();
attribution.dispose();
let nonZero = 0;
for (const v of map) {
  assert.ok(Number.isFinite(v), 'the attribution map has a non-finite value');
  if (v !== 0) nonZero++;
}
assert.ok(nonZero > map.length / 2, `only ${nonZero} of ${map.length} attribution values are non-zero`);
assert.ok(progress > 0, 'onProgress was never called');
assert.equal(tf.memory().numTensors, before, 'tensors leaked');
input.dispose();
model.dispose();
console.log(`ESM: tfjs-core ${tf.version_core}, ${backend}, top-1 ${top.label} (${top.index}) ${top.probability.toFixed(3)}, ${nonZero} non-zero attribution values`);
