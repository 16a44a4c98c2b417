// BCS layouts of the package's owned objects, as the gRPC API returns their contents. Field order and types
// equal the Move structs (`UID`/`ID` are 32-byte addresses).
import { bcs } from '@mysten/sui/bcs';

export const SEAL_TOKEN_OBJECT = bcs.struct('SealToken', {
  id: bcs.Address,
  stake_id: bcs.Address,
  owner: bcs.Address,
  role: bcs.u8(),
  permissions: bcs.vector(bcs.string()),
  cluster_id: bcs.string(),
  issued_at_ms: bcs.u64(),
  expires_at_ms: bcs.u64(),
});

export const STAKE_RECEIPT_OBJECT = bcs.struct('StakeReceipt', {
  id: bcs.Address,
  pool_id: bcs.Address,
});

/**
 * The leading fields of the shared `staking::StakingPool`, up to its table of stakes; the fields after it
 * are not read (BCS is read front to back, so they may change without breaking this).
 */
export const STAKING_POOL_HEAD = bcs.struct('StakingPoolHead', {
  id: bcs.Address,
  min_stake: bcs.vector(bcs.u64()),
  lockup_ms: bcs.vector(bcs.u64()),
  stakes: bcs.struct('Table', { id: bcs.Address, size: bcs.u64() }),
});

/** `staking::Stake` (a `Balance<SUI>` is its `u64` value). */
export const STAKE_VALUE = bcs.struct('Stake', {
  owner: bcs.Address,
  role: bcs.u8(),
  node_id: bcs.string(),
  balance: bcs.u64(),
  staked_at_ms: bcs.u64(),
  status: bcs.u8(),
  slashed: bcs.bool(),
  unlock_at_ms: bcs.u64(),
});

/** A stake's entry in the pool's `Table<ID, Stake>`: the dynamic field object `Field<ID, Stake>`. */
export const STAKE_TABLE_ENTRY = bcs.struct('Field', { id: bcs.Address, name: bcs.Address, value: STAKE_VALUE });

/** The table's key type: entries live at `deriveDynamicFieldID(tableId, STAKE_TABLE_KEY_TYPE, bcs(stakeId))`. */
export const STAKE_TABLE_KEY_TYPE = '0x2::object::ID';

/** `staking::STATUS_*`. */
export const STAKE_STATUSES = ['active', 'unbonding', 'withdrawn'] as const;
export type StakeStatus = (typeof STAKE_STATUSES)[number];
