// Reading the caller's k3s_daas objects from the chain (seal tokens, stake receipts, and the stakes in the
// pool's table), decoded with the package's BCS layouts. Shared by `token list` and `stake list`.
import { bcs } from '@mysten/sui/bcs';
import type { SuiGrpcClient } from '@mysten/sui/grpc';
import { deriveDynamicFieldID } from '@mysten/sui/utils';
import {
  SEAL_TOKEN_OBJECT, STAKE_RECEIPT_OBJECT, STAKE_STATUSES, STAKE_TABLE_ENTRY, STAKE_TABLE_KEY_TYPE, STAKING_POOL_HEAD, type StakeStatus,
} from '../lambdas/shared/sui/objects';
import { roleFromU8 } from '../lambdas/shared/sui/roles';
import { sealTokenType, stakeReceiptType } from '../lambdas/shared/sui/transactions';
import type { CliContext } from './context';
import { RefusedError } from './errors';
import { withProgress } from './output';
import { toCliError, type SuiTarget } from './sui-command';

export interface ListedToken {
  tokenId: string;
  stakeId: string;
  role: string;
  permissions: string[];
  clusterId: string;
  issuedAt: string;
  expiresAt: string;
  expired: boolean;
}

export interface ListedReceipt {
  stakeId: string;
  poolId: string;
}

const PAGE = 50;

async function listAll<T>(
  ctx: CliContext,
  client: SuiGrpcClient,
  target: SuiTarget,
  query: { owner: string; type: string; what: string },
  decode: (objectId: string, content: Uint8Array) => T,
): Promise<T[]> {
  const found: T[] = [];
  const session = { config: target.config, address: query.owner, timeoutMs: target.timeoutMs };
  await withProgress(ctx, `reading the ${query.what} of ${query.owner} on ${target.config.network}…`, async () => {
    let cursor: string | null = null;
    do {
      let page;
      try {
        page = await client.listOwnedObjects({ owner: query.owner, type: query.type, cursor, limit: PAGE, include: { content: true } });
      } catch (error) {
        throw toCliError(error, session, `listing ${query.what}`);
      }
      for (const object of page.objects) {
        if (!object.content) throw new RefusedError(`the node returned ${object.objectId} (${query.what}) without its contents`);
        found.push(decode(object.objectId, object.content));
      }
      cursor = page.hasNextPage ? page.cursor : null;
    } while (cursor);
  });
  return found;
}

export function listSealTokens(ctx: CliContext, client: SuiGrpcClient, target: SuiTarget, owner: string): Promise<ListedToken[]> {
  const nowMs = ctx.now().getTime();
  return listAll(ctx, client, target, { owner, type: sealTokenType(target.config.packageId), what: 'seal tokens' }, (objectId, content) => {
    const { t, role } = parseOrRefuse(() => {
      const parsed = SEAL_TOKEN_OBJECT.parse(content);
      return { t: parsed, role: roleFromU8(parsed.role) };
    }, objectId, 'seal token');
    const expiresAtMs = Number(t.expires_at_ms);
    return {
      tokenId: t.id,
      stakeId: t.stake_id,
      role,
      permissions: t.permissions,
      clusterId: t.cluster_id,
      issuedAt: new Date(Number(t.issued_at_ms)).toISOString(),
      expiresAt: new Date(expiresAtMs).toISOString(),
      expired: expiresAtMs <= nowMs,
    };
  });
}

export function listStakeReceipts(ctx: CliContext, client: SuiGrpcClient, target: SuiTarget, owner: string): Promise<ListedReceipt[]> {
  return listAll(ctx, client, target, { owner, type: stakeReceiptType(target.config.packageId), what: 'stake receipts' }, (objectId, content) => {
    const r = parseOrRefuse(() => STAKE_RECEIPT_OBJECT.parse(content), objectId, 'stake receipt');
    return { stakeId: r.id, poolId: r.pool_id };
  });
}

export interface StakeDetails {
  role: string;
  amountMist: string;
  nodeId: string;
  status: StakeStatus | 'unknown';
  slashed: boolean;
  stakedAt: string;
  /** When an unbonding stake can be withdrawn; null while active. */
  unlockAt: string | null;
}

/**
 * The pool's record of each stake (role, amount, state), read from the pool's `Table<ID, Stake>`: one read
 * of the pool for the table's id, then one batch read of the entries. A stake the table no longer holds
 * maps to null.
 */
export async function readStakes(ctx: CliContext, client: SuiGrpcClient, target: SuiTarget, stakeIds: readonly string[]): Promise<Map<string, StakeDetails | null>> {
  const found = new Map<string, StakeDetails | null>();
  if (stakeIds.length === 0) return found;
  const poolId = target.config.stakingPoolId;
  const session = { config: target.config, address: poolId, timeoutMs: target.timeoutMs };
  await withProgress(ctx, `reading ${stakeIds.length} stake${stakeIds.length === 1 ? '' : 's'} from the pool on ${target.config.network}…`, async () => {
    let pool;
    try {
      [pool] = (await client.getObjects({ objectIds: [poolId], include: { content: true } })).objects;
    } catch (error) {
      throw toCliError(error, session, 'reading the staking pool');
    }
    if (pool instanceof Error) throw new RefusedError(`cannot read the staking pool ${poolId}: ${pool.message}`);
    if (!pool.content) throw new RefusedError(`the node returned the staking pool ${poolId} without its contents`);
    const content = pool.content;
    const tableId = parseOrRefuse(() => STAKING_POOL_HEAD.parse(content), poolId, 'staking pool').stakes.id;
    const fieldIds = stakeIds.map((id) => deriveDynamicFieldID(tableId, STAKE_TABLE_KEY_TYPE, bcs.Address.serialize(id).toBytes()));
    let entries;
    try {
      entries = (await client.getObjects({ objectIds: fieldIds, include: { content: true } })).objects;
    } catch (error) {
      throw toCliError(error, session, 'reading the stakes');
    }
    entries.forEach((entry, i) => {
      const stakeId = stakeIds[i];
      if (entry instanceof Error || !entry.content) {
        found.set(stakeId, null);
        return;
      }
      const entryContent = entry.content;
      const { value, role } = parseOrRefuse(() => {
        const parsed = STAKE_TABLE_ENTRY.parse(entryContent).value;
        return { value: parsed, role: roleFromU8(parsed.role) };
      }, stakeId, 'stake');
      const status = STAKE_STATUSES[value.status] ?? 'unknown';
      found.set(stakeId, {
        role,
        amountMist: value.balance,
        nodeId: value.node_id,
        status,
        slashed: value.slashed,
        stakedAt: new Date(Number(value.staked_at_ms)).toISOString(),
        unlockAt: status === 'active' ? null : new Date(Number(value.unlock_at_ms)).toISOString(),
      });
    });
  });
  return found;
}

function parseOrRefuse<T>(parse: () => T, objectId: string, what: string): T {
  try {
    return parse();
  } catch {
    throw new RefusedError(`the node returned ${what} ${objectId} in a layout this CLI does not know: is --package the k3s_daas package?`);
  }
}

/** Prints rows as aligned columns (the last column is not padded). */
export function printTable(ctx: CliContext, rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const row of rows) ctx.out(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')}\n`);
}
