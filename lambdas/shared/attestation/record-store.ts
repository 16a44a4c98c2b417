// The latest verified attestation (DESIGN §2 step 5), one item at `KEYS.attestation()` in the index
// table. Writes only move forward in NSM time, so a delayed post of an older document never replaces
// a newer one. Failures to reach the table surface as `IndexUnavailableError` (fail closed).
//
// The cluster CA is pinned on first use: once a CA is attested, a document binding another CA is
// refused (`AttestedCaChangedError`). An enclave that reboots restores its state and keeps its CA; a new
// CA means a new cluster, which is what an untrusted host could start by withholding the sealed state
// (and then name a KMS key it controls for the new secrets). Only an operator may accept a new cluster,
// by deleting the record (docs/attestation.md).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { IndexUnavailableError, KEYS, type AttestationRecord } from '../index/index-model';

export interface AttestationRecordStore {
  getLatest(): Promise<AttestationRecord | undefined>;
  /**
   * Stores `record` unless a record with a later document timestamp is already there; throws
   * `AttestedCaChangedError` when the stored record attests another cluster CA.
   */
  putLatest(record: AttestationRecord): Promise<void>;
}

export class AttestedCaChangedError extends Error {
  constructor(readonly pinnedCaSha256: string, readonly postedCaSha256: string) {
    super(`the cluster CA changed from ${pinnedCaSha256} to ${postedCaSha256}; an operator must accept a new cluster`);
    this.name = 'AttestedCaChangedError';
  }
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
    };
  }

  async putLatest(record: AttestationRecord): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: { ...KEYS.attestation(), ...record, timestampMs: Date.parse(record.timestamp) },
          // Same CA and not older; the CA part also settles two first posts racing with different CAs.
          ConditionExpression: 'attribute_not_exists(pk) OR (timestampMs <= :ts AND caSha256 = :ca)',
          ExpressionAttributeValues: { ':ts': Date.parse(record.timestamp), ':ca': record.caSha256 },
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') {
        throw new IndexUnavailableError('attestation record could not be written', { cause: error });
      }
      const current = await this.getLatest();
      if (current && current.caSha256 !== record.caSha256) throw new AttestedCaChangedError(current.caSha256, record.caSha256);
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
    if (this.record && this.record.caSha256 !== record.caSha256) throw new AttestedCaChangedError(this.record.caSha256, record.caSha256);
    if (this.record && Date.parse(this.record.timestamp) > Date.parse(record.timestamp)) return;
    this.record = { ...record, pcrs: { ...record.pcrs } };
  }
}
