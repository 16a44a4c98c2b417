// What the Sui-facing commands (stake, unstake, token) share: network/package options (falling back to the
// environment, then to the Sui CLI's client.yaml), the signing key, a gRPC client whose every call has a
// deadline, running a transaction with progress on a terminal, and turning every failure into one line.
import type { Command } from 'commander';
import { SimulationError } from '@mysten/sui/client';
import type { SuiClientTypes } from '@mysten/sui/client';
import type { Keypair } from '@mysten/sui/cryptography';
import { GrpcWebFetchTransport, type SuiGrpcClient } from '@mysten/sui/grpc';
import type { Transaction } from '@mysten/sui/transactions';
import { RpcError, type RpcOptions, type RpcTransport } from '@protobuf-ts/runtime-rpc';
import { createSuiClient, parseAuthHeader } from '../lambdas/shared/sui/client';
import { decodeEvent, UnknownEventError, type DecodedEvent } from '../lambdas/shared/sui/events';
import { describeExecutionError } from '../lambdas/shared/sui/move-errors';
import { isSuiNetwork, resolveSuiNetwork, SuiConfigError, type SuiNetworkConfig } from '../lambdas/shared/sui/networks';
import { MIST_PER_SUI } from '../lambdas/shared/sui/roles';
import { InvalidTransactionInputError } from '../lambdas/shared/sui/transactions';
import type { CliContext } from './context';
import { CliError, ConfigError, NetworkError, RefusedError, UsageError, type NetworkCause } from './errors';
import { loadKeypair } from './keys';
import { classifyNetworkError, formatSeconds, timeoutMs, withTimeoutOption } from './network';
import { printJson, startProgress } from './output';
import { envTarget, findEnv, readSuiClientConfig } from './sui-config';

export { printJson };

export interface SuiOptions {
  network?: string;
  grpcUrl?: string;
  package?: string;
  pool?: string;
  address?: string;
  json?: boolean;
  timeout?: string;
}

/** Options every Sui command takes; each falls back to an environment variable, then to client.yaml. */
export function withSuiOptions(command: Command): Command {
  return withTimeoutOption(
    command
      .option('--network <name>', 'Sui network or client.yaml environment (env K3S_DAAS_NETWORK; default: client.yaml active_env, else testnet)')
      .option('--grpc-url <url>', "Sui full node gRPC endpoint (env K3S_DAAS_GRPC_URL; default: the environment's rpc URL or the network's public node)")
      .option('--package <id>', 'k3s_daas package id (env K3S_DAAS_PACKAGE_ID)')
      .option('--pool <id>', 'staking pool object id (env K3S_DAAS_STAKING_POOL_ID)')
      .option('--address <address>', 'keystore address to use instead of client.yaml active_address')
      .option('--json', 'print the result, and any error, as JSON'),
  );
}

export interface SuiSession {
  readonly ctx: CliContext;
  readonly config: SuiNetworkConfig;
  readonly timeoutMs: number;
  readonly client: SuiGrpcClient;
  readonly signer: Keypair;
  readonly address: string;
  readonly json: boolean;
}

export interface SuiTarget {
  readonly config: SuiNetworkConfig;
  /** Deadline of each gRPC call. */
  readonly timeoutMs: number;
}

/**
 * Network, endpoint and package, in `sui`'s order: flags, then environment variables, then the active
 * (or `--network`-named) environment of client.yaml, then the network's public full node.
 */
export async function resolveTarget(ctx: CliContext, opts: SuiOptions): Promise<SuiTarget> {
  const deadline = timeoutMs(ctx, opts.timeout);
  const named = opts.network ?? (ctx.env.K3S_DAAS_NETWORK?.trim() || undefined);
  let grpcUrl = opts.grpcUrl ?? (ctx.env.K3S_DAAS_GRPC_URL?.trim() || undefined);
  let network = named;
  let networkHint = opts.network !== undefined ? '--network' : 'K3S_DAAS_NETWORK';
  let grpcHint = opts.grpcUrl !== undefined ? '--grpc-url' : 'K3S_DAAS_GRPC_URL';
  // client.yaml only fills what flags and environment leave open, so a broken one does not stand in the way.
  if (grpcUrl === undefined || network === undefined) {
    const client = await readSuiClientConfig(ctx);
    const alias = named ?? client.activeEnv;
    const env = alias === undefined ? undefined : findEnv(client, alias);
    if (env) {
      const target = envTarget(client, env);
      network = target.network;
      networkHint = `environment "${env.alias}" in ${client.path}`;
      if (grpcUrl === undefined) {
        grpcUrl = target.grpcUrl;
        grpcHint = `rpc of environment "${env.alias}" in ${client.path}`;
      }
    } else if (named === undefined && alias !== undefined) {
      // An active_env without an envs entry still names a network when it is one of the well-known ones.
      if (!isSuiNetwork(alias)) throw new ConfigError(`active_env "${alias}" in ${client.path} is not among its envs: pass --network <name>`);
      network = alias;
      networkHint = `active_env in ${client.path}`;
    }
  }
  try {
    const config = resolveSuiNetwork(
      { network, grpcUrl, packageId: opts.package ?? ctx.env.K3S_DAAS_PACKAGE_ID, stakingPoolId: opts.pool ?? ctx.env.K3S_DAAS_STAKING_POOL_ID },
      { network: networkHint, grpcUrl: grpcHint, packageId: 'package id (--package or K3S_DAAS_PACKAGE_ID)', stakingPoolId: 'staking pool id (--pool or K3S_DAAS_STAKING_POOL_ID)' },
    );
    return { config, timeoutMs: deadline };
  } catch (error) {
    if (error instanceof SuiConfigError) throw new ConfigError(error.message);
    throw error;
  }
}

