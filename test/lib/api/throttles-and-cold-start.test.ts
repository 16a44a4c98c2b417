// Per-route API throttles (issue 16 item 6) and the cold-start settings of the functions (item 3):
// the webhook's budget is its own, every other public route has a smaller one of its own, route settings
// name only routes that exist; source maps only where the bundle ships them; provisioned concurrency on
// authenticate through a `live` alias when the environment asks for it.
import { describe, expect, it } from '@jest/globals';
import type { Template } from 'aws-cdk-lib/assertions';
import { nodeOptionsFor } from '../../../lib/api/domain-function';
import { NO_SOURCE_MAP_FUNCTIONS } from '../../../lib/api/lambda-bundle';
import { synthPlatform } from '../../support/cdk-app';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] }; // eslint-disable-line @typescript-eslint/no-explicit-any

const AUTHENTICATE = 'POST /v1/authenticate: TokenReview webhook for kube-apiserver';

function stageOf(template: Template): Resource {
  const stages = Object.values(template.findResources('AWS::ApiGatewayV2::Stage')) as Resource[];
  expect(stages).toHaveLength(1);
  return stages[0];
}

function routes(template: Template): Map<string, { id: string; authorization: string }> {
  return new Map(Object.entries(template.findResources('AWS::ApiGatewayV2::Route')).map(([id, r]) => [r.Properties.RouteKey as string, { id, authorization: r.Properties.AuthorizationType as string }]));
}

function authenticateId(template: Template): string {
  const found = Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { Description: AUTHENTICATE } }));
  expect(found).toHaveLength(1);
  return found[0];
}

describe.each(['dev', 'prod'])('API throttles in %s', (env) => {
  const platform = synthPlatform({ env });
  const template = platform.template('api');
  const { api } = platform.config;
  const stage = stageOf(template);
  const settings = stage.Properties.RouteSettings as Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }>;
  const routeTable = routes(template);

  it('gives POST /v1/authenticate the webhook budget of its own', () => {
    expect(settings['POST /v1/authenticate']).toEqual({ ThrottlingRateLimit: api.webhookThrottle.ratePerSecond, ThrottlingBurstLimit: api.webhookThrottle.burst });
  });

  it('gives every other unauthenticated route the smaller public budget, each its own', () => {
    const publicRoutes = [...routeTable].filter(([key, r]) => r.authorization === 'NONE' && key !== 'POST /v1/authenticate').map(([key]) => key);
    for (const key of ['POST /v1/tokens/validate', 'POST /v1/kubeconfig', 'GET /v1/issuer', 'GET /healthz']) expect(publicRoutes).toContain(key);
    for (const key of publicRoutes) {
      expect(settings[key]).toEqual({ ThrottlingRateLimit: api.publicRouteThrottle.ratePerSecond, ThrottlingBurstLimit: api.publicRouteThrottle.burst });
    }
    expect(api.publicRouteThrottle.ratePerSecond).toBeLessThan(api.webhookThrottle.ratePerSecond);
    expect(api.publicRouteThrottle.burst).toBeLessThan(api.webhookThrottle.burst);
  });

  it('names only routes that exist, leaves IAM routes on the stage default, and waits for the routes it names', () => {
    for (const key of Object.keys(settings)) expect(routeTable.has(key)).toBe(true);
    for (const [key, route] of routeTable) {
      if (route.authorization === 'AWS_IAM') expect(settings[key]).toBeUndefined();
      else expect(stage.DependsOn).toContain(route.id);
    }
    expect(stage.Properties.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: api.throttleRatePerSecond, ThrottlingBurstLimit: api.throttleBurst });
  });
});

describe('provisioned concurrency on authenticate', () => {
  it('is on in prod: a live alias on the current version with the configured instances, and the route invokes the alias', () => {
    const platform = synthPlatform({ env: 'prod' });
    const template = platform.template('api');
    expect(platform.config.api.authenticateProvisionedConcurrency).toBeGreaterThan(0);
    const fnId = authenticateId(template);
    const aliases = Object.entries(template.findResources('AWS::Lambda::Alias')) as [string, Resource][];
    expect(aliases).toHaveLength(1);
    const [aliasId, alias] = aliases[0];
    expect(alias.Properties.Name).toBe('live');
    expect(JSON.stringify(alias.Properties.FunctionName)).toContain(fnId);
    expect(alias.Properties.ProvisionedConcurrencyConfig).toEqual({ ProvisionedConcurrentExecutions: platform.config.api.authenticateProvisionedConcurrency });
    const version = template.toJSON().Resources[alias.Properties.FunctionVersion['Fn::GetAtt'][0]];
    expect(version.Type).toBe('AWS::Lambda::Version');
    const integrations = Object.values(template.findResources('AWS::ApiGatewayV2::Integration')).map((i) => JSON.stringify(i.Properties.IntegrationUri));
    expect(integrations.filter((uri) => uri.includes(aliasId))).toHaveLength(1);
    // API Gateway may invoke the alias (the permission names it, not only the function).
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).map((p) => JSON.stringify(p.Properties.FunctionName));
    expect(permissions.some((name) => name.includes(aliasId))).toBe(true);
  });

  it('is off in dev: no alias, the route invokes the function', () => {
    const platform = synthPlatform({ env: 'dev' });
    const template = platform.template('api');
    expect(platform.config.api.authenticateProvisionedConcurrency).toBe(0);
    expect(Object.keys(template.findResources('AWS::Lambda::Alias'))).toHaveLength(0);
    const fnId = authenticateId(template);
    const integrations = Object.values(template.findResources('AWS::ApiGatewayV2::Integration')).map((i) => JSON.stringify(i.Properties.IntegrationUri));
    expect(integrations.some((uri) => uri.includes(fnId))).toBe(true);
  });
});

describe('function bundling settings', () => {
  const template = synthPlatform({ env: 'dev' }).template('api');
  const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];

  it('runs index.handler of the bundle; NODE_OPTIONS enables source maps exactly where the bundle ships them', () => {
    expect(functions.length).toBeGreaterThan(5);
    const seen = new Set<string>();
    for (const fn of functions) {
      expect(fn.Properties.Handler).toBe('index.handler');
      const name = fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME as string;
      seen.add(name);
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBe(nodeOptionsFor(name));
    }
    for (const name of NO_SOURCE_MAP_FUNCTIONS) {
      expect(seen).toContain(name);
      expect(nodeOptionsFor(name)).toBeUndefined();
    }
    expect(nodeOptionsFor('indexer')).toBe('--enable-source-maps');
  });
});
