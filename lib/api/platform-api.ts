// The HTTP API of DESIGN §4 and the small surface other constructs use to put their Lambda routes on
// it: `addRoute` (public or IAM-authorized) and `allowInvoke` (an IAM policy for a caller role that
// may live in another stack, created here so stacks never reference each other in a cycle).
//
// Throttling (docs/deploy.md "API throttles"): every route gets a token bucket of its own, so no route can
// spend another's. The webhook names its budget; every other public route gets the (smaller) public-route
// budget; IAM-authorized routes keep the stage default.
import { Lazy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** An API Gateway token bucket: steady requests per second, and how many may arrive at once (burst). */
export interface ThrottleBudget {
  readonly ratePerSecond: number;
  readonly burst: number;
}

export interface PlatformApiProps {
  /** Stage default: routes with no budget of their own (the IAM-authorized ones). */
  readonly throttleRatePerSecond: number;
  readonly throttleBurst: number;
  /** Each unauthenticated route's own budget unless the route names one (`RouteOptions.throttle`). */
  readonly publicRouteThrottle: ThrottleBudget;
  readonly logRetentionDays: logs.RetentionDays;
}

export type RouteAuthorization = 'none' | 'iam';

export interface RouteOptions {
  readonly method: apigwv2.HttpMethod;
  /** Path such as `/v1/authenticate`. */
  readonly path: string;
  readonly handler: lambda.IFunction;
  readonly authorization: RouteAuthorization;
  /** Required for `authorization: 'none'`: why this route may be called without IAM (cdk-nag APIG4). */
  readonly publicBecause?: string;
  /** A budget of this route's own (the webhook's); default: the public-route budget for public routes. */
  readonly throttle?: ThrottleBudget;
}

export class PlatformApi extends Construct {
  public readonly httpApi: apigwv2.HttpApi;
  public readonly stage: apigwv2.HttpStage;
  public readonly accessLogGroup: logs.LogGroup;
  private readonly routes = new Map<string, apigwv2.HttpRoute>();
  private readonly routeKeys = new WeakMap<apigwv2.HttpRoute, { method: string; path: string }>();
  private readonly routeThrottles = new Map<string, ThrottleBudget>();
  private readonly publicRouteThrottle: ThrottleBudget;

  constructor(scope: Construct, id: string, props: PlatformApiProps) {
    super(scope, id);
    this.publicRouteThrottle = props.publicRouteThrottle;
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'K3s-DaaS platform API (DESIGN §4)',
      createDefaultStage: false,
    });
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetentionDays });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRatePerSecond, burstLimit: props.throttleBurst },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.jsonWithStandardFields({
          caller: true, httpMethod: true, ip: true, protocol: true, requestTime: true,
          resourcePath: true, responseLength: true, status: true, user: true,
        }),
      },
    });
    // Route settings name route keys, so they are rendered from the routes actually added (a key with
    // no route fails the deployment). `RouteSettings` is a JSON map: CloudFormation's own key names.
    (this.stage.node.defaultChild as apigwv2.CfnStage).routeSettings = Lazy.any({
      produce: () => Object.fromEntries(
        [...this.routeThrottles].map(([key, budget]) => [key, { ThrottlingRateLimit: budget.ratePerSecond, ThrottlingBurstLimit: budget.burst }]),
      ),
    });
  }

  /** The budget each route key has of its own (routes absent here use the stage default). */
  get throttles(): ReadonlyMap<string, ThrottleBudget> {
    return this.routeThrottles;
  }

  /** Base URL without a trailing slash, e.g. `https://abc.execute-api.us-east-1.amazonaws.com`. */
  get url(): string {
    return `https://${this.httpApi.apiId}.execute-api.${Stack.of(this).region}.${Stack.of(this).urlSuffix}`;
  }

  addRoute(options: RouteOptions): apigwv2.HttpRoute {
    const key = `${options.method} ${options.path}`;
    if (this.routes.has(key)) throw new Error(`route ${key} is defined twice`);
    if (options.authorization === 'none' && !options.publicBecause) {
      throw new Error(`route ${key} is public: say why in publicBecause`);
    }
    const id = key.replace(/[^A-Za-z0-9]/g, '');
    const [route] = this.httpApi.addRoutes({
      path: options.path,
      methods: [options.method],
      integration: new HttpLambdaIntegration(`${id}Integration`, options.handler),
      authorizer: options.authorization === 'iam' ? new HttpIamAuthorizer() : undefined,
    });
    if (options.authorization === 'none') {
      Validations.of(route).acknowledge({ id: 'AwsSolutions-APIG4', reason: options.publicBecause! });
    }
    const throttle = options.throttle ?? (options.authorization === 'none' ? this.publicRouteThrottle : undefined);
    if (throttle) {
      this.routeThrottles.set(key, throttle);
      // The stage's route settings may only name routes that already exist.
      this.stage.node.addDependency(route);
    }
    this.routes.set(key, route);
    this.routeKeys.set(route, { method: options.method, path: options.path });
    return route;
  }

  /** Lets `role` call exactly these IAM-authorized routes (execute-api:Invoke on their ARNs only). */
  allowInvoke(id: string, role: iam.IRole, routes: apigwv2.HttpRoute[]): iam.Policy {
    return new iam.Policy(this, id, {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          actions: ['execute-api:Invoke'],
          resources: routes.map((r) => {
            const key = this.routeKeys.get(r);
            if (!key) throw new Error('allowInvoke: route was not added through this PlatformApi');
            return this.httpApi.arnForExecuteApi(key.method, key.path, '$default');
          }),
        }),
      ],
    });
  }
}