/** A failed fetch under the gRPC transport, carried through its RpcError (which keeps only the message). */
const NETWORK_MARK = /^\[k3s-daas network (\w+)\] (.*)$/s;

/**
 * The gRPC-web transport over `ctx.fetch`, with a deadline on every call (the transport itself only sends
 * `grpc-timeout` and would wait for ever on a stalled node) and fetch failures classified by cause.
 */
function cliTransport(ctx: CliContext, grpcUrl: string, deadlineMs: number): RpcTransport {
  const fetchClassified: typeof fetch = async (input, init) => {
    try {
      return await ctx.fetch(input, init);
    } catch (error) {
      const name = (error as { name?: unknown }).name;
      if (name === 'AbortError' || name === 'TimeoutError') throw error; // the transport codes these itself
      const failure = classifyNetworkError(error, deadlineMs);
      throw new Error(`[k3s-daas network ${failure.cause}] ${failure.detail}`, { cause: error });
    }
  };
  const inner = new GrpcWebFetchTransport({ baseUrl: grpcUrl, fetch: fetchClassified });
  return {
    mergeOptions: (options?: Partial<RpcOptions>) => {
      const merged = inner.mergeOptions(options);
      const timer = AbortSignal.timeout(deadlineMs);
      return { ...merged, timeout: deadlineMs, abort: merged.abort ? AbortSignal.any([merged.abort, timer]) : timer };
    },
    unary: (method, input, options) => inner.unary(method, input, options),
    serverStreaming: (method, input, options) => inner.serverStreaming(method, input, options),
    clientStreaming: (method) => inner.clientStreaming(method),
    duplex: (method) => inner.duplex(method),
  };
}

export function openClient(ctx: CliContext, target: SuiTarget): SuiGrpcClient {
  const { config } = target;
  let authHeader: { name: string; value: string } | undefined;
  const line = ctx.env.K3S_DAAS_GRPC_AUTH;
  if (line) {
    try {
      authHeader = parseAuthHeader(line);
    } catch {
      throw new ConfigError('K3S_DAAS_GRPC_AUTH must look like "<header-name>: <value>"');
    }
  }
  const options = { network: config.network, grpcUrl: config.grpcUrl, authHeader, transport: cliTransport(ctx, config.grpcUrl, target.timeoutMs) };
  return (ctx.suiClient ?? createSuiClient)(options);
}

export async function openSession(ctx: CliContext, opts: SuiOptions): Promise<SuiSession> {
  const target = await resolveTarget(ctx, opts);
  const signer = await loadKeypair(ctx, { address: opts.address });
  return {
    ctx,
    config: target.config,
    timeoutMs: target.timeoutMs,
    client: openClient(ctx, target),
    signer,
    address: signer.toSuiAddress(),
    json: opts.json === true,
  };
}

export type ExecutedTransaction = SuiClientTypes.Transaction<{ effects: true; events: true }>;

