// `k3s-daas stake` and `k3s-daas unstake` (DESIGN §9): lock SUI in the staking pool for a role, start the
// lock-up, and withdraw once it has ended.
import { Command, Option } from 'commander';
import { ROLES, roleFromU8, type Role } from '../../lambdas/shared/sui/roles';
import { buildRequestUnstakeTransaction, buildStakeTransaction, buildWithdrawTransaction } from '../../lambdas/shared/sui/transactions';
import { CliError, type CliContext } from '../context';
import {
  findEvent, formatSui, openSession, parseSui, printJson, requireBalance, runTransaction, toCliError, withSuiOptions, type SuiOptions,
} from '../sui-command';

interface StakeOptions extends SuiOptions {
  role: Role;
  nodeId?: string;
}

interface UnstakeOptions extends SuiOptions {
  withdraw?: boolean;
}

export function register(program: Command, ctx: CliContext): void {
  withSuiOptions(
    program
      .command('stake')
      .description('Stake SUI for a role (user, node or admin); prints the stake id that seal tokens are issued against')
      .argument('<amount>', 'SUI to stake, e.g. 1 or 0.25 (minimums: user 0.1, node 1, admin 10)')
      .addOption(new Option('--role <role>', 'what the stake is for').choices(ROLES).default('user'))
      .option('--node-id <id>', 'node operator id (required for --role node)'),
  ).action(async (amount: string, opts: StakeOptions) => stake(ctx, amount, opts));

  withSuiOptions(
    program
      .command('unstake')
      .description('Start the lock-up of a stake (its seal tokens stop working); with --withdraw, pay it out after the lock-up')
      .argument('<stake-id>', 'the stake id printed by `k3s-daas stake`')
      .option('--withdraw', 'withdraw the stake after its lock-up has ended (and delete its receipt)'),
  ).action(async (stakeId: string, opts: UnstakeOptions) => (opts.withdraw ? withdraw(ctx, stakeId, opts) : requestUnstake(ctx, stakeId, opts)));
}

async function stake(ctx: CliContext, amountText: string, opts: StakeOptions): Promise<void> {
  const amountMist = parseSui(amountText);
  if (opts.role === 'node' && !opts.nodeId) throw new CliError('--role node needs --node-id <id>');
  if (opts.role !== 'node' && opts.nodeId) throw new CliError(`--node-id is only for --role node, not ${opts.role}`);
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
