// docs/openapi.yaml is the HTTP contract of DESIGN §4. This test holds it to the code two ways: its
// routes and their authorization equal the synthesized HTTP API's, and what the real handlers answer
// (success and refusal paths) validates against its response schemas.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { createHandler as authenticate } from '../../lambdas/authenticate/handler';
import { handler as healthz } from '../../lambdas/healthz/handler';
import { createHandler as issuer } from '../../lambdas/issuer/handler';
import { createHandler as kubeconfig } from '../../lambdas/kubeconfig/handler';
import { createHandler as attestation } from '../../lambdas/attestation/handler';
import { createHandler as validate } from '../../lambdas/tokens-validate/handler';
import { MemoryAttestationRecordStore } from '../../lambdas/shared/attestation/record-store';
import type { HttpResult } from '../../lambdas/shared/runtime/http';
import { IndexUnavailableError, type AttestationRecord } from '../../lambdas/shared/index/index-model';
import { KmsKubeconfigSigner } from '../../lambdas/shared/kubeconfig/kms-signing-key';
import { createTokenChecker, TOKEN_CHECK_REASONS } from '../../lambdas/shared/credentials/token-check';
import { IndexStaleError } from '../../lambdas/shared/index/freshness';
import { synthPlatform, REPO_ROOT } from '../support/cdk-app';
import { attestationRecordFor, createClusterCaPem } from '../support/cluster-ca';
import { NitroTestCa, TEST_PCRS } from '../support/nitro-test-ca';
import { startFakeKms, type FakeKms } from '../support/fake-kms';
import { CLUSTER_ID, FIXED_NOW, credentialFor, seededIndex, TEST_FRESHNESS, tokenIdOf } from '../support/token-fixtures';
import { StaticPlatformSettings } from '../../lambdas/shared/attestation/platform-settings';
import { TEST_SETTINGS, testClaims, testSettings } from '../support/enclave-settings';

type Operation = { security?: Record<string, string[]>[]; responses: Record<string, { $ref?: string; content?: { 'application/json': { schema: unknown } } }> };
const doc = parse(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'openapi.yaml'), 'utf8')) as {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, { content: { 'application/json': { schema: unknown } } }> };
};

const DOC_ID = 'https://k3s-daas.invalid/openapi';
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema({ $id: DOC_ID, ...doc });

function responseSchema(route: string, status: number): unknown {
  const [method, p] = route.split(' ');
  const op = doc.paths[p]?.[method.toLowerCase()];
  if (!op) throw new Error(`${route} is not in docs/openapi.yaml`);
  let response = op.responses[String(status)];
  if (!response) throw new Error(`${route} answered ${status}, which docs/openapi.yaml does not describe`);
  if (response.$ref) response = doc.components.responses[response.$ref.split('/').pop()!];
  return response.content?.['application/json']?.schema;
}

/** Asserts the answer is described by the contract: documented status, body valid against its schema. */
function expectConforms(route: string, result: HttpResult): void {
  const schema = responseSchema(route, result.statusCode);
  if (schema === undefined) {
    expect(result.body ?? '').toBe('');
    return;
  }
  const validateBody = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', `"${DOC_ID}#/components/`)));
  const body = JSON.parse(result.body!);
  if (!validateBody(body)) throw new Error(`${route} ${result.statusCode} does not match docs/openapi.yaml: ${ajv.errorsText(validateBody.errors)}\n${result.body}`);
}

const post = (body: unknown, headers: Record<string, string> = {}, raw?: string) =>
  ({ body: raw ?? JSON.stringify(body), isBase64Encoded: false, headers }) as unknown as APIGatewayProxyEventV2;

