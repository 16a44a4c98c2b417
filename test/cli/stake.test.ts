import { describe, expect, it } from '@jest/globals';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { normalizeSuiAddress } from '@mysten/sui/utils';
import { runCli } from '../../cli/program';
import { encodeEvent } from '../../lambdas/shared/sui/events';
import { bcs } from '@mysten/sui/bcs';
import { deriveDynamicFieldID } from '@mysten/sui/utils';
import { SEAL_TOKEN_OBJECT, STAKE_RECEIPT_OBJECT, STAKE_TABLE_ENTRY, STAKE_TABLE_KEY_TYPE, STAKING_POOL_HEAD } from '../../lambdas/shared/sui/objects';
import { sealTokenType, stakeReceiptType } from '../../lambdas/shared/sui/transactions';
import { FakeSuiNode } from './fake-sui-node';
import { closedPort, makeHarness, writeKeystore } from './sui-cli-harness';

const PKG = normalizeSuiAddress('0x' + 'a1'.repeat(32));
const POOL = normalizeSuiAddress('0x' + 'b2'.repeat(32));
const STAKE = normalizeSuiAddress('0x' + 'd4'.repeat(32));
const SUI = 1_000_000_000n;

async function setup(options: { env?: Record<string, string>; keystore?: boolean; tty?: boolean } = {}) {
  const key = new Ed25519Keypair();
  const node = new FakeSuiNode(PKG);
  node.addObject(POOL, { kind: 'shared', version: 5n });
  node.addObject(STAKE, { kind: 'owned', version: 8n, owner: key.toSuiAddress() });
  const env: Record<string, string> = { K3S_DAAS_PACKAGE_ID: PKG, K3S_DAAS_STAKING_POOL_ID: POOL, ...options.env };
  if (!options.keystore) env.SUI_PRIVATE_KEY = key.getSecretKey();
  const h = await makeHarness(env, { suiClient: node.client, errIsTTY: options.tty === true });
  if (options.keystore) await writeKeystore(h.ctx.homeDir, [key], key.toSuiAddress());
  const run = (...argv: string[]) => runCli(argv, h.ctx);
  return { key, node, h, run, address: key.toSuiAddress() };
}

