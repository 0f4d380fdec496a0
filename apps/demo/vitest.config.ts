import { defineProject } from 'vitest/config';
import { sourceAliases } from '../../vitest.shared.ts';

// Browser tests: real Chromium on software WebGPU is slow, hence the long timeouts.
export default defineProject({
  resolve: { alias: sourceAliases },
  test: { name: 'demo', include: ['test/**/*.test.ts'], testTimeout: 600_000, hookTimeout: 600_000 },
});
