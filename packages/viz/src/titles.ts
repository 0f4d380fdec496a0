import type { VisMethod, VisSign } from './types.js';

/** Python's str.capitalize(): first character upper case, the rest lower case. */
function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();
}

/** easy-explain's name for a class label: "Egyptian_cat" → "Egyptian cat" (capitalised, underscores to spaces). */
export function predictionName(label: string): string {
  return capitalize(label).replace(/_/g, ' ');
}

/**
 * easy-explain's panel title: "Blended heat map for Egyptian cat" for sign `all`, otherwise with the sign in
 * front: "Positive Blended heat map for Egyptian cat", "Absolute value Heat map for …".
 */
export function easyExplainTitle(method: VisMethod, sign: VisSign, name: string): string {
  const what = `${capitalize(method).replace(/_/g, ' ')} for ${name}`;
  return sign.toLowerCase() === 'all' ? what : `${capitalize(sign).replace(/_/g, ' ')} ${what}`;
}

/** Titles of one figure row: one per (method, sign) pair. */
export function easyExplainTitles(methods: readonly VisMethod[], signs: readonly VisSign[], name: string): string[] {
  return methods.map((m, i) => easyExplainTitle(m, signs[i], name));
}
