// GET /v1/nodes/roster (issue 15): the nodes the index admits now, read by the in-enclave reconciler with the
// webhook bearer secret (lambdas/node-roster/handler.ts). Read-only: a consistent Scan of the joined node
// records (they have no partition of their own to Query), their stakes, tokens, the node minimum, the
// indexer's cursor and each stake's nodes (named by GSI2) by key.
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { KEYS, TABLE_INDEXES } from '../../lambdas/shared/index/index-model';
import type { EnvironmentConfig } from '../config/environment-config';
import type { StateStack } from '../state/state-stack';
import { DomainFunction } from './domain-function';
import { indexFreshnessEnvironment } from './index-freshness';
import type { PlatformApi } from './platform-api';

export interface NodeRosterRoutesProps {
  readonly api: PlatformApi;
  readonly config: EnvironmentConfig;
  readonly state: StateStack;
}

export class NodeRosterRoutes extends Construct {
  public readonly rosterFunction: DomainFunction;
  public readonly rosterRoute: apigwv2.HttpRoute;

  constructor(scope: Construct, id: string, props: NodeRosterRoutesProps) {
    super(scope, id);
    const { api, config, state } = props;
    this.rosterFunction = new DomainFunction(this, 'NodeRoster', {
      logRetentionDays: config.logRetentionDays,
      production: config.production,
      handlerName: 'node-roster',
      description: 'GET /v1/nodes/roster: the nodes the index admits now, for the in-enclave reconciler',
      environment: { TABLE_NAME: state.table.tableName, WEBHOOK_SECRET_ARN: state.webhookSecret.secretArn, ...indexFreshnessEnvironment(config) },
    });
    const leadingKeys = (keys: string[]) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': keys } });
    this.rosterFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['dynamodb:BatchGetItem'],
      resources: [state.table.tableArn],
      conditions: leadingKeys([KEYS.stake('*').pk, KEYS.token('*').pk, KEYS.minStake('node').pk, KEYS.cursor().pk, KEYS.node('*').pk]),
    }));
    this.rosterFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['dynamodb:Query'],
      resources: [`${state.table.tableArn}/index/${TABLE_INDEXES.byStake}`],
    }));
    // A Scan names no partition key, so IAM cannot narrow it; the function has no KMS access, so the only
    // secrets on the table (bootstrap-token ciphertexts) stay closed to it.
    this.rosterFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:Scan'], resources: [state.table.tableArn] }));
    state.webhookSecret.grantRead(this.rosterFunction);

    this.rosterRoute = api.addRoute({
      method: apigwv2.HttpMethod.GET,
      path: '/v1/nodes/roster',
      handler: this.rosterFunction,
      authorization: 'none',
      publicBecause:
        'The in-enclave reconciler cannot sign SigV4 requests (the host holds no credentials it should trust); the function requires the webhook bearer secret (constant-time compare) before reading anything.',
    });
  }
}
