// The explain flags of the batch and queue commands (the same as the one-image CLI's), checked and mapped onto
// explainBatch's options. Kept apart from run-cli.ts so the batch commands add no code to the one-image path.
import { resolve } from 'node:path';
import { METHOD_NAMES, METRIC_NAMES, type MethodName, type MetricName } from '@easy-explain/core/internal';
import { parseVisRow, printable } from '@easy-explain/runtime';
import type { VisMethod, VisSign } from '@easy-explain/viz';
import type { BatchMethod, BatchOptions, TargetRule } from './batch.js';
import { BACKEND_NAMES, type BackendName } from './backend.js';
import { methodOptionsFromFlags } from './cli-methods.js';
import { checkPreset } from './preset.js';

/** What the CLI writes to and listens to. */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  signal?: AbortSignal;
}

/** A refusal of bad input or usage: exit 2 with its message. */
export class UsageError extends Error {}

/** Options that take a number (parseArgs reads a value starting with '-' as a flag). */
const NUMBER_OPTIONS = ['top', 'target', 'each-top', 'window', 'stride', 'baseline', 'workers', 'steps', 'samples', 'metric-steps'];

/**
 * `--stride -1` as `--stride=-1`, so a negative number reaches the option's own check ("must be an integer ≥ 1")
 * instead of parseArgs' "argument is ambiguous".
 */
export function joinNegativeNumbers(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = argv[i + 1];
    if (flag === '--') return [...out, ...argv.slice(i)];
    if (flag.startsWith('--') && NUMBER_OPTIONS.includes(flag.slice(2)) && next !== undefined && /^-(\d|\.\d|Infinity|NaN)/.test(next)) {
      out.push(`${flag}=${next}`);
      i++;
    } else {
      out.push(flag);
    }
  }
  return out;
}

/** The explanation flags, as parseArgs takes them (the one-image CLI's, plus --each-top). */
export const EXPLAIN_FLAGS = {
  model: { type: 'string' },
  labels: { type: 'string' },
  preset: { type: 'string' },
  'output-kind': { type: 'string' },
  top: { type: 'string' },
  target: { type: 'string' },
  'each-top': { type: 'string' },
  method: { type: 'string' },
  window: { type: 'string' },
  stride: { type: 'string' },
  baseline: { type: 'string' },
  workers: { type: 'string' },
  steps: { type: 'string' },
  samples: { type: 'string' },
  layer: { type: 'string' },
  metrics: { type: 'string' },
  'metric-steps': { type: 'string' },
  'cam-explain': { type: 'boolean' },
  'cam-layers': { type: 'string' },
  threshold: { type: 'string' },
  vis: { type: 'string', multiple: true },
  backend: { type: 'string' },
  engine: { type: 'string' },
} as const;

export type ExplainFlagValues = {
  -readonly [K in keyof typeof EXPLAIN_FLAGS]?: (typeof EXPLAIN_FLAGS)[K] extends { multiple: true } ? string[] : (typeof EXPLAIN_FLAGS)[K] extends { type: 'boolean' } ? boolean : string;
};

export function integer(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[+-]?\d+$/.test(value.trim()) || Number(value) < min) throw new UsageError(`${flag} must be an integer ≥ ${min}; got "${value}".`);
  return Number(value);
}

export function number(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} must be a number; got "${value}".`);
  return n;
}

export function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}; got "${value}".`);
  return value as T;
}

/**
 * Seconds left of a stage (NaN while unknown), at its rate since its first progress report. What comes before that
 * report is paid once (a cold start's worker threads and onnxruntime sessions, a coarse pass): spread over every
 * later window, as an estimate from the stage's start did, it made a 9 s ResNet-18 run print "ETA 2m11s" at 2 %.
 */
