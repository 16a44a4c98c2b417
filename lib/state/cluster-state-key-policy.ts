// The key policy of the cluster-state key (DESIGN §3). Built statement by statement instead of using
// CDK's default policy, which grants the account root `kms:*` and with it decryption without any PCR.
//
// The policy can never be changed, by anyone (account root included), so nobody can swap it for one
// that decrypts without attestation:
// - Administration for the account root is an explicit list of actions that neither decrypt nor change
//   who may decrypt: no `kms:PutKeyPolicy`, no `kms:CreateGrant` (a grant could hand out Decrypt
//   without the attestation condition), no wildcard that a future KMS action could fall under.
// - An explicit deny of `kms:PutKeyPolicy` and `kms:CreateGrant` to every principal, unconditional.
// - Decrypt / GenerateDataKey for the master role only with the recipient attestation equal to
//   `enclave/pcrs.json` (ImageSha384 = PCR0, PCR1, PCR2, and PCR8 when the image is signed).
// - Optionally, during an upgrade, GenerateDataKey (never Decrypt) for the master role with the previous
//   release's measurements: the old enclave re-seals the cluster secrets to this key; it can never read
//   what the new enclave seals.
// - Explicit denies for every principal whose request lacks any one of those values, so nothing
//   added later (IAM policies) can decrypt outside a measured enclave.
// - Without a PCR file (dev only): one unconditional deny; nobody can decrypt.
//
// KMS refuses to create a key whose policy would not let the creating principal change the policy again
// (the "lockout safety check") unless `BypassPolicyLockoutSafetyCheck` is set. The lock-out is the point
// here, so the stack sets it (state-stack.ts), and since a policy can never be updated, a different
// policy is a different key: `clusterStateKeyId` names the key after everything its policy depends on.
import { createHash } from 'node:crypto';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { PcrFile } from '../../lambdas/shared/attestation/pcrs';

export const CRYPTO_ACTIONS_REQUIRING_ATTESTATION = ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'];

/** Actions that would let someone change who may decrypt: denied to everyone, for good. */
export const POLICY_CHANGING_ACTIONS = ['kms:PutKeyPolicy', 'kms:CreateGrant'];

/**
 * What the account root may do: look, tag, rotate, disable and schedule deletion. Deletion destroys the
 * sealed state but reveals nothing; disabling likewise. Listed one by one on purpose (no wildcards).
 */
export const ADMIN_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:RotateKeyOnDemand',
  'kms:UpdateKeyDescription',
  'kms:RevokeGrant',
  'kms:RetireGrant',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
];

/** The measurements a key policy pins: the PCR file's values without the file's other fields. */
export type ReleaseMeasurements = Pick<PcrFile, 'PCR0' | 'PCR1' | 'PCR2' | 'PCR8'>;

/** Condition keys → expected lowercase hex, from the PCR file. */
export function attestationConditions(pcrs: ReleaseMeasurements): Record<string, string> {
  return {
    'kms:RecipientAttestation:ImageSha384': pcrs.PCR0,
    'kms:RecipientAttestation:PCR1': pcrs.PCR1,
    'kms:RecipientAttestation:PCR2': pcrs.PCR2,
    ...(pcrs.PCR8 ? { 'kms:RecipientAttestation:PCR8': pcrs.PCR8 } : {}),
  };
}

export interface ClusterStateKeyPolicyOptions {
  masterRoleArn: string;
  /** The release this key serves; without it nobody can decrypt. */
  pcrs?: ReleaseMeasurements;
  /** The release being upgraded from: its enclave may seal to this key (GenerateDataKey), never unseal. */
  previousPcrs?: ReleaseMeasurements;
}

/**
 * Construct id of the key for these policy inputs (the master role is fixed per environment). Any
 * change of release or upgrade source gives a new key; the old key keeps its policy and its data.
 */
export function clusterStateKeyId(opts: Pick<ClusterStateKeyPolicyOptions, 'pcrs' | 'previousPcrs'>): string {
  const pick = (p?: ReleaseMeasurements) => p && { PCR0: p.PCR0, PCR1: p.PCR1, PCR2: p.PCR2, PCR8: p.PCR8 ?? null };
  const digest = createHash('sha256').update(JSON.stringify({ current: pick(opts.pcrs) ?? null, previous: pick(opts.previousPcrs) ?? null })).digest('hex');
  return `ClusterStateKey${digest.slice(0, 16)}`;
}

export function clusterStateKeyPolicy(opts: ClusterStateKeyPolicyOptions): iam.PolicyDocument {
  const root = new iam.AccountRootPrincipal();
  const master = new iam.ArnPrincipal(opts.masterRoleArn);
  const statements = [
    new iam.PolicyStatement({ sid: 'KeyAdministrationWithoutCryptography', principals: [root], actions: ADMIN_ACTIONS, resources: ['*'] }),
    new iam.PolicyStatement({
      sid: 'NobodyMayChangeWhoDecrypts',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: POLICY_CHANGING_ACTIONS,
      resources: ['*'],
    }),
  ];
  if (opts.pcrs) {
    const conditions = attestationConditions(opts.pcrs);
    statements.push(
      new iam.PolicyStatement({
        sid: 'MeasuredEnclaveMayUnseal',
        principals: [master],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEqualsIgnoreCase: conditions },
      }),
    );
    const previous = opts.previousPcrs && attestationConditions(opts.previousPcrs);
    if (previous) {
      if (Object.keys(previous).join() !== Object.keys(conditions).join()) {
        throw new Error('the previous and the current enclave release must both be signed (PCR8) or both unsigned');
      }
      statements.push(
        new iam.PolicyStatement({
          sid: 'PreviousEnclaveMayResealHere',
          principals: [master],
          actions: ['kms:GenerateDataKey'],
          resources: ['*'],
          conditions: { StringEqualsIgnoreCase: previous },
        }),
      );
    }
    // One deny per measurement: a deny's condition keys are ANDed, so a single statement would let a
    // request through that matches any one value. GenerateDataKey also admits the previous release's
    // value (the allow statements above still require one release's whole set).
    for (const [key, value] of Object.entries(conditions)) {
      const name = key.split(':').pop();
      if (previous && previous[key] !== value) {
        statements.push(
          denyUnless(`DenyUnsealUnless${name}`, CRYPTO_ACTIONS_REQUIRING_ATTESTATION.filter((a) => a !== 'kms:GenerateDataKey'), key, value),
          denyUnless(`DenySealUnless${name}`, ['kms:GenerateDataKey'], key, [value, previous[key]]),
        );
      } else {
        statements.push(denyUnless(`DenyUnless${name}`, CRYPTO_ACTIONS_REQUIRING_ATTESTATION, key, value));
      }
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

function denyUnless(sid: string, actions: string[], key: string, value: string | string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions,
    resources: ['*'],
    conditions: { StringNotEqualsIgnoreCase: { [key]: value } },
  });
}
