#!/usr/bin/env node
// `k3s-daas` CLI entry (DESIGN §9). Bundled to dist/k3s-daas.mjs by `npm run build:cli`.
import * as os from 'node:os';
import { runCli } from '../cli/program';

const code = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  homeDir: os.homedir(),
  now: () => new Date(),
  fetch: globalThis.fetch,
  errIsTTY: process.stderr.isTTY === true,
});
process.exitCode = code;
