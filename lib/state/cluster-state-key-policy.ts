// The key policy of the cluster-state key (DESIGN §3). Built statement by statement instead of using
// CDK's default policy, which grants the account root `kms:*` and with it decryption without any PCR.
//
// - Administration for the account root, without any cryptographic operation and without
//   `kms:CreateGrant` (a grant could hand out Decrypt without the attestation condition).
// - Decrypt / GenerateDataKey* for the master role only with the recipient attestation equal to
//   `enclave/pcrs.json` (ImageSha384 = PCR0, PCR1, PCR2, and PCR8 when the image is signed).
// - Explicit denies for every principal whose request lacks any one of those values, so nothing
//   added later (grants, IAM policies) can decrypt outside the measured enclave.
// - Without a PCR file (dev only): one unconditional deny; nobody can decrypt.
import * as iam from 'aws-cdk-lib/aws-iam';
import type { PcrFile } from '../../lambdas/shared/attestation/pcrs';

export const CRYPTO_ACTIONS_REQUIRING_ATTESTATION = ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'];

const ADMIN_ACTIONS = [
  'kms:Describe*',
  'kms:List*',
  'kms:Get*',
  'kms:Enable*',
  'kms:Disable*',
  'kms:Put*',
  'kms:Update*',
  'kms:Revoke*',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
];

/** Condition keys → expected lowercase hex, from the PCR file. */
export function attestationConditions(pcrs: PcrFile): Record<string, string> {
  return {
    'kms:RecipientAttestation:ImageSha384': pcrs.PCR0,
    'kms:RecipientAttestation:PCR1': pcrs.PCR1,
    'kms:RecipientAttestation:PCR2': pcrs.PCR2,
    ...(pcrs.PCR8 ? { 'kms:RecipientAttestation:PCR8': pcrs.PCR8 } : {}),
  };
}

export function clusterStateKeyPolicy(opts: { accountId: string; masterRoleArn: string; pcrs?: PcrFile }): iam.PolicyDocument {
  const root = new iam.AccountRootPrincipal();
  const statements = [
    new iam.PolicyStatement({ sid: 'KeyAdministrationWithoutCryptography', principals: [root], actions: ADMIN_ACTIONS, resources: ['*'] }),
  ];
  if (opts.pcrs) {
    const conditions = attestationConditions(opts.pcrs);
    statements.push(
      new iam.PolicyStatement({
        sid: 'MeasuredEnclaveMayUnseal',
        principals: [new iam.ArnPrincipal(opts.masterRoleArn)],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEqualsIgnoreCase: conditions },
      }),
    );
    // One deny per measurement: a deny's condition keys are ANDed, so a single statement would let a
    // request through that matches any one value.
    for (const [key, value] of Object.entries(conditions)) {
      statements.push(
        new iam.PolicyStatement({
          sid: `DenyUnless${key.split(':').pop()}`,
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: CRYPTO_ACTIONS_REQUIRING_ATTESTATION,
          resources: ['*'],
          conditions: { StringNotEqualsIgnoreCase: { [key]: value } },
        }),
      );
    }
  } else {
    statements.push(
      new iam.PolicyStatement({
        sid: 'DenyAllDecryptionWithoutEnclaveBuild',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: CRYPTO_ACTIONS_REQUIRING_ATTESTATION,
        resources: ['*'],
      }),
    );
  }
  return new iam.PolicyDocument({ statements });
}
