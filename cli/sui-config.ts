// The Sui CLI's own configuration, read as `sui client` reads it: the directory from `SUI_CONFIG_DIR`
// (default ~/.sui/sui_config), and in its client.yaml the keystore path, the environments, `active_env`
// and `active_address`. Sui's JSON-RPC is switched off, so an environment's `rpc` URL is used as the
// full node's gRPC endpoint — the public full nodes and a local node serve gRPC on the same URL, which
// is also what lambdas/shared/sui/networks.ts records for each network.
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { isValidSuiAddress, normalizeSuiAddress } from '@mysten/sui/utils';
import { parse as parseYaml } from 'yaml';
import { SUI_NETWORK_DEFAULTS, SUI_NETWORKS, isSuiNetwork, type SuiNetwork } from '../lambdas/shared/sui/networks';
import { ConfigError } from './errors';
import type { CliContext } from './context';

export interface SuiEnv {
  readonly alias: string;
  readonly rpc: string;
  readonly chainId?: string;
}

export interface SuiClientConfig {
  /** The config directory (SUI_CONFIG_DIR or ~/.sui/sui_config). */
  readonly dir: string;
  /** client.yaml, whether or not it exists. */
  readonly path: string;
  readonly exists: boolean;
  /** `keystore.File` from client.yaml, else `sui.keystore` in the config directory. */
  readonly keystorePath: string;
  readonly envs: readonly SuiEnv[];
  readonly activeEnv?: string;
  readonly activeAddress?: string;
}

export function suiConfigDir(ctx: CliContext): string {
  const fromEnv = ctx.env.SUI_CONFIG_DIR?.trim();
  return fromEnv ? resolve(fromEnv) : join(ctx.homeDir, '.sui', 'sui_config');
}

export async function readSuiClientConfig(ctx: CliContext): Promise<SuiClientConfig> {
  const dir = suiConfigDir(ctx);
  const path = join(dir, 'client.yaml');
  const defaultKeystore = join(dir, 'sui.keystore');
  const raw = await readOptional(path);
  if (raw === undefined) return { dir, path, exists: false, keystorePath: defaultKeystore, envs: [] };
  let doc: unknown;
  try {
    doc = parseYaml(raw);
  } catch {
    throw new ConfigError(`unreadable Sui client config ${path}: not YAML`);
  }
  if (doc === null || doc === undefined) return { dir, path, exists: true, keystorePath: defaultKeystore, envs: [] };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`unreadable Sui client config ${path}: not a mapping`);
  const d = doc as Record<string, unknown>;
  return {
    dir,
    path,
    exists: true,
    keystorePath: keystorePathOf(d.keystore, dir, path) ?? defaultKeystore,
    envs: envsOf(d.envs, path),
    activeEnv: optionalString(d.active_env, 'active_env', path),
    activeAddress: addressOf(d.active_address, path),
  };
}

function keystorePathOf(value: unknown, dir: string, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) {
    const file = (value as Record<string, unknown>).File;
    if (typeof file === 'string' && file.trim() !== '') return isAbsolute(file) ? file : resolve(dir, file);
    if ('InMem' in value) throw new ConfigError(`the Sui client config ${path} uses an in-memory keystore, which cannot be read: set SUI_PRIVATE_KEY`);
  }
  throw new ConfigError(`unreadable Sui client config ${path}: keystore must be { File: <path> }`);
}

function envsOf(value: unknown, path: string): SuiEnv[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ConfigError(`unreadable Sui client config ${path}: envs must be a list`);
  return value.map((entry, i) => {
    const e = (entry ?? {}) as Record<string, unknown>;
    if (typeof e.alias !== 'string' || e.alias === '' || typeof e.rpc !== 'string' || e.rpc === '') {
      throw new ConfigError(`unreadable Sui client config ${path}: envs entry ${i + 1} needs an alias and an rpc URL`);
    }
    const chainId = typeof e.chain_id === 'string' && e.chain_id !== '' ? e.chain_id : undefined;
    return { alias: e.alias, rpc: e.rpc.trim(), chainId };
  });
}

function optionalString(value: unknown, field: string, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ConfigError(`unreadable Sui client config ${path}: ${field} is not a string`);
  return value;
}

function addressOf(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(value) || !isValidSuiAddress(normalizeSuiAddress(value))) {
    throw new ConfigError(`unreadable Sui client config ${path}: active_address is not a Sui address`);
  }
  return normalizeSuiAddress(value);
}

/** Genesis checkpoint digests' prefixes as `sui client` records them in `chain_id`; devnet's changes on every reset. */
const CHAIN_IDS: Readonly<Record<string, SuiNetwork>> = { '35834a8a': 'mainnet', '4c78adac': 'testnet' };

const sameUrl = (a: string, b: string) => a.replace(/\/+$/, '').toLowerCase() === b.replace(/\/+$/, '').toLowerCase();

/**
 * Which Sui network a client.yaml environment is: by its alias when that is a network name, else by
 * its recorded chain id, else by its rpc URL (a network's public full node, or this machine for localnet).
 */
export function networkOfEnv(env: SuiEnv): SuiNetwork | undefined {
  if (isSuiNetwork(env.alias)) return env.alias;
  if (env.chainId && CHAIN_IDS[env.chainId]) return CHAIN_IDS[env.chainId];
  const known = SUI_NETWORKS.find((n) => sameUrl(SUI_NETWORK_DEFAULTS[n].grpcUrl, env.rpc));
  if (known) return known;
  let host: string;
  try {
    host = new URL(env.rpc).hostname;
  } catch {
    return undefined;
  }
  if (host === '127.0.0.1' || host === 'localhost' || host === '0.0.0.0' || host === '[::1]') return 'localnet';
  const named = SUI_NETWORKS.filter((n) => n !== 'localnet' && new RegExp(`(^|[.-])${n}([.-]|$)`).test(host));
  return named.length === 1 ? named[0] : undefined;
}

/** The network and gRPC URL a client.yaml environment stands for; fails when it names no known network. */
export function envTarget(config: SuiClientConfig, env: SuiEnv): { network: SuiNetwork; grpcUrl: string } {
  const network = networkOfEnv(env);
  if (!network) {
    throw new ConfigError(
      `the Sui environment "${env.alias}" in ${config.path} (rpc ${env.rpc}) is not one of ${SUI_NETWORKS.join(', ')}: pass --network <name> and --grpc-url <url>`,
    );
  }
  return { network, grpcUrl: env.rpc };
}

export function findEnv(config: SuiClientConfig, alias: string): SuiEnv | undefined {
  return config.envs.find((e) => e.alias === alias);
}

export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read ${path}: ${code ?? 'I/O error'}`);
  }
}
