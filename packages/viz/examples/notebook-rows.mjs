// easy-explain's notebook, in TypeScript's packages: an Occlusion map of chelsea.png with MobileNet v1 0.75, drawn as
// the notebook's five rows, each beside the original image. Writes figure-1.png … figure-5.png and explanation.json.
//
//   npm run build && node packages/viz/examples/notebook-rows.mjs [out-dir] [model.json] [image]
//
// Defaults use the repository's ../shared folder; pass your own model and photo to run it elsewhere.
import { fileURLToPath } from 'node:url';
import { loadModel, runEasyExplain, setupBackend } from '@easy-explain/backend-node';

const shared = (path) => fileURLToPath(new URL(`../../../../shared/${path}`, import.meta.url));
const [outDir = 'easy-explain-out/notebook', modelPath = shared('models/mobilenet_v1_0.75_224/model.json'), image = shared('images/chelsea.png')] =
  process.argv.slice(2);

// The notebook's rows: [method, sign] of the attribution panel; each row ends with the original image.
const rows = [
  ['blended_heat_map', 'positive'],
  ['blended_heat_map', 'negative'],
  ['blended_heat_map', 'all'],
  ['masked_image', 'positive'],
  ['alpha_scaling', 'positive'],
];

const backend = await setupBackend('auto');
const model = await loadModel(modelPath);
const result = await runEasyExplain(model, {
  image,
  totalPreds: 5,
  visTypes: rows.map(([method]) => [method, 'original_image']),
  visSigns: rows.map(([, sign]) => [sign, 'all']),
  outDir,
  onProgress: (done, total) => process.stderr.write(`\rocclusion ${done}/${total}`),
});
process.stderr.write('\n');
console.log(`backend ${backend}; explained ${result.targetLabel} (${result.target})`);
for (const p of result.predictions) console.log(`  ${p.index}\t${p.label}\t${p.percentage.toFixed(2)}%`);
for (const file of result.files ?? []) console.log(`wrote ${file}`);
result.attribution.dispose();
model.dispose();
