// The few host facilities core needs, typed structurally so core compiles without DOM or Node typings
// and runs unchanged in both.

/** The part of the standard AbortSignal that the attributors read. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
}

declare function setTimeout(callback: () => void, ms?: number): unknown;

/**
 * Lets timers, signal handlers and UI events run between batches. Backends such as cpu and wasm resolve
 * `data()` as a microtask, which alone would starve the event loop for the whole attribution.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

declare const performance: { now(): number } | undefined;

/** Milliseconds from an arbitrary origin: `performance.now()` where the host has it (browsers, Node), else the date. */
export function nowMs(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
