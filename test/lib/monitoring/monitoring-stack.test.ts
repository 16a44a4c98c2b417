// Alarms that reach someone: the environment's topic with the configured subscriptions, every alarm of
// every stack notifying it, the alarms operators need, the dashboard, and the stack outputs.
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Match } from 'aws-cdk-lib/assertions';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHandler } from '../../../lambdas/attestation/handler';
import { MemoryAttestationRecordStore } from '../../../lambdas/shared/attestation/record-store';
import { logger } from '../../../lambdas/shared/runtime/powertools';
import { ALARM_THRESHOLDS, ATTESTATION_ACCEPTED_MESSAGE, ATTESTATION_METRICS } from '../../../lib/monitoring/monitoring-stack';
import * as fs from 'node:fs';
import { FIXTURE_PCRS, synthPlatform } from '../../support/cdk-app';
import { createClusterCaPem } from '../../support/cluster-ca';
import { NitroTestCa, TEST_PCRS } from '../../support/nitro-test-ca';
import { StaticPlatformSettings } from '../../../lambdas/shared/attestation/platform-settings';
import { TEST_SETTINGS, testClaims } from '../../support/enclave-settings';

const STACKS = ['network', 'state', 'api', 'controlPlane', 'workers', 'monitoring'] as const;
type Resource = { Type: string; Properties: Record<string, unknown> };

describe('monitoring of dev', () => {
  const platform = synthPlatform({ env: 'dev' });
  const monitoring = platform.template('monitoring');
  const alarms = STACKS.flatMap((s) =>
    Object.entries(platform.template(s).findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>).map(([id, r]) => ({ stack: s, id, ...r.Properties }) as { stack: string; id: string } & Record<string, unknown>),
  );
  const functionCount = Object.keys(platform.template('api').findResources('AWS::Lambda::Function')).length;

  it('has an encrypted, TLS-only alarm topic with the configured e-mail subscriptions', () => {
    const state = platform.template('state');
    state.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    state.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    for (const email of platform.config.alarms.emails) state.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: email });
    // CloudWatch must be able to use the topic's key, or alarm notifications are silently dropped.
    state.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]) },
    });
  });

  it('wires every alarm of every stack to the topic', () => {
    expect(alarms.length).toBeGreaterThan(2 * functionCount);
    for (const alarm of alarms) {
      expect({ id: alarm.id, enabled: alarm.ActionsEnabled !== false, notifies: JSON.stringify(alarm.AlarmActions ?? []).includes('AlarmTopic') }).toEqual({ id: alarm.id, enabled: true, notifies: true });
    }
  });

  /** The alarm's single metric, whether CDK wrote it inline or as a one-element Metrics array. */
  const metricOf = (a: Record<string, unknown>) => {
    const stat = (a.Metrics as { MetricStat?: { Metric: { MetricName: string; Namespace: string }; Stat: string; Period: number } }[] | undefined)?.[0]?.MetricStat;
    return stat
      ? { name: stat.Metric.MetricName, namespace: stat.Metric.Namespace, stat: stat.Stat, period: stat.Period }
      : { name: a.MetricName as string, namespace: a.Namespace as string, stat: (a.Statistic ?? a.ExtendedStatistic) as string, period: a.Period as number };
  };
  const alarmsOn = (namespace: string, name: string) => alarms.filter((a) => metricOf(a).namespace === namespace && metricOf(a).name === name);

  it('alarms on API 5xx and latency', () => {
    expect(alarmsOn('AWS/ApiGateway', '5xx').map((a) => a.Threshold)).toEqual([ALARM_THRESHOLDS.api5xxPerFiveMinutes]);
    expect(alarmsOn('AWS/ApiGateway', 'Latency').map((a) => [metricOf(a).stat, a.Threshold])).toEqual([['p99', ALARM_THRESHOLDS.apiLatencyP99.toMilliseconds()]]);
  });

  it('alarms on errors and throttles of each Lambda function', () => {
    for (const metric of ['Errors', 'Throttles']) {
      const matching = alarmsOn('AWS/Lambda', metric);
      expect(matching).toHaveLength(functionCount);
      for (const a of matching) expect([a.Threshold, a.ComparisonOperator]).toEqual([0, 'GreaterThanThreshold']);
    }
  });

  it('alarms on the masters in service and the NLB\'s healthy and unhealthy targets', () => {
    expect(alarmsOn('AWS/AutoScaling', 'GroupInServiceInstances').map((a) => [a.Threshold, a.ComparisonOperator, a.TreatMissingData])).toEqual([
      [platform.config.masters.count, 'LessThanThreshold', 'breaching'],
    ]);
    expect(alarmsOn('AWS/NetworkELB', 'HealthyHostCount').map((a) => [a.Threshold, a.ComparisonOperator, a.TreatMissingData])).toEqual([
      [platform.config.masters.count, 'LessThanThreshold', 'breaching'],
    ]);
    expect(alarmsOn('AWS/NetworkELB', 'UnHealthyHostCount').map((a) => [a.Threshold, a.ComparisonOperator])).toEqual([[0, 'GreaterThanThreshold']]);
    platform.template('controlPlane').hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MetricsCollection: [{ Granularity: '1Minute' }] });
  });

  it('alarms when no attestation verified within attestationMaxAgeMinutes, counting the handler\'s accepted log line', () => {
    const minutes = platform.config.attestationMaxAgeMinutes;
    const freshness = alarmsOn(ATTESTATION_METRICS.namespace, ATTESTATION_METRICS.accepted);
    expect(freshness.map((a) => [metricOf(a).stat, metricOf(a).period, a.EvaluationPeriods, a.DatapointsToAlarm, a.Threshold, a.ComparisonOperator, a.TreatMissingData])).toEqual([
      ['Sum', 60, minutes, minutes, 1, 'LessThanThreshold', 'breaching'],
    ]);
    monitoring.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: `{ $.message = "${ATTESTATION_ACCEPTED_MESSAGE}" }`,
      MetricTransformations: [Match.objectLike({ MetricName: ATTESTATION_METRICS.accepted, MetricNamespace: ATTESTATION_METRICS.namespace, MetricValue: '1' })],
    });
  });

  it('keeps the indexer\'s lag, undecodable-event and eviction-failure alarms, now notifying the topic', () => {
    for (const metric of ['IndexerLagSeconds', 'IndexerEventsUndecodable', 'IndexerEvictionFailures']) {
      expect(alarmsOn('K3sDaas', metric).map((a) => a.stack)).toEqual(['api']);
    }
  });

  it('builds one dashboard for the environment', () => {
    const dashboards = monitoring.findResources('AWS::CloudWatch::Dashboard') as Record<string, Resource>;
    expect(Object.values(dashboards).map((d) => d.Properties.DashboardName)).toEqual([`K3sDaas-${platform.config.name}`]);
  });

  it('outputs what users and the CLI need', () => {
    platform.template('api').hasOutput('ApiUrl', {});
    platform.template('api').hasOutput('ClusterId', { Value: platform.config.sui.clusterId });
    const fixture = JSON.parse(fs.readFileSync(FIXTURE_PCRS, 'utf8')) as { PCR0: string };
    platform.template('api').hasOutput('ExpectedPcrsSource', { Value: Match.stringLikeRegexp(`"PCR0":"${fixture.PCR0}"`) });
    platform.template('network').hasOutput('ApiServerLoadBalancerDnsName', {});
    platform.template('state').hasOutput('KubeconfigSigningKeyArn', {});
    platform.template('state').hasOutput('AlarmTopicArn', {});
    platform.template('state').hasOutput('WebhookSecretArn', {});
    platform.template('controlPlane').hasOutput('MasterAutoScalingGroupName', {});
  });

  it('grants X-Ray in a policy of its own per function, the only place Resource * is acknowledged for it', () => {
    const policies = Object.values(platform.template('api').findResources('AWS::IAM::Policy') as Record<string, Resource>);
    const xrayOnly = policies.filter((p) => JSON.stringify(p).includes('xray:'));
    expect(xrayOnly).toHaveLength(functionCount);
    for (const p of xrayOnly) {
      expect((p.Properties.PolicyDocument as { Statement: unknown[] }).Statement).toEqual([
        { Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Effect: 'Allow', Resource: '*' },
      ]);
    }
    platform.template('api').allResourcesProperties('AWS::Lambda::Function', { TracingConfig: { Mode: 'Active' } });
  });
});