describe('k3s-daas stake', () => {
  it('stakes for a node, shows progress on a terminal and prints the stake id', async () => {
    const { node, h, run, address } = await setup({ tty: true });
    node.events = () => [{ name: 'staking::StakeDeposited', bcs: encodeEvent('staking::StakeDeposited', { stake_id: STAKE, owner: address, role: 1, amount: 2n * SUI, node_id: 'op-1' }) }];
    expect(await run('stake', '2', '--role', 'node', '--node-id', 'op-1')).toBe(0);
    expect(node.executed).toEqual([{ sender: address, calls: ['staking::stake'] }]);
    expect(h.stdout()).toContain('Staked 2 SUI as node for node op-1.');
    expect(h.stdout()).toContain(`stake id: ${STAKE}`);
    expect(h.stderr()).toMatch(/staking 2 SUI as node: preparing the transaction on testnet….*staking 2 SUI as node: submitted, waiting for testnet to execute it…/s);
    // The spinner line is cleared at the end: nothing of it is left on the terminal's last line.
    expect(h.stderr().endsWith('\r\x1b[2K')).toBe(true);
  });

  it('prints no progress into a pipe', async () => {
    const { node, h, run, address } = await setup();
    node.events = () => [{ name: 'staking::StakeDeposited', bcs: encodeEvent('staking::StakeDeposited', { stake_id: STAKE, owner: address, role: 0, amount: SUI, node_id: '' }) }];
    expect(await run('stake', '1')).toBe(0);
    expect(h.stderr()).toBe('');
  });

  it('prints JSON with --json and uses the keystore key when SUI_PRIVATE_KEY is unset', async () => {
    const { node, h, run, address } = await setup({ keystore: true });
    node.events = () => [{ name: 'staking::StakeDeposited', bcs: encodeEvent('staking::StakeDeposited', { stake_id: STAKE, owner: address, role: 0, amount: SUI / 4n, node_id: '' }) }];
    expect(await run('stake', '0.25', '--json')).toBe(0);
    expect(JSON.parse(h.stdout())).toEqual({ stakeId: STAKE, owner: address, role: 'user', amountMist: '250000000', nodeId: '', digest: expect.any(String) });
  });

  it('sends the configured gRPC auth header', async () => {
    const { node, run, address } = await setup({ env: { K3S_DAAS_GRPC_AUTH: 'x-api-key: k3y' } });
    node.events = () => [{ name: 'staking::StakeDeposited', bcs: encodeEvent('staking::StakeDeposited', { stake_id: STAKE, owner: address, role: 0, amount: SUI, node_id: '' }) }];
    expect(await run('stake', '1')).toBe(0);
    expect(node.transport.calls.every((c) => c.headers['x-api-key'] === 'k3y')).toBe(true);
  });

  it('fails with one line when no key is configured', async () => {
    const node = new FakeSuiNode(PKG);
    const h = await makeHarness({ K3S_DAAS_PACKAGE_ID: PKG, K3S_DAAS_STAKING_POOL_ID: POOL }, { suiClient: node.client });
    expect(await runCli(['stake', '1'], h.ctx)).toBe(3);
    expect(h.stderr()).toMatch(/^k3s-daas: no Sui key: set SUI_PRIVATE_KEY .*\n$/);
    expect(node.transport.calls).toHaveLength(0);
  });

  it('fails before signing when the balance does not cover the stake', async () => {
    const { node, h, run, address } = await setup();
    node.balanceMist = SUI / 2n;
    expect(await run('stake', '1')).toBe(5);
    expect(h.stderr()).toBe(`k3s-daas: insufficient balance: ${address} has 0.5 SUI, needs 1 SUI plus gas\n`);
    expect(node.executed).toHaveLength(0);
  });

  it('reports a gas shortfall found during simulation as insufficient balance', async () => {
    const { node, h, run, address } = await setup();
    node.failure = { kind: 1, description: 'InsufficientGas' };
    expect(await run('stake', '1')).toBe(5);
    expect(h.stderr()).toMatch(new RegExp(`k3s-daas: insufficient balance: ${address} cannot pay for this transaction`));
    expect(node.executed).toHaveLength(0);
  });

  it('names the Move error when the contract aborts (stake below the role minimum)', async () => {
    const { node, h, run } = await setup();
    node.abort = { module: 'staking', code: 1 };
    expect(await run('stake', '0.5', '--role', 'node', '--node-id', 'op')).toBe(5);
    expect(h.stderr()).toMatch(/k3s-daas: transaction aborted: staking::EStakeBelowMinimum \(stake is below the minimum for its role\)\n$/);
  });

  it('reports an unreachable network in one line', async () => {
    const { node, h, run } = await setup();
    node.transport.failAll('UNAVAILABLE', 'connection refused');
    expect(await run('stake', '1')).toBe(4);
    expect(h.stderr().trim().split('\n').at(-1)).toBe('k3s-daas: network unreachable: cannot reach the Sui gRPC endpoint https://fullnode.testnet.sui.io:443 (UNAVAILABLE: connection refused)');
  });

  it('reports an unreachable endpoint through the real gRPC-web transport', async () => {
    const key = new Ed25519Keypair();
    const h = await makeHarness({ SUI_PRIVATE_KEY: key.getSecretKey(), K3S_DAAS_PACKAGE_ID: PKG, K3S_DAAS_STAKING_POOL_ID: POOL }, { fetch: globalThis.fetch });
    // A loopback port that was just free: nothing listens, the connection is refused at once.
    const url = `http://127.0.0.1:${await closedPort()}`;
    expect(await runCli(['stake', '1', '--grpc-url', url], h.ctx)).toBe(4);
    expect(h.stderr()).toBe(`k3s-daas: cannot reach the Sui gRPC endpoint ${url}: connection refused (ECONNREFUSED)\n`);
  });

  it.each([
    [['stake', '0'], 'amount must be more than 0 SUI', 2],
    [['stake', '1.0000000001'], 'amount "1.0000000001" is not a SUI amount such as 1 or 0.5 (at most 9 decimals)', 2],
    [['stake', '-1'], /not a SUI amount|unknown option/, 2],
    [['stake', '1', '--role', 'node'], '--role node needs --node-id <id>', 2],
    [['stake', '1', '--node-id', 'x'], '--node-id is only for --role node, not user', 2],
    [['stake', '1', '--network', 'moonnet'], '--network "moonnet" is not one of mainnet, testnet, devnet, localnet', 3],
    [['stake', '1', '--package', 'nope'], 'package id (--package or K3S_DAAS_PACKAGE_ID) "nope" is not a Sui object id (0x followed by up to 64 hex digits)', 3],
  ])('rejects bad input %j with one line', async (argv, message, exitCode) => {
    const { h, run, node } = await setup();
    expect(await run(...argv)).toBe(exitCode);
    const lines = h.stderr().trim().split('\n');
    expect(lines.at(-1)).toMatch(typeof message === 'string' ? `k3s-daas: ${message}` : message);
    expect(node.executed).toHaveLength(0);
  });

  it('rejects a malformed auth header setting without echoing it', async () => {
    const { h, run } = await setup({ env: { K3S_DAAS_GRPC_AUTH: 'secretvalue' } });
    expect(await run('stake', '1')).toBe(3);
    expect(h.stderr()).toBe('k3s-daas: K3S_DAAS_GRPC_AUTH must look like "<header-name>: <value>"\n');
  });
});

