// The CLI tests run dist/cli.js as a user would: build the package (and its references) first, so they never
// run a stale build. A no-op when turbo has just built it.
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const pkg = fileURLToPath(new URL('../', import.meta.url));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b'], { cwd: pkg, stdio: 'inherit' });
  chmodSync(`${pkg}dist/cli.js`, 0o755);
}
