// `k3s-daas node join|leave` end to end, in-process, against a local HTTP server that answers the issue-15
// contract (POST /v1/nodes/external/join|leave) from real parts: a Nitro document of the test CA over the
// claims of a real cluster CA and real settings, verified into an attestation record by the platform's own
// code; the join credential verified for real with aud = joinAudience(cluster); a per-node K10 token from
// the shared formatter. The same server serves the "k3s" release asset whose checksum the test release pins
// (ctx.k3sRelease: only in-process callers can set it). The agent is never started: there is no systemd
// here (PATH is empty), so every successful join ends at the start step with exit 3 and the exact command.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { normalizeSuiAddress } from '@mysten/sui/utils';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../../cli/program';
import { attestationDetail, verifyClusterAttestation } from '../../lambdas/shared/attestation/cluster-attestation';
import { canonicalSettings, settingsDigest, type EnclaveSettings } from '../../lambdas/shared/attestation/enclave-claims';
import { verifyCredential } from '../../lambdas/shared/credentials/credential';
import { joinAudience } from '../../lambdas/shared/credentials/token-check';
import type { AttestationRecord } from '../../lambdas/shared/index/index-model';
import { formatJoinToken } from '../../lambdas/shared/nodes/join-token';
import { K3S_RELEASE, type K3sRelease } from '../../lambdas/shared/nodes/k3s-release';
import { SEAL_TOKEN_OBJECT } from '../../lambdas/shared/sui/objects';
import { sealTokenType } from '../../lambdas/shared/sui/transactions';
import { createClusterCaPem } from '../support/cluster-ca';
import { TEST_SIGNING_SPKI, testClaims } from '../support/enclave-settings';
import { NitroTestCa, TEST_PCRS } from '../support/nitro-test-ca';
import { spkiSha256 } from '../../lambdas/shared/attestation/enclave-claims';
import { FakeSuiNode } from './fake-sui-node';
import { closedPort, makeHarness } from './sui-cli-harness';

const NOW = new Date('2026-11-23T00:00:00Z'); // the harness clock
const API = 'https://api.k3s-daas.test';
const CLUSTER = 'k3s-daas-dev';
const SERVER = 'https://nlb.k3s-daas.test:6443';
const PKG = normalizeSuiAddress('0x' + 'a1'.repeat(32));
const POOL = normalizeSuiAddress('0x' + 'b2'.repeat(32));
const STAKE = normalizeSuiAddress('0x' + 'd4'.repeat(32));
const OTHER_STAKE = normalizeSuiAddress('0x' + 'd5'.repeat(32));
const TOKEN = normalizeSuiAddress('0x' + 'e5'.repeat(32));
const FAKE_K3S = Buffer.from('#!/bin/sh\necho "not really k3s"\n'.repeat(4096));
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** The pinned release, with the checksum of the file this test serves (the command passes K3S_RELEASE). */
const TEST_RELEASE: K3sRelease = { version: K3S_RELEASE.version, sha256Amd64: sha256(FAKE_K3S), sha256Arm64: sha256(FAKE_K3S) };

type Json = Record<string, unknown>;

