// `k3s-daas token issue|revoke|list` (DESIGN §9): seal tokens are the on-chain credentials kubectl and
// worker nodes present; they are issued against a stake and burnt on revoke.
import type { Command } from 'commander';
import { SEAL_TOKEN_OBJECT } from '../../lambdas/shared/sui/objects';
import { roleFromU8 } from '../../lambdas/shared/sui/roles';
import { buildIssueTransaction, buildRevokeTransaction, MAX_TOKEN_TTL_MS, sealTokenType } from '../../lambdas/shared/sui/transactions';
import { CliError, type CliContext } from '../context';
import { loadKeypair } from '../keys';
import { findEvent, openClient, openSession, printJson, resolveConfig, runTransaction, toCliError, withSuiOptions, type SuiOptions } from '../sui-command';

interface IssueOptions extends SuiOptions {
  stake: string;
  cluster?: string;
  ttl: string;
}

const DEFAULT_TTL = '30d';
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function register(program: Command, ctx: CliContext): void {
  const token = program.command('token').description('Issue, revoke and list seal tokens (the credentials backed by a stake)');

  withSuiOptions(
    token
      .command('issue')
      .description('Issue a seal token for a cluster against one of your stakes; its permissions follow the stake role')
      .requiredOption('--stake <stake-id>', 'stake id from `k3s-daas stake`')
      .option('--cluster <cluster-id>', 'cluster the token is for (env K3S_DAAS_CLUSTER_ID)')
      .option('--ttl <duration>', 'lifetime such as 12h or 30d (at most 365d)', DEFAULT_TTL),
  ).action(async (opts: IssueOptions) => issue(ctx, opts));

  withSuiOptions(
    token.command('revoke').description('Burn one of your seal tokens').argument('<token-id>', 'seal token object id'),
  ).action(async (tokenId: string, opts: SuiOptions) => revoke(ctx, tokenId, opts));

  withSuiOptions(token.command('list').description('List the seal tokens your address owns')).action(async (opts: SuiOptions) => list(ctx, opts));
}

export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) throw new CliError(`--ttl "${text}" is not a duration such as 90m, 12h or 30d`);
  const ms = Number(match[1]) * UNIT_MS[match[2]];
  if (ms <= 0 || ms > MAX_TOKEN_TTL_MS) throw new CliError(`--ttl "${text}" must be more than 0 and at most 365d`);
  return ms;
}

async function issue(ctx: CliContext, opts: IssueOptions): Promise<void> {
  const ttlMs = parseTtl(opts.ttl);
  const clusterId = opts.cluster ?? ctx.env.K3S_DAAS_CLUSTER_ID;
  if (!clusterId) throw new CliError('no cluster: pass --cluster <cluster-id> or set K3S_DAAS_CLUSTER_ID');
  const session = await openSession(ctx, opts);
  let tx;
  try {
    tx = buildIssueTransaction({ ...session.config, sender: session.address, stakeId: opts.stake, clusterId, ttlMs });
  } catch (error) {
    throw toCliError(error, session, 'building the transaction');
  }
  const { digest, events } = await runTransaction(session, tx, `issuing a seal token for ${clusterId}`);
  const { data } = findEvent(events, 'seal_token::SealTokenIssued', digest);
  const expiresAt = new Date(Number(data.expires_at_ms)).toISOString();
  const result = {
    tokenId: data.token_id,
    stakeId: data.stake_id,
    owner: data.owner,
    role: roleFromU8(data.role),
    permissions: data.permissions,
    clusterId: data.cluster_id,
    expiresAtMs: data.expires_at_ms,
    expiresAt,
    digest,
  };
  if (session.json) return printJson(ctx, result);
  ctx.out(
    `Issued seal token ${result.tokenId} for cluster ${result.clusterId}.\n` +
      `role: ${result.role} (permissions: ${result.permissions.join(', ')})\n` +
      `expires: ${expiresAt}\n`,
  );
}

async function revoke(ctx: CliContext, tokenId: string, opts: SuiOptions): Promise<void> {
  const session = await openSession(ctx, opts);
  let tx;
  try {
    tx = buildRevokeTransaction({ packageId: session.config.packageId, sender: session.address, tokenId });
  } catch (error) {
    throw toCliError(error, session, 'building the transaction');
  }
  const { digest, events } = await runTransaction(session, tx, 'revoking seal token');
  const { data } = findEvent(events, 'seal_token::SealTokenRevoked', digest);
  if (session.json) return printJson(ctx, { tokenId: data.token_id, digest });
  ctx.out(`Revoked seal token ${data.token_id}; clusters stop accepting it within a minute.\n`);
}

interface ListedToken {
  tokenId: string;
  stakeId: string;
  role: string;
  permissions: string[];
  clusterId: string;
  issuedAt: string;
  expiresAt: string;
  expired: boolean;
}

async function list(ctx: CliContext, opts: SuiOptions): Promise<void> {
  const config = resolveConfig(ctx, opts);
  // Listing needs only the address, but it comes from the same key the other commands use.
  const address = (await loadKeypair(ctx, { address: opts.address })).toSuiAddress();
  const client = openClient(ctx, config);
  const session = { config, address };
  const tokens: ListedToken[] = [];
  let cursor: string | null = null;
  do {
    let page;
    try {
      page = await client.listOwnedObjects({ owner: address, type: sealTokenType(config.packageId), cursor, limit: 50, include: { content: true } });
    } catch (error) {
      throw toCliError(error, session, 'listing seal tokens');
    }
    for (const object of page.objects) {
      if (!object.content) throw new CliError(`the node returned seal token ${object.objectId} without its contents`);
      const t = SEAL_TOKEN_OBJECT.parse(object.content);
      const expiresAtMs = Number(t.expires_at_ms);
      tokens.push({
        tokenId: t.id,
        stakeId: t.stake_id,
        role: roleFromU8(t.role),
        permissions: t.permissions,
        clusterId: t.cluster_id,
        issuedAt: new Date(Number(t.issued_at_ms)).toISOString(),
        expiresAt: new Date(expiresAtMs).toISOString(),
        expired: expiresAtMs <= ctx.now().getTime(),
      });
    }
    cursor = page.hasNextPage ? page.cursor : null;
  } while (cursor);

  if (opts.json) return printJson(ctx, tokens);
  if (tokens.length === 0) {
    ctx.out(`No seal tokens owned by ${address}. Issue one with: k3s-daas token issue --stake <stake-id> --cluster <cluster-id>\n`);
    return;
  }
  const rows = [['TOKEN ID', 'CLUSTER', 'ROLE', 'PERMISSIONS', 'EXPIRES'], ...tokens.map((t) => [
    t.tokenId, t.clusterId, t.role, t.permissions.join(','), t.expired ? `${t.expiresAt} (expired)` : t.expiresAt,
  ])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const row of rows) ctx.out(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')}\n`);
}
