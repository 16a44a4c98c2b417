// The /cacerts fallback of `node join` (cli/k3s-agent.ts fetchCaBundle): over real TLS with a certificate
// nothing trusts yet, the bytes come back exactly as served, and a bundle is only accepted through the two
// hashes (the token's K10 pin and the attested CA) — checked by verifyJoinAnswer, which uses it when an
// answer carries no caCertPem.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as asn1js from 'asn1js';
import { webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, LookupFunction } from 'node:net';
import * as pkijs from 'pkijs';
import { fetchCaBundle } from '../../cli/k3s-agent';
import { NetworkError, RefusedError } from '../../cli/errors';
import { attestationDetail, verifyClusterAttestation } from '../../lambdas/shared/attestation/cluster-attestation';
import { canonicalSettings, settingsDigest, spkiSha256 } from '../../lambdas/shared/attestation/enclave-claims';
import { formatJoinToken } from '../../lambdas/shared/nodes/join-token';
import { K3S_RELEASE } from '../../lambdas/shared/nodes/k3s-release';
import { verifyJoinAnswer } from '../../lambdas/shared/nodes/verify-join-answer';
import { createClusterCaPem } from '../support/cluster-ca';
import { TEST_SIGNING_SPKI, testClaims } from '../support/enclave-settings';
import { NitroTestCa, TEST_PCRS } from '../support/nitro-test-ca';

const NOW = new Date('2026-11-23T00:00:00Z');
const HOST = 'nlb.k3s-daas.test';
const STAKE = '0x' + 'd4'.repeat(32);
const engine = new pkijs.CryptoEngine({ name: 'tls', crypto: webcrypto as unknown as ConstructorParameters<typeof pkijs.CryptoEngine>[0]['crypto'] });
const pem = (label: string, der: ArrayBuffer | Uint8Array) => `-----BEGIN ${label}-----\n${Buffer.from(der as ArrayBuffer).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;

/** A self-signed TLS server certificate and its key (the apiserver's, as the agent first meets it: untrusted). */
async function tlsIdentity(): Promise<{ key: string; cert: string }> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: 7 });
  const name = new pkijs.RelativeDistinguishedNames({ typesAndValues: [new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: HOST }) })] });
  cert.subject = name;
  cert.issuer = name;
  cert.notBefore.value = new Date(Date.now() - 86_400_000);
  cert.notAfter.value = new Date(Date.now() + 86_400_000);
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
  await cert.sign(keys.privateKey, 'SHA-256', engine);
  return { key: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), cert: pem('CERTIFICATE', cert.toSchema(true).toBER(false)) };
}

/** Resolves the attested name to this machine (what DNS does for the operator). */
const toLoopback: LookupFunction = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
  if (options?.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}) as unknown as LookupFunction;

describe('node join: the CA bundle from /cacerts', () => {
  let server: Server;
  let port = 0;
  let caCertPem: string;
  let served: string;
  let status = 200;

  beforeAll(async () => {
    caCertPem = await createClusterCaPem();
    served = caCertPem;
    server = createServer(await tlsIdentity(), (req, res) => {
      if (req.url !== '/cacerts') return void res.writeHead(404).end();
      res.writeHead(status, { 'content-type': 'text/plain' }).end(served);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  it('fetches the bytes exactly as served, over TLS it cannot verify yet', async () => {
    expect(await fetchCaBundle(new URL(`https://${HOST}:${port}`), 5_000, toLoopback)).toBe(caCertPem);
  });

  it('a non-200 answer is refused (exit 5); a closed port is a network failure (exit 4)', async () => {
    status = 503;
    try {
      await expect(fetchCaBundle(new URL(`https://${HOST}:${port}`), 5_000, toLoopback)).rejects.toBeInstanceOf(RefusedError);
    } finally {
      status = 200;
    }
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    const error = await fetchCaBundle(new URL(`https://${HOST}:${closedPort}`), 5_000, toLoopback).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).reason).toBe('refused');
  });

  it('verifyJoinAnswer uses it for an answer without caCertPem, and refuses a bundle the token does not pin', async () => {
    const nitro = await NitroTestCa.create({ now: new Date(NOW.getTime() - 120_000) });
    const settings = canonicalSettings({
      clusterId: 'k3s-daas-dev',
      apiUrl: 'https://api.k3s-daas.test',
      clusterStateKeyId: 'arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555',
      joinTokenKeyId: 'arn:aws:kms:us-east-1:111111111111:key/66666666-7777-8888-9999-000000000000',
      tlsSans: [HOST],
      kubeconfigSigningKeySpkiSha256: spkiSha256(TEST_SIGNING_SPKI),
    });
    const doc = await nitro.document({ userData: testClaims(caCertPem, { settingsDigest: settingsDigest(settings) }), pcrs: TEST_PCRS });
    const verdict = await verifyClusterAttestation(
      { document: Buffer.from(doc.bytes).toString('base64'), caCertPem },
      { expectedPcrs: null as never, now: nitro.now, maxDocumentAgeMs: 300_000, rootPem: nitro.rootPem, platformSettings: { settings, digest: settingsDigest(settings) } },
    );
    if (!verdict.ok) throw new Error(verdict.message);
    const hex = STAKE.slice(2);
    const answer = {
      server: `https://${HOST}:6443`,
      token: formatJoinToken(caCertPem, 'abc123', '0123456789abcdef'),
      expiresAt: new Date(NOW.getTime() + 600_000).toISOString(),
      nodeName: 'ext-d4d4d4d4d4d4-00000001',
      labels: { 'k3s-daas.io/stake-id-hi': hex.slice(0, 32), 'k3s-daas.io/stake-id-lo': hex.slice(32), 'k3s-daas.io/node-kind': 'external' },
      taints: ['k3s-daas.io/external=true:NoSchedule'],
      k3sVersion: K3S_RELEASE.version,
      attestation: attestationDetail(verdict.record), // exactly the kubeconfig answer's detail: no caCertPem
    };
    const asked: string[] = [];
    const anchors = {
      apiUrl: settings.apiUrl, clusterId: settings.clusterId, expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] }, now: NOW,
      maxDocumentAgeMs: 86_400_000, rootPem: nitro.rootPem, stakeId: STAKE, k3sVersion: K3S_RELEASE.version,
      fetchCaBundle: (s: URL) => {
        asked.push(s.href);
        return fetchCaBundle(new URL(`https://${HOST}:${port}`), 5_000, toLoopback); // the attested name, on this machine's port
      },
    };
    const verified = await verifyJoinAnswer(answer, anchors);
    expect(asked).toEqual([`https://${HOST}:6443/`]);
    expect(verified.nodeName).toBe('ext-d4d4d4d4d4d4-00000001');

    served = await createClusterCaPem('k3s-server-ca@1800000000'); // the server hands out another CA than the enclave attested
    try {
      await expect(verifyJoinAnswer(answer, anchors)).rejects.toThrow('the answer’s CA is not the CA the enclave attested');
    } finally {
      served = caCertPem;
    }
    await expect(verifyJoinAnswer({ ...answer, token: formatJoinToken(await createClusterCaPem('other'), 'abc123', '0123456789abcdef') }, anchors)).rejects.toThrow('the join token does not pin the attested CA');
  });
});
