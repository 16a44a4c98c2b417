import { describe, expect, it } from '@jest/globals';
import { Match } from 'aws-cdk-lib/assertions';
import * as fs from 'node:fs';
import { FIXTURE_PCRS, synthPlatform } from '../../support/cdk-app';

const fixturePcrs = JSON.parse(fs.readFileSync(FIXTURE_PCRS, 'utf8')) as { eifSha256: string };

describe('control plane stack', () => {
  const platform = synthPlatform({ env: 'dev' });
  const template = platform.template('controlPlane');

  it('launches masters from a Nitro-Enclaves-enabled template with IMDSv2 required and encrypted EBS', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        EnclaveOptions: { Enabled: true },
        MetadataOptions: Match.objectLike({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 }),
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true }) })],
        InstanceType: 'm6i.xlarge',
      }),
    });
  });

  it('has no SSH: no key pair and no port 22 ingress', () => {
    const templates = template.findResources('AWS::EC2::LaunchTemplate');
    for (const lt of Object.values(templates)) expect(JSON.stringify(lt)).not.toContain('KeyName');
    const json = JSON.stringify(template.toJSON());
    expect(json).not.toMatch(/"FromPort":22\b/);
  });

  it('runs the masters in an auto-scaling group of the configured size behind a TCP 6443 NLB listener', () => {
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '1', MaxSize: '1' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 6443, Protocol: 'TCP' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 6443, Protocol: 'TCP' });
  });

  it('gives the master role Session Manager and read access to exactly the EIF object', () => {
    const state = platform.template('state');
    state.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'k3s-daas-dev-master',
      ManagedPolicyArns: [Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('AmazonSSMManagedInstanceCore')])] })],
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [Match.objectLike({ Action: 's3:GetObject', Resource: Match.anyValue() })] },
    });
  });

  it('renders the EIF SHA-256 of pcrs.json into the user-data', () => {
    const json = JSON.stringify(template.findResources('AWS::EC2::LaunchTemplate'));
    expect(json).toContain(`readonly EIF_SHA256='${fixturePcrs.eifSha256}'`);
  });
});
