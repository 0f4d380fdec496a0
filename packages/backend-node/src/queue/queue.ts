// The same per-image jobs as a batch, on BullMQ (Redis): any number of machines take images from one queue and
// write into one shared output folder. BullMQ gives retries with backoff and the return of a job whose worker died
// (its lock expires; the stalled check puts it back). No image is done twice in the report because an image folder
// appears by an atomic rename and a worker that finds it there skips the image (explainBatch's resume).
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { Queue, UnrecoverableError, Worker, type Job, type RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '@easy-explain/core/internal';
import { setupBackend } from '../backend.js';
import { explainBatch, type BatchItem } from '../batch.js';
import { explainSettings, type ExplainFlagValues } from '../cli-args.js';
import { loadLabels } from '../labels.js';
import { resolveModel, type LoadedModel } from '../model.js';

export const DEFAULT_QUEUE = 'easy-explain';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** One image to explain: where it is (a path every worker can read, or a URL), where to write, and how. */
export interface ExplainJobData {
  source: string;
  outDir: string;
  /** The explanation flags, as parseArgs gave them to `queue add`: every worker maps them the same way. */
  flags: ExplainFlagValues;
}

/** What a finished job returns (kept by BullMQ in Redis). */
export interface ExplainJobResult {
  key: string;
  /** The image folder was there already (another job or worker did it); nothing was written. */
  skipped: boolean;
  top?: { index: number; label: string; percentage: number };
}

/** Codes of failures no retry can fix: bad images and bad options fail at once. */
const PERMANENT = new Set(['image_invalid', 'invalid_option', 'invalid_target', 'invalid_window', 'window_too_large', 'invalid_stride', 'stride_too_large', 'invalid_baseline', 'invalid_model', 'invalid_labels', 'model_not_found', 'invalid_sign']);

/** ioredis options from a redis:// URL (host, port, password, db). */
export function redisOptions(url: string): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ExplainError('invalid_option', `--redis must be a URL like redis://127.0.0.1:6379; got "${url}".`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new ExplainError('invalid_option', `--redis must be a redis:// or rediss:// URL; got "${url}".`);
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.password && { password: decodeURIComponent(parsed.password) }),
    ...(parsed.username && { username: decodeURIComponent(parsed.username) }),
    ...(parsed.pathname.length > 1 && { db: Number(parsed.pathname.slice(1)) }),
    ...(parsed.protocol === 'rediss:' && { tls: {} }),
    // BullMQ's workers block on Redis; it asks for this.
    maxRetriesPerRequest: null,
  };
}

/** Fails fast with a clear message when Redis is not there (BullMQ itself would retry forever). */
export async function checkRedis(url: string, timeoutMs = 5000): Promise<void> {
  const client = new Redis({ ...redisOptions(url), lazyConnect: true, retryStrategy: () => null, connectTimeout: timeoutMs, maxRetriesPerRequest: 0 });
  client.on('error', () => {}); // reported below
  try {
    await client.connect();
    await client.ping();
  } catch (cause) {
    throw new ExplainError('queue_unavailable', `Cannot reach Redis at ${url}: ${(cause as Error).message}. Start redis-server, or pass --redis redis://host:port.`, { cause });
  } finally {
    client.disconnect();
  }
}

/** A job id from what the job does: adding the same image with the same settings twice queues it once. */
function jobId(data: ExplainJobData): string {
  return createHash('sha256').update(JSON.stringify([data.outDir, data.source, data.flags])).digest('hex').slice(0, 32);
}

export interface EnqueueOptions {
  redis?: string;
  queue?: string;
  /** Attempts per image (retries after a failure that is not the image's fault); default 3. */
  attempts?: number;
  /** First retry delay in ms, doubled each time; default 2000. */
  backoffMs?: number;
}

