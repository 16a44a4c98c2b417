// The Sui CLI's configuration, honoured as `sui client` does: SUI_CONFIG_DIR, client.yaml's keystore path,
// environments (active_env and its rpc URL, used as the gRPC endpoint), active_address, and --address.
import { describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSuiPrivateKey, type Keypair } from '@mysten/sui/cryptography';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { normalizeSuiAddress, toBase64 } from '@mysten/sui/utils';
import { parseCredential } from '../../lambdas/shared/credentials/credential';
import type { SuiClientOptions } from '../../lambdas/shared/sui/client';
import { encodeEvent } from '../../lambdas/shared/sui/events';
import { runCli } from '../../cli/program';
import { networkOfEnv } from '../../cli/sui-config';
import { FakeSuiNode } from './fake-sui-node';
import { makeHarness } from './sui-cli-harness';

const PKG = normalizeSuiAddress('0x' + 'a1'.repeat(32));
const POOL = normalizeSuiAddress('0x' + 'b2'.repeat(32));
const STAKE = normalizeSuiAddress('0x' + 'd4'.repeat(32));
const TOKEN = normalizeSuiAddress('0x' + 'e5'.repeat(32));
const IDS = { K3S_DAAS_PACKAGE_ID: PKG, K3S_DAAS_STAKING_POOL_ID: POOL };

function keystoreJson(keys: Keypair[]): string {
  return JSON.stringify(keys.map((kp) => toBase64(new Uint8Array([0, ...decodeSuiPrivateKey(kp.getSecretKey()).secretKey]))));
}

/** A Sui config directory outside HOME (as SUI_CONFIG_DIR points to) with its keystore in yet another place. */
async function suiConfig(clientYaml: (keystorePath: string) => string, keys: Keypair[]): Promise<{ dir: string; keystorePath: string }> {
  const root = await mkdtemp(join(tmpdir(), 'k3s-daas-suicfg-'));
  const dir = join(root, 'config');
  const keystorePath = join(root, 'keys', 'work.keystore');
  await mkdir(dir, { recursive: true });
  await mkdir(join(root, 'keys'));
  await writeFile(keystorePath, keystoreJson(keys));
  await writeFile(join(dir, 'client.yaml'), clientYaml(keystorePath));
  return { dir, keystorePath };
}

async function runWith(env: NodeJS.ProcessEnv, argv: string[], node = new FakeSuiNode(PKG)) {
  const seen: SuiClientOptions[] = [];
  const h = await makeHarness({ ...IDS, ...env }, {
    suiClient: (options) => {
      seen.push(options);
      return node.client(options);
    },
  });
  const code = await runCli(argv, h.ctx);
  return { code, out: h.stdout(), err: h.stderr(), seen, node };
}

const yaml = (keystorePath: string, activeEnv: string, activeAddress: string, envs: string) =>
  `---\nkeystore:\n  File: ${keystorePath}\nexternal_keys: ~\nenvs:\n${envs}active_env: ${activeEnv}\nactive_address: "${activeAddress}"\n`;

const ENVS = [
  '  - alias: mylocal\n    rpc: "http://127.0.0.1:9123"\n    ws: ~\n    basic_auth: ~\n',
  '  - alias: testnet\n    rpc: "https://sui-testnet.provider.example:443"\n    ws: ~\n    basic_auth: ~\n',
  '  - alias: prod\n    rpc: "https://rpc.provider.example"\n    ws: ~\n    basic_auth: ~\n    chain_id: 35834a8a\n',
  '  - alias: weird\n    rpc: "https://rpc.example.com"\n',
].join('');

