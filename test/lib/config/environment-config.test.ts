import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { validateEnvironmentConfig } from '../../../lib/config/environment-config';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../../lib/config/environments';
import { REPO_ROOT } from '../../support/cdk-app';

const dev = ENVIRONMENTS.dev as Record<string, unknown>;

/** Sets `path` (dotted) in a deep copy of the dev config. */
function withField(path: string, value: unknown): unknown {
  const copy = structuredClone(dev) as Record<string, unknown>;
  const keys = path.split('.');
  let node: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  if (value === undefined) delete node[keys.at(-1)!];
  else node[keys.at(-1)!] = value;
  return copy;
}

describe('environment configuration', () => {
  it.each(Object.keys(ENVIRONMENTS))('%s is valid', (name) => {
    expect(loadEnvironmentConfig(name).name).toBe(name);
  });

  it('names the environments to choose from for an unknown one', () => {
    expect(() => loadEnvironmentConfig('staging')).toThrow('unknown environment "staging": choose one of dev, prod with -c env=<name>');
  });

  // One bad field at a time; the message must name exactly that field.
  it.each([
    ['account', '1234'],
    ['region', 'moon-1'],
    ['sui.network', 'fakenet'],
    ['sui.grpcUrl', 'not a url'],
    ['sui.packageId', '0x1234'],
    ['sui.stakingPoolId', undefined],
    ['sui.clusterId', 'Bad_Cluster'],
    ['network.maxAzs', 1],
    ['masters.instanceType', 't3.micro'],
    ['masters.count', 3],
    ['masters.enclaveCpuCount', 3],
    ['masters.enclaveMemoryMiB', 512],
    ['workerGroups.0.desiredCapacity', 99],
    ['workerGroups.0.nodeStakeId', 'nope'],
    ['k3s.version', '1.34'],
    ['k3s.sha256Amd64', 'abc'],
    ['api.throttleBurst', 0],
    ['api.webhookThrottle.burst', 0],
    ['api.webhookThrottle', undefined],
    ['api.publicRouteThrottle.ratePerSecond', 1.5],
    ['api.authenticateProvisionedConcurrency', -1],
    ['api.authenticateProvisionedConcurrency', undefined],
    ['indexer.scheduleMinutes', 0],
    ['indexer.maxIndexAgeSeconds', 30],
    ['indexer.maxIndexAgeSeconds', undefined],
    ['logRetentionDays', 3],
    ['alarms.emails', []],
    ['alarms.emails.0', 'not-an-address'],
    ['alarms', undefined],
  ])('rejects a bad %s naming the field', (field, value) => {
    expect(() => validateEnvironmentConfig(withField(field, value), 'dev')).toThrow(new RegExp(`^invalid configuration for environment "dev": ${field.replace(/\./g, '\\.')} `));
  });

  it('refuses a public-route budget larger than the webhook\'s (a public flood must not outlast the webhook)', () => {
    const raw = withField('api.publicRouteThrottle', { ratePerSecond: 60, burst: 20 }) as { api: { webhookThrottle: unknown } };
    raw.api.webhookThrottle = { ratePerSecond: 50, burst: 100 };
    expect(() => validateEnvironmentConfig(raw, 'dev')).toThrow(/api\.publicRouteThrottle .*must not exceed webhookThrottle/);
    raw.api.webhookThrottle = { ratePerSecond: 60, burst: 100 };
    expect(validateEnvironmentConfig(raw, 'dev').api.publicRouteThrottle).toEqual({ ratePerSecond: 60, burst: 20 });
  });

  it('refuses an index staleness bound shorter than two indexer intervals (every check would refuse between runs)', () => {
    const raw = withField('indexer.scheduleMinutes', 5) as { indexer: { maxIndexAgeSeconds: number } };
    raw.indexer.maxIndexAgeSeconds = 599;
    expect(() => validateEnvironmentConfig(raw, 'dev')).toThrow(/indexer\.maxIndexAgeSeconds must be at least two indexer intervals/);
    raw.indexer.maxIndexAgeSeconds = 600;
    expect(validateEnvironmentConfig(raw, 'dev').indexer.maxIndexAgeSeconds).toBe(600);
  });

  it('accepts the previous enclave release\'s measurements for an upgrade and names a bad one', () => {
    const good = { PCR0: 'a'.repeat(96), PCR1: 'b'.repeat(96), PCR2: 'c'.repeat(96) };
    expect(validateEnvironmentConfig(withField('previousEnclavePcrs', good), 'dev').previousEnclavePcrs).toEqual(good);
    expect(() => validateEnvironmentConfig(withField('previousEnclavePcrs', { ...good, PCR0: 'abc' }), 'dev'))
      .toThrow(/previousEnclavePcrs\.PCR0 must be 96 lowercase hex/);
  });

  it('rejects unknown fields (typos) and duplicate worker group names', () => {
    expect(() => validateEnvironmentConfig({ ...dev, masterz: {} }, 'dev')).toThrow(/\(root\) Unrecognized key/);
    const groups = (dev.workerGroups as unknown[]).concat(dev.workerGroups as unknown[]);
    expect(() => validateEnvironmentConfig({ ...dev, workerGroups: groups }, 'dev')).toThrow(/workerGroups\.1\.name must be unique/);
  });

  it('makes `cdk synth` fail with one line naming the problem, no stack trace', () => {
    const run = spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['bin/app.ts'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ env: 'staging' }), CDK_OUTDIR: '/tmp/k3s-daas-bad-env' },
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe('k3s-daas synth: unknown environment "staging": choose one of dev, prod with -c env=<name>');
  });
});
