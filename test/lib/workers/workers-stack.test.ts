import { describe, expect, it } from '@jest/globals';
import { Match } from 'aws-cdk-lib/assertions';
import { synthPlatform } from '../../support/cdk-app';

describe('workers stack', () => {
  const platform = synthPlatform({ env: 'dev' });
  const template = platform.template('workers');
  const group = platform.config.workerGroups[0];

  it('launches workers with IMDSv2 required and hop limit 1, encrypted EBS, no key pair', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: Match.objectLike({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 }),
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true }) })],
        KeyName: Match.absent(),
      }),
    });
  });

  it('names the group predictably and sizes it from config', () => {
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      AutoScalingGroupName: `k3s-daas-dev-workers-${group.name}`,
      MinSize: String(group.minSize),
      MaxSize: String(group.maxSize),
      DesiredCapacity: String(group.desiredCapacity),
    });
  });

  it('has a terminating lifecycle hook', () => {
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      DefaultResult: 'CONTINUE',
    });
  });

  it('opens no port to the internet', () => {
    const groups = Object.values(template.findResources('AWS::EC2::SecurityGroup')) as { Properties: { SecurityGroupIngress?: { CidrIp?: string }[] } }[];
    for (const sg of groups) for (const rule of sg.Properties.SecurityGroupIngress ?? []) expect(rule.CidrIp).not.toBe('0.0.0.0/0');
  });

  it('runs one group per configured worker group', () => {
    const config = { ...platform.config, workerGroups: [group, { ...group, name: 'gpu', instanceType: 'g5.xlarge' }] };
    const two = synthPlatform({ config }).template('workers');
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
    two.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 2);
    two.resourceCountIs('AWS::AutoScaling::LifecycleHook', 2);
  });
});
