import { defineConfig } from 'vitest/config';
import projects from './vitest.workspace.ts';

// vitest 4 no longer reads vitest.workspace.ts on its own; this re-exports it.
export default defineConfig({ test: { projects } });
