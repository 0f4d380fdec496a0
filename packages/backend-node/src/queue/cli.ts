// `easy-explain queue add|work|report|status`: the batch's per-image jobs on a Redis queue shared by many machines.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BATCH_OUT_DIR, expandInputs } from '../inputs.js';
import { EXPLAIN_FLAGS, integer, joinNegativeNumbers, number, oneLine, UsageError, type ExplainFlagValues, reportFailure } from '../cli-args.js';
import { removeAbandonedPartials } from '../batch.js';
import { FAILURES_FILE, writeReport } from '../report.js';
import type { CliIO } from '../cli-args.js';
import { DEFAULT_QUEUE, DEFAULT_REDIS_URL, enqueueImages, failedJobs, queueCounts, runQueueWorker } from './queue.js';

export const QUEUE_HELP = `Usage: easy-explain queue add <image|folder|list.txt>... --out <shared dir> [options]
       easy-explain queue work [--concurrency N] [--until-empty]
       easy-explain queue report --out <shared dir>
       easy-explain queue status

The per-image jobs of a batch on a BullMQ queue in Redis: add them once, run \`queue work\` on any number of
machines that see the same output folder (and the images and model at the same paths, or URLs), then build
the report. A job whose worker dies is retried once its lock expires; failures are retried with backoff, bad
images fail at once; an image already in the folder is never done again.

Options:
  --redis <url>           Redis server (default: $EASY_EXPLAIN_REDIS, else ${DEFAULT_REDIS_URL})
  --queue <name>          queue name (default: ${DEFAULT_QUEUE})
  add: --out <dir>        shared output folder (default: ./${BATCH_OUT_DIR}), and every explanation option
                          of the batch CLI (--model, --method, --window, --each-top, …; see --help-batch)
  add: --attempts <n>     attempts per image (default: 3)
  add: --backoff <s>      seconds before the first retry, doubled for each next one (default: 2)
  work: --concurrency <n> jobs at once in this process (default: 1)
  work: --lock-seconds <s> a dead worker's job returns after about this (default: 30)
  work: --until-empty     exit once no job is waiting, delayed or running
  report: --out <dir>     the shared folder to build index.html in (failed jobs go to failures.json)

Exit status: 0 done, 3 (work) some jobs failed, 2 bad usage or Redis unreachable, 130 interrupted.
`;

const QUEUE_FLAGS = {
  ...EXPLAIN_FLAGS,
  redis: { type: 'string' },
  queue: { type: 'string' },
  out: { type: 'string' },
  attempts: { type: 'string' },
  backoff: { type: 'string' },
  concurrency: { type: 'string' },
  'lock-seconds': { type: 'string' },
  'until-empty': { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const EXPLAIN_KEYS = Object.keys(EXPLAIN_FLAGS) as Array<keyof typeof EXPLAIN_FLAGS>;

/** Runs `easy-explain queue …` (argv after "queue"); returns the exit status. Never throws. */
export async function runQueueCli(argv: string[], io: CliIO): Promise<number> {
  const { stdout, stderr } = io;
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: joinNegativeNumbers(argv), options: QUEUE_FLAGS, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError(`${(error as Error).message.split('\n')[0]} (see easy-explain queue --help)`);
    }
    const { values: o, positionals } = parsed;
    const [command, ...inputs] = positionals;
    if (o.help || command === undefined) {
      stdout.write(QUEUE_HELP);
      return command === undefined && !o.help ? 2 : 0;
    }
    const quiet = o.quiet ?? false;
    const say = (text: string) => !quiet && stdout.write(text);
    const connection = { redis: o.redis ?? (process.env.EASY_EXPLAIN_REDIS || DEFAULT_REDIS_URL), queue: o.queue ?? DEFAULT_QUEUE };
    const outDir = resolve(o.out ?? BATCH_OUT_DIR);

    if (command === 'add') {
      const sources = await expandInputs(inputs);
      if (sources.length === 0) throw new UsageError('queue add needs images: paths, folders, list files or URLs.');
      const flags: ExplainFlagValues = {};
      for (const key of EXPLAIN_KEYS) if (o[key] !== undefined) (flags as Record<string, unknown>)[key] = o[key];
      // Workers on other machines resolve these paths as given: make them absolute.
      if (flags.model && !/^[a-z]+:\/\//i.test(flags.model)) flags.model = resolve(flags.model);
      if (flags.labels) flags.labels = resolve(flags.labels);
      const { added, total } = await enqueueImages(sources, outDir, flags, {
        ...connection,
        attempts: integer(o.attempts, '--attempts', 1),
        backoffMs: o.backoff === undefined ? undefined : number(o.backoff, '--backoff')! * 1000,
      });
      say(`Queued ${added} of ${total} images on ${connection.queue} at ${connection.redis} (output: ${outDir})\n`);
      return 0;
    }
    if (command === 'work') {
      const lockSeconds = integer(o['lock-seconds'], '--lock-seconds', 1) ?? 30;
      const { completed, failed } = await runQueueWorker({
        ...connection,
        concurrency: integer(o.concurrency, '--concurrency', 1) ?? 1,
        lockMs: lockSeconds * 1000,
        untilEmpty: o['until-empty'] ?? false,
        signal: io.signal,
        onJob: ({ state, source, attempt, result, error }) => {
          if (state === 'completed') say(`done ${source}${result?.skipped ? ' (already in the folder)' : result?.top ? `: ${result.top.label} (${result.top.percentage.toFixed(1)}%)` : ''}\n`);
          else if (state === 'failed') stderr.write(`failed ${source} (attempt ${attempt}): ${oneLine(error?.message ?? '')}\n`);
          else say(`start ${source} (attempt ${attempt})\n`);
        },
      });
      say(`Worker done: ${completed} completed, ${failed} failed\n`);
      if (io.signal?.aborted) return 130;
      return failed > 0 ? 3 : 0;
    }
    if (command === 'report') {
      const failed = (await failedJobs(connection)).filter((f) => f.outDir === outDir);
      const failures = failed.map((f) => ({ source: f.source, code: /^([a-z_]+):/.exec(f.reason)?.[1] ?? 'failed', message: f.reason }));
      await writeFile(join(outDir, FAILURES_FILE), JSON.stringify(failures, null, 2) + '\n');
      // Partial folders of this host's dead workers (other hosts' are theirs to know about).
      await removeAbandonedPartials(outDir);
      const report = await writeReport(outDir);
      say(`Report of ${report.images} images (${report.failures} failed): ${report.path}\n`);
      return 0;
    }
    if (command === 'status') {
      const counts = await queueCounts(connection);
      say(Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ') + '\n');
      return 0;
    }
    throw new UsageError(`Unknown queue command "${command}"; use add, work, report or status (see easy-explain queue --help).`);
  } catch (error) {
    return reportFailure(error, stderr);
  }
}
