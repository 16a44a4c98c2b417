// Worker join and leave (DESIGN §2 steps 6-7): POST /v1/nodes/join (IAM; the worker role may invoke this
// route and nothing else), the terminating-lifecycle handler behind an EventBridge rule for this
// cluster's worker groups, the master role's right to relay the enclave's bootstrap-token pool, and the
// routes of operators' own machines (issue 15): POST /v1/nodes/external/join and /leave, authenticated by
// a join credential in the body, one function each so each holds only its own grants.
// Worker groups are known here by their fixed names (lib/shared/names.ts): the Api stack must not
// reference the Workers stack, which comes later and uses this API's URL.
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { KEYS } from '../../lambdas/shared/index/index-model';
import { BOOTSTRAP_TOKEN_PURPOSE } from '../../lambdas/shared/nodes/join-token';
import { DEFAULT_JOIN_RATE } from '../../lambdas/shared/nodes/join-rate-limit';
import type { EnvironmentConfig } from '../config/environment-config';
import { names } from '../shared/names';
import type { StateStack } from '../state/state-stack';
import { DomainFunction } from './domain-function';
import { allowReadingPlatformSettings, platformSettingsEnvironment } from './platform-settings-environment';
import { indexFreshnessEnvironment } from './index-freshness';
import type { PlatformApi } from './platform-api';
import { TOKEN_CHECK_LEADING_KEYS } from './token-check-routes';

export interface NodeJoinRoutesProps {
  readonly api: PlatformApi;
  readonly config: EnvironmentConfig;
  readonly state: StateStack;
  /** `https://<nlb dns>:6443`, returned to joining agents. */
  readonly serverUrl: string;
  readonly commonEnvironment: Record<string, string>;
}

export class NodeJoinRoutes extends Construct {
  public readonly joinFunction: DomainFunction;
  public readonly lifecycleFunction: DomainFunction;
  public readonly joinRoute: apigwv2.HttpRoute;
  public readonly lifecycleRule: events.Rule;
  public readonly externalJoinFunction: DomainFunction;
  public readonly externalLeaveFunction: DomainFunction;

