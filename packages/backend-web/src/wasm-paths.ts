// The wasm backend's binaries, found as assets of @tensorflow/tfjs-backend-wasm, this package's dependency, so they
// always match the JS that loads them. Written as `new URL('<package>/<file>', import.meta.url)` in the worker modules'
// own code: Vite resolves the package path from here (in `vite build` and, as workers are not pre-bundled, in the
// dev server too), copies the file into the build and rewrites the URL; webpack 5 does the same.
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

/** Points the wasm backend at the packaged binaries; `setupBackend({ wasmPaths })` from the page overrides it. */
export function usePackagedWasm(): void {
  const simd = new URL('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm', import.meta.url).href;
  const plain = new URL('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm', import.meta.url).href;
  // tfjs wants all three names; the threaded binary is never fetched, as setupBackend turns threads off.
  setWasmPaths({ 'tfjs-backend-wasm-simd.wasm': simd, 'tfjs-backend-wasm.wasm': plain, 'tfjs-backend-wasm-threaded-simd.wasm': simd });
}
