import { drawFigure, figureSize, makePanels, type HWC, type VisMethod, type VisSign } from '@easy-explain/viz';

// Drawing a figure (normalising 50k values, colouring, text) takes tens of ms; doing it here keeps the page's
// main thread free while the explanation worker keeps the CPU busy.
export interface RenderRequest {
  id: number;
  attr: HWC;
  image: HWC;
  method: VisMethod;
  sign: VisSign;
  label: string;
}

self.onmessage = (event: MessageEvent<RenderRequest>) => {
  const { id, attr, image, method, sign, label } = event.data;
  try {
    const panels = makePanels(attr, image, [{ method, sign }, { method: 'original_image', sign: 'all' }], { label });
    const { width, height } = figureSize(panels);
    const canvas = new OffscreenCanvas(width, height);
    drawFigure(canvas.getContext('2d')! as never, panels);
    const bitmap = canvas.transferToImageBitmap();
    (self as unknown as Worker).postMessage({ id, bitmap }, [bitmap]);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    (self as unknown as Worker).postMessage({ id, error: { code: err.code ?? 'error', message: err.message ?? String(e) } });
  }
};
