// `k3s-daas kubeconfig` end to end in-process: the CLI signs a credential, the real issuer and
// kubeconfig handlers answer (KMS through a local wire-format fake), and the CLI writes the file only
// when the signature, the signed attestation summary and the CA all check out.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KMSClient } from '@aws-sdk/client-kms';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
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
import { TEST_PCRS } from '../support/nitro-test-ca';
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

describe('k3s-daas kubeconfig', () => {
  let kms: FakeKms;
  let signer: KmsKubeconfigSigner;
  let record: AttestationRecord;
  let pcrsFile: string;
  const keypair = Ed25519Keypair.generate();
  const env = { SUI_PRIVATE_KEY: keypair.getSecretKey() };

  const routes = (over: { record?: AttestationRecord | null; publicKeySigner?: KmsKubeconfigSigner } = {}): Record<string, Handler> => {
    const store = new MemoryAttestationRecordStore(over.record === null ? undefined : (over.record ?? record));
    return {
      'GET /v1/issuer': createIssuer({ clusterId: CLUSTER, signer: over.publicKeySigner ?? signer, expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] }, store }),
      'POST /v1/kubeconfig': createKubeconfig({
        // The credential's own rules (signature, audience, lifetime); index lookups are the token checker's.
        checkCredential: async (credential) => {
          const r = await verifyCredential(credential, { audience: CLUSTER, nowMs: NOW.getTime() });
          return r.ok ? { ok: true, identity: { tokenId: r.value.payload.tok } } : { ok: false, reason: r.reason };
        },
        store,
        signer,
        clusterId: CLUSTER,
        serverUrl: 'https://nlb.k3s-daas.test:6443',
        maxAttestationAgeMs: 15 * 60_000,
        now: () => NOW,
      }),
    };
  };

  async function run(args: string[], fetchImpl: typeof fetch, harnessEnv: NodeJS.ProcessEnv = env) {
    const h = await makeHarness(harnessEnv, { fetch: fetchImpl, now: () => NOW });
    const code = await runCli(['kubeconfig', '--api', API, '--token', TOKEN, '--pcrs', pcrsFile, ...args], h.ctx);
    return { code, out: h.stdout(), err: h.stderr(), home: h.ctx.homeDir };
  }

  beforeAll(async () => {
    kms = await startFakeKms();
    signer = new KmsKubeconfigSigner(new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1' }), kms.keyArn);
    const caCertPem = await createClusterCaPem();
    record = {
      pcrs: { PCR0: TEST_PCRS[0], PCR1: TEST_PCRS[1], PCR2: TEST_PCRS[2], PCR8: TEST_PCRS[8] },
      caSha256: createHash('sha256').update(new X509Certificate(caCertPem).raw).digest('hex'),
      caCertPem,
      moduleId: 'i-0123-enc0123',
      timestamp: new Date(NOW.getTime() - 120_000).toISOString(),
      verifiedAt: new Date(NOW.getTime() - 119_000).toISOString(),
    };
    const dir = await mkdtemp(path.join(tmpdir(), 'k3s-daas-kc-'));
    pcrsFile = path.join(dir, 'pcrs.json');
    await writeFile(pcrsFile, JSON.stringify({ PCR0: TEST_PCRS[0], PCR1: TEST_PCRS[1], PCR2: TEST_PCRS[2], eifSha256: 'ab'.repeat(32), arch: 'x86_64' }));
  });
  afterAll(() => kms.stop());

  it('writes the verified, KMS-signed kubeconfig with mode 0600 to ~/.kube/k3s-daas-<cluster>.yaml', async () => {
    const { code, out, err, home } = await run([], apiFetch(routes()));
    expect(err).toMatch(/^verified: signed by arn:aws:kms:/);
    expect(code).toBe(0);
    const file = path.join(home, '.kube', `k3s-daas-${CLUSTER}.yaml`);
    expect(out.trim()).toBe(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const written = parse(await readFile(file, 'utf8'));
    expect(written.users[0].user.exec.args).toEqual(['credential', '--token', TOKEN, '--cluster', CLUSTER]);
    expect(written.clusters[0].cluster.server).toBe('https://nlb.k3s-daas.test:6443');
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
    const args = ['kubeconfig', '--api', API, '--token', TOKEN, '--pcrs', pcrsFile, '--output', output];
    expect(await runCli(args, h.ctx)).toBe(1);
    expect(h.stderr()).toMatch(/exists: pass --force/);
    expect(await readFile(output, 'utf8')).toBe('keep me');
    expect(await runCli([...args, '--force'], h.ctx)).toBe(0);
    expect(await readFile(output, 'utf8')).toContain('kind: Config');
    expect((await stat(output)).mode & 0o777).toBe(0o600);
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
    await expect(stat(path.join(home, '.kube', `k3s-daas-${CLUSTER}.yaml`))).rejects.toThrow();
  });

  it('rejects a signature the issuer key did not make', async () => {
    const otherKms = await startFakeKms();
    try {
      const otherSigner = new KmsKubeconfigSigner(new KMSClient({ endpoint: otherKms.endpoint, region: 'us-east-1' }), otherKms.keyArn);
      const forged = { ...routes(), 'GET /v1/issuer': routes({ publicKeySigner: otherSigner })['GET /v1/issuer'] };
      const { code, err } = await run([], apiFetch(forged, (route, body) => {
        if (route === 'GET /v1/issuer') body.keyId = kms.keyArn;
      }));
      expect(code).toBe(6);
      expect(err).toMatch(/signature does not verify/);
    } finally {
      await otherKms.stop();
    }
  });

  it('rejects an attestation whose PCRs differ from the expected ones', async () => {
    const wrong = { ...record, pcrs: { ...record.pcrs, PCR2: 'ee'.repeat(48) } };
    const { code, err } = await run([], apiFetch(routes({ record: wrong })));
    expect(code).toBe(6);
    expect(err).toMatch(/does not match the expected PCRs \(PCR2 differ\)/);
  });

  it('rejects an unsigned attestation summary that was swapped in transit', async () => {
    const { code, err } = await run([], apiFetch(routes(), (route, body) => {
      if (route === 'POST /v1/kubeconfig') (body.attestation as { timestamp: string }).timestamp = NOW.toISOString();
    }));
    expect(code).toBe(6);
    expect(err).toMatch(/differs from the signed one/);
  });

  it('503 no_attestation from the API is one clear line, exit 5 (refused)', async () => {
    const { code, err } = await run([], apiFetch(routes({ record: null })));
    expect(code).toBe(5);
    expect(err).toBe('k3s-daas: POST /v1/kubeconfig refused (503 no_attestation): no fresh verified attestation of the control-plane enclave; retry later\n');
  });

  it('a credential the API refuses is reported with its reason', async () => {
    const h = await makeHarness(env, { fetch: apiFetch(routes()), now: () => new Date(NOW.getTime() - 3_600_000) });
    const code = await runCli(['kubeconfig', '--api', API, '--token', TOKEN, '--pcrs', pcrsFile], h.ctx);
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
      expect(await runCli(['kubeconfig', '--api', API, '--token', TOKEN], h.ctx)).toBe(0);
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
