// Loads the user's Sui signing key (DESIGN §9): `SUI_PRIVATE_KEY` (`suiprivkey1…`) first, else the Sui CLI
// keystore under `~/.sui/sui_config`. Errors name the file or variable but never echo key material.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSuiPrivateKey, type Keypair } from '@mysten/sui/cryptography';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { Secp256k1Keypair } from '@mysten/sui/keypairs/secp256k1';
import { Secp256r1Keypair } from '@mysten/sui/keypairs/secp256r1';
import { fromBase64, isValidSuiAddress, normalizeSuiAddress } from '@mysten/sui/utils';
import { parse as parseYaml } from 'yaml';
import { CliError, type CliContext } from './context';

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

export function suiConfigDir(ctx: CliContext): string {
  return join(ctx.homeDir, '.sui', 'sui_config');
}

export async function loadKeypair(ctx: CliContext, opts: LoadKeypairOptions = {}): Promise<Keypair> {
  const wanted = opts.address === undefined ? undefined : parseAddress(opts.address);
  const fromEnv = ctx.env.SUI_PRIVATE_KEY?.trim();
  if (fromEnv) {
    const keypair = keypairFromBech32(fromEnv, 'SUI_PRIVATE_KEY');
    if (wanted && keypair.toSuiAddress() !== wanted) {
      throw new CliError(`SUI_PRIVATE_KEY is the key of ${keypair.toSuiAddress()}, not of ${wanted}`);
    }
    return keypair;
  }
  return loadFromKeystore(ctx, wanted);
}

async function loadFromKeystore(ctx: CliContext, wanted: string | undefined): Promise<Keypair> {
  const dir = suiConfigDir(ctx);
  const keystorePath = join(dir, 'sui.keystore');
  const raw = await readOptional(keystorePath);
  if (raw === undefined) {
    throw new CliError(`no Sui key: set SUI_PRIVATE_KEY (suiprivkey1…) or create a keystore with the Sui CLI (${keystorePath} not found)`);
  }
  let entries: unknown;
  try {
    entries = JSON.parse(raw);
  } catch {
    throw new CliError(`unreadable Sui keystore ${keystorePath}: not JSON`);
  }
  if (!Array.isArray(entries) || !entries.every((e) => typeof e === 'string')) {
    throw new CliError(`unreadable Sui keystore ${keystorePath}: expected a JSON array of keys`);
  }
  const keypairs = entries.map((entry, i) => keystoreEntry(entry, `${keystorePath} entry ${i + 1}`));
  if (keypairs.length === 0) throw new CliError(`no Sui key: the keystore ${keystorePath} is empty`);

  const address = wanted ?? (await activeAddress(dir));
  if (address === undefined) {
    if (keypairs.length === 1) return keypairs[0];
    throw new CliError(`several keys in ${keystorePath} and no active_address in client.yaml: pass --address`);
  }
  const match = keypairs.find((kp) => kp.toSuiAddress() === address);
  if (!match) throw new CliError(`address ${address} is not in the Sui keystore ${keystorePath}`);
  return match;
}

async function activeAddress(dir: string): Promise<string | undefined> {
  const path = join(dir, 'client.yaml');
  const raw = await readOptional(path);
  if (raw === undefined) return undefined;
  let doc: unknown;
  try {
    doc = parseYaml(raw);
  } catch {
    throw new CliError(`unreadable Sui client config ${path}: not YAML`);
  }
  const value = (doc as { active_address?: unknown } | null)?.active_address;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !isValidSuiAddress(normalizeSuiAddress(value))) {
    throw new CliError(`unreadable Sui client config ${path}: active_address is not a Sui address`);
  }
  return normalizeSuiAddress(value);
}

function keystoreEntry(entry: string, where: string): Keypair {
  if (entry.startsWith('suiprivkey')) return keypairFromBech32(entry, where);
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(entry);
  } catch {
    throw new CliError(`unreadable Sui keystore: ${where} is not base64`);
  }
  const make = KEYPAIR_BY_FLAG[bytes[0]];
  if (bytes.length !== 33 || !make) {
    throw new CliError(`unreadable Sui keystore: ${where} is not a flag byte followed by a 32-byte key`);
  }
  try {
    return make(bytes.slice(1));
  } catch {
    throw new CliError(`unreadable Sui keystore: ${where} holds an invalid key`);
  }
}

function keypairFromBech32(value: string, where: string): Keypair {
  let decoded: ReturnType<typeof decodeSuiPrivateKey>;
  try {
    decoded = decodeSuiPrivateKey(value);
  } catch {
    // The decoder's message can quote the input; keep the key out of terminals and logs.
    throw new CliError(`${where} is not a valid suiprivkey1… private key`);
  }
  const make = KEYPAIR_BY_SCHEME[decoded.scheme];
  if (!make) throw new CliError(`${where} uses the ${decoded.scheme} scheme; only Ed25519, Secp256k1 and Secp256r1 keys are supported`);
  try {
    return make(decoded.secretKey);
  } catch {
    throw new CliError(`${where} holds an invalid ${decoded.scheme} key`);
  }
}

function parseAddress(value: string): string {
  const normalized = normalizeSuiAddress(value.trim());
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(value.trim()) || !isValidSuiAddress(normalized)) {
    throw new CliError(`--address ${value} is not a Sui address (0x followed by up to 64 hex digits)`);
  }
  return normalized;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'I/O error'}`);
  }
}
