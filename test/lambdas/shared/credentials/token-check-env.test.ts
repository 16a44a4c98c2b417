// zkLogin credentials verified through the real SuiGrpcClient (over an in-process fake transport): the
// request the node receives, its verdicts, its outages, and the lazy loading of the gRPC client.
import { describe, expect, it } from '@jest/globals';
import { bcs } from '@mysten/sui/bcs';
import { RpcError } from '@protobuf-ts/runtime-rpc';
import { createServer } from 'node:net';
import { createHandler as createAuthenticateHandler } from '../../../../lambdas/authenticate/handler';
import { createHandler as createValidateHandler } from '../../../../lambdas/tokens-validate/handler';
import { createCredential, parseCredential, SignatureVerifierUnavailableError, type PersonalMessageSigner } from '../../../../lambdas/shared/credentials/credential';
import { MemoryIndexRepository } from '../../../../lambdas/shared/index/index-repository-memory';
import { createSuiClient } from '../../../../lambdas/shared/sui/client';
import { createTokenChecker, isBackendUnavailable } from '../../../../lambdas/shared/credentials/token-check';
import { lazyZkLoginClient, networkErrorsAsUnavailable, TOKEN_CHECK_ENV, tokenCheckerFromEnv } from '../../../../lambdas/shared/credentials/token-check-env';
import { readEnv } from '../../../../lambdas/shared/runtime/env';
import { FakeSuiGrpcTransport } from '../../../support/fake-sui-grpc';
import { CLUSTER_ID, FIXED_NOW, OWNER, credentialFor, markIndexed, postEvent, seededIndex, stakeRecord, TEST_FRESHNESS, tokenRecord, zkLoginSigner } from '../../../support/token-fixtures';

const VERIFY = 'sui.rpc.v2.SignatureVerificationService/VerifySignature' as const;
const zk: PersonalMessageSigner = zkLoginSigner();

async function zkIndex() {
  const index = new MemoryIndexRepository();
  await index.writeEntities([
    { kind: 'token', record: tokenRecord('user', { owner: zk.toSuiAddress() }), expectedRev: 0 },
    { kind: 'stake', record: stakeRecord('user', { owner: zk.toSuiAddress() }), expectedRev: 0 },
  ]);
  await markIndexed(index);
  return index;
}

async function zkCredential() {
  return (await createCredential(zk, { tokenId: tokenRecord('user').tokenId, clusterId: CLUSTER_ID, now: FIXED_NOW, lifetimeSeconds: 300 })).credential;
}

function setup(answer: (request: unknown) => unknown) {
  const transport = new FakeSuiGrpcTransport().on(VERIFY, answer);
  let loads = 0;
  const zkLoginClient = lazyZkLoginClient(async () => {
    loads++;
    return createSuiClient({ network: 'testnet', grpcUrl: 'http://127.0.0.1:9', transport });
  });
  return { transport, zkLoginClient, loads: () => loads };
}

