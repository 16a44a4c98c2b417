// What the Sui-facing commands (stake, unstake, token) share: network/package options, the signing key,
// running a transaction with progress on stderr, and turning every failure into one line.
import type { Command } from 'commander';
import { SimulationError } from '@mysten/sui/client';
import type { SuiClientTypes } from '@mysten/sui/client';
import type { Keypair } from '@mysten/sui/cryptography';
import type { SuiGrpcClient } from '@mysten/sui/grpc';
import type { Transaction } from '@mysten/sui/transactions';
import { RpcError } from '@protobuf-ts/runtime-rpc';
import { createSuiClient, parseAuthHeader } from '../lambdas/shared/sui/client';
import { decodeEvent, UnknownEventError, type DecodedEvent } from '../lambdas/shared/sui/events';
import { describeExecutionError } from '../lambdas/shared/sui/move-errors';
import { resolveSuiNetwork, SuiConfigError, type SuiNetworkConfig } from '../lambdas/shared/sui/networks';
import { MIST_PER_SUI } from '../lambdas/shared/sui/roles';
import { InvalidTransactionInputError } from '../lambdas/shared/sui/transactions';
import { CliError, type CliContext } from './context';
import { loadKeypair } from './keys';

export interface SuiOptions {
  network?: string;
  grpcUrl?: string;
  package?: string;
  pool?: string;
  address?: string;
  json?: boolean;
}

/** Options every Sui command takes; each falls back to an environment variable. */
export function withSuiOptions(command: Command): Command {
  return command
    .option('--network <name>', 'Sui network: mainnet, testnet, devnet, localnet (env K3S_DAAS_NETWORK; default testnet)')
    .option('--grpc-url <url>', 'Sui full node gRPC endpoint (env K3S_DAAS_GRPC_URL; default: the network\'s public node)')
    .option('--package <id>', 'k3s_daas package id (env K3S_DAAS_PACKAGE_ID)')
    .option('--pool <id>', 'staking pool object id (env K3S_DAAS_STAKING_POOL_ID)')
    .option('--address <address>', 'keystore address to use instead of the active one')
    .option('--json', 'print the result as JSON');
}

export interface SuiSession {
  readonly ctx: CliContext;
  readonly config: SuiNetworkConfig;
  readonly client: SuiGrpcClient;
  readonly signer: Keypair;
  readonly address: string;
  readonly json: boolean;
}

export function resolveConfig(ctx: CliContext, opts: SuiOptions): SuiNetworkConfig {
  try {
    return resolveSuiNetwork(
      {
        network: opts.network ?? ctx.env.K3S_DAAS_NETWORK,
        grpcUrl: opts.grpcUrl ?? ctx.env.K3S_DAAS_GRPC_URL,
        packageId: opts.package ?? ctx.env.K3S_DAAS_PACKAGE_ID,
        stakingPoolId: opts.pool ?? ctx.env.K3S_DAAS_STAKING_POOL_ID,
      },
      { network: '--network', grpcUrl: '--grpc-url', packageId: 'package id (--package or K3S_DAAS_PACKAGE_ID)', stakingPoolId: 'staking pool id (--pool or K3S_DAAS_STAKING_POOL_ID)' },
    );
  } catch (error) {
    if (error instanceof SuiConfigError) throw new CliError(error.message);
    throw error;
  }
}

export function openClient(ctx: CliContext, config: SuiNetworkConfig): SuiGrpcClient {
  let authHeader: { name: string; value: string } | undefined;
  const line = ctx.env.K3S_DAAS_GRPC_AUTH;
  if (line) {
    try {
      authHeader = parseAuthHeader(line);
    } catch {
      throw new CliError('K3S_DAAS_GRPC_AUTH must look like "<header-name>: <value>"');
    }
  }
  const options = { network: config.network, grpcUrl: config.grpcUrl, authHeader };
  return (ctx.suiClient ?? createSuiClient)(options);
}

export async function openSession(ctx: CliContext, opts: SuiOptions): Promise<SuiSession> {
  const config = resolveConfig(ctx, opts);
  const signer = await loadKeypair(ctx, { address: opts.address });
  return { ctx, config, client: openClient(ctx, config), signer, address: signer.toSuiAddress(), json: opts.json === true };
}

export type ExecutedTransaction = SuiClientTypes.Transaction<{ effects: true; events: true }>;

