// Exact incremental inference on onnxruntime: the network is cut where one tensor carries everything forward (a
// ResNet block's output, a MobileNet layer's), each piece becomes an ONNX model with free height and width, and an
// ablated copy recomputes per piece only the crop its change reaches, pasted over the unablated activations.
//
// Along each spatial axis a piece maps output position o to input positions [o·s − p, o·s − p + k − 1]. A crop that
// starts at a multiple of s (or at 0) and ends at the tensor's edge or past the field of the last wanted output
// gives, with the piece's own padding, exactly the full run's values at the wanted outputs: wrong values only
// appear where padding meets a crop edge inside the tensor, and no wanted output reads those.
import { ExplainError, type AblationContext, type AblationScorer, type Region } from '@easy-explain/core/internal';
import { readTensor, subModel, tensorProto, type OnnxGraph, type OnnxNode } from './onnx-proto.js';
import type { OnnxRuntime, OrtSession, OrtSessionOptions } from './onnx-runtime.js';

interface Axis {
  s: number;
  p: number;
  k: number;
}
type Geometry = [Axis, Axis];
const IDENTITY: Geometry = [
  { s: 1, p: 0, k: 1 },
  { s: 1, p: 0, k: 1 },
];
/** Position-wise ops (and Concat on channels): output o reads input o of every spatial input. */
const POSITIONWISE = new Set([
  'Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Identity', 'Dropout', 'BatchNormalization',
  'Elu', 'PRelu', 'Add', 'Mul', 'Sub', 'Div', 'Sum', 'Max', 'Min', 'Concat',
]);
const WINDOWED = new Set(['Conv', 'MaxPool', 'AveragePool']);

function windowed(g: Axis, k: number, s: number, pad: number, dilation: number): Axis {
  return { s: g.s * s, p: pad * g.s + g.p, k: dilation * (k - 1) * g.s + g.k };
}
function union(a: Axis, b: Axis): Axis | undefined {
  if (a.s !== b.s) return undefined;
  const p = Math.max(a.p, b.p);
  return { s: a.s, p, k: Math.max(a.k - a.p, b.k - b.p) + p };
}

/** A Conv's or pool's kernel size: its `kernel_shape`, else (a Conv) its weights' spatial dims; [] when unknown. */
export function kernelOf(node: OnnxNode, constants: Map<string, Uint8Array>): number[] {
  const kernel = node.attributes.get('kernel_shape')?.ints ?? [];
  if (kernel.length || node.op !== 'Conv') return kernel;
  return readTensor(constants.get(node.inputs[1]) ?? new Uint8Array()).dims.slice(2);
}

/** One piece: `input` → `output`, with the field of its output on its input and its multiply-adds per input position. */
export interface Piece {
  input: string;
  output: string;
  nodes: OnnxNode[];
  geometry: Geometry;
  macsPerPosition: number;
}
export interface Plan {
  pieces: Piece[];
  /** The rest of the network, from the last piece's output to the scores. */
  tail: OnnxNode[];
  /**
   * Tensors computed from tensor shapes only (TF-style "same" padding exported as Shape → … → Pad) that the pieces
   * read: they depend on the input's size, so they are evaluated once per size and given to the pieces as constants.
   */
  derived: string[];
}

/**
 * The pieces of `graph`, or why it cannot be cut (then Occlusion runs full forward passes). `values` holds the
 * derived tensors evaluated for one input size; without them the plan only says whether and where it cuts.
 */
