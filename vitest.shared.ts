import { fileURLToPath } from 'node:url';

// Tests import the workspace packages from their TypeScript sources, so a test never runs against a stale build.
// Each package's root and its subpaths map to src/<entry>.ts; exact matches, so '@easy-explain/core' does not
// swallow '@easy-explain/core/internal'.
const src = (pkg: string, entry = 'index') => fileURLToPath(new URL(`./packages/${pkg}/src/${entry}.ts`, import.meta.url));
const entries: Array<[string, string, string?]> = [
  ['@easy-explain/core', 'core'],
  ['@easy-explain/core/internal', 'core', 'internal'],
  ['@easy-explain/viz', 'viz'],
  ['@easy-explain/onnx', 'onnx'],
  ['@easy-explain/runtime', 'runtime'],
  ['@easy-explain/runtime/nchw', 'runtime', 'nchw'],
  ['@easy-explain/backend-node', 'backend-node'],
  ['@easy-explain/backend-web', 'backend-web'],
];
export const sourceAliases = entries.map(([name, pkg, entry]) => ({
  find: new RegExp(`^${name.replace(/[/]/g, '\\/')}$`),
  replacement: src(pkg, entry),
}));
