// Roles and permission tiers of the `k3s_daas` Move package (DESIGN §7). The Move code is the source of
// truth on chain; these constants must match `contracts/sources/staking.move` and `seal_token.move`.

export const ROLES = ['user', 'node', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Role as the `u8` used on chain: 0 user, 1 node, 2 admin. */
export function roleFromU8(value: number): Role {
  const role = ROLES[value];
  if (role === undefined) throw new RangeError(`unknown role ${value}`);
  return role;
}

export function roleToU8(role: Role): number {
  return ROLES.indexOf(role);
}

export const MIST_PER_SUI = 1_000_000_000n;

/** Pool defaults at publish time (the pool can change them; the indexer records the live values). */
export const DEFAULT_MIN_STAKE_MIST: Record<Role, bigint> = {
  user: MIST_PER_SUI / 10n,
  node: MIST_PER_SUI,
  admin: 10n * MIST_PER_SUI,
};

/** Permission seeds per stake tier, as `seal_token::issue` grants them. */
export const TIER_PERMISSIONS: Record<Role, readonly string[]> = {
  user: ['read'],
  node: ['read', 'node:write'],
  admin: ['read', 'write', 'node:write', 'admin'],
};
