// The host agent's storage and control API, end to end: the supervisor's HostClient talks through the
// loopback → vsock → loopback bridges (in-memory vsock) to the host agent server, which keeps
// ciphertext in a versioned S3 bucket and relays the bootstrap-token pool to the index table (moto).
import { afterAll, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HOST_PATHS, type BootSettings } from '../../../enclave/src/common/host-protocol';
import { PARENT_CID, VSOCK_PORTS, forwardTcpToVsock, forwardVsockToTcp, socatVsock, type Closeable } from '../../../enclave/src/common/vsock';
import { createHostAgentServer } from '../../../enclave/src/host-agent/server';
import { SnapshotBucket } from '../../../enclave/src/host-agent/snapshot-bucket';
import { HostClient } from '../../../enclave/src/supervisor/host-client';
import { KEYS } from '../../../lambdas/shared/index/index-model';
import { NodeRegistry } from '../../../lambdas/shared/nodes/node-registry';
import { describeWithMoto, startMoto, type Moto } from '../../support/moto';
import { createIndexTable } from '../../support/worker-fixtures';
import { MemoryVsockFabric } from '../support/memory-vsock';

const ENCLAVE_CID = 16;
const BUCKET = 'k3s-daas-dev-snapshots';
const TABLE = 'k3s-daas-dev-index';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const BOOT: BootSettings = {
  region: 'us-east-1',
  clusterId: 'k3s-daas-dev',
  clusterStateKeyId: 'arn:aws:kms:us-east-1:111111111111:key/state',
  joinTokenKeyId: 'arn:aws:kms:us-east-1:111111111111:key/join',
  apiUrl: 'https://abc123.execute-api.us-east-1.amazonaws.com/',
  tlsSans: ['nlb.example.com'],
  webhookSecret: 'w'.repeat(48),
  snapshotIntervalSeconds: 900,
};

let moto: Moto;
let s3: S3Client;
let db: DynamoDBClient;
let server: http.Server;
let client: HostClient;
let controlPort: number;
const closers: Closeable[] = [];

