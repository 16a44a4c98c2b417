import { describe, expect, it } from '@jest/globals';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { normalizeSuiAddress } from '@mysten/sui/utils';
import { parseTtl } from '../../cli/commands/token';
import { CliError } from '../../cli/context';
import { runCli } from '../../cli/program';
import { encodeEvent } from '../../lambdas/shared/sui/events';
import { SEAL_TOKEN_OBJECT } from '../../lambdas/shared/sui/objects';
import { sealTokenType } from '../../lambdas/shared/sui/transactions';
import { FakeSuiNode } from './fake-sui-node';
import { makeHarness } from './sui-cli-harness';

const PKG = normalizeSuiAddress('0x' + 'a1'.repeat(32));
const POOL = normalizeSuiAddress('0x' + 'b2'.repeat(32));
const STAKE = normalizeSuiAddress('0x' + 'd4'.repeat(32));
const TOKEN = normalizeSuiAddress('0x' + 'e5'.repeat(32));
const NOW = Date.parse('2026-11-23T00:00:00Z'); // the harness clock

async function setup(env: Record<string, string> = {}) {
  const key = new Ed25519Keypair();
  const node = new FakeSuiNode(PKG);
  node.addObject(POOL, { kind: 'shared', version: 5n });
  node.addObject(STAKE, { kind: 'owned', version: 8n });
  node.addObject(TOKEN, { kind: 'owned', version: 9n });
  const h = await makeHarness({ SUI_PRIVATE_KEY: key.getSecretKey(), K3S_DAAS_PACKAGE_ID: PKG, K3S_DAAS_STAKING_POOL_ID: POOL, ...env }, { suiClient: node.client });
  return { node, h, address: key.toSuiAddress(), run: (...argv: string[]) => runCli(argv, h.ctx) };
}

function tokenObject(id: string, owner: string, cluster: string, expiresAtMs: number) {
  return {
    kind: 'owned' as const, version: 1n, owner, type: sealTokenType(PKG),
    contents: SEAL_TOKEN_OBJECT.serialize({
      id, stake_id: STAKE, owner, role: 1, permissions: ['read', 'node:write'], cluster_id: cluster, issued_at_ms: BigInt(NOW - 1000), expires_at_ms: BigInt(expiresAtMs),
    }).toBytes(),
  };
}

describe('k3s-daas token issue', () => {
  it('issues a token against a stake for the cluster and prints its id, role and expiry', async () => {
    const { node, h, run, address } = await setup();
    node.events = () => [{
      name: 'seal_token::SealTokenIssued',
      bcs: encodeEvent('seal_token::SealTokenIssued', {
        token_id: TOKEN, stake_id: STAKE, owner: address, role: 1, permissions: ['read', 'node:write'], cluster_id: 'prod-eu', expires_at_ms: BigInt(NOW + 43_200_000),
      }),
    }];
    expect(await run('token', 'issue', '--stake', STAKE, '--cluster', 'prod-eu', '--ttl', '12h')).toBe(0);
    expect(node.executed).toEqual([{ sender: address, calls: ['seal_token::issue'] }]);
    expect(h.stdout()).toBe(
      `Issued seal token ${TOKEN} for cluster prod-eu.\nrole: node (permissions: read, node:write)\nexpires: 2026-11-23T12:00:00.000Z\n`,
    );
    expect(h.stderr()).toBe(''); // stderr is not a terminal here: no progress
  });

  it('takes the cluster from K3S_DAAS_CLUSTER_ID and prints JSON', async () => {
    const { node, h, run, address } = await setup({ K3S_DAAS_CLUSTER_ID: 'dev' });
    node.events = () => [{
      name: 'seal_token::SealTokenIssued',
      bcs: encodeEvent('seal_token::SealTokenIssued', { token_id: TOKEN, stake_id: STAKE, owner: address, role: 0, permissions: ['read'], cluster_id: 'dev', expires_at_ms: 1n }),
    }];
    expect(await run('token', 'issue', '--stake', STAKE, '--json')).toBe(0);
    expect(JSON.parse(h.stdout())).toEqual({
      tokenId: TOKEN, stakeId: STAKE, owner: address, role: 'user', permissions: ['read'], clusterId: 'dev', expiresAtMs: '1', expiresAt: '1970-01-01T00:00:00.001Z', digest: expect.any(String),
    });
  });

  it.each([
    [103, 'seal_token::EStakeSlashed (the stake was slashed)'],
    [102, 'seal_token::EStakeNotActive (the stake is unbonding or withdrawn)'],
    [104, 'seal_token::EInsufficientStake (the stake is below the pool minimum for its role)'],
    [105, 'seal_token::EForeignReceipt (the receipt belongs to another pool)'],
  ])('names the Move abort %d', async (code, named) => {
    const { node, h, run } = await setup();
    node.abort = { module: 'seal_token', code };
    expect(await run('token', 'issue', '--stake', STAKE, '--cluster', 'c')).toBe(5);
    expect(h.stderr().trim().split('\n').at(-1)).toBe(`k3s-daas: transaction aborted: ${named}`);
    expect(node.executed).toHaveLength(0);
  });

  it.each([
    [['--stake', STAKE], 'no cluster: pass --cluster <cluster-id> or set K3S_DAAS_CLUSTER_ID'],
    [['--stake', STAKE, '--cluster', 'x'.repeat(65)], 'cluster id must be 1 to 64 bytes'],
    [['--stake', STAKE, '--cluster', 'c', '--ttl', '2y'], '--ttl "2y" is not a duration such as 90m, 12h or 30d'],
    [['--stake', STAKE, '--cluster', 'c', '--ttl', '366d'], '--ttl "366d" must be more than 0 and at most 365d'],
    [['--stake', 'nope', '--cluster', 'c'], 'stake id "nope" is not a Sui object id (0x followed by up to 64 hex digits)'],
  ])('rejects %j with one line', async (args, message) => {
    const { h, run, node } = await setup();
    expect(await run('token', 'issue', ...args)).toBe(2);
    expect(h.stderr()).toBe(`k3s-daas: ${message}\n`);
    expect(node.transport.calls).toHaveLength(0);
  });

  it('reports an unreachable network in one line', async () => {
    const { node, h, run } = await setup();
    node.transport.failAll('DEADLINE_EXCEEDED', 'timed out');
    expect(await run('token', 'issue', '--stake', STAKE, '--cluster', 'c')).toBe(4);
    expect(h.stderr()).toBe(
      'k3s-daas: the Sui gRPC endpoint https://fullnode.testnet.sui.io:443 did not answer within 30 s while preparing the transaction (raise --timeout if the node is slow)\n',
    );
  });
});

