// A local AWS API emulator (moto in server mode) for integration tests and benchmarks; the SDK clients
// reach it through AWS_ENDPOINT_URL or an explicit endpoint. Under Jest, the global setup
// (test/setup/global-setup.ts) installs moto (test/support/test-tools.ts) and starts one server per Jest
// worker before any test runs, so no test waits for an emulator to boot against its timeout; a test file
// takes its worker's server, reset to empty. Outside Jest (benchmarks) startMoto() installs and starts a
// server of its own. No Jest import here, so benchmarks can use it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { ensureTestTools, TOOL_ENV } from './test-tools';
import { stopChild } from './child-process';

export interface Moto {
  readonly endpoint: string;
  stop(): Promise<void>;
  /** Drops every resource (moto's reset API) so tests do not see each other's state. */
  reset(): Promise<void>;
}

/** Why the moto-backed tests cannot run in this Jest run, or undefined when they can. */
export function motoSkipReason(): string | undefined {
  return process.env[TOOL_ENV.motoSkip] || undefined;
}

/** A TCP port free on 127.0.0.1 right now (the caller retries if another process takes it first). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// Runs moto's server and exits when its parent dies, so a killed test run leaves no emulator behind.
const LAUNCHER = `
import os, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
# One request at a time. moto's server is threaded, and its backends do not isolate concurrent requests:
# two TransactWriteItems could both pass their conditions, and two TerminateInstanceInAutoScalingGroup
# calls could both launch a replacement. DynamoDB and Auto Scaling isolate such requests, and the tests
# check what the code does against that; a loaded machine made them interleave and fail.
import werkzeug.serving as _serving
_run_simple = _serving.run_simple
def _serial_run_simple(*args, **kwargs):
    kwargs['threaded'] = False
    return _run_simple(*args, **kwargs)
_serving.run_simple = _serial_run_simple
import moto.server as _moto_server
if getattr(_moto_server, 'run_simple', None) is not _serial_run_simple:
    # moto no longer starts through the name patched above: refuse to serve rather than run threaded.
    sys.exit('moto.server does not start through werkzeug.serving.run_simple any more: cannot make it serve one request at a time')
_moto_server.main(sys.argv[1:])
`;

export interface MotoServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts `python -m moto.server` on a free loopback port and resolves once it answers. It waits for
 * the process rather than the clock: it fails when the server exits, and gives up only after a
 * deadline no healthy start comes near (a loaded machine is slow, not broken). `prelude` is Python run
 * before the server starts (a test's own adjustments to the emulator).
 */
export async function spawnMotoServer(python: string, prelude = ''): Promise<MotoServer> {
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(python, ['-c', prelude + LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 300_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      try {
        const res = await fetch(`${endpoint}/moto-api/`);
        if (res.status < 500) {
          return {
            endpoint,
            stop: () => stopChild(child, (c) => c.kill('SIGTERM')),
          };
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`moto server on ${endpoint} did not answer within 300 s`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    // Exited: most likely another process took the port between freePort() and the bind; retry.
    lastError = `moto server exited (${child.exitCode ?? child.signalCode}): ${stderr.trim().split('\n').at(-1) ?? ''}`;
  }
  throw new Error(lastError);
}

async function resetAt(endpoint: string): Promise<void> {
  const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  if (!res.ok) throw new Error(`moto reset at ${endpoint} answered HTTP ${res.status}`);
}

/** The server the global setup started for this Jest worker, or undefined outside such a run. */
function workerEndpoint(): string | undefined {
  const endpoints = process.env[TOOL_ENV.motoEndpoints]?.split(',').filter(Boolean) ?? [];
  if (endpoints.length === 0) return undefined;
  const worker = Number(process.env.JEST_WORKER_ID ?? '1');
  return endpoints[(worker - 1) % endpoints.length];
}

export async function startMoto(): Promise<Moto> {
  const reason = motoSkipReason();
  if (reason) throw new Error(`moto is unavailable: ${reason} (use describeWithMoto so the tests are skipped)`);
  const shared = workerEndpoint();
  if (shared) {
    // Test files of one worker run one after another, so the worker's server is this file's alone.
    await resetAt(shared);
    return { endpoint: shared, reset: () => resetAt(shared), stop: async () => undefined };
  }
  if (process.env.JEST_WORKER_ID) {
    throw new Error('no moto server for this Jest run: run Jest with jest.config.js (its globalSetup starts moto)');
  }
  const tools = await ensureTestTools((line) => console.error(line));
  if (!tools.moto.ok) throw new Error(`moto is unavailable: ${tools.moto.reason}`);
  const server = await spawnMotoServer(tools.moto.path);
  return { endpoint: server.endpoint, reset: () => resetAt(server.endpoint), stop: () => server.stop() };
}
