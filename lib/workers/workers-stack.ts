// Worker capacity: one auto-scaling group per configured worker group, launched from a template with
// IMDSv2 (hop limit 1, so containers cannot reach the instance role), encrypted EBS and no SSH, and a
// terminating lifecycle hook so the cluster can drain a node before it disappears.
import { Annotations, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { EnvironmentConfig, WorkerGroupConfig } from '../config/environment-config';
import { names } from '../shared/names';

export interface WorkersStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly vpc: ec2.IVpc;
  readonly workerRole: iam.IRole;
  /** Renders the bootstrap for one group; the worker-join feature supplies it. */
  readonly userDataFor?: (group: WorkerGroupConfig) => ec2.UserData;
}

export interface WorkerGroup {
  readonly config: WorkerGroupConfig;
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly launchTemplate: ec2.LaunchTemplate;
  readonly lifecycleHook: autoscaling.LifecycleHook;
}

export class WorkersStack extends Stack {
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly groups: WorkerGroup[] = [];

  constructor(scope: Construct, id: string, props: WorkersStackProps) {
    super(scope, id, props);
    const { config, vpc } = props;

    this.securityGroup = new ec2.SecurityGroup(this, 'WorkerSecurityGroup', {
      vpc,
      description: 'K3s-DaaS workers: pod network between workers only, no SSH',
      allowAllOutbound: true,
    });
    this.securityGroup.addIngressRule(this.securityGroup, ec2.Port.udp(8472), 'flannel VXLAN between workers');
    this.securityGroup.addIngressRule(this.securityGroup, ec2.Port.tcp(10250), 'kubelet metrics between workers');

    for (const group of config.workerGroups) {
      const arm = /^[a-z]+[0-9]+g/.test(group.instanceType);
      const launchTemplate = new ec2.LaunchTemplate(this, `${pascal(group.name)}LaunchTemplate`, {
        instanceType: new ec2.InstanceType(group.instanceType),
        machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: arm ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64 }),
        requireImdsv2: true,
        httpPutResponseHopLimit: 1,
        role: props.workerRole,
        securityGroup: this.securityGroup,
        userData: props.userDataFor?.(group),
        blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(50, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }) }],
      });
      const autoScalingGroup = new autoscaling.AutoScalingGroup(this, `${pascal(group.name)}Workers`, {
        autoScalingGroupName: names.workerGroup(config, group),
        vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        launchTemplate,
        minCapacity: group.minSize,
        maxCapacity: group.maxSize,
        desiredCapacity: group.desiredCapacity,
        healthChecks: autoscaling.HealthChecks.ec2({ gracePeriod: Duration.minutes(5) }),
      });
      Annotations.of(autoScalingGroup).acknowledgeWarning(
        '@aws-cdk/aws-autoscaling:desiredCapacitySet',
        'The configured desiredCapacity is the intended size after every deploy.',
      );
      Validations.of(autoScalingGroup).acknowledge({
        id: 'AwsSolutions-AS3',
        reason: 'Instance launches and terminations are handled through the lifecycle hook and EventBridge, not SNS notifications.',
      });
      const lifecycleHook = autoScalingGroup.addLifecycleHook('DrainOnTerminate', {
        lifecycleHookName: names.workerLifecycleHook(),
        lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
        // If the drain handler never answers, the instance still goes away: a stuck hook must not pin capacity.
        defaultResult: autoscaling.DefaultResult.CONTINUE,
        heartbeatTimeout: Duration.minutes(10),
      });
      this.groups.push({ config: group, autoScalingGroup, launchTemplate, lifecycleHook });
    }
  }
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
}
