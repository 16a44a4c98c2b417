import { describe, expect, it } from '@jest/globals';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { Secp256k1Keypair } from '@mysten/sui/keypairs/secp256k1';
import { Secp256r1Keypair } from '@mysten/sui/keypairs/secp256r1';
import { CliError } from '../../cli/context';
import { loadKeypair } from '../../cli/keys';
import { makeHarness, writeKeystore } from './sui-cli-harness';

async function failure(promise: Promise<unknown>): Promise<CliError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

describe('loadKeypair', () => {
  it.each([
    ['Ed25519', () => new Ed25519Keypair()],
    ['Secp256k1', () => new Secp256k1Keypair()],
    ['Secp256r1', () => new Secp256r1Keypair()],
  ])('reads a %s key from SUI_PRIVATE_KEY', async (_name, make) => {
    const kp = make();
    const { ctx } = await makeHarness({ SUI_PRIVATE_KEY: kp.getSecretKey() });
    const loaded = await loadKeypair(ctx);
    expect(loaded.toSuiAddress()).toBe(kp.toSuiAddress());
  });

  it('prefers SUI_PRIVATE_KEY over the keystore', async () => {
    const envKey = new Ed25519Keypair();
    const { ctx } = await makeHarness({ SUI_PRIVATE_KEY: envKey.getSecretKey() });
    await writeKeystore(ctx.homeDir, [new Ed25519Keypair()]);
    expect((await loadKeypair(ctx)).toSuiAddress()).toBe(envKey.toSuiAddress());
  });

  it('rejects a malformed SUI_PRIVATE_KEY without echoing it', async () => {
    const secret = 'suiprivkey1notreallyakey';
    const { ctx } = await makeHarness({ SUI_PRIVATE_KEY: secret });
    const error = await failure(loadKeypair(ctx));
    expect(error.message).toBe('SUI_PRIVATE_KEY is not a valid suiprivkey1… private key');
    expect(error.message).not.toContain(secret);
  });

  it('rejects an --address that SUI_PRIVATE_KEY does not own', async () => {
    const { ctx } = await makeHarness({ SUI_PRIVATE_KEY: new Ed25519Keypair().getSecretKey() });
    const other = new Ed25519Keypair().toSuiAddress();
    expect((await failure(loadKeypair(ctx, { address: other }))).message).toMatch(/not of 0x/);
  });

  it('picks the active address from client.yaml among several keystore keys', async () => {
    const keys = [new Ed25519Keypair(), new Secp256k1Keypair(), new Secp256r1Keypair()];
    const { ctx } = await makeHarness();
    await writeKeystore(ctx.homeDir, keys, keys[2].toSuiAddress());
    expect((await loadKeypair(ctx)).toSuiAddress()).toBe(keys[2].toSuiAddress());
    expect((await loadKeypair(ctx)).getKeyScheme()).toBe('Secp256r1');
  });

  it('picks an explicit address over the active one', async () => {
    const keys = [new Ed25519Keypair(), new Secp256k1Keypair()];
    const { ctx } = await makeHarness();
    await writeKeystore(ctx.homeDir, keys, keys[0].toSuiAddress());
    expect((await loadKeypair(ctx, { address: keys[1].toSuiAddress() })).toSuiAddress()).toBe(keys[1].toSuiAddress());
  });

  it('uses the only keystore key when client.yaml is absent', async () => {
    const key = new Ed25519Keypair();
    const { ctx } = await makeHarness();
    await writeKeystore(ctx.homeDir, [key]);
    expect((await loadKeypair(ctx)).toSuiAddress()).toBe(key.toSuiAddress());
  });

  it('fails with one line when there is no key at all', async () => {
    const { ctx } = await makeHarness();
    const error = await failure(loadKeypair(ctx));
    expect(error.message).toMatch(/^no Sui key: set SUI_PRIVATE_KEY/);
    expect(error.message).not.toContain('\n');
  });

  it('fails when the address is not in the keystore', async () => {
    const { ctx } = await makeHarness();
    await writeKeystore(ctx.homeDir, [new Ed25519Keypair()]);
    const missing = new Ed25519Keypair().toSuiAddress();
    expect((await failure(loadKeypair(ctx, { address: missing }))).message).toMatch(/is not in the Sui keystore/);
  });

  it('fails when several keys exist and none is active', async () => {
    const { ctx } = await makeHarness();
    await writeKeystore(ctx.homeDir, [new Ed25519Keypair(), new Ed25519Keypair()]);
    expect((await failure(loadKeypair(ctx))).message).toMatch(/no active_address/);
  });

  it.each([
    ['not JSON', '{oops', /not JSON/],
    ['not an array of strings', '[1,2]', /JSON array of keys/],
    ['an empty array', '[]', /is empty/],
    ['an entry that is not base64', '["@@@"]', /not base64|flag byte/],
    ['an entry with an unknown scheme flag', `["${Buffer.from(new Uint8Array(33).fill(9)).toString('base64')}"]`, /flag byte/],
    ['an entry of the wrong length', `["${Buffer.from(new Uint8Array(20)).toString('base64')}"]`, /flag byte/],
  ])('fails on an unreadable keystore: %s', async (_name, content, message) => {
    const { ctx } = await makeHarness();
    const dir = join(ctx.homeDir, '.sui', 'sui_config');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'sui.keystore'), content);
    const error = await failure(loadKeypair(ctx));
    expect(error.message).toMatch(message);
  });

  it('fails on a client.yaml whose active_address is not an address', async () => {
    const { ctx } = await makeHarness();
    await writeKeystore(ctx.homeDir, [new Ed25519Keypair()]);
    await writeFile(join(ctx.homeDir, '.sui', 'sui_config', 'client.yaml'), 'active_address: hello\n');
    expect((await failure(loadKeypair(ctx))).message).toMatch(/active_address is not a Sui address/);
  });

  it('rejects an --address that is not an address', async () => {
    const { ctx } = await makeHarness();
    expect((await failure(loadKeypair(ctx, { address: 'alice' }))).message).toMatch(/is not a Sui address/);
  });
});
