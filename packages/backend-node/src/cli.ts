#!/usr/bin/env node
// The `easy-explain` command. Ctrl-C aborts the attribution between batches (exit 130); a second Ctrl-C exits at once.
import { runCli } from './run-cli.js';

const controller = new AbortController();
let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  controller.abort(new Error('SIGINT'));
});

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
// wasm and fetch can leave handles open; the work is done, so leave now.
process.exit(code);
