import { describe, expect, it } from '@jest/globals';
import { Match } from 'aws-cdk-lib/assertions';
import { synthPlatform } from '../../support/cdk-app';

describe('network stack', () => {
  const template = synthPlatform({ env: 'dev' }).template('network');

  it('spans two AZs with public and private subnets, and logs all flows', () => {
    const subnets = Object.values(template.findResources('AWS::EC2::Subnet')) as { Properties: { AvailabilityZone: string } }[];
    expect(new Set(subnets.map((s) => s.Properties.AvailabilityZone))).toEqual(new Set(['us-east-1a', 'us-east-1b']));
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL' });
  });

  it('has gateway endpoints for DynamoDB and S3 and interface endpoints for KMS, STS and Session Manager', () => {
    template.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' }, 2);
    for (const service of ['kms', 'sts', 'ssm', 'ssmmessages', 'ec2messages']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface',
        ServiceName: Match.stringLikeRegexp(`\\.${service}$`),
        PrivateDnsEnabled: true,
      });
    }
  });

  it('exposes the kube-apiserver NLB publicly', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internet-facing' });
  });

  it('uses three AZs in prod', () => {
    const prod = synthPlatform({ env: 'prod' }).template('network');
    const zones = (Object.values(prod.findResources('AWS::EC2::Subnet')) as { Properties: { AvailabilityZone: string } }[]).map((s) => s.Properties.AvailabilityZone);
    expect(new Set(zones).size).toBe(3);
  });
});