describe('the attestation-accepted line the freshness alarm counts', () => {
  let ca: NitroTestCa;
  let clusterCaPem: string;
  beforeAll(async () => {
    ca = await NitroTestCa.create();
    clusterCaPem = await createClusterCaPem();
  });
  const post = (body: unknown) => ({ body: JSON.stringify(body), isBase64Encoded: false }) as APIGatewayProxyEventV2;
  const handler = () =>
    createHandler({
      expectedPcrs: { 0: TEST_PCRS[0], 1: TEST_PCRS[1], 2: TEST_PCRS[2] },
      store: new MemoryAttestationRecordStore(),
      now: () => ca.now,
      maxDocumentAgeMs: 300_000,
      rootPem: ca.rootPem,
      settings: new StaticPlatformSettings(TEST_SETTINGS),
    });

  it('is logged by the real handler for a verified document, and not for a refused one', async () => {
    const info = jest.spyOn(logger, 'info');
    try {
      const good = Buffer.from((await ca.document({ userData: testClaims(clusterCaPem) })).bytes).toString('base64');
      expect((await handler()(post({ document: good, caCertPem: clusterCaPem }))).statusCode).toBe(204);
      expect(info.mock.calls.filter((c) => c[0] === ATTESTATION_ACCEPTED_MESSAGE)).toHaveLength(1);
      info.mockClear();
      const unbound = Buffer.from((await ca.document({ userData: Buffer.alloc(32) })).bytes).toString('base64');
      expect((await handler()(post({ document: unbound, caCertPem: clusterCaPem }))).statusCode).toBe(400);
      expect(info.mock.calls.filter((c) => c[0] === ATTESTATION_ACCEPTED_MESSAGE)).toHaveLength(0);
    } finally {
      info.mockRestore();
    }
  });
});
