// runCli in-process, for what a child process cannot show: the TTY progress bar and the internal-error exit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@easy-explain/backend-node';
import { remainingTime } from '../src/cli-args';
import { runCli } from '../src/run-cli';
import { image, MOBILENET, removeDir, tempDir } from './helpers';

class Capture extends Writable {
  text = '';
  constructor(readonly isTTY = false, private readonly fail = false) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, done: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
  override write(chunk: unknown, ...rest: never[]): boolean {
    if (this.fail) throw new Error('disk on fire');
    return super.write(chunk as Buffer, ...rest);
  }
}

let dir: string;
beforeAll(async () => {
  await setupBackend('wasm');
  dir = tempDir('ee-runcli-');
});
afterAll(() => removeDir(dir));

describe('runCli in-process', () => {
  it('draws a progress bar with ETA on a TTY, and leaves no tensor behind', async () => {
    const stdout = new Capture();
    const stderr = new Capture(true);
    const before = tf.memory().numTensors;
    const code = await runCli([image('chelsea.png'), '--model', MOBILENET, '--window', '75', '--stride', '75', '--out', join(dir, 'tty'), '--backend', 'wasm'], { stdout, stderr });
    expect(code, stderr.text).toBe(0);
    expect(stderr.text).toMatch(/\rattribution [█░]+ +100% 9\/9 ETA 0s/);
    expect(stderr.text).not.toMatch(/attribution \d+% \(/); // the plain-line format is for non-TTYs
    expect(stdout.text).toContain('Egyptian cat');
    expect(tf.memory().numTensors).toBe(before); // model, input and attribution all freed
  });

  it("estimates the time left from the stage's rate after its first report, not from its start", () => {
    // A cold ONNX run: the coarse pass (9 of 441 windows) reported after 5 s of start-up, then 27 windows per 0.5 s.
    let clock = 0;
    const eta = remainingTime(() => clock);
    clock = 5000;
    expect(eta(9, 441)).toBeNaN(); // one report gives no rate: printed as "--"
    clock = 5500;
    expect(eta(36, 441)).toBeCloseTo((0.5 / 27) * 405, 9); // 7.5 s; from the start it would be 5.5 / 36 · 405 = 61.9 s
    clock = 6000;
    expect(eta(63, 441)).toBeCloseTo((1 / 54) * 378, 9);
    expect(eta(441, 441)).toBe(0);
    expect(remainingTime(() => 0)(9, 9)).toBe(0); // a stage done at its first report
  });

  it('reports an unexpected failure as an internal error: exit 1, one line, hint for the stack', async () => {
    const stdout = new Capture(false, true);
    const stderr = new Capture();
    const code = await runCli([image('chelsea.png'), '--model', MOBILENET, '--window', '224', '--out', join(dir, 'x')], { stdout, stderr });
    expect(code).toBe(1);
    expect(stderr.text).toContain('easy-explain: internal error: disk on fire (set EASY_EXPLAIN_DEBUG=1 for the stack trace)');
  });

  it('returns 130 when its signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const stderr = new Capture();
    const code = await runCli([image('chelsea.png'), '--model', MOBILENET], { stdout: new Capture(), stderr, signal: controller.signal });
    expect(code).toBe(130);
    expect(stderr.text).toBe('easy-explain: interrupted\n');
  });
});
