import { defineProject } from 'vitest/config';
import { sourceAliases } from '../../vitest.shared.ts';

export default defineProject({
  resolve: { alias: sourceAliases },
  test: { name: 'onnx', include: ['test/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 300_000 },
});
