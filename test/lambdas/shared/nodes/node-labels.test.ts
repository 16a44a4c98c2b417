// External node names and labels: label-safe, derived from stake and request, distinct per request.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { EXTERNAL_NODE_NAME_PATTERN, externalNodeName, nodeLabels, stakeIdLabels } from '../../../../lambdas/shared/nodes/node-labels';

const DNS1123_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const suiId = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => '0x' + Buffer.from(b).toString('hex'));
const requestId = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64url'));

describe('external node names and labels', () => {
  it('names are DNS-1123 labels carrying the stake prefix, the same for a retried request and different for another', () => {
    fc.assert(
      fc.property(suiId, requestId, requestId, (stake, a, b) => {
        const name = externalNodeName(stake, a);
        expect(name).toMatch(DNS1123_LABEL);
        expect(name).toMatch(EXTERNAL_NODE_NAME_PATTERN);
        expect(name.startsWith(`ext-${stake.slice(2, 14)}-`)).toBe(true);
        expect(externalNodeName(stake, a)).toBe(name);
        if (a !== b) expect(externalNodeName(stake, b)).not.toBe(name);
      }),
    );
  });

  it('labels split the stake id into two valid label values that join back to it', () => {
    fc.assert(
      fc.property(suiId, (stake) => {
        const labels = nodeLabels(stake, 'external');
        for (const v of Object.values(labels)) {
          expect(v.length).toBeLessThanOrEqual(63);
          expect(v).toMatch(LABEL_VALUE);
        }
        expect(`0x${labels['k3s-daas.io/stake-id-hi']}${labels['k3s-daas.io/stake-id-lo']}`).toBe(stake);
        expect(labels['k3s-daas.io/node-kind']).toBe('external');
      }),
    );
  });

  it('refuses what is not a Sui id', () => {
    expect(() => stakeIdLabels('0x12')).toThrow(/stakeId/);
    expect(() => externalNodeName('0x' + 'A'.repeat(64), 'r')).toThrow(/stakeId/);
  });
});
