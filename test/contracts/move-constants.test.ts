// The TypeScript side restates a few Move constants (roles.ts); these tests read the Move sources so the two
// cannot drift apart silently.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { DEFAULT_MIN_STAKE_MIST, ROLES, TIER_PERMISSIONS } from '../../lambdas/shared/sui/roles';
import { MAX_CLUSTER_ID_BYTES, MAX_NODE_ID_BYTES, MAX_TOKEN_TTL_MS } from '../../lambdas/shared/sui/transactions';

const staking = readFileSync('contracts/sources/staking.move', 'utf8');
const sealToken = readFileSync('contracts/sources/seal_token.move', 'utf8');

function u64Constant(source: string, name: string): bigint {
  const match = new RegExp(`const ${name}: u64 = ([\\d_]+);`).exec(source);
  if (!match) throw new Error(`${name} not found`);
  return BigInt(match[1].replaceAll('_', ''));
}

describe('Move constants restated in TypeScript', () => {
  it('role codes are user 0, node 1, admin 2', () => {
    expect(ROLES).toEqual(['user', 'node', 'admin']);
    expect(staking).toMatch(/const ROLE_USER: u8 = 0;/);
    expect(staking).toMatch(/const ROLE_NODE: u8 = 1;/);
    expect(staking).toMatch(/const ROLE_ADMIN: u8 = 2;/);
  });

  it('default minimum stakes equal DEFAULT_MIN_STAKE_MIST', () => {
    expect(u64Constant(staking, 'DEFAULT_MIN_STAKE_USER')).toBe(DEFAULT_MIN_STAKE_MIST.user);
    expect(u64Constant(staking, 'DEFAULT_MIN_STAKE_NODE')).toBe(DEFAULT_MIN_STAKE_MIST.node);
    expect(u64Constant(staking, 'DEFAULT_MIN_STAKE_ADMIN')).toBe(DEFAULT_MIN_STAKE_MIST.admin);
  });

  it('tier permissions equal TIER_PERMISSIONS', () => {
    const body = /public fun tier_permissions[\s\S]*?\n}\n/.exec(sealToken)![0];
    const tiers = [...body.matchAll(/vector\[([^\]]*)\]/g)].map((m) => [...m[1].matchAll(/b"([^"]*)"/g)].map((s) => s[1]));
    expect(tiers.slice(0, 3)).toEqual([TIER_PERMISSIONS.user, TIER_PERMISSIONS.node, TIER_PERMISSIONS.admin]);
  });

  it('input limits equal the transaction builders’ checks', () => {
    expect(u64Constant(sealToken, 'MAX_TTL_MS')).toBe(BigInt(MAX_TOKEN_TTL_MS));
    expect(u64Constant(sealToken, 'MAX_CLUSTER_ID_BYTES')).toBe(BigInt(MAX_CLUSTER_ID_BYTES));
    expect(u64Constant(staking, 'MAX_NODE_ID_BYTES')).toBe(BigInt(MAX_NODE_ID_BYTES));
  });
});