beforeAll(async () => {
  moto = await startMoto();
  s3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', credentials, forcePathStyle: true });
  db = new DynamoDBClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials });
  const registry = new NodeRegistry(db, TABLE);
  server = createHostAgentServer({
    boot: async () => BOOT,
    credentials: async () => ({ accessKeyId: 'ASIAEXAMPLEEXAMPLE00', secretAccessKey: 'secret', sessionToken: 'token', expiration: '2030-01-01T00:00:00.000Z' }),
    store: new SnapshotBucket(s3, BUCKET, BOOT.clusterId),
    bootstrapPool: {
      list: () => registry.listBootstrapPool(),
      put: (entry) => registry.putBootstrapPoolEntry(entry, new Date('2026-11-23T00:00:00Z')),
      delete: (tokenId) => registry.deleteBootstrapPoolEntry(tokenId),
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  controlPort = (server.address() as AddressInfo).port;

  // The deployment's bridge chain, on an in-memory vsock.
  const fabric = new MemoryVsockFabric();
  closers.push(await forwardVsockToTcp({ vsock: fabric.network(PARENT_CID), port: VSOCK_PORTS.hostAgent, targetHost: '127.0.0.1', targetPort: controlPort }));
  const bridge = await forwardTcpToVsock({ vsock: fabric.network(ENCLAVE_CID), listenHost: '127.0.0.1', listenPort: 0, cid: PARENT_CID, port: VSOCK_PORTS.hostAgent });
  closers.push(bridge);
  client = new HostClient(`http://127.0.0.1:${bridge.port}`);
});

beforeEach(async () => {
  await moto.reset();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
  await createIndexTable(db, TABLE);
});

afterAll(async () => {
  for (const c of closers) await c.close();
  await new Promise<void>((r) => server.close(() => r()));
  s3?.destroy();
  db?.destroy();
  await moto?.stop();
});

describeWithMoto('host agent control API (through the vsock bridges)', () => {
  it('hands the enclave its boot settings and the instance credentials', async () => {
    expect(await client.boot()).toEqual(BOOT);
    const creds = await client.credentialProvider()();
    expect(creds).toMatchObject({ accessKeyId: 'ASIAEXAMPLEEXAMPLE00', sessionToken: 'token', expiration: new Date('2030-01-01T00:00:00Z') });
  });

  it('stores snapshots in the versioned bucket and returns the newest; older versions are kept', async () => {
    const store = client.snapshotStore();
    expect(await store.latest()).toBeUndefined();
    const first = crypto.randomBytes(200_000);
    const second = crypto.randomBytes(300_000);
    await store.put(first);
    await store.put(second);
    expect(Buffer.from((await store.latest())!).equals(second)).toBe(true);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: `clusters/${BOOT.clusterId}/` }));
    expect(versions.Versions?.filter((v) => v.Key?.endsWith('datastore.snapshot.sealed'))).toHaveLength(2);
  });

  it('stores and returns the sealed cluster secrets separately from snapshots', async () => {
    const secrets = client.sealedSecretsStore();
    expect(await secrets.get()).toBeUndefined();
    await secrets.put(Buffer.from('{"v":1}'));
    expect(Buffer.from((await secrets.get())!).toString()).toBe('{"v":1}');
    expect(await client.snapshotStore().latest()).toBeUndefined();
  });

  it('relays bootstrap-token pool entries to the index at KEYS.bootstrapPoolEntry(id), lists and retires them', async () => {
    const relay = client.bootstrapPool();
    const entry = { tokenId: 'abc123', expiresAt: '2026-11-23T00:30:00.000Z', caSha256: 'a'.repeat(64), ciphertext: crypto.randomBytes(180).toString('base64') };
    await relay.put(entry);
    const key = KEYS.bootstrapPoolEntry('abc123');
    const { Item } = await db.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }));
    expect(Item).toMatchObject({ ciphertext: { S: entry.ciphertext }, expiresAt: { S: entry.expiresAt }, caSha256: { S: entry.caSha256 }, createdAt: { S: '2026-11-23T00:00:00.000Z' } });
    expect(await relay.list()).toEqual([entry]);
    await relay.retire('abc123');
    expect(await relay.list()).toEqual([]);
  });

  it('rejects malformed pool entries and token ids, empty uploads, oversized small bodies and unknown routes with 4xx', async () => {
    const base = `http://127.0.0.1:${controlPort}`;
    const put = (path: string, body: string | Buffer) => fetch(base + path, { method: 'PUT', body });
    const good = { tokenId: 'abc123', expiresAt: '2026-11-23T00:30:00.000Z', caSha256: 'a'.repeat(64), ciphertext: 'AAAA' };
    for (const bad of [{ ...good, ciphertext: 'not base64!' }, { ...good, tokenId: 'ABC123' }, { ...good, caSha256: 'xyz' }, { ...good, extra: 1 }]) {
      expect((await put(HOST_PATHS.bootstrapTokens, JSON.stringify(bad))).status).toBe(400);
    }
    expect((await put(HOST_PATHS.bootstrapTokens, 'not json')).status).toBe(400);
    expect((await fetch(`${base}${HOST_PATHS.bootstrapTokens}/..%2Fx`, { method: 'DELETE' })).status).toBe(400);
    expect((await put(HOST_PATHS.snapshots, '')).status).toBe(400);
    expect((await put(HOST_PATHS.sealedSecrets, Buffer.alloc(65 * 1024))).status).toBe(413);
    expect((await fetch(base + '/v1/other')).status).toBe(404);
  });
});

describeWithMoto('the real vsock (socat)', () => {
  it('says clearly when socat cannot be run', async () => {
    const vsock = socatVsock({ socat: '/nonexistent/socat' });
    await expect(vsock.connect(16, 6443)).rejects.toThrow(/cannot run \/nonexistent\/socat for vsock 16:6443/);
    await expect(vsock.listen(8002, () => undefined)).rejects.toThrow(/cannot run \/nonexistent\/socat to listen on vsock 8002/);
  });
});
