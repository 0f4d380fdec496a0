// A native occlusion worker (src/native/onnx-worker.ts) loads only what scoring on onnxruntime needs. Its engine's
// thread pool, TF.js's backends and the runtime's root cost each worker ~0.4 s of imports before its first window
// (a cold MobileNet job: 2.74–2.81 s with them, 2.20–2.28 s without), so they must stay out of its static imports.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

/** The files and the packages a source file reaches through value imports (`import type` and `import()` excluded). */
function staticImports(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/^import\s+(?!type\b)[^'"]*?from\s+['"]([^'"]+)['"]|^import\s+['"]([^'"]+)['"]/gm)) {
      if (!specifier) continue;
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else packages.add(specifier);
    }
  };
  visit(entry);
  return { files: [...files].map((f) => relative(SRC, f)).sort(), packages: [...packages].sort() };
}

describe('native worker imports', () => {
  it('reach neither TF.js, the runtime root nor the thread pool', () => {
    const { files, packages } = staticImports(join(SRC, 'native', 'onnx-worker.ts'));
    expect(files).toContain(join('native', 'onnx-fused.ts'));
    expect(files.filter((f) => !f.startsWith('native'))).toEqual([]);
    expect(packages.filter((p) => p.startsWith('@tensorflow/') || p === '@easy-explain/runtime' || p === 'onnxruntime-node')).toEqual([]);
    expect(packages).toContain('@easy-explain/runtime/nchw');
  });
});