/** The contract's join/leave routes and the release download, over real HTTP. */
class FakePlatform {
  server!: Server;
  port = 0;
  record!: AttestationRecord;
  caCertPem!: string;
  admissions = 0;
  joinRequests: { requestId: string; aud: string }[] = [];
  leaves: string[] = [];
  downloads = 0;
  /** Answers by requestId: a retry gets the same answer and no second slot. */
  answers = new Map<string, Json>();
  nodes = new Set<string>();
  /** Edits a 200 join answer in flight. */
  tamper?: (answer: Json) => void;
  /** Refuse joins with this status and code. */
  refuse?: { status: number; error: string };
  /** Close the connection without answering this many join requests. */
  dropJoins = 0;
  /** Admit, then close the connection instead of answering, this many times. */
  dropAnswers = 0;
  /** What the release URL serves. */
  binary: Buffer = FAKE_K3S;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    this.port = (this.server.address() as AddressInfo).port;
  }

  reset(): void {
    Object.assign(this, { admissions: 0, joinRequests: [], leaves: [], downloads: 0, answers: new Map(), nodes: new Set(), tamper: undefined, refuse: undefined, dropJoins: 0, dropAnswers: 0, binary: FAKE_K3S });
  }

  /** A 200 answer per the contract (plus the CA certificate the CLI checks the token against). */
  answerFor(nodeName: string): Json {
    const hex = STAKE.slice(2);
    return {
      server: SERVER,
      token: formatJoinToken(this.caCertPem, 'abc123', '0123456789abcdef'),
      expiresAt: new Date(NOW.getTime() + 30 * 60_000).toISOString(),
      nodeName,
      labels: { 'k3s-daas.io/stake-id-hi': hex.slice(0, 32), 'k3s-daas.io/stake-id-lo': hex.slice(32), 'k3s-daas.io/node-kind': 'external' },
      taints: ['k3s-daas.io/external=true:NoSchedule'],
      k3sVersion: K3S_RELEASE.version,
      attestation: { ...attestationDetail(this.record), caCertPem: this.caCertPem },
    };
  }

  get downloadBase(): string {
    return `http://127.0.0.1:${this.port}/releases`;
  }

  /** `fetch` that sends the API's origin to this server (the attested settings name an https URL). */
  fetch: typeof fetch = (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (url.origin === API) return fetch(`http://127.0.0.1:${this.port}${url.pathname}`, init);
    return fetch(url, init);
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: Json): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && req.url === `/releases/${encodeURIComponent(K3S_RELEASE.version)}/${process.arch === 'arm64' ? 'k3s-arm64' : 'k3s'}`) {
      this.downloads++;
      return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(this.binary);
    }
    if (req.method === 'GET') return send(404, { error: 'not_found' });
    let body: Json;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
    } catch {
      return send(400, { error: 'bad_request' });
    }
    const checked = await verifyCredential(String(body.credential), { audience: joinAudience(CLUSTER), nowMs: NOW.getTime() });
    if (req.method === 'POST' && req.url === '/v1/nodes/external/join') {
      if (this.dropJoins > 0) {
        this.dropJoins--;
        return void req.socket.destroy();
      }
      if (!checked.ok) return send(401, { error: checked.reason, message: 'credential refused' });
      const requestId = String(body.requestId);
      this.joinRequests.push({ requestId, aud: checked.value.payload.aud });
      if (!/^[A-Za-z0-9_-]{22}$/.test(requestId)) return send(400, { error: 'bad_request', message: 'requestId' });
      if (this.refuse) return send(this.refuse.status, { error: this.refuse.error, message: 'refused by the test' });
      let answer = this.answers.get(requestId);
      if (!answer) {
        this.admissions++;
        const hex = STAKE.slice(2);
        const nodeName = `ext-${hex.slice(0, 12)}-${(0x1a2b3c00 + this.admissions).toString(16)}`;
        this.nodes.add(nodeName);
        answer = this.answerFor(nodeName);
        this.answers.set(requestId, answer);
      }
      if (this.dropAnswers > 0) {
        this.dropAnswers--;
        return void req.socket.destroy();
      }
      const sent = structuredClone(answer);
      this.tamper?.(sent);
      return send(200, sent);
    }
    if (req.method === 'POST' && req.url === '/v1/nodes/external/leave') {
      if (!checked.ok) return send(401, { error: checked.reason });
      const nodeName = String(body.nodeName);
      this.leaves.push(nodeName);
      if (nodeName.startsWith('ext-foreign')) return send(403, { error: 'not_your_node', message: `node ${nodeName} is not yours` });
      if (!this.nodes.has(nodeName)) return send(404, { error: 'unknown_node', message: `no node ${nodeName}` });
      return send(200, { nodeName, status: 'gone' });
    }
    return send(404, { error: 'not_found' });
  }
}

function tokenObject(id: string, owner: string, role: number, stakeId = STAKE, cluster = CLUSTER) {
  return {
    kind: 'owned' as const, version: 1n, owner, type: sealTokenType(PKG),
    contents: SEAL_TOKEN_OBJECT.serialize({
      id, stake_id: stakeId, owner, role, permissions: role === 1 ? ['read', 'node:write'] : ['read'], cluster_id: cluster,
      issued_at_ms: BigInt(NOW.getTime() - 1000), expires_at_ms: BigInt(NOW.getTime() + 86_400_000),
    }).toBytes(),
  };
}

