import { open, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '@easy-explain/core/internal';
import { firstLine } from './backend.js';
import { download, IMAGE_MAX_BYTES } from '@easy-explain/runtime';

/** Longest side kept when decoding: larger photos are downscaled first (the model sees 224 px anyway). */
export const MAX_IMAGE_SIDE = 2048;

export type ImageSource = string | URL | Uint8Array | ArrayBuffer;

/** Decoded RGB pixels, 8 bits per channel, row-major HWC. */
export interface RgbImage {
  data: Uint8Array;
  height: number;
  width: number;
}

export interface ImageOptions {
  signal?: AbortSignal;
  /** Longest side kept; default {@link MAX_IMAGE_SIDE}. */
  maxSide?: number;
  /** Largest image file read or downloaded, in bytes; default {@link imageMaxBytes}(). */
  maxBytes?: number;
}

/** The image size cap in force: EASY_EXPLAIN_MAX_IMAGE_BYTES when set to a positive integer, else IMAGE_MAX_BYTES (64 MiB). */
export function imageMaxBytes(): number {
  const env = Number(process.env.EASY_EXPLAIN_MAX_IMAGE_BYTES ?? NaN);
  return Number.isSafeInteger(env) && env > 0 ? env : IMAGE_MAX_BYTES;
}

const CAP_REASON = 'the image size cap; raise it with maxBytes or EASY_EXPLAIN_MAX_IMAGE_BYTES';

async function readSource(source: ImageSource, options: ImageOptions): Promise<{ bytes: Uint8Array; where: string }> {
  if (source instanceof Uint8Array) return { bytes: source, where: 'the image bytes' };
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), where: 'the image bytes' };
  const text = source instanceof URL ? source.href : source;
  if (typeof text !== 'string') {
    throw new ExplainError('image_invalid', 'loadImage takes a path, a URL, or the bytes of a JPEG, PNG or WebP file.');
  }
  const maxBytes = options.maxBytes ?? imageMaxBytes();
  if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) throw new ExplainError('invalid_option', `maxBytes must be a positive integer; got ${maxBytes}.`);
  if (/^https?:\/\//i.test(text)) {
    const bytes = await download(text, {
      what: 'the image',
      maxBytes,
      capReason: CAP_REASON,
      failCode: 'image_invalid',
      tooLargeCode: 'image_invalid',
      signal: options.signal,
    });
    return { bytes, where: text };
  }
  const path = text.startsWith('file:') ? fileURLToPath(text) : text;
  try {
    // stat first: a device or FIFO would never end (or block on open).
    const info = await stat(path);
    if (info.isDirectory()) throw new ExplainError('image_invalid', `The image ${path} is a directory, not a file.`);
    if (!info.isFile()) throw new ExplainError('image_invalid', `The image ${path} is not a regular file (a device or FIFO).`);
    const handle = await open(path, 'r');
    try {
      const size = (await handle.stat()).size;
      if (size > maxBytes) throw new ExplainError('image_invalid', `The image ${path} has ${size} bytes, more than ${maxBytes} (${CAP_REASON}).`);
      return { bytes: await handle.readFile(), where: path };
    } finally {
      await handle.close();
    }
  } catch (cause) {
    if (cause instanceof ExplainError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? firstLine(cause)})`;
    throw new ExplainError('image_invalid', `The image ${path} ${problem}.`, { cause });
  }
}

/**
 * Decodes JPEG, PNG (grey, palette, alpha, 16-bit), WebP, GIF, TIFF or AVIF into 8-bit RGB, applying EXIF
 * rotation and dropping alpha as PIL's convert('RGB') does. Corrupt, truncated, empty or non-image input is an
 * ExplainError `image_invalid`. Images whose longest side exceeds {@link MAX_IMAGE_SIDE} are downscaled first. Files and
 * downloads over `maxBytes` (default 64 MiB, env EASY_EXPLAIN_MAX_IMAGE_BYTES) are refused; downloads time out.
 */
export async function decodeImage(source: ImageSource, options: ImageOptions = {}): Promise<RgbImage> {
  const { bytes, where } = await readSource(source, options);
  if (bytes.length === 0) throw new ExplainError('image_invalid', `${capitalise(where)} is empty (0 bytes).`);
  const maxSide = options.maxSide ?? MAX_IMAGE_SIDE;
  try {
    // failOn 'warning' rejects truncated JPEGs and PNGs that libvips would otherwise decode half grey.
    const { data, info } = await sharp(bytes, { failOn: 'warning' })
      .rotate()
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), height: info.height, width: info.width };
  } catch (cause) {
    const reason = firstLine(cause).replace(/^Input buffer /, '').replace(/^Input file /, '');
    throw new ExplainError('image_invalid', `${capitalise(where)} is not a readable image: ${reason}`, { cause });
  }
}

/** Decodes an image (path, URL or bytes) into a tensor [H,W,3] of 0..255 values (int32). The caller disposes it. */
export async function loadImage(source: ImageSource, options: ImageOptions = {}): Promise<tf.Tensor3D> {
  const image = await decodeImage(source, options);
  return tf.tensor3d(Int32Array.from(image.data), [image.height, image.width, 3], 'int32');
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
