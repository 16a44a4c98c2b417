// The one Lambda function construct every handler uses: fixes the defaults all functions share
// (nodejs24.x on arm64, ESM bundle with source maps, X-Ray, a log group with retention, Powertools
// settings) so a handler's own construct only says what differs: its entry, settings and grants.
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import * as path from 'node:path';
import { FUNCTION_TIMEOUT_SECONDS } from '../../lambdas/shared/runtime/aws-clients';

const REPO_ROOT = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..');

/** esbuild settings of every function; the benchmarks bundle with exactly these. */
export const LAMBDA_BUNDLE = {
  format: 'esm',
  target: 'node24',
  mainFields: ['module', 'main'],
  minify: true,
  // ESM output still meets CommonJS dependencies (AWS SDK internals) that call require().
  banner: "import { createRequire as __k3sDaasCreateRequire } from 'node:module'; const require = __k3sDaasCreateRequire(import.meta.url);",
  // The nodejs24.x runtime ships AWS SDK v3; bundling it again would more than double cold-start size.
  external: ['@aws-sdk/*'],
} as const;

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
  readonly logRetentionDays: logs.RetentionDays;
  readonly production: boolean;
}

function apiFunctionTimeoutSeconds(handlerName: string): number {
  const seconds = (FUNCTION_TIMEOUT_SECONDS as Record<string, number>)[handlerName];
  if (seconds === undefined) throw new Error(`function ${handlerName} has no entry in FUNCTION_TIMEOUT_SECONDS and no timeout`);
  return seconds;
}

export class DomainFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: DomainFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetentionDays,
      removalPolicy: props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: path.join(REPO_ROOT, 'lambdas', props.handlerName, 'handler.ts'),
      handler: 'handler',
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      projectRoot: REPO_ROOT,
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
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: LAMBDA_BUNDLE.target,
        mainFields: [...LAMBDA_BUNDLE.mainFields],
        minify: LAMBDA_BUNDLE.minify,
        sourceMap: true,
        banner: LAMBDA_BUNDLE.banner,
        externalModules: [...LAMBDA_BUNDLE.external],
        // esbuild's default (info) prints a size table per function: dozens of lines on every synth.
        // Warnings and errors still show.
        logLevel: LogLevel.WARNING,
      },
    });
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
