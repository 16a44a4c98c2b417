// Test-side entry to the local AWS emulator (test/support/moto-server.ts): startMoto() for a file's
// beforeAll, describeWithMoto() for the blocks that need it.
import { describe } from '@jest/globals';
import { motoSkipReason } from './moto-server';
import { SKIP_MARK } from './test-tools';

export { motoSkipReason, startMoto, type Moto } from './moto-server';

/**
 * `describe` for a block that needs moto: when the emulator could not be installed, the block's tests
 * are reported as skipped with the reason in their name (and in the run's closing summary), and the
 * file's hooks do not run.
 */
export function describeWithMoto(name: string, fn: () => void): void {
  const reason = motoSkipReason();
  if (reason) describe.skip(`${name} — ${SKIP_MARK}moto unavailable: ${reason}`, fn);
  else describe(name, fn);
}

