// `easy-explain photos/ more/*.jpg urls.txt --out report/`: the CLI over explainBatch. One progress bar over the set,
// a folder per image, --resume after a crash or Ctrl-C, failures reported and skipped, a summary line, the HTML
// report. `easy-explain queue …` is dispatched from here to the Redis job queue (loaded only then).
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from './backend.js';
import { explainBatch, IMAGES_DIR, removeAbandonedPartials, type BatchItem } from './batch.js';
import { EXPLAIN_FLAGS, explainSettings, formatDuration, joinNegativeNumbers, oneLine, UsageError, type ExplainFlagValues, reportFailure } from './cli-args.js';
import { loadLabels } from './labels.js';
import { resolveModel } from './model.js';
import { BATCH_OUT_DIR, expandInputs, isImageList } from './inputs.js';
import { FAILURES_FILE, writeReport, type ReportFailure } from './report.js';
import type { CliIO } from './cli-args.js';


export const BATCH_HELP = `Usage: easy-explain <image|folder|list.txt>... [--out <dir>] [--resume] [options]

Explains every image with one loaded model and writes, under <dir> (default ./${BATCH_OUT_DIR}):
  images/<name>-<hash>/<method>-<class>/  figure-N.png, attribution.npy (float32 NHWC), explanation.json
  images/<name>-<hash>/image.json          the image's predictions and runs (written last)
  index.html                               the report: grid, filter by class, sort by confidence
  failures.json                            images that could not be explained, and why

Inputs: image paths or http(s) URLs; folders (their images, recursively); .txt files with one path or
URL per line (relative paths from the file's folder; blank lines and # comments skipped).

Batch options (with every option of the one-image CLI, see --help):
  --out <dir>             output folder; refused if it already holds images unless --resume
  --resume                skip images already done (same pixels, by content hash) and go on
  --each-top <k>          explain each of the top k classes of every image (default: the top one)
  --method <a,b>          several methods, comma-separated: shown side by side in the report
  --json                  print a JSON summary on stdout
  --quiet                 print nothing but errors

Exit status: 0 every image explained, 3 some images failed (the others are done), 2 bad usage,
1 internal error, 130 interrupted (run again with --resume).
`;

const BATCH_FLAGS = {
  ...EXPLAIN_FLAGS,
  out: { type: 'string' },
  resume: { type: 'boolean' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'help-batch': { type: 'boolean' },
} as const;

const isUrl = (text: string) => /^https?:\/\//i.test(text);

/** Whether argv asks for a batch (several inputs, a folder, a list file, batch flags) or the queue. */
export async function isBatchInvocation(argv: string[]): Promise<boolean> {
  if (argv[0] === 'queue') return true;
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: BATCH_FLAGS, allowPositionals: true, strict: false });
  } catch {
    return false;
  }
  const { values, positionals } = parsed;
  if (values.resume || values['help-batch'] || values['each-top'] !== undefined) return true;
  if (positionals.length > 1) return true;
  if (positionals.length === 0 || isUrl(positionals[0])) return false;
  if (await isImageList(positionals[0])) return true;
  return stat(positionals[0]).then((s) => s.isDirectory(), () => false);
}

/** One bar over the set: images done of all, ETA, the current image. Plain lines (one per image) off a TTY. */
function batchProgress(stderr: CliIO['stderr'], total: number, quiet: boolean) {
  const start = performance.now();
  let done = 0;
  let computed = 0;
  let current = '';
  let within = 0;
  let drawn = false;
  let lastDraw = 0;
  const short = (name: string) => name.split(/[\\/]/).pop() ?? name;
  const eta = () => (computed + within === 0 ? NaN : ((performance.now() - start) / 1000 / (computed + within)) * (total - done - within));
  const draw = (force = false) => {
    if (quiet || !stderr.isTTY) return;
    const t = performance.now();
    if (!force && t - lastDraw < 100) return;
    lastDraw = t;
    const width = Math.max(10, Math.min(30, (stderr.columns ?? 80) - 60));
    const full = Math.round(((done + within) / total) * width);
    stderr.write(`\r\x1b[K${'█'.repeat(full)}${'░'.repeat(width - full)} ${done}/${total} images ETA ${formatDuration(eta())} ${short(current)}`);
    drawn = true;
  };
  const clear = () => {
    if (drawn) stderr.write('\r\x1b[K');
    drawn = false;
  };
  return {
    image(name: string) {
      current = name;
      within = 0;
      draw(true);
    },
    /** Progress inside the current image's attribution. */
    partial(fraction: number) {
      within = Math.min(0.99, fraction);
      draw();
    },
    done(item: BatchItem) {
      done++;
      within = 0;
      if (item.ok && !item.skipped) computed++;
      if (quiet) return;
      clear();
      if (!item.ok) stderr.write(`[${done}/${total}] failed: ${item.name}: ${oneLine(item.error.message)}\n`);
      else if (!stderr.isTTY) {
        const top = item.predictions[0];
        stderr.write(`[${done}/${total}] ${short(item.name)}: ${item.skipped ? 'done before, skipped' : `${top.label} (${top.percentage.toFixed(1)}%)`}\n`);
      }
      draw(true);
    },
    finish: clear,
    seconds: () => (performance.now() - start) / 1000,
  };
}

