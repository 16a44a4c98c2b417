// `k3s-daas stake`, `stake list` and `unstake` (DESIGN §9): lock SUI in the staking pool for a role, see
// one's stakes and the seal tokens issued against them, start the lock-up, and withdraw once it has ended.
import { Command, Option } from 'commander';
import { ROLES, roleFromU8, type Role } from '../../lambdas/shared/sui/roles';
import { buildRequestUnstakeTransaction, buildStakeTransaction, buildWithdrawTransaction } from '../../lambdas/shared/sui/transactions';
import type { CliContext } from '../context';
import { UsageError } from '../errors';
import { examples } from '../help';
import { callerAddress } from '../keys';
import { listSealTokens, listStakeReceipts, printTable, readStakes, type ListedToken, type StakeDetails } from '../owned-objects';
import {
  findEvent, formatSui, openClient, openSession, parseSui, printJson, requireBalance, resolveTarget, runTransaction, toCliError, withSuiOptions,
  type SuiOptions,
} from '../sui-command';

interface StakeOptions extends SuiOptions {
  role: Role;
  nodeId?: string;
}

interface UnstakeOptions extends SuiOptions {
  withdraw?: boolean;
}

export function register(program: Command, ctx: CliContext): void {
  const stakeCommand = withSuiOptions(
    program
      .command('stake')
      .description('Stake SUI for a role (user, node or admin); prints the stake id that seal tokens are issued against')
      .argument('<amount>', 'SUI to stake, e.g. 1 or 0.25 (minimums: user 0.1, node 1, admin 10)')
      .addOption(new Option('--role <role>', 'what the stake is for').choices(ROLES).default('user'))
      .option('--node-id <id>', 'node operator id (required for --role node)')
      .addHelpText('after', examples(['k3s-daas stake 0.5', 'k3s-daas stake 2 --role node --node-id op-1', 'k3s-daas stake 1 --network localnet --json', 'k3s-daas stake list'])),
  ).action(async (amount: string, opts: StakeOptions) => stake(ctx, amount, opts));

  withSuiOptions(
    stakeCommand
      .command('list')
      .description('List your stakes in the pool (role, amount, state) and the seal tokens issued against each')
      .addHelpText('after', examples(['k3s-daas stake list', 'k3s-daas stake list --address 0x3f0… --json'])),
  ).action(async (opts: SuiOptions) => list(ctx, opts));

  withSuiOptions(
    program
      .command('unstake')
      .description('Start the lock-up of a stake (its seal tokens stop working); with --withdraw, pay it out after the lock-up')
      .argument('<stake-id>', 'the stake id printed by `k3s-daas stake`')
      .option('--withdraw', 'withdraw the stake after its lock-up has ended (and delete its receipt)')
      .addHelpText('after', examples([`k3s-daas unstake 0x5e1…`, `k3s-daas unstake 0x5e1… --withdraw`])),
  ).action(async (stakeId: string, opts: UnstakeOptions) => (opts.withdraw ? withdraw(ctx, stakeId, opts) : requestUnstake(ctx, stakeId, opts)));
}

async function stake(ctx: CliContext, amountText: string, opts: StakeOptions): Promise<void> {
  const amountMist = parseSui(amountText);
  if (opts.role === 'node' && !opts.nodeId) throw new UsageError('--role node needs --node-id <id>');
  if (opts.role !== 'node' && opts.nodeId) throw new UsageError(`--node-id is only for --role node, not ${opts.role}`);
  const session = await openSession(ctx, opts);
  let tx;
  try {
    tx = buildStakeTransaction({ ...session.config, owner: session.address, amountMist, role: opts.role, nodeId: opts.nodeId });
  } catch (error) {
    throw toCliError(error, session, 'building the transaction');
  }
  await requireBalance(session, amountMist);
  const { digest, events } = await runTransaction(session, tx, `staking ${formatSui(amountMist)} SUI as ${opts.role}`);
  const { data } = findEvent(events, 'staking::StakeDeposited', digest);
  const result = {
    stakeId: data.stake_id,
    owner: data.owner,
    role: roleFromU8(data.role),
    amountMist: data.amount,
    nodeId: data.node_id,
    digest,
  };
  if (session.json) return printJson(ctx, result);
  ctx.out(
    `Staked ${formatSui(BigInt(data.amount))} SUI as ${result.role}${result.nodeId ? ` for node ${result.nodeId}` : ''}.\n` +
      `stake id: ${result.stakeId}\n` +
      `next: k3s-daas token issue --stake ${result.stakeId} --cluster <cluster-id>\n`,
  );
}

