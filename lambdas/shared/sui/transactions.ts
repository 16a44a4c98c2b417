// Transaction builders for the `k3s_daas` Move entry points (DESIGN §7). Each returns an unsigned
// `Transaction` whose object inputs (pool, receipt, token) the node resolves when the client builds it.
// Inputs are checked here with the same limits as the Move code so bad input fails before any gas is spent.
import { Transaction } from '@mysten/sui/transactions';
import { isValidSuiAddress, isValidSuiObjectId, normalizeSuiAddress, normalizeSuiObjectId } from '@mysten/sui/utils';
import { ROLES, roleToU8, type Role } from './roles';

/** Mirrors `seal_token::MAX_TTL_MS` and the other Move limits. */
export const MAX_TOKEN_TTL_MS = 365 * 24 * 3_600_000;
export const MAX_CLUSTER_ID_BYTES = 64;
export const MAX_NODE_ID_BYTES = 128;
const U64_MAX = (1n << 64n) - 1n;

export class InvalidTransactionInputError extends Error {}

export interface PoolRef {
  packageId: string;
  stakingPoolId: string;
}

export const moveTarget = (packageId: string, module: 'staking' | 'seal_token' | 'enclave_registry', fn: string): `${string}::${string}::${string}` =>
  `${normalizeSuiObjectId(packageId)}::${module}::${fn}`;

/** The Move type of a seal token / stake receipt object of the package. */
export const sealTokenType = (packageId: string): string => moveTarget(packageId, 'seal_token', 'SealToken');
export const stakeReceiptType = (packageId: string): string => moveTarget(packageId, 'staking', 'StakeReceipt');

export interface StakeInput extends PoolRef {
  /** Receives the `StakeReceipt`. */
  owner: string;
  amountMist: bigint;
  role: Role;
  /** Node stakes name the node operator id; user and admin stakes leave it empty. */
  nodeId?: string;
}

/** Splits `amountMist` off the gas coin, stakes it, and sends the receipt to `owner`. */
export function buildStakeTransaction(input: StakeInput): Transaction {
  const ref = poolRef(input);
  const owner = address(input.owner, 'owner');
  if (!ROLES.includes(input.role)) throw new InvalidTransactionInputError(`role must be one of ${ROLES.join(', ')}`);
  if (input.amountMist <= 0n || input.amountMist > U64_MAX) throw new InvalidTransactionInputError('amount must be a positive number of MIST below 2^64');
  const nodeId = input.nodeId ?? '';
  const nodeIdBytes = new TextEncoder().encode(nodeId).length;
  if (input.role === 'node' && (nodeIdBytes === 0 || nodeIdBytes > MAX_NODE_ID_BYTES)) {
    throw new InvalidTransactionInputError(`a node stake needs a node id of 1 to ${MAX_NODE_ID_BYTES} bytes`);
  }
  if (input.role !== 'node' && nodeIdBytes > 0) throw new InvalidTransactionInputError(`a ${input.role} stake takes no node id`);

  const tx = new Transaction();
  tx.setSender(owner);
  const [payment] = tx.splitCoins(tx.gas, [tx.pure.u64(input.amountMist)]);
  const receipt = tx.moveCall({
    target: moveTarget(ref.packageId, 'staking', 'stake'),
    arguments: [tx.object(ref.stakingPoolId), payment, tx.pure.u8(roleToU8(input.role)), tx.pure.string(nodeId), tx.object.clock()],
  });
  tx.transferObjects([receipt], owner);
  return tx;
}

export interface StakeRefInput extends PoolRef {
  sender: string;
  /** The stake id = the `StakeReceipt` object id, owned by `sender`. */
  stakeId: string;
}

export function buildRequestUnstakeTransaction(input: StakeRefInput): Transaction {
  const ref = poolRef(input);
  const tx = new Transaction();
  tx.setSender(address(input.sender, 'sender'));
  tx.moveCall({
    target: moveTarget(ref.packageId, 'staking', 'request_unstake'),
    arguments: [tx.object(ref.stakingPoolId), tx.object(objectId(input.stakeId, 'stake id')), tx.object.clock()],
  });
  return tx;
}

/** Withdraws after the lock-up, pays the sender, and deletes the now useless receipt in the same transaction. */
export function buildWithdrawTransaction(input: StakeRefInput): Transaction {
  const ref = poolRef(input);
  const sender = address(input.sender, 'sender');
  const tx = new Transaction();
  tx.setSender(sender);
  const pool = tx.object(ref.stakingPoolId);
  const receipt = tx.object(objectId(input.stakeId, 'stake id'));
  const coin = tx.moveCall({ target: moveTarget(ref.packageId, 'staking', 'withdraw'), arguments: [pool, receipt, tx.object.clock()] });
  tx.transferObjects([coin], sender);
  tx.moveCall({ target: moveTarget(ref.packageId, 'staking', 'destroy_receipt'), arguments: [pool, receipt] });
  return tx;
}

export interface IssueInput extends StakeRefInput {
  clusterId: string;
  ttlMs: number;
}

export function buildIssueTransaction(input: IssueInput): Transaction {
  const ref = poolRef(input);
  const clusterBytes = new TextEncoder().encode(input.clusterId).length;
  if (clusterBytes === 0 || clusterBytes > MAX_CLUSTER_ID_BYTES) {
    throw new InvalidTransactionInputError(`cluster id must be 1 to ${MAX_CLUSTER_ID_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(input.ttlMs) || input.ttlMs <= 0 || input.ttlMs > MAX_TOKEN_TTL_MS) {
    throw new InvalidTransactionInputError('token lifetime must be between 1 ms and 365 days');
  }
  const tx = new Transaction();
  tx.setSender(address(input.sender, 'sender'));
  tx.moveCall({
    target: moveTarget(ref.packageId, 'seal_token', 'issue'),
    arguments: [
      tx.object(ref.stakingPoolId),
      tx.object(objectId(input.stakeId, 'stake id')),
      tx.pure.string(input.clusterId),
      tx.pure.u64(input.ttlMs),
      tx.object.clock(),
    ],
  });
  return tx;
}

export function buildRevokeTransaction(input: { packageId: string; sender: string; tokenId: string }): Transaction {
  const tx = new Transaction();
  tx.setSender(address(input.sender, 'sender'));
  tx.moveCall({
    target: moveTarget(objectId(input.packageId, 'package id'), 'seal_token', 'revoke'),
    arguments: [tx.object(objectId(input.tokenId, 'token id'))],
  });
  return tx;
}

function poolRef(ref: PoolRef): PoolRef {
  return { packageId: objectId(ref.packageId, 'package id'), stakingPoolId: objectId(ref.stakingPoolId, 'staking pool id') };
}

function objectId(value: string, what: string): string {
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(value) || !isValidSuiObjectId(normalizeSuiObjectId(value))) {
    throw new InvalidTransactionInputError(`${what} "${value}" is not a Sui object id (0x followed by up to 64 hex digits)`);
  }
  return normalizeSuiObjectId(value);
}

function address(value: string, what: string): string {
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(value) || !isValidSuiAddress(normalizeSuiAddress(value))) {
    throw new InvalidTransactionInputError(`${what} "${value}" is not a Sui address`);
  }
  return normalizeSuiAddress(value);
}