/** Adds one job per image; returns how many were new (an image already queued with the same settings is not added twice). */
export async function enqueueImages(sources: string[], outDir: string, flags: ExplainFlagValues, options: EnqueueOptions = {}): Promise<{ added: number; total: number }> {
  explainSettings(flags); // bad flags are refused here, not by every worker
  const url = options.redis ?? DEFAULT_REDIS_URL;
  await checkRedis(url);
  const queue = new Queue<ExplainJobData, ExplainJobResult>(options.queue ?? DEFAULT_QUEUE, { connection: redisOptions(url) });
  try {
    const jobs = sources.map((source) => {
      const data: ExplainJobData = { source, outDir: resolve(outDir), flags };
      return {
        name: 'explain' as const,
        data,
        opts: {
          jobId: jobId(data),
          attempts: options.attempts ?? 3,
          backoff: { type: 'exponential', delay: options.backoffMs ?? 2000 },
          removeOnComplete: { count: 100_000 },
          removeOnFail: { count: 100_000 },
        },
      };
    });
    // BullMQ ignores a job whose id exists; count those first to say how many are new.
    const existing = await Promise.all(jobs.map((job) => queue.getJob(job.opts.jobId)));
    await queue.addBulk(jobs);
    return { added: existing.filter((job) => !job).length, total: sources.length };
  } finally {
    await queue.close();
  }
}

export interface QueueWorkerOptions {
  redis?: string;
  queue?: string;
  /** Jobs in flight in this process; default 1 (occlusion already spreads one image over worker threads). */
  concurrency?: number;
  /** How long a job's lock lasts without renewal: a dead worker's job returns to the queue after about this. Default 30000. */
  lockMs?: number;
  /** Stop once no job is waiting, delayed or active anywhere. */
  untilEmpty?: boolean;
  onJob?: (event: { state: 'active' | 'completed' | 'failed'; source: string; attempt: number; result?: ExplainJobResult; error?: Error }) => void;
  signal?: AbortSignal;
}

/** The models a worker process has loaded, one per distinct model flag set, kept for its next jobs. */
class ModelCache {
  private readonly models = new Map<string, Promise<LoadedModel>>();
  private backend?: Promise<string>;

  get(flags: ExplainFlagValues): Promise<LoadedModel> {
    const settings = explainSettings(flags);
    this.backend ??= setupBackend(settings.backend).then((name) => {
      tf.env().set('PROD', true);
      return name;
    });
    const key = JSON.stringify([settings.model, settings.outputKind, settings.options.preset]);
    let model = this.models.get(key);
    if (!model) {
      model = this.backend.then(() => resolveModel(settings.model, { outputKind: settings.outputKind, preset: settings.options.preset }));
      model.catch(() => this.models.delete(key));
      this.models.set(key, model);
    }
    return model;
  }

  async dispose(): Promise<void> {
    for (const model of this.models.values()) (await model.catch(() => undefined))?.dispose();
    this.models.clear();
  }
}

/** Explains one job's image into the shared folder (skipping it if its folder is there). */
async function processJob(job: Job<ExplainJobData, ExplainJobResult>, models: ModelCache, signal?: AbortSignal): Promise<ExplainJobResult> {
  const { source, outDir, flags } = job.data;
  const settings = explainSettings(flags);
  const model = await models.get(flags);
  const labels = settings.labels === undefined ? undefined : await loadLabels(settings.labels);
  let item: BatchItem | undefined;
  for await (const one of explainBatch(model, [source], { ...settings.options, labels, outDir, resume: true, signal })) item = one;
  if (!item) throw new ExplainError('image_failed', `No result for ${source}.`);
  if (!item.ok) {
    // A URL's image may fail for a while (the server, the network): retried like any other transient failure.
    const transient = item.error.code === 'image_invalid' && /^https?:\/\//i.test(source);
    if (PERMANENT.has(String(item.error.code)) && !transient) throw new UnrecoverableError(`${item.error.code}: ${item.error.message}`);
    throw new Error(`${item.error.code}: ${item.error.message}`);
  }
  const top = item.predictions[0];
  return { key: item.key, skipped: item.skipped ?? false, ...(top && { top: { index: top.index, label: top.label, percentage: top.percentage } }) };
}

