import { describe, expect, it } from '@jest/globals';
import { canonicalSuiId, suiIdSchema } from '../../../../lambdas/shared/sui/ids';

const ID = '0x' + 'ab'.repeat(32);

describe('Sui ids', () => {
  it('the schema takes only the canonical form and names the rule', () => {
    expect(suiIdSchema().parse(ID)).toBe(ID);
    for (const bad of [ID.toUpperCase().replace('0X', '0x'), ID.slice(0, -1), ID.slice(2), `${ID}0`, ' ' + ID]) {
      const result = suiIdSchema().safeParse(bad);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0].message).toBe('must be 0x followed by 64 lowercase hex characters');
    }
  });

  it('what a person types is made canonical (case, surrounding space) or refused', () => {
    expect(canonicalSuiId(` ${ID.toUpperCase().replace('0X', '0x')} `)).toBe(ID);
    expect(canonicalSuiId('0x12')).toBeUndefined();
    expect(canonicalSuiId('not an id')).toBeUndefined();
  });
});
