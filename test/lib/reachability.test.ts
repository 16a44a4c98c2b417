// Network paths of every environment, read from the synthesized templates as AWS would run them
// (test/support/reachability.ts): each path the platform needs is open and each forbidden one is closed.
import { describe, expect, it } from '@jest/globals';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import type { EnvironmentConfig } from '../../lib/config/environment-config';
import { cidrContains, NetworkModel, type CfnTemplate, type Source } from '../support/reachability';
import { synthPlatform } from '../support/cdk-app';

function model(config: EnvironmentConfig) {
  const platform = synthPlatform({ config });
  const templates: Record<string, CfnTemplate> = {};
  for (const s of ['network', 'state', 'api', 'controlPlane', 'workers'] as const) {
    templates[platform[s].stackName] = platform.template(s).toJSON() as CfnTemplate;
  }
  const net = new NetworkModel(templates, { region: config.region, account: config.account });
  const nlb = net.find(net.loadBalancers, /ApiServerLoadBalancer/);
  const masters = net.find(net.instanceGroups, /ControlPlane\/Masters/);
  const workers = config.workerGroups.map((g) => net.find(net.instanceGroups, new RegExp(`Workers/${g.name.replace(/-/g, '')}Workers`, 'i')));
  return { net, nlb, masters, workers, functions: [...net.functions.keys()] };
}

/** An address inside the CIDR that is a public one when the CIDR allows it (the NLB is internet-facing). */
function sampleIn(cidr: string): string {
  if (cidrContains(cidr, '198.51.100.7')) return '198.51.100.7';
  const [base, bits] = cidr.split('/');
  return Number(bits) === 32 ? base : base.replace(/\.\d+$/, (last) => `.${Number(last.slice(1)) + 1}`);
}

/** The verdict with its trace shown only when it is not the expected one, so a failure says which rule closed the path. */
const isOpen = (v: { open: boolean; trace: string[] }) => ({ open: v.open, trace: v.open ? [] : v.trace });
const isClosed = (v: { open: boolean; trace: string[] }) => ({ open: v.open, trace: v.open ? v.trace : [] });
const OPEN = { open: true, trace: [] };
const CLOSED = { open: false, trace: [] };

describe.each(Object.keys(ENVIRONMENTS))('reachability of environment %s', (env) => {
  const config = loadEnvironmentConfig(env);
  const m = model(config);

  it.each(config.masters.apiAllowedCidrs)('kubectl clients in %s reach kube-apiserver through the NLB on 6443', (cidr) => {
    expect(isOpen(m.net.throughLoadBalancer({ kind: 'internet', ip: sampleIn(cidr) }, m.nlb, 6443))).toEqual(OPEN);
  });

  it('the NLB health checks reach the masters', () => {
    expect(isOpen(m.net.healthChecks(m.nlb))).toEqual(OPEN);
  });

  it('workers reach kube-apiserver through the NLB, and the HTTP API', () => {
    for (const w of m.workers) {
      expect(isOpen(m.net.throughLoadBalancer({ kind: 'instances', group: w }, m.nlb, 6443))).toEqual(OPEN);
      expect(isOpen(m.net.toService({ kind: 'instances', group: w }, 'execute-api'))).toEqual(OPEN);
    }
  });

  it.each(['kms', 'execute-api', 'secretsmanager', 's3', 'dynamodb', 'ssm', 'ssmmessages', 'ec2messages'])(
    'masters (and the enclave through vsock-proxy) reach %s',
    (service) => {
      expect(isOpen(m.net.toService({ kind: 'instances', group: m.masters }, service))).toEqual(OPEN);
    },
  );

  it('masters reach KMS through its interface endpoint, not the internet', () => {
    expect(m.net.toService({ kind: 'instances', group: m.masters }, 'kms').trace.every((t) => /private DNS of .*Kms/.test(t))).toBe(true);
  });

  it.each(['dynamodb', 'kms', 'secretsmanager'])('every Lambda function reaches %s', (service) => {
    expect(m.functions.length).toBeGreaterThan(0);
    for (const fn of m.functions) expect(isOpen(m.net.toService({ kind: 'function', fn }, service))).toEqual(OPEN);
  });

  it('pods on workers (and on masters) cannot reach the instance metadata service', () => {
    for (const g of [...m.workers, m.masters]) expect(isClosed(m.net.podsToMetadata(g))).toEqual(CLOSED);
  });

  it('nothing is reachable over SSH and nothing launches with a key pair', () => {
    expect(m.net.sshExposure()).toEqual([]);
  });

  it('the masters are reachable only through the NLB: not from the internet, not from workers directly', () => {
    const internet: Source = { kind: 'internet', ip: '198.51.100.7' };
    expect(m.net.toInstances(internet, m.masters, 6443).anyOpen).toBe(false);
    for (const w of m.workers) expect(m.net.toInstances({ kind: 'instances', group: w }, m.masters, 6443).anyOpen).toBe(false);
    expect(m.net.throughLoadBalancer({ kind: 'privatelink' }, m.nlb, 6443).anyOpen).toBe(false);
  });

  it('workers take no traffic from the internet or the masters', () => {
    for (const w of m.workers) {
      for (const port of [22, 6443, 10250, 8472]) {
        expect(m.net.toInstances({ kind: 'internet', ip: '198.51.100.7' }, w, port).anyOpen).toBe(false);
        expect(m.net.toInstances({ kind: 'instances', group: m.masters }, w, port).anyOpen).toBe(false);
      }
    }
  });
});

describe('an environment that narrows apiAllowedCidrs', () => {
  const base = loadEnvironmentConfig('prod');
  const config: EnvironmentConfig = { ...base, masters: { ...base.masters, apiAllowedCidrs: ['203.0.113.0/24'] } };
  const m = model(config);

  it('admits clients inside the CIDR and refuses the rest at the NLB', () => {
    expect(isOpen(m.net.throughLoadBalancer({ kind: 'internet', ip: '203.0.113.9' }, m.nlb, 6443))).toEqual(OPEN);
    const outside = m.net.throughLoadBalancer({ kind: 'internet', ip: '198.51.100.7' }, m.nlb, 6443);
    expect(outside.open).toBe(false);
    expect(outside.trace.join('\n')).toMatch(/ApiServerLoadBalancer.*CLOSED/);
  });

  it('still lets workers in: they arrive from the NAT gateways\' Elastic IPs', () => {
    for (const w of m.workers) expect(isOpen(m.net.throughLoadBalancer({ kind: 'instances', group: w }, m.nlb, 6443))).toEqual(OPEN);
  });
});
