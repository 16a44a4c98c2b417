// EXPECTED_PCRS carries pcrs.json to the functions; anything but valid PCRs or "none" stops cold start.
import { describe, expect, it } from '@jest/globals';
import { parseExpectedPcrsEnv, renderExpectedPcrsEnv } from '../../../../lambdas/shared/attestation/expected-pcrs-env';
import { TEST_PCRS } from '../../../support/nitro-test-ca';

describe('EXPECTED_PCRS', () => {
  it('round-trips the PCRs of pcrs.json', () => {
    const pcrs = { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2], 8: TEST_PCRS[8] };
    expect(parseExpectedPcrsEnv(renderExpectedPcrsEnv(pcrs))).toEqual(pcrs);
  });

  it('"none" (no enclave build) parses to no expected PCRs, so every document is refused', () => {
    expect(renderExpectedPcrsEnv(undefined)).toBe('none');
    expect(parseExpectedPcrsEnv('none')).toBeUndefined();
  });

  it.each([
    ['not JSON', '{'],
    ['PCR2 missing', JSON.stringify({ 0: TEST_PCRS[0], 1: TEST_PCRS[1] })],
    ['uppercase hex', JSON.stringify({ 0: TEST_PCRS[0].toUpperCase(), 1: TEST_PCRS[1], 2: TEST_PCRS[2] })],
    ['an unknown key', JSON.stringify({ 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2], 5: TEST_PCRS[0] })],
    ['an empty object', '{}'],
  ])('refuses %s', (_name, value) => {
    expect(() => parseExpectedPcrsEnv(value)).toThrow(/EXPECTED_PCRS/);
  });
});