/**
 * Processes the queue's jobs until `signal` aborts (or, with untilEmpty, until nothing is left anywhere). Returns
 * how many jobs this process completed and failed.
 */
export async function runQueueWorker(options: QueueWorkerOptions = {}): Promise<{ completed: number; failed: number }> {
  const url = options.redis ?? DEFAULT_REDIS_URL;
  await checkRedis(url);
  const name = options.queue ?? DEFAULT_QUEUE;
  const connection = redisOptions(url);
  const models = new ModelCache();
  const lockDuration = options.lockMs ?? 30_000;
  const stop = new AbortController();
  const counts = { completed: 0, failed: 0 };
  const worker = new Worker<ExplainJobData, ExplainJobResult>(
    name,
    async (job) => {
      options.onJob?.({ state: 'active', source: job.data.source, attempt: job.attemptsMade + 1 });
      return processJob(job, models, stop.signal);
    },
    {
      connection,
      concurrency: options.concurrency ?? 1,
      lockDuration,
      // Check for stalled jobs (a dead worker's) as often as a lock lasts, so one comes back within about 2 locks.
      stalledInterval: lockDuration,
      maxStalledCount: 2,
      autorun: false,
    },
  );
  worker.on('completed', (job, result) => {
    counts.completed++;
    options.onJob?.({ state: 'completed', source: job.data.source, attempt: job.attemptsMade, result });
  });
  worker.on('failed', (job, error) => {
    counts.failed++;
    if (job) options.onJob?.({ state: 'failed', source: job.data.source, attempt: job.attemptsMade, error });
  });
  worker.on('error', () => {}); // connection blips: BullMQ reconnects

  const queue = options.untilEmpty ? new Queue(name, { connection }) : undefined;
  const abort = () => stop.abort();
  options.signal?.addEventListener('abort', abort);
  const running = worker.run();
  try {
    await new Promise<void>((done) => {
      if (options.signal?.aborted) return done();
      options.signal?.addEventListener('abort', () => done());
      if (!queue) return;
      // Done when nothing is waiting, delayed (a retry's backoff) or active: a job held by a dead worker stays
      // active until the stalled check returns it, so this waits for it too.
      const poll = setInterval(async () => {
        const c = (await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized')) as Record<string, number>;
        if (Object.values(c).every((n) => n === 0)) {
          clearInterval(poll);
          done();
        }
      }, 500);
      options.signal?.addEventListener('abort', () => clearInterval(poll));
    });
  } finally {
    options.signal?.removeEventListener('abort', abort);
    await worker.close(options.signal?.aborted ?? false);
    await running.catch(() => {});
    await queue?.close();
    await models.dispose();
  }
  return counts;
}

/** The queue's job counts (waiting, active, delayed, completed, failed). */
export async function queueCounts(options: { redis?: string; queue?: string } = {}): Promise<Record<string, number>> {
  const url = options.redis ?? DEFAULT_REDIS_URL;
  await checkRedis(url);
  const queue = new Queue(options.queue ?? DEFAULT_QUEUE, { connection: redisOptions(url) });
  try {
    return (await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed')) as Record<string, number>;
  } finally {
    await queue.close();
  }
}

/** Failed jobs (after their last attempt), for the report. */
export async function failedJobs(options: { redis?: string; queue?: string } = {}): Promise<Array<{ source: string; outDir: string; reason: string }>> {
  const url = options.redis ?? DEFAULT_REDIS_URL;
  await checkRedis(url);
  const queue = new Queue<ExplainJobData>(options.queue ?? DEFAULT_QUEUE, { connection: redisOptions(url) });
  try {
    const jobs = await queue.getFailed(0, -1);
    return jobs.map((j) => ({ source: j.data.source, outDir: j.data.outDir, reason: j.failedReason }));
  } finally {
    await queue.close();
  }
}
