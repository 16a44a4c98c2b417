// `k3s-daas kubeconfig` end to end in-process: the CLI signs a credential, the real issuer and
// kubeconfig handlers answer (KMS through a local wire-format fake; the attestation record is the one
// the attestation route stores from a real document of the test Nitro CA), and the CLI writes the file
// only when the document verifies against the user's own anchors (root, pcrs.json, pinned settings) and
// the kubeconfig re-renders from its verified parts. Each issue-12 item-1 attack is performed here.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KMSClient } from '@aws-sdk/client-kms';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHash, X509Certificate } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../../cli/program';
import { createHandler as createIssuer } from '../../lambdas/issuer/handler';
import { createHandler as createKubeconfig } from '../../lambdas/kubeconfig/handler';
import { MemoryAttestationRecordStore } from '../../lambdas/shared/attestation/record-store';
import { verifyCredential } from '../../lambdas/shared/credentials/credential';
import type { AttestationRecord } from '../../lambdas/shared/index/index-model';
import { KmsKubeconfigSigner } from '../../lambdas/shared/kubeconfig/kms-signing-key';
import { createClusterCaPem } from '../support/cluster-ca';
import { startFakeKms, type FakeKms } from '../support/fake-kms';
import { NitroTestCa, TEST_PCRS } from '../support/nitro-test-ca';
import { verifyClusterAttestation } from '../../lambdas/shared/attestation/cluster-attestation';
import { canonicalSettings, settingsDigest, spkiSha256, type EnclaveSettings } from '../../lambdas/shared/attestation/enclave-claims';
import { StaticPlatformSettings } from '../../lambdas/shared/attestation/platform-settings';
import { renderKubeconfig } from '../../lambdas/shared/kubeconfig/kubeconfig';
import { testClaims } from '../support/enclave-settings';
import { makeHarness } from './sui-cli-harness';

const NOW = new Date('2026-11-23T00:00:00Z');
const API = 'https://api.k3s-daas.test';
const TOKEN = '0x' + '5a'.repeat(32);
const CLUSTER = 'k3s-daas-dev';

type Handler = (e: APIGatewayProxyEventV2) => Promise<{ statusCode: number; body?: string }>;

