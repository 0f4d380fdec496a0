import { fileURLToPath } from 'node:url';

// Tests import the workspace packages from their TypeScript sources, so a test never runs against a stale build.
const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));
export const sourceAliases = {
  '@easy-explain/core': src('core'),
  '@easy-explain/viz': src('viz'),
  '@easy-explain/backend-node': src('backend-node'),
  '@easy-explain/backend-web': src('backend-web'),
  '@easy-explain/onnx': src('onnx'),
};
