// The token-check route group (DESIGN §2 step 3, §4, §6): POST /v1/authenticate for kube-apiserver's
// webhook and POST /v1/tokens/validate for users. Every kubectl request the apiserver has not cached
// lands on the first, so both functions are small and read only what a check needs: GetItem on token
// items, BatchGetItem on the pool-minimum and cursor items (the per-container index view) and on stake and
// admin items (tokens written before the backing copy), and (authenticate) the webhook bearer secret.
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { KEYS } from '../../lambdas/shared/index/index-model';
import type { EnvironmentConfig } from '../config/environment-config';
import type { StateStack } from '../state/state-stack';
import { DomainFunction } from './domain-function';
import { indexFreshnessEnvironment } from './index-freshness';
import type { PlatformApi } from './platform-api';

/** Partition keys a token check reads with BatchGetItem (lambdas/shared/credentials/token-check.ts). */
export const TOKEN_CHECK_LEADING_KEYS = [KEYS.token('*').pk, KEYS.stake('*').pk, KEYS.minStake('user').pk, KEYS.admin('*').pk, KEYS.cursor().pk];

/** The one GetItem of an uncached token check: the token item, strongly consistent. */
export const TOKEN_CHECK_GET_ITEM_KEYS = [KEYS.token('*').pk];

export interface TokenCheckRoutesProps {
  readonly api: PlatformApi;
  readonly config: EnvironmentConfig;
  readonly state: StateStack;
  /** TABLE_NAME, CLUSTER_ID, SUI_* (DESIGN §4). */
  readonly commonEnvironment: Record<string, string>;
}

export class TokenCheckRoutes extends Construct {
  public readonly authenticateFunction: DomainFunction;
  public readonly validateFunction: DomainFunction;

  constructor(scope: Construct, id: string, props: TokenCheckRoutesProps) {
    super(scope, id);
    const { api, config, state } = props;
    const common = { logRetentionDays: config.logRetentionDays, production: config.production };

    this.authenticateFunction = new DomainFunction(this, 'Authenticate', {
      ...common,
      handlerName: 'authenticate',
      description: 'POST /v1/authenticate: TokenReview webhook for kube-apiserver',
      environment: { ...props.commonEnvironment, ...indexFreshnessEnvironment(config), WEBHOOK_SECRET_ARN: state.webhookSecret.secretArn },
      provisionedConcurrency: config.api.authenticateProvisionedConcurrency,
    });
    this.validateFunction = new DomainFunction(this, 'TokensValidate', {
      ...common,
      handlerName: 'tokens-validate',
      description: 'POST /v1/tokens/validate: check a credential and show the identity it maps to',
      environment: { ...props.commonEnvironment, ...indexFreshnessEnvironment(config) },
    });

    // A token check reads the token item (GetItem); every few seconds the cursor and pool minimums (one
    // BatchGetItem, the index view); for a token written before the backing copy, its stake and owner's approval.
    const readTokensAndStakes = new iam.PolicyStatement({
      actions: ['dynamodb:BatchGetItem'],
      resources: [state.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': TOKEN_CHECK_LEADING_KEYS } },
    });
    const readToken = new iam.PolicyStatement({
      actions: ['dynamodb:GetItem'],
      resources: [state.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': TOKEN_CHECK_GET_ITEM_KEYS } },
    });
    for (const fn of [this.authenticateFunction, this.validateFunction]) {
      fn.addToRolePolicy(readTokensAndStakes);
      fn.addToRolePolicy(readToken);
    }
    state.webhookSecret.grantRead(this.authenticateFunction);

    api.addRoute({
      method: apigwv2.HttpMethod.POST,
      path: '/v1/authenticate',
      handler: this.authenticateFunction.invokeTarget,
      authorization: 'none',
      // Its own budget: a flood of the other public routes is refused there, never here (docs/deploy.md).
      throttle: config.api.webhookThrottle,
      publicBecause:
        'kube-apiserver inside the enclave cannot sign SigV4 requests; the function itself requires the webhook bearer secret (Secrets Manager, constant-time compare) before reading the body (DESIGN §6).',
    });
    api.addRoute({
      method: apigwv2.HttpMethod.POST,
      path: '/v1/tokens/validate',
      handler: this.validateFunction,
      authorization: 'none',
      publicBecause: 'The Sui-signed credential in the body is the authentication (DESIGN §4); the answer only describes that credential.',
    });
  }
}
