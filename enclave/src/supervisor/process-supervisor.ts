// Keeps one child process running: restarts it when it exits, with exponential backoff that resets
// after the child stayed up for a while, so a crash loop does not spin and a one-off crash recovers fast.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface SupervisedProcess {
  /** Stops restarting and terminates the child. */
  stop(): Promise<void>;
  readonly restarts: number;
}

export interface SuperviseOptions {
  command: string;
  args: string[];
  spawnOptions?: SpawnOptions;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A run at least this long resets the backoff. */
  healthyAfterMs?: number;
  onExit?: (code: number | null, signal: NodeJS.Signals | null, nextStartInMs: number) => void;
  spawnImpl?: typeof spawn;
}

export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt));
}

export function supervise(opts: SuperviseOptions): SupervisedProcess {
  const initial = opts.initialBackoffMs ?? 1000;
  const max = opts.maxBackoffMs ?? 60_000;
  const healthyAfter = opts.healthyAfterMs ?? 120_000;
  const spawnImpl = opts.spawnImpl ?? spawn;
  let child: ChildProcess | undefined;
  let stopped = false;
  let attempt = 0;
  let restarts = 0;
  let timer: NodeJS.Timeout | undefined;

  const start = () => {
    const startedAt = Date.now();
    child = spawnImpl(opts.command, opts.args, { stdio: 'inherit', ...opts.spawnOptions });
    const onDone = (code: number | null, signal: NodeJS.Signals | null) => {
      child = undefined;
      if (stopped) return;
      if (Date.now() - startedAt >= healthyAfter) attempt = 0;
      const delay = backoffDelay(attempt++, initial, max);
      opts.onExit?.(code, signal, delay);
      restarts++;
      timer = setTimeout(start, delay);
    };
    child.once('exit', onDone);
    child.once('error', () => onDone(null, null));
  };
  start();

  return {
    get restarts() {
      return restarts;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const running = child;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGTERM');
      });
    },
  };
}
