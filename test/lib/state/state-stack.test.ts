import { describe, expect, it } from '@jest/globals';
import { Match } from 'aws-cdk-lib/assertions';
import * as fs from 'node:fs';
import { parsePcrFile } from '../../../lambdas/shared/attestation/pcrs';
import { FIXTURE_PCRS, synthPlatform } from '../../support/cdk-app';

type Statement = {
  Sid?: string; Effect: 'Allow' | 'Deny'; Principal?: unknown; NotPrincipal?: unknown; Action?: string | string[]; NotAction?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
};

const pcrs = parsePcrFile(fs.readFileSync(FIXTURE_PCRS, 'utf8'));
const ATTESTATION_KEYS = ['kms:RecipientAttestation:ImageSha384', 'kms:RecipientAttestation:PCR1', 'kms:RecipientAttestation:PCR2'];
/** Actions that must never be allowed at all, and actions allowed only with a whole release's measurements. */
const NEVER_ALLOWED = ['kms:PutKeyPolicy', 'kms:CreateGrant', 'kms:Encrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:ImportKeyMaterial'];
const ATTESTED_ONLY = ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext'];

function clusterStateKeys(template: ReturnType<ReturnType<typeof synthPlatform>['template']>) {
  return template.findResources('AWS::KMS::Key', { Properties: { Description: Match.stringLikeRegexp('cluster state') } }) as Record<
    string,
    { DeletionPolicy?: string; Properties: { KeyPolicy: { Statement: Statement[] }; BypassPolicyLockoutSafetyCheck?: boolean } }
  >;
}

function clusterStateKeyStatements(withBuild: boolean): Statement[] {
  const keys = clusterStateKeys(synthPlatform({ env: 'dev', withBuild }).template('state'));
  expect(Object.keys(keys)).toHaveLength(1);
  return Object.values(keys)[0].Properties.KeyPolicy.Statement;
}

