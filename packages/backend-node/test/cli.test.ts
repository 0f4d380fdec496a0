// The CLI as a user runs it: a child process on the built dist/cli.js (see global-setup.ts), real models and photos.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { figureSize } from '@easy-explain/viz';
import { AUTO_WORKERS, closedPort, DARKNET, EMOTION, endless, hostileServer, image, lines, MOBILENET, REPO, removeDir, runCli, saveTinyModel, serveFolder, stalled, tempDir } from './helpers';

let dir: string;
beforeAll(() => {
  dir = tempDir('ee-cli-');
});
afterAll(() => removeDir(dir));

/** Asserts a refused run: exit 2, one line on stderr naming the reason, no stack trace, nothing on stdout. */
function expectRefusal(run: Awaited<ReturnType<typeof runCli>>, reason: RegExp | string): void {
  expect(run.code, run.stderr).toBe(2);
  expect(lines(run.stderr)).toHaveLength(1);
  expect(run.stderr).toMatch(/^easy-explain: /);
  expect(run.stderr).toMatch(reason);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.stdout).toBe('');
}

// The coarse setting (4×4 windows = 16 forward passes) keeps most runs to a few seconds.
const COARSE = ['--window', '56', '--stride', '56'];

describe('easy-explain CLI', () => {
  it("explains chelsea.png with MobileNet at easy-explain's default setting", async () => {
    const out = join(dir, 'chelsea');
    const run = await runCli(
      [image('chelsea.png'), '--model', MOBILENET, '--out', out, '--vis', 'blended_heat_map:positive,original_image:all', '--vis', 'heat_map:absolute_value'],
      { timeoutMs: 290_000 },
    );
    expect(run.code, run.stderr).toBe(0);

    const table = lines(run.stdout);
    expect(table[0]).toMatch(/^Top 5 predictions for .*chelsea\.png/);
    expect(table[1]).toMatch(/^#\s+class\s+label\s+probability/);
    const top1 = Number(table[2].split(/\s+/)[1]);
    expect([285, 281]).toContain(top1);
    expect(run.stdout).toContain(`Wrote 4 files to ${out}:`);
    // stderr is not a TTY here: plain progress lines, ending at 100 %.
    expect(run.stderr).toContain('Explaining class');
    const done = run.stderr.match(/attribution 100% \((\d+)\/(\d+)\)/);
    expect(run.stderr).toMatch(/coarse map ready after \S+ \(9\/441 windows\); refining/);
    expect(done?.[1]).toBe(done?.[2]);
    expect(Number(done?.[1])).toBeGreaterThanOrEqual(441); // 21×21 windows

    const explanation = JSON.parse(readFileSync(join(out, 'explanation.json'), 'utf8'));
    expect(explanation.target.index).toBe(top1);
    expect(explanation.predictions).toHaveLength(5);
    expect(explanation.backend).toBe('wasm');
    expect(explanation.method).toEqual({ name: 'occlusion', parameters: { slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3], baselines: 0, workers: AUTO_WORKERS, incremental: true } });
    expect(explanation.image).toEqual({ source: image('chelsea.png'), width: 451, height: 300 });
    expect(explanation.model).toMatchObject({ source: MOBILENET, preset: 'mobilenet' });
    expect(explanation.timings.attributionMs).toBeGreaterThan(0);

    const name = explanation.target.label.charAt(0).toUpperCase() + explanation.target.label.slice(1);
    const expectedTitles = [
      [`Positive Blended heat map for ${name}`, `Original image for ${name}`],
      [`Absolute value Heat map for ${name}`],
    ];
    expect(explanation.figures.map((f: { titles: string[] }) => f.titles)).toEqual(expectedTitles);
    for (const [i, titles] of expectedTitles.entries()) {
      // The size viz lays out for 224×224 panels with these titles, colour bars under the heat maps.
      const panel = { image: { width: 224, height: 224, data: new Uint8ClampedArray(224 * 224 * 4) } };
      const bar = { cmap: { N: 2, lut: new Float64Array(8), name: 'x', index: () => 0, rgba: () => [0, 0, 0, 0] as [number, number, number, number] }, vmin: 0, vmax: 1, alpha: 1 };
      const expected = figureSize(titles.map((title, j) => ({ ...panel, title, colorbar: j === 0 ? bar : null })), { fontFamily: 'DejaVu Sans, sans-serif' });
      const meta = await sharp(join(out, `figure-${i + 1}.png`)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', expected.width, expected.height]);
      const stats = await sharp(join(out, `figure-${i + 1}.png`)).stats();
      expect(stats.channels[0].stdev).toBeGreaterThan(10); // a drawn figure, not a blank canvas
    }
  }, 300_000); // 441 forward passes: ≈25 s on an idle 2-core machine, far more when CI runs other suites beside it

  it('runs darknet_tiny (logits, its own label order) through --labels, with --json and --quiet', async () => {
    const out = join(dir, 'darknet');
    const run = await runCli([
      image('chelsea.png'), '--model', join(DARKNET, 'model.json'), '--labels', join(DARKNET, 'labels_darknet_order.json'),
      '--preset', 'unit', '--top', '3', ...COARSE, '--out', out, '--json', '--quiet',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const doc = JSON.parse(run.stdout); // exactly one JSON document
    expect(doc.model).toMatchObject({ outputKind: 'logits', preset: 'unit', classes: 1000, format: 'layers-model' });
    expect(doc.predictions).toHaveLength(3);
    // Darknet order: 7 = Egyptian cat, 173 = tabby, 54 = tiger cat.
    expect([7, 173, 54]).toContain(doc.predictions[0].index);
    expect(doc.predictions[0].label).toMatch(/cat|tabby/);
    expect(doc.backend).toBe('wasm'); // tfjs-node is not installed here: auto falls back to wasm
    expect(doc.files).toEqual([join(out, 'figure-1.png'), join(out, 'attribution.npy'), join(out, 'explanation.json')]);
    expect(JSON.parse(readFileSync(join(out, 'explanation.json'), 'utf8')).target).toEqual(doc.target);
  });

  it('runs gradient methods (grad_cam, integrated_gradients) on wasm', async () => {
    const run = await runCli([image('chelsea.png'), '--model', MOBILENET, '--method', 'grad_cam', '--out', join(dir, 'gradcam'), '--json', '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(doc.backend).toBe('wasm');
    expect(doc.method).toMatchObject({ name: 'grad_cam', parameters: { layer: 'conv_pw_13_relu', mapShape: [1, 7, 7, 1] } });
    expect([285, 281]).toContain(doc.target.index);
    const ig = await runCli([image('chelsea.png'), '--model', MOBILENET, '--method', 'integrated_gradients', '--steps', '8', '--out', join(dir, 'ig'), '--json', '--quiet']);
    expect(ig.code, ig.stderr).toBe(0);
    const igDoc = JSON.parse(ig.stdout);
    expect(igDoc.backend).toBe('wasm');
    expect(igDoc.method).toMatchObject({ name: 'integrated_gradients', parameters: { nSteps: 8, method: 'gausslegendre' } });
  });

  it('adds deletion and insertion scores with --metrics: printed, in explanation.json, curves in metrics.png', async () => {
    const out = join(dir, 'metrics');
    const run = await runCli([image('chelsea.png'), '--model', MOBILENET, '--method', 'grad_cam', '--metrics', 'deletion,insertion', '--metric-steps', '16', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(join(out, 'explanation.json'), 'utf8'));
    for (const name of ['deletion', 'insertion']) {
      const [auc] = doc.metrics[name].values;
      expect(auc).toBeGreaterThan(0);
      expect(auc).toBeLessThan(1);
      const [curve] = doc.metrics[name].curves;
      expect(curve.x).toHaveLength(17);
      expect(curve.auc).toBe(auc);
      expect(run.stdout).toContain(`${name}: ${auc.toPrecision(4)} (AUC)`);
    }
    // The Grad-CAM map ranks the cat first: deleting it loses the class sooner than inserting it recovers it.
    expect(doc.metrics.deletion.values[0]).toBeLessThan(doc.metrics.insertion.values[0]);
    const meta = await sharp(join(out, 'metrics.png')).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 720, 280]);
    expect(run.stdout).toContain(join(out, 'metrics.png'));
    expectRefusal(await runCli([image('chelsea.png'), '--model', MOBILENET, '--metrics', 'deletion,faithfulness']), /--metrics/);
  });

  describe('refuses bad input with exit 2 and a one-line reason', () => {
    let truncated: string;
    let text: string;
    let noShard: string;
    beforeAll(async () => {
      truncated = join(dir, 'cut.jpg');
      const jpeg = readFileSync(image('grace_hopper.jpg'));
      writeFileSync(truncated, jpeg.subarray(0, jpeg.length >> 1));
      text = join(dir, 'readme.txt');
      writeFileSync(text, 'this is not a photo\n');
      noShard = await saveTinyModel(join(dir, 'no-shard'));
      rmSync(join(dir, 'no-shard', 'weights.bin'));
    });

    const cases: [string, () => string[], RegExp][] = [
      ['a missing image', () => [join(dir, 'nope.jpg'), '--model', MOBILENET], /nope\.jpg does not exist/],
      ['a truncated JPEG', () => [truncated, '--model', MOBILENET], /cut\.jpg is not a readable image/],
      ['a text file', () => [text, '--model', MOBILENET], /readme\.txt is not a readable image/],
      ['a missing model.json', () => [image('chelsea.png'), '--model', join(dir, 'no-model', 'model.json')], /model file .*no-model\/model\.json does not exist/],
      ['a missing shard', () => [image('chelsea.png'), '--model', noShard], /weight shard .*no-shard\/weights\.bin does not exist/],
      ['a window larger than the image', () => [image('chelsea.png'), '--model', MOBILENET, '--window', '300'], /window|larger|exceeds/i],
      ['an unknown --vis method', () => [image('chelsea.png'), '--vis', 'rainbow_map:all'], /Unknown visualisation method "rainbow_map"/],
      ['masked_image with sign all', () => [image('chelsea.png'), '--vis', 'masked_image:all'], /masked_image cannot show positive and negative/],
      ['an unknown flag', () => [image('chelsea.png'), '--colour'], /Unknown option '--colour'/],
      ['a bad number', () => [image('chelsea.png'), '--top', '0'], /--top must be an integer ≥ 1/],
      ['an unknown backend', () => [image('chelsea.png'), '--backend', 'gpu'], /--backend must be one of auto, tensorflow, wasm, cpu/],
      ['no image at all', () => [], /missing <image>/],
      ['a negative stride as its own argument', () => [image('chelsea.png'), '--stride', '-1'], /--stride must be an integer ≥ 1; got "-1"/],
      ['a negative stride after =', () => [image('chelsea.png'), '--stride=-1'], /--stride must be an integer ≥ 1; got "-1"/],
      ['a negative window', () => [image('chelsea.png'), '--window', '-45'], /--window must be an integer ≥ 1; got "-45"/],
      ['--out under a file', () => [image('chelsea.png'), '--model', MOBILENET, '--out', join(text, 'out')], /output folder .*readme\.txt\/out lies under a file/],
      ['--out naming a file', () => [image('chelsea.png'), '--model', MOBILENET, '--out', text], /output folder .*readme\.txt is a file, not a folder/],
    ];
    it.each(cases)('%s', async (_name, args, reason) => {
      expectRefusal(await runCli(args()), reason);
    });

    it('tensorflow requested without tfjs-node, saying how to install it', async () => {
      expectRefusal(await runCli([image('chelsea.png'), '--model', MOBILENET, '--backend', 'tensorflow']), /npm install @tensorflow\/tfjs-node/);
    });
  });

  describe('hostile servers and model files: exit 2, one printable line', () => {
    let tiny: { json: any; weights: Uint8Array };
    beforeAll(async () => {
      const path = await saveTinyModel(join(dir, 'hostile-tiny'));
      tiny = { json: JSON.parse(readFileSync(path, 'utf8')), weights: readFileSync(join(dir, 'hostile-tiny', 'weights.bin')) };
    });

    it('a model.json whose shard path leaves the cache writes nothing and exits 2', async () => {
      const victim = join(dir, 'victim.sh');
      writeFileSync(victim, 'original');
      const json = { ...tiny.json, weightsManifest: [{ ...tiny.json.weightsManifest[0], paths: [`${'../'.repeat(12)}${victim.slice(1)}`] }] };
      const server = await hostileServer({ '/model.json': JSON.stringify(json), '/weights.bin': tiny.weights });
      const xdg = join(dir, 'hostile-xdg');
      try {
        const run = await runCli([image('chelsea.png'), '--quiet'], { env: { XDG_CACHE_HOME: xdg, EASY_EXPLAIN_MODEL_URL: `${server.url}model.json`, EASY_EXPLAIN_MODEL: undefined } });
        expectRefusal(run, /weight shard path .*victim\.sh.* leaves the model folder/);
        expect(readFileSync(victim, 'utf8')).toBe('original');
        expect(server.requests).toEqual(['/model.json']);
        expect(existsSync(join(xdg, 'easy-explain', 'models')) ? readdirSync(join(xdg, 'easy-explain', 'models')) : []).toEqual([]);
      } finally {
        await server.close();
      }
    });

    it('a group without paths, a null group and a weight without shape are refused', async () => {
      const weights = tiny.json.weightsManifest[0].weights;
      for (const group of [{ weights }, null, { paths: ['weights.bin'], weights: [{ name: 'w', dtype: 'float32' }] }]) {
        const server = await hostileServer({ '/model.json': JSON.stringify({ ...tiny.json, weightsManifest: [group] }), '/weights.bin': tiny.weights });
        try {
          expectRefusal(await runCli([image('chelsea.png'), '--model', `${server.url}model.json`]), /weightsManifest\[0\]/);
        } finally {
          await server.close();
        }
      }
    });

    it('a layer class name with ANSI escapes reaches the terminal without them', async () => {
      const json = structuredClone(tiny.json);
      json.modelTopology.config.layers[1].class_name = '\u001b]0;pwned\u0007\r\u001b[2KWrote 2 files';
      const server = await hostileServer({ '/model.json': JSON.stringify(json), '/weights.bin': tiny.weights });
      try {
        const run = await runCli([image('chelsea.png'), '--model', `${server.url}model.json`]);
        expectRefusal(run, /\?\]0;pwned\?\?\?\[2KWrote 2 files/);
        expect(run.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/); // only the final newline
      } finally {
        await server.close();
      }
    });

    it('a server that sends headers and then nothing ends at the download timeout, not never', async () => {
      const server = await hostileServer({ '/model.json': stalled(), '/photo.png': endless() });
      try {
        const run = await runCli([image('chelsea.png'), '--model', `${server.url}model.json`], { env: { EASY_EXPLAIN_DOWNLOAD_TIMEOUT_MS: '500' }, timeoutMs: 60_000 });
        expectRefusal(run, /no complete answer within 0\.5 s/);
        const photo = await runCli([`${server.url}photo.png`, '--model', MOBILENET], { env: { EASY_EXPLAIN_MAX_IMAGE_BYTES: String(1 << 20) }, timeoutMs: 60_000 });
        expectRefusal(photo, /has at least \d+ bytes, more than 1048576 \(the image size cap; raise it with maxBytes or EASY_EXPLAIN_MAX_IMAGE_BYTES\)/);
      } finally {
        await server.close();
      }
    });

    it('a graph with an unknown op, or with a fixed batch fed by a batching method, exits 2', async () => {
      const variant = (name: string, edit: (json: any) => void) => {
        const folder = join(dir, name);
        mkdirSync(folder, { recursive: true });
        copyFileSync(join(EMOTION, '..', 'emotion.bin'), join(folder, 'emotion.bin'));
        const json = JSON.parse(readFileSync(EMOTION, 'utf8'));
        edit(json);
        writeFileSync(join(folder, 'model.json'), JSON.stringify(json));
        return join(folder, 'model.json');
      };
      const unknownOp = variant('cli-unknown-op', (json) => (json.modelTopology.node.find((n: any) => n.op === 'Relu').op = 'FancyOp'));
      expectRefusal(await runCli([image('chelsea.png'), '--model', unknownOp]), /cannot run in TF\.js: Unknown op 'FancyOp'/);
      const fixed = variant('cli-fixed', (json) => (json.modelTopology.node.find((n: any) => n.op === 'Placeholder').attr.shape.shape.dim[0].size = '1'));
      const args = [image('chelsea.png'), '--model', fixed, '--method', 'integrated_gradients', '--steps', '4', '--workers', '1', '--quiet'];
      expectRefusal(await runCli(args), /takes a fixed batch of 1 image\(s\), but this method evaluates 4 at once; re-export/);
    });

    it('--workers 1000 runs on the cores available, saying so once', async () => {
      const run = await runCli([image('chelsea.png'), '--model', MOBILENET, ...COARSE, '--workers', '1000', '--out', join(dir, 'many-workers'), '--json']);
      expect(run.code, run.stderr).toBe(0);
      const cores = availableParallelism();
      expect(run.stderr.match(/workers lowered/g)).toHaveLength(1);
      expect(run.stderr).toContain(`warning: workers lowered from 1000 to ${cores}`);
      expect(JSON.parse(run.stdout).method.parameters.workers).toBe(Math.min(cores, 16)); // 16 windows: at most one worker each
    });
  });

  it('--help documents every flag with its default; --version prints the version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--model', '--labels', '--preset', '--output-kind', '--top', '--target', '--method', '--window', '--stride', '--baseline', '--vis', '--out', '--backend', '--json', '--quiet', '--help', '--version']) {
      expect(help.stdout).toContain(flag);
    }
    for (const def of ['(default: 5)', '(default: 45)', '(default: 9)', '(default: 0)', '(default: occlusion)', 'blended_heat_map:all,original_image:all', '(default: ./easy-explain-out)', '(default: auto']) {
      expect(help.stdout).toContain(def);
    }
    const version = await runCli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('works as `npx easy-explain` from the repository root', async () => {
    const run = await runCli(['--no-install', 'easy-explain', '--help'], { command: ['npx'], cwd: REPO });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Usage: easy-explain <image>');
  });

  it('downloads the default model once into $XDG_CACHE_HOME, then runs from the cache', async () => {
    const served = join(dir, 'served');
    const server = await serveFolder(join(MOBILENET, '..'));
    const env = { XDG_CACHE_HOME: join(dir, 'xdg'), EASY_EXPLAIN_MODEL_URL: `${server.url}model.json`, EASY_EXPLAIN_MODEL: undefined };
    try {
      const first = await runCli([image('coffee.png'), ...COARSE, '--out', served, '--json'], { env });
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toContain('Downloading the default model');
      const doc = JSON.parse(first.stdout);
      expect(doc.predictions[0]).toMatchObject({ index: 967, label: 'espresso' }); // labels shipped with the package
      expect(doc.model.source.startsWith(join(dir, 'xdg', 'easy-explain', 'models'))).toBe(true);
      const requests = server.requests.get('/model.json');
      const second = await runCli([image('coffee.png'), ...COARSE, '--out', served, '--json'], { env });
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).not.toContain('Downloading');
      expect(server.requests.get('/model.json')).toBe(requests);
    } finally {
      await server.close();
    }
  });

  it('with no network and no cache, says how to pass a local model', async () => {
    const env = { XDG_CACHE_HOME: join(dir, 'empty-xdg'), EASY_EXPLAIN_MODEL_URL: `http://127.0.0.1:${await closedPort()}/model.json`, EASY_EXPLAIN_MODEL: undefined };
    const run = await runCli([image('chelsea.png'), '--quiet'], { env });
    expectRefusal(run, /Cannot download the default model .*pass a local TF\.js model: `easy-explain photo\.jpg --model path\/to\/model\.json`/);
  });

  it('uses EASY_EXPLAIN_MODEL when --model is not given', async () => {
    const run = await runCli([image('chelsea.png'), ...COARSE, '--out', join(dir, 'env'), '--json', '--quiet'], { env: { EASY_EXPLAIN_MODEL: MOBILENET } });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).model.source).toBe(MOBILENET);
  });

  it('stops cleanly on Ctrl-C (SIGINT): exit 130, no stack trace, no figures', async () => {
    const out = join(dir, 'interrupted');
    let sent = false;
    const run = await runCli([image('chelsea.png'), '--model', MOBILENET, '--out', out], {
      onStderr: (_chunk, child) => {
        if (!sent && /attribution \d+%/.test(_chunk)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    expect(run.code, run.stderr).toBe(130);
    expect(run.stderr).toContain('easy-explain: interrupted');
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr).not.toContain('attribution 100%');
    expect(existsSync(join(out, 'figure-1.png'))).toBe(false);
  });
});

describe('easy-explain --cam-explain', () => {
  it("draws easy-explain's CAMExplain figures: SmoothGradCAM++, the localisation mask, the fused layers", async () => {
    const out = join(dir, 'cam');
    const run = await runCli([image('chelsea.png'), '--model', MOBILENET, '--cam-explain', '--cam-layers', 'conv_pw_11_relu,conv_pw_13_relu', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(join(out, 'cam-explanation.json'), 'utf8'));
    expect([285, 281]).toContain(doc.target.index);
    expect(doc.target.index).toBe(doc.predictions[0].index);
    expect(doc.smoothGradCamPP).toEqual({ layer: 'conv_pw_13_relu', shape: [7, 7] });
    expect(doc.localisationMask).toEqual({ layer: 'conv_pw_13_relu', threshold: 0.5, shape: [224, 224] });
    expect(doc.fused).toEqual({ layers: ['conv_pw_11_relu', 'conv_pw_13_relu'], shape: [14, 14] });
    expect(doc.figures.map((f: { titles: string[] }) => f.titles.length)).toEqual([2, 2, 4]);
    for (const figure of doc.figures) {
      const meta = await sharp(join(out, figure.file)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', figure.width, figure.height]);
    }
    expect(run.stdout).toMatch(/CAMExplain of class \d+ .* at conv_pw_13_relu; wrote 4 files/);
  });

  it('refuses an unknown layer and a bad threshold in one line', async () => {
    expectRefusal(await runCli([image('chelsea.png'), '--model', MOBILENET, '--cam-explain', '--cam-layers', 'nope', '--out', join(dir, 'cam-bad')]), /nope/);
    expectRefusal(await runCli([image('chelsea.png'), '--model', MOBILENET, '--cam-explain', '--threshold', 'half']), /--threshold must be a number/);
  });
});