export function planPieces(graph: OnnxGraph, values = new Map<string, Uint8Array>()): Plan | { reason: string } {
  const constants = new Map<string, Uint8Array>([...graph.initializers, ...values]);
  const derived = new Set<string>();
  const wanted = new Set<string>();
  const constantNodes: OnnxNode[] = [];
  const lastUse = new Map<string, number>();
  graph.nodes.forEach((node, j) => node.inputs.forEach((i) => lastUse.set(i, j)));
  lastUse.set(graph.output, Infinity);

  const geometryOf = (node: OnnxNode, geos: Map<string, Geometry>): Geometry | undefined => {
    const inputs = node.inputs.filter((i) => i !== '');
    const spatial = inputs.filter((i) => geos.has(i));
    // Any other input must be a constant: a tensor computed from the whole image (squeeze-excitation) is global.
    if (!spatial.length || inputs.some((i) => !geos.has(i) && !constants.has(i) && !derived.has(i))) return undefined;
    for (const i of inputs) if (derived.has(i)) wanted.add(i);
    const a = node.attributes;
    if (WINDOWED.has(node.op)) {
      if (spatial.length !== 1 || spatial[0] !== inputs[0] || (a.get('auto_pad')?.s ?? 'NOTSET') !== 'NOTSET') return undefined;
      const kernel = kernelOf(node, constants);
      if (kernel.length !== 2) return undefined;
      const strides = a.get('strides')?.ints?.length ? a.get('strides')!.ints! : [1, 1];
      const pads = a.get('pads')?.ints?.length ? a.get('pads')!.ints! : [0, 0, 0, 0];
      const dilations = a.get('dilations')?.ints?.length ? a.get('dilations')!.ints! : [1, 1];
      const g = geos.get(inputs[0])!;
      return [windowed(g[0], kernel[0], strides[0], pads[0], dilations[0]), windowed(g[1], kernel[1], strides[1], pads[1], dilations[1])];
    }
    if (node.op === 'Pad') {
      if ((a.get('mode')?.s ?? 'constant') !== 'constant' || spatial[0] !== inputs[0] || spatial.length !== 1) return undefined;
      // Pads not evaluated yet (planning without a size): any valid pads give the same cuts.
      const pads = constants.has(inputs[1]) ? readTensor(constants.get(inputs[1])!).values() : [0, 0, 0, 0, 0, 0, 0, 0];
      if (pads.length !== 8 || pads.some((p) => p < 0) || pads[0] || pads[1] || pads[4] || pads[5]) return undefined;
      const [gy, gx] = geos.get(inputs[0])!;
      return [
        { ...gy, p: gy.p + pads[2] * gy.s },
        { ...gx, p: gx.p + pads[3] * gx.s },
      ];
    }
    if (node.op === 'Concat' && a.get('axis')?.i !== 1) return undefined;
    if (!POSITIONWISE.has(node.op)) return undefined;
    let g: Geometry | undefined = geos.get(spatial[0]);
    for (const other of spatial.slice(1)) {
      const h = geos.get(other)!;
      const y = g && union(g[0], h[0]);
      const x = g && union(g[1], h[1]);
      g = y && x ? [y, x] : undefined;
    }
    return g;
  };

  const pieces: Piece[] = [];
  let geos = new Map<string, Geometry>([[graph.input, IDENTITY]]);
  let current: OnnxNode[] = [];
  let macs = 0;
  let start = 0;
  const live = new Set([graph.input]);
  for (let j = 0; j < graph.nodes.length; j++) {
    const node = graph.nodes[j];
    if (node.op === 'Constant') {
      const value = node.attributes.get('value')?.t;
      if (value) constants.set(node.outputs[0], value);
      constantNodes.push(node);
      continue;
    }
    const inputs = node.inputs.filter((i) => i !== '');
    if (node.op === 'Shape' || (inputs.length && inputs.every((i) => constants.has(i) || derived.has(i)))) {
      // Arithmetic on shapes: no piece runs it (its values come evaluated); the live set still drops what it read.
      node.outputs.forEach((o) => derived.add(o));
      for (const i of node.inputs) if (lastUse.get(i) === j) live.delete(i);
      continue;
    }
    const g = geometryOf(node, geos);
    if (!g) break;
    geos.set(node.outputs[0], g);
    current.push(node);
    if (node.op === 'Conv') {
      const dims = readTensor(constants.get(node.inputs[1])!).dims;
      macs += dims.reduce((x, y) => x * y, 1) / (g[0].s * g[1].s);
    }
    for (const o of node.outputs) if ((lastUse.get(o) ?? -1) > j) live.add(o);
    for (const i of node.inputs) if (lastUse.get(i) === j) live.delete(i);
    const out = node.outputs[0];
    // Constant nodes sit anywhere (Clip's bounds between a Conv and its Clip): look past them.
    let after = j + 1;
    while (graph.nodes[after]?.op === 'Constant') after++;
    const next = graph.nodes[after];
    // Cut where one tensor carries everything forward, before a windowed op or the non-local rest: a piece per layer.
    const windowedPiece = current.some((n) => WINDOWED.has(n.op));
    if (live.size === 1 && live.has(out) && windowedPiece && (!next || !POSITIONWISE.has(next.op))) {
      const input = pieces.length ? pieces[pieces.length - 1].output : graph.input;
      pieces.push({ input, output: out, nodes: withConstants(current, constantNodes), geometry: g, macsPerPosition: macs });
      geos = new Map([[out, IDENTITY]]);
      current = [];
      macs = 0;
      start = j + 1;
    }
  }
  if (!pieces.length) return { reason: 'the network has no layer before its first global operation where it can be cut' };
  // The tail runs whole (shape arithmetic included) on its own input; what it reads from before the cut comes evaluated.
  const tail = withConstants(graph.nodes.slice(start), constantNodes);
  const made = new Set(tail.flatMap((n) => n.outputs));
  const last = pieces[pieces.length - 1].output;
  for (const node of tail) for (const i of node.inputs) if (i && i !== last && !made.has(i) && !constants.has(i)) wanted.add(i);
  return { pieces, tail, derived: [...wanted] };
}

