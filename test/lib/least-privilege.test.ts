// Least privilege across every stack: no statement allows every action of a service or every action
// at all, and resource `*` is allowed only for actions AWS cannot scope to a resource.
import { describe, expect, it } from '@jest/globals';
import { synthPlatform } from '../support/cdk-app';

type Statement = { Effect: string; Action: string | string[]; Resource?: unknown; Principal?: unknown };

/** Actions that only accept `Resource: *` (per the AWS service authorization reference). */
const UNSCOPABLE = new Set([
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'autoscaling:DescribeAutoScalingInstances',
  'autoscaling:DescribeAutoScalingGroups',
  'cloudwatch:PutMetricData',
  'logs:CreateLogGroup',
  'logs:CreateLogStream',
  'logs:PutLogEvents',
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DeleteNetworkInterface',
]);

function identityStatements(template: Record<string, unknown>): { where: string; statement: Statement }[] {
  const out: { where: string; statement: Statement }[] = [];
  const resources = (template.Resources ?? {}) as Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  for (const [id, r] of Object.entries(resources)) {
    const docs: unknown[] = [];
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') docs.push(r.Properties?.PolicyDocument);
    if (r.Type === 'AWS::IAM::Role') for (const p of (r.Properties?.Policies as { PolicyDocument: unknown }[] | undefined) ?? []) docs.push(p.PolicyDocument);
    for (const doc of docs) for (const statement of (doc as { Statement: Statement[] }).Statement) out.push({ where: id, statement });
  }
  return out;
}

describe('IAM least privilege', () => {
  const platform = synthPlatform({ env: 'dev' });
  const statements = (['network', 'state', 'api', 'controlPlane', 'workers', 'monitoring'] as const).flatMap((s) =>
    identityStatements(platform.template(s).toJSON()).map((x) => ({ ...x, stack: s })),
  );

  it('finds the identity policies to check', () => {
    expect(statements.length).toBeGreaterThan(0);
  });

  it('never allows `*` or `<service>:*`', () => {
    for (const { statement, where } of statements) {
      if (statement.Effect !== 'Allow') continue;
      const actions = ([] as string[]).concat(statement.Action);
      for (const action of actions) expect({ where, action, wildcard: action === '*' || /^[a-z0-9-]+:\*$/.test(action) }).toEqual({ where, action, wildcard: false });
    }
  });

  it('allows Resource `*` only for actions that cannot be scoped', () => {
    for (const { statement, where } of statements) {
      if (statement.Effect !== 'Allow' || statement.Resource !== '*') continue;
      for (const action of ([] as string[]).concat(statement.Action)) expect({ where, action, scopable: !UNSCOPABLE.has(action) }).toEqual({ where, action, scopable: false });
    }
  });
});
