// The indexer (DESIGN §2 step 2): one function with reserved concurrency 1 run by an EventBridge
// schedule, allowed to read and write the index table, to terminate only instances of this cluster's
// worker groups, and alarmed on its lag behind the chain head.
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { INDEXER_METRICS } from '../../lambdas/indexer/metric-names';
import { KEYS, TABLE_INDEXES } from '../../lambdas/shared/index/index-model';
import type { EnvironmentConfig } from '../config/environment-config';
import { names } from '../shared/names';
import { DomainFunction } from './domain-function';

export interface IndexerProps {
  readonly config: EnvironmentConfig;
  readonly table: dynamodb.ITableV2;
  /** TABLE_NAME, CLUSTER_ID and the SUI_* settings shared by every function. */
  readonly commonEnvironment: Record<string, string>;
}

export class Indexer extends Construct {
  public readonly function: DomainFunction;
  public readonly schedule: events.Rule;
  public readonly lagAlarm: cloudwatch.Alarm;
  public readonly evictionAlarm: cloudwatch.Alarm;
  public readonly undecodableAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: IndexerProps) {
    super(scope, id);
    const { config } = props;
    const intervalSeconds = config.indexer.scheduleMinutes * 60;
    const workerGroups = config.workerGroups.map((g) => names.workerGroup(config, g));
    const auth = config.indexer.grpcAuth;

    this.function = new DomainFunction(this, 'Function', {
      handlerName: 'indexer',
      description: 'Indexes k3s_daas Sui events into the index table; evicts workers of slashed stakes',
      // Finish (and leave the slot free) before the next scheduled run; long runs only mean a backlog.
      timeout: Duration.seconds(Math.min(intervalSeconds, 300) - 5),
      memorySize: 512,
      // One writer: a second concurrent run would only fail its cursor condition and waste provider quota.
      reservedConcurrentExecutions: 1,
      logRetentionDays: config.logRetentionDays,
      production: config.production,
      environment: {
        ...props.commonEnvironment,
        WORKER_GROUPS: names.workerGroupsEnv(config),
        ...(auth ? { SUI_GRPC_AUTH_HEADER: auth.header, SUI_GRPC_AUTH_SECRET_ID: auth.secretName } : {}),
      },
    });
    // Exactly the calls the repository makes, on the table and its two GSIs (no index wildcard).
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem', 'dynamodb:Query'],
      resources: [props.table.tableArn, ...Object.values(TABLE_INDEXES).map((index) => `${props.table.tableArn}/index/${index}`)],
    }));
    // Re-sweep entries are the only items it deletes or batch-writes (TransactWriteItems deletes need
    // DeleteItem): in their own partition only.
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem'],
      resources: [props.table.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [KEYS.resweepPartition().pk] } },
    }));

    // Eviction goes through this cluster's worker groups (no EC2 grant): terminate only in them. Group
    // ARNs hold a generated UUID before the fixed name; the UUID is the only wildcard.
    const stack = Stack.of(this);
    const groupArns = workerGroups.map(
      (name) => `arn:${stack.partition}:autoscaling:${stack.region}:${stack.account}:autoScalingGroup:*:autoScalingGroupName/${name}`,
    );
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['autoscaling:TerminateInstanceInAutoScalingGroup'], resources: groupArns }));
    for (const arn of groupArns) {
      Validations.of(this.function).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${arn}]`,
        reason: 'The * is the group\'s generated UUID, unknown before the group exists; the fixed group name after it limits the grant to this cluster\'s worker group.',
      });
    }
    // Eviction reads the groups' view of instances so a crash between terminate and record never
    // terminates twice.
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['autoscaling:DescribeAutoScalingInstances'], resources: ['*'] }));
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'autoscaling:DescribeAutoScalingInstances accepts only Resource "*" (AWS service authorization reference); it reads lifecycle states, nothing secret.',
    });
    if (auth) {
      secretsmanager.Secret.fromSecretNameV2(this, 'GrpcAuthSecret', auth.secretName).grantRead(this.function);
    }

    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'Runs the Sui event indexer',
      schedule: events.Schedule.rate(Duration.minutes(config.indexer.scheduleMinutes)),
      // A missed run is simply made up by the next one, which resumes from the stored cursor.
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });

    const lag = new cloudwatch.Metric({
      namespace: INDEXER_METRICS.namespace,
      metricName: INDEXER_METRICS.lagSeconds,
      dimensionsMap: { service: INDEXER_METRICS.service },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(Math.max(5, config.indexer.scheduleMinutes)),
    });
    this.lagAlarm = new cloudwatch.Alarm(this, 'LagAlarm', {
      alarmDescription: `The Sui event indexer is more than ${config.indexer.lagAlarmSeconds} s behind the chain head (or not reporting): token revocations and slashes are not taking effect.`,
      metric: lag,
      threshold: config.indexer.lagAlarmSeconds,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // A dead or failing indexer reports nothing; silence is the worst lag.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    // Alarms on any occurrence within one period of a counter the indexer publishes.
    const anyOccurrence = (id: string, metricName: string, alarmDescription: string) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription,
        metric: new cloudwatch.Metric({
          namespace: INDEXER_METRICS.namespace,
          metricName,
          dimensionsMap: { service: INDEXER_METRICS.service },
          statistic: cloudwatch.Stats.SUM,
          period: Duration.minutes(Math.max(5, config.indexer.scheduleMinutes)),
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    // A failed eviction does not hold the index back (the lag alarm stays quiet), so it has its own alarm.
    this.evictionAlarm = anyOccurrence(
      'EvictionAlarm',
      INDEXER_METRICS.evictionFailures,
      'The indexer could not terminate the worker instances of a slashed or withdrawn node stake; it retries every run.',
    );
    // Unknown event types are expected (future package versions); a known type that does not decode is a
    // broken layout contract, and the skipped event may be a slash or revocation the index now lacks.
    this.undecodableAlarm = anyOccurrence(
      'UndecodableAlarm',
      INDEXER_METRICS.eventsUndecodable,
      'The indexer skipped an event of a known k3s_daas type that it could not decode or apply: the index may lack a slash or revocation.',
    );
  }
}
