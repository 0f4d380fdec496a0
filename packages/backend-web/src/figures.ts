import { ExplainError } from '@easy-explain/core';
import { makePanels, renderFigure, type HWC, type VisMethod, type VisSign } from '@easy-explain/viz';
import type { WorkerScope } from './protocol.js';

/** One figure: a row of panels, each a visualisation method with its sign. */
export type FigureRow = { method: VisMethod; sign: VisSign }[];

/** What the figure worker draws: one attribution over its photo, one figure per row. */
export interface FigureRequest {
  attr: HWC;
  image: HWC;
  rows: FigureRow[];
  /** The class name shown in the panel titles. */
  label: string;
}

type FigureMessage = { id: number } & FigureRequest;
type FigureReply = { id: number; figures: ImageBitmap[] } | { id: number; error: { code: string; message: string } };

/** Draws each row of `request` on an OffscreenCanvas with viz and returns the canvases as ImageBitmaps. */
export function drawFigures(request: FigureRequest): ImageBitmap[] {
  return request.rows.map((row) => {
    const panels = makePanels(request.attr, request.image, row, { label: request.label });
    return renderFigure((w, h) => new OffscreenCanvas(w, h), panels).transferToImageBitmap();
  });
}

/** Runs in a Web Worker (`serveFigureWorker(self)`): answers FigureRequests with ImageBitmaps, transferred. */
export function serveFigureWorker(scope: WorkerScope): void {
  scope.onmessage = (event: MessageEvent<FigureMessage>) => {
    const { id, ...request } = event.data;
    let reply: FigureReply;
    try {
      const figures = drawFigures(request);
      reply = { id, figures };
      return scope.postMessage(reply, figures);
    } catch (e) {
      const err = e as { code?: string; message?: string };
      reply = { id, error: { code: err?.code ?? 'invalid_option', message: err?.message ?? String(e) } };
      scope.postMessage(reply);
    }
  };
}

/** The page's side of the figure worker: `draw(request)` resolves to one ImageBitmap per row. */
export class FigureRenderer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(figures: ImageBitmap[]): void; reject(error: Error): void }>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (event: MessageEvent<FigureReply>) => {
      const reply = event.data;
      const entry = this.pending.get(reply.id);
      if (!entry) return;
      this.pending.delete(reply.id);
      if ('error' in reply) entry.reject(new ExplainError(reply.error.code, reply.error.message));
      else entry.resolve(reply.figures);
    };
    worker.onerror = (event) => {
      this.fail(new ExplainError('worker_failed', `The figure worker failed: ${event.message || 'it could not start'}.`));
    };
  }

  draw(request: FigureRequest): Promise<ImageBitmap[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Copied, not transferred: the caller keeps its attribution and photo.
      this.worker.postMessage({ id, ...request } satisfies FigureMessage);
    });
  }

  terminate(): void {
    this.worker.terminate();
    this.fail(new ExplainError('aborted', 'The figure worker was stopped.'));
  }

  private fail(error: Error): void {
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
  }
}