export function remainingTime(now: () => number = () => performance.now()): (done: number, total: number) => number {
  let first: { at: number; done: number } | undefined;
  return (done, total) => {
    const at = now();
    first ??= { at, done };
    if (done >= total) return 0;
    if (done <= first.done) return NaN;
    return ((at - first.at) / 1000 / (done - first.done)) * (total - done);
  };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** One line, with control characters (of a remote model's or server's text) replaced. */
export function oneLine(text: string): string {
  return printable(text.replace(/\s*\n\s*/g, ' ').trim());
}

/** Each line of `text` made printable, keeping the line breaks and the progress bar's carriage returns. */
export function printableLines(text: string): string {
  return text
    .split(/(\r|\n)/)
    .map((part) => (part === '\r' || part === '\n' ? part : printable(part)))
    .join('');
}

/** JSON.stringify leaves DEL and C1 controls (e.g. U+009B, CSI) raw: escape them too, keeping the JSON valid. */
export function jsonSafeText(json: string): string {
  return json.replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** What the explanation flags ask for: where the model is, the backend, and explainBatch's options. */
export interface ExplainSettings {
  model?: string;
  labels?: string;
  backend: BackendName;
  outputKind?: 'logits' | 'probabilities';
  options: Omit<BatchOptions, 'labels'>;
}

/** Checks every explanation flag (before anything loads) and maps them onto explainBatch's options. */
export function explainSettings(o: ExplainFlagValues): ExplainSettings {
  if (o['cam-explain']) throw new UsageError('--cam-explain explains one image at a time; run it once per image.');
  const window = integer(o.window, '--window', 1);
  const stride = integer(o.stride, '--stride', 1);
  const baseline = number(o.baseline, '--baseline');
  const workers = o.workers === undefined || o.workers === 'auto' ? 'auto' : integer(o.workers, '--workers (or auto)', 1);
  const steps = integer(o.steps, '--steps', 1);
  const samples = integer(o.samples, '--samples', 1);
  const methodNames = (o.method ?? 'occlusion').split(',').map((m) => oneOf(m.trim(), '--method', METHOD_NAMES as readonly string[]) as MethodName);
  const methods: BatchMethod[] = [...new Set(methodNames)].map((method) => ({
    method,
    methodOptions: methodOptionsFromFlags(method, { window, stride, baseline, workers, steps, samples, layer: o.layer }),
  }));
  const target = integer(o.target, '--target', 0);
  const eachTop = integer(o['each-top'], '--each-top', 1);
  if (target !== undefined && eachTop !== undefined) throw new UsageError('--target and --each-top exclude each other: explain one class for all images, or each of the top k.');
  const targets: TargetRule = target ?? (eachTop === undefined ? 'top1' : { topK: eachTop });
  const metrics = o.metrics === undefined ? undefined : (o.metrics.split(',').map((m) => oneOf(m.trim(), '--metrics', METRIC_NAMES)!) as MetricName[]);
  const metricSteps = integer(o['metric-steps'], '--metric-steps', 1);
  const rows = (o.vis ?? []).map(parseVisRow);
  const visTypes: VisMethod[][] | undefined = rows.length ? rows.map((r) => r.methods) : undefined;
  const visSigns: VisSign[][] | undefined = rows.length ? rows.map((r) => r.signs) : undefined;
  return {
    model: o.model,
    labels: o.labels === undefined ? undefined : resolve(o.labels),
    backend: oneOf(o.backend, '--backend', BACKEND_NAMES) ?? 'auto',
    outputKind: oneOf(o['output-kind'], '--output-kind', ['logits', 'probabilities'] as const),
    options: {
      totalPreds: integer(o.top, '--top', 1) ?? 5,
      targets,
      methods,
      preset: o.preset === undefined ? undefined : checkPreset(o.preset),
      visTypes,
      visSigns,
      metrics,
      metricOptions: metricSteps === undefined ? undefined : { steps: metricSteps },
    },
  };
}

/**
 * The exit status of a failed command, with its one line on stderr: 130 for an abort (Ctrl-C), 2 for bad input or
 * usage (ExplainError, UsageError), 1 for an internal error (with the stack under EASY_EXPLAIN_DEBUG).
 */
export function reportFailure(error: unknown, stderr: CliIO['stderr']): number {
  const code = (error as { code?: unknown }).code;
  const isExplain = error instanceof Error && error.name === 'ExplainError' && typeof code === 'string';
  if (isExplain && code === 'aborted') {
    stderr.write('easy-explain: interrupted\n');
    return 130;
  }
  if (error instanceof UsageError || isExplain) {
    stderr.write(`easy-explain: ${oneLine((error as Error).message)}\n`);
    return 2;
  }
  const detail = process.env.EASY_EXPLAIN_DEBUG ? `\n${(error as Error)?.stack ?? ''}` : ' (set EASY_EXPLAIN_DEBUG=1 for the stack trace)';
  stderr.write(`easy-explain: internal error: ${oneLine(error instanceof Error ? error.message : String(error))}${printableLines(detail)}\n`);
  return 1;
}
