import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage, loadImage, MAX_IMAGE_SIDE, setupBackend } from '@easy-explain/backend-node';
import { image, removeDir, serveFolder, tempDir } from './helpers';

const chelsea = image('chelsea.png');
let dir: string;

beforeAll(async () => {
  await setupBackend('wasm');
  dir = tempDir();
});
afterAll(() => removeDir(dir));

/** A 4×2 test picture: left half red, right half blue, encoded by sharp in the given way. */
async function encoded(kind: string): Promise<Buffer> {
  const raw = Buffer.alloc(4 * 2 * 4);
  for (let i = 0; i < 8; i++) raw.set(i % 4 < 2 ? [255, 0, 0, 128] : [0, 0, 255, 255], 4 * i);
  const img = sharp(raw, { raw: { width: 4, height: 2, channels: 4 } });
  switch (kind) {
    case 'rgba-png': return img.png().toBuffer();
    case 'grey-png': return img.grayscale().png().toBuffer();
    case 'palette-png': return img.png({ palette: true, colours: 4 }).toBuffer();
    case '16bit-png': return img.toColourspace('rgb16').png().toBuffer();
    case 'webp': return img.webp({ lossless: true }).toBuffer();
    case 'jpeg': return img.jpeg({ quality: 100 }).toBuffer();
    default: throw new Error(kind);
  }
}

describe('loadImage', () => {
  it('decodes a PNG path into [H,W,3] 0..255 and leaves no tensor behind once disposed', async () => {
    const before = tf.memory().numTensors;
    const t = await loadImage(chelsea);
    expect(t.shape).toEqual([300, 451, 3]);
    const { data } = await sharp(chelsea).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect(Array.from((await t.data()).slice(0, 30))).toEqual(Array.from(data.subarray(0, 30)));
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each(['rgba-png', 'grey-png', 'palette-png', '16bit-png', 'webp', 'jpeg'])('returns RGB for %s', async (kind) => {
    const rgb = await decodeImage(await encoded(kind));
    expect([rgb.height, rgb.width, rgb.data.length]).toEqual([2, 4, 24]);
    const left = Array.from(rgb.data.subarray(0, 3));
    const right = Array.from(rgb.data.subarray(9, 12));
    if (kind === 'grey-png') {
      expect(left[0]).toBe(left[1]);
      expect(left[0]).not.toBe(right[0]);
    } else if (kind === 'jpeg') {
      // JPEG has no alpha and blurs colour across the 4 px: only the hues are checked.
      expect(left[0]).toBeGreaterThan(left[2]);
      expect(right[2]).toBeGreaterThan(right[0]);
    } else {
      // Alpha is dropped, not blended: red stays pure red even where it was half transparent.
      expect(left[0]).toBeGreaterThan(240);
      expect(left[2]).toBeLessThan(15);
      expect(right[2]).toBeGreaterThan(240);
    }
  });

  it('reads file:// URLs, http URLs and bytes', async () => {
    const fromUrl = await decodeImage(pathToFileURL(chelsea));
    const fromBytes = await decodeImage(new Uint8Array(readFileSync(chelsea)));
    const server = await serveFolder(join(chelsea, '..'));
    try {
      const fromHttp = await decodeImage(`${server.url}chelsea.png`);
      expect(fromHttp.data).toEqual(fromUrl.data);
      await expect(decodeImage(`${server.url}nope.png`)).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringContaining('404') });
    } finally {
      await server.close();
    }
    expect(fromBytes.data).toEqual(fromUrl.data);
  });

  it('downscales very large images before anything else', async () => {
    const big = await sharp({ create: { width: 6000, height: 3000, channels: 3, background: '#336699' } }).png().toBuffer();
    const rgb = await decodeImage(big);
    expect([rgb.width, rgb.height]).toEqual([MAX_IMAGE_SIDE, MAX_IMAGE_SIDE / 2]);
  });

  it.each([
    ['a missing file', () => join(dir, 'missing.jpg'), /does not exist/],
    ['a directory', () => dir, /directory/],
    ['an empty file', () => (writeFileSync(join(dir, 'empty.png'), ''), join(dir, 'empty.png')), /empty/],
    ['a text file', () => (writeFileSync(join(dir, 'notes.txt'), 'not an image\n'), join(dir, 'notes.txt')), /not a readable image/],
    [
      'a truncated JPEG',
      () => {
        const jpeg = readFileSync(image('grace_hopper.jpg'));
        writeFileSync(join(dir, 'cut.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 3)));
        return join(dir, 'cut.jpg');
      },
      /not a readable image/,
    ],
    [
      'a truncated PNG',
      () => {
        const png = readFileSync(chelsea);
        writeFileSync(join(dir, 'cut.png'), png.subarray(0, Math.floor(png.length / 2)));
        return join(dir, 'cut.png');
      },
      /not a readable image/,
    ],
  ])('rejects %s as image_invalid', async (_name, make, message) => {
    const before = tf.memory().numTensors;
    const error = await loadImage(make()).catch((e) => e);
    expect(error).toMatchObject({ name: 'ExplainError', code: 'image_invalid' });
    expect(error.message).toMatch(message);
    expect(tf.memory().numTensors).toBe(before);
  });
});
