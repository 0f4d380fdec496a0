// No TF.js here, so page code (the worker clients) bundles none; loadImage is in load-image.ts.
import { ExplainError } from '@easy-explain/core';

/** Decoded RGB pixels, 8 bits per channel, row-major HWC (as backend-node's RgbImage). */
export interface RgbImage {
  data: Uint8Array;
  height: number;
  width: number;
}

export type ImageSource =
  | string
  | URL
  | Uint8Array
  | ArrayBuffer
  | Blob
  | ImageBitmap
  | ImageData
  | HTMLImageElement
  | HTMLCanvasElement
  | HTMLVideoElement
  | OffscreenCanvas
  | RgbImage;

function isRgbImage(s: unknown): s is RgbImage {
  const r = s as Partial<RgbImage>;
  return typeof r === 'object' && r !== null && r.data instanceof Uint8Array && typeof r.width === 'number' && typeof r.height === 'number' && r.data.length === r.width * r.height * 3;
}

function describe(blob: Blob): string {
  const name = (blob as File).name;
  return `${name ? `"${name}"` : 'The data'}${blob.type ? ` (${blob.type})` : ''}`;
}

async function blobToBitmap(blob: Blob): Promise<ImageBitmap> {
  if (blob.size === 0) throw new ExplainError('image_invalid', `${describe(blob)} is empty; choose a PNG, JPEG, GIF, WebP or BMP photo.`);
  try {
    // No colour management, no premultiplication: the same bytes a PNG decoder in Node gives.
    return await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (cause) {
    throw new ExplainError(
      'image_invalid',
      `${describe(blob)} is not an image this browser can decode; choose a PNG, JPEG, GIF, WebP or BMP photo.`,
      { cause },
    );
  }
}

async function fetchImage(url: string): Promise<Blob> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw new ExplainError(
      'image_invalid',
      `Could not download the image at ${url} (network error, or the server does not allow cross-origin reads).`,
      { cause },
    );
  }
  if (!response.ok) throw new ExplainError('image_invalid', `Could not download the image at ${url}: HTTP ${response.status}.`);
  return response.blob();
}

function rgbFromRGBA(rgba: Uint8ClampedArray, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
    data[q] = rgba[p];
    data[q + 1] = rgba[p + 1];
    data[q + 2] = rgba[p + 2];
  }
  return { data, width, height };
}

type Drawable = ImageBitmap | HTMLImageElement | HTMLCanvasElement | HTMLVideoElement | OffscreenCanvas;

function sizeOf(source: Drawable): [number, number] {
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) return [source.naturalWidth, source.naturalHeight];
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) return [source.videoWidth, source.videoHeight];
  return [source.width, source.height];
}

function drawToRGB(source: Drawable): RgbImage {
  const [width, height] = sizeOf(source);
  if (!width || !height) {
    throw new ExplainError('image_invalid', 'The image has no pixels yet (not loaded, or 0×0); wait for it to load or pick another.');
  }
  const canvas =
    typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(width, height) : Object.assign(document.createElement('canvas'), { width, height });
  const ctx = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null;
  if (!ctx) throw new ExplainError('image_invalid', 'This browser gives no 2D canvas to read the image pixels.');
  ctx.drawImage(source, 0, 0);
  return rgbFromRGBA(ctx.getImageData(0, 0, width, height).data, width, height);
}

/**
 * Decodes an image into RGB bytes without touching TF.js (so it can run on the page and hand the pixels to a worker).
 * Alpha is dropped; nothing is sent anywhere except when `source` is a URL, which is fetched.
 */
export async function decodeImage(source: ImageSource): Promise<RgbImage> {
  if (isRgbImage(source)) return source;
  if (typeof source === 'string' || source instanceof URL) return decodeImage(await fetchImage(String(source)));
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return decodeImage(new Blob([source as BlobPart]));
  if (source instanceof Blob) {
    const bitmap = await blobToBitmap(source);
    try {
      return drawToRGB(bitmap);
    } finally {
      bitmap.close();
    }
  }
  if (typeof ImageData !== 'undefined' && source instanceof ImageData) return rgbFromRGBA(source.data, source.width, source.height);
  if (typeof source === 'object' && source !== null) return drawToRGB(source as Drawable);
  throw new ExplainError('image_invalid', 'loadImage takes a URL, a File or Blob, bytes, an <img>, a canvas, an ImageBitmap or ImageData.');
}