/** `nodes` preceded by the Constant nodes they read that are not among them. */
function withConstants(nodes: OnnxNode[], constantNodes: OnnxNode[]): OnnxNode[] {
  const reads = new Set(nodes.flatMap((n) => n.inputs));
  const own = new Set(nodes);
  return [...constantNodes.filter((c) => !own.has(c) && c.outputs.some((o) => reads.has(o))), ...nodes];
}

interface Activation {
  data: Float32Array;
  dims: [number, number, number, number];
}
/** What an ablated copy changed at one tensor: a box [y0, y1) × [x0, x1) of every channel (empty: nothing). */
interface Patch {
  image: number;
  y0: number;
  y1: number;
  x0: number;
  x1: number;
  data: Float32Array;
}

/** The plan at one input size and the shape-derived tensors it was made with. */
export interface PlanAt {
  plan: Plan;
  /** Evaluated shape-derived tensors, given to sub-models as initializers. */
  values: Map<string, Uint8Array>;
}

/** One input size's pieces as onnxruntime sessions. */
interface Built extends PlanAt {
  pieces: OrtSession[];
  tail: OrtSession;
  /** From piece i's input to the scores in one session, made when a batch's crops first cover piece i's input. */
  rest: Map<number, Promise<OrtSession>>;
}

/**
 * Once every crop of a batch covers this much of a piece's input, the rest of the network runs whole in one session:
 * computing the rest whole costs less than cutting and pasting every layer that follows. Measured on MobileNet v1
 * (easy-explain's job, 2 cores): 0.3 → 8.1 s, 0.5 → 6.7 s, 0.8 → 10.1 s (full forwards 6.7–9.1 s, loaded host).
 */
export const WHOLE_FROM_COVERAGE = 0.5;

/** The network cut into pieces, and the scorer that runs them on crops. Sessions are built per input size. */
export class IncrementalOnnx {
  /** Multiply-adds (convolutions) of the last scorer: what full forward passes would have cost, and what the crops cost. */
  readonly flops = { full: 0, incremental: 0 };
  private readonly sizes = new Map<string, Promise<Built>>();

