// Fixtures for the worker join/leave tests: the index table in moto, a moto launch template + ASG per
// worker group, and a local stand-in for KMS that enforces key and encryption context like KMS does.
import { AutoScalingClient, CreateAutoScalingGroupCommand, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateLaunchTemplateCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import * as crypto from 'node:crypto';
import { KEYS, TABLE_INDEXES, type StakeStatus } from '../../lambdas/shared/index/index-model';
import { bootstrapTokenEncryptionContext, caPemSha256, type BootstrapPoolEntry, type JoinTokenCipher } from '../../lambdas/shared/nodes/join-token';
import type { NodeRegistry } from '../../lambdas/shared/nodes/node-registry';

export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export function clients(endpoint: string) {
  const opts = { endpoint, region: REGION, credentials };
  return { db: new DynamoDBClient(opts), ec2: new EC2Client(opts), autoScaling: new AutoScalingClient(opts) };
}

export async function createIndexTable(db: DynamoDBClient, tableName: string): Promise<void> {
  await db.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gsi2pk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: TABLE_INDEXES.byStake,
          KeySchema: [
            { AttributeName: 'gsi2pk', KeyType: 'HASH' },
            { AttributeName: 'pk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
}

/** A stake as the indexer records it (`stakeToItem` in index-repository-dynamodb.ts: amount as a decimal string). */
export async function putStake(db: DynamoDBClient, tableName: string, stakeId: string, amountMist: bigint, status: StakeStatus, role = 'node') {
  await db.send(
    new PutItemCommand({
      TableName: tableName,
      Item: {
        pk: { S: KEYS.stake(stakeId).pk },
        sk: { S: KEYS.stake(stakeId).sk },
        stakeId: { S: stakeId },
        owner: { S: '0x' + 'ab'.repeat(32) },
        role: { S: role },
        amountMist: { S: amountMist.toString() },
        status: { S: status },
        nodeId: { S: 'operator-node' },
        lastEvent: { M: { checkpoint: { S: '1' }, txOrdinal: { N: '0' }, eventIndex: { N: '0' }, txDigest: { S: 'fixture' } } },
      },
    }),
  );
}

/** Creates a moto ASG of `size` instances from a fresh launch template; returns their instance ids. */
export async function createWorkerGroup(ec2: EC2Client, autoScaling: AutoScalingClient, name: string, size: number): Promise<string[]> {
  const { Images = [] } = await ec2.send(new DescribeImagesCommand({}));
  const imageId = Images[0]?.ImageId;
  if (!imageId) throw new Error('moto offers no AMI');
  await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: `${name}-lt`, LaunchTemplateData: { ImageId: imageId, InstanceType: 't3.micro' } }));
  await autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      LaunchTemplate: { LaunchTemplateName: `${name}-lt`, Version: '$Latest' },
      MinSize: 0,
      MaxSize: size,
      DesiredCapacity: size,
      AvailabilityZones: [`${REGION}a`],
    }),
  );
  const { AutoScalingGroups = [] } = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  return (AutoScalingGroups[0]?.Instances ?? []).map((i) => i.InstanceId!);
}

/**
 * KMS stand-in: AES-256-GCM with the encryption context as additional authenticated data, so a
 * ciphertext opens only under the same key and exactly the same context; failures carry KMS's error name.
 */
export class FakeKmsCipher implements JoinTokenCipher {
  private readonly key = crypto.randomBytes(32);
  decrypts = 0;

  private static aad(context: Record<string, string>): Buffer {
    return Buffer.from(JSON.stringify(Object.entries(context).sort(([a], [b]) => a.localeCompare(b))));
  }

  async encrypt(plaintext: string, context: Record<string, string>): Promise<Uint8Array> {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv).setAAD(FakeKmsCipher.aad(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  async decrypt(ciphertext: Uint8Array, context: Record<string, string>): Promise<string> {
    this.decrypts += 1;
    const bytes = Buffer.from(ciphertext);
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, 12)).setAAD(FakeKmsCipher.aad(context));
      decipher.setAuthTag(bytes.subarray(12, 28));
      return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw Object.assign(new Error('The ciphertext refers to a customer master key that does not exist or is not valid'), {
        name: 'InvalidCiphertextException',
      });
    }
  }
}

let minted = 0;

/** A fresh bootstrap token id and secret (distinct per call, in the Kubernetes format). */
export function tokenParts(): { tokenId: string; secret: string } {
  minted += 1;
  const n = minted.toString(36).padStart(4, '0');
  return { tokenId: `t${n}z`.slice(0, 6).padEnd(6, 'q'), secret: `s${n}`.padEnd(16, 'x') };
}

/**
 * A pool entry as the enclave mints it (bootstrap-tokens.ts): the secret encrypted under `cipher` with the
 * binding as context, stored through the registry the way the host agent does.
 */
export async function mintPoolEntry(
  cipher: JoinTokenCipher,
  registry: NodeRegistry,
  opts: { clusterId: string; caPem: string; expiresAt: string; contextCluster?: string },
): Promise<{ entry: BootstrapPoolEntry; secret: string }> {
  const { tokenId, secret } = tokenParts();
  const caSha256 = caPemSha256(opts.caPem);
  const context = bootstrapTokenEncryptionContext({ clusterId: opts.contextCluster ?? opts.clusterId, tokenId, expiresAt: opts.expiresAt, caSha256 });
  const entry = { tokenId, expiresAt: opts.expiresAt, caSha256, ciphertext: Buffer.from(await cipher.encrypt(secret, context)).toString('base64') };
  await registry.putBootstrapPoolEntry(entry, new Date());
  return { entry, secret };
}

/** A pool entry whose ciphertext is never opened (registry-level tests). */
export async function opaquePoolEntry(registry: NodeRegistry): Promise<BootstrapPoolEntry> {
  const { tokenId } = tokenParts();
  const entry = { tokenId, expiresAt: '2099-01-01T00:00:00.000Z', caSha256: 'a'.repeat(64), ciphertext: 'AAAA' };
  await registry.putBootstrapPoolEntry(entry, new Date());
  return entry;
}
