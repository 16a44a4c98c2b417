// Reading the caller's k3s_daas objects from the chain (seal tokens, stake receipts), page by page,
// decoded with the package's BCS layouts. Shared by `token list` and `stake list`.
import type { SuiGrpcClient } from '@mysten/sui/grpc';
import { SEAL_TOKEN_OBJECT, STAKE_RECEIPT_OBJECT } from '../lambdas/shared/sui/objects';
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
    const t = parseOrRefuse(() => SEAL_TOKEN_OBJECT.parse(content), objectId, 'seal token');
    const expiresAtMs = Number(t.expires_at_ms);
    return {
      tokenId: t.id,
      stakeId: t.stake_id,
      role: roleFromU8(t.role),
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
