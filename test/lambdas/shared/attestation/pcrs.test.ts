import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import { expectedPcrsOf, parsePcrFile, PcrFileError } from '../../../../lambdas/shared/attestation/pcrs';
import { FIXTURE_PCRS } from '../../../support/cdk-app';

const valid = JSON.parse(fs.readFileSync(FIXTURE_PCRS, 'utf8'));

describe('pcrs.json contract', () => {
  it('accepts the fixture and maps it to expected PCR indexes', () => {
    const file = parsePcrFile(JSON.stringify(valid));
    expect(expectedPcrsOf(file)).toEqual({ 0: valid.PCR0, 1: valid.PCR1, 2: valid.PCR2 });
    expect(expectedPcrsOf({ ...file, PCR8: 'c'.repeat(96) })[8]).toBe('c'.repeat(96));
  });

  it.each([
    ['PCR0', 'A'.repeat(96), /PCR0 must be 96 lowercase hex/],
    ['PCR1', 'a'.repeat(95), /PCR1 must be 96 lowercase hex/],
    ['eifSha256', 'a'.repeat(96), /eifSha256 must be 64 lowercase hex/],
    ['arch', 'arm', /arch/],
    ['PCR2', undefined, /PCR2/],
    ['extra', 'x', /Unrecognized key/],
  ])('rejects a bad %s naming it', (field, value, message) => {
    const bad = { ...valid, [field]: value };
    if (value === undefined) delete bad[field];
    expect(() => parsePcrFile(JSON.stringify(bad))).toThrow(PcrFileError);
    expect(() => parsePcrFile(JSON.stringify(bad))).toThrow(message);
  });

  it('rejects text that is not JSON', () => {
    expect(() => parsePcrFile('{', 'enclave/pcrs.json')).toThrow('enclave/pcrs.json is not valid JSON');
  });
});
