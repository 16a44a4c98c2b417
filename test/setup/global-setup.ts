// Jest global setup: makes sure the tools the tests need exist (installing them on first use, see
// test/support/test-tools.ts) and starts one moto server per Jest worker, once per run, before any test
// and its timeout start. Workers learn the results through the environment (TOOL_ENV).
// K3S_DAAS_REQUIRE_TEST_TOOLS=1 (set by .ci/run) turns a missing tool into a failed run instead of
// skipped tests, so CI cannot go green without the emulator-backed tests.
import { spawnMotoServer, type MotoServer } from '../support/moto-server';
import { ensureTestTools, ensureZsh, TOOL_ENV } from '../support/test-tools';

interface GlobalConfig {
  readonly maxWorkers: number;
}

declare global {
  var __k3sDaasMotoServers: MotoServer[] | undefined;
}

export default async function globalSetup(globalConfig: GlobalConfig): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const tools = { ...(await ensureTestTools(log)), zsh: await ensureZsh(log) };
  const required = process.env.K3S_DAAS_REQUIRE_TEST_TOOLS === '1';
  for (const [name, tool] of Object.entries(tools)) {
    if (tool.ok) continue;
    if (required) throw new Error(`test tool ${name} is unavailable (K3S_DAAS_REQUIRE_TEST_TOOLS=1): ${tool.reason}`);
    log(`test tools: ${name} unavailable, its tests will be SKIPPED: ${tool.reason}`);
  }
  if (tools.shellcheck.ok) process.env[TOOL_ENV.shellcheck] = tools.shellcheck.path;
  else process.env[TOOL_ENV.shellcheckSkip] = tools.shellcheck.reason;
  if (tools.zsh.ok) {
    process.env[TOOL_ENV.zsh] = tools.zsh.path;
    if (tools.zsh.modulePath) process.env[TOOL_ENV.zshModules] = tools.zsh.modulePath;
  } else process.env[TOOL_ENV.zshSkip] = tools.zsh.reason;

  if (!tools.moto.ok) {
    process.env[TOOL_ENV.motoSkip] = tools.moto.reason;
    return;
  }
  const python = tools.moto.path;
  process.env[TOOL_ENV.python] = python;
  const count = Math.max(1, globalConfig.maxWorkers);
  const started = await Promise.allSettled(Array.from({ length: count }, () => spawnMotoServer(python)));
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  globalThis.__k3sDaasMotoServers = servers;
  const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    await Promise.all(servers.map((s) => s.stop()));
    throw new Error(`moto server did not start: ${(failure.reason as Error).message}`);
  }
  process.env[TOOL_ENV.motoEndpoints] = servers.map((s) => s.endpoint).join(',');
}
