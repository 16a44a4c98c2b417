// GET /v1/nodes/roster in the synthesized Api stack: a public route (the function checks the webhook bearer)
// integrated with its own function, which may only read: the node scan, stakes/tokens/minimum/cursor by key,
// GSI2, and the webhook secret; no write, no KMS.
import { describe, expect, it } from '@jest/globals';
import type { Template } from 'aws-cdk-lib/assertions';
import { NODE_ROSTER_ENV } from '../../../lambdas/node-roster/handler';
import { readEnv } from '../../../lambdas/shared/runtime/env';
import { synthPlatform } from '../../support/cdk-app';

type Resource = { Type: string; Properties: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

const DESCRIPTION = 'GET /v1/nodes/roster: the nodes the index admits now, for the in-enclave reconciler';

function rosterFunction(template: Template): [string, Resource] {
  const found = Object.entries(template.findResources('AWS::Lambda::Function', { Properties: { Description: DESCRIPTION } }));
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
}

function statementsOf(template: Template, fnId: string): Record<string, unknown>[] {
  const roleId = template.toJSON().Resources[fnId].Properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}

describe('node-roster route', () => {
  const platform = synthPlatform();
  const api = platform.template('api');

  it('GET /v1/nodes/roster exists, public (the bearer is checked by the function), integrated with its function', () => {
    api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /v1/nodes/roster', AuthorizationType: 'NONE' });
    const [id] = rosterFunction(api);
    const integrations = Object.values(api.findResources('AWS::ApiGatewayV2::Integration')).map((i) => JSON.stringify(i.Properties.IntegrationUri));
    expect(integrations.some((uri) => uri.includes(id))).toBe(true);
  });

  it('the function is configured with what its cold start validates', () => {
    const [, fn] = rosterFunction(api);
    const vars = fn.Properties.Environment.Variables;
    expect(Object.keys(vars)).toEqual(expect.arrayContaining(['TABLE_NAME', 'WEBHOOK_SECRET_ARN', 'INDEX_MAX_AGE_SECONDS']));
    expect(readEnv(NODE_ROSTER_ENV, { ...vars, TABLE_NAME: 't', WEBHOOK_SECRET_ARN: 'arn' }).INDEX_MAX_AGE_SECONDS).toBe(platform.config.indexer.maxIndexAgeSeconds);
  });

  it('least privilege: reads only (Scan, BatchGetItem by key, Query on GSI2) and the webhook secret; no write, no KMS', () => {
    const [id] = rosterFunction(api);
    const statements = statementsOf(api, id);
    const actions = [...new Set(statements.flatMap((s) => [s.Action].flat() as string[]))].sort();
    expect(actions.filter((a) => !a.startsWith('xray:'))).toEqual([
      'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan', 'secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue',
    ]);
    const batch = statements.find((s) => [s.Action].flat().includes('dynamodb:BatchGetItem'))!;
    expect(batch.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['STAKE#*', 'TOKEN#*', 'POOL', 'INDEXER', 'NODE#*'] } });
    const query = statements.find((s) => [s.Action].flat().includes('dynamodb:Query'))!;
    expect(JSON.stringify(query.Resource)).toContain('/index/gsi2');
    const scan = statements.find((s) => [s.Action].flat().includes('dynamodb:Scan'))!;
    expect(JSON.stringify(scan.Resource)).not.toContain('/index/');
  });
});
