// shellcheck for the user-data tests, from the project's own tool environment (test/support/test-tools.ts,
// set up by the Jest global setup). Without it the test is reported as skipped with the reason.
import { it } from '@jest/globals';
import { SKIP_MARK, TOOL_ENV } from './test-tools';

export function shellcheckSkipReason(): string | undefined {
  if (process.env[TOOL_ENV.shellcheckSkip]) return process.env[TOOL_ENV.shellcheckSkip];
  if (!process.env[TOOL_ENV.shellcheck]) return 'the Jest global setup (test/setup/global-setup.ts) did not run';
  return undefined;
}

/** `it` for a test that runs shellcheck; the test gets the binary's path. */
export function itWithShellcheck(name: string, fn: (shellcheck: string) => void | Promise<void>): void {
  const reason = shellcheckSkipReason();
  if (reason) it.skip(`${name} — ${SKIP_MARK}shellcheck unavailable: ${reason}`, () => undefined);
  else it(name, () => fn(process.env[TOOL_ENV.shellcheck]!));
}
