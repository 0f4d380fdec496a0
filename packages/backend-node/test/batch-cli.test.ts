// `easy-explain <many> --out dir` as a user runs it: a line per image off a TTY, failures reported and skipped,
// exit 3 when some failed, Ctrl-C then --resume finishing the set without redoing an image, the summary and report.
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from '@easy-explain/backend-node';
import { runCli as runCliInProcess } from '../src/run-cli';
import { isBatchInvocation } from '../src/batch-cli';
import { image, MOBILENET, removeDir, runCli, tempDir } from './helpers';

/** A stream that keeps what is written; isTTY as asked. */
class Capture extends Writable {
  text = '';
  columns = 120;
  constructor(readonly isTTY = false) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

let dir: string;
let inputs: string[];
const coarse = ['--model', MOBILENET, '--window', '56', '--stride', '56', '--backend', 'wasm'];

beforeAll(() => {
  dir = tempDir('ee-batchcli-');
  // A list file (absolute paths, a comment, a missing file) and a folder (a broken image, a photo by symlink).
  writeFileSync(join(dir, 'list.txt'), `# photos\n${image('chelsea.png')}\n\n${image('coffee.png')}\nmissing.jpg\n`);
  mkdirSync(join(dir, 'photos'));
  writeFileSync(join(dir, 'photos', 'broken.jpg'), 'not a jpeg');
  symlinkSync(image('rocket.jpg'), join(dir, 'photos', 'rocket.jpg'));
  writeFileSync(join(dir, 'photos', 'notes.md'), 'not an image file name: ignored');
  inputs = [join(dir, 'list.txt'), join(dir, 'photos')];
});
afterAll(() => removeDir(dir));

const folders = (out: string) => (existsSync(join(out, 'images')) ? readdirSync(join(out, 'images')).sort() : []);

describe('easy-explain on many images', () => {
  it('after Ctrl-C exits 130 keeping finished images; --resume does the rest once; bad images exit 3', async () => {
    const out = join(dir, 'report');
    let sent = false;
    const first = await runCli([...inputs, ...coarse, '--out', out], {
      onStderr: (_chunk, child) => {
        // Interrupt once the first photo is done (the list's order: chelsea, coffee, missing, broken, rocket).
        if (!sent && /\[1\/5\] chelsea\.png/.test(_chunk)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toContain('interrupted; run the same command with --resume to finish');
    const afterInterrupt = folders(out);
    expect(afterInterrupt.length).toBeGreaterThanOrEqual(1);
    expect(afterInterrupt.length).toBeLessThan(3);
    expect(afterInterrupt.some((f) => f.startsWith('.'))).toBe(false); // the image in progress left nothing
    expect(existsSync(join(out, 'index.html'))).toBe(true); // a report of what is done

    // Without --resume the folder is refused, not overwritten.
    const refused = await runCli([...inputs, ...coarse, '--out', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already holds explained images; add --resume/);

    const resumed = await runCli([...inputs, ...coarse, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(3);
    const summary = resumed.stdout.trim().split('\n').at(-1)!;
    expect(summary).toMatch(new RegExp(`^5 images: ${3 - afterInterrupt.length} explained, ${afterInterrupt.length} skipped \\(done before\\), 2 failed in \\S+, [\\d.]+ images/s; report: ${out}/index.html$`));
    expect(resumed.stderr).toMatch(/\[3\/5\] failed: .*missing\.jpg: The image .*missing\.jpg does not exist/);
    expect(resumed.stderr).toMatch(/\[4\/5\] failed: .*broken\.jpg: /);
    expect(resumed.stderr).toMatch(/\[5\/5\] rocket\.jpg: /);
    const done = folders(out);
    expect(done).toHaveLength(3);
    expect(done.map((f) => f.replace(/-[0-9a-f]{12}$/, ''))).toEqual(['chelsea', 'coffee', 'rocket']);
    const failures = JSON.parse(readFileSync(join(out, 'failures.json'), 'utf8'));
    expect(failures.map((f: { code: string }) => f.code)).toEqual(['image_invalid', 'image_invalid']);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    for (const key of done) expect(html).toContain(key);
    expect(html).toContain('2 image(s) failed');
  });

  it('--json prints one summary document; --each-top and two methods give a folder per method and class', async () => {
    const out = join(dir, 'json');
    const run = await runCli([image('coffee.png'), image('coffee.png'), ...coarse, '--method', 'occlusion,grad_cam', '--each-top', '2', '--out', out, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout);
    // The same photo twice is explained once.
    expect(doc).toMatchObject({ images: 2, explained: 1, skipped: 1, failed: 0, interrupted: false, report: join(out, 'index.html'), failures: [] });
    const [folder] = folders(out);
    const record = JSON.parse(readFileSync(join(out, 'images', folder, 'image.json'), 'utf8'));
    const second = record.predictions[1].index;
    expect(record.predictions[0].index).toBe(967); // espresso
    expect(record.runs.map((r: { dir: string }) => r.dir)).toEqual(['occlusion-967', 'grad_cam-967', `occlusion-${second}`, `grad_cam-${second}`]);
  });

  it('draws one bar over the set on a TTY (images done, ETA, current image), and leaves no tensor behind', async () => {
    const stdout = new Capture();
    const stderr = new Capture(true);
    await setupBackend('wasm');
    const before = tf.memory().numTensors;
    const code = await runCliInProcess([image('coffee.png'), image('chelsea.png'), ...coarse, '--out', join(dir, 'tty')], { stdout, stderr });
    expect(code, stderr.text).toBe(0);
    expect(stderr.text).toMatch(/\r\x1b\[K[█░]+ 0\/2 images ETA -- coffee\.png/);
    expect(stderr.text).toMatch(/\r\x1b\[K[█░]+ 1\/2 images ETA \d+s chelsea\.png/);
    expect(stderr.text).not.toContain('[1/2]'); // per-image lines are for logs, not TTYs
    expect(stdout.text).toMatch(/^2 images: 2 explained, 0 skipped \(done before\), 0 failed in \d+s/m);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('takes a folder, a list file, several images or batch flags as a batch; one photo or a stray text file is not', async () => {
    writeFileSync(join(dir, 'notes.txt'), 'this is not a list of photos\n');
    expect(await isBatchInvocation([join(dir, 'list.txt')])).toBe(true);
    expect(await isBatchInvocation([join(dir, 'photos'), '--top', '3'])).toBe(true);
    expect(await isBatchInvocation([image('coffee.png'), image('chelsea.png')])).toBe(true);
    expect(await isBatchInvocation([image('coffee.png'), '--resume'])).toBe(true);
    expect(await isBatchInvocation(['queue', 'status'])).toBe(true);
    expect(await isBatchInvocation([image('coffee.png'), '--out', join(dir, 'x')])).toBe(false);
    expect(await isBatchInvocation([join(dir, 'notes.txt')])).toBe(false); // refused later as "not a readable image"
    expect(await isBatchInvocation(['https://example.com/list.txt'])).toBe(false);
    expect(await isBatchInvocation([])).toBe(false);
  });

  it('refuses bad batch usage before loading anything', async () => {
    const conflict = await runCli([image('coffee.png'), image('chelsea.png'), '--target', '3', '--each-top', '2']);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toContain('--target and --each-top exclude each other');
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const none = await runCli([empty, '--out', join(dir, 'none')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/No images found in/);
    const help = await runCli(['--help-batch']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--resume');
  });
});
