// Generated from package.json by scripts/write-version.mjs on every build; do not edit.
/** The version of @easy-explain/backend-web. */
export const VERSION = '0.1.0';