/** Resolves, signs and executes `tx`, telling the user on a terminal what it is waiting for. */
export async function runTransaction(session: SuiSession, tx: Transaction, what: string): Promise<{ digest: string; events: DecodedEvent[] }> {
  const { ctx, client, config } = session;
  const progress = startProgress(ctx, `${what}: preparing the transaction on ${config.network}…`);
  let result: SuiClientTypes.TransactionResult<{ effects: true; events: true }>;
  try {
    let bytes: Uint8Array;
    try {
      bytes = await tx.build({ client });
    } catch (error) {
      throw toCliError(error, session, 'preparing the transaction');
    }
    const { signature } = await session.signer.signTransaction(bytes);
    progress.update(`${what}: submitted, waiting for ${config.network} to execute it…`);
    try {
      result = await client.executeTransaction({ transaction: bytes, signatures: [signature], include: { effects: true, events: true } });
    } catch (error) {
      throw toCliError(error, session, 'executing the transaction');
    }
  } finally {
    progress.done();
  }
  if (result.$kind === 'FailedTransaction') {
    const failed = result.FailedTransaction;
    throw new RefusedError(`transaction ${failed.digest} aborted: ${describeFailure(failed.status.error ?? undefined, session)}`, { reason: 'aborted' });
  }
  const executed = result.Transaction;
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
  const progress = startProgress(session.ctx, `reading the balance of ${session.address}…`);
  try {
    balance = BigInt((await session.client.getBalance({ owner: session.address })).balance.balance);
  } catch (error) {
    throw toCliError(error, session, 'reading the balance');
  } finally {
    progress.done();
  }
  if (balance < neededMist) {
    throw new RefusedError(`insufficient balance: ${session.address} has ${formatSui(balance)} SUI, needs ${formatSui(neededMist)} SUI plus gas`);
  }
}

export function findEvent<N extends DecodedEvent['name']>(events: DecodedEvent[], name: N, digest: string): Extract<DecodedEvent, { name: N }> {
  const event = events.find((e): e is Extract<DecodedEvent, { name: N }> => e.name === name);
  if (!event) throw new RefusedError(`transaction ${digest} succeeded but emitted no ${name} event; is --package the k3s_daas package?`);
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

/** Maps SDK/transport failures to one line: unreachable network (and why), insufficient balance, named Move abort, … */
export function toCliError(error: unknown, session: Pick<SuiSession, 'config' | 'address'> & { timeoutMs?: number }, doing: string): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof InvalidTransactionInputError) return new UsageError(error.message);
  if (error instanceof SimulationError && error.executionError) {
    const ee = error.executionError;
    if (isInsufficientFunds(ee.message)) return new RefusedError(`insufficient balance: ${session.address} cannot pay for this transaction (${firstLine(ee.message)})`, { reason: 'insufficient_balance' });
    return new RefusedError(`transaction aborted: ${describeExecutionError(ee, session.config.packageId)}`, { reason: 'aborted' });
  }
  const rpc = findRpcError(error);
  const endpoint = session.config.grpcUrl;
  if (rpc) {
    const marked = NETWORK_MARK.exec(rpc.message);
    if (marked) return new NetworkError(`cannot reach the Sui gRPC endpoint ${endpoint}: ${firstLine(marked[2])}`, marked[1] as NetworkCause);
    if (rpc.code === 'DEADLINE_EXCEEDED') {
      const waited = session.timeoutMs === undefined ? '' : ` within ${formatSeconds(session.timeoutMs)}`;
      return new NetworkError(`the Sui gRPC endpoint ${endpoint} did not answer${waited} while ${doing} (raise --timeout if the node is slow)`, 'timeout');
    }
    if (isUnreachable(rpc)) {
      return new NetworkError(`network unreachable: cannot reach the Sui gRPC endpoint ${endpoint} (${rpc.code}: ${firstLine(rpc.message)})`, 'unreachable');
    }
  }
  const message = firstLine(rpc?.message ?? (error instanceof Error ? error.message : String(error)));
  if (isInsufficientFunds(message)) return new RefusedError(`insufficient balance: ${session.address} cannot pay for this transaction (${message})`, { reason: 'insufficient_balance' });
  if (rpc) return new RefusedError(`${doing} failed: ${message}`, { reason: rpc.code });
  return new CliError(`${doing} failed: ${message}`);
}

function findRpcError(error: unknown): RpcError | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof RpcError) return e;
  }
  return undefined;
}

function isUnreachable(error: RpcError): boolean {
  return error.code === 'UNAVAILABLE' || /fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|socket hang up/i.test(error.message);
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

/** "1.5" → 1_500_000_000n. Up to 9 decimals; positive. */
export function parseSui(text: string): bigint {
  const match = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!match) throw new UsageError(`amount "${text}" is not a SUI amount such as 1 or 0.5 (at most 9 decimals)`);
  const mist = BigInt(match[1]) * MIST_PER_SUI + BigInt((match[2] ?? '').padEnd(9, '0'));
  if (mist === 0n) throw new UsageError('amount must be more than 0 SUI');
  return mist;
}

export function formatSui(mist: bigint): string {
  const whole = mist / MIST_PER_SUI;
  const frac = (mist % MIST_PER_SUI).toString().padStart(9, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole.toString();
}
