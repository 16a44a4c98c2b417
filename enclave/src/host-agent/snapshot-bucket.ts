// Ciphertext storage for the enclave in the versioned snapshot bucket. One object key per kind: S3
// versioning keeps every older snapshot, so "newest" is simply the current version and an untrusted
// host that overwrites one cannot destroy history (noncurrent versions expire after the lifecycle rule).
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ciphertextObjectKeys } from '../common/host-protocol';

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

  private get keys() {
    return ciphertextObjectKeys(this.clusterId);
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

  getSnapshot = () => this.get(this.keys.snapshot);
  putSnapshot = (sealed: Uint8Array) => this.put(this.keys.snapshot, sealed);
  getSealedSecrets = () => this.get(this.keys.sealedSecrets);
  putSealedSecrets = (sealed: Uint8Array) => this.put(this.keys.sealedSecrets, sealed);
}
