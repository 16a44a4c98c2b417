// What operators watch: one CloudWatch dashboard per environment (cdk-monitoring-constructs) and the
// alarms that page them through the environment's alarm topic (state stack): API 5xx and latency, every
// Lambda function's errors and throttles, the master's in-service count and NLB target health,
// attestation freshness, and the indexer's lag, undecodable events and failed evictions (alarms the
// indexer construct already defines; wired to the topic here).
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { DefaultDashboardFactory, MonitoringFacade, SnsAlarmActionStrategy } from 'cdk-monitoring-constructs';
import type { Construct } from 'constructs';
import { DomainFunction } from '../api/domain-function';
import type { ApiStack } from '../api/api-stack';
import type { EnvironmentConfig } from '../config/environment-config';
import type { ControlPlaneStack } from '../control-plane/control-plane-stack';
import type { NetworkStack } from '../network/network-stack';
import type { StateStack } from '../state/state-stack';

/**
 * The line lambdas/attestation/handler.ts logs (Powertools JSON `message`) after a document verified and
 * was stored; a metric filter counts it, since the handler publishes no metric of its own.
 */
export const ATTESTATION_ACCEPTED_MESSAGE = 'attestation accepted';
export const ATTESTATION_METRICS = { namespace: 'K3sDaas', accepted: 'AttestationsAccepted' } as const;

/** Thresholds; each is a page, so they are set where a person should look, not at the first blip. */
export const ALARM_THRESHOLDS = {
  /** 5xx answers of the HTTP API in 5 minutes (outages answer 503, handler bugs 500). */
  api5xxPerFiveMinutes: 5,
  /** p99 latency of the HTTP API; the slowest route's function times out at 15 s. */
  apiLatencyP99: Duration.seconds(5),
} as const;

export interface MonitoringStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly network: NetworkStack;
  readonly state: StateStack;
  readonly api: ApiStack;
  readonly controlPlane: ControlPlaneStack;
}

export class MonitoringStack extends Stack {
  public readonly facade: MonitoringFacade;
  public readonly attestationFreshnessAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    const { config, state, api, controlPlane } = props;
    const prefix = `K3sDaas-${config.name}`;
    const topicAction = new SnsAlarmActionStrategy({ onAlarmTopic: state.alarmTopic });

    this.facade = new MonitoringFacade(this, 'Monitoring', {
      alarmFactoryDefaults: { alarmNamePrefix: prefix, actionsEnabled: true, action: topicAction },
      dashboardFactory: new DefaultDashboardFactory(this, 'Dashboards', {
        dashboardNamePrefix: prefix,
        createDashboard: true,
        createSummaryDashboard: false,
        createAlarmDashboard: false,
      }),
    });

    this.facade.addLargeHeader(`K3s-DaaS ${config.name}`);
    this.facade.monitorApiGatewayV2HttpApi({
      api: api.api.httpApi,
      apiStage: '$default',
      alarmFriendlyName: 'HttpApi',
      add5xxCountAlarm: { Critical: { maxErrorCount: ALARM_THRESHOLDS.api5xxPerFiveMinutes } },
      addLatencyP99Alarm: { Warning: { maxLatency: ALARM_THRESHOLDS.apiLatencyP99 } },
    });

