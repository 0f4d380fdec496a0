/**
 * The error every deliberate refusal of the library raises. `code` is stable and documented:
 * - `invalid_sign`: a method/sign combination Captum refuses (masked_image or alpha_scaling with sign `all`);
 * - `invalid_option`: any other bad option (unknown method, sign or colour map, shapes that do not agree,
 *   a missing image, an out-of-range number).
 *
 * Same shape as `ExplainError` in @easy-explain/core, which stays free of this package (and vice versa).
 */
export class ExplainError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'ExplainError';
    this.code = code;
  }

  /**
   * core and viz each define ExplainError (neither depends on the other); `instanceof` accepts either one,
   * so callers can catch every deliberate error of the library with one check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof Error && value.name === 'ExplainError' && typeof (value as { code?: unknown }).code === 'string';
  }
}