describe('k3s-daas unstake', () => {
  it('requests unstake and tells when to withdraw', async () => {
    const { node, h, run, address } = await setup();
    const unlock = Date.UTC(2026, 11, 1);
    node.events = () => [{ name: 'staking::UnstakeRequested', bcs: encodeEvent('staking::UnstakeRequested', { stake_id: STAKE, unlock_at_ms: BigInt(unlock) }) }];
    expect(await run('unstake', STAKE)).toBe(0);
    expect(node.executed).toEqual([{ sender: address, calls: ['staking::request_unstake'] }]);
    expect(h.stdout()).toContain('withdraw after 2026-12-01T00:00:00.000Z: k3s-daas unstake');
  });

  it('withdraws after the lock-up with --withdraw, printing JSON', async () => {
    const { node, h, run, address } = await setup();
    node.events = () => [{ name: 'staking::StakeWithdrawn', bcs: encodeEvent('staking::StakeWithdrawn', { stake_id: STAKE, amount: 3n * SUI }) }];
    expect(await run('unstake', STAKE, '--withdraw', '--json')).toBe(0);
    expect(node.executed).toEqual([{ sender: address, calls: ['staking::withdraw', 'staking::destroy_receipt'] }]);
    expect(JSON.parse(h.stdout())).toEqual({ stakeId: STAKE, amountMist: '3000000000', digest: expect.any(String) });
  });

  it('names the Move error when withdrawing before the lock-up ends', async () => {
    const { node, h, run } = await setup();
    node.abort = { module: 'staking', code: 8 };
    expect(await run('unstake', STAKE, '--withdraw')).toBe(5);
    expect(h.stderr().trim().split('\n').at(-1)).toBe('k3s-daas: transaction aborted: staking::ELockupNotOver (the lock-up period has not ended)');
    expect(node.executed).toHaveLength(0);
  });

  it('describes aborts of other packages by module and code', async () => {
    const { node, h, run } = await setup();
    node.abort = { module: 'balance', code: 2, package: '0x2' };
    expect(await run('unstake', STAKE)).toBe(5);
    expect(h.stderr().trim().split('\n').at(-1)).toBe('k3s-daas: transaction aborted: Move abort 2 in balance::f');
  });

  it('rejects a stake id that is not an object id', async () => {
    const { h, run } = await setup();
    expect(await run('unstake', 'abc')).toBe(2);
    expect(h.stderr()).toBe('k3s-daas: stake id "abc" is not a Sui object id (0x followed by up to 64 hex digits)\n');
  });

  it('fails clearly when the package emitted no event (wrong package id)', async () => {
    const { run, h } = await setup();
    expect(await run('unstake', STAKE)).toBe(5);
    expect(h.stderr().trim().split('\n').at(-1)).toMatch(/succeeded but emitted no staking::UnstakeRequested event; is --package the k3s_daas package\?/);
  });
});

