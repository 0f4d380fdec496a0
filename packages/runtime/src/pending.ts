// The request/response base of every worker proxy (Node's occlusion threads, the browser's occlusion helpers and
// explanation worker): numbered requests, each answered once, all rejected when the worker fails.

/** A request in flight: how to settle its promise. */
export interface PendingEntry<Reply> {
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

export class PendingRequests<Reply, Extra extends object = object> {
  private nextId = 1;
  private failure?: Error;
  private readonly entries = new Map<number, PendingEntry<Reply> & Extra>();

  /** Requests still waiting for their reply. */
  get size(): number {
    return this.entries.size;
  }

  /** Why the worker failed, once it has: every later request rejects with it. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** A new request: its id, to send with the message, and the promise of its reply. */
  open(extra: Extra = {} as Extra): { id: number; reply: Promise<Reply> } {
    const id = this.nextId++;
    if (this.failure) return { id, reply: Promise.reject(this.failure) };
    const reply = new Promise<Reply>((resolve, reject) => this.entries.set(id, { resolve, reject, ...extra }));
    return { id, reply };
  }

  /** The extra data of a request in flight (e.g. its progress callback). */
  get(id: number): (PendingEntry<Reply> & Extra) | undefined {
    return this.entries.get(id);
  }

  /** Answers request `id`; false when it is unknown (answered already, or never sent). */
  resolve(id: number, reply: Reply): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    entry.resolve(reply);
    return true;
  }

  reject(id: number, error: Error): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    entry.reject(error);
    return true;
  }

  /** Rejects every request in flight with `error`; later requests still go out. */
  rejectAll(error: Error): void {
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const entry of entries) entry.reject(error);
  }

  /** The worker is gone: rejects every request in flight and every later one with `error`. Only the first counts. */
  fail(error: Error): boolean {
    if (this.failure) return false;
    this.failure = error;
    this.rejectAll(error);
    return true;
  }
}
