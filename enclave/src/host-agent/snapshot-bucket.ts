// Ciphertext storage for the enclave in the versioned snapshot bucket. One object key per kind: S3
// versioning keeps every older snapshot, so "newest" is simply the current version and an untrusted
// host that overwrites one cannot destroy history (noncurrent versions expire after the lifecycle rule).
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface CiphertextStore {
  getSnapshot(): Promise<Uint8Array | undefined>;
  putSnapshot(sealed: Uint8Array): Promise<void>;
  getSealedSecrets(): Promise<Uint8Array | undefined>;
  putSealedSecrets(sealed: Uint8Array): Promise<void>;
}

export class SnapshotBucket implements CiphertextStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly clusterId: string,
  ) {}

  private key(kind: 'snapshot' | 'sealed-secrets'): string {
    return kind === 'snapshot' ? `clusters/${this.clusterId}/datastore.snapshot.sealed` : `clusters/${this.clusterId}/cluster-secrets.sealed`;
  }

  private async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body ? await out.Body.transformToByteArray() : undefined;
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  private async put(key: string, body: Uint8Array): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/octet-stream' }));
  }

  getSnapshot = () => this.get(this.key('snapshot'));
  putSnapshot = (sealed: Uint8Array) => this.put(this.key('snapshot'), sealed);
  getSealedSecrets = () => this.get(this.key('sealed-secrets'));
  putSealedSecrets = (sealed: Uint8Array) => this.put(this.key('sealed-secrets'), sealed);
}
