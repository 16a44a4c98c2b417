import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEAL_TOKEN_OBJECT, STAKE_STATUSES, STAKE_VALUE, STAKING_POOL_HEAD } from '../../../../lambdas/shared/sui/objects';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

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

// The pool's stake table is read by `k3s-daas stake list`; its layouts must follow the Move structs. These
// tests read the structs out of contracts/sources/staking.move, so a change there fails here, not on chain.
describe('staking pool and stake layouts follow contracts/sources/staking.move', () => {
  const source = readFileSync(join(REPO_ROOT, 'contracts', 'sources', 'staking.move'), 'utf8');
  const fieldsOf = (struct: string): [string, string][] => {
    const body = new RegExp(`public struct ${struct} has [^{]+\\{([^}]*)\\}`).exec(source)?.[1] ?? '';
    return body
      .split('\n')
      .map((line) => line.replace(/\/\/.*$/, '').trim())
      .filter(Boolean)
      .map((line) => {
        const m = /^(\w+): (.+?),?$/.exec(line);
        return [m?.[1] ?? line, m?.[2] ?? ''];
      });
  };

  it('Stake: field order and types', () => {
    expect(fieldsOf('Stake')).toEqual([
      ['owner', 'address'], ['role', 'u8'], ['node_id', 'String'], ['balance', 'Balance<SUI>'],
      ['staked_at_ms', 'u64'], ['status', 'u8'], ['slashed', 'bool'], ['unlock_at_ms', 'u64'],
    ]);
    const bytes = STAKE_VALUE.serialize({ owner: '0x' + '22'.repeat(32), role: 1, node_id: 'op', balance: 5n, staked_at_ms: 6n, status: 1, slashed: true, unlock_at_ms: 7n }).toBytes();
    expect(Buffer.from(bytes).toString('hex')).toBe('22'.repeat(32) + '01' + '026f70' + '0500000000000000' + '0600000000000000' + '01' + '01' + '0700000000000000');
  });

  it('StakingPool: the fields before and including the stake table', () => {
    expect(fieldsOf('StakingPool').slice(0, 4)).toEqual([['id', 'UID'], ['min_stake', 'vector<u64>'], ['lockup_ms', 'vector<u64>'], ['stakes', 'Table<ID, Stake>']]);
    const head = STAKING_POOL_HEAD.serialize({ id: '0x' + '01'.repeat(32), min_stake: [1n], lockup_ms: [], stakes: { id: '0x' + '02'.repeat(32), size: 3n } }).toBytes();
    // Anything after the table (slashed funds, approved admins) is left unread.
    expect(STAKING_POOL_HEAD.parse(new Uint8Array([...head, 0xff, 0xff])).stakes).toEqual({ id: '0x' + '02'.repeat(32), size: '3' });
  });

  it('stake statuses are the STATUS_* constants in order', () => {
    const constants = [...source.matchAll(/const STATUS_(\w+): u8 = (\d+);/g)].map((m) => [m[1].toLowerCase(), Number(m[2])]);
    expect(constants).toEqual(STAKE_STATUSES.map((s, i) => [s, i]));
  });
});
