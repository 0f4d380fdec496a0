import { defineProject } from 'vitest/config';
import { sourceAliases } from '../../vitest.shared.ts';

// Browser tests: real Chromium on software WebGPU is slow, hence the long timeouts. They run after every other
// project (groupOrder 1) and one file at a time, so the page's responsiveness is measured on a machine that is not
// also running the Node suites.
export default defineProject({
  resolve: { alias: sourceAliases },
  test: {
    name: 'demo',
    include: ['test/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    sequence: { groupOrder: 1 },
  },
});