/** Resolves, signs and executes `tx`, telling the user on stderr what it is waiting for. */
export async function runTransaction(session: SuiSession, tx: Transaction, what: string): Promise<{ digest: string; events: DecodedEvent[] }> {
  const { ctx, client, config } = session;
  const progress = (line: string) => ctx.err(`${line}\n`);
  progress(`${what}: preparing transaction on ${config.network}…`);
  let bytes: Uint8Array;
  try {
    bytes = await tx.build({ client });
  } catch (error) {
    throw toCliError(error, session, 'preparing the transaction');
  }
  const { signature } = await session.signer.signTransaction(bytes);
  progress(`${what}: submitted, waiting for the network to execute it…`);
  let result: SuiClientTypes.TransactionResult<{ effects: true; events: true }>;
  const started = Date.now();
  // Finality is usually sub-second; on a slow node keep telling the user we are still waiting.
  const ticker = setInterval(() => progress(`${what}: still waiting (${Math.round((Date.now() - started) / 1000)} s)…`), 5_000);
  ticker.unref();
  try {
    result = await client.executeTransaction({ transaction: bytes, signatures: [signature], include: { effects: true, events: true } });
  } catch (error) {
    throw toCliError(error, session, 'executing the transaction');
  } finally {
    clearInterval(ticker);
  }
  if (result.$kind === 'FailedTransaction') {
    const failed = result.FailedTransaction;
    throw new CliError(`transaction ${failed.digest} aborted: ${describeFailure(failed.status.error ?? undefined, session)}`);
  }
  const executed = result.Transaction;
  progress(`${what}: done (transaction ${executed.digest})`);
  const events: DecodedEvent[] = [];
  for (const event of executed.events ?? []) {
    try {
      events.push(decodeEvent(event.eventType, event.bcs, config.packageId));
    } catch (error) {
      if (!(error instanceof UnknownEventError)) throw error;
    }
  }
  return { digest: executed.digest, events };
}

/** Fails with a clear line before spending gas when the account cannot cover `neededMist` (+ gas). */
export async function requireBalance(session: SuiSession, neededMist: bigint): Promise<void> {
  let balance: bigint;
  try {
    balance = BigInt((await session.client.getBalance({ owner: session.address })).balance.balance);
  } catch (error) {
    throw toCliError(error, session, 'reading the balance');
  }
  if (balance < neededMist) {
    throw new CliError(`insufficient balance: ${session.address} has ${formatSui(balance)} SUI, needs ${formatSui(neededMist)} SUI plus gas`);
  }
}

export function findEvent<N extends DecodedEvent['name']>(events: DecodedEvent[], name: N, digest: string): Extract<DecodedEvent, { name: N }> {
  const event = events.find((e): e is Extract<DecodedEvent, { name: N }> => e.name === name);
  if (!event) throw new CliError(`transaction ${digest} succeeded but emitted no ${name} event; is --package the k3s_daas package?`);
  return event;
}

function describeFailure(error: SuiClientTypes.ExecutionError | undefined, session: SuiSession): string {
  if (error && isInsufficientFunds(error.message)) return `insufficient balance: ${session.address} cannot pay for this transaction`;
  return describeExecutionError(error, session.config.packageId);
}

const INSUFFICIENT = /insufficient ?(coin ?balance|gas|funds)|InsufficientCoinBalance|InsufficientGas|GasBalanceTooLow|balance of gas object .* is lower than/i;

function isInsufficientFunds(message: string): boolean {
  return INSUFFICIENT.test(message);
}

/** Maps SDK/transport failures to one line: unreachable network, insufficient balance, named Move abort, … */
export function toCliError(error: unknown, session: Pick<SuiSession, 'config' | 'address'>, doing: string): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof InvalidTransactionInputError) return new CliError(error.message);
  if (error instanceof SimulationError && error.executionError) {
    const ee = error.executionError;
    if (isInsufficientFunds(ee.message)) return new CliError(`insufficient balance: ${session.address} cannot pay for this transaction (${firstLine(ee.message)})`);
    return new CliError(`transaction aborted: ${describeExecutionError(ee, session.config.packageId)}`);
  }
  const rpc = findRpcError(error);
  if (rpc && isUnreachable(rpc)) {
    return new CliError(`network unreachable: cannot reach the Sui gRPC endpoint ${session.config.grpcUrl} (${rpc.code}: ${firstLine(rpc.message)})`);
  }
  const message = firstLine(rpc?.message ?? (error instanceof Error ? error.message : String(error)));
  if (isInsufficientFunds(message)) return new CliError(`insufficient balance: ${session.address} cannot pay for this transaction (${message})`);
  return new CliError(`${doing} failed: ${message}`);
}

function findRpcError(error: unknown): RpcError | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof RpcError) return e;
  }
  return undefined;
}

function isUnreachable(error: RpcError): boolean {
  return error.code === 'UNAVAILABLE' || error.code === 'DEADLINE_EXCEEDED' || /fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|socket hang up/i.test(error.message);
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

/** "1.5" → 1_500_000_000n. Up to 9 decimals; positive. */
export function parseSui(text: string): bigint {
  const match = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!match) throw new CliError(`amount "${text}" is not a SUI amount such as 1 or 0.5 (at most 9 decimals)`);
  const mist = BigInt(match[1]) * MIST_PER_SUI + BigInt((match[2] ?? '').padEnd(9, '0'));
  if (mist === 0n) throw new CliError('amount must be more than 0 SUI');
  return mist;
}

export function formatSui(mist: bigint): string {
  const whole = mist / MIST_PER_SUI;
  const frac = (mist % MIST_PER_SUI).toString().padStart(9, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole.toString();
}

export function printJson(ctx: CliContext, value: unknown): void {
  ctx.out(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}
