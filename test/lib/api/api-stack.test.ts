import { describe, expect, it } from '@jest/globals';
import { Match } from 'aws-cdk-lib/assertions';
import { synthPlatform } from '../../support/cdk-app';

describe('API stack', () => {
  const platform = synthPlatform({ env: 'dev' });
  const template = platform.template('api');

  it('is an HTTP API whose default stage logs access and throttles', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') }),
      DefaultRouteSettings: { ThrottlingRateLimit: platform.config.api.throttleRatePerSecond, ThrottlingBurstLimit: platform.config.api.throttleBurst },
    });
  });

  it('serves GET /healthz without auth', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /healthz', AuthorizationType: 'NONE' });
  });

  it('runs every function on nodejs24.x with tracing and a log group with retention', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: { Runtime: string; TracingConfig: unknown } }[];
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: platform.config.logRetentionDays });
  });

  it('refuses a public route that does not say why', async () => {
    const { PlatformApi } = await import('../../../lib/api/platform-api');
    const { Stack } = await import('aws-cdk-lib');
    const lambda = await import('aws-cdk-lib/aws-lambda');
    const { HttpMethod } = await import('aws-cdk-lib/aws-apigatewayv2');
    const stack = new Stack();
    const api = new PlatformApi(stack, 'Api', { throttleBurst: 1, throttleRatePerSecond: 1, publicRouteThrottle: { ratePerSecond: 1, burst: 1 }, logRetentionDays: 7 });
    const fn = new lambda.Function(stack, 'Fn', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'x.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
    expect(() => api.addRoute({ method: HttpMethod.GET, path: '/x', handler: fn, authorization: 'none' })).toThrow(/say why/);
    api.addRoute({ method: HttpMethod.GET, path: '/x', handler: fn, authorization: 'iam' });
    expect(() => api.addRoute({ method: HttpMethod.GET, path: '/x', handler: fn, authorization: 'iam' })).toThrow(/defined twice/);
  });
});
