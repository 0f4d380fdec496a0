// Incremental inference in one onnxruntime run per batch. The per-piece scorer (onnx-incremental.ts) moves every
// crop through JavaScript and calls onnxruntime once per piece; here the crops are cut and pasted inside the graph:
// before each piece a Gather reads the piece's input crop from [unablated activation | the previous piece's crop
// output], with indices computed in JavaScript from the windows' boxes alone. The pieces run on the
// crops; from piece K on, the gathered tensor is the whole activation and the rest of the network runs as it is.
//
// Every crop lies inside its tensor, and its border meets the tensor's edge only where the whole tensor has one (a
// crop that would reach past the last row moves back to end on it). So each piece's own padding, pools included, does
// at a crop's outer border what it does in the full run, and at an inner border it only changes positions that no
// wanted output reads. The pieces keep their structure (no masks, Pads folded into their convolutions), which lets
// onnxruntime fuse a residual Add and Relu into the convolution on crops as it does on the whole tensor.
import { ExplainError, type AblationContext, type AblationScorer, type Region } from '@easy-explain/core/internal';
import { reach, cropOf, kernelOf, type IncrementalOnnx, type Piece, type PlanAt } from './onnx-incremental.js';
import { graphModel, nodeProto, readTensor, renamedNode, tensorProto, type GraphInput, type OnnxGraph, type OnnxNode } from './onnx-proto.js';
import type { OnnxRuntime, OrtSession, OrtSessionOptions, OrtTensor } from './onnx-runtime.js';

/**
 * The pieces run on crops stop at the first piece whose input crop, for a window of the job's size away from the
 * edges, covers this much of the piece's input: past that, a crop costs about what the whole tensor does.
 * MobileNet v1 0.75, easy-explain's job on one thread, ms per window (full forwards 9.5–11.4 in the same runs):
 * 0.4 or 0.6 → 5.1–5.4 (the same cut), 0.8 → 4.7, crops to the end → 5.6.
 */
export const FUSED_WHOLE_FROM_COVERAGE = 0.8;

/**
 * Below this share of the multiply-adds skipped (a window covering most of the image, or a network whose crops must
 * stop early), a batch runs full forward passes instead: the Gathers and the reorders around every cropped layer
 * cost about a tenth of a forward pass (ResNet-50 with its crops stopped at its max pool, as before masks: 3 %
 * skipped, 24.2 s against 21.5 s on full forward passes).
 */
export const FUSED_MIN_SAVING = 0.2;

/** A box of one tensor, [y0, y1) × [x0, x1), and where its values sit in a batch tensor [B, C, rows, cols]. */
interface Placed {
  y0: number;
  y1: number;
  x0: number;
  x1: number;
  /** The tensor position of the batch tensor's element (0, 0). */
  top: number;
  left: number;
}

/**
 * Whether a piece can run on crops: every constant it reads is the same at every position (a weight, a bias, a
 * per-channel scale), so that a crop of any size is read as the whole tensor is. A positional constant (an added
 * [1, C, H, W] embedding) would be read at the wrong positions.
 */
function croppable(piece: Piece, constants: Map<string, Uint8Array>): boolean {
  return piece.nodes.every((node) => {
    if (node.op === 'Constant' || node.op === 'Conv' || node.op === 'Pad') return true;
    return node.inputs.every((i) => {
      const raw = constants.get(i);
      if (!raw) return true;
      const dims = readTensor(raw).dims;
      return dims.length < 3 || dims.slice(-2).every((d) => d === 1);
    });
  });
}

/** Whether a Pad adds zeros: constant mode, and no fill value or a constant zero one. */
function zeroPad(pad: OnnxNode, constants: Map<string, Uint8Array>): boolean {
  if ((pad.attributes.get('mode')?.s ?? 'constant') !== 'constant') return false;
  if (!pad.inputs[2]) return true;
  const value = constants.get(pad.inputs[2]);
  return !!value && readTensor(value).values().every((v) => v === 0);
}

/**
 * The length of a crop that needs `need` rows of a tensor of `size` rows, for a piece of stride `stride`: at least
 * `need`, and congruent to `size` modulo the stride, so that the crop can end on the tensor's last row with its start
 * on the stride grid (or the whole tensor).
 */
