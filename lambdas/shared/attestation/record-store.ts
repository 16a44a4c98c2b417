// The latest verified attestation (DESIGN §2 step 5), one item at `KEYS.attestation()` in the index
// table. Writes only move forward in NSM time, so a delayed post of an older document never replaces
// a newer one. Failures to reach the table surface as `IndexUnavailableError` (fail closed).
//
// The cluster CA is pinned on first use: once a CA is attested, a document binding another CA is
// refused (`AttestedCaChangedError`). An enclave that reboots restores its state and keeps its CA; a new
// CA means a new cluster, which is what an untrusted host could start by withholding the sealed state
// (and then name a KMS key it controls for the new secrets). Only an operator may accept a new cluster,
// by deleting the record (docs/attestation.md).
//
// The record also commits the datastore snapshot counter the enclave attests (enclave-claims.ts): a
// document may keep the committed (seq, digest), or advance it by exactly one; a lower seq (a rolled-back
// datastore), the same seq with another digest (a fork) or a jump are refused (`SnapshotCounterError`).
// The enclave reads the committed pair back over TLS at boot and refuses an older snapshot.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { IndexUnavailableError, KEYS, type AttestationRecord } from '../index/index-model';

export interface AttestationRecordStore {
  getLatest(): Promise<AttestationRecord | undefined>;
  /**
   * Stores `record` unless a record with a later document timestamp is already there; throws
   * `AttestedCaChangedError` when the stored record attests another cluster CA and
   * `SnapshotCounterError` when the snapshot counter would not move forward by at most one.
   */
  putLatest(record: AttestationRecord): Promise<void>;
}

export class AttestedCaChangedError extends Error {
  constructor(readonly pinnedCaSha256: string, readonly postedCaSha256: string) {
    super(`the cluster CA changed from ${pinnedCaSha256} to ${postedCaSha256}; an operator must accept a new cluster`);
    this.name = 'AttestedCaChangedError';
  }
}

export type SnapshotCounterReason = 'snapshot_rollback' | 'snapshot_forked' | 'snapshot_gap';

export class SnapshotCounterError extends Error {
  constructor(
    readonly reason: SnapshotCounterReason,
    readonly committed: { seq: number; sha256: string },
    readonly posted: { seq: number; sha256: string },
  ) {
    super(`snapshot ${posted.seq} (${posted.sha256.slice(0, 16)}…) does not follow the committed snapshot ${committed.seq} (${committed.sha256.slice(0, 16)}…): ${reason}`);
    this.name = 'SnapshotCounterError';
  }
}

/** Why `record` may not follow `current` (same CA and not older assumed), or undefined when it may. */
export function snapshotCounterRefusal(current: AttestationRecord, record: AttestationRecord): SnapshotCounterReason | undefined {
  if (current.snapshotSeq === undefined || current.snapshotSha256 === undefined) return undefined;
  const seq = record.snapshotSeq ?? 0;
  if (seq < current.snapshotSeq) return 'snapshot_rollback';
  if (seq === current.snapshotSeq && record.snapshotSha256 !== current.snapshotSha256) return 'snapshot_forked';
  if (seq > current.snapshotSeq + 1) return 'snapshot_gap';
  return undefined;
}

function checkAgainst(current: AttestationRecord, record: AttestationRecord): 'store' | 'older' {
  if (current.caSha256 !== record.caSha256) throw new AttestedCaChangedError(current.caSha256, record.caSha256);
  if (Date.parse(current.timestamp) > Date.parse(record.timestamp)) return 'older';
  const refusal = snapshotCounterRefusal(current, record);
  if (refusal) {
    throw new SnapshotCounterError(
      refusal,
      { seq: current.snapshotSeq!, sha256: current.snapshotSha256! },
      { seq: record.snapshotSeq ?? 0, sha256: record.snapshotSha256 ?? '' },
    );
  }
  return 'store';
}

export class DynamoAttestationRecordStore implements AttestationRecordStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(private readonly options: { tableName: string; client?: DynamoDBClient }) {
    this.doc = DynamoDBDocumentClient.from(options.client ?? new DynamoDBClient({}));
  }

  async getLatest(): Promise<AttestationRecord | undefined> {
    let item;
    try {
      ({ Item: item } = await this.doc.send(new GetCommand({ TableName: this.options.tableName, Key: KEYS.attestation(), ConsistentRead: true })));
    } catch (error) {
      throw new IndexUnavailableError('attestation record could not be read', { cause: error });
    }
    if (!item) return undefined;
    return {
      pcrs: item.pcrs as Record<string, string>,
      caSha256: item.caSha256 as string,
      caCertPem: item.caCertPem as string,
      moduleId: item.moduleId as string,
      timestamp: item.timestamp as string,
      verifiedAt: item.verifiedAt as string,
      ...(typeof item.settingsSha256 === 'string' ? { settingsSha256: item.settingsSha256 } : {}),
      ...(item.settings ? { settings: item.settings as AttestationRecord['settings'] } : {}),
      ...(typeof item.snapshotSeq === 'number' ? { snapshotSeq: item.snapshotSeq } : {}),
      ...(typeof item.snapshotSha256 === 'string' ? { snapshotSha256: item.snapshotSha256 } : {}),
      ...(typeof item.document === 'string' ? { document: item.document } : {}),
    };
  }

  async putLatest(record: AttestationRecord): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { ...KEYS.attestation(), ...record, timestampMs: Date.parse(record.timestamp) },
          // Same CA, not older, and the snapshot counter kept or advanced by one (see snapshotCounterRefusal);
          // the CA part also settles two first posts racing with different CAs.
          ConditionExpression:
            'attribute_not_exists(pk) OR (timestampMs <= :ts AND caSha256 = :ca AND (attribute_not_exists(snapshotSeq) OR ' +
            '(snapshotSeq = :seq AND snapshotSha256 = :sd) OR (snapshotSeq < :seq AND snapshotSeq >= :prev)))',
          ExpressionAttributeValues: {
            ':ts': Date.parse(record.timestamp),
            ':ca': record.caSha256,
            ':seq': record.snapshotSeq ?? 0,
            ':prev': (record.snapshotSeq ?? 0) - 1,
            ':sd': record.snapshotSha256 ?? '',
          },
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') {
        throw new IndexUnavailableError('attestation record could not be written', { cause: error });
      }
      const current = await this.getLatest();
      // Gone in between (an operator reset) or changed concurrently: classify against what is there now.
      if (current) checkAgainst(current, record);
      // Otherwise the stored record is newer: nothing to do.
    }
  }
}

/** For tests and local runs; same forward-only rule. */
export class MemoryAttestationRecordStore implements AttestationRecordStore {
  constructor(public record?: AttestationRecord) {}

  async getLatest(): Promise<AttestationRecord | undefined> {
    return this.record && { ...this.record, pcrs: { ...this.record.pcrs } };
  }

  async putLatest(record: AttestationRecord): Promise<void> {
    if (this.record && checkAgainst(this.record, record) === 'older') return;
    this.record = { ...record, pcrs: { ...record.pcrs } };
  }
}
