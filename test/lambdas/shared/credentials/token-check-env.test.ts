// zkLogin credentials verified through the real SuiGrpcClient (over an in-process fake transport): the
// request the node receives, its verdicts, its outages, and the lazy loading of the gRPC client.
import { describe, expect, it } from '@jest/globals';
import { bcs } from '@mysten/sui/bcs';
import { createCredential, parseCredential, SignatureVerifierUnavailableError, type PersonalMessageSigner } from '../../../../lambdas/shared/credentials/credential';
import { MemoryIndexRepository } from '../../../../lambdas/shared/index/index-repository-memory';
import { createSuiClient } from '../../../../lambdas/shared/sui/client';
import { createTokenChecker, isBackendUnavailable } from '../../../../lambdas/shared/credentials/token-check';
import { lazyZkLoginClient, tokenCheckerFromEnv } from '../../../../lambdas/shared/credentials/token-check-env';
import { FakeSuiGrpcTransport } from '../../../support/fake-sui-grpc';
import { CLUSTER_ID, FIXED_NOW, OWNER, credentialFor, seededIndex, stakeRecord, tokenRecord, zkLoginSigner } from '../../../support/token-fixtures';

const VERIFY = 'sui.rpc.v2.SignatureVerificationService/VerifySignature' as const;
const zk: PersonalMessageSigner = zkLoginSigner();

async function zkIndex() {
  const index = new MemoryIndexRepository();
  await index.writeEntities([
    { kind: 'token', record: tokenRecord('user', { owner: zk.toSuiAddress() }), expectedRev: 0 },
    { kind: 'stake', record: stakeRecord('user', { owner: zk.toSuiAddress() }), expectedRev: 0 },
  ]);
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
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, now: () => FIXED_NOW, zkLoginClient });
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
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, now: () => FIXED_NOW, zkLoginClient });
    expect(await checker.check(await zkCredential())).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('a node that never answers is a backend failure too, after the bounded wait', async () => {
    const transport = new FakeSuiGrpcTransport().on(VERIFY, () => new Promise(() => {}));
    const zkLoginClient = lazyZkLoginClient(async () => createSuiClient({ network: 'testnet', grpcUrl: 'http://127.0.0.1:9', transport }), 50);
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, now: () => FIXED_NOW, zkLoginClient });
    await expect(checker.check(await zkCredential())).rejects.toBeInstanceOf(SignatureVerifierUnavailableError);
  });

  it('an unreachable node is a backend failure (the handlers answer 500/503), and is not cached', async () => {
    const { transport, zkLoginClient } = setup(() => ({ isValid: true }));
    transport.failAll();
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, now: () => FIXED_NOW, zkLoginClient });
    const error = await checker.check(await zkCredential()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignatureVerifierUnavailableError);
    expect(isBackendUnavailable(error)).toBe(true);
    expect(checker.stats().size).toBe(0);
  });

  it('the gRPC client is loaded on the first zkLogin credential only', async () => {
    const { zkLoginClient, loads } = setup(() => ({ isValid: true }));
    const index = await seededIndex();
    const checker = createTokenChecker({ index, clusterId: CLUSTER_ID, now: () => FIXED_NOW, zkLoginClient });
    expect(await checker.check(await credentialFor('user'))).toMatchObject({ ok: true, identity: { address: OWNER.toSuiAddress() } });
    expect(loads()).toBe(0);
    const zkChecker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, now: () => FIXED_NOW, zkLoginClient });
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
    const checker = createTokenChecker({ index: await zkIndex(), clusterId: CLUSTER_ID, now: () => FIXED_NOW, zkLoginClient });
    const credential = await zkCredential();
    expect(await checker.check(credential).catch((e: unknown) => e)).toBeInstanceOf(SignatureVerifierUnavailableError);
    expect(await checker.check(credential)).toMatchObject({ ok: true });
    expect(loads).toBe(2);
  });

  it('tokenCheckerFromEnv without SUI_GRPC_URL refuses zkLogin before any index read', async () => {
    const checker = tokenCheckerFromEnv({ TABLE_NAME: 'unused', CLUSTER_ID, SUI_NETWORK: 'testnet', TOKEN_CACHE_SIZE: 10 });
    const credential = (await createCredential(zk, { tokenId: tokenRecord('user').tokenId, clusterId: CLUSTER_ID, lifetimeSeconds: 300 })).credential;
    expect(await checker.check(credential)).toEqual({ ok: false, reason: 'bad_signature' });
  });
});