  constructor(
    private readonly runtime: OnnxRuntime,
    readonly graph: OnnxGraph,
    readonly options: OrtSessionOptions,
  ) {}

  /** The plan for `graph` (no sizes yet), or why it cannot be cut. */
  static check(graph: OnnxGraph): string | undefined {
    const plan = planPieces(graph);
    return 'reason' in plan ? plan.reason : undefined;
  }

  private readonly plans = new Map<string, Promise<PlanAt>>();

  /** The plan at one input size, with the shape-derived tensors evaluated (no piece sessions are made). */
  planAt([, c, h, w]: readonly number[]): Promise<PlanAt> {
    return perSize(this.plans, [c, h, w], () => this.evaluatePlan(c, h, w));
  }

  private built([, c, h, w]: readonly number[]): Promise<Built> {
    return perSize(this.sizes, [c, h, w], () => this.build(c, h, w));
  }

  private async evaluatePlan(c: number, h: number, w: number): Promise<PlanAt> {
    const { runtime, graph, options } = this;
    const sketch = planPieces(graph);
    if ('reason' in sketch) throw new ExplainError('invalid_model', sketch.reason);
    const values = new Map<string, Uint8Array>();
    if (sketch.derived.length) {
      // One pass of the whole network at this size (any values: shapes do not depend on them) yields the derived tensors.
      const probe = await runtime.InferenceSession.create(subModel(graph, graph.nodes, graph.input, sketch.derived), options);
      try {
        const outputs = await probe.run({ [graph.input]: new runtime.Tensor('float32', new Float32Array(c * h * w), [1, c, h, w]) });
        for (const name of sketch.derived) {
          const t = outputs[name];
          values.set(name, tensorProto(name, t.type, t.dims, t.data as ArrayBufferView));
        }
      } finally {
        await probe.release();
      }
    }
    const plan = planPieces(graph, values);
    if ('reason' in plan) throw new ExplainError('invalid_model', plan.reason);
    return { plan, values };
  }

  private async build(c: number, h: number, w: number): Promise<Built> {
    const { runtime, graph, options } = this;
    const { plan, values } = await this.planAt([1, c, h, w]);
    const sessions: OrtSession[] = [];
    try {
      for (const piece of plan.pieces) sessions.push(await runtime.InferenceSession.create(subModel(graph, piece.nodes, piece.input, [piece.output], values), options));
      const last = plan.pieces[plan.pieces.length - 1].output;
      sessions.push(await runtime.InferenceSession.create(subModel(graph, plan.tail, last, [graph.output], values), options));
    } catch (cause) {
      await Promise.all(sessions.map((s) => s.release()));
      throw cause;
    }
    return { plan, pieces: sessions.slice(0, -1), tail: sessions[sessions.length - 1], values, rest: new Map() };
  }