/** `fetch` onto the handlers, like API Gateway would route it; `tamper` edits a JSON answer in flight. */
function apiFetch(routes: Record<string, Handler>, tamper?: (route: string, body: Record<string, unknown>) => void): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const route = `${init?.method ?? 'GET'} ${url.pathname}`;
    const handler = routes[route];
    if (!handler) return new Response(JSON.stringify({ error: 'not_found' }), { status: 404 });
    const res = await handler({ body: init?.body as string | undefined, isBase64Encoded: false } as APIGatewayProxyEventV2);
    let body = res.body ?? '';
    if (tamper && res.statusCode === 200) {
      const json = JSON.parse(body);
      tamper(route, json);
      body = JSON.stringify(json);
    }
    return new Response(body, { status: res.statusCode, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
}

const SERVER = 'https://nlb.k3s-daas.test:6443';

describe('k3s-daas kubeconfig', () => {
  let kms: FakeKms;
  let signer: KmsKubeconfigSigner;
  let record: AttestationRecord;
  let pcrsFile: string;
  let rootFile: string;
  let nitro: NitroTestCa;
  let caCertPem: string;
  let settings: EnclaveSettings;
  /** An attestation record as the route stores it from a real (test CA) document of an enclave with `s`. */
  const recordFor = async (s: EnclaveSettings, ca = caCertPem, pcrs = TEST_PCRS): Promise<AttestationRecord> => {
    const doc = await nitro.document({ userData: testClaims(ca, { settingsDigest: settingsDigest(s) }), pcrs });
    const verdict = await verifyClusterAttestation(
      { document: Buffer.from(doc.bytes).toString('base64'), caCertPem: ca },
      { expectedPcrs: null as never, now: nitro.now, maxDocumentAgeMs: 300_000, rootPem: nitro.rootPem, platformSettings: { settings: s, digest: settingsDigest(s) } },
    );
    if (!verdict.ok) throw new Error(verdict.message);
    return verdict.record;
  };
  const keypair = Ed25519Keypair.generate();
  const env = { SUI_PRIVATE_KEY: keypair.getSecretKey() };

  const routes = (over: { record?: AttestationRecord | null; signer?: KmsKubeconfigSigner; settings?: EnclaveSettings; clusterId?: string } = {}): Record<string, Handler> => {
    const store = new MemoryAttestationRecordStore(over.record === null ? undefined : (over.record ?? record));
    const platformSettings = new StaticPlatformSettings(over.settings ?? settings);
    return {
      'GET /v1/issuer': createIssuer({
        clusterId: over.clusterId ?? CLUSTER,
        signer: over.signer ?? signer,
        expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] },
        store,
        settings: platformSettings,
      }),
      'POST /v1/kubeconfig': createKubeconfig({
        // The credential's own rules (signature, audience, lifetime); index lookups are the token checker's.
        checkCredential: async (credential) => {
          const r = await verifyCredential(credential, { audience: CLUSTER, nowMs: NOW.getTime() });
          return r.ok ? { ok: true, identity: { tokenId: r.value.payload.tok } } : { ok: false, reason: r.reason };
        },
        store,
        signer: over.signer ?? signer,
        settings: platformSettings,
        clusterId: over.clusterId ?? CLUSTER,
        serverUrl: SERVER,
        maxAttestationAgeMs: 15 * 60_000,
        now: () => NOW,
      }),
    };
  };

  async function run(args: string[], fetchImpl: typeof fetch, harnessEnv: NodeJS.ProcessEnv = env, opts: { trust?: boolean; home?: string } = {}) {
    const h = await makeHarness(harnessEnv, { fetch: fetchImpl, now: () => NOW });
    const ctx = opts.home ? { ...h.ctx, homeDir: opts.home } : h.ctx;
    const trust = opts.trust === false ? [] : ['--trust-first-use'];
    const code = await runCli(['kubeconfig', '--api', API, '--token', TOKEN, '--pcrs', pcrsFile, '--root', rootFile, ...trust, ...args], ctx);
    return { code, out: h.stdout(), err: h.stderr(), home: ctx.homeDir };
  }
  const written = (home: string, cluster = CLUSTER) => path.join(home, '.kube', `k3s-daas-${cluster}.yaml`);
  const nothingWritten = async (home: string) => expect(stat(written(home))).rejects.toThrow();

  beforeAll(async () => {
    kms = await startFakeKms();
    signer = new KmsKubeconfigSigner(new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1' }), kms.keyArn);
    nitro = await NitroTestCa.create({ now: new Date(NOW.getTime() - 120_000) });
    caCertPem = await createClusterCaPem();
    settings = canonicalSettings({
      clusterId: CLUSTER,
      apiUrl: API,
      clusterStateKeyId: 'arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555',
      joinTokenKeyId: 'arn:aws:kms:us-east-1:111111111111:key/66666666-7777-8888-9999-000000000000',
      tlsSans: ['nlb.k3s-daas.test'],
      kubeconfigSigningKeySpkiSha256: spkiSha256(kms.publicKey.export({ format: 'der', type: 'spki' })),
    });
    record = await recordFor(settings);
    const dir = await mkdtemp(path.join(tmpdir(), 'k3s-daas-kc-'));
    pcrsFile = path.join(dir, 'pcrs.json');
    await writeFile(pcrsFile, JSON.stringify({ PCR0: TEST_PCRS[0], PCR1: TEST_PCRS[1], PCR2: TEST_PCRS[2], eifSha256: 'ab'.repeat(32), arch: 'x86_64' }));
    rootFile = path.join(dir, 'root.pem');
    await writeFile(rootFile, nitro.rootPem);
  });
  afterAll(() => kms.stop());

  it('writes the verified, KMS-signed kubeconfig with mode 0600 to ~/.kube/k3s-daas-<cluster>.yaml and pins the settings', async () => {
    const { code, out, err, home } = await run([], apiFetch(routes()));
    expect(err).toMatch(/verified: enclave attested at .* with the expected PCRs and settings [0-9a-f]{64}; signed by the attested key/);
    expect(code).toBe(0);
    const file = written(home);
    expect(out.trim()).toBe(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const kc = parse(await readFile(file, 'utf8'));
    expect(kc.users[0].user.exec.args).toEqual(['credential', '--token', TOKEN, '--cluster', CLUSTER]);
    expect(kc.clusters[0].cluster.server).toBe(SERVER);
    const pins = JSON.parse(await readFile(path.join(home, '.kube', 'k3s-daas-trusted-settings.json'), 'utf8'));
    expect(pins[`${API} ${CLUSTER}`].settingsSha256).toBe(settingsDigest(settings).toString('hex'));
  });

  it('first use without --trust-first-use or --settings-sha256: shows the attested settings and writes nothing', async () => {
    const { code, err, home } = await run([], apiFetch(routes()), env, { trust: false });
    expect(code).toBe(6);
    expect(err).toContain(`the attested enclave settings are ${settingsDigest(settings).toString('hex')}`);
    expect(err).toContain(settings.clusterStateKeyId);
    await nothingWritten(home);
    const pinned = await run(['--settings-sha256', settingsDigest(settings).toString('hex')], apiFetch(routes()), env, { trust: false, home });
    expect(pinned.code).toBe(0);
  });

  it('the written exec user runs `k3s-daas credential`, which yields a credential the API accepts for that token', async () => {
    const { code, out } = await run([], apiFetch(routes()));
    expect(code).toBe(0);
    const exec = parse(await readFile(out.trim(), 'utf8')).users[0].user.exec;
    expect(exec.command).toBe('k3s-daas');
    const h = await makeHarness(env, { now: () => NOW });
    expect(await runCli(exec.args, h.ctx)).toBe(0);
    const execCredential = JSON.parse(h.stdout());
    expect(execCredential.apiVersion).toBe(exec.apiVersion);
    const verified = await verifyCredential(execCredential.status.token, { audience: CLUSTER, nowMs: NOW.getTime() });
    expect(verified.ok && verified.value.payload.tok).toBe(TOKEN);
  });

  it('refuses to overwrite an existing file without --force, and replaces it (0600) with --force', async () => {
    const h = await makeHarness(env, { fetch: apiFetch(routes()), now: () => NOW });
    const output = path.join(h.ctx.homeDir, 'kc.yaml');
    await mkdir(path.dirname(output), { recursive: true });
    await writeFile(output, 'keep me', { mode: 0o644 });
    const args = ['kubeconfig', '--api', API, '--token', TOKEN, '--pcrs', pcrsFile, '--root', rootFile, '--trust-first-use', '--output', output];
    expect(await runCli(args, h.ctx)).toBe(1);
    expect(h.stderr()).toMatch(/exists: pass --force/);
    expect(await readFile(output, 'utf8')).toBe('keep me');
    expect(await runCli([...args, '--force'], h.ctx)).toBe(0);
    expect(await readFile(output, 'utf8')).toContain('kind: Config');
    expect((await stat(output)).mode & 0o777).toBe(0o600);
  });

  it('attack: --force never writes through a symlink planted at the output path', async () => {
    const h = await makeHarness(env, { fetch: apiFetch(routes()), now: () => NOW });
    const victim = path.join(h.ctx.homeDir, 'victim.txt');
    await writeFile(victim, 'precious');
    const output = path.join(h.ctx.homeDir, '.kube', 'link.yaml');
    await mkdir(path.dirname(output), { recursive: true });
    await symlink(victim, output);
    const args = ['kubeconfig', '--api', API, '--token', TOKEN, '--pcrs', pcrsFile, '--root', rootFile, '--trust-first-use', '--output', output];
    expect(await runCli(args, h.ctx)).toBe(1); // without --force the link is "an existing file"
    expect(await runCli([...args, '--force'], h.ctx)).toBe(0);
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect((await lstat(output)).isSymbolicLink()).toBe(false);
  });

  it('rejects a kubeconfig changed by one byte in transit and writes nothing', async () => {
    const tamper = (route: string, body: Record<string, unknown>) => {
      if (route !== 'POST /v1/kubeconfig') return;
      const kc = body.kubeconfig as string;
      const i = kc.indexOf('server: https://') + 'server: https://'.length;
      body.kubeconfig = kc.slice(0, i) + 'm' + kc.slice(i + 1); // nlb → mlb
    };
    const { code, err, home } = await run([], apiFetch(routes(), tamper));
    expect(code).toBe(6);
    expect(err).toMatch(/signature does not verify/);
    await nothingWritten(home);
  });

  it('attack: a rogue API with its own signing key (and the issuer saying so) is refused: the key is not the attested one', async () => {
    const otherKms = await startFakeKms();
    try {
      const otherSigner = new KmsKubeconfigSigner(new KMSClient({ endpoint: otherKms.endpoint, region: 'us-east-1' }), otherKms.keyArn);
      const { code, err, home } = await run([], apiFetch(routes({ signer: otherSigner })));
      expect(code).toBe(6);
      expect(err).toMatch(/signing key is not the one the enclave attested/);
      await nothingWritten(home);
    } finally {
      await otherKms.stop();
    }
  });

  it('attack: a rogue API that serves its own CA and server, signed with its own key, is refused', async () => {
    // The API answers with settings naming its key and server; the genuine document does not attest them.
    const otherKms = await startFakeKms();
    try {
      const rogueSigner = new KmsKubeconfigSigner(new KMSClient({ endpoint: otherKms.endpoint, region: 'us-east-1' }), otherKms.keyArn);
      const rogueSettings = canonicalSettings({ ...settings, tlsSans: ['evil.example.net'], kubeconfigSigningKeySpkiSha256: spkiSha256(otherKms.publicKey.export({ format: 'der', type: 'spki' })) });
      const rogueCa = await createClusterCaPem('rogue-ca');
      const rogue = { ...record, caCertPem: rogueCa, caSha256: createHash('sha256').update(new X509Certificate(rogueCa).raw).digest('hex'), settings: rogueSettings, settingsSha256: settingsDigest(rogueSettings).toString('hex') };
      const answer = routes({ record: rogue, signer: rogueSigner, settings: rogueSettings });
      const { code, err, home } = await run([], apiFetch(answer));
      expect(code).toBe(6);
      expect(err).toMatch(/settings in the answer are not the ones the enclave attested/);
      await nothingWritten(home);
    } finally {
      await otherKms.stop();
    }
  });

  it('attack: a genuine enclave of the same image run with someone else\'s settings (their API) is refused', async () => {
    const theirs = canonicalSettings({ ...settings, apiUrl: 'https://api.attacker.test' });
    const { code, err } = await run([], apiFetch(routes({ record: await recordFor(theirs), settings: theirs })));
    expect(code).toBe(6);
    expect(err).toMatch(/authenticates against https:\/\/api\.attacker\.test, not https:\/\/api\.k3s-daas\.test/);
  });

  it('attack: once pinned, a genuine enclave with other keys (another account\'s platform behind the same URL) is refused', async () => {
    const first = await run([], apiFetch(routes()));
    expect(first.code).toBe(0);
    const theirs = canonicalSettings({ ...settings, clusterStateKeyId: 'arn:aws:kms:us-east-1:999999999999:key/attacker' });
    const again = await run(['--force'], apiFetch(routes({ record: await recordFor(theirs), settings: theirs })), env, { home: first.home });
    expect(again.code).toBe(6);
    expect(again.err).toMatch(/differ from the pinned/);
  });

  it('attack: a document that is not from a Nitro enclave under the user\'s root is refused (the API cannot vouch for itself)', async () => {
    const otherRoot = await NitroTestCa.create({ now: nitro.now });
    const dir = await mkdtemp(path.join(tmpdir(), 'k3s-daas-root-'));
    const otherRootFile = path.join(dir, 'root.pem');
    await writeFile(otherRootFile, otherRoot.rootPem);
    const { code, err } = await run(['--root', otherRootFile], apiFetch(routes()));
    expect(code).toBe(6);
    expect(err).toMatch(/attestation rejected: untrusted_chain/);
  });

  it('attack: a debug-mode enclave (PCR0-2 all zero) is refused even when the pinned pcrs.json says zeros', async () => {
    const zero = '00'.repeat(48);
    const zeroFile = path.join(path.dirname(pcrsFile), 'zero-pcrs.json');
    await writeFile(zeroFile, JSON.stringify({ PCR0: zero, PCR1: zero, PCR2: zero, eifSha256: 'ab'.repeat(32), arch: 'x86_64' }));
    const { code, err, home } = await run(['--pcrs', zeroFile], apiFetch(routes({ record: await recordFor(settings, caCertPem, { ...TEST_PCRS, 0: zero, 1: zero, 2: zero }) })));
    expect(code).toBe(6);
    expect(err).toMatch(/attestation rejected: debug_mode/);
    await nothingWritten(home);
  });

  it('attack: once a cluster is pinned for this API, the API naming another cluster needs --cluster (no silent first use)', async () => {
    const first = await run([], apiFetch(routes()));
    expect(first.code).toBe(0);
    const { code, err } = await run([], apiFetch(routes({ clusterId: 'other-cluster' })), env, { home: first.home });
    expect(code).toBe(2);
    expect(err).toMatch(/names cluster other-cluster, which you have not pinned: pass --cluster/);
  });

  it('a pin file whose entries are not digests is a configuration error (exit 3), never a crash', async () => {
    const first = await run([], apiFetch(routes()));
    await writeFile(path.join(first.home, '.kube', 'k3s-daas-trusted-settings.json'), JSON.stringify({ [`${API} ${CLUSTER}`]: { settingsSha256: 123 } }));
    const { code, err } = await run(['--force'], apiFetch(routes()), env, { home: first.home });
    expect(code).toBe(3);
    expect(err).toMatch(/is not a pin file/);
  });

  it('rejects an attestation whose PCRs differ from the expected ones', async () => {
    const { code, err } = await run([], apiFetch(routes({ record: await recordFor(settings, caCertPem, { ...TEST_PCRS, 2: 'ee'.repeat(48) }) })));
    expect(code).toBe(6);
    expect(err).toMatch(/attestation rejected: pcr_mismatch/);
  });

  it('attack: a kubeconfig with another exec command, signed by the attested key, is refused (re-rendered and compared)', async () => {
    // Even a platform key signing it (insider, bug) cannot make the CLI write another exec plugin.
    const kc = renderKubeconfig({ clusterId: CLUSTER, serverUrl: SERVER, caCertPem: record.caCertPem, tokenId: TOKEN, attestation: { pcrs: record.pcrs, timestamp: record.timestamp, caSha256: record.caSha256 } });
    const evil = kc.replace('command: k3s-daas', 'command: /bin/sh');
    expect(evil).not.toBe(kc);
    const signature = await signer.sign(evil);
    const { code, err, home } = await run([], apiFetch(routes(), (route, body) => {
      if (route === 'POST /v1/kubeconfig') Object.assign(body, { kubeconfig: evil, signature });
    }));
    expect(code).toBe(6);
    expect(err).toMatch(/differs from the one rendered from the verified parts/);
    await nothingWritten(home);
  });

  it('attack: a server the attested certificate does not name is refused', async () => {
    const kc = renderKubeconfig({ clusterId: CLUSTER, serverUrl: 'https://evil.example.net:6443', caCertPem: record.caCertPem, tokenId: TOKEN, attestation: { pcrs: record.pcrs, timestamp: record.timestamp, caSha256: record.caSha256 } });
    const signature = await signer.sign(kc);
    const { code, err } = await run([], apiFetch(routes(), (route, body) => {
      if (route === 'POST /v1/kubeconfig') Object.assign(body, { kubeconfig: kc, signature });
    }));
    expect(code).toBe(6);
    expect(err).toMatch(/evil\.example\.net is not a name in the attested apiserver certificate/);
  });

  it.each([['../../.ssh/authorized_keys'], ['a/b'], ['UPPER'], ['x'.repeat(64)], ['-rf']])(
    'attack: a cluster id %j from the API (used in the file name and the audience) is refused before anything is written',
    async (clusterId) => {
      const { code, err, home } = await run([], apiFetch(routes({ clusterId })));
      expect(code).toBe(5);
      expect(err).toMatch(/is not 1-63 lowercase letters, digits and dashes/);
      await expect(stat(path.join(home, '.kube'))).rejects.toThrow();
    },
  );

  it('503 no_attestation from the API is one clear line, exit 5 (refused)', async () => {
    const { code, err } = await run([], apiFetch(routes({ record: null })));
    expect(code).toBe(5);
    expect(err).toBe('k3s-daas: POST /v1/kubeconfig refused (503 no_attestation): no fresh verified attestation of the control-plane enclave; retry later\n');
  });

  it('a credential the API refuses is reported with its reason', async () => {
    const h = await makeHarness(env, { fetch: apiFetch(routes()), now: () => new Date(NOW.getTime() - 3_600_000) });
    const code = await runCli(['kubeconfig', '--api', API, '--token', TOKEN, '--pcrs', pcrsFile, '--root', rootFile], h.ctx);
    expect(code).toBe(5);
    expect(h.stderr()).toMatch(/refused \(401 expired\)/);
  });

  it('without --pcrs it needs ./enclave/pcrs.json and refuses otherwise', async () => {
    const h = await makeHarness(env, { fetch: apiFetch(routes()), now: () => NOW });
    const cwd = process.cwd();
    process.chdir(h.ctx.homeDir);
    try {
      expect(await runCli(['kubeconfig', '--api', API, '--token', TOKEN], h.ctx)).toBe(3);
      expect(h.stderr()).toMatch(/no expected PCRs: pass --pcrs <pcrs.json> \(enclave\/pcrs.json not found in this directory\)/);
      await mkdir('enclave');
      await writeFile(path.join('enclave', 'pcrs.json'), await readFile(pcrsFile));
      expect(await runCli(['kubeconfig', '--api', API, '--token', TOKEN, '--root', rootFile, '--trust-first-use'], h.ctx)).toBe(0);
    } finally {
      process.chdir(cwd);
    }
  });

  it.each([
    ['a bad token id', ['kubeconfig', '--api', API, '--token', '0x12', '--pcrs', '/x'], /--token must be a seal token object id \(0x followed by 64 hex characters\), not "0x12"/],
    ['a plain-http API', ['kubeconfig', '--api', 'http://api.example.com', '--token', TOKEN, '--pcrs', '/x'], /--api must use https/],
  ])('%s is one clear line, exit 2 (usage)', async (_name, args, message) => {
    const h = await makeHarness(env, { fetch: apiFetch(routes()), now: () => NOW });
    expect(await runCli(args, h.ctx)).toBe(2);
    expect(h.stderr()).toMatch(message);
  });

  it('no Sui key: one clear line, nothing fetched from the kubeconfig route', async () => {
    const { code, err } = await run([], apiFetch(routes()), {});
    expect(code).toBe(3);
    expect(err).toMatch(/no Sui key/);
  });
});