describe('client.yaml under SUI_CONFIG_DIR', () => {
  const keys = [new Ed25519Keypair(), new Ed25519Keypair()];
  const active = keys[1].toSuiAddress();

  it('uses the active env (its rpc as the gRPC endpoint), the keystore it names and active_address', async () => {
    const { dir } = await suiConfig((ks) => yaml(ks, 'mylocal', active, ENVS), keys);
    const { code, out, seen } = await runWith({ SUI_CONFIG_DIR: dir }, ['token', 'list']);
    expect(code).toBe(0);
    expect(seen.map((o) => [o.network, o.grpcUrl])).toEqual([['localnet', 'http://127.0.0.1:9123']]);
    expect(out).toContain(`No seal tokens owned by ${active}.`);
  });

  it('--network names a client.yaml env other than the active one; a network alias keeps its own rpc', async () => {
    const { dir } = await suiConfig((ks) => yaml(ks, 'mylocal', active, ENVS), keys);
    expect((await runWith({ SUI_CONFIG_DIR: dir }, ['token', 'list', '--network', 'testnet'])).seen[0]).toMatchObject({ network: 'testnet', grpcUrl: 'https://sui-testnet.provider.example:443' });
    expect((await runWith({ SUI_CONFIG_DIR: dir, K3S_DAAS_NETWORK: 'prod' }, ['token', 'list'])).seen[0]).toMatchObject({ network: 'mainnet', grpcUrl: 'https://rpc.provider.example' });
  });

  it('flags and environment variables win over client.yaml', async () => {
    const { dir } = await suiConfig((ks) => yaml(ks, 'mylocal', active, ENVS), keys);
    expect((await runWith({ SUI_CONFIG_DIR: dir, K3S_DAAS_GRPC_URL: 'http://127.0.0.1:7777' }, ['token', 'list'])).seen[0]).toMatchObject({ network: 'localnet', grpcUrl: 'http://127.0.0.1:7777' });
    expect((await runWith({ SUI_CONFIG_DIR: dir }, ['token', 'list', '--network', 'devnet'])).seen[0]).toMatchObject({ network: 'devnet', grpcUrl: 'https://fullnode.devnet.sui.io:443' });
  });

  it('an env that names no known network is a configuration error (exit 3) that says what to pass', async () => {
    const { dir } = await suiConfig((ks) => yaml(ks, 'weird', active, ENVS), keys);
    const { code, err, seen } = await runWith({ SUI_CONFIG_DIR: dir }, ['token', 'list']);
    expect(code).toBe(3);
    expect(err).toBe(
      `k3s-daas: the Sui environment "weird" in ${join(dir, 'client.yaml')} (rpc https://rpc.example.com) is not one of mainnet, testnet, devnet, localnet: pass --network <name> and --grpc-url <url>\n`,
    );
    expect(seen).toHaveLength(0);
  });

  it('an active_env missing from envs: a network name still works, anything else is exit 3', async () => {
    const { dir } = await suiConfig((ks) => yaml(ks, 'devnet', active, ''), keys);
    expect((await runWith({ SUI_CONFIG_DIR: dir }, ['token', 'list'])).seen[0]).toMatchObject({ network: 'devnet', grpcUrl: 'https://fullnode.devnet.sui.io:443' });
    const other = await suiConfig((ks) => yaml(ks, 'gone', active, ''), keys);
    const { code, err } = await runWith({ SUI_CONFIG_DIR: other.dir }, ['token', 'list']);
    expect(code).toBe(3);
    expect(err).toMatch(/active_env "gone" in .* is not among its envs: pass --network <name>/);
  });

  it('signs with the active_address key from the keystore client.yaml names, or with --address', async () => {
    const { dir } = await suiConfig((ks) => yaml(ks, 'mylocal', active, ENVS), keys);
    for (const [extra, signer] of [[[], keys[1]], [['--address', keys[0].toSuiAddress()], keys[0]]] as const) {
      const node = new FakeSuiNode(PKG);
      node.addObject(POOL, { kind: 'shared', version: 5n });
      node.events = (call) => [{ name: 'staking::StakeDeposited', bcs: encodeEvent('staking::StakeDeposited', { stake_id: STAKE, owner: call.sender, role: 0, amount: 1_000_000_000n, node_id: '' }) }];
      const { code } = await runWith({ SUI_CONFIG_DIR: dir }, ['stake', '1', ...extra], node);
      expect(code).toBe(0);
      expect(node.executed.map((e) => e.sender)).toEqual([signer.toSuiAddress()]);
    }
  });

  it('credential --address picks the signing key', async () => {
    const { dir } = await suiConfig((ks) => yaml(ks, 'mylocal', active, ENVS), keys);
    const { code, out } = await runWith({ SUI_CONFIG_DIR: dir }, ['credential', '--token', TOKEN, '--cluster', 'c1', '--address', keys[0].toSuiAddress()]);
    expect(code).toBe(0);
    const parsed = parseCredential((JSON.parse(out) as { status: { token: string } }).status.token);
    expect(parsed.ok && parsed.value.payload.sub).toBe(keys[0].toSuiAddress());
  });

  it('a keystore path relative to the config directory is resolved there', async () => {
    const { dir } = await suiConfig(() => '', keys);
    await writeFile(join(dir, 'rel.keystore'), keystoreJson([keys[0]]));
    await writeFile(join(dir, 'client.yaml'), 'keystore:\n  File: rel.keystore\nenvs: []\n');
    const { code, out } = await runWith({ SUI_CONFIG_DIR: dir }, ['token', 'list']);
    expect(code).toBe(0);
    expect(out).toContain(`owned by ${keys[0].toSuiAddress()}`);
  });

  it('names the keystore client.yaml points at when it is missing (exit 3)', async () => {
    const { dir } = await suiConfig(() => '', keys);
    await writeFile(join(dir, 'client.yaml'), 'keystore:\n  File: /nonexistent/sui.keystore\n');
    const { code, err } = await runWith({ SUI_CONFIG_DIR: dir }, ['stake', '1']);
    expect(code).toBe(3);
    expect(err).toBe('k3s-daas: no Sui key: set SUI_PRIVATE_KEY (suiprivkey1…) or create a keystore with the Sui CLI (/nonexistent/sui.keystore not found)\n');
  });

  it.each([
    ['an in-memory keystore', 'keystore:\n  InMem: {}\n', /uses an in-memory keystore, which cannot be read: set SUI_PRIVATE_KEY/],
    ['envs that are not a list', 'envs: testnet\n', /envs must be a list/],
    ['an env without rpc', 'envs:\n  - alias: x\nactive_env: x\n', /envs entry 1 needs an alias and an rpc URL/],
    ['YAML that does not parse', 'envs: [\n', /not YAML/],
  ])('%s is a configuration error (exit 3)', async (_name, content, message) => {
    const { dir } = await suiConfig(() => content, keys);
    const { code, err } = await runWith({ SUI_CONFIG_DIR: dir }, ['stake', '1']);
    expect(code).toBe(3);
    expect(err).toMatch(message);
    expect(err.trim().split('\n')).toHaveLength(1);
  });

  it('--address lists another address without needing its key', async () => {
    const other = new Ed25519Keypair().toSuiAddress();
    const { code, out } = await runWith({}, ['token', 'list', '--address', other]);
    expect(code).toBe(0);
    expect(out).toContain(`No seal tokens owned by ${other}.`);
  });
});

describe('networkOfEnv', () => {
  it.each([
    [{ alias: 'testnet', rpc: 'https://anything.example' }, 'testnet'],
    [{ alias: 'main', rpc: 'https://fullnode.mainnet.sui.io:443' }, 'mainnet'],
    [{ alias: 'x', rpc: 'https://fullnode.devnet.sui.io:443/' }, 'devnet'],
    [{ alias: 'local', rpc: 'http://localhost:9000' }, 'localnet'],
    [{ alias: 'p', rpc: 'https://rpc.example', chainId: '4c78adac' }, 'testnet'],
    [{ alias: 'p', rpc: 'https://sui-mainnet.blockvision.example' }, 'mainnet'],
    [{ alias: 'p', rpc: 'https://rpc.example' }, undefined],
    [{ alias: 'p', rpc: 'not a url' }, undefined],
  ])('%j → %s', (env, network) => {
    expect(networkOfEnv(env)).toBe(network);
  });
});
