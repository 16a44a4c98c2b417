// The token-check route group in the synthesized Api stack: both routes exist and reach their
// functions, and each function can read only the items a check needs and (authenticate only) the webhook secret.
import { describe, expect, it } from '@jest/globals';
import { INDEX_FRESHNESS_ENV } from '../../../lambdas/shared/index/freshness';
import { readEnv } from '../../../lambdas/shared/runtime/env';
import type { Template } from 'aws-cdk-lib/assertions';
import { synthPlatform } from '../../support/cdk-app';

type Resource = { Type: string; Properties: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

function functionByDescription(template: Template, description: string): [string, Resource] {
  const found = Object.entries(template.findResources('AWS::Lambda::Function', { Properties: { Description: description } }));
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
}

function statementsOfFunction(template: Template, fnId: string): Record<string, unknown>[] {
  const roleId = template.toJSON().Resources[fnId].Properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}

const AUTHENTICATE = 'POST /v1/authenticate: TokenReview webhook for kube-apiserver';
const VALIDATE = 'POST /v1/tokens/validate: check a credential and show the identity it maps to';

describe('token-check routes', () => {
  const platform = synthPlatform();
  const api = platform.template('api');

  it('POST /v1/authenticate and POST /v1/tokens/validate exist (public: the function checks the bearer / credential)', () => {
    api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /v1/authenticate', AuthorizationType: 'NONE' });
    api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /v1/tokens/validate', AuthorizationType: 'NONE' });
  });

  it('each route is integrated with its own function', () => {
    const [authId] = functionByDescription(api, AUTHENTICATE);
    const [validateId] = functionByDescription(api, VALIDATE);
    const integrations = Object.values(api.findResources('AWS::ApiGatewayV2::Integration')).map((i) => JSON.stringify(i.Properties.IntegrationUri));
    expect(integrations.some((uri) => uri.includes(authId))).toBe(true);
    expect(integrations.some((uri) => uri.includes(validateId))).toBe(true);
  });

  it('functions get TABLE_NAME, CLUSTER_ID, SUI_*; only authenticate gets WEBHOOK_SECRET_ARN', () => {
    const [, auth] = functionByDescription(api, AUTHENTICATE);
    const [, validate] = functionByDescription(api, VALIDATE);
    for (const fn of [auth, validate]) {
      const vars = fn.Properties.Environment.Variables;
      expect(Object.keys(vars)).toEqual(expect.arrayContaining(['TABLE_NAME', 'CLUSTER_ID', 'SUI_NETWORK', 'SUI_GRPC_URL', 'SUI_PACKAGE_ID']));
      expect(vars.CLUSTER_ID).toBe(platform.config.sui.clusterId);
      // The staleness bound comes from the typed config and passes the functions' own validation.
      expect(vars.INDEX_MAX_AGE_SECONDS).toBe(String(platform.config.indexer.maxIndexAgeSeconds));
      expect(readEnv(INDEX_FRESHNESS_ENV, vars).INDEX_MAX_AGE_SECONDS).toBe(platform.config.indexer.maxIndexAgeSeconds);
    }
    expect(auth.Properties.Environment.Variables.WEBHOOK_SECRET_ARN).toBeDefined();
    expect(validate.Properties.Environment.Variables.WEBHOOK_SECRET_ARN).toBeUndefined();
  });

  it('least privilege: GetItem on token items, BatchGetItem on token, stake, pool, admin and cursor items only; the secret for authenticate only; nothing writes', () => {
    const [authId] = functionByDescription(api, AUTHENTICATE);
    const [validateId] = functionByDescription(api, VALIDATE);
    for (const [id, mayReadSecret] of [[authId, true], [validateId, false]] as const) {
      const statements = statementsOfFunction(api, id);
      const actions = statements.flatMap((s) => [s.Action].flat() as string[]);
      const dynamo = actions.filter((a) => a.startsWith('dynamodb:'));
      expect(dynamo.sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem']);
      const getStatement = statements.find((s) => [s.Action].flat().includes('dynamodb:GetItem'))!;
      expect(getStatement.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TOKEN#*'] } });
      expect(JSON.stringify(getStatement.Resource)).not.toContain('/index/');
      const dynamoStatement = statements.find((s) => [s.Action].flat().includes('dynamodb:BatchGetItem'))!;
      expect(dynamoStatement.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TOKEN#*', 'STAKE#*', 'POOL', 'ADMIN#*', 'INDEXER'] } });
      expect(JSON.stringify(dynamoStatement.Resource)).not.toContain('/index/');
      expect(actions.some((a) => a.startsWith('secretsmanager:'))).toBe(mayReadSecret);
      if (mayReadSecret) {
        expect(actions.filter((a) => a.startsWith('secretsmanager:')).sort()).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
      }
      // Everything the role may do, exactly (X-Ray comes with the shared function defaults).
      expect([...new Set(actions)].sort()).toEqual([
        'dynamodb:BatchGetItem',
        'dynamodb:GetItem',
        ...(mayReadSecret ? ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'] : []),
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    }
  });
});