  async release(): Promise<void> {
    const all = await Promise.allSettled(this.sizes.values());
    this.sizes.clear();
    for (const b of all) {
      if (b.status !== 'fulfilled') continue;
      const rest = await Promise.allSettled(b.value.rest.values());
      const sessions = [...b.value.pieces, b.value.tail, ...rest.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))];
      await Promise.all(sessions.map((s) => s.release()));
    }
  }

  private async run(session: OrtSession, data: Float32Array, dims: readonly number[]): Promise<Activation> {
    const outputs = await session.run({ [session.inputNames[0]]: new this.runtime.Tensor('float32', data, dims) });
    const out = outputs[session.outputNames[0]];
    return { data: out.data as Float32Array, dims: [...out.dims] as Activation['dims'] };
  }

  /** Every piece's input activation for an NCHW batch, and the scores: one full forward pass. */
  async forward(input: Activation): Promise<{ activations: Activation[]; scores: Activation; built: Built }> {
    const built = await this.built(input.dims);
    const activations = [input];
    for (const session of built.pieces) {
      const last = activations[activations.length - 1];
      activations.push(await this.run(session, last.data, last.dims));
    }
    const last = activations[activations.length - 1];
    return { activations, scores: await this.run(built.tail, last.data, last.dims), built };
  }

  /** Occlusion's scorer on NCHW input and baseline (each [N,C,H,W]). */
  async scorer({ shape, targets }: AblationContext, input: Float32Array, baseline: Float32Array): Promise<AblationScorer> {
    const [n, h, w, c] = shape;
    const { activations, built } = await this.forward({ data: input, dims: [n, c, h, w] });
    const flops = this.flops;
    flops.full = flops.incremental = 0;
    return {
      scoreRegions: async (regions: Region[]) => {
        // One sample per (region, image), in the scores' order j·N + n.
        let patches: Patch[] = [];
        for (const region of regions) {
          for (let image = 0; image < n; image++) patches.push(ablatedPatch(input, baseline, [n, c, h, w], region, image));
        }
        let from = built.pieces.length;
        for (let i = 0; i < built.pieces.length; i++) {
          if (this.coversMost(built, i, activations[i], activations[i + 1].dims, patches)) {
            from = i;
            break;
          }
          patches = await this.advance(built, i, activations[i], activations[i + 1].dims, patches);
        }
        const last = activations[from];
        const size = last.data.length / n;
        const batch = new Float32Array(patches.length * size);
        patches.forEach((patch, b) => {
          batch.set(last.data.subarray(patch.image * size, (patch.image + 1) * size), b * size);
          paste(batch.subarray(b * size, (b + 1) * size), last.dims, patch);
        });
        for (let i = from; i < built.pieces.length; i++) {
          flops.full += built.plan.pieces[i].macsPerPosition * activations[i].dims[2] * activations[i].dims[3] * patches.length;
          flops.incremental += built.plan.pieces[i].macsPerPosition * activations[i].dims[2] * activations[i].dims[3] * patches.length;
        }
        const session = from === built.pieces.length ? built.tail : await this.rest(built, from);
        const scores = await this.run(session, batch, [patches.length, ...last.dims.slice(1)]);
        const classes = scores.dims[1];
        return Float32Array.from(patches, (patch, row) => {
          const target = targets[row % n];
          if (target >= classes) throw new ExplainError('invalid_target', `Target ${target} is out of range for the ONNX model's ${classes} classes.`);
          return scores.data[row * classes + target];
        });
      },
      dispose() {},
    };
  }

  /** Whether every changed sample's crop at piece i covers WHOLE_FROM_COVERAGE of its input. */
  private coversMost(built: Built, i: number, base: Activation, outDims: Activation['dims'], patches: Patch[]): boolean {
    const [gy, gx] = built.plan.pieces[i].geometry;
    const [, , height, width] = base.dims;
    return patches.every((patch) => {
      if (patch.y0 >= patch.y1) return true;
      const [cy0, cy1] = cropOf(...reach(patch.y0, patch.y1, gy, outDims[2]), gy, height);
      const [cx0, cx1] = cropOf(...reach(patch.x0, patch.x1, gx, outDims[3]), gx, width);
      return (cy1 - cy0) * (cx1 - cx0) >= WHOLE_FROM_COVERAGE * height * width;
    });
  }

  /** The session from piece i's input to the scores. */
  private rest(built: Built, i: number): Promise<OrtSession> {
    let session = built.rest.get(i);
    if (!session) {
      const nodes = [...built.plan.pieces.slice(i).flatMap((p) => p.nodes), ...built.plan.tail];
      // Constant nodes shared by several pieces appear once.
      const unique = [...new Set(nodes)];
      session = this.runtime.InferenceSession.create(subModel(this.graph, unique, built.plan.pieces[i].input, [this.graph.output], built.values), this.options);
      built.rest.set(i, session);
    }
    return session;
  }

  /** The patches at piece i's output: each sample's crop of piece i's input, with its patch pasted, run in batches of one crop size. */
  private async advance(built: Built, i: number, base: Activation, outDims: Activation['dims'], patches: Patch[]): Promise<Patch[]> {
    const piece = built.plan.pieces[i];
    const [, channels, height, width] = base.dims;
    const [gy, gx] = piece.geometry;
    const plane = channels * height * width;
    const needs = patches.map((patch) => {
      const [oy0, oy1] = reach(patch.y0, patch.y1, gy, outDims[2]);
      const [ox0, ox1] = reach(patch.x0, patch.x1, gx, outDims[3]);
      return { patch, oy0, oy1, ox0, ox1, y: cropOf(oy0, oy1, gy, height), x: cropOf(ox0, ox1, gx, width), empty: patch.y0 >= patch.y1 || oy0 >= oy1 || ox0 >= ox1 };
    });
    // Every crop of a batch gets the largest size (shifted inside the tensor), so the batch runs as one or a few
    // shapes: fewer, larger runs beat computing a few rows less.
    const live = needs.filter((n) => !n.empty);
    const rowsWanted = Math.max(0, ...live.map((n) => n.y[1] - n.y[0]));
    const colsWanted = Math.max(0, ...live.map((n) => n.x[1] - n.x[0]));
    const crops = needs.map((need) => {
      const [cy0, cy1] = widen(need.y, rowsWanted, gy.s, height);
      const [cx0, cx1] = widen(need.x, colsWanted, gx.s, width);
      return { ...need, cy0, cy1, cx0, cx1 };
    });
    const groups = new Map<string, number[]>();
    crops.forEach((crop, b) => {
      if (crop.empty) return;
      const key = `${crop.cy1 - crop.cy0}x${crop.cx1 - crop.cx0}`;
      groups.set(key, [...(groups.get(key) ?? []), b]);
    });
    const next: Patch[] = crops.map(({ patch }) => ({ image: patch.image, y0: 0, y1: 0, x0: 0, x1: 0, data: new Float32Array() }));
    for (const members of groups.values()) {
      const first = crops[members[0]];
      const ch = first.cy1 - first.cy0;
      const cw = first.cx1 - first.cx0;
      const size = channels * ch * cw;
      const batch = new Float32Array(members.length * size);
      members.forEach((b, k) => {
        const crop = crops[b];
        const at = k * size;
        copyRows(base.data, crop.patch.image * plane + crop.cy0 * width + crop.cx0, width, height * width, batch, at, cw, ch * cw, channels, ch, cw);
        paste(batch.subarray(at, at + size), [1, channels, ch, cw], crop.patch, crop.cy0, crop.cx0);
      });
      this.flops.incremental += piece.macsPerPosition * ch * cw * members.length;
      const out = await this.run(built.pieces[i], batch, [members.length, channels, ch, cw]);
      const [, oc, oh, ow] = out.dims;
      members.forEach((b, k) => {
        const crop = crops[b];
        const top = crop.oy0 - crop.cy0 / gy.s;
        const left = crop.ox0 - crop.cx0 / gx.s;
        const rows = crop.oy1 - crop.oy0;
        const cols = crop.ox1 - crop.ox0;
        if (top < 0 || left < 0 || top + rows > oh || left + cols > ow) {
          throw new ExplainError('invalid_model', `Incremental inference lost its place at ${piece.output}; run Occlusion with incremental: false.`);
        }
        const data = new Float32Array(oc * rows * cols);
        copyRows(out.data, (k * oc * oh + top) * ow + left, ow, oh * ow, data, 0, cols, rows * cols, oc, rows, cols);
        next[b] = { image: crop.patch.image, y0: crop.oy0, y1: crop.oy1, x0: crop.ox0, x1: crop.ox1, data };
      });
    }
    this.flops.full += piece.macsPerPosition * height * width * patches.length;
    return next;
  }
}

