// Child processes of the e2e suite and the sandbox: every one is tracked by PID, its output kept in a
// log file for the failure message, and stopped by that PID (SIGTERM, then SIGKILL after a grace period).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';

export interface Peer {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly child: ChildProcess;
  /** The last lines of its log, for error messages. */
  tail(lines?: number): string;
  stop(): Promise<void>;
}

export { freePort } from '../../support/moto-server';

export function startPeer(name: string, command: string, args: string[], logFile: string, options: SpawnOptions = {}): Peer {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(command, args, { ...options, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  const tail = (lines = 30) => {
    try {
      return fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  return {
    name, pid, logFile, child, tail,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
      }, 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `probe` until it returns a value (not undefined), at most `attempts` times `intervalMs` apart. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, opts: { attempts: number; intervalMs: number; alive?: Peer[] }): Promise<T> {
  let lastError: unknown;
  for (let i = 0; i < opts.attempts; i++) {
    for (const peer of opts.alive ?? []) {
      if (peer.child.exitCode !== null) throw new Error(`${peer.name} (pid ${peer.pid}) exited with ${peer.child.exitCode} while waiting for ${what}:\n${peer.tail()}`);
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
  const peers = (opts.alive ?? []).map((p) => `--- ${p.name} (${p.logFile}):\n${p.tail()}`).join('\n');
  throw new Error(`gave up waiting for ${what} after ${opts.attempts} attempts${lastError ? ` (last error: ${String(lastError)})` : ''}\n${peers}`);
}
