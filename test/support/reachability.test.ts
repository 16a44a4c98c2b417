// The analyzer's AWS rules on small stacks built for the purpose, so each rule is seen both to open and
// to close a path (the environment tests in test/lib/reachability.test.ts only see the shipped shape).
import { describe, expect, it } from '@jest/globals';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NetworkModel, ReachabilityError, type CfnTemplate } from './reachability';

const ENV = { account: '123456789012', region: 'us-east-1' };

interface Options {
  nlbSecurityGroup?: 'none' | 'closed' | 'open';
  targetAdmits?: 'nlb-group' | 'vpc-cidr' | 'anywhere';
  preserveClientIp?: boolean;
  endpointService?: { enforce: boolean };
  lambda?: { endpoints: ('kms' | 'dynamodb' | 'execute-api')[] };
  metadata?: { requireImdsv2: boolean; hopLimit?: number };
  ssh?: boolean;
}

function build(o: Options) {
  const app = new App();
  const stack = new Stack(app, 'T', { env: ENV });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    ipAddresses: ec2.IpAddresses.cidr('10.9.0.0/16'),
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
  const targetSg = new ec2.SecurityGroup(stack, 'TargetSg', { vpc });
  let nlbSg: ec2.SecurityGroup | undefined;
  if (o.nlbSecurityGroup !== 'none') {
    nlbSg = new ec2.SecurityGroup(stack, 'NlbSg', { vpc, allowAllOutbound: o.nlbSecurityGroup === 'open' });
    if (o.nlbSecurityGroup === 'open') nlbSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443));
  }
  if (o.targetAdmits === 'nlb-group' && nlbSg) targetSg.addIngressRule(nlbSg, ec2.Port.tcp(443));
  if (o.targetAdmits === 'vpc-cidr') targetSg.addIngressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(443));
  if (o.targetAdmits === 'anywhere') targetSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443));
  if (o.ssh) targetSg.addIngressRule(ec2.Peer.ipv4('10.0.0.0/8'), ec2.Port.tcpRange(20, 30));
  const launchTemplate = new ec2.LaunchTemplate(stack, 'Lt', {
    machineImage: ec2.MachineImage.latestAmazonLinux2023(),
    instanceType: new ec2.InstanceType('t3.micro'),
    securityGroup: targetSg,
    requireImdsv2: o.metadata?.requireImdsv2 ?? true,
    httpPutResponseHopLimit: o.metadata ? o.metadata.hopLimit : 1,
  });
  const asg = new autoscaling.AutoScalingGroup(stack, 'Targets', { vpc, launchTemplate, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } });
  const nlb = new elbv2.NetworkLoadBalancer(stack, 'Nlb', { vpc, internetFacing: true, securityGroups: nlbSg ? [nlbSg] : [], crossZoneEnabled: true });
  nlb.addListener('L', { port: 443 }).addTargets('T', { port: 443, targets: [asg], preserveClientIp: o.preserveClientIp, healthCheck: { interval: Duration.seconds(10) } });
  if (o.endpointService) {
    new ec2.VpcEndpointService(stack, 'Service', { vpcEndpointServiceLoadBalancers: [nlb] });
    (nlb.node.defaultChild as elbv2.CfnLoadBalancer).enforceSecurityGroupInboundRulesOnPrivateLinkTraffic = o.endpointService.enforce ? 'on' : 'off';
  }
  if (o.lambda) {
    const fnSg = new ec2.SecurityGroup(stack, 'FnSg', { vpc });
    new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>1'),
      vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [fnSg],
    });
    for (const e of o.lambda.endpoints) {
      if (e === 'dynamodb') vpc.addGatewayEndpoint('Ddb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets: [{ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
      else vpc.addInterfaceEndpoint(e, { service: e === 'kms' ? ec2.InterfaceVpcEndpointAwsService.KMS : ec2.InterfaceVpcEndpointAwsService.APIGATEWAY, subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    }
  }
  const net = new NetworkModel({ T: Template.fromStack(stack).toJSON() as CfnTemplate }, ENV);
  return {
    net,
    nlb: net.find(net.loadBalancers, /Nlb/),
    targets: net.find(net.instanceGroups, /Targets/),
    fn: o.lambda ? net.find(net.functions, /Fn/) : '',
  };
}

const client = { kind: 'internet', ip: '198.51.100.7' } as const;

describe('network load balancer rules', () => {
  it('a security group without ingress stops clients at the NLB, and without egress stops health checks', () => {
    const m = build({ nlbSecurityGroup: 'closed', targetAdmits: 'nlb-group' });
    expect(m.net.throughLoadBalancer(client, m.nlb, 443).open).toBe(false);
    expect(m.net.healthChecks(m.nlb).open).toBe(false);
  });

  it('with ingress and egress, a target rule naming the NLB group admits clients and health checks', () => {
    const m = build({ nlbSecurityGroup: 'open', targetAdmits: 'nlb-group' });
    expect(m.net.throughLoadBalancer(client, m.nlb, 443).open).toBe(true);
    expect(m.net.healthChecks(m.nlb).open).toBe(true);
  });

  it('client IP preservation (instance targets): a target that admits only the VPC CIDR passes health checks but not clients', () => {
    const m = build({ nlbSecurityGroup: 'none', targetAdmits: 'vpc-cidr' });
    expect(m.net.healthChecks(m.nlb).open).toBe(true);
    expect(m.net.throughLoadBalancer(client, m.nlb, 443).open).toBe(false);
    expect(m.net.throughLoadBalancer(client, m.nlb, 444).trace.join()).toMatch(/no listener on 444/);
  });

  it('without client IP preservation the target sees the NLB\'s private address', () => {
    const m = build({ nlbSecurityGroup: 'none', targetAdmits: 'vpc-cidr', preserveClientIp: false });
    expect(m.net.throughLoadBalancer(client, m.nlb, 443).open).toBe(true);
  });

  it('PrivateLink traffic passes the NLB\'s inbound rules only while EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic is on', () => {
    const none = build({ nlbSecurityGroup: 'closed', targetAdmits: 'anywhere' });
    expect(none.net.throughLoadBalancer({ kind: 'privatelink' }, none.nlb, 443).trace.join()).toMatch(/no VPC endpoint service/);
    const enforced = build({ nlbSecurityGroup: 'closed', targetAdmits: 'anywhere', endpointService: { enforce: true } });
    expect(enforced.net.throughLoadBalancer({ kind: 'privatelink' }, enforced.nlb, 443).open).toBe(false);
    const skipped = build({ nlbSecurityGroup: 'closed', targetAdmits: 'anywhere', endpointService: { enforce: false } });
    // Inbound rules skipped, but the closed group still has no egress to the targets.
    expect(skipped.net.throughLoadBalancer({ kind: 'privatelink' }, skipped.nlb, 443).trace.join()).toMatch(/inbound rules skipped.*CLOSED, no egress/);
  });

  it('private instances reach an internet-facing NLB through NAT, as the NAT\'s Elastic IP', () => {
    const m = build({ nlbSecurityGroup: 'open', targetAdmits: 'nlb-group' });
    const v = m.net.throughLoadBalancer({ kind: 'instances', group: m.targets }, m.nlb, 443);
    expect(v.open).toBe(true);
    expect(v.trace.join()).toMatch(/source becomes .*EIP/);
  });
});

describe('Lambda functions in a VPC', () => {
  it('an isolated subnet reaches nothing without endpoints', () => {
    const m = build({ lambda: { endpoints: [] } });
    for (const service of ['kms', 'dynamodb', 'secretsmanager']) expect(m.net.toService({ kind: 'function', fn: m.fn }, service).open).toBe(false);
  });

  it('an interface endpoint with private DNS (KMS) and a gateway endpoint (DynamoDB) open exactly their services', () => {
    const m = build({ lambda: { endpoints: ['kms', 'dynamodb'] } });
    expect(m.net.toService({ kind: 'function', fn: m.fn }, 'kms').open).toBe(true);
    expect(m.net.toService({ kind: 'function', fn: m.fn }, 'dynamodb').open).toBe(true);
    expect(m.net.toService({ kind: 'function', fn: m.fn }, 'secretsmanager').open).toBe(false);
  });

  it('an execute-api endpoint with private DNS makes public HTTP APIs unreachable from the VPC', () => {
    const m = build({ lambda: { endpoints: ['execute-api'] } });
    expect(m.net.toService({ kind: 'instances', group: m.targets }, 'execute-api').trace.join()).toMatch(/serves only private REST APIs/);
  });

  it('a private subnet with NAT reaches public endpoints', () => {
    const m = build({});
    expect(m.net.toService({ kind: 'instances', group: m.targets }, 'secretsmanager').open).toBe(true);
  });
});

describe('instance metadata and SSH', () => {
  it('IMDS is closed to pods only with IMDSv2 required and hop limit 1', () => {
    const hop1 = build({ metadata: { requireImdsv2: true, hopLimit: 1 } });
    expect(hop1.net.podsToMetadata(hop1.targets).open).toBe(false);
    const hop2 = build({ metadata: { requireImdsv2: true, hopLimit: 2 } });
    expect(hop2.net.podsToMetadata(hop2.targets).open).toBe(true);
    const unset = build({ metadata: { requireImdsv2: true } });
    expect(unset.net.podsToMetadata(unset.targets).open).toBe(true);
    const v1 = build({ metadata: { requireImdsv2: false, hopLimit: 1 } });
    expect(v1.net.podsToMetadata(v1.targets).open).toBe(true);
  });

  it('a port range that covers 22 is SSH exposure', () => {
    expect(build({}).net.sshExposure()).toEqual([]);
    expect(build({ ssh: true }).net.sshExposure()).toEqual([expect.stringMatching(/TargetSg.*tcp\/20-30/)]);
  });
});

describe('what the analyzer cannot decide', () => {
  it('refuses custom network ACLs instead of ignoring them', () => {
    const app = new App();
    const stack = new Stack(app, 'T', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { availabilityZones: ['us-east-1a', 'us-east-1b'], natGateways: 0 });
    new ec2.NetworkAcl(stack, 'Acl', { vpc });
    expect(() => new NetworkModel({ T: Template.fromStack(stack).toJSON() as CfnTemplate }, ENV)).toThrow(ReachabilityError);
  });
});