async function requestUnstake(ctx: CliContext, stakeId: string, opts: UnstakeOptions): Promise<void> {
  const session = await openSession(ctx, opts);
  let tx;
  try {
    tx = buildRequestUnstakeTransaction({ ...session.config, sender: session.address, stakeId });
  } catch (error) {
    throw toCliError(error, session, 'building the transaction');
  }
  const { digest, events } = await runTransaction(session, tx, 'requesting unstake');
  const { data } = findEvent(events, 'staking::UnstakeRequested', digest);
  const unlockAt = new Date(Number(data.unlock_at_ms)).toISOString();
  const result = { stakeId: data.stake_id, unlockAtMs: data.unlock_at_ms, unlockAt, digest };
  if (session.json) return printJson(ctx, result);
  ctx.out(
    `Unstake requested for ${result.stakeId}; its seal tokens no longer admit anyone.\n` +
      `withdraw after ${unlockAt}: k3s-daas unstake ${result.stakeId} --withdraw\n`,
  );
}

async function withdraw(ctx: CliContext, stakeId: string, opts: UnstakeOptions): Promise<void> {
  const session = await openSession(ctx, opts);
  let tx;
  try {
    tx = buildWithdrawTransaction({ ...session.config, sender: session.address, stakeId });
  } catch (error) {
    throw toCliError(error, session, 'building the transaction');
  }
  const { digest, events } = await runTransaction(session, tx, 'withdrawing stake');
  const { data } = findEvent(events, 'staking::StakeWithdrawn', digest);
  const result = { stakeId: data.stake_id, amountMist: data.amount, digest };
  if (session.json) return printJson(ctx, result);
  ctx.out(`Withdrew ${formatSui(BigInt(data.amount))} SUI from stake ${result.stakeId} to ${session.address}.\n`);
}

interface ListedStake {
  stakeId: string;
  /** The pool's record of the stake; null when the pool no longer holds it. */
  stake: StakeDetails | null;
  tokens: ListedToken[];
}

function stateText(stake: StakeDetails | null): string {
  if (!stake) return 'not in the pool';
  const base = stake.status === 'unbonding' ? `unbonding until ${stake.unlockAt}` : stake.status;
  return stake.slashed ? `${base}, slashed` : base;
}

async function list(ctx: CliContext, opts: SuiOptions): Promise<void> {
  const target = await resolveTarget(ctx, opts);
  const address = await callerAddress(ctx, opts.address);
  const client = openClient(ctx, target);
  const receipts = (await listStakeReceipts(ctx, client, target, address)).filter((r) => r.poolId === target.config.stakingPoolId);
  const tokens = await listSealTokens(ctx, client, target, address);
  const details = await readStakes(ctx, client, target, receipts.map((r) => r.stakeId));
  const stakes: ListedStake[] = receipts.map((r) => ({ stakeId: r.stakeId, stake: details.get(r.stakeId) ?? null, tokens: tokens.filter((t) => t.stakeId === r.stakeId) }));
  // Tokens can outlive the receipt in this wallet (the stake was withdrawn, or its receipt given away).
  const otherTokens = tokens.filter((t) => !receipts.some((r) => r.stakeId === t.stakeId));
  if (opts.json) return printJson(ctx, { address, poolId: target.config.stakingPoolId, stakes, otherTokens });
  if (stakes.length === 0 && otherTokens.length === 0) {
    ctx.out(`No stakes or seal tokens owned by ${address} in pool ${target.config.stakingPoolId}. Stake with: k3s-daas stake <amount>\n`);
    return;
  }
  if (stakes.length > 0) {
    printTable(ctx, [['STAKE ID', 'ROLE', 'SUI', 'STATE', 'TOKENS'], ...stakes.map((s) => [
      s.stakeId,
      s.stake ? `${s.stake.role}${s.stake.nodeId ? ` (${s.stake.nodeId})` : ''}` : '-',
      s.stake ? formatSui(BigInt(s.stake.amountMist)) : '-',
      stateText(s.stake),
      String(s.tokens.length),
    ])]);
  }
  const shown = [...stakes.flatMap((s) => s.tokens), ...otherTokens];
  if (shown.length === 0) return;
  if (stakes.length > 0) ctx.out('\n');
  const held = new Set(receipts.map((r) => r.stakeId));
  printTable(ctx, [['TOKEN ID', 'STAKE ID', 'CLUSTER', 'ROLE', 'EXPIRES'], ...shown.map((t) => [
    t.tokenId,
    held.has(t.stakeId) ? t.stakeId : `${t.stakeId} (receipt not held)`,
    t.clusterId,
    t.role,
    t.expired ? `${t.expiresAt} (expired)` : t.expiresAt,
  ])]);
}