describe('zkLogin through the Sui gRPC client', () => {
  it('accepted when the node says valid; the node gets PersonalMessage, the BCS payload bytes and sub', async () => {
    const { transport, zkLoginClient } = setup(() => ({ isValid: true }));
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW, zkLoginClient });
    const credential = await zkCredential();
    expect(await checker.check(credential)).toMatchObject({ ok: true, identity: { username: `sui:${zk.toSuiAddress()}` } });
    const parsed = parseCredential(credential);
    if (!parsed.ok) throw new Error('unparsable');
    const request = transport.calls[0].request as { message: { name: string; value: Uint8Array }; address: string };
    expect(transport.calls.map((c) => c.method)).toEqual([VERIFY]);
    expect(request.message.name).toBe('PersonalMessage');
    expect(Buffer.from(request.message.value).equals(Buffer.from(bcs.byteVector().serialize(parsed.value.payloadBytes).toBytes()))).toBe(true);
    expect(request.address).toBe(zk.toSuiAddress());
  });

  it('refused (bad_signature) when the node says invalid', async () => {
    const { zkLoginClient } = setup(() => ({ isValid: false, reason: 'Groth16 proof verify failed' }));
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW, zkLoginClient });
    expect(await checker.check(await zkCredential())).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('a node that never answers is a backend failure too, after the bounded wait', async () => {
    const transport = new FakeSuiGrpcTransport().on(VERIFY, () => new Promise(() => {}));
    const zkLoginClient = lazyZkLoginClient(async () => createSuiClient({ network: 'testnet', grpcUrl: 'http://127.0.0.1:9', transport }), 50);
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW, zkLoginClient });
    await expect(checker.check(await zkCredential())).rejects.toBeInstanceOf(SignatureVerifierUnavailableError);
  });

  it('an unreachable node is a backend failure (the handlers answer 500/503), and is not cached', async () => {
    const { transport, zkLoginClient } = setup(() => ({ isValid: true }));
    transport.failAll();
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW, zkLoginClient });
    const error = await checker.check(await zkCredential()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignatureVerifierUnavailableError);
    expect(isBackendUnavailable(error)).toBe(true);
    expect(checker.stats().size).toBe(0);
  });

  it('the gRPC client is loaded on the first zkLogin credential only', async () => {
    const { zkLoginClient, loads } = setup(() => ({ isValid: true }));
    const index = await seededIndex();
    const checker = createTokenChecker({ index, clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW, zkLoginClient });
    expect(await checker.check(await credentialFor('user'))).toMatchObject({ ok: true, identity: { address: OWNER.toSuiAddress() } });
    expect(loads()).toBe(0);
    const zkChecker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW, zkLoginClient });
    await zkChecker.check(await zkCredential());
    await zkChecker.check(await zkCredential());
    expect(loads()).toBe(1);
  });

  it('a failed client load is a backend failure and is retried on the next zkLogin credential', async () => {
    const transport = new FakeSuiGrpcTransport().on(VERIFY, () => ({ isValid: true }));
    let loads = 0;
    const zkLoginClient = lazyZkLoginClient(async () => {
      if (++loads === 1) throw new Error('cannot load the gRPC client');
      return createSuiClient({ network: 'testnet', grpcUrl: 'http://127.0.0.1:9', transport });
    });
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW, zkLoginClient });
    const credential = await zkCredential();
    expect(await checker.check(credential).catch((e: unknown) => e)).toBeInstanceOf(SignatureVerifierUnavailableError);
    expect(await checker.check(credential)).toMatchObject({ ok: true });
    expect(loads).toBe(2);
  });

  it('the decision and view TTLs default to the documented bounds and may be lowered, never raised', () => {
    const base = { TABLE_NAME: 't', CLUSTER_ID, SUI_NETWORK: 'testnet', INDEX_MAX_AGE_SECONDS: '300' };
    expect(readEnv(TOKEN_CHECK_ENV, base)).toMatchObject({ TOKEN_DECISION_TTL_SECONDS: 5, INDEX_VIEW_TTL_SECONDS: 10 });
    expect(readEnv(TOKEN_CHECK_ENV, { ...base, TOKEN_DECISION_TTL_SECONDS: '0', INDEX_VIEW_TTL_SECONDS: '3' })).toMatchObject({ TOKEN_DECISION_TTL_SECONDS: 0, INDEX_VIEW_TTL_SECONDS: 3 });
    expect(() => readEnv(TOKEN_CHECK_ENV, { ...base, TOKEN_DECISION_TTL_SECONDS: '6' })).toThrow(/TOKEN_DECISION_TTL_SECONDS/);
    expect(() => readEnv(TOKEN_CHECK_ENV, { ...base, INDEX_VIEW_TTL_SECONDS: '11' })).toThrow(/INDEX_VIEW_TTL_SECONDS/);
  });

  it('tokenCheckerFromEnv without SUI_GRPC_URL refuses zkLogin before any index read', async () => {
    const checker = tokenCheckerFromEnv({ TABLE_NAME: 'unused', CLUSTER_ID, SUI_NETWORK: 'testnet', TOKEN_CACHE_SIZE: 10, INDEX_MAX_AGE_SECONDS: 300, TOKEN_DECISION_TTL_SECONDS: 5, INDEX_VIEW_TTL_SECONDS: 10 });
    const credential = (await createCredential(zk, { tokenId: tokenRecord('user').tokenId, clusterId: CLUSTER_ID, lifetimeSeconds: 300 })).credential;
    expect(await checker.check(credential)).toEqual({ ok: false, reason: 'bad_signature' });
  });
});