/** Runs `easy-explain <inputs>… --out dir` (or `queue …`) and returns the exit status. Never throws. */
export async function runBatchCli(argv: string[], io: CliIO): Promise<number> {
  const { stdout, stderr } = io;
  if (argv[0] === 'queue') {
    const { runQueueCli } = await import('./queue/cli.js');
    return runQueueCli(argv.slice(1), io);
  }
  let quiet = false;
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: joinNegativeNumbers(argv), options: BATCH_FLAGS, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError(`${(error as Error).message.split('\n')[0]} (see easy-explain --help-batch)`);
    }
    const { values: o, positionals } = parsed;
    if (o.help || o['help-batch']) {
      stdout.write(BATCH_HELP);
      return 0;
    }
    quiet = o.quiet ?? false;
    const settings = explainSettings(o as ExplainFlagValues);
    const outDir = resolve(o.out ?? BATCH_OUT_DIR);
    const inputs = await expandInputs(positionals);
    if (inputs.length === 0) throw new UsageError(`No images found in ${positionals.join(' ')} (JPEG, PNG, WebP, GIF, TIFF or AVIF files).`);
    const existing = await readdir(join(outDir, IMAGES_DIR)).catch(() => [] as string[]);
    if (!o.resume && existing.some((e) => !e.startsWith('.'))) {
      throw new UsageError(`${outDir} already holds explained images; add --resume to continue that run, or choose another --out.`);
    }

    // A run killed outright (no Ctrl-C) leaves its image in progress as a partial folder: gone before resuming.
    if (o.resume) await removeAbandonedPartials(outDir);
    const backend = await setupBackend(settings.backend);
    tf.env().set('PROD', true);
    const labels = settings.labels === undefined ? undefined : await loadLabels(settings.labels);
    const model = await resolveModel(settings.model, {
      outputKind: settings.outputKind,
      preset: settings.options.preset,
      signal: io.signal,
      onDownload: (url, into) => !quiet && stderr.write(`Downloading the default model from ${url}\n  into ${into} (once)\n`),
    });
    if (!quiet && !o.json) stdout.write(`Explaining ${inputs.length} images with ${model.source} (backend: ${backend}) into ${outDir}\n`);

    const progress = batchProgress(stderr, inputs.length, quiet);
    const failures: ReportFailure[] = [];
    let explained = 0;
    let skipped = 0;
    let interrupted = false;
    try {
      const items = explainBatch(model, inputs, {
        ...settings.options,
        labels,
        outDir,
        resume: o.resume ?? false,
        signal: io.signal,
        onImage: (_index, name) => progress.image(name),
        onProgress: (done, total) => progress.partial(done / total),
        onWarning: (message) => !quiet && stderr.write(`\r\x1b[Kwarning: ${message}\n`),
      });
      for await (const item of items) {
        if (!item.ok) failures.push({ source: item.name, code: String(item.error.code), message: item.error.message });
        else if (item.skipped) skipped++;
        else explained++;
        progress.done(item);
      }
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'aborted') throw error;
      interrupted = true;
    } finally {
      progress.finish();
      model.dispose();
    }

    await writeFile(join(outDir, FAILURES_FILE), JSON.stringify(failures, null, 2) + '\n');
    const report = await writeReport(outDir);
    const seconds = progress.seconds();
    const summary = {
      images: inputs.length,
      explained,
      skipped,
      failed: failures.length,
      interrupted,
      seconds: Math.round(seconds * 10) / 10,
      report: report.path,
    };
    if (o.json) stdout.write(JSON.stringify({ ...summary, failures }, null, 2) + '\n');
    else if (!quiet) {
      const rate = explained > 0 ? `, ${(explained / seconds).toFixed(2)} images/s` : '';
      stdout.write(
        `${inputs.length} images: ${explained} explained, ${skipped} skipped (done before), ${failures.length} failed${interrupted ? ', interrupted' : ''} in ${formatDuration(seconds)}${rate}; report: ${report.path}\n`,
      );
    }
    if (interrupted) {
      stderr.write(`easy-explain: interrupted; run the same command with --resume to finish\n`);
      return 130;
    }
    return failures.length > 0 ? 3 : 0;
  } catch (error) {
    return reportFailure(error, stderr);
  }
}