describe('k3s-daas node join / leave', () => {
  const platform = new FakePlatform();
  let nitro: NitroTestCa;
  let settings: EnclaveSettings;
  let pcrsFile: string;
  let otherPcrsFile: string;
  let rootFile: string;
  let otherCaPem: string;
  const keypair = Ed25519Keypair.generate();
  const address = keypair.toSuiAddress();

  beforeAll(async () => {
    nitro = await NitroTestCa.create({ now: new Date(NOW.getTime() - 120_000) });
    platform.caCertPem = await createClusterCaPem();
    otherCaPem = await createClusterCaPem('k3s-server-ca@1800000000');
    settings = canonicalSettings({
      clusterId: CLUSTER,
      apiUrl: API,
      clusterStateKeyId: 'arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555',
      joinTokenKeyId: 'arn:aws:kms:us-east-1:111111111111:key/66666666-7777-8888-9999-000000000000',
      tlsSans: ['nlb.k3s-daas.test'],
      kubeconfigSigningKeySpkiSha256: spkiSha256(TEST_SIGNING_SPKI),
    });
    const doc = await nitro.document({ userData: testClaims(platform.caCertPem, { settingsDigest: settingsDigest(settings) }), pcrs: TEST_PCRS });
    const verdict = await verifyClusterAttestation(
      { document: Buffer.from(doc.bytes).toString('base64'), caCertPem: platform.caCertPem },
      { expectedPcrs: null as never, now: nitro.now, maxDocumentAgeMs: 300_000, rootPem: nitro.rootPem, platformSettings: { settings, digest: settingsDigest(settings) } },
    );
    if (!verdict.ok) throw new Error(verdict.message);
    platform.record = verdict.record;
    await platform.start();
    const dir = await mkdtemp(path.join(tmpdir(), 'k3s-daas-node-'));
    pcrsFile = path.join(dir, 'pcrs.json');
    await writeFile(pcrsFile, JSON.stringify({ PCR0: TEST_PCRS[0], PCR1: TEST_PCRS[1], PCR2: TEST_PCRS[2], eifSha256: 'ab'.repeat(32), arch: 'x86_64' }));
    otherPcrsFile = path.join(dir, 'other-pcrs.json');
    await writeFile(otherPcrsFile, JSON.stringify({ PCR0: 'ee'.repeat(48), PCR1: TEST_PCRS[1], PCR2: TEST_PCRS[2], eifSha256: 'ab'.repeat(32), arch: 'x86_64' }));
    rootFile = path.join(dir, 'root.pem');
    await writeFile(rootFile, nitro.rootPem);
  });
  afterAll(() => new Promise<void>((done) => platform.server.close(() => done())));
  beforeEach(() => platform.reset());

  async function setup(opts: { tokens?: ReturnType<typeof tokenObject>[]; env?: NodeJS.ProcessEnv } = {}) {
    const node = new FakeSuiNode(PKG);
    for (const [i, t] of (opts.tokens ?? [tokenObject(TOKEN, address, 1)]).entries()) {
      const id = SEAL_TOKEN_OBJECT.parse(t.contents).id;
      node.addObject(id ?? `0x${i}`, t);
    }
    const h = await makeHarness(
      { SUI_PRIVATE_KEY: keypair.getSecretKey(), K3S_DAAS_PACKAGE_ID: PKG, K3S_DAAS_STAKING_POOL_ID: POOL, ...opts.env },
      { suiClient: node.client, fetch: platform.fetch, now: () => NOW, k3sRelease: TEST_RELEASE },
    );
    const root = h.ctx.homeDir;
    const installDir = path.join(root, 'usr', 'local', 'bin');
    const config = path.join(root, 'etc', 'rancher', 'k3s', 'config.yaml');
    const local = ['--install-dir', installDir, '--config', config];
    const anchors = ['--api', API, '--pcrs', pcrsFile, '--root', rootFile, '--k3s-download-base', platform.downloadBase];
    const join = (...args: string[]) => runCli(['node', 'join', ...anchors, ...local, ...args], h.ctx);
    const leave = (...args: string[]) => runCli(['node', 'leave', ...local, ...args], h.ctx);
    return { h, node, installDir, config, join, leave, home: root };
  }

  const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';
  const nothingInstalled = async (installDir: string, config: string) => {
    expect(await readdir(installDir).catch(() => [])).toEqual([]); // no binary, no .part left behind
    await expect(stat(config)).rejects.toThrow();
  };

  it('joins: verifies the answer, installs the checksum-verified agent (0755), writes its config (0600), and stops at the start step with the exact command (no systemd here, exit 3)', async () => {
    const { h, installDir, config, join, home } = await setup();
    const code = await join('--trust-first-use');
    const err = h.stderr();
    expect(lastLine(err)).toMatch(/^k3s-daas: (systemd is not running on this machine \(\/run\/systemd\/system is absent\)|systemctl is not on PATH): /);
    expect(lastLine(err).endsWith(`: start the agent yourself before ${new Date(NOW.getTime() + 30 * 60_000).toISOString()}: sudo ${path.join(installDir, 'k3s')} agent --config ${config}`)).toBe(true);
    expect(code).toBe(3);
    for (const step of ['[1/7] reading your node token', '[2/7] K3s v1.34.2+k3s1', '[3/7] asking https://api.k3s-daas.test/v1/nodes/external/join', '[4/7] verifying the answer', '[5/7] installing', '[6/7] writing', '[7/7] starting the K3s agent']) {
      expect(err).toContain(step);
    }
    expect(err).toContain(`(SHA-256 ${TEST_RELEASE.sha256Amd64})`);
    expect(err).not.toContain('0123456789abcdef'); // the bootstrap secret is never printed
    const nodeName = [...platform.nodes][0];
    expect(h.stdout()).toBe(`admitted as ${nodeName}; the agent is installed and configured but not started\n`);
    expect(platform.admissions).toBe(1);
    expect(platform.joinRequests[0].aud).toBe(`k3s-daas-join:${CLUSTER}`);

    const binary = path.join(installDir, 'k3s');
    expect(await readFile(binary)).toEqual(FAKE_K3S);
    expect((await stat(binary)).mode & 0o777).toBe(0o755);
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    const agent = parse(await readFile(config, 'utf8'));
    expect(agent).toEqual({
      server: SERVER,
      token: formatJoinToken(platform.caCertPem, 'abc123', '0123456789abcdef'),
      'node-name': nodeName,
      'node-label': [`k3s-daas.io/stake-id-hi=${STAKE.slice(2, 34)}`, `k3s-daas.io/stake-id-lo=${STAKE.slice(34)}`, 'k3s-daas.io/node-kind=external'],
      'node-taint': ['k3s-daas.io/external=true:NoSchedule'],
    });
    const state = JSON.parse(await readFile(path.join(path.dirname(config), 'k3s-daas-node.json'), 'utf8'));
    expect(state).toMatchObject({ clusterId: CLUSTER, tokenId: TOKEN, stakeId: STAKE, nodeName, server: SERVER, binary });
    const pins = JSON.parse(await readFile(path.join(home, '.kube', 'k3s-daas-trusted-settings.json'), 'utf8'));
    expect(pins[`${API} ${CLUSTER}`].settingsSha256).toBe(settingsDigest(settings).toString('hex'));
  });

  it('--json prints the admitted node (never the token) and the error as JSON', async () => {
    const { h, join } = await setup();
    expect(await join('--trust-first-use', '--json')).toBe(3);
    const result = JSON.parse(h.stdout());
    expect(result).toMatchObject({ nodeName: [...platform.nodes][0], server: SERVER, k3sVersion: K3S_RELEASE.version, started: false });
    expect(result.token).toBeUndefined();
    expect(JSON.parse(lastLine(h.stderr())).error).toMatchObject({ kind: 'config', exitCode: 3 });
  });

  it('a binary already installed with the pinned checksum is not downloaded again', async () => {
    const { installDir, join } = await setup();
    await mkdir(installDir, { recursive: true });
    await writeFile(path.join(installDir, 'k3s'), FAKE_K3S, { mode: 0o755 });
    expect(await join('--trust-first-use')).toBe(3);
    expect(platform.downloads).toBe(0);
    expect(platform.admissions).toBe(1);
  });

  it('a network failure of the join is retried with the same requestId: one admission', async () => {
    const { h, join } = await setup();
    platform.dropJoins = 1;
    expect(await join('--trust-first-use')).toBe(3);
    expect(h.stderr()).toMatch(/retrying with the same request id \(2\/3\)/);
    expect(platform.joinRequests).toHaveLength(1); // the dropped one never reached the route's logic
    expect(platform.admissions).toBe(1);
  });

  it('an answer lost after admission: the retry (same requestId) gets the same node, not a second slot', async () => {
    const { join } = await setup();
    platform.dropAnswers = 1;
    expect(await join('--trust-first-use')).toBe(3);
    expect(platform.joinRequests).toHaveLength(2);
    expect(platform.joinRequests[1].requestId).toBe(platform.joinRequests[0].requestId);
    expect(platform.joinRequests[0].requestId).toMatch(/^[A-Za-z0-9_-]{22}$/); // 16 random bytes, base64url
    expect(platform.admissions).toBe(1);
  });

  const verificationFailures: [string, (a: Json) => void, RegExp][] = [
    ['the token pins another CA', (a) => { a.token = formatJoinToken(otherCaPem, 'abc123', '0123456789abcdef'); }, /the join token does not pin the attested CA/],
    ['the CA certificate is not the attested one', (a) => { (a.attestation as Json).caCertPem = otherCaPem; }, /the answer’s CA is not the CA the enclave attested/],
    ['the server is not a name of the attested certificate', (a) => { a.server = 'https://evil.example.com:6443'; }, /join server evil\.example\.com is not a name in the attested apiserver certificate/],
    ['the server is not https on 6443', (a) => { a.server = 'http://nlb.k3s-daas.test:6443'; }, /is not https:\/\/<host>:6443/],
    ['another K3s version', (a) => { a.k3sVersion = 'v1.30.0+k3s1'; }, /asks for K3s v1\.30\.0\+k3s1, not the pinned v1\.34\.2\+k3s1/],
    ['stake labels of another stake', (a) => { (a.labels as Json)['k3s-daas.io/stake-id-lo'] = OTHER_STAKE.slice(34); }, /stake labels do not name your token’s stake/],
    ['no external node-kind label', (a) => { delete (a.labels as Json)['k3s-daas.io/node-kind']; }, /does not label the node k3s-daas\.io\/node-kind=external/],
    ['a label outside the platform prefix', (a) => { (a.labels as Json)['node-role.kubernetes.io/control-plane'] = 'true'; }, /is not one the platform sets/],
    ['no external taint', (a) => { a.taints = []; }, /does not taint the node k3s-daas\.io\/external=true:NoSchedule/],
    ['a malformed taint', (a) => { a.taints = ['k3s-daas.io/external=true:NoSchedule', 'x:Sometimes']; }, /taint "x:Sometimes" is not key\[=value\]:Effect/],
    ['a node name that is not a DNS-1123 label', (a) => { a.nodeName = '../Etc_Passwd'; }, /node name "\.\.\/Etc_Passwd" is not a DNS-1123 label/],
    ['an expired token', (a) => { a.expiresAt = new Date(NOW.getTime() - 1000).toISOString(); }, /the join token expired at/],
    ['a CA bundle with a second certificate (the agent would trust both)', (a) => { (a.attestation as Json).caCertPem = `${platform.caCertPem}${otherCaPem}`; }, /the CA bundle is not exactly one PEM certificate/],
    ['settings that are not the attested ones', (a) => { (a.attestation as Json).settings = { ...settings, tlsSans: ['evil.example.com'] }; }, /the settings in the answer are not the ones the enclave attested/],
  ];

  it.each(verificationFailures)('verification failure: %s → exit 6, nothing installed', async (_name, tamper, message) => {
    const { h, installDir, config, join } = await setup();
    platform.tamper = tamper;
    expect(await join('--trust-first-use')).toBe(6);
    expect(lastLine(h.stderr())).toMatch(message);
    expect(lastLine(h.stderr())).toMatch(/refusing to install the agent/);
    await nothingInstalled(installDir, config);
  });

  it('an answer without caCertPem: the CA is fetched from the attested server\'s /cacerts (unreachable here → exit 4, nothing installed)', async () => {
    const { h, installDir, config, join } = await setup();
    platform.tamper = (a) => { delete (a.attestation as Json).caCertPem; };
    expect(await join('--trust-first-use', '--timeout', '5')).toBe(4);
    expect(h.stderr()).toContain(`fetching ${SERVER}/cacerts`);
    expect(lastLine(h.stderr())).toMatch(/^k3s-daas: GET https:\/\/nlb\.k3s-daas\.test:6443\/cacerts: cannot reach/);
    await nothingInstalled(installDir, config);
  });

  it('attestation against other PCRs → exit 6 with the attestation reason', async () => {
    const { h, installDir, config, join } = await setup();
    expect(await join('--trust-first-use', '--pcrs', otherPcrsFile)).toBe(6); // the later --pcrs wins
    expect(lastLine(h.stderr())).toMatch(/attestation rejected: pcr_mismatch/);
    await nothingInstalled(installDir, config);
  });

  it('settings other than the pinned digest → exit 6', async () => {
    const { h, installDir, config, join } = await setup();
    expect(await join('--settings-sha256', 'ab'.repeat(32))).toBe(6);
    expect(lastLine(h.stderr())).toMatch(/differ from the pinned abab/);
    await nothingInstalled(installDir, config);
  });

  it('first use without --trust-first-use or --settings-sha256 → exit 6 before any slot is asked for', async () => {
    const { h, join } = await setup();
    expect(await join()).toBe(6);
    expect(lastLine(h.stderr())).toMatch(/first use of https:\/\/api\.k3s-daas\.test cluster k3s-daas-dev: no enclave settings pinned/);
    expect(platform.joinRequests).toHaveLength(0);
    expect(platform.downloads).toBe(0);
  });

  it.each([
    [403, 'stake_insufficient'],
    [403, 'not_node_tier'],
    [429, 'rate_limited'],
    [503, 'no_attestation'],
  ])('refused by the route (%i %s) → exit 5, the reason in --json, nothing installed', async (status, error) => {
    const { h, installDir, config, join } = await setup();
    platform.refuse = { status, error };
    expect(await join('--trust-first-use', '--json')).toBe(5);
    expect(JSON.parse(lastLine(h.stderr())).error).toMatchObject({ kind: 'refused', exitCode: 5, reason: error });
    await nothingInstalled(installDir, config);
  });

  it('an answer missing contract fields → exit 5 (the server\'s failure), naming the recorded node', async () => {
    const { h, join } = await setup();
    platform.tamper = (a) => { delete a.token; };
    expect(await join('--trust-first-use')).toBe(5);
    expect(lastLine(h.stderr())).toMatch(/POST \/v1\/nodes\/external\/join: the answer has no token \(the platform recorded node ext-[0-9a-f]{12}-[0-9a-f]+; free its slot with k3s-daas node leave --node-name/);
  });

  it('an unreachable API → exit 4 after retries with one request id; the download happened, nothing left behind', async () => {
    const { h, installDir, config } = await setup();
    const port = await closedPort();
    const code = await runCli(['node', 'join', '--api', `http://127.0.0.1:${port}`, '--pcrs', pcrsFile, '--root', rootFile, '--k3s-download-base', platform.downloadBase, '--install-dir', installDir, '--config', config, '--trust-first-use', '--json'], h.ctx);
    expect(code).toBe(4);
    expect(JSON.parse(lastLine(h.stderr())).error).toMatchObject({ kind: 'network', reason: 'refused' });
    expect(h.stderr()).toContain('(3/3)');
    expect(platform.downloads).toBe(1);
    await nothingInstalled(installDir, config);
  });

  it('an unreachable download → exit 4 before the join is called', async () => {
    const { h, installDir, config, join } = await setup();
    const port = await closedPort();
    expect(await join('--trust-first-use', '--k3s-download-base', `http://127.0.0.1:${port}`)).toBe(4);
    expect(lastLine(h.stderr())).toMatch(/downloading K3s v1\.34\.2\+k3s1: cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused/);
    expect(platform.joinRequests).toHaveLength(0);
    await nothingInstalled(installDir, config);
  });

  it('a download the mirror does not have → exit 3 (configuration) before the join', async () => {
    const { h, join } = await setup();
    expect(await join('--trust-first-use', '--k3s-download-base', `${platform.downloadBase}/nope`)).toBe(3);
    expect(lastLine(h.stderr())).toMatch(/answered 404: check --k3s-download-base/);
    expect(platform.joinRequests).toHaveLength(0);
  });

  it('checksum mismatch: refuses to install (exit 6), leaves nothing behind, and never asks for a slot', async () => {
    const { h, installDir, config, join } = await setup();
    platform.binary = Buffer.concat([FAKE_K3S, Buffer.from('tampered')]);
    expect(await join('--trust-first-use', '--json')).toBe(6);
    const error = JSON.parse(lastLine(h.stderr())).error;
    expect(error).toMatchObject({ kind: 'verification', reason: 'checksum_mismatch' });
    expect(error.message).toContain(`has SHA-256 ${sha256(platform.binary)}, the pinned K3s v1.34.2+k3s1`);
    expect(platform.joinRequests).toHaveLength(0);
    await nothingInstalled(installDir, config);
  });

  it('the production command pins K3S_RELEASE: without the test release the served file is refused', async () => {
    const { h, installDir, config } = await setup();
    const ctx = { ...h.ctx, k3sRelease: undefined };
    const code = await runCli(['node', 'join', '--api', API, '--pcrs', pcrsFile, '--root', rootFile, '--k3s-download-base', platform.downloadBase, '--install-dir', installDir, '--config', config, '--trust-first-use'], ctx);
    expect(code).toBe(6);
    expect(lastLine(h.stderr())).toContain(`has ${process.arch === 'arm64' ? K3S_RELEASE.sha256Arm64 : K3S_RELEASE.sha256Amd64}: refusing to install it`);
  });

  it('--dry-run prints every step (URL, checksum, paths) and changes nothing: no download, no join, no file', async () => {
    const { h, installDir, config, join, home } = await setup();
    expect(await join('--dry-run')).toBe(0);
    const out = h.stdout();
    expect(out).toContain('dry run: nothing is downloaded, written, started or asked of the API');
    expect(out).toContain(`${platform.downloadBase}/${encodeURIComponent(K3S_RELEASE.version)}/`);
    expect(out).toContain(`sha256=${TEST_RELEASE.sha256Amd64}`);
    expect(out).toContain(`request=POST ${API}/v1/nodes/external/join`);
    expect(out).toContain(`binary=${path.join(installDir, 'k3s')}`);
    expect(out).toContain(`config=${config}`);
    expect(platform.downloads).toBe(0);
    expect(platform.joinRequests).toHaveLength(0);
    await expect(stat(installDir)).rejects.toThrow();
    await expect(stat(path.dirname(config))).rejects.toThrow();
    await expect(stat(path.join(home, '.kube'))).rejects.toThrow();
    expect(await join('--dry-run', '--json')).toBe(0);
  });

  it('an existing agent config is not overwritten without --force (exit 1), before any slot is asked for', async () => {
    const { h, config, join } = await setup();
    await mkdir(path.dirname(config), { recursive: true });
    await writeFile(config, 'node-name: ext-old\n');
    expect(await join('--trust-first-use')).toBe(1);
    expect(lastLine(h.stderr())).toBe(`k3s-daas: ${config} exists (node ext-old): run k3s-daas node leave first, or pass --force to join anew`);
    expect(platform.joinRequests).toHaveLength(0);
    expect(await join('--trust-first-use', '--force')).toBe(3);
  });

  it('token selection: --token of another role is refused (exit 2), several node tokens need --token (exit 2), a foreign token is exit 3', async () => {
    const userToken = normalizeSuiAddress('0x' + 'f1'.repeat(32));
    const second = normalizeSuiAddress('0x' + 'f2'.repeat(32));
    const { h, join } = await setup({ tokens: [tokenObject(TOKEN, address, 1), tokenObject(userToken, address, 0), tokenObject(second, address, 1, OTHER_STAKE)] });
    expect(await join('--trust-first-use', '--token', userToken)).toBe(2);
    expect(lastLine(h.stderr())).toMatch(/has the user role; joining a machine needs a node token/);
    expect(await join('--trust-first-use')).toBe(2);
    expect(lastLine(h.stderr())).toMatch(/holds 2 node tokens .*: pass --token <id>/);
    expect(await join('--trust-first-use', '--token', normalizeSuiAddress('0x' + '99'.repeat(32)))).toBe(3);
    expect(lastLine(h.stderr())).toMatch(/is not owned by/);
    expect(platform.joinRequests).toHaveLength(0);
  });

  it('the stake check uses the chosen token: a second node token of another stake is refused the first stake\'s labels (exit 6)', async () => {
    const second = normalizeSuiAddress('0x' + 'f2'.repeat(32));
    const { h, join } = await setup({ tokens: [tokenObject(TOKEN, address, 1), tokenObject(second, address, 1, OTHER_STAKE)] });
    expect(await join('--trust-first-use', '--token', second)).toBe(6);
    expect(lastLine(h.stderr())).toMatch(new RegExp(`do not name your token’s stake ${OTHER_STAKE}`));
  });

  it.each([
    [['--token', '0x12'], /--token must be a seal token object id/],
    [['--settings-sha256', 'xyz'], /--settings-sha256 must be 64 hex characters/],
    [['--cluster', 'Bad/Cluster'], /--cluster "Bad\/Cluster" is not 1-63 lowercase/],
    [['--bogus'], /unknown option '--bogus' \(see: k3s-daas help node join\)/],
    [['--k3s-download-base', 'http://mirror.example.com'], /--k3s-download-base must use https/],
  ])('bad flags %j → exit 2', async (args, message) => {
    const { h, join } = await setup();
    expect(await join('--trust-first-use', ...args)).toBe(2);
    expect(lastLine(h.stderr())).toMatch(message);
    expect(platform.joinRequests).toHaveLength(0);
  });

  it('leave: after a join it stops (explains without systemd), tells the API, and --purge removes config, state and binary', async () => {
    const { h, installDir, config, join, leave } = await setup();
    expect(await join('--trust-first-use')).toBe(3);
    const nodeName = [...platform.nodes][0];
    const before = h.stdout().length;
    expect(await leave('--purge')).toBe(0);
    const err = h.stderr();
    expect(err).toContain(`[2/5] draining ${nodeName}`);
    expect(err).toContain('no --kubeconfig to drain with');
    expect(err).toMatch(/stop the agent process yourself/);
    expect(platform.leaves).toEqual([nodeName]);
    expect(h.stdout().slice(before)).toMatch(new RegExp(`^${nodeName} left the cluster; removed .*config\\.yaml`));
    await nothingInstalled(installDir, config);
    await expect(stat(path.join(path.dirname(config), 'k3s-daas-node.json'))).rejects.toThrow();
  });

  it('leave --kubeconfig drains with kubectl (a failing drain is a warning, the leave still happens)', async () => {
    const bin = await mkdtemp(path.join(tmpdir(), 'k3s-daas-bin-'));
    const log = path.join(bin, 'kubectl.log');
    await writeFile(path.join(bin, 'kubectl'), `#!/bin/sh\necho "$@" >> ${log}\n[ -f ${bin}/fail ] && { echo "error: cannot evict pod x" >&2; exit 1; }\nexit 0\n`, { mode: 0o755 });
    const { h, join, leave } = await setup({ env: { PATH: bin } });
    expect(await join('--trust-first-use')).toBe(3);
    const nodeName = [...platform.nodes][0];
    expect(await leave('--kubeconfig', '/root/admin.yaml')).toBe(0);
    expect(await readFile(log, 'utf8')).toBe(`--kubeconfig /root/admin.yaml drain ${nodeName} --ignore-daemonsets --delete-emptydir-data --timeout=300s\n`);
    expect(h.stderr()).toContain('cordoned and drained');
    await writeFile(path.join(bin, 'fail'), '');
    expect(await leave('--kubeconfig', '/root/admin.yaml')).toBe(0); // idempotent at the route, and the drain only warns
    expect(h.stderr()).toMatch(/warning: drain incomplete \(.*kubectl --kubeconfig \/root\/admin\.yaml drain .* failed: error: cannot evict pod x\); leaving anyway/);
    expect(platform.leaves).toEqual([nodeName, nodeName]);
  });

  it('leave of a node the platform does not know → exit 5 (unknown_node); without --api or a join state → exit 2', async () => {
    const { h, leave } = await setup();
    expect(await leave('--api', API, '--node-name', 'ext-nobody-1', '--json')).toBe(5);
    expect(JSON.parse(lastLine(h.stderr())).error).toMatchObject({ reason: 'unknown_node' });
    expect(await leave('--node-name', 'ext-nobody-1')).toBe(2);
    expect(lastLine(h.stderr())).toMatch(/no API: pass --api <url>/);
    expect(await leave('--api', API, '--node-name', 'ext-foreign-1', '--json')).toBe(5);
    expect(JSON.parse(lastLine(h.stderr())).error).toMatchObject({ reason: 'not_your_node' });
    expect(await leave('--api', API, '--node-name', 'Not_A_Node')).toBe(2);
  });

  it('leave --purge without a join state keeps a k3s binary it did not install', async () => {
    const { h, installDir, leave } = await setup();
    await mkdir(installDir, { recursive: true });
    await writeFile(path.join(installDir, 'k3s'), 'someone else\'s k3s', { mode: 0o755 });
    platform.nodes.add('ext-d4d4d4d4d4d4-00000001');
    expect(await leave('--api', API, '--node-name', 'ext-d4d4d4d4d4d4-00000001', '--purge')).toBe(0);
    expect(h.stderr()).toContain(`${path.join(installDir, 'k3s')} kept: no`);
    expect(await readFile(path.join(installDir, 'k3s'), 'utf8')).toBe('someone else\'s k3s');
  });

  it('a damaged node state file is a configuration error (exit 3), never a crash', async () => {
    const { h, config, leave } = await setup();
    await mkdir(path.dirname(config), { recursive: true });
    await writeFile(path.join(path.dirname(config), 'k3s-daas-node.json'), JSON.stringify({ api: 42, nodeName: ['x'] }));
    expect(await leave()).toBe(3);
    expect(lastLine(h.stderr())).toMatch(/k3s-daas-node\.json is not a k3s-daas node state file$/);
  });

  it('leave --dry-run prints the plan and does nothing', async () => {
    const { h, config, join, leave } = await setup();
    expect(await join('--trust-first-use')).toBe(3);
    const nodeName = [...platform.nodes][0];
    const before = h.stdout().length;
    expect(await leave('--dry-run', '--purge')).toBe(0);
    expect(h.stdout().slice(before)).toContain(`request=POST ${API}/v1/nodes/external/leave`);
    expect(h.stdout().slice(before)).toContain(`remove=${config}`);
    expect(platform.leaves).toEqual([]);
    expect((await stat(config)).isFile()).toBe(true);
    expect(nodeName).toMatch(/^ext-/);
  });

  it('help and completion know node join and leave', async () => {
    const { h } = await setup();
    expect(await runCli(['help', 'node', 'join'], h.ctx)).toBe(0);
    expect(h.stdout()).toContain('--k3s-download-base');
    expect(h.stdout()).toContain('Examples:');
    expect(await runCli(['completion', 'bash'], h.ctx)).toBe(0);
    expect(h.stdout()).toContain("'node join')");
  });
});

