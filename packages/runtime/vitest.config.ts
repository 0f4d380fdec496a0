import { defineProject } from 'vitest/config';
import { sourceAliases } from '../../vitest.shared.ts';

export default defineProject({
  resolve: { alias: sourceAliases },
  test: { name: 'runtime', include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
});
