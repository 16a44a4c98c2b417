// The latest-attestation record: the DynamoDB store (against moto) and the in-memory one keep one
// record and only move forward in NSM time.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AttestedCaChangedError, DynamoAttestationRecordStore, SnapshotCounterError, MemoryAttestationRecordStore, type AttestationRecordStore } from '../../../../lambdas/shared/attestation/record-store';
import { IndexUnavailableError, type AttestationRecord } from '../../../../lambdas/shared/index/index-model';
import { createIndexTable, emulatorClient } from '../../../support/index-table';
import { describeWithMoto, motoSkipReason, startMoto, type Moto } from '../../../support/moto';
import { TEST_SETTINGS } from '../../../support/enclave-settings';

const record = (timestamp: string, caSha256 = 'aa'.repeat(32)): AttestationRecord => ({
  pcrs: { PCR0: '01'.repeat(48), PCR8: '02'.repeat(48) },
  caSha256,
  caCertPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  moduleId: 'i-0123-enc0123',
  timestamp,
  verifiedAt: timestamp,
});

let moto: Moto | undefined;
let seq = 0;
beforeAll(async () => {
  if (!motoSkipReason()) moto = await startMoto();
});
afterAll(() => moto?.stop());

const stores: [string, () => Promise<AttestationRecordStore>][] = [
  ['memory', async () => new MemoryAttestationRecordStore()],
  ['dynamodb (moto)', async () => {
    const client = emulatorClient(moto!.endpoint);
    const tableName = `attestation-${++seq}`;
    await createIndexTable(client, tableName);
    return new DynamoAttestationRecordStore({ tableName, client });
  }],
];

for (const [name, create] of stores) (name === 'memory' ? describe : describeWithMoto)(`attestation record store: ${name}`, () => {
  it('is empty until a record is stored, then returns it as stored', async () => {
    const store = await create();
    expect(await store.getLatest()).toBeUndefined();
    await store.putLatest(record('2026-11-23T01:00:00.000Z'));
    expect(await store.getLatest()).toEqual(record('2026-11-23T01:00:00.000Z'));
  });

  it('a newer document replaces the record; an older one never does', async () => {
    const store = await create();
    await store.putLatest(record('2026-11-23T01:00:00.000Z'));
    await store.putLatest(record('2026-11-23T01:05:00.000Z'));
    await store.putLatest(record('2026-11-23T01:02:00.000Z'));
    expect((await store.getLatest())?.timestamp).toBe('2026-11-23T01:05:00.000Z');
  });

  it('pins the first attested cluster CA: a document for another CA is refused, newer or older', async () => {
    const store = await create();
    await store.putLatest(record('2026-11-23T01:00:00.000Z', '01'.repeat(32)));
    await expect(store.putLatest(record('2026-11-23T01:05:00.000Z', '02'.repeat(32)))).rejects.toBeInstanceOf(AttestedCaChangedError);
    await expect(store.putLatest(record('2026-11-23T00:55:00.000Z', '03'.repeat(32)))).rejects.toBeInstanceOf(AttestedCaChangedError);
    expect(await store.getLatest()).toEqual(record('2026-11-23T01:00:00.000Z', '01'.repeat(32)));
  });

  it('commits the snapshot counter forward by at most one; a rollback, a fork or a jump is refused and the record stays', async () => {
    const store = await create();
    const at = (minute: number, seq: number, digest = `${seq}`.padStart(2, '0').repeat(32)) => ({
      ...record(`2026-11-23T01:${String(minute).padStart(2, '0')}:00.000Z`),
      snapshotSeq: seq,
      snapshotSha256: seq === 0 ? '00'.repeat(32) : digest,
      settingsSha256: 'cd'.repeat(32),
      settings: TEST_SETTINGS,
      document: 'AAAA',
    });
    await store.putLatest(at(0, 0));
    await store.putLatest(at(1, 1));
    await store.putLatest(at(2, 1));
    await store.putLatest(at(3, 2));
    expect(await store.getLatest()).toEqual(at(3, 2));
    for (const [posted, reason] of [
      [at(4, 1), 'snapshot_rollback'],
      [at(4, 0), 'snapshot_rollback'],
      [at(4, 2, 'ee'.repeat(32)), 'snapshot_forked'],
      [at(4, 4), 'snapshot_gap'],
    ] as const) {
      const error = await store.putLatest(posted).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SnapshotCounterError);
      expect((error as SnapshotCounterError).reason).toBe(reason);
    }
    // A delayed older document is simply ignored, as before.
    await store.putLatest(at(2, 1));
    expect(await store.getLatest()).toEqual(at(3, 2));
  });

});

it('an unreachable table surfaces as IndexUnavailableError (fail closed)', async () => {
  const client = new DynamoDBClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', maxAttempts: 1 });
  const store = new DynamoAttestationRecordStore({ tableName: 'nope', client });
  await expect(store.getLatest()).rejects.toBeInstanceOf(IndexUnavailableError);
  await expect(store.putLatest(record('2026-11-23T01:00:00.000Z'))).rejects.toBeInstanceOf(IndexUnavailableError);

});