export function cropLength(need: number, size: number, stride: number): number {
  return Math.min(size, need + ((((size - need) % stride) + stride) % stride));
}

/**
 * `nodes` with each zero Pad that feeds only a Conv folded into the Conv's own pads. TF-style "same" padding exports
 * as a Pad before every strided or 3×3 Conv; onnxruntime runs it as a copy of the whole tensor (a sixth of MobileNet
 * v1's time on one thread), where the Conv pads for free.
 */
export function foldPads(nodes: OnnxNode[], constants: Map<string, Uint8Array>): OnnxNode[] {
  const readers = new Map<string, OnnxNode[]>();
  for (const node of nodes) for (const i of node.inputs) readers.set(i, [...(readers.get(i) ?? []), node]);
  const replaced = new Map<OnnxNode, OnnxNode | undefined>();
  for (const pad of nodes) {
    if (pad.op !== 'Pad' || !zeroPad(pad, constants)) continue;
    const conv = readers.get(pad.outputs[0]);
    const padsRaw = constants.get(pad.inputs[1]);
    if (conv?.length !== 1 || conv[0].op !== 'Conv' || conv[0].inputs[0] !== pad.outputs[0] || !padsRaw) continue;
    const pads = readTensor(padsRaw).values();
    const a = conv[0].attributes;
    if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5] || pads.some((p) => p < 0) || (a.get('auto_pad')?.s ?? 'NOTSET') !== 'NOTSET') continue;
    const own = a.get('pads')?.ints?.length ? a.get('pads')!.ints! : [0, 0, 0, 0];
    const attributes: Record<string, number | number[]> = {};
    for (const [name, value] of a) {
      if (value.ints?.length) attributes[name] = value.ints;
      else if (value.i !== undefined) attributes[name] = value.i;
    }
    attributes.pads = [own[0] + pads[2], own[1] + pads[3], own[2] + pads[6], own[3] + pads[7]];
    replaced.set(pad, undefined);
    replaced.set(conv[0], nodeProto('Conv', [pad.inputs[0], ...conv[0].inputs.slice(1)], conv[0].outputs, attributes));
  }
  return nodes.flatMap((node) => {
    if (!replaced.has(node)) return [node];
    const next = replaced.get(node);
    return next ? [next] : [];
  });
}

/**
 * The nodes from a piece's input to `tensor`, in order, following at each node its first input that the piece
 * makes or that is the piece's input (a residual Add's branches have the same length).
 */
