// Backend resolution shared by both platforms: candidates tried in order, each failure recorded with its reason
// (as onnxruntime's resolveBackend does), so a caller can tell why it got wasm instead of webgpu or tfjs-node.
import { ExplainError } from '@easy-explain/core';

export interface BackendAttempt {
  name: string;
  ok: boolean;
  /** Why it was skipped, when it was. */
  reason?: string;
}

let attempts: BackendAttempt[] = [];

/** What the last backend resolution tried, in order, with the reason each failed backend was skipped. */
export function backendAttempts(): BackendAttempt[] {
  return attempts.map((a) => ({ ...a }));
}

export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0];
}

/**
 * Starts the first candidate that works. `start` throws (or returns a reason) when a candidate cannot run here.
 * With one candidate, its own ExplainError is rethrown; with several, the error lists every reason.
 */
export async function resolveBackend(candidates: readonly string[], start: (name: string) => Promise<string | void>): Promise<string> {
  attempts = [];
  let only: unknown;
  for (const name of candidates) {
    let reason: string | undefined;
    try {
      reason = (await start(name)) ?? undefined;
    } catch (error) {
      only = error;
      reason = firstLine(error);
    }
    attempts.push({ name, ok: reason === undefined, reason });
    if (reason === undefined) return name;
  }
  if (candidates.length === 1 && only instanceof ExplainError) throw only;
  const why = attempts.map((a) => `${a.name}: ${a.reason}`).join('; ');
  throw new ExplainError('backend_unavailable', `No TF.js backend could start (${why}).`);
}
