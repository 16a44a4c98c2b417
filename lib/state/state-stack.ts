// Everything stateful or identity-bearing, kept apart from the stateless stacks so they can be
// replaced freely: the fixed-name master and worker roles (the cluster-state key policy names the
// master role), the three KMS keys, the index table, the webhook secret and the snapshot bucket.
import { Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { TABLE_INDEXES } from '../../lambdas/shared/index/index-model';
import type { EnvironmentConfig } from '../config/environment-config';
import type { EnclaveArtifacts } from '../shared/enclave-artifacts';
import { names } from '../shared/names';
import { clusterStateKeyId, clusterStateKeyPolicy } from './cluster-state-key-policy';

export interface StateStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly enclave: EnclaveArtifacts;
}

export class StateStack extends Stack {
  public readonly masterRole: iam.Role;
  public readonly workerRole: iam.Role;
  public readonly clusterStateKey: kms.Key;
  public readonly kubeconfigSigningKey: kms.Key;
  public readonly joinTokenKey: kms.Key;
  public readonly table: dynamodb.TableV2;
  public readonly webhookSecret: secretsmanager.Secret;
  public readonly snapshotBucket: s3.Bucket;
  /** Every alarm of the environment notifies this topic; config.alarms.emails are subscribed. */
  public readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: StateStackProps) {
    super(scope, id, props);
    const { config, enclave } = props;
    const retain = config.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // Fixed names: the cluster-state key policy and operators' runbooks refer to them by name.
    this.masterRole = new iam.Role(this, 'MasterRole', {
      roleName: names.masterRole(config),
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'K3s-DaaS master hosts and, through vsock-proxy, their enclaves',
    });
    this.workerRole = new iam.Role(this, 'WorkerRole', {
      roleName: names.workerRole(config),
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'K3s-DaaS workers: may only call POST /v1/nodes/join',
    });

    // Its policy can never change (cluster-state-key-policy.ts): a new release or upgrade source is a
    // new key, and the old one is always retained, since the running enclave still unseals with it until
    // it has re-sealed to the new key (docs/enclave.md, "Upgrading the enclave image").
    const keyPolicyInputs = { pcrs: enclave.pcrs, previousPcrs: config.previousEnclavePcrs };
    this.clusterStateKey = new kms.Key(this, clusterStateKeyId(keyPolicyInputs), {
      description: `K3s-DaaS ${config.name} cluster state: decrypts only inside the measured enclave`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: clusterStateKeyPolicy({ masterRoleArn: this.masterRole.roleArn, ...keyPolicyInputs }),
    });
    // The policy denies kms:PutKeyPolicy to everyone, deploying principal included: KMS's lockout check
    // would refuse to create such a key, and that refusal is exactly the guarantee we want.
    (this.clusterStateKey.node.defaultChild as kms.CfnKey).bypassPolicyLockoutSafetyCheck = true;
    this.kubeconfigSigningKey = new kms.Key(this, 'KubeconfigSigningKey', {
      description: `K3s-DaaS ${config.name} kubeconfig signatures (ECDSA P-256)`,
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      removalPolicy: retain,
    });
    this.joinTokenKey = new kms.Key(this, 'JoinTokenKey', {
      description: `K3s-DaaS ${config.name} worker join token at rest`,
      enableKeyRotation: true,
      removalPolicy: retain,
    });

    this.table = new dynamodb.TableV2(this, 'IndexTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: config.production,
      removalPolicy: retain,
      globalSecondaryIndexes: [
        { indexName: TABLE_INDEXES.byOwner, partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING }, sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING } },
        { indexName: TABLE_INDEXES.byStake, partitionKey: { name: 'gsi2pk', type: dynamodb.AttributeType.STRING }, sortKey: { name: 'pk', type: dynamodb.AttributeType.STRING } },
      ],
    });

    this.webhookSecret = new secretsmanager.Secret(this, 'WebhookSecret', {
      description: 'Bearer secret kube-apiserver sends to POST /v1/authenticate',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: retain,
    });
    Validations.of(this.webhookSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotated on demand, not on a schedule: kube-apiserver reads the value only when the enclave starts, so each rotation is a master replacement. '
        + 'docs/deploy.md "Rotating the webhook secret": put-secret-value with a fresh random value, then an instance refresh of the masters, '
        + 'whose host agent reads the new AWSCURRENT at boot and hands it to the enclave; the authenticate function re-reads it within 5 minutes.',
    });

    // Here rather than in the monitoring stack so every later stack can wire its alarms to it.
    // CloudWatch cannot publish to a topic under the AWS-managed SNS key, so it has its own key that
    // admits CloudWatch.
    const alarmTopicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: `K3s-DaaS ${config.name} alarm notifications`,
      enableKeyRotation: true,
      removalPolicy: retain,
    });
    alarmTopicKey.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
    }));
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `K3s-DaaS ${config.name} alarms`,
      masterKey: alarmTopicKey,
      enforceSSL: true,
    });
    for (const email of config.alarms.emails) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(email));

    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: retain,
      autoDeleteObjects: false,
      lifecycleRules: [{ expiration: Duration.days(config.logRetentionDays) }],
    });
    Validations.of(accessLogs).acknowledge({ id: 'AwsSolutions-S1', reason: 'This is the access-log bucket itself.' });

    // Snapshots are encrypted inside the enclave before they reach the host; the bucket adds
    // versioning so an untrusted host cannot silently destroy history.
    this.snapshotBucket = new s3.Bucket(this, 'SnapshotBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'snapshots/',
      removalPolicy: retain,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
    });
  }
}