function pathTo(piece: Piece, tensor: string): OnnxNode[] {
  const own = new Map(piece.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const path: OnnxNode[] = [];
  while (tensor !== piece.input) {
    const producer = own.get(tensor);
    if (!producer) throw new ExplainError('invalid_model', `Incremental inference cannot trace ${tensor}; run Occlusion with incremental: false.`);
    path.unshift(producer);
    tensor = producer.inputs.find((i) => i === piece.input || own.has(i)) ?? piece.input;
  }
  return path;
}

/** A tensor length after `nodes` (a chain: windowed ops and pads change it), along `axis`. */
function lengthAlong(nodes: OnnxNode[], constants: Map<string, Uint8Array>, axis: 0 | 1, length: number): number {
  for (const node of nodes) {
    const a = node.attributes;
    if (node.op === 'Pad') {
      const pads = readTensor(constants.get(node.inputs[1])!).values();
      length += pads[2 + axis] + pads[6 + axis];
    } else if (node.op === 'Conv' || node.op === 'MaxPool' || node.op === 'AveragePool') {
      const kernel = kernelOf(node, constants);
      const stride = a.get('strides')?.ints?.[axis] ?? 1;
      const pads = a.get('pads')?.ints ?? [];
      const dilation = a.get('dilations')?.ints?.[axis] ?? 1;
      const span = length + (pads[axis] ?? 0) + (pads[2 + axis] ?? 0) - dilation * (kernel[axis] - 1) - 1;
      if (a.get('ceil_mode')?.i !== 1) length = Math.floor(span / stride) + 1;
      else {
        // A pool with ceil_mode keeps a last, partial window, unless it would start past the input and its leading pad.
        const out = Math.ceil(span / stride) + 1;
        length = (out - 1) * stride >= length + (pads[axis] ?? 0) ? out - 1 : out;
      }
    }
  }
  return length;
}

/** One input size's fused graphs, by the number of pieces run on crops. */
interface FusedGraphs {
  constants: Map<string, Uint8Array>;
  /** How many leading pieces may run on crops. */
  safe: number;
  /** Each one's path from its input to its output (its output's length for a crop's), and its nodes with Pads folded. */
  crops: Array<{ path: OnnxNode[]; nodes: OnnxNode[] }>;
  sessions: Map<number, Promise<OrtSession>>;
  /** The whole network, returning the scores and every piece's input channels last (`basesSession`). */
  bases?: Promise<OrtSession>;
}

/** Constant nodes shared by several pieces kept once. */
function withoutRepeats(nodes: OnnxNode[]): OnnxNode[] {
  const made = new Set<string>();
  return nodes.filter((node) => {
    if (node.op === 'Constant' && made.has(node.outputs[0])) return false;
    node.outputs.forEach((o) => made.add(o));
    return true;
  });
}

/**
 * Gives the memory of onnxruntime's output arrays back now rather than at the next full garbage collection: the
 * array that takes each buffer over is young and collected soon. The next job's outputs then land on pages already
 * mapped. MobileNet v1 0.75 on one thread: a start took 45–69 ms in 4 of 10 cases while the last start's 15.7 MB
 * were still held, and 8–11 ms in every case when they were given back (page faults cost ~2.7 ms per MB here).
 */
function releaseArrays(tensors: readonly OrtTensor[]): void {
  for (const { data } of tensors) {
    const { buffer, byteOffset, byteLength } = data as Float32Array;
    // Only an array that is its whole buffer: another view of a shared buffer may still be read.
    if (buffer instanceof ArrayBuffer && byteOffset === 0 && byteLength === buffer.byteLength) structuredClone(buffer, { transfer: [buffer] });
  }
}

/** Builds and runs the fused graphs of one network; sessions are made per input size and crop depth. */
export class FusedIncremental {
  private readonly graphs = new WeakMap<PlanAt, FusedGraphs>();
  private readonly all: Promise<OrtSession>[] = [];

  /** Why the fused graphs are off for this network (onnxruntime refused one), once that happened. */
  broken: string | undefined;

  constructor(
    private readonly runtime: OnnxRuntime,
    private readonly graph: OnnxGraph,
    private readonly options: OrtSessionOptions,
    private readonly incremental: IncrementalOnnx,
    private readonly onWarning?: (message: string) => void,
  ) {}

  /**
   * Turns the fused graphs off after onnxruntime refused one: an unusual network must still get its map, on full
   * forward passes. Told once through `onWarning` (a worker's engine has none: its map is exact all the same).
   */
  fail(cause: unknown): void {
    if (this.broken) return;
    this.broken = String((cause as Error)?.message ?? cause).split('\n')[0];
    this.onWarning?.(`Incremental inference is off for this ONNX model: onnxruntime refused its cropped graph (${this.broken}); occlusion runs full forward passes.`);
  }

  private graphsOf(built: PlanAt): FusedGraphs {
    let graphs = this.graphs.get(built);
    if (!graphs) {
      const constants = new Map<string, Uint8Array>([...this.graph.initializers, ...built.values]);
      for (const node of this.graph.nodes) {
        const value = node.op === 'Constant' ? node.attributes.get('value')?.t : undefined;
        if (value) constants.set(node.outputs[0], value);
      }
      const crops: FusedGraphs['crops'] = [];
      for (const piece of built.plan.pieces) {
        if (!croppable(piece, constants)) break;
        crops.push({ path: pathTo(piece, piece.output), nodes: foldPads(piece.nodes, constants) });
      }
      graphs = { constants, safe: crops.length, crops, sessions: new Map() };
      this.graphs.set(built, graphs);
    }
    return graphs;
  }

  /** The fused graph with `depth` pieces on crops, as a session. */
  private session(built: PlanAt, graphs: FusedGraphs, depth: number, channels: number[]): Promise<OrtSession> {
    let session = graphs.sessions.get(depth);
    if (!session) {
      session = this.runtime.InferenceSession.create(this.fusedModel(built, depth, channels, graphs), this.options);
      graphs.sessions.set(depth, session);
      this.all.push(session);
    }
    return session;
  }

  /**
   * The whole network (Pads folded) with extra outputs `ee_base_i`: the input of piece i, NHWC (the last: the tail's input).
   * One run gives the unablated activations every fused graph reads, transposed by onnxruntime.
   */
  private basesSession(built: PlanAt, graphs: FusedGraphs): Promise<OrtSession> {
    if (!graphs.bases) {
      const { pieces, tail } = built.plan;
      const nodes = foldPads(withoutRepeats([...pieces.flatMap((p) => p.nodes), ...tail]), graphs.constants);
      const outputs: string[] = [];
      for (let i = 0; i <= pieces.length; i++) {
        const tensor = pieces[i]?.input ?? pieces[pieces.length - 1].output;
        nodes.push(nodeProto('Transpose', [tensor], [`ee_base_${i}`], { perm: [0, 2, 3, 1] }));
        outputs.push(`ee_base_${i}`);
      }
      // The input comes NHWC, as Occlusion holds it: onnxruntime transposes it (a cold JavaScript loop in a worker cost more).
      nodes.unshift(nodeProto('Transpose', ['ee_input_nhwc'], [this.graph.input], { perm: [0, 3, 1, 2] }));
      // Without a memory pattern: with one, onnxruntime allocates the planned block on the second run, and that run
      // (a job's start) paid for fresh pages: MobileNet v1 0.75 40–58 against 10–11 ms, ResNet-50 87–105 against
      // 51–62 ms; later runs are the same either way.
      const options = { ...this.options, enableMemPattern: false };
      graphs.bases = this.runtime.InferenceSession.create(graphModel(this.graph, nodes, [{ name: 'ee_input_nhwc', dims: [1, 'h', 'w', 'c'] }], [this.graph.output, ...outputs], built.values), options);
      this.all.push(graphs.bases);
    }
    return graphs.bases;
  }

  /** The scores of one NHWC image [1,H,W,C] and every piece's input, channels last. */
  private async forward(input: Float32Array, [, h, w, c]: readonly number[]): Promise<{ scores: OrtTensor; bases: OrtTensor[]; built: PlanAt; graphs: FusedGraphs }> {
    const built = await this.incremental.planAt([1, c, h, w]);
    const graphs = this.graphsOf(built);
    const session = await this.basesSession(built, graphs);
    const outputs = await session.run({ ee_input_nhwc: new this.runtime.Tensor('float32', input, [1, h, w, c]) });
    const bases = Array.from({ length: built.plan.pieces.length + 1 }, (_, i) => outputs[`ee_base_${i}`]);
    return { scores: outputs[this.graph.output], bases, built, graphs };
  }

  /** The scores of one NHWC image [1,H,W,C], from the same run as a job's start; the activations are given back. */
  async scores(input: Float32Array, dims: readonly number[]): Promise<OrtTensor> {
    const { scores, bases } = await this.forward(input, dims);
    releaseArrays(bases);
    return scores;
  }

  /**
   * The graph: inputs `ee_patch` [B, C, h, w] (the ablated boxes), then per level i ≤ depth `ee_base_i` [H·W, C]
   * (the unablated activation, channels last), `ee_index_i` [B, L] and `ee_shape_i` [4] (B, crop rows, crop columns,
   * C); output the network's scores. Gathers run on rows of channels (a memcpy each, where a gather of single floats
   * along the last axis cost more than the convolutions it saved). The pieces run with their Pads folded.
   */
  private fusedModel(built: PlanAt, depth: number, channels: number[], graphs: FusedGraphs): Uint8Array {
    const { pieces, tail } = built.plan;
    const nodes: OnnxNode[] = [];
    const inputs: GraphInput[] = [{ name: 'ee_patch', dims: ['b', channels[0], 'ph', 'pw'] }];
    const extra = new Map<string, Uint8Array>();
    // The channel count after each Reshape to given dims, which onnxruntime's inference cannot know.
    const shapes: GraphInput[] = [];
    let patch = 'ee_patch';
    for (let i = 0; i <= depth; i++) {
      const c = channels[i];
      const rows = `ee_rows_${i}`;
      extra.set(rows, tensorProto(rows, 'int64', [2], BigInt64Array.from([-1n, BigInt(c)])));
      inputs.push({ name: `ee_base_${i}`, dims: [`hw${i}`, c] }, { name: `ee_index_${i}`, dims: ['b', `l${i}`], type: 'int32' }, { name: `ee_shape_${i}`, dims: [4], type: 'int64' });
      const input = pieces[i]?.input ?? pieces[pieces.length - 1].output;
      nodes.push(
        nodeProto('Transpose', [patch], [`ee_patch_t_${i}`], { perm: [0, 2, 3, 1] }),
        nodeProto('Reshape', [`ee_patch_t_${i}`, rows], [`ee_patch_rows_${i}`]),
        nodeProto('Concat', [`ee_base_${i}`, `ee_patch_rows_${i}`], [`ee_source_${i}`], { axis: 0 }),
        nodeProto('Gather', [`ee_source_${i}`, `ee_index_${i}`], [`ee_gathered_${i}`], { axis: 0 }),
        nodeProto('Reshape', [`ee_gathered_${i}`, `ee_shape_${i}`], [`ee_gathered_nhwc_${i}`]),
        nodeProto('Transpose', [`ee_gathered_nhwc_${i}`], [`ee_in_${i}`], { perm: [0, 3, 1, 2] }),
      );
      shapes.push({ name: `ee_gathered_nhwc_${i}`, dims: ['b', `gh${i}`, `gw${i}`, c] }, { name: `ee_in_${i}`, dims: ['b', c, `gh${i}`, `gw${i}`] });
      const next = i < depth ? graphs.crops[i].nodes : foldPads([...new Set([...pieces.slice(i).flatMap((p) => p.nodes), ...tail])], graphs.constants);
      // Read by several nodes (a residual block's first convolution and its Add), the gathered tensor first goes
      // through a 1×1 max pool, an identity: onnxruntime then reorders it once into its blocked layout for all
      // readers, and fuses the Add and Relu into the block's last convolution as in the whole network. Otherwise the
      // Add reads the plain tensor and runs unfused, with layout reorders around it (a tenth of ResNet-50's crops).
      let read = `ee_in_${i}`;
      if (next.filter((n) => n.inputs.includes(input)).length > 1) {
        read = `ee_in_blocked_${i}`;
        nodes.push(nodeProto('MaxPool', [`ee_in_${i}`], [read], { kernel_shape: [1, 1] }));
      }
      const rename = new Map([[input, read]]);
      if (i < depth) rename.set(pieces[i].output, `ee_out_${i}`);
      nodes.push(...next.map((n) => (n.op === 'Constant' ? n : renamedNode(n, rename))));
      patch = `ee_out_${i}`;
    }
    return graphModel(this.graph, withoutRepeats(nodes), inputs, [this.graph.output], new Map([...built.values, ...extra]), shapes);
  }

  /**
   * Occlusion's scorer for one image (input and baseline NHWC [1,H,W,C], as Occlusion holds them), or undefined when no piece can run on
   * crops (the caller then uses another scorer). Batches whose crops would skip too little go to the scorer `fallback`
   * makes (full forward passes).
   */
  async scorer({ shape, targets }: AblationContext, input: Float32Array, baseline: Float32Array, fallback: () => AblationScorer): Promise<AblationScorer | undefined> {
    const [n, h, w, c] = shape;
    if (n !== 1 || this.broken) return undefined;
    let forwarded: Awaited<ReturnType<FusedIncremental['forward']>>;
    try {
      forwarded = await this.forward(input, [1, h, w, c]);
    } catch (cause) {
      this.fail(cause);
      return undefined;
    }
    const { built, graphs, bases: nhwc, scores: inputScores } = forwarded;
    if (graphs.safe === 0) {
      releaseArrays(nhwc);
      return undefined;
    }
    const { pieces } = built.plan;
    // [N, C, H, W] of each piece input, from the NHWC outputs; the Gathers read them as [H·W, C].
    const dims = nhwc.map(({ dims: [, height, width, channelCount] }) => [1, channelCount, height, width]);
    const channels = dims.map((d) => d[1]);
    const bases = nhwc.map((t, i) => new this.runtime.Tensor('float32', t.data as Float32Array, [dims[i][2] * dims[i][3], channels[i]]));
    const flops = this.incremental.flops;
    flops.full = flops.incremental = 0;
    const runtime = this.runtime;

    let full: AblationScorer | undefined;
    const wholeMacs = pieces.reduce((sum, p, i) => sum + p.macsPerPosition * dims[i][2] * dims[i][3], 0);
    /**
     * The crop depth for windows of `rows` × `cols` away from the edges, and the share of the network's
     * multiply-adds the crops skip for such a window.
     */
    const depthFor = (rows: number, cols: number): { depth: number; saving: number } => {
      let box = { y0: (h - rows) >> 1, y1: ((h - rows) >> 1) + rows, x0: (w - cols) >> 1, x1: ((w - cols) >> 1) + cols };
      let skipped = 0;
      let depth = 0;
      for (; depth < graphs.safe; depth++) {
        const [gy, gx] = pieces[depth].geometry;
        const [, , height, width] = dims[depth];
        const [oy0, oy1] = reach(box.y0, box.y1, gy, dims[depth + 1][2]);
        const [ox0, ox1] = reach(box.x0, box.x1, gx, dims[depth + 1][3]);
        const [cy0, cy1] = cropOf(oy0, oy1, gy, height);
        const [cx0, cx1] = cropOf(ox0, ox1, gx, width);
        const area = (cy1 - cy0) * (cx1 - cx0);
        if (area >= FUSED_WHOLE_FROM_COVERAGE * height * width) break;
        skipped += pieces[depth].macsPerPosition * (height * width - area);
        box = { y0: oy0, y1: oy1, x0: ox0, x1: ox1 };
      }
      return { depth, saving: skipped / wholeMacs };
    };

    const scoreBatch = async (regions: Region[]): Promise<Float32Array> => {
      const batch = regions.length;
      const rows = Math.max(...regions.map((r) => r.end[0] - r.start[0]));
      const cols = Math.max(...regions.map((r) => r.end[1] - r.start[1]));
      const { depth, saving } = depthFor(rows, cols);
      // Too little to skip (a large window, or a network whose crops must stop early): the Gathers would cost
      // more than they save. Or onnxruntime refused a fused graph.
      if (saving < FUSED_MIN_SAVING || this.broken) {
        flops.full += wholeMacs * batch;
        flops.incremental += wholeMacs * batch;
        full ??= fallback();
        return full.scoreRegions(regions);
      }
      // The patch: each window's box of the input, every channel, the baseline on the window's channels.
      const patch = new Float32Array(batch * c * rows * cols);
      let boxes: Placed[] = regions.map((region, b) => {
        const [y0, x0, c0] = region.start;
        const [y1, x1, c1] = region.end;
        for (let z = 0; z < c; z++) {
          const source = z >= c0 && z < c1 ? baseline : input;
          for (let y = y0; y < y1; y++) {
            const to = ((b * c + z) * rows + y - y0) * cols;
            for (let x = x0; x < x1; x++) patch[to + x - x0] = source[(y * w + x) * c + z];
          }
        }
        return { y0, y1, x0, x1, top: y0, left: x0 };
      });
      let placedRows = rows;
      let placedCols = cols;
      const feeds: Record<string, OrtTensor> = { ee_patch: new runtime.Tensor('float32', patch, [batch, c, rows, cols]) };
      for (let i = 0; i <= depth; i++) {
        const [, channelCount, height, width] = dims[i];
        let crops: Array<{ cy: number; cx: number; next: Placed }>;
        let cropRows: number;
        let cropCols: number;
        if (i < depth) {
          const [gy, gx] = pieces[i].geometry;
          const needs = boxes.map((box) => {
            const [oy0, oy1] = reach(box.y0, box.y1, gy, dims[i + 1][2]);
            const [ox0, ox1] = reach(box.x0, box.x1, gx, dims[i + 1][3]);
            const [cy0, cy1] = cropOf(oy0, oy1, gy, height);
            const [cx0, cx1] = cropOf(ox0, ox1, gx, width);
            return { cy0, cy1, cx0, cx1, oy0, oy1, ox0, ox1 };
          });
          // One crop size for the batch. A crop that would reach past the tensor's last row or column moves back
          // to end on it (its start stays on the stride grid: `cropLength`), so every crop lies inside the tensor
          // and meets an edge only where the whole tensor has one; the pieces' own padding then acts as in the
          // full run, and what they make of it at a crop's inner border is outside every wanted output's field.
          cropRows = cropLength(Math.max(...needs.map((x) => x.cy1 - x.cy0)), height, gy.s);
          cropCols = cropLength(Math.max(...needs.map((x) => x.cx1 - x.cx0)), width, gx.s);
          crops = needs.map((x) => {
            const cy = Math.min(x.cy0, height - cropRows);
            const cx = Math.min(x.cx0, width - cropCols);
            return { cy, cx, next: { y0: x.oy0, y1: x.oy1, x0: x.ox0, x1: x.ox1, top: cy / gy.s, left: cx / gx.s } };
          });
        } else {
          cropRows = height;
          cropCols = width;
          crops = boxes.map(() => ({ cy: 0, cx: 0, next: { y0: 0, y1: 0, x0: 0, x1: 0, top: 0, left: 0 } }));
        }
        // Index: a crop position reads its window's patch inside the window's box, else the unablated activation.
        const plane = height * width;
        const patchSize = placedRows * placedCols;
        const length = cropRows * cropCols;
        const index = new Int32Array(batch * length);
        crops.forEach(({ cy, cx }, b) => {
          const box = boxes[b];
          let at = b * length;
          for (let y = cy; y < cy + cropRows; y++) {
            for (let x = cx; x < cx + cropCols; x++) {
              if (y >= box.y0 && y < box.y1 && x >= box.x0 && x < box.x1) index[at++] = plane + b * patchSize + (y - box.top) * placedCols + x - box.left;
              else index[at++] = y * width + x;
            }
          }
        });
        feeds[`ee_base_${i}`] = bases[i];
        feeds[`ee_index_${i}`] = new runtime.Tensor('int32', index, [batch, length]);
        feeds[`ee_shape_${i}`] = new runtime.Tensor('int64', BigInt64Array.from([BigInt(batch), BigInt(cropRows), BigInt(cropCols), BigInt(channelCount)]), [4]);
        const macs = (i < depth ? pieces.slice(i, i + 1) : pieces.slice(i)).reduce((sum, p, j) => sum + p.macsPerPosition * dims[i + j][2] * dims[i + j][3], 0);
        flops.full += macs * batch;
        flops.incremental += i < depth ? pieces[i].macsPerPosition * length * batch : macs * batch;
        if (i < depth) {
          const next = crops.map((crop) => crop.next);
          placedRows = lengthAlong(graphs.crops[i].path, graphs.constants, 0, cropRows);
          placedCols = lengthAlong(graphs.crops[i].path, graphs.constants, 1, cropCols);
          for (const box of next) {
            if (box.y0 < box.top || box.x0 < box.left || box.y1 > box.top + placedRows || box.x1 > box.left + placedCols) {
              throw new ExplainError('invalid_model', `Incremental inference lost its place at ${pieces[i].output}; run Occlusion with incremental: false.`);
            }
          }
          boxes = next;
        }
      }
      let session: OrtSession;
      try {
        session = await this.session(built, graphs, depth, channels);
      } catch (cause) {
        this.fail(cause);
        full ??= fallback();
        return full.scoreRegions(regions);
      }
      const outputs = await session.run(feeds);
      const scores = outputs[session.outputNames[0]];
      const classes = scores.dims[1];
      const data = scores.data as Float32Array;
      return Float32Array.from(regions, (_, row) => {
        const target = targets[0];
        if (target >= classes) throw new ExplainError('invalid_target', `Target ${target} is out of range for the ONNX model's ${classes} classes.`);
        return data[row * classes + target];
      });
    };

    // The activations go back to the allocator when the job ends, once no batch reads them any more.
    let running = 0;
    let ended = false;
    return {
      inputScores: { scores: inputScores.data as Float32Array, classes: inputScores.dims[1] },
      scoreRegions: async (regions: Region[]) => {
        if (ended) throw new ExplainError('aborted', 'This occlusion job has ended: its scorer was disposed. Start a new run to score more windows.');
        running++;
        try {
          return await scoreBatch(regions);
        } finally {
          if (--running === 0 && ended) releaseArrays(nhwc);
        }
      },
      dispose() {
        if (ended) return;
        ended = true;
        if (running === 0) releaseArrays(nhwc);
      },
    };
  }

  async release(): Promise<void> {
    const sessions = await Promise.allSettled(this.all.splice(0));
    await Promise.all(sessions.flatMap((s) => (s.status === 'fulfilled' ? [s.value.release()] : [])));
  }
}
