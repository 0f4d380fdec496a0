// Generated from package.json by scripts/write-version.mjs on every build; do not edit.
/** The version of @easy-explain/onnx. */
export const VERSION = '0.1.0';
