// FLOP accounting from layer shapes: full recomputation vs incremental inference for an occlusion setting.
import type { GraphModelLike, LayersModelLike } from '../model.js';
import { batchPatches, groupBySize, type Box, type FieldOptions } from './field.js';
import { planIncremental, type IncrementalPlan, type PlanNode, type Shape3 } from './plan.js';

export interface OcclusionFlopsOptions {
  /** [H, W, C] of one image. */
  inputShape: Shape3;
  /** Window [h, w, c] and strides, as for Occlusion. */
  slidingWindowShapes: Shape3;
  strides?: number | Shape3;
  /** Windows per batch: patches are padded to the batch's largest, so this changes the incremental count. Default 1. */
  perturbationsPerEval?: number;
  approximate?: { tau: number };
  outputLayer?: string;
}

export interface OcclusionFlops {
  /** One forward pass of the unoccluded image. */
  forward: number;
  /** Number of windows. */
  windows: number;
  /** Full recomputation: (windows + 1) forward passes. */
  full: number;
  /** Incremental: one forward pass, then the patches of every batch and the head per window. */
  incremental: number;
  /** 1 − incremental / full. */
  saved: number;
}

/** FLOPs (multiply and add counted separately) of one step producing an h×w patch, for one copy. */
export function stepFlops(node: PlanNode, inputChannels: number, h: number, w: number): number {
  const op = node.op;
  const c = node.shape[2];
  switch (op.kind) {
    case 'conv': {
      const [kh, kw] = op.filter.shape as number[];
      return h * w * c * (2 * kh * kw * (op.depthwise ? 1 : inputChannels) + 1);
    }
    case 'pool':
      return h * w * c * op.kernel[0] * op.kernel[1];
    case 'input':
    case 'identity':
    case 'zeroPad':
      return 0;
    default:
      return h * w * c;
  }
}

/**
 * Fixed cost of running one group of windows (about a hundred kernel launches, and the gathers' copies), in FLOPs:
 * merging two groups pays when their extra patch work is below this. About 1 ms at the ~30 GFLOP/s patches run at
 * on wasm; MobileNet's occlusion time is flat between 25 and 60 MFLOP.
 */
export const GROUP_OVERHEAD_FLOPS = 25e6;

/**
 * Splits a batch of windows into groups run together: first windows with equal patch sizes at every step, then,
 * greedily, the pair of groups whose merge adds the least patch work, while that is below GROUP_OVERHEAD_FLOPS.
 * Returns indices into `boxes`, in order within each group.
 */
export function groupWindows(plan: IncrementalPlan, boxes: Box[], options: FieldOptions = {}): number[][] {
  // Every step's FLOPs are proportional to its patch area, so costs are sums of products (this runs per batch).
  const perPixel = plan.nodes.map((node) => stepFlops(node, plan.nodes[node.inputs[0]]?.shape[2] ?? 0, 1, 1));
  type Group = { members: number[]; h: number[]; w: number[]; cost: number };
  const groups: Group[] = groupBySize(plan, boxes, options).map((members) => {
    const patches = batchPatches(plan, [boxes[members[0]]], options);
    const h = patches.map((p) => p.h);
    const w = patches.map((p) => p.w);
    return { members, h, w, cost: members.length * perPixel.reduce((sum, f, i) => sum + f * h[i] * w[i], 0) };
  });
  const mergedCost = (a: Group, b: Group) => {
    let sum = 0;
    for (let i = 0; i < perPixel.length; i++) sum += perPixel[i] * Math.max(a.h[i], b.h[i]) * Math.max(a.w[i], b.w[i]);
    return (a.members.length + b.members.length) * sum;
  };
  for (;;) {
    let best: { a: number; b: number; cost: number; extra: number } | undefined;
    for (let a = 0; a < groups.length; a++) {
      for (let b = a + 1; b < groups.length; b++) {
        const merged = mergedCost(groups[a], groups[b]);
        const extra = merged - groups[a].cost - groups[b].cost;
        if (!best || extra < best.extra) best = { a, b, cost: merged, extra };
      }
    }
    if (!best || best.extra >= GROUP_OVERHEAD_FLOPS) break;
    const [ga, gb] = [groups[best.a], groups[best.b]];
    groups[best.a] = {
      members: [...ga.members, ...gb.members].sort((x, y) => x - y),
      h: ga.h.map((v, i) => Math.max(v, gb.h[i])),
      w: ga.w.map((v, i) => Math.max(v, gb.w[i])),
      cost: best.cost,
    };
    groups.splice(best.b, 1);
  }
  return groups.map((g) => g.members);
}

function planFlops(plan: IncrementalPlan): number {
  return plan.nodes.reduce((sum, node) => sum + stepFlops(node, plan.nodes[node.inputs[0]]?.shape[2] ?? 0, node.shape[0], node.shape[1]), 0) + plan.headFlops;
}

/** FLOPs of occlusion with full recomputation vs incremental inference, from the planned layer shapes. */
export function occlusionFlops(source: LayersModelLike | GraphModelLike, options: OcclusionFlopsOptions): OcclusionFlops | { reason: string } {
  const planned = planIncremental(source, options.inputShape, { outputLayer: options.outputLayer });
  if (!planned.ok) return { reason: planned.reason };
  const plan = planned.plan;
  const [h, w] = options.inputShape;
  const [wh, ww] = options.slidingWindowShapes;
  const s = options.strides ?? 1;
  const [sh, sw] = typeof s === 'number' ? [s, s] : s;
  const boxes: Box[] = [];
  for (let y = 0; y < Math.ceil((h - wh) / sh) + 1; y++) {
    for (let x = 0; x < Math.ceil((w - ww) / sw) + 1; x++) {
      // Channel positions share the spatial box, so they cost the same; count them as copies.
      const y0 = y * sh;
      const x0 = x * sw;
      boxes.push({ y0, y1: Math.min(y0 + wh, h), x0, x1: Math.min(x0 + ww, w) });
    }
  }
  const channelPositions = Math.ceil((options.inputShape[2] - options.slidingWindowShapes[2]) / (typeof s === 'number' ? s : s[2])) + 1;
  const forward = planFlops(plan);
  const perEval = Math.max(1, options.perturbationsPerEval ?? 1);
  let patched = 0;
  for (let start = 0; start < boxes.length; start += perEval) {
    // As the scorer runs them: each batch split into groups of equal patch sizes.
    const batch = boxes.slice(start, start + perEval);
    const field = { tau: options.approximate?.tau };
    for (const group of groupWindows(plan, batch, field)) {
      const patches = batchPatches(plan, group.map((i) => batch[i]), field);
      plan.nodes.forEach((node, i) => {
        patched += group.length * stepFlops(node, plan.nodes[node.inputs[0]]?.shape[2] ?? 0, patches[i].h, patches[i].w);
      });
    }
  }
  const windows = boxes.length * channelPositions;
  const full = (windows + 1) * forward;
  const incremental = forward + channelPositions * patched + windows * plan.headFlops;
  return { forward, windows, full, incremental, saved: 1 - incremental / full };
}
