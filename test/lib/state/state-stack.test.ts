import { describe, expect, it } from '@jest/globals';
import { Match } from 'aws-cdk-lib/assertions';
import * as fs from 'node:fs';
import { parsePcrFile } from '../../../lambdas/shared/attestation/pcrs';
import { FIXTURE_PCRS, synthPlatform } from '../../support/cdk-app';

type Statement = { Sid?: string; Effect: 'Allow' | 'Deny'; Principal: unknown; Action: string | string[]; Condition?: Record<string, Record<string, string>> };

const pcrs = parsePcrFile(fs.readFileSync(FIXTURE_PCRS, 'utf8'));
const DECRYPTING = /^kms:(\*|Decrypt|GenerateDataKey.*|ReEncrypt.*|\*.*)$/;

function clusterStateKeyStatements(withBuild: boolean): Statement[] {
  const template = synthPlatform({ env: 'dev', withBuild }).template('state');
  const keys = template.findResources('AWS::KMS::Key', { Properties: { Description: Match.stringLikeRegexp('cluster state') } });
  expect(Object.keys(keys)).toHaveLength(1);
  return (Object.values(keys)[0] as { Properties: { KeyPolicy: { Statement: Statement[] } } }).Properties.KeyPolicy.Statement;
}

function actions(s: Statement): string[] {
  return Array.isArray(s.Action) ? s.Action : [s.Action];
}

function allowsDecryption(s: Statement): boolean {
  return s.Effect === 'Allow' && actions(s).some((a) => DECRYPTING.test(a) || a === 'kms:*' || a === 'kms:Create*' || a === 'kms:CreateGrant');
}

describe('cluster-state key policy (DESIGN §3)', () => {
  const statements = clusterStateKeyStatements(true);

  it('lets the master role unseal only with ImageSha384, PCR1 and PCR2 equal to pcrs.json', () => {
    const unseal = statements.filter(allowsDecryption);
    expect(unseal).toHaveLength(1);
    expect(unseal[0].Principal).toEqual({ AWS: { 'Fn::GetAtt': [expect.stringMatching(/^MasterRole/), 'Arn'] } });
    expect(unseal[0].Condition).toEqual({
      StringEqualsIgnoreCase: {
        'kms:RecipientAttestation:ImageSha384': pcrs.PCR0,
        'kms:RecipientAttestation:PCR1': pcrs.PCR1,
        'kms:RecipientAttestation:PCR2': pcrs.PCR2,
      },
    });
  });

  it('has no statement, root included, that allows decryption, kms:* or grants without the PCR condition', () => {
    for (const s of statements) {
      if (s.Effect !== 'Allow') continue;
      const a = actions(s);
      expect(a).not.toContain('kms:*');
      expect(a).not.toContain('kms:CreateGrant');
      expect(a.filter((x) => x.startsWith('kms:Create'))).toEqual([]);
      if (a.some((x) => DECRYPTING.test(x))) expect(s.Condition?.StringEqualsIgnoreCase).toBeDefined();
    }
  });

  it('denies every principal whose request lacks any one measurement (one deny per PCR)', () => {
    const denies = statements.filter((s) => s.Effect === 'Deny');
    const keys = denies.map((s) => Object.keys(s.Condition?.StringNotEqualsIgnoreCase ?? {}));
    expect(keys).toEqual([['kms:RecipientAttestation:ImageSha384'], ['kms:RecipientAttestation:PCR1'], ['kms:RecipientAttestation:PCR2']]);
    for (const d of denies) {
      expect(d.Principal).toEqual({ AWS: '*' });
      expect(actions(d)).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom']));
    }
  });

  it('adds PCR8 to every condition when the image is signed', async () => {
    const { clusterStateKeyPolicy } = await import('../../../lib/state/cluster-state-key-policy');
    const pcr8 = 'ab'.repeat(48);
    const doc = clusterStateKeyPolicy({ accountId: '111111111111', masterRoleArn: 'arn:aws:iam::111111111111:role/m', pcrs: { ...pcrs, PCR8: pcr8 } }).toJSON();
    const json = JSON.stringify(doc);
    expect(json).toContain(`"kms:RecipientAttestation:PCR8":"${pcr8}"`);
    expect(doc.Statement.filter((s: Statement) => s.Effect === 'Deny')).toHaveLength(4);
  });

  it('without an enclave build (dev) decrypts for nobody', () => {
    const failClosed = clusterStateKeyStatements(false);
    expect(failClosed.filter(allowsDecryption)).toEqual([]);
    const deny = failClosed.find((s) => s.Effect === 'Deny');
    expect(deny).toMatchObject({ Principal: { AWS: '*' } });
    expect(deny?.Condition).toBeUndefined();
    expect(actions(deny!)).toContain('kms:Decrypt');
  });
});

describe('other state', () => {
  const platform = synthPlatform({ env: 'dev' });
  const template = platform.template('state');

  it('keeps a signing key (ECC P-256, SIGN_VERIFY) apart from a symmetric join-token key, both rotated or asymmetric', () => {
    template.hasResourceProperties('AWS::KMS::Key', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    template.hasResourceProperties('AWS::KMS::Key', { Description: Match.stringLikeRegexp('join token'), EnableKeyRotation: true });
    template.hasResourceProperties('AWS::KMS::Key', { Description: Match.stringLikeRegexp('alarm notifications'), EnableKeyRotation: true });
    // Cluster state, kubeconfig signing, join token, and the alarm topic's key (monitoring).
    template.resourceCountIs('AWS::KMS::Key', 4);
  });

  it('has the index table with point-in-time recovery and both GSIs', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'gsi1' }), Match.objectLike({ IndexName: 'gsi2' })],
    });
  });

  it('has fixed-name master and worker roles assumable by EC2 only', () => {
    for (const name of ['k3s-daas-dev-master', 'k3s-daas-dev-worker']) {
      template.hasResourceProperties('AWS::IAM::Role', {
        RoleName: name,
        AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })] },
      });
    }
  });

  it('has a generated webhook bearer secret and a versioned, private, TLS-only snapshot bucket', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: Match.objectLike({ PasswordLength: 48 }) });
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
  });

  it('retains stateful resources in production', () => {
    const prod = synthPlatform({ env: 'prod' }).template('state');
    for (const type of ['AWS::KMS::Key', 'AWS::DynamoDB::GlobalTable', 'AWS::S3::Bucket']) {
      for (const resource of Object.values(prod.findResources(type))) expect((resource as { DeletionPolicy: string }).DeletionPolicy).toBe('Retain');
    }
  });
});