const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
/** IAM action matching: `*` and `?` wildcards, case-insensitive. */
const matches = (pattern: string, action: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i').test(action);

/** Whether an Allow statement grants `action` (Action wildcards and NotAction included). */
function allows(s: Statement, action: string): boolean {
  if (s.Effect !== 'Allow') return false;
  if (s.NotAction !== undefined) return !list(s.NotAction).some((p) => matches(p, action));
  return list(s.Action).some((p) => matches(p, action));
}

/** Whether a statement's conditions pin every measurement to one value each (StringEqualsIgnoreCase). */
function pinsAllMeasurements(s: Statement): boolean {
  const keys = Object.keys(s.Condition ?? {});
  const eq = s.Condition?.StringEqualsIgnoreCase ?? {};
  return keys.length === 1 && ATTESTATION_KEYS.every((k) => typeof eq[k] === 'string' && /^[0-9a-f]{96}$/.test(eq[k] as string));
}

/** The attack of issue 12 item 3, checked on any policy: who could decrypt without attestation, or change that. */
function unsafeAllows(statements: Statement[]): string[] {
  const found: string[] = [];
  for (const [i, s] of statements.entries()) {
    if (s.NotPrincipal !== undefined && s.Effect === 'Allow') found.push(`${i}: NotPrincipal allow`);
    for (const a of NEVER_ALLOWED) if (allows(s, a)) found.push(`${s.Sid ?? i}: ${a}`);
    for (const a of ATTESTED_ONLY) if (allows(s, a) && !pinsAllMeasurements(s)) found.push(`${s.Sid ?? i}: ${a} without the PCR condition`);
  }
  return found;
}

describe('cluster-state key policy (DESIGN §3, issue 12 item 3)', () => {
  const statements = clusterStateKeyStatements(true);

  it('no statement, root included, allows PutKeyPolicy, CreateGrant or Decrypt unconditionally', () => {
    expect(unsafeAllows(statements)).toEqual([]);
  });

  it('the check itself catches the policies it must refuse', () => {
    const root = { AWS: 'arn:aws:iam::111111111111:root' };
    expect(unsafeAllows([{ Effect: 'Allow', Principal: root, Action: 'kms:*' }])).not.toEqual([]);
    expect(unsafeAllows([{ Effect: 'Allow', Principal: root, Action: 'kms:Put*' }])).toEqual(['0: kms:PutKeyPolicy']);
    expect(unsafeAllows([{ Effect: 'Allow', Principal: root, Action: ['kms:Create*'] }])).toEqual(['0: kms:CreateGrant']);
    expect(unsafeAllows([{ Effect: 'Allow', Principal: root, NotAction: 'kms:Encrypt' }])).toContain('0: kms:Decrypt without the PCR condition');
    expect(unsafeAllows([{ Effect: 'Allow', Principal: root, Action: 'kms:Decrypt', Condition: { StringEquals: { 'aws:PrincipalAccount': '1' } } }]))
      .toEqual(['0: kms:Decrypt without the PCR condition']);
    expect(unsafeAllows([{ Effect: 'Allow', Principal: root, Action: 'kms:Decrypt', Condition: { StringEqualsIgnoreCase: { [ATTESTATION_KEYS[0]]: pcrs.PCR0 } } }]))
      .toEqual(['0: kms:Decrypt without the PCR condition']);
  });

  it('denies PutKeyPolicy and CreateGrant to every principal, and the key bypasses the lockout check knowingly', () => {
    const keys = clusterStateKeys(synthPlatform({ env: 'dev', withBuild: true }).template('state'));
    const key = Object.values(keys)[0];
    expect(key.Properties.BypassPolicyLockoutSafetyCheck).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
    const lock = statements.find((s) => s.Sid === 'NobodyMayChangeWhoDecrypts');
    expect(lock).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' } });
    expect(lock?.Condition).toBeUndefined();
    expect(list(lock?.Action).sort()).toEqual(['kms:CreateGrant', 'kms:PutKeyPolicy']);
  });

  it('lets the master role unseal only with ImageSha384, PCR1 and PCR2 equal to pcrs.json', () => {
    const unseal = statements.filter((s) => allows(s, 'kms:Decrypt'));
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

  it('denies every principal whose request lacks any one measurement (one deny per PCR)', () => {
    const denies = statements.filter((s) => s.Effect === 'Deny' && s.Condition);
    const keys = denies.map((s) => Object.keys(s.Condition?.StringNotEqualsIgnoreCase ?? {}));
    expect(keys).toEqual([['kms:RecipientAttestation:ImageSha384'], ['kms:RecipientAttestation:PCR1'], ['kms:RecipientAttestation:PCR2']]);
    for (const d of denies) {
      expect(d.Principal).toEqual({ AWS: '*' });
      expect(list(d.Action)).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom']));
    }
  });

  it('adds PCR8 to every condition when the image is signed', async () => {
    const { clusterStateKeyPolicy } = await import('../../../lib/state/cluster-state-key-policy');
    const pcr8 = 'ab'.repeat(48);
    const doc = clusterStateKeyPolicy({ masterRoleArn: 'arn:aws:iam::111111111111:role/m', pcrs: { ...pcrs, PCR8: pcr8 } }).toJSON();
    const json = JSON.stringify(doc);
    expect(json).toContain(`"kms:RecipientAttestation:PCR8":"${pcr8}"`);
    expect(doc.Statement.filter((s: Statement) => s.Effect === 'Deny' && s.Condition)).toHaveLength(4);
    expect(unsafeAllows(doc.Statement)).toEqual([]);
  });

  it('an upgrade lets the previous release seal to the new key (GenerateDataKey), never unseal from it', async () => {
    const { clusterStateKeyPolicy } = await import('../../../lib/state/cluster-state-key-policy');
    const previous = { PCR0: '01'.repeat(48), PCR1: pcrs.PCR1, PCR2: '02'.repeat(48) };
    const doc = clusterStateKeyPolicy({ masterRoleArn: 'arn:aws:iam::111111111111:role/m', pcrs, previousPcrs: previous }).toJSON();
    const all: Statement[] = doc.Statement;
    expect(unsafeAllows(all)).toEqual([]);
    const reseal = all.find((s) => s.Sid === 'PreviousEnclaveMayResealHere')!;
    expect(list(reseal.Action)).toEqual(['kms:GenerateDataKey']);
    expect(reseal.Condition?.StringEqualsIgnoreCase).toEqual({
      'kms:RecipientAttestation:ImageSha384': previous.PCR0, 'kms:RecipientAttestation:PCR1': previous.PCR1, 'kms:RecipientAttestation:PCR2': previous.PCR2,
    });
    // Decrypt is denied unless the value is the new release's; GenerateDataKey admits either release's.
    const decryptDenies = all.filter((s) => s.Effect === 'Deny' && list(s.Action).includes('kms:Decrypt') && s.Condition);
    expect(decryptDenies.map((s) => s.Condition?.StringNotEqualsIgnoreCase)).toEqual([
      { 'kms:RecipientAttestation:ImageSha384': pcrs.PCR0 }, { 'kms:RecipientAttestation:PCR1': pcrs.PCR1 }, { 'kms:RecipientAttestation:PCR2': pcrs.PCR2 },
    ]);
    const sealDeny = all.find((s) => s.Sid === 'DenySealUnlessImageSha384');
    expect(sealDeny?.Condition?.StringNotEqualsIgnoreCase).toEqual({ 'kms:RecipientAttestation:ImageSha384': [pcrs.PCR0, previous.PCR0] });
    expect(() => clusterStateKeyPolicy({ masterRoleArn: 'arn:aws:iam::1:role/m', pcrs, previousPcrs: { ...previous, PCR8: '03'.repeat(48) } })).toThrow(/signed/);
  });

  it('a different release or upgrade source is a different key, never a policy update', async () => {
    const { clusterStateKeyId } = await import('../../../lib/state/cluster-state-key-policy');
    const previous = { PCR0: '01'.repeat(48), PCR1: pcrs.PCR1, PCR2: '02'.repeat(48) };
    const ids = [clusterStateKeyId({}), clusterStateKeyId({ pcrs }), clusterStateKeyId({ pcrs, previousPcrs: previous }), clusterStateKeyId({ pcrs: { ...pcrs, PCR2: '04'.repeat(48) } })];
    expect(new Set(ids).size).toBe(4);
    const sameMeasurementsOtherEif = { ...pcrs, eifSha256: '00'.repeat(32) };
    expect(clusterStateKeyId({ pcrs: sameMeasurementsOtherEif })).toBe(ids[1]);
    const prod = synthPlatform({ env: 'dev', withBuild: true }).template('state');
    expect(Object.keys(clusterStateKeys(prod))[0]).toMatch(new RegExp(`^${ids[1]}`));
  });

  it('without an enclave build (dev) decrypts for nobody', () => {
    const failClosed = clusterStateKeyStatements(false);
    expect(failClosed.filter((s) => allows(s, 'kms:Decrypt'))).toEqual([]);
    expect(unsafeAllows(failClosed)).toEqual([]);
    const deny = failClosed.find((s) => s.Sid === 'DenyAllDecryptionWithoutEnclaveBuild');
    expect(deny).toMatchObject({ Principal: { AWS: '*' } });
    expect(deny?.Condition).toBeUndefined();
    expect(list(deny!.Action)).toContain('kms:Decrypt');
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
