// Abort codes of the `k3s_daas` Move package → the named error constants in `contracts/sources/*.move`.
// The codes are plain and unique across the package (staking 0–99, seal_token 100–199,
// enclave_registry 200–299); a test parses the Move sources to keep this table in step with them.
import type { SuiClientTypes } from '@mysten/sui/client';
import { normalizeSuiAddress } from '@mysten/sui/utils';

export type MoveModule = 'staking' | 'seal_token' | 'enclave_registry';

export interface MoveErrorInfo {
  readonly module: MoveModule;
  readonly name: string;
  readonly message: string;
}

export const MOVE_ERRORS: Readonly<Record<MoveModule, Readonly<Record<number, { name: string; message: string }>>>> = {
  staking: {
    0: { name: 'EInvalidRole', message: 'role must be 0 (user), 1 (node) or 2 (admin)' },
    1: { name: 'EStakeBelowMinimum', message: 'stake is below the minimum for its role' },
    2: { name: 'EInvalidNodeId', message: 'node stakes need a node id of 1 to 128 bytes; other roles none' },
    3: { name: 'EWrongPool', message: 'the receipt or admin cap belongs to another pool' },
    4: { name: 'EUnknownStake', message: 'no such stake in this pool' },
    5: { name: 'EAlreadyUnbonding', message: 'the stake is already unbonding' },
    6: { name: 'EAlreadyWithdrawn', message: 'the stake was already withdrawn' },
    7: { name: 'ENotUnbonding', message: 'request_unstake before withdraw' },
    8: { name: 'ELockupNotOver', message: 'the lock-up period has not ended' },
    9: { name: 'EZeroSlash', message: 'slash amount must be positive' },
    10: { name: 'ESlashExceedsStake', message: 'slash amount exceeds the stake' },
    11: { name: 'EInvalidLockup', message: 'lock-up must be at most 365 days' },
    12: { name: 'EZeroMinimum', message: 'minimum stake must be positive' },
    13: { name: 'ENothingSlashed', message: 'amount exceeds the slashed funds held by the pool' },
    14: { name: 'ENotWithdrawn', message: "only a withdrawn stake's receipt can be destroyed" },
    15: { name: 'ENotApprovedAdmin', message: 'admin stakes are reserved to addresses the admin has approved' },
    16: { name: 'EAlreadyApprovedAdmin', message: 'the address is already an approved admin' },
  },
  seal_token: {
    100: { name: 'EInvalidTtl', message: 'ttl_ms must be between 1 ms and 365 days' },
    101: { name: 'EInvalidClusterId', message: 'cluster id must be 1 to 64 bytes' },
    102: { name: 'EStakeNotActive', message: 'the stake is unbonding or withdrawn' },
    103: { name: 'EStakeSlashed', message: 'the stake was slashed' },
    104: { name: 'EInsufficientStake', message: 'the stake is below the pool minimum for its role' },
    105: { name: 'EForeignReceipt', message: 'the receipt belongs to another pool' },
    106: { name: 'ENotApprovedAdmin', message: 'admin tokens are reserved to approved admins' },
    107: { name: 'ENotStakeOwner', message: "only the stake's owner can issue tokens against it" },
  },
  enclave_registry: {
    200: { name: 'EInvalidPcrs', message: 'PCR index and value lists differ in length, are empty, unsorted, or repeat an index' },
    201: { name: 'EInvalidPcrValue', message: 'a PCR value is not 48 bytes or its index is above 31' },
    202: { name: 'EUnknownCluster', message: 'no expected PCRs are set for this cluster' },
    203: { name: 'EPcrMismatch', message: 'the attested PCRs differ from the expected ones' },
    204: { name: 'EMissingPublicKey', message: 'the attestation carries no public key' },
    205: { name: 'EStaleAttestation', message: 'the attestation document is too old or from the future' },
    206: { name: 'EInvalidClusterId', message: 'cluster id must be 1 to 64 bytes' },
    207: { name: 'ENoOpenRegistration', message: 'no registration is open for this cluster' },
    208: { name: 'EBindingMismatch', message: "the attestation's nonce or user data is not the open registration's" },
    209: { name: 'EInvalidUserData', message: 'user data must be 1 to 512 bytes' },
  },
};

/** Names an abort raised by one of our modules; undefined for other packages' aborts or unknown codes. */
export function moveErrorFor(packageId: string, location: { package?: string; module?: string } | undefined, abortCode: string | number | bigint): MoveErrorInfo | undefined {
  if (!location?.package || !location.module) return undefined;
  if (normalizeSuiAddress(location.package) !== normalizeSuiAddress(packageId)) return undefined;
  const table = MOVE_ERRORS[location.module as MoveModule] as Record<number, { name: string; message: string }> | undefined;
  if (!table) return undefined;
  const code = Number(abortCode);
  const entry = Number.isSafeInteger(code) ? table[code] : undefined;
  return entry ? { module: location.module as MoveModule, ...entry } : undefined;
}

/**
 * One line describing a failed execution: for our aborts `staking::ELockupNotOver (the lock-up period has not
 * ended)`; otherwise the SDK's message, which names the module and code.
 */
export function describeExecutionError(error: SuiClientTypes.ExecutionError | undefined, packageId: string): string {
  if (!error) return 'transaction failed';
  if (error.$kind === 'MoveAbort') {
    const named = moveErrorFor(packageId, error.MoveAbort.location, error.MoveAbort.abortCode);
    if (named) return `${named.module}::${named.name} (${named.message})`;
    const where = error.MoveAbort.location;
    const fn = where?.module ? ` in ${where.module}${where.functionName ? `::${where.functionName}` : ''}` : '';
    return `Move abort ${error.MoveAbort.abortCode}${fn}`;
  }
  return error.message.split('\n')[0];
}