/** The promise `cache` holds for an input size [C, H, W], made once; a failed one is dropped, so a later call retries. */
function perSize<T>(cache: Map<string, Promise<T>>, size: number[], make: () => Promise<T>): Promise<T> {
  const key = size.join('x');
  let value = cache.get(key);
  if (!value) {
    value = make();
    cache.set(key, value);
    value.catch(() => cache.delete(key));
  }
  return value;
}

/** The outputs [o0, o1) whose field meets input rows [y0, y1), within an output of `size`. */
export function reach(y0: number, y1: number, g: Axis, size: number): [number, number] {
  return [Math.max(0, Math.ceil((y0 + g.p - g.k + 1) / g.s)), Math.min(size, Math.floor((y1 - 1 + g.p) / g.s) + 1)];
}
/** The input rows [c0, c1) to run for outputs [o0, o1): their fields, started on the stride grid, within the input. */
export function cropOf(o0: number, o1: number, g: Axis, size: number): [number, number] {
  return [Math.floor(Math.max(0, o0 * g.s - g.p) / g.s) * g.s, Math.min(size, (o1 - 1) * g.s - g.p + g.k)];
}

/** The crop [c0, c1) grown to `length` rows (start kept on the stride grid), moved back inside [0, size) at the end. */
function widen([c0]: [number, number], length: number, stride: number, size: number): [number, number] {
  if (c0 + length <= size) return [c0, c0 + length];
  return [Math.floor(Math.max(0, size - length) / stride) * stride, size];
}

