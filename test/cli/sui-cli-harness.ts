// In-process CliContext for the Sui CLI tests: a temporary home, captured output, a fixed clock.
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Keypair } from '@mysten/sui/cryptography';
import { toBase64 } from '@mysten/sui/utils';
import { decodeSuiPrivateKey } from '@mysten/sui/cryptography';
import type { CliContext } from '../../cli/context';

export interface Harness {
  readonly ctx: CliContext;
  readonly stdout: () => string;
  readonly stderr: () => string;
}

export async function makeHarness(env: NodeJS.ProcessEnv = {}, extra: Partial<CliContext> = {}): Promise<Harness> {
  const homeDir = await mkdtemp(join(tmpdir(), 'k3s-daas-cli-'));
  let out = '';
  let err = '';
  const ctx: CliContext = {
    out: (text) => { out += text; },
    err: (text) => { err += text; },
    env,
    homeDir,
    now: () => new Date('2026-11-23T00:00:00Z'),
    fetch: () => Promise.reject(new Error('no network in tests')),
    ...extra,
  };
  return { ctx, stdout: () => out, stderr: () => err };
}

/** Writes a Sui CLI keystore (`flag ‖ secret` base64 entries) and optionally client.yaml. */
export async function writeKeystore(homeDir: string, keypairs: Keypair[], activeAddress?: string): Promise<void> {
  const dir = join(homeDir, '.sui', 'sui_config');
  await mkdir(dir, { recursive: true });
  const entries = keypairs.map((kp) => {
    const { secretKey } = decodeSuiPrivateKey(kp.getSecretKey());
    return toBase64(new Uint8Array([kp.getKeyScheme() === 'ED25519' ? 0 : kp.getKeyScheme() === 'Secp256k1' ? 1 : 2, ...secretKey]));
  });
  await writeFile(join(dir, 'sui.keystore'), JSON.stringify(entries));
  if (activeAddress !== undefined) {
    await writeFile(join(dir, 'client.yaml'), `keystore:\n  File: ${join(dir, 'sui.keystore')}\nactive_env: testnet\nactive_address: "${activeAddress}"\n`);
  }
}

/** A loopback TCP port nothing listens on (bound once by us, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