// Issue 12 item 6: a self-made zkLogin credential (no key, no token, no stake; its proof is made up)
// must not make the token routes answer 5xx, whatever the node answers to it.
describe('zkLogin: only an unavailable verifier is a backend failure', () => {
  const REFUSALS = ['INVALID_ARGUMENT', 'FAILED_PRECONDITION', 'INTERNAL', 'UNKNOWN', 'NOT_FOUND', 'UNIMPLEMENTED', 'PERMISSION_DENIED', 'UNAUTHENTICATED', 'OUT_OF_RANGE', 'ABORTED', 'CANCELLED'];
  const OUTAGES = ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED'];
  const answering = (code: string) => setup(() => { throw new RpcError(`node says ${code}`, code); });
  // The attacker's credential names a token that is not even indexed: the refusal comes before any index read.
  const selfMade = async () => (await createCredential(zk, { tokenId: `0x${'ee'.repeat(32)}`, clusterId: CLUSTER_ID, now: FIXED_NOW, lifetimeSeconds: 300 })).credential;

  it.each(REFUSALS)('the node answering %s is bad_signature: TokenReview 200 unauthenticated, validate 401', async (code) => {
    const { transport, zkLoginClient } = answering(code);
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW, zkLoginClient });
    const credential = await selfMade();
    expect(await checker.check(credential)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(transport.calls.map((c) => c.method)).toEqual([VERIFY]);

    const secret = 'w3bh00k-s3cret-0123456789abcdefghijklmnopqrstuv';
    const authenticate = createAuthenticateHandler({ checker, webhookSecret: async () => secret });
    const review = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: credential } });
    const answer = await authenticate(postEvent('/v1/authenticate', review, { authorization: `Bearer ${secret}` }));
    expect({ status: answer.statusCode, body: JSON.parse(answer.body!).status }).toEqual({ status: 200, body: { authenticated: false } });
    const validate = await createValidateHandler({ checker })(postEvent('/v1/tokens/validate', JSON.stringify({ credential })));
    expect({ status: validate.statusCode, body: JSON.parse(validate.body!) }).toEqual({ status: 401, body: { valid: false, reason: 'bad_signature' } });
  });

  it.each(OUTAGES)('the node answering %s is the verifier being unavailable: TokenReview 500, validate 503', async (code) => {
    const { zkLoginClient } = answering(code);
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW, zkLoginClient });
    const credential = await selfMade();
    const error = await checker.check(credential).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignatureVerifierUnavailableError);
    expect(isBackendUnavailable(error)).toBe(true);
    const secret = 'w3bh00k-s3cret-0123456789abcdefghijklmnopqrstuv';
    const review = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: credential } });
    const answer = await createAuthenticateHandler({ checker, webhookSecret: async () => secret })(postEvent('/v1/authenticate', review, { authorization: `Bearer ${secret}` }));
    expect(answer.statusCode).toBe(500);
    const validate = await createValidateHandler({ checker })(postEvent('/v1/tokens/validate', JSON.stringify({ credential })));
    expect(validate.statusCode).toBe(503);
  });

  it('a network error (connection refused, through real fetch and the gRPC-web transport) is unavailability', async () => {
    // A port that was just free: nothing listens there, so the connection is refused.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as { port: number };
        server.close(() => resolve(p));
      });
    });
    const zkLoginClient = lazyZkLoginClient(async () => createSuiClient({ network: 'testnet', grpcUrl: `http://127.0.0.1:${port}`, fetch: networkErrorsAsUnavailable() }));
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, freshness: TEST_FRESHNESS, now: () => FIXED_NOW, zkLoginClient });
    const error = await checker.check(await selfMade()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignatureVerifierUnavailableError);
    expect((error as Error).message).toContain('UNAVAILABLE');
  });

  it('networkErrorsAsUnavailable passes answers and aborts through unchanged', async () => {
    const answer = new Response('x', { status: 200 });
    expect(await networkErrorsAsUnavailable(async () => answer)('http://x')).toBe(answer);
    const failed = await networkErrorsAsUnavailable(async () => { throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') }); })('http://x');
    expect({ status: failed.status, text: failed.statusText }).toEqual({ status: 503, text: 'network error: connect ECONNREFUSED' });
    const controller = new AbortController();
    controller.abort();
    const aborted = new DOMException('aborted', 'AbortError');
    await expect(networkErrorsAsUnavailable(async () => { throw aborted; })('http://x', { signal: controller.signal })).rejects.toBe(aborted);
  });
});
