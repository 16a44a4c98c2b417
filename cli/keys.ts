// Loads the user's Sui signing key (DESIGN §9): `SUI_PRIVATE_KEY` (`suiprivkey1…`) first, else the Sui CLI
// keystore that client.yaml names (under `SUI_CONFIG_DIR`, default `~/.sui/sui_config`), choosing
// `--address` or client.yaml's `active_address`. Errors name the file or variable but never echo key material.
import { decodeSuiPrivateKey, type Keypair } from '@mysten/sui/cryptography';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { Secp256k1Keypair } from '@mysten/sui/keypairs/secp256k1';
import { Secp256r1Keypair } from '@mysten/sui/keypairs/secp256r1';
import { fromBase64, isValidSuiAddress, normalizeSuiAddress } from '@mysten/sui/utils';
import type { CliContext } from './context';
import { ConfigError, UsageError } from './errors';
import { readOptional, readSuiClientConfig } from './sui-config';

// Keystore entries are base64 of `flag ‖ 32-byte secret`; the flag is the signature scheme.
const KEYPAIR_BY_FLAG: Record<number, (secret: Uint8Array) => Keypair> = {
  0x00: (secret) => Ed25519Keypair.fromSecretKey(secret),
  0x01: (secret) => Secp256k1Keypair.fromSecretKey(secret),
  0x02: (secret) => Secp256r1Keypair.fromSecretKey(secret),
};

const KEYPAIR_BY_SCHEME: Record<string, (secret: Uint8Array) => Keypair> = {
  ED25519: KEYPAIR_BY_FLAG[0x00],
  Secp256k1: KEYPAIR_BY_FLAG[0x01],
  Secp256r1: KEYPAIR_BY_FLAG[0x02],
};

export interface LoadKeypairOptions {
  /** Pick this address from the keystore instead of the active one (must match SUI_PRIVATE_KEY when set). */
  readonly address?: string;
}

export async function loadKeypair(ctx: CliContext, opts: LoadKeypairOptions = {}): Promise<Keypair> {
  const wanted = opts.address === undefined ? undefined : parseAddress(opts.address);
  const fromEnv = ctx.env.SUI_PRIVATE_KEY?.trim();
  if (fromEnv) {
    const keypair = keypairFromBech32(fromEnv, 'SUI_PRIVATE_KEY');
    if (wanted && keypair.toSuiAddress() !== wanted) {
      throw new ConfigError(`SUI_PRIVATE_KEY is the key of ${keypair.toSuiAddress()}, not of ${wanted}`);
    }
    return keypair;
  }
  return loadFromKeystore(ctx, wanted);
}

/**
 * The address a read-only command acts for: `--address` as given (no key needed to look), else the
 * address of the key the signing commands would use (SUI_PRIVATE_KEY, client.yaml active_address, or
 * the keystore's only key).
 */
export async function callerAddress(ctx: CliContext, address: string | undefined): Promise<string> {
  if (address !== undefined) return parseAddress(address);
  if (ctx.env.SUI_PRIVATE_KEY?.trim()) return (await loadKeypair(ctx)).toSuiAddress();
  const { activeAddress } = await readSuiClientConfig(ctx);
  return activeAddress ?? (await loadKeypair(ctx)).toSuiAddress();
}

async function loadFromKeystore(ctx: CliContext, wanted: string | undefined): Promise<Keypair> {
  const config = await readSuiClientConfig(ctx);
  const { keystorePath } = config;
  const raw = await readOptional(keystorePath);
  if (raw === undefined) {
    throw new ConfigError(`no Sui key: set SUI_PRIVATE_KEY (suiprivkey1…) or create a keystore with the Sui CLI (${keystorePath} not found)`);
  }
  let entries: unknown;
  try {
    entries = JSON.parse(raw);
  } catch {
    throw new ConfigError(`unreadable Sui keystore ${keystorePath}: not JSON`);
  }
  if (!Array.isArray(entries) || !entries.every((e) => typeof e === 'string')) {
    throw new ConfigError(`unreadable Sui keystore ${keystorePath}: expected a JSON array of keys`);
  }
  const keypairs = entries.map((entry, i) => keystoreEntry(entry, `${keystorePath} entry ${i + 1}`));
  if (keypairs.length === 0) throw new ConfigError(`no Sui key: the keystore ${keystorePath} is empty`);

  const address = wanted ?? config.activeAddress;
  if (address === undefined) {
    if (keypairs.length === 1) return keypairs[0];
    throw new ConfigError(`several keys in ${keystorePath} and no active_address in client.yaml: pass --address`);
  }
  const match = keypairs.find((kp) => kp.toSuiAddress() === address);
  if (!match) throw new ConfigError(`address ${address} is not in the Sui keystore ${keystorePath}`);
  return match;
}

function keystoreEntry(entry: string, where: string): Keypair {
  if (entry.startsWith('suiprivkey')) return keypairFromBech32(entry, where);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(entry);
  } catch {
    throw new ConfigError(`unreadable Sui keystore: ${where} is not base64`);
  }
  const make = KEYPAIR_BY_FLAG[bytes[0]];
  if (bytes.length !== 33 || !make) {
    throw new ConfigError(`unreadable Sui keystore: ${where} is not a flag byte followed by a 32-byte key`);
  }
  try {
    return make(bytes.slice(1));
  } catch {
    throw new ConfigError(`unreadable Sui keystore: ${where} holds an invalid key`);
  }
}

function keypairFromBech32(value: string, where: string): Keypair {
  let decoded: ReturnType<typeof decodeSuiPrivateKey>;
  try {
    decoded = decodeSuiPrivateKey(value);
  } catch {
    // The decoder's message can quote the input; keep the key out of terminals and logs.
    throw new ConfigError(`${where} is not a valid suiprivkey1… private key`);
  }
  const make = KEYPAIR_BY_SCHEME[decoded.scheme];
  if (!make) throw new ConfigError(`${where} uses the ${decoded.scheme} scheme; only Ed25519, Secp256k1 and Secp256r1 keys are supported`);
  try {
    return make(decoded.secretKey);
  } catch {
    throw new ConfigError(`${where} holds an invalid ${decoded.scheme} key`);
  }
}

function parseAddress(value: string): string {
  const normalized = normalizeSuiAddress(value.trim());
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(value.trim()) || !isValidSuiAddress(normalized)) {
    throw new UsageError(`--address ${value} is not a Sui address (0x followed by up to 64 hex digits)`);
  }
  return normalized;
}