describe('docs/openapi.yaml', () => {
  it('is OpenAPI 3.1 and describes exactly the routes of the synthesized API, with their authorization', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const template = synthPlatform({ env: 'dev' }).template('api');
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as { Properties: { RouteKey: string; AuthorizationType: string } }[];
    const deployed = routes.map((r) => `${r.Properties.RouteKey} ${r.Properties.AuthorizationType}`).sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([p, ops]) => Object.entries(ops).map(([m, op]) => `${m.toUpperCase()} ${p} ${op.security?.some((s) => 'sigv4' in s) ? 'AWS_IAM' : 'NONE'}`))
      .sort();
    expect(documented).toEqual(deployed);
  });

  it('request bodies: what the description allows and refuses is what the handlers do (spot checks of past mismatches)', () => {
    const requestSchema = (p: string) => {
      const body = (doc.paths[p].post as unknown as { requestBody: { required?: boolean; content: { 'application/json': { schema: unknown } } } }).requestBody;
      return { required: body.required ?? false, check: ajv.compile(JSON.parse(JSON.stringify(body.content['application/json'].schema).replaceAll('"#/components/', `"${DOC_ID}#/components/`))) };
    };
    // An empty spec.token is a valid TokenReview (answered authenticated:false, see below).
    expect(requestSchema('/v1/authenticate').check({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: '' } })).toBe(true);
    // The join body is optional, and `{}` when present (the handler takes an absent body as `{}`).
    expect(requestSchema('/v1/nodes/join').required).toBe(false);
    expect(requestSchema('/v1/nodes/join').check({ nodeName: 'x' })).toBe(false);
    // Attestation refuses keys beyond document and caCertPem, like the handler's strict schema.
    expect(requestSchema('/v1/attestation').check({ document: 'AAAA', caCertPem: 'pem', extra: 1 })).toBe(false);
  });

  it('lists exactly the token checker\'s reason codes', () => {
    const reason = (doc as unknown as { components: { schemas: { Reason: { enum: string[] } } } }).components.schemas.Reason;
    expect([...reason.enum].sort()).toEqual([...TOKEN_CHECK_REASONS].sort());
  });

  describe('matches what the handlers answer', () => {
    let kms: FakeKms;
    let record: AttestationRecord;
    let checker: ReturnType<typeof createTokenChecker>;
    const down = { check: async () => { throw new IndexUnavailableError('down'); } };
    const stale = { check: async () => { throw new IndexStaleError('behind', 600_000); } };

    beforeAll(async () => {
      kms = await startFakeKms();
      checker = createTokenChecker({ index: await seededIndex(), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW });
      const caCertPem = await createClusterCaPem();
      record = attestationRecordFor(caCertPem, FIXED_NOW);
    });
    afterAll(async () => kms.stop());

    it('GET /healthz', async () => {
      expectConforms('GET /healthz', await healthz());
    });

    it('POST /v1/tokens/validate: 200, 401 with a reason, 400, 413, 503', async () => {
      const h = validate({ checker });
      const good = await credentialFor('user', { now: FIXED_NOW });
      const answers = [
        await h(post({ credential: good })),
        await h(post({ credential: good.slice(0, -2) + 'AA' })),
        await h(post({ credential: 'k3sdaas.v1.x.y' })),
        await h(post({}, {}, '{')),
        await h(post({ credential: 'x'.repeat(20_000) })),
        await validate({ checker: down })(post({ credential: good })),
        await validate({ checker: stale })(post({ credential: good })),
      ];
      expect(answers.map((a) => a.statusCode)).toEqual([200, 401, 401, 400, 413, 503, 503]);
      expect(JSON.parse(answers[6].body!).error).toBe('index_stale');
      for (const a of answers) expectConforms('POST /v1/tokens/validate', a);
    });

    it('POST /v1/authenticate: 200 authenticated and not, 401 without the bearer, 400, 500 on backend failure', async () => {
      const h = authenticate({ checker, webhookSecret: async () => 'hook-secret' });
      const review = async (token: string, apiVersion = 'authentication.k8s.io/v1') => ({ apiVersion, kind: 'TokenReview', spec: { token } });
      const auth = { authorization: 'Bearer hook-secret' };
      const good = await credentialFor('admin', { now: FIXED_NOW });
      const answers = [
        await h(post(await review(good), auth)),
        await h(post(await review(good, 'authentication.k8s.io/v1beta1'), auth)),
        await h(post(await review('garbage'), auth)),
        await h(post(await review(good))),
        await h(post({ kind: 'TokenReview' }, auth)),
        await authenticate({ checker: down, webhookSecret: async () => 'hook-secret' })(post(await review(good), auth)),
        await h(post(await review(''), auth)),
        await authenticate({ checker: stale, webhookSecret: async () => 'hook-secret' })(post(await review(good), auth)),
      ];
      expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 401, 400, 500, 200, 500]);
      expect(JSON.parse(answers[6].body!).status).toEqual({ authenticated: false });
      expect(JSON.parse(answers[0].body!).status.authenticated).toBe(true);
      for (const a of answers) expectConforms('POST /v1/authenticate', a);
    });

    it('POST /v1/kubeconfig and GET /v1/issuer: 200, 401 with the reason, 503 no_attestation', async () => {
      const signer = new KmsKubeconfigSigner(new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1' }), kms.keyArn);
      const settings = new StaticPlatformSettings(TEST_SETTINGS);
      const deps = { checkCredential: (c: string) => checker.check(c), signer, settings, clusterId: CLUSTER_ID, serverUrl: 'https://nlb.example.com:6443', maxAttestationAgeMs: 15 * 60_000, now: () => FIXED_NOW };
      const good = await credentialFor('user', { now: FIXED_NOW });
      const answers = [
        await kubeconfig({ ...deps, store: new MemoryAttestationRecordStore(record) })(post({ credential: good })),
        await kubeconfig({ ...deps, store: new MemoryAttestationRecordStore(record) })(post({ credential: 'k3sdaas.v1.a.b' })),
        await kubeconfig({ ...deps, store: new MemoryAttestationRecordStore() })(post({ credential: good })),
        await kubeconfig({ ...deps, settings: new StaticPlatformSettings(testSettings({ apiUrl: 'https://other.example.net' })), store: new MemoryAttestationRecordStore(record) })(
          post({ credential: good }),
        ),
        await kubeconfig({ ...deps, checkCredential: down.check, store: new MemoryAttestationRecordStore(record) })(post({ credential: good })),
      ];
      expect(answers.map((a) => a.statusCode)).toEqual([200, 401, 503, 503, 503]);
      for (const a of answers) expectConforms('POST /v1/kubeconfig', a);
      expect(JSON.parse(answers[0].body!).kubeconfig).toContain(tokenIdOf('user'));

      for (const store of [new MemoryAttestationRecordStore(record), new MemoryAttestationRecordStore()]) {
        for (const expectedPcrs of [{ 0: 'aa'.repeat(48), 1: 'bb'.repeat(48), 2: 'cc'.repeat(48) }, undefined]) {
          expectConforms('GET /v1/issuer', await issuer({ clusterId: CLUSTER_ID, signer, expectedPcrs, store, settings })({} as APIGatewayProxyEventV2));
        }
      }
      const unreadable = { getLatest: async () => { throw new IndexUnavailableError('down'); }, putLatest: async () => undefined };
      const outage = await issuer({ clusterId: CLUSTER_ID, signer, expectedPcrs: undefined, store: unreadable, settings })({} as APIGatewayProxyEventV2);
      expect(outage.statusCode).toBe(503);
      expectConforms('GET /v1/issuer', outage);
    });

    it('POST /v1/attestation: 204, 400 with a reason for a bad document or an extra key, 503 without an enclave build or with the index down, 413', async () => {
      const deps = { store: new MemoryAttestationRecordStore(), now: () => FIXED_NOW, maxDocumentAgeMs: 300_000, settings: new StaticPlatformSettings(TEST_SETTINGS) };
      const nitro = await NitroTestCa.create();
      const verified = { expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] }, now: () => nitro.now, maxDocumentAgeMs: 300_000, rootPem: nitro.rootPem, settings: new StaticPlatformSettings(TEST_SETTINGS) };
      const document = Buffer.from((await nitro.document({ userData: testClaims(record.caCertPem) })).bytes).toString('base64');
      const unwritable = { getLatest: async () => undefined, putLatest: async () => { throw new IndexUnavailableError('down'); } };
      const answers = [
        await attestation({ ...verified, store: new MemoryAttestationRecordStore() })(post({ document, caCertPem: record.caCertPem })),
        await attestation({ ...deps, expectedPcrs: { 0: 'aa'.repeat(48) } })(post({ document: 'AAAA', caCertPem: record.caCertPem })),
        await attestation({ ...deps, expectedPcrs: { 0: 'aa'.repeat(48) } })(post({ document: 'AAAA', caCertPem: record.caCertPem, extra: 1 })),
        await attestation({ ...deps, expectedPcrs: undefined })(post({ document: 'AAAA', caCertPem: record.caCertPem })),
        await attestation({ ...verified, store: unwritable })(post({ document, caCertPem: record.caCertPem })),
        await attestation({ ...deps, expectedPcrs: { 0: 'aa'.repeat(48) } })(post({ document: 'A'.repeat(20_000), caCertPem: '' })),
      ];
      expect(answers.map((a) => a.statusCode)).toEqual([204, 400, 400, 503, 503, 413]);
      for (const a of answers) expectConforms('POST /v1/attestation', a);
    });
  });
});