/** Writes `patch` into one image `target` [1,C,H,W] whose top-left sits at (top, left) of the patch's tensor. */
function paste(target: Float32Array, [, channels, height, width]: readonly number[], patch: Patch, top = 0, left = 0): void {
  const rows = patch.y1 - patch.y0;
  const cols = patch.x1 - patch.x0;
  if (rows <= 0 || cols <= 0) return;
  const y0 = Math.max(patch.y0, top);
  const y1 = Math.min(patch.y1, top + height);
  const x0 = Math.max(patch.x0, left);
  const x1 = Math.min(patch.x1, left + width);
  if (y0 >= y1 || x0 >= x1) return;
  const from = (y0 - patch.y0) * cols + x0 - patch.x0;
  copyRows(patch.data, from, cols, rows * cols, target, (y0 - top) * width + x0 - left, width, height * width, channels, y1 - y0, x1 - x0);
}

/**
 * Copies `channels` planes of `rows` × `cols` between two strided layouts. Rows are short (tens of values), where
 * a plain loop is several times faster than a subarray and set per row.
 */
function copyRows(
  source: Float32Array, from: number, sourceRow: number, sourcePlane: number,
  target: Float32Array, to: number, targetRow: number, targetPlane: number,
  channels: number, rows: number, cols: number,
): void {
  for (let z = 0; z < channels; z++) {
    for (let y = 0; y < rows; y++) {
      let s = from + z * sourcePlane + y * sourceRow;
      let t = to + z * targetPlane + y * targetRow;
      const end = s + cols;
      while (s < end) target[t++] = source[s++];
    }
  }
}

/** The input's patch for one region of one image: the region's box, every channel, baseline where the region is. */
function ablatedPatch(input: Float32Array, baseline: Float32Array, [, c, h, w]: number[], region: Region, image: number): Patch {
  const [y0, x0, c0] = region.start;
  const [y1, x1, c1] = region.end;
  const rows = y1 - y0;
  const cols = x1 - x0;
  const data = new Float32Array(c * rows * cols);
  for (let z = 0; z < c; z++) {
    const source = z >= c0 && z < c1 ? baseline : input;
    copyRows(source, ((image * c + z) * h + y0) * w + x0, w, h * w, data, z * rows * cols, cols, rows * cols, 1, rows, cols);
  }
  return { image, y0, y1, x0, x1, data };
}
