// Stopping a test's helper process: `end` asks it to go (a signal, closing its stdin), and the promise
// settles once it has exited, at once when it already had.
import type { ChildProcess } from 'node:child_process';

export function stopChild(child: ChildProcess, end: (child: ChildProcess) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    end(child);
  });
}
