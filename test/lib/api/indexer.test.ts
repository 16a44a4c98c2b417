// The indexer in the synthesized Api stack: schedule, single concurrency, least-privilege grants
// (table, tag-conditioned TerminateInstances) and the lag alarm, all driven by the typed config.
import { describe, expect, it } from '@jest/globals';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { INDEXER_METRICS } from '../../../lambdas/indexer/metric-names';
import { loadEnvironmentConfig } from '../../../lib/config/environments';
import { names } from '../../../lib/shared/names';
import { synthPlatform } from '../../support/cdk-app';

type Resource = { Type: string; Properties: Record<string, unknown> };

function indexerFunction(template: Template): [string, Resource] {
  const found = Object.entries(template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'indexer' } } },
  }));
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
}

function statementsOf(template: Template, fnId: string): Record<string, unknown>[] {
  const roleId = (template.toJSON().Resources[fnId].Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}

describe('indexer construct', () => {
  const platform = synthPlatform();
  const api = platform.template('api');
  const config = platform.config;
  const [fnId, fn] = indexerFunction(api);

  it('runs with reserved concurrency 1 and a timeout shorter than the schedule interval', () => {
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(1);
    expect(fn.Properties.Timeout).toBeLessThan(config.indexer.scheduleMinutes * 60);
  });

  it('is scheduled by EventBridge at the configured rate', () => {
    const minutes = config.indexer.scheduleMinutes;
    api.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: `rate(${minutes} ${minutes === 1 ? 'minute' : 'minutes'})`,
      Targets: Match.arrayWith([Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] } })]),
    });
  });

  it('gets the Sui provider, package, table and worker group names from config', () => {
    const vars = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(vars.SUI_GRPC_URL).toBe(config.sui.grpcUrl);
    expect(vars.SUI_PACKAGE_ID).toBe(config.sui.packageId);
    expect(vars.SUI_NETWORK).toBe(config.sui.network);
    expect(JSON.parse(vars.WORKER_GROUPS as string)).toEqual(config.workerGroups.map((g) => ({ autoScalingGroup: names.workerGroup(config, g), stakeId: g.nodeStakeId })));
    expect(vars.TABLE_NAME).toBeDefined();
    expect(vars.SUI_GRPC_AUTH_HEADER).toBeUndefined();
  });

  it('may terminate only through this cluster\'s worker groups, and has no EC2 grant', () => {
    const statements = statementsOf(api, fnId);
    const terminate = statements.filter((s) => [s.Action].flat().includes('autoscaling:TerminateInstanceInAutoScalingGroup'));
    expect(terminate).toHaveLength(1);
    expect(terminate[0].Action).toBe('autoscaling:TerminateInstanceInAutoScalingGroup');
    const arns = [terminate[0].Resource].flat().map((r) => JSON.stringify(r));
    expect(arns).toHaveLength(config.workerGroups.length);
    for (const [i, g] of config.workerGroups.entries()) {
      expect(arns[i]).toContain(`:autoScalingGroup:*:autoScalingGroupName/${names.workerGroup(config, g)}`);
    }
    // Nothing else that changes another service's state beyond the table; describing is the only "*".
    const actions = statements.flatMap((s) => [s.Action].flat() as string[]);
    expect(actions.filter((a) => a.startsWith('ec2:'))).toEqual([]);
    expect(actions.filter((a) => a.startsWith('autoscaling:')).sort()).toEqual(['autoscaling:DescribeAutoScalingInstances', 'autoscaling:TerminateInstanceInAutoScalingGroup']);
    expect(statements.filter((s) => s.Resource === '*').flatMap((s) => [s.Action].flat()).filter((a) => !String(a).startsWith('xray:'))).toEqual(['autoscaling:DescribeAutoScalingInstances']);
    expect(actions.filter((a) => !/^(autoscaling|dynamodb|xray):/.test(a))).toEqual([]);
    expect(actions).not.toContain('dynamodb:DeleteTable');
  });

  it('deletes and batch-writes only in the re-sweep partition', () => {
    const statements = statementsOf(api, fnId);
    const deleting = statements.filter((s) => [s.Action].flat().some((a) => a === 'dynamodb:DeleteItem' || a === 'dynamodb:BatchWriteItem'));
    expect(deleting).toHaveLength(1);
    expect(deleting[0].Condition).toEqual({ 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['RESWEEP'] } });
  });

  it('alarms when the lag metric the function publishes exceeds the configured threshold, or is missing', () => {
    api.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: INDEXER_METRICS.namespace,
      MetricName: INDEXER_METRICS.lagSeconds,
      Dimensions: [{ Name: 'service', Value: INDEXER_METRICS.service }],
      Threshold: config.indexer.lagAlarmSeconds,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
    });
    const vars = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(vars.POWERTOOLS_SERVICE_NAME).toBe(INDEXER_METRICS.service);
    expect(vars.POWERTOOLS_METRICS_NAMESPACE).toBe(INDEXER_METRICS.namespace);
  });

  it('alarms on any eviction Auto Scaling refused or could not take (the index keeps moving, so lag would not show it)', () => {
    api.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: INDEXER_METRICS.namespace,
      MetricName: INDEXER_METRICS.evictionFailures,
      Dimensions: [{ Name: 'service', Value: INDEXER_METRICS.service }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('alarms on any skipped event of a known type (a broken layout may hide a slash), not on unknown types', () => {
    api.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: INDEXER_METRICS.namespace,
      MetricName: INDEXER_METRICS.eventsUndecodable,
      Dimensions: [{ Name: 'service', Value: INDEXER_METRICS.service }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(Object.values(api.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties.MetricName)).not.toContain(INDEXER_METRICS.eventsSkipped);
  });

  it('with a provider auth secret configured: passes header and secret name, grants read of that secret only', () => {
    const dev = loadEnvironmentConfig('dev');
    const withAuth = synthPlatform({ config: { ...dev, indexer: { ...dev.indexer, grpcAuth: { header: 'x-api-key', secretName: 'sui-provider-key' } } } });
    const t = withAuth.template('api');
    const [id, f] = indexerFunction(t);
    const vars = (f.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(vars.SUI_GRPC_AUTH_HEADER).toBe('x-api-key');
    expect(vars.SUI_GRPC_AUTH_SECRET_ID).toBe('sui-provider-key');
    const secretReads = statementsOf(t, id).filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(secretReads).toHaveLength(1);
    expect(JSON.stringify(secretReads[0].Resource)).toContain(':secret:sui-provider-key-??????');
  });
});
