import { ExplainError } from '@easy-explain/core';
import { VIS_METHODS, VIS_SIGNS, type VisMethod, type VisSign } from '@easy-explain/viz';

/** easy-explain's defaults: one figure, blended heat map and original image, both sign 'all'. */
export const DEFAULT_VIS_TYPES: VisMethod[][] = [['blended_heat_map', 'original_image']];
export const DEFAULT_VIS_SIGNS: VisSign[][] = [['all', 'all']];

// Captum asserts these cannot show positive and negative attributions at once.
const NEEDS_ONE_SIGN: readonly VisMethod[] = ['masked_image', 'alpha_scaling'];

/** Checks visTypes/visSigns rows up front, so a bad row fails before the attribution runs. */
export function checkVis(types: VisMethod[][], signs: VisSign[][]): void {
  if (!Array.isArray(types) || types.length === 0) throw new ExplainError('invalid_option', 'visTypes needs at least one row.');
  if (!Array.isArray(signs) || signs.length !== types.length) {
    throw new ExplainError('invalid_option', `visTypes has ${types.length} rows but visSigns has ${signs?.length ?? 0}; give one sign per method.`);
  }
  types.forEach((row, r) => {
    if (!Array.isArray(row) || row.length === 0) throw new ExplainError('invalid_option', `visTypes row ${r + 1} is empty.`);
    if (!Array.isArray(signs[r]) || signs[r].length !== row.length) {
      throw new ExplainError('invalid_option', `visTypes row ${r + 1} has ${row.length} methods but visSigns row ${r + 1} has ${signs[r]?.length ?? 0} signs.`);
    }
    row.forEach((method, i) => {
      const sign = signs[r][i];
      if (!VIS_METHODS.includes(method)) {
        throw new ExplainError('invalid_option', `Unknown visualisation method "${method}"; use one of: ${VIS_METHODS.join(', ')}.`);
      }
      if (!VIS_SIGNS.includes(sign)) {
        throw new ExplainError('invalid_option', `Unknown sign "${sign}" for ${method}; use one of: ${VIS_SIGNS.join(', ')}.`);
      }
      if (sign === 'all' && NEEDS_ONE_SIGN.includes(method)) {
        throw new ExplainError('invalid_sign', `${method} cannot show positive and negative attributions together; use sign positive, negative or absolute_value.`);
      }
    });
  });
}

/** One CLI --vis value, "method:sign,method:sign" (sign defaults to 'all'), as a figure row. */
export function parseVisRow(spec: string): { methods: VisMethod[]; signs: VisSign[] } {
  const methods: VisMethod[] = [];
  const signs: VisSign[] = [];
  for (const part of spec.split(',')) {
    const [method, sign = 'all', extra] = part.trim().split(':');
    if (!method || extra !== undefined) {
      throw new ExplainError('invalid_option', `--vis "${spec}": write method:sign pairs separated by commas, e.g. blended_heat_map:positive,original_image:all.`);
    }
    methods.push(method as VisMethod);
    signs.push(sign as VisSign);
  }
  checkVis([methods], [signs]);
  return { methods, signs };
}
