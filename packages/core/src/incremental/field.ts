// Projective fields: for a batch of occluded windows, which box of every local step's output changes, and the
// uniform patch (same size for all windows of the batch, so the patches batch) that is recomputed.
import type { IncrementalPlan, PlanNode, Window2D } from './plan.js';

/** Rows [y0, y1) × columns [x0, x1). */
export interface Box {
  y0: number;
  y1: number;
  x0: number;
  x1: number;
}

/** The recomputed patch of one step for every copy b of the batch: rows [y[b], y[b]+h) × columns [x[b], x[b]+w). */
export interface Patch {
  h: number;
  w: number;
  y: Int32Array;
  x: Int32Array;
  /** The box that really changes (a subset of the patch), which the next steps' fields grow from. */
  changed: Box[];
}

export interface FieldOptions {
  /**
   * Krypton's projective-field threshold: a changed box may cover at most this fraction of a step's height and
   * width; changes beyond the (centred) cap are ignored. Undefined: exact.
   */
  tau?: number;
}

/**
 * The changed output rows of a window step for changed input rows [a, b): outputs whose receptive field
 * [o·s − p, o·s − p + k) meets them, clamped to the output.
 */
export function windowField(a: number, b: number, kernel: number, stride: number, padBefore: number, size: number): [number, number] {
  const lo = Math.max(0, Math.ceil((a + padBefore - kernel + 1) / stride));
  const hi = Math.min(size, Math.floor((b - 1 + padBefore) / stride) + 1);
  // A strided step can skip a thin change entirely; one output row over-approximates that exactly.
  if (hi <= lo) return [Math.min(lo, size - 1), Math.min(lo, size - 1) + 1];
  return [lo, hi];
}

function cap(box: Box, [h, w]: [number, number], tau: number | undefined): Box {
  if (tau === undefined) return box;
  const limit = (lo: number, hi: number, size: number): [number, number] => {
    const max = Math.max(1, Math.ceil(tau * size));
    if (hi - lo <= max) return [lo, hi];
    const start = Math.min(Math.max(0, Math.round((lo + hi - max) / 2)), size - max);
    return [start, start + max];
  };
  const [y0, y1] = limit(box.y0, box.y1, h);
  const [x0, x1] = limit(box.x0, box.x1, w);
  return { y0, y1, x0, x1 };
}

/** Patches of one size holding every changed box, each shifted inside the [H, W] activation. */
function uniformPatch(changed: Box[], [h, w]: [number, number]): Patch {
  const ph = Math.min(h, Math.max(...changed.map((b) => b.y1 - b.y0)));
  const pw = Math.min(w, Math.max(...changed.map((b) => b.x1 - b.x0)));
  const y = new Int32Array(changed.length);
  const x = new Int32Array(changed.length);
  changed.forEach((box, b) => {
    y[b] = Math.min(box.y0, h - ph);
    x[b] = Math.min(box.x0, w - pw);
  });
  return { h: ph, w: pw, y, x, changed };
}

/** The patch of every plan node for a batch whose copy b changes the input box `inputBoxes[b]`. */
export function batchPatches(plan: IncrementalPlan, inputBoxes: Box[], options: FieldOptions = {}): Patch[] {
  const patches: Patch[] = [];
  plan.nodes.forEach((node, i) => {
    patches.push(i === 0 ? uniformPatch(inputBoxes, [node.shape[0], node.shape[1]]) : nodePatch(node, patches, options));
  });
  return patches;
}

function nodePatch(node: PlanNode, patches: Patch[], { tau }: FieldOptions): Patch {
  const size: [number, number] = [node.shape[0], node.shape[1]];
  const op = node.op;
  const input = patches[node.inputs[0]];
  switch (op.kind) {
    case 'conv':
    case 'pool': {
      const changed = input.changed.map((box) => cap(convBox(box, op, size), size, tau));
      return uniformPatch(changed, size);
    }
    case 'zeroPad':
      // Padding only moves the activation.
      return {
        h: input.h,
        w: input.w,
        y: input.y.map((v) => v + op.top),
        x: input.x.map((v) => v + op.left),
        changed: input.changed.map((b) => ({ y0: b.y0 + op.top, y1: b.y1 + op.top, x0: b.x0 + op.left, x1: b.x1 + op.left })),
      };
    case 'add':
    case 'multiply':
    case 'concat': {
      const inputs = node.inputs.map((i) => patches[i]);
      const changed = input.changed.map((_, b) =>
        cap(
          {
            y0: Math.min(...inputs.map((p) => p.changed[b].y0)),
            y1: Math.max(...inputs.map((p) => p.changed[b].y1)),
            x0: Math.min(...inputs.map((p) => p.changed[b].x0)),
            x1: Math.max(...inputs.map((p) => p.changed[b].x1)),
          },
          size,
          tau,
        ),
      );
      // Inputs recomputed over the same patches need no regathering.
      if (inputs.every((p) => samePatch(p, input))) return { ...input, changed };
      return uniformPatch(changed, size);
    }
    default:
      // Element-wise steps change exactly what their input changed.
      return input;
  }
}

export function samePatch(a: Patch, b: Patch): boolean {
  if (a === b) return true;
  if (a.h !== b.h || a.w !== b.w) return false;
  for (let i = 0; i < a.y.length; i++) if (a.y[i] !== b.y[i] || a.x[i] !== b.x[i]) return false;
  return true;
}

export function convBox(box: Box, op: Window2D, [h, w]: [number, number]): Box {
  const [y0, y1] = windowField(box.y0, box.y1, op.kernel[0], op.strides[0], op.padBefore[0], h);
  const [x0, x1] = windowField(box.x0, box.x1, op.kernel[1], op.strides[1], op.padBefore[1], w);
  return { y0, y1, x0, x1 };
}

/** The input rows a window step reads to compute output rows starting at `start`, `count` of them (may leave the input). */
export function readExtent(start: number, count: number, kernel: number, stride: number, padBefore: number): [number, number] {
  return [start * stride - padBefore, (count - 1) * stride + kernel];
}

/**
 * Splits a batch into groups whose windows have equal changed-box sizes at every step, so no window pays for a
 * larger one's patch (border windows have clipped fields). Returns indices into `boxes`, each group in order.
 */
export function groupBySize(plan: IncrementalPlan, boxes: Box[], options: FieldOptions = {}): number[][] {
  const groups = new Map<string, number[]>();
  boxes.forEach((box, i) => {
    const key = batchPatches(plan, [box], options)
      .map((p) => `${p.h},${p.w}`)
      .join(';');
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  return [...groups.values()];
}
