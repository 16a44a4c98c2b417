import { describe, expect, it } from '@jest/globals';
import { SEAL_TOKEN_OBJECT } from '../../../../lambdas/shared/sui/objects';

describe('object BCS schemas', () => {
  it('SealToken matches the Move BCS fixture (contracts/tests/seal_token_tests.move)', () => {
    const id = '0x' + '99'.repeat(32);
    const bytes = SEAL_TOKEN_OBJECT.serialize({
      id, stake_id: '0x' + '11'.repeat(32), owner: '0x' + '22'.repeat(32), role: 1,
      permissions: ['read', 'node:write'], cluster_id: 'dev', issued_at_ms: 1000n, expires_at_ms: 2000n,
    }).toBytes();
    expect(Buffer.from(bytes).toString('hex')).toBe(
      '99'.repeat(32) + '11'.repeat(32) + '22'.repeat(32) + '010204726561640a6e6f64653a777269746503646576e803000000000000d007000000000000',
    );
    expect(SEAL_TOKEN_OBJECT.parse(bytes).cluster_id).toBe('dev');
  });
});