describe('k3s-daas stake list', () => {
  const NOW = Date.parse('2026-11-23T00:00:00Z'); // the harness clock
  const OTHER_STAKE = normalizeSuiAddress('0x' + 'd5'.repeat(32));
  const GONE_STAKE = normalizeSuiAddress('0x' + 'd6'.repeat(32));
  const FOREIGN_POOL = normalizeSuiAddress('0x' + 'b3'.repeat(32));
  const id = (n: number) => normalizeSuiAddress(`0x${n.toString(16)}`);

  function receipt(node: FakeSuiNode, stakeId: string, owner: string, poolId = POOL) {
    node.addObject(stakeId, { kind: 'owned', version: 8n, owner, type: stakeReceiptType(PKG), contents: STAKE_RECEIPT_OBJECT.serialize({ id: stakeId, pool_id: poolId }).toBytes() });
  }

  function token(node: FakeSuiNode, tokenId: string, stakeId: string, owner: string, cluster: string, expiresAtMs: number) {
    node.addObject(tokenId, {
      kind: 'owned', version: 1n, owner, type: sealTokenType(PKG),
      contents: SEAL_TOKEN_OBJECT.serialize({
        id: tokenId, stake_id: stakeId, owner, role: 0, permissions: ['read'], cluster_id: cluster, issued_at_ms: BigInt(NOW - 1000), expires_at_ms: BigInt(expiresAtMs),
      }).toBytes(),
    });
  }

  const TABLE = id(0x7ab1e);

  /** The shared pool with its table id, followed by the fields `stake list` does not read. */
  function pool(node: FakeSuiNode) {
    const head = STAKING_POOL_HEAD.serialize({ id: POOL, min_stake: [1n, 2n, 3n], lockup_ms: [4n, 5n, 6n], stakes: { id: TABLE, size: 2n } }).toBytes();
    const rest = new Uint8Array([0x40, 0x42, 0x0f, 0, 0, 0, 0, 0, 1, ...new Uint8Array(32).fill(9)]); // slashed_funds, approved_admins
    node.addObject(POOL, { kind: 'shared', version: 5n, contents: new Uint8Array([...head, ...rest]) });
  }

  function stakeEntry(node: FakeSuiNode, stakeId: string, value: Parameters<typeof STAKE_TABLE_ENTRY.serialize>[0]['value']) {
    const fieldId = deriveDynamicFieldID(TABLE, STAKE_TABLE_KEY_TYPE, bcs.Address.serialize(stakeId).toBytes());
    node.addObject(fieldId, { kind: 'owned', version: 3n, owner: TABLE, contents: STAKE_TABLE_ENTRY.serialize({ id: fieldId, name: stakeId, value }).toBytes() });
  }

  async function chain() {
    const ctx = await setup();
    const { node, address } = ctx;
    pool(node);
    stakeEntry(node, STAKE, { owner: address, role: 0, node_id: '', balance: SUI, staked_at_ms: BigInt(NOW - 86_400_000), status: 0, slashed: false, unlock_at_ms: 0n });
    stakeEntry(node, OTHER_STAKE, { owner: address, role: 1, node_id: 'op-1', balance: SUI * 5n / 2n, staked_at_ms: BigInt(NOW - 86_400_000), status: 1, slashed: true, unlock_at_ms: BigInt(Date.UTC(2026, 11, 1)) });
    // setup() registered STAKE as a bare owned object; make it a real receipt of this pool.
    receipt(node, STAKE, address);
    receipt(node, OTHER_STAKE, address);
    receipt(node, id(0xabc), address, FOREIGN_POOL); // another pool's receipt: not listed
    receipt(node, id(0xdef), normalizeSuiAddress('0x55')); // someone else's
    for (let i = 0; i < 55; i++) token(node, id(0x1000 + i), STAKE, address, `c${i}`, i === 0 ? NOW - 1 : NOW + 86_400_000);
    token(node, id(0x2000), GONE_STAKE, address, 'orphan', NOW + 1000);
    token(node, id(0x3000), STAKE, normalizeSuiAddress('0x55'), 'not-mine', NOW + 1000);
    return ctx;
  }

  it('shows each stake of the pool (role, amount, state) and the seal tokens issued against it, across pages', async () => {
    const { h, run } = await chain();
    expect(await run('stake', 'list')).toBe(0);
    const [stakeTable, tokenTable] = h.stdout().split('\n\n').map((t) => t.trim().split('\n'));
    expect(stakeTable).toHaveLength(3);
    expect(stakeTable[0]).toMatch(/^STAKE ID\s+ROLE\s+SUI\s+STATE\s+TOKENS$/);
    expect(stakeTable[1]).toMatch(new RegExp(`^${STAKE} +user +1 +active +55$`));
    expect(stakeTable[2]).toMatch(new RegExp(`^${OTHER_STAKE} +node \\(op-1\\) +2\\.5 +unbonding until 2026-12-01T00:00:00\\.000Z, slashed +0$`));
    expect(tokenTable[0]).toMatch(/^TOKEN ID\s+STAKE ID\s+CLUSTER\s+ROLE\s+EXPIRES$/);
    expect(tokenTable).toHaveLength(1 + 55 + 1);
    expect(tokenTable[1]).toMatch(new RegExp(`^${id(0x1000)} +${STAKE} +c0 +user +2026-11-22T23:59:59\\.999Z \\(expired\\)$`));
    expect(tokenTable.at(-1)).toMatch(new RegExp(`^${id(0x2000)} +${GONE_STAKE} \\(receipt not held\\) +orphan +user`));
    expect(h.stdout()).not.toContain('not-mine');
    expect(h.stdout()).not.toContain(id(0xabc));
    expect(h.stdout()).not.toContain(id(0xdef));
  });

  it('prints JSON with --json, and reads another address with --address', async () => {
    const { h, run, address } = await chain();
    expect(await run('stake', 'list', '--json')).toBe(0);
    const listed = JSON.parse(h.stdout()) as { address: string; poolId: string; stakes: { stakeId: string; tokens: unknown[] }[]; otherTokens: { clusterId: string }[] };
    expect(listed.address).toBe(address);
    expect(listed.poolId).toBe(POOL);
    expect(listed.stakes.map((s) => [s.stakeId, s.tokens.length])).toEqual([[STAKE, 55], [OTHER_STAKE, 0]]);
    expect((listed.stakes as unknown as { stake: unknown }[]).map((s) => s.stake)).toEqual([
      { role: 'user', amountMist: '1000000000', nodeId: '', status: 'active', slashed: false, stakedAt: '2026-11-22T00:00:00.000Z', unlockAt: null },
      { role: 'node', amountMist: '2500000000', nodeId: 'op-1', status: 'unbonding', slashed: true, stakedAt: '2026-11-22T00:00:00.000Z', unlockAt: '2026-12-01T00:00:00.000Z' },
    ]);
    expect(listed.otherTokens.map((t) => t.clusterId)).toEqual(['orphan']);

    const other = await chain();
    expect(await other.run('stake', 'list', '--address', '0x55', '--json')).toBe(0);
    const theirs = JSON.parse(other.h.stdout()) as typeof listed;
    expect(theirs.address).toBe(normalizeSuiAddress('0x55'));
    expect(theirs.stakes).toEqual([{ stakeId: id(0xdef), stake: null, tokens: [] }]); // the pool's table has no entry for it
    expect(theirs.otherTokens.map((t) => t.clusterId)).toEqual(['not-mine']); // issued against a stake 0x55 does not hold
  });

  it('a pool in a layout the CLI does not know is a refusal naming the package (exit 5)', async () => {
    const { node, h, run } = await chain();
    node.addObject(POOL, { kind: 'shared', version: 5n, contents: new Uint8Array([1, 2, 3]) });
    expect(await run('stake', 'list')).toBe(5);
    expect(h.stderr()).toBe(`k3s-daas: the node returned staking pool ${POOL} in a layout this CLI does not know: is --package the k3s_daas package?\n`);
  });

  it('says how to start when there is nothing', async () => {
    const { h, run, address } = await setup();
    expect(await run('stake', 'list')).toBe(0);
    expect(h.stdout()).toBe(`No stakes or seal tokens owned by ${address} in pool ${POOL}. Stake with: k3s-daas stake <amount>\n`);
  });

  it('an unreachable node is exit 4, JSON with --json', async () => {
    const { node, h, run } = await setup();
    node.transport.failAll();
    expect(await run('stake', 'list', '--json')).toBe(4);
    expect(JSON.parse(h.stderr())).toMatchObject({ error: { kind: 'network', exitCode: 4 } });
  });
});
