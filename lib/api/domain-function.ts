// The one Lambda function construct every handler uses: fixes the defaults all functions share
// (nodejs24.x on arm64, the bundle of lib/api/lambda-bundle.ts, X-Ray, a log group with retention,
// Powertools settings) so a handler's own construct only says what differs: its entry, settings and grants.
import { AssetHashType, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import * as path from 'node:path';
import { FUNCTION_TIMEOUT_SECONDS } from '../../lambdas/shared/runtime/aws-clients';
import { bundleLambda, REPO_ROOT, sourceMapsFor } from './lambda-bundle';

export { LAMBDA_BUNDLE } from './lambda-bundle';

/** `NODE_OPTIONS` of a function: source-map support only where the bundle ships maps (it costs at load). */
export function nodeOptionsFor(handlerName: string): string | undefined {
  return sourceMapsFor(handlerName) ? '--enable-source-maps' : undefined;
}

export interface DomainFunctionProps {
  /** Folder under `lambdas/` holding `handler.ts`. */
  readonly handlerName: string;
  readonly description: string;
  readonly environment?: Record<string, string>;
  /**
   * Only for functions outside `FUNCTION_TIMEOUT_SECONDS` (the indexer): an API function's timeout is the
   * one its AWS clients' timeouts are sized for.
   */
  readonly timeout?: Duration;
  readonly memorySize?: number;
  readonly reservedConcurrentExecutions?: number;
  /**
   * Instances kept initialized (Lambda provisioned concurrency) on a `live` alias of a published version;
   * callers then invoke `invokeTarget`. 0 or absent: on-demand only, no alias.
   */
  readonly provisionedConcurrency?: number;
  readonly logRetentionDays: logs.RetentionDays;
  readonly production: boolean;
}

function apiFunctionTimeoutSeconds(handlerName: string): number {
  const seconds = (FUNCTION_TIMEOUT_SECONDS as Record<string, number>)[handlerName];
  if (seconds === undefined) throw new Error(`function ${handlerName} has no entry in FUNCTION_TIMEOUT_SECONDS and no timeout`);
  return seconds;
}

export class DomainFunction extends lambda.Function {
  public readonly handlerName: string;
  /** What routes should invoke: the `live` alias when provisioned concurrency is on, else the function. */
  public readonly invokeTarget: lambda.IFunction;

  constructor(scope: Construct, id: string, props: DomainFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetentionDays,
      removalPolicy: props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const nodeOptions = nodeOptionsFor(props.handlerName);
    super(scope, id, {
      // Bundled in-process with esbuild (lib/api/lambda-bundle.ts): code splitting needs an output folder,
      // which NodejsFunction's single-file bundling cannot give. The Docker image is never used: local
      // bundling either succeeds or throws.
      code: lambda.Code.fromAsset(path.join(REPO_ROOT, 'lambdas', props.handlerName), {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          image: lambda.Runtime.NODEJS_24_X.bundlingImage,
          local: {
            tryBundle(outputDir: string) {
              bundleLambda(props.handlerName, outputDir);
              return true;
            },
          },
        },
      }),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      timeout: props.timeout ?? Duration.seconds(apiFunctionTimeoutSeconds(props.handlerName)),
      memorySize: props.memorySize ?? 512,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.handlerName,
        POWERTOOLS_METRICS_NAMESPACE: 'K3sDaas',
        ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
        ...props.environment,
      },
    });
    this.handlerName = props.handlerName;
    const provisioned = props.provisionedConcurrency ?? 0;
    if (!Number.isInteger(provisioned) || provisioned < 0) throw new Error(`provisionedConcurrency of ${props.handlerName} must be a whole number ≥ 0`);
    // Provisioned concurrency needs a published version; the alias moves to each new one on deploy.
    this.invokeTarget = provisioned > 0
      ? new lambda.Alias(this, 'Live', { aliasName: 'live', version: this.currentVersion, provisionedConcurrentExecutions: provisioned })
      : this;
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'AWS-maintained minimum for writing the function\'s own logs.',
    });
    // X-Ray tracing with its two unscopable actions in a policy of their own, so the Resource::*
    // acknowledgement covers exactly them (tracing: ACTIVE would put them in the default policy, where
    // one acknowledgement would also hide any other Resource::* grant).
    (this.node.defaultChild as lambda.CfnFunction).tracingConfig = { mode: lambda.Tracing.ACTIVE };
    const xray = new iam.Policy(this, 'XRayTracing', {
      roles: [this.role!],
      statements: [new iam.PolicyStatement({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] })],
    });
    (this.node.defaultChild as lambda.CfnFunction).node.addDependency(xray);
    Validations.of(xray).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'xray:PutTraceSegments and xray:PutTelemetryRecords accept only Resource "*" (AWS service authorization reference).',
    });
  }
}
