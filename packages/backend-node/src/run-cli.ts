import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { METHOD_NAMES, METRIC_NAMES, type MethodName, type Prediction } from '@easy-explain/core/internal';
import type { VisMethod, VisSign } from '@easy-explain/viz';
import { BACKEND_NAMES, setupBackend } from './backend.js';
import { runCamExplain, runEasyExplain } from './explain.js';
import { decodeImage } from './image.js';
import { loadLabels } from './labels.js';
import { DEFAULT_MODEL_URL, resolveModel } from './model.js';
import { checkPreset, PRESET_NAMES } from './preset.js';
import { parseVisRow } from '@easy-explain/runtime';
import { methodOptionsFromFlags } from './cli-methods.js';
import { printable } from '@easy-explain/runtime';
import { isBatchInvocation, runBatchCli } from './batch-cli.js';
import {
  EXPLAIN_FLAGS,
  formatDuration,
  integer,
  joinNegativeNumbers,
  jsonSafeText,
  number,
  oneLine,
  remainingTime,
  oneOf,
  printableLines,
  UsageError,
  type CliIO,
  reportFailure,
} from './cli-args.js';
import { VERSION } from './version.js';

export const DEFAULT_OUT_DIR = 'easy-explain-out';

// The explain flags are the batch CLI's (cli-args.ts) less --each-top, plus what only one image needs.
const { 'each-top': _eachTop, ...SHARED_FLAGS } = EXPLAIN_FLAGS;
const ONE_IMAGE_FLAGS = {
  ...SHARED_FLAGS,
  out: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

export const HELP = `Usage: easy-explain <image> [options]
       easy-explain <image|folder|list.txt>... --out <dir> [--resume] [options]   (batch: see --help-batch)
       easy-explain queue add|work|report [options]                               (Redis job queue)

Explain an image classifier's prediction: prints the top-k classes, computes an attribution for the
target class (Occlusion with easy-explain's setting by default) and writes one figure per --vis row
plus explanation.json.

Arguments:
  <image>                 photo to explain: a path or an http(s) URL (JPEG, PNG, WebP, GIF, TIFF, AVIF)

Options:
  --model <path|url>      TF.js model.json (LayersModel or GraphModel) or an ONNX file exported from PyTorch
                          (.onnx; torch.onnx.export of a torchvision model: use --preset imagenet)
                          (default: $EASY_EXPLAIN_MODEL, else
                          MobileNet v1 0.75 224 downloaded once from ${DEFAULT_MODEL_URL}
                          into $XDG_CACHE_HOME/easy-explain or ~/.cache/easy-explain)
  --labels <path>         class names: imagenet_class_index.json style or a JSON array (default: the
                          model's own; ImageNet's 1000 names for a 1000-class model, else "class N")
  --preset <name>         pixel scaling: ${PRESET_NAMES.join('|')} (default: mobilenet for MobileNets
                          and the default model, imagenet otherwise, which torchvision models want);
                          shorter side resized to 256/224 of
                          the model input, then centre-cropped to it
  --output-kind <kind>    logits|probabilities: what the model outputs (default: detected)
  --top <k>               number of predictions to print (default: 5)
  --target <N>            class index to explain (default: the top prediction)
  --method <name>         attribution method: ${METHOD_NAMES.join('|')} (default: occlusion)
  --window <px>           occlusion window side (default: 45)
  --stride <px>           occlusion stride (default: 9)
  --workers <auto|N>      occlusion, score_cam, ablation_cam and deletion/insertion: worker threads,
                          each with its own copy of the model; the result is identical for any count (default: auto = the machine's cores, up to 4; 1 = none;
                          more than the cores available is lowered to them, with a warning)
  --baseline <value>      value an occluded window (occlusion) or the reference input (integrated_gradients)
                          takes, in model input units (default: 0)
  --steps <n>             integrated_gradients: integration steps (default: 50)
  --samples <n>           smoothgrad: noisy samples (default: 20)
  --layer <name>          grad_cam, guided_grad_cam: layer to explain (default: the last 4-D activation
                          before global pooling)
  --cam-explain           easy-explain's CAMExplain instead of one method: torchcam's SmoothGradCAM++ on the top
                          class (--layer, default the last spatial layer) with its overlay, the LayerCAM
                          localisation mask, and the fused LayerCAM of --cam-layers; writes cam-figure-N.png
                          and cam-explanation.json
  --cam-layers <list>     --cam-explain: layers to fuse, comma-separated (easy-explain's multiple_layers)
  --threshold <x>         --cam-explain: localisation mask threshold (default: 0.5)
  --metrics <list>        faithfulness metrics of the map, comma-separated: ${METRIC_NAMES.join(', ')};
                          deletion/insertion curves go to metrics.png, every value to explanation.json
  --metric-steps <n>      deletion/insertion: steps of the curve (default: the image height, as RISE)
  --vis <row>             one figure row of method:sign pairs, repeatable; methods: heat_map,
                          blended_heat_map, original_image, masked_image, alpha_scaling; signs:
                          positive, negative, absolute_value, all (default: one row,
                          blended_heat_map:all,original_image:all)
  --out <dir>             folder for figure-N.png and explanation.json (default: ./${DEFAULT_OUT_DIR})
  --engine <name>         auto|native|tfjs: what scores Occlusion's copies of an ONNX model (default: auto =
                          onnxruntime-node when installed, else its TF.js conversion with a warning; tfjs: always
                          the TF.js conversion)
  --backend <name>        ${BACKEND_NAMES.join('|')} (default: auto = tensorflow if @tensorflow/tfjs-node
                          is installed, else wasm, else cpu; gradient methods: tensorflow, else cpu,
                          as wasm lacks gradient kernels)
  --json                  print one JSON document on stdout instead of the table
  --quiet                 print nothing but errors (and the --json document)
  -h, --help              show this help
  -v, --version           show the version

Environment:
  EASY_EXPLAIN_MODEL      model used when --model is not given
  EASY_EXPLAIN_MODEL_URL  where the default model is downloaded from
  XDG_CACHE_HOME          cache root (default: ~/.cache)
  EASY_EXPLAIN_MAX_IMAGE_BYTES     largest image read or downloaded (default: 67108864 = 64 MiB)
  EASY_EXPLAIN_DOWNLOAD_TIMEOUT_MS time for one download, request to last byte (default: 120000)

Exit status: 0 success, 2 bad input or usage, 1 internal error, 3 some images of a batch failed, 130 interrupted.
`;

export type { CliIO };

/** A progress bar with ETA on a TTY, plain lines every 10 % elsewhere (logs, CI). */
function progressReporter(stderr: CliIO['stderr']) {
  let start = performance.now();
  let lastDraw = 0;
  let lastDecile = -1;
  let drawn = false;
  let stage = 'attribution';
  let eta = remainingTime();
  return {
    /** `label` names the stage (the attribution, then each metric); a new stage starts its own bar and ETA. */
    update(done: number, total: number, label = 'attribution') {
      if (label !== stage) {
        if (drawn) stderr.write('\n');
        drawn = false;
        stage = label;
        start = performance.now();
        eta = remainingTime();
        lastDecile = -1;
      }
      // Every report feeds the estimate, drawn or not.
      const left = eta(done, total);
      const fraction = total > 0 ? done / total : 1;
      if (stderr.isTTY) {
        const t = performance.now();
        if (done < total && t - lastDraw < 100) return;
        lastDraw = t;
        const width = Math.max(10, Math.min(40, (stderr.columns ?? 80) - 45));
        const full = Math.round(fraction * width);
        const bar = '█'.repeat(full) + '░'.repeat(width - full);
        stderr.write(`\r${stage} ${bar} ${String(Math.floor(fraction * 100)).padStart(3)}% ${done}/${total} ETA ${formatDuration(left)}  `);
        drawn = true;
      } else {
        const decile = Math.floor(fraction * 10);
        if (decile === lastDecile) return;
        lastDecile = decile;
        stderr.write(`${stage} ${Math.floor(fraction * 100)}% (${done}/${total}), ETA ${formatDuration(left)}\n`);
      }
    },
    /** Progressive occlusion: the coarse map is in, so the result's shape is known early. */
    coarse(done: number, total: number) {
      if (drawn) stderr.write('\n');
      drawn = false;
      stderr.write(`coarse map ready after ${formatDuration((performance.now() - start) / 1000)} (${done}/${total} windows); refining\n`);
    },
    finish() {
      if (drawn) stderr.write('\n');
      drawn = false;
    },
  };
}

function table(predictions: Prediction[], target: number): string {
  const rows = predictions.map((p, i) => [String(i + 1), String(p.index), p.label, `${p.percentage.toFixed(2)}%`, p.index === target ? '←' : '']);
  const head = ['#', 'class', 'label', 'probability', ''];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

/**
 * Runs the CLI on argv (without node and the script) and returns the exit status. Never throws:
 * bad input prints one line to stderr and returns 2.
 */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const { stdout, stderr } = io;
  // Several images, a folder, a list file, or `queue …`: the batch CLI (batch-cli.ts) takes over.
  if (await isBatchInvocation(argv)) return runBatchCli(argv, io);
  let quiet = false;
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: joinNegativeNumbers(argv),
        allowPositionals: true,
        strict: true,
        options: ONE_IMAGE_FLAGS,
      });
    } catch (error) {
      throw new UsageError(`${(error as Error).message.split('\n')[0]} (see easy-explain --help)`);
    }
    const { values: o, positionals } = parsed;
    if (o.help) {
      stdout.write(HELP);
      return 0;
    }
    if (o.version) {
      stdout.write(`${VERSION}\n`);
      return 0;
    }
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0 ? 'missing <image>; usage: easy-explain <image> [options] (see --help)' : `expected one image, got ${positionals.length}: ${positionals.join(' ')}`,
      );
    }
    quiet = o.quiet ?? false;
    const json = o.json ?? false;
    // Every line printed may hold text of outside origin (a model's layer names, a server's answer, file names):
    // control characters go before it reaches the terminal.
    const say = (text: string) => {
      if (!quiet && !json) stdout.write(printableLines(text));
    };
    const note = (text: string) => {
      if (!quiet) stderr.write(printableLines(text));
    };

    // Validate every flag before loading anything, so usage errors are instant.
    const image = positionals[0];
    const top = integer(o.top, '--top', 1) ?? 5;
    const target = integer(o.target, '--target', 0);
    const window = integer(o.window, '--window', 1);
    const stride = integer(o.stride, '--stride', 1);
    const baseline = number(o.baseline, '--baseline');
    const workers = o.workers === undefined || o.workers === 'auto' ? 'auto' : integer(o.workers, '--workers (or auto)', 1);
    const steps = integer(o.steps, '--steps', 1);
    const samples = integer(o.samples, '--samples', 1);
    const metrics = o.metrics === undefined ? undefined : o.metrics.split(',').map((m) => oneOf(m.trim(), '--metrics', METRIC_NAMES)!);
    const metricSteps = integer(o['metric-steps'], '--metric-steps', 1);
    const threshold = number(o.threshold, '--threshold');
    const engine = oneOf(o.engine, '--engine', ['auto', 'native', 'tfjs'] as const);
    const method = (oneOf(o.method, '--method', METHOD_NAMES as readonly string[]) ?? 'occlusion') as MethodName;
    const backendName = oneOf(o.backend, '--backend', BACKEND_NAMES) ?? 'auto';
    const outputKind = oneOf(o['output-kind'], '--output-kind', ['logits', 'probabilities'] as const);
    const preset = o.preset === undefined ? undefined : checkPreset(o.preset);
    const rows = (o.vis ?? []).map(parseVisRow);
    const visTypes: VisMethod[][] | undefined = rows.length ? rows.map((r) => r.methods) : undefined;
    const visSigns: VisSign[][] | undefined = rows.length ? rows.map((r) => r.signs) : undefined;
    // runEasyExplain makes the folder (and checks it can be written) before the attribution starts.
    const outDir = resolve(o.out ?? DEFAULT_OUT_DIR);

    // Decoding (sharp's thread pool) overlaps the backend start; the image is checked before any model loads,
    // so a missing or broken photo is reported before a model download.
    let t0 = performance.now();
    const decoding = decodeImage(image, { signal: io.signal }).then((rgb) => ({ rgb, ms: Math.round(performance.now() - t0) }));
    decoding.catch(() => {}); // awaited below; avoid an unhandled rejection while the backend starts
    const backend = await setupBackend(backendName).catch(async (error) => {
      await decoding; // a bad image is the first thing to report
      throw error;
    });
    // tfjs's "install the node backend" hint and debug checks are noise for CLI users.
    tf.env().set('PROD', true);
    const { rgb: pixels, ms: decodeMs } = await decoding;
    t0 = performance.now();
    const labels = o.labels === undefined ? undefined : await loadLabels(o.labels);
    const model = await resolveModel(o.model, {
      outputKind,
      preset,
      engine,
      onWarning: (message) => note(`warning: ${message}\n`),
      signal: io.signal,
      onDownload: (url, into) => note(`Downloading the default model from ${url}\n  into ${into} (once)\n`),
    });
    const loadMs = Math.round(performance.now() - t0);

    const progress = progressReporter(stderr);
    if (o['cam-explain']) {
      try {
        const result = await runCamExplain(model, {
          image: pixels,
          labels,
          target,
          preset,
          layer: o.layer,
          layers: o['cam-layers']?.split(',').map((l) => l.trim()).filter(Boolean),
          threshold,
          outDir,
          signal: io.signal,
          onProgress: quiet ? undefined : (done, total) => progress.update(done, total, 'SmoothGradCAM++'),
        });
        progress.finish();
        if (json) {
          stdout.write(jsonSafeText(JSON.stringify({ target: result.target, label: result.targetLabel, predictions: result.predictions, files: result.files }, null, 2)) + '\n');
        } else {
          say(`Top ${result.predictions.length} predictions for ${image} (model: ${model.source}, backend: ${backend}):\n`);
          say(table(result.predictions, result.target));
          say(`CAMExplain of class ${result.target} (${result.targetLabel}) at ${result.explanation.layer}; wrote ${result.files!.length} files to ${outDir}:\n`);
          for (const file of result.files!) say(`  ${file}\n`);
        }
      } finally {
        progress.finish();
        model.dispose();
      }
      return 0;
    }
    try {
      const result = await runEasyExplain(model, {
        image: pixels,
        imageName: /^https?:\/\//i.test(image) ? image : resolve(image),
        labels,
        totalPreds: top,
        target,
        method,
        metrics,
        metricOptions: { workers, ...(metricSteps !== undefined && { steps: metricSteps }) },
        onMetricProgress: quiet ? undefined : (name, done, total) => progress.update(done, total, name),
        methodOptions: methodOptionsFromFlags(method, { window, stride, baseline, workers, steps, samples, layer: o.layer }),
        preset,
        visTypes,
        visSigns,
        outDir,
        signal: io.signal,
        record: { timings: { readImageMs: decodeMs, setupAndModelLoadMs: loadMs } },
        onPredictions: (predictions, t) => {
          say(`Top ${predictions.length} predictions for ${image} (model: ${model.source}, backend: ${backend}):\n`);
          say(table(predictions, t));
          const s = method === 'occlusion' ? `: window ${window ?? 45}, stride ${stride ?? 9}, baseline ${baseline ?? 0}` : '';
          note(`Explaining class ${t} with ${method}${s}\n`);
        },
        onProgress: quiet ? undefined : (done, total) => progress.update(done, total),
        // Occlusion runs its coarse grid first; the CLI reports when that map is in.
        onPartial:
          quiet || method !== 'occlusion'
            ? undefined
            : (() => {
                let reported = false;
                return (_map: Float32Array, done: number, total: number) => {
                  if (!reported) progress.coarse(done, total);
                  reported = true;
                };
              })(),
        // The CLI reports the coarse map only: no preview after it is built.
        partialIntervalMs: Infinity,
        onWarning: (message) => note(`warning: ${message}\n`),
      });
      progress.finish();
      result.attribution.dispose();
      if (json) {
        stdout.write(jsonSafeText(JSON.stringify({ ...result.explanation, files: result.files }, null, 2)) + '\n');
      } else {
        for (const [name, metric] of Object.entries(result.explanation.metrics ?? {})) {
          say(`${name}: ${metric.values.map((v) => v.toPrecision(4)).join(', ')}${name === 'deletion' || name === 'insertion' ? ' (AUC)' : ''}\n`);
        }
        say(`Wrote ${result.files!.length} files to ${outDir}:\n`);
        for (const file of result.files!) say(`  ${file}\n`);
      }
    } finally {
      progress.finish();
      model.dispose();
    }
    return 0;
  } catch (error) {
    return reportFailure(error, stderr);
  }
}