  constructor(scope: Construct, id: string, props: NodeJoinRoutesProps) {
    super(scope, id);
    const { api, config, state } = props;
    const stack = Stack.of(this);
    const common = { logRetentionDays: config.logRetentionDays, production: config.production };
    const groupNames = config.workerGroups.map((g) => names.workerGroup(config, g));
    const workerGroups = names.workerGroupsEnv(config);
    // Bootstrap-token pool entries open only with this context (lambdas/shared/nodes/join-token.ts); IAM
    // requires it too. Its other keys (token id, expiry, CA hash) vary per entry and bind its attributes.
    const encryptionContext = {
      'kms:EncryptionContext:cluster': config.sui.clusterId,
      'kms:EncryptionContext:purpose': BOOTSTRAP_TOKEN_PURPOSE,
    };

    this.joinFunction = new DomainFunction(this, 'NodeJoin', {
      ...common,
      handlerName: 'node-join',
      description: 'POST /v1/nodes/join: admit a worker instance backed by its group\'s node stake',
      environment: {
        ...props.commonEnvironment,
        // The join route serves only a cluster attested with the platform's own boot settings.
        ...platformSettingsEnvironment({ state, apiUrl: api.url, serverUrl: props.serverUrl }),
        JOIN_TOKEN_KEY_ARN: state.joinTokenKey.keyArn,
        WORKER_ROLE_NAME: names.workerRole(config),
        WORKER_GROUPS: workerGroups,
        ...indexFreshnessEnvironment(config),
      },
    });
    this.lifecycleFunction = new DomainFunction(this, 'NodeLifecycle', {
      ...common,
      handlerName: 'node-lifecycle',
      description: 'Worker scale-in: mark the node gone, complete the terminating lifecycle action once',
      environment: {
        ...props.commonEnvironment,
        WORKER_GROUPS: workerGroups,
        LIFECYCLE_HOOK_NAME: names.workerLifecycleHook(),
      },
    });

    // Table access: only the items each function touches, by partition key.
    // The stake record is read-only to both: only the joined-node counter (its own partition) is written.
    const node = KEYS.node('*').pk;
    const stake = KEYS.stake('*').pk;
    const nodeCount = KEYS.stakeNodeCount('*').pk;
    const pool = KEYS.bootstrapPool().pk;
    const claim = KEYS.bootstrapClaim('*').pk;
    // The join reads the attestation and its own node record (a retry whose answer was lost), lists the
    // bootstrap-token pool and takes one entry out of it, recording the claim in a partition only it may write.
    this.joinFunction.addToRolePolicy(tableItems(['dynamodb:GetItem'], state, [KEYS.attestation().pk, node]));
    // The stake, the node minimum (the POOL item, read-only here) and the indexer's cursor (freshness), in one BatchGetItem.
    this.joinFunction.addToRolePolicy(tableItems(['dynamodb:BatchGetItem'], state, [stake, KEYS.minStake('node').pk, KEYS.cursor().pk]));
    this.joinFunction.addToRolePolicy(tableItems(['dynamodb:PutItem'], state, [node, claim]));
    this.joinFunction.addToRolePolicy(tableItems(['dynamodb:UpdateItem'], state, [nodeCount]));
    this.joinFunction.addToRolePolicy(tableItems(['dynamodb:Query', 'dynamodb:DeleteItem'], state, [pool]));
    this.lifecycleFunction.addToRolePolicy(tableItems(['dynamodb:GetItem'], state, [node]));
    this.lifecycleFunction.addToRolePolicy(tableItems(['dynamodb:PutItem'], state, [node, KEYS.lifecycleAction('*').pk]));
    this.lifecycleFunction.addToRolePolicy(tableItems(['dynamodb:UpdateItem'], state, [node, nodeCount]));
    this.lifecycleFunction.addToRolePolicy(tableItems(['dynamodb:DeleteItem'], state, [KEYS.lifecycleAction('*').pk]));

    allowReadingPlatformSettings(this.joinFunction, state);
    this.joinFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [state.joinTokenKey.keyArn], conditions: { StringEquals: encryptionContext } }),
    );
    // The group's view of the caller (membership, lifecycle state, health) is the whole running check:
    // no EC2 grant. This read-only describe call has no resource-level permissions (AWS service
    // authorization reference), so it needs Resource "*"; it reveals no secrets.
    this.joinFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['autoscaling:DescribeAutoScalingInstances'], resources: ['*'] }),
    );
    Validations.of(this.joinFunction).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'autoscaling:DescribeAutoScalingInstances only accepts Resource "*".',
    });
    // Auto Scaling group ARNs hold a generated UUID before the fixed name; the UUID is the only wildcard.
    const groupArns = groupNames.map(
      (name) => `arn:${stack.partition}:autoscaling:${stack.region}:${stack.account}:autoScalingGroup:*:autoScalingGroupName/${name}`,
    );
    this.lifecycleFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['autoscaling:CompleteLifecycleAction'], resources: groupArns }));
    for (const arn of groupArns) {
      Validations.of(this.lifecycleFunction).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${arn}]`,
        reason: 'The * is the group\'s generated UUID, unknown before the group exists; the fixed group name after it limits the grant to this cluster\'s worker group.',
      });
    }

    this.externalJoinFunction = new DomainFunction(this, 'NodeExternalJoin', {
      ...common,
      handlerName: 'node-external-join',
      description: 'POST /v1/nodes/external/join: admit an operator\'s own machine under its node stake',
      environment: {
        ...props.commonEnvironment,
        ...platformSettingsEnvironment({ state, apiUrl: api.url, serverUrl: props.serverUrl }),
        JOIN_TOKEN_KEY_ARN: state.joinTokenKey.keyArn,
        ATTESTATION_MAX_AGE_SECONDS: String(config.attestationMaxAgeMinutes * 60),
        JOIN_RATE_LIMIT: String(DEFAULT_JOIN_RATE.limit),
        JOIN_RATE_WINDOW_SECONDS: String(DEFAULT_JOIN_RATE.windowMs / 1000),
        ...indexFreshnessEnvironment(config),
      },
    });
    this.externalLeaveFunction = new DomainFunction(this, 'NodeExternalLeave', {
      ...common,
      handlerName: 'node-external-leave',
      description: 'POST /v1/nodes/external/leave: mark an operator\'s node gone and give its slot back',
      environment: { ...props.commonEnvironment, ...indexFreshnessEnvironment(config) },
    });
    const joinRate = KEYS.joinRate('*').pk;
    // Both check the join credential like every token check: BatchGetItem of the token, stake, pool
    // minimum, admin and cursor items.
    for (const fn of [this.externalJoinFunction, this.externalLeaveFunction]) {
      fn.addToRolePolicy(tableItems(['dynamodb:BatchGetItem'], state, TOKEN_CHECK_LEADING_KEYS));
    }
    // The external join is the ASG join's admission without EC2 and Auto Scaling, plus its rate item.
    this.externalJoinFunction.addToRolePolicy(tableItems(['dynamodb:GetItem'], state, [KEYS.attestation().pk, node, joinRate]));
    this.externalJoinFunction.addToRolePolicy(tableItems(['dynamodb:PutItem'], state, [node, claim, joinRate]));
    this.externalJoinFunction.addToRolePolicy(tableItems(['dynamodb:UpdateItem'], state, [nodeCount]));
    this.externalJoinFunction.addToRolePolicy(tableItems(['dynamodb:Query', 'dynamodb:DeleteItem'], state, [pool]));
    allowReadingPlatformSettings(this.externalJoinFunction, state);
    this.externalJoinFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [state.joinTokenKey.keyArn], conditions: { StringEquals: encryptionContext } }),
    );
    // Leaving reads the node and flips it to gone with its stake's counter, in one transaction.
    this.externalLeaveFunction.addToRolePolicy(tableItems(['dynamodb:GetItem'], state, [node]));
    this.externalLeaveFunction.addToRolePolicy(tableItems(['dynamodb:UpdateItem'], state, [node, nodeCount]));

    this.joinRoute = api.addRoute({ method: apigwv2.HttpMethod.POST, path: '/v1/nodes/join', handler: this.joinFunction, authorization: 'iam' });
    api.allowInvoke('WorkerMayJoin', state.workerRole, [this.joinRoute]);
    api.addRoute({
      method: apigwv2.HttpMethod.POST,
      path: '/v1/nodes/external/join',
      handler: this.externalJoinFunction,
      authorization: 'none',
      publicBecause:
        'An operator\'s own machine has no AWS identity: the Sui-signed join credential in the body (aud k3s-daas-join:<cluster>) of a node-tier seal token is the authentication (docs/workers.md).',
    });
    api.addRoute({
      method: apigwv2.HttpMethod.POST,
      path: '/v1/nodes/external/leave',
      handler: this.externalLeaveFunction,
      authorization: 'none',
      publicBecause: 'The Sui-signed join credential in the body, of a token of the node\'s own stake, is the authentication (docs/workers.md).',
    });

    this.lifecycleRule = new events.Rule(this, 'WorkerTerminating', {
      description: 'Terminating lifecycle actions of this cluster\'s worker groups',
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: groupNames, LifecycleHookName: [names.workerLifecycleHook()] },
      },
    });
    // Retries are safe: the handler claims each action before completing it.
    this.lifecycleRule.addTarget(new targets.LambdaFunction(this.lifecycleFunction, { retryAttempts: 8, maxEventAge: Duration.hours(1) }));

    // The enclave encrypts pool entries with the master role's credentials (Encrypt under the join key
    // with the bootstrap context only; no Decrypt, so the host never reads a token), and the host relays
    // the pool: put, list and retire entries of that one partition. Claims are out of its reach.
    new iam.Policy(this, 'MasterMayRelayBootstrapTokens', {
      roles: [state.masterRole],
      statements: [
        new iam.PolicyStatement({ actions: ['kms:Encrypt'], resources: [state.joinTokenKey.keyArn], conditions: { StringEquals: encryptionContext } }),
        tableItems(['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:DeleteItem'], state, [pool]),
      ],
    });
  }
}

function tableItems(actions: string[], state: StateStack, partitionKeys: string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions,
    resources: [state.table.tableArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': partitionKeys } },
  });
}