    // Every function of the API stack, so a function added later is covered without touching this file.
    const functions = api.node.findAll().filter((c): c is DomainFunction => c instanceof DomainFunction);
    for (const fn of functions) {
      this.facade.monitorLambdaFunction({
        lambdaFunction: fn,
        alarmFriendlyName: fn.node.path.replace(/^.*?\//, '').replace(/\//g, '-'),
        // Errors are uncaught exceptions and timeouts: handlers answer bad input and outages themselves.
        addFaultCountAlarm: { Critical: { maxErrorCount: 0 } },
        addThrottlesCountAlarm: { Critical: { maxErrorCount: 0 } },
      });
    }

    // Attestation freshness: kubeconfigs stop being issued once the newest verified attestation is older
    // than attestationMaxAgeMinutes, so no accepted document for that long (or no log at all) pages.
    const attestationLogs = api.attestation.attestationFunction.logGroup;
    new logs.MetricFilter(this, 'AttestationsAcceptedFilter', {
      logGroup: attestationLogs,
      filterPattern: logs.FilterPattern.stringValue('$.message', '=', ATTESTATION_ACCEPTED_MESSAGE),
      metricNamespace: ATTESTATION_METRICS.namespace,
      metricName: ATTESTATION_METRICS.accepted,
      metricValue: '1',
      defaultValue: 0,
    });
    const accepted = new cloudwatch.Metric({
      namespace: ATTESTATION_METRICS.namespace,
      metricName: ATTESTATION_METRICS.accepted,
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(1),
      label: 'Verified attestations',
    });
    const maxAge = config.attestationMaxAgeMinutes;
    this.attestationFreshnessAlarm = new cloudwatch.Alarm(this, 'AttestationFreshnessAlarm', {
      alarmName: `${prefix}-AttestationFreshness`,
      alarmDescription: `No enclave attestation verified in the last ${maxAge} minutes (attestationMaxAgeMinutes): kubeconfigs are no longer issued; check the master, its host agent and POST /v1/attestation refusals.`,
      metric: accepted,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      // Every minute of the window empty: one verified document anywhere in it keeps the alarm quiet.
      evaluationPeriods: maxAge,
      datapointsToAlarm: maxAge,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    const inService = new cloudwatch.Metric({
      namespace: 'AWS/AutoScaling',
      metricName: 'GroupInServiceInstances',
      dimensionsMap: { AutoScalingGroupName: controlPlane.masterGroup.autoScalingGroupName },
      statistic: cloudwatch.Stats.MINIMUM,
      period: Duration.minutes(1),
      label: 'Masters in service',
    });
    const mastersInService = new cloudwatch.Alarm(this, 'MastersInServiceAlarm', {
      alarmName: `${prefix}-MastersInService`,
      alarmDescription: `Fewer than ${config.masters.count} master instance(s) in service for 5 minutes: the control plane is down or being replaced.`,
      metric: inService,
      threshold: config.masters.count,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    this.facade.addLargeHeader('Control plane');
    this.facade.monitorNetworkLoadBalancer({
      networkLoadBalancer: props.network.apiServerLoadBalancer,
      networkTargetGroup: controlPlane.targetGroup,
      alarmFriendlyName: 'KubeApiServerNlb',
      // No data means no healthy target reported: as bad as zero.
      addHealthyTaskCountAlarm: { Critical: { minHealthyTasks: config.masters.count, treatMissingDataOverride: cloudwatch.TreatMissingData.BREACHING } },
      addUnhealthyTaskCountAlarm: { Critical: { maxUnhealthyTasks: 0 } },
    });
    this.facade.monitorAutoScalingGroup({ autoScalingGroup: controlPlane.masterGroup, alarmFriendlyName: 'Masters' });

    // Alarms built outside the facade: shown on the dashboard, and all notify the same topic.
    const indexer = api.indexer;
    const ownAlarms = [this.attestationFreshnessAlarm, mastersInService, indexer.lagAlarm, indexer.undecodableAlarm, indexer.evictionAlarm];
    for (const alarm of ownAlarms) alarm.addAlarmAction(new actions.SnsAction(state.alarmTopic));
    this.facade.addLargeHeader('Attestation, masters and indexer');
    this.facade.addWidget(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: ownAlarms, width: 24 }));
    this.facade.addWidget(new cloudwatch.GraphWidget({ title: 'Verified attestations per minute', left: [accepted], width: 8 }));
    this.facade.addWidget(new cloudwatch.GraphWidget({ title: 'Masters in service', left: [inService], width: 8 }));
    this.facade.addWidget(new cloudwatch.GraphWidget({
      title: 'Indexer',
      left: [indexer.lagAlarm.metric],
      right: [indexer.undecodableAlarm.metric, indexer.evictionAlarm.metric],
      width: 8,
    }));
  }
}
