export { VERSION } from './version.js';

export { ExplainError } from './errors.js';
export { VIS_METHODS, VIS_SIGNS, type HWC, type ImageDataLike, type VisMethod, type VisSign } from './types.js';
export {
  colormap,
  colormapFromList,
  colormapNames,
  linearSegmentedColormap,
  listedColormap,
  parseColor,
  type ColorSpec,
  type Colormap,
  type SegmentData,
  type Segments,
} from './colormap.js';
export {
  channelSum,
  cumulativeSumThreshold,
  normalizeAttr,
  normalizeAttrDetailed,
  type NormalizedAttr,
} from './normalize.js';
export {
  compositeOver,
  defaultColormap,
  scaleNearest,
  visualizeImageAttr,
  visualizeNormalizedAttr,
  type ColorbarSpec,
  type PanelImage,
  type VisualizeOptions,
} from './visualize.js';
export {
  drawFigure,
  figureLayout,
  figureSize,
  formatTick,
  makePanels,
  renderFigure,
  type Canvas2DLike,
  type CanvasImageData,
  type CanvasFactory,
  type FigureGeometry,
  type FigureLayout,
  type PanelRequest,
  type PanelSpec,
  type Rect,
} from './figure.js';
export { easyExplainTitle, easyExplainTitles, predictionName } from './titles.js';
export {
  drawMetricCurve,
  type CurveContext2D,
  type MetricCurveGeometry,
  type MetricCurveLike,
  type MetricCurveOptions,
} from './metric-curve.js';
export { colorizeMap, overlayMask, resizeBicubicPil, type MaskLike, type OverlayMaskOptions } from './overlay.js';
