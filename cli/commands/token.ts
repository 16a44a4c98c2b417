// `k3s-daas token issue|revoke|list` (DESIGN §9): seal tokens are the on-chain credentials kubectl and
// worker nodes present; they are issued against a stake and burnt on revoke.
import type { Command } from 'commander';
import { roleFromU8 } from '../../lambdas/shared/sui/roles';
import { buildIssueTransaction, buildRevokeTransaction, MAX_TOKEN_TTL_MS } from '../../lambdas/shared/sui/transactions';
import type { CliContext } from '../context';
import { UsageError } from '../errors';
import { examples } from '../help';
import { callerAddress } from '../keys';
import { listSealTokens, printTable } from '../owned-objects';
import { findEvent, openClient, openSession, printJson, resolveTarget, runTransaction, toCliError, withSuiOptions, type SuiOptions } from '../sui-command';

interface IssueOptions extends SuiOptions {
  stake: string;
  cluster?: string;
  ttl: string;
}

const DEFAULT_TTL = '30d';
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function register(program: Command, ctx: CliContext): void {
  const token = program
    .command('token')
    .description('Issue, revoke and list seal tokens (the credentials backed by a stake)')
    .addHelpText('after', examples(['k3s-daas token issue --stake 0x5e1… --cluster prod-eu', 'k3s-daas token list']));

  withSuiOptions(
    token
      .command('issue')
      .description('Issue a seal token for a cluster against one of your stakes; its permissions follow the stake role')
      .requiredOption('--stake <stake-id>', 'stake id from `k3s-daas stake`')
      .option('--cluster <cluster-id>', 'cluster the token is for (env K3S_DAAS_CLUSTER_ID)')
      .option('--ttl <duration>', 'lifetime such as 12h or 30d (at most 365d)', DEFAULT_TTL)
      .addHelpText('after', examples(['k3s-daas token issue --stake 0x5e1… --cluster prod-eu', 'k3s-daas token issue --stake 0x5e1… --cluster prod-eu --ttl 12h --json'])),
  ).action(async (opts: IssueOptions) => issue(ctx, opts));

  withSuiOptions(
    token
      .command('revoke')
      .description('Burn one of your seal tokens')
      .argument('<token-id>', 'seal token object id')
      .addHelpText('after', examples(['k3s-daas token revoke 0x7ab…'])),
  ).action(async (tokenId: string, opts: SuiOptions) => revoke(ctx, tokenId, opts));

  withSuiOptions(
    token
      .command('list')
      .description('List the seal tokens your address (or --address) owns')
      .addHelpText('after', examples(['k3s-daas token list', 'k3s-daas token list --address 0x3f0… --json'])),
  ).action(async (opts: SuiOptions) => list(ctx, opts));
}

export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) throw new UsageError(`--ttl "${text}" is not a duration such as 90m, 12h or 30d`);
  const ms = Number(match[1]) * UNIT_MS[match[2]];
  if (ms <= 0 || ms > MAX_TOKEN_TTL_MS) throw new UsageError(`--ttl "${text}" must be more than 0 and at most 365d`);
  return ms;
}

async function issue(ctx: CliContext, opts: IssueOptions): Promise<void> {
  const ttlMs = parseTtl(opts.ttl);
  const clusterId = opts.cluster ?? ctx.env.K3S_DAAS_CLUSTER_ID;
  if (!clusterId) throw new UsageError('no cluster: pass --cluster <cluster-id> or set K3S_DAAS_CLUSTER_ID');
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

async function list(ctx: CliContext, opts: SuiOptions): Promise<void> {
  const target = await resolveTarget(ctx, opts);
  const address = await callerAddress(ctx, opts.address);
  const tokens = await listSealTokens(ctx, openClient(ctx, target), target, address);
  if (opts.json) return printJson(ctx, tokens);
  if (tokens.length === 0) {
    ctx.out(`No seal tokens owned by ${address}. Issue one with: k3s-daas token issue --stake <stake-id> --cluster <cluster-id>\n`);
    return;
  }
  printTable(ctx, [['TOKEN ID', 'CLUSTER', 'ROLE', 'PERMISSIONS', 'EXPIRES'], ...tokens.map((t) => [
    t.tokenId, t.clusterId, t.role, t.permissions.join(','), t.expired ? `${t.expiresAt} (expired)` : t.expiresAt,
  ])]);
}