describe('k3s-daas token revoke', () => {
  it('burns the token', async () => {
    const { node, h, run, address } = await setup();
    node.events = () => [{ name: 'seal_token::SealTokenRevoked', bcs: encodeEvent('seal_token::SealTokenRevoked', { token_id: TOKEN }) }];
    expect(await run('token', 'revoke', TOKEN)).toBe(0);
    expect(node.executed).toEqual([{ sender: address, calls: ['seal_token::revoke'] }]);
    expect(h.stdout()).toBe(`Revoked seal token ${TOKEN}; clusters stop accepting it within a minute.\n`);
  });

  it('fails in one line when the token does not exist', async () => {
    const { h, run } = await setup();
    expect(await run('token', 'revoke', '0x' + '77'.repeat(32))).toBe(5);
    expect(h.stderr().trim().split('\n').at(-1)).toMatch(/^k3s-daas: preparing the transaction failed: object 0x7+ not found$/);
  });

  it('fails with one line when no key is configured', async () => {
    const node = new FakeSuiNode(PKG);
    const h = await makeHarness({ K3S_DAAS_PACKAGE_ID: PKG, K3S_DAAS_STAKING_POOL_ID: POOL }, { suiClient: node.client });
    expect(await runCli(['token', 'revoke', TOKEN], h.ctx)).toBe(3);
    expect(h.stderr()).toMatch(/^k3s-daas: no Sui key: /);
  });
});

describe('k3s-daas token list', () => {
  it('lists the owned seal tokens across pages, marking expired ones', async () => {
    const { node, h, run, address } = await setup();
    for (let i = 0; i < 55; i++) {
      node.addObject('0x' + (1000 + i).toString(16), tokenObject(normalizeSuiAddress('0x' + (1000 + i).toString(16)), address, `c${i}`, i === 0 ? NOW - 1 : NOW + 86_400_000));
    }
    node.addObject('0xf00', tokenObject(normalizeSuiAddress('0xf00'), normalizeSuiAddress('0x55'), 'not-mine', NOW + 1));
    expect(await run('token', 'list')).toBe(0);
    const lines = h.stdout().trim().split('\n');
    expect(lines[0]).toMatch(/^TOKEN ID\s+CLUSTER\s+ROLE\s+PERMISSIONS\s+EXPIRES$/);
    expect(lines).toHaveLength(56);
    expect(lines[1]).toMatch(/ c0 +node +read,node:write +2026-11-22T23:59:59\.999Z \(expired\)$/);
    expect(h.stdout()).not.toContain('not-mine');
    const listCalls = node.transport.calls.filter((c) => c.method === 'sui.rpc.v2.StateService/ListOwnedObjects');
    expect(listCalls).toHaveLength(2);
    expect((listCalls[0].request as { objectType: string }).objectType).toBe(`${PKG}::seal_token::SealToken`);
  });

  it('prints JSON with --json', async () => {
    const { node, h, run, address } = await setup();
    node.addObject(TOKEN, tokenObject(TOKEN, address, 'prod', NOW + 1000));
    expect(await run('token', 'list', '--json')).toBe(0);
    expect(JSON.parse(h.stdout())).toEqual([{
      tokenId: TOKEN, stakeId: STAKE, role: 'node', permissions: ['read', 'node:write'], clusterId: 'prod',
      issuedAt: new Date(NOW - 1000).toISOString(), expiresAt: new Date(NOW + 1000).toISOString(), expired: false,
    }]);
  });

  it('says so when there are no tokens', async () => {
    const { h, run, address } = await setup();
    expect(await run('token', 'list')).toBe(0);
    expect(h.stdout()).toBe(`No seal tokens owned by ${address}. Issue one with: k3s-daas token issue --stake <stake-id> --cluster <cluster-id>\n`);
  });

  it('reports an unreachable network in one line', async () => {
    const { node, h, run } = await setup();
    node.transport.failAll();
    expect(await run('token', 'list')).toBe(4);
    expect(h.stderr()).toBe('k3s-daas: network unreachable: cannot reach the Sui gRPC endpoint https://fullnode.testnet.sui.io:443 (UNAVAILABLE: connection refused)\n');
  });
});

describe('parseTtl', () => {
  it.each([['90m', 5_400_000], ['12h', 43_200_000], ['30d', 2_592_000_000], ['365d', 31_536_000_000], ['1s', 1000]])('%s is %d ms', (text, ms) => {
    expect(parseTtl(text)).toBe(ms);
  });
  it.each(['0d', '1.5h', 'h', '10', '-1d'])('rejects %s', (text) => {
    expect(() => parseTtl(text)).toThrow(CliError);
  });
});
