// The latest verified attestation (DESIGN §2 step 5), one item at `KEYS.attestation()` in the index
// table. Writes only move forward in NSM time, so a delayed post of an older document never replaces
// a newer one. Failures to reach the table surface as `IndexUnavailableError` (fail closed).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { IndexUnavailableError, KEYS, type AttestationRecord } from '../index-model';

export interface AttestationRecordStore {
  getLatest(): Promise<AttestationRecord | undefined>;
  /** Stores `record` unless a record with a later document timestamp is already there. */
  putLatest(record: AttestationRecord): Promise<void>;
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
          ConditionExpression: 'attribute_not_exists(pk) OR timestampMs <= :ts',
          ExpressionAttributeValues: { ':ts': Date.parse(record.timestamp) },
        }),
      );
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return;
      throw new IndexUnavailableError('attestation record could not be written', { cause: error });
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
    if (this.record && Date.parse(this.record.timestamp) > Date.parse(record.timestamp)) return;
    this.record = { ...record, pcrs: { ...record.pcrs } };
  }
}
