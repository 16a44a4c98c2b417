// The control plane: masters on Nitro-Enclaves-enabled instances (IMDSv2 only, encrypted EBS, no SSH,
// Session Manager for operators) in an auto-scaling group behind an NLB on 6443. The K3s server runs
// inside the enclave; the host only forwards bytes and fetches the measured image.
import { Duration, Fn, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/environment-config';
import type { EnclaveArtifacts } from '../shared/enclave-artifacts';
import type { StateStack } from '../state/state-stack';
import { ciphertextObjectKeys } from '../../enclave/src/common/host-protocol';
import { HostAgentAsset } from './host-agent-asset';
import { renderMasterUserData } from './master-user-data';

export const ENCLAVE_CID = 16;
export const KMS_VSOCK_PORT = 8000;
export const API_VSOCK_PORT = 8001;

export interface ControlPlaneStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly enclave: EnclaveArtifacts;
  readonly vpc: ec2.IVpc;
  readonly apiServerLoadBalancer: elbv2.INetworkLoadBalancer;
  /** The NLB's security group: the masters admit only it, and it gets its egress to them here. */
  readonly apiServerLoadBalancerSecurityGroup: ec2.ISecurityGroup;
  readonly state: StateStack;
  /** Base URL of the platform API (the enclave's webhook and attestation target). */
  readonly apiUrl: string;
}

export class ControlPlaneStack extends Stack {
  public readonly masterGroup: autoscaling.AutoScalingGroup;
  public readonly masterSecurityGroup: ec2.SecurityGroup;
  public readonly launchTemplate: ec2.LaunchTemplate;
  public readonly targetGroup: elbv2.NetworkTargetGroup;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    const { config, enclave, vpc, state } = props;
    const masterRole = state.masterRole;

    masterRole.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore'));
    Validations.of(masterRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason: 'Session Manager is the only operator access to masters (no SSH); this is its AWS-maintained minimum policy.',
    });

    let eifS3Uri = '';
    if (enclave.eifPath && enclave.pcrs) {
      const eif = new s3assets.Asset(this, 'EnclaveImage', { path: enclave.eifPath });
      // Exactly this object: the asset bucket holds every asset of the account.
      new iam.Policy(this, 'ReadEnclaveImage', {
        roles: [masterRole],
        statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [eif.bucket.arnForObjects(eif.s3ObjectKey)] })],
      });
      eifS3Uri = eif.s3ObjectUrl;
    }

    // The host agent (enclave/src/host-agent): its bundle, and what it needs on the enclave's behalf —
    // the enclave's two ciphertext objects in the snapshot bucket (ListBucket so a missing object
    // reads as 404, not 403) and the webhook bearer secret it hands in at boot.
    // Join-token publishing and the attestation post are granted by the API routes that own them.
    const hostAgent = new HostAgentAsset(this, 'HostAgent');
    const ciphertextKeys = Object.values(ciphertextObjectKeys(config.sui.clusterId));
    new iam.Policy(this, 'HostAgentStorage', {
      roles: [masterRole],
      statements: [
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [hostAgent.asset.bucket.arnForObjects(hostAgent.asset.s3ObjectKey)] }),
        new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: ciphertextKeys.map((key) => state.snapshotBucket.arnForObjects(key)) }),
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [state.snapshotBucket.bucketArn] }),
        new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [state.webhookSecret.secretArn] }),
      ],
    });

    this.masterSecurityGroup = new ec2.SecurityGroup(this, 'MasterSecurityGroup', {
      vpc,
      description: 'K3s-DaaS masters: 6443 from the NLB only, no SSH',
      allowAllOutbound: true,
    });
    // A rule naming the NLB's security group admits client traffic whatever the preserved client IP, and
    // the health checks; which clients may connect at all is the NLB group's business (network stack).
    const nlbSecurityGroup = props.apiServerLoadBalancerSecurityGroup;
    this.masterSecurityGroup.addIngressRule(nlbSecurityGroup, ec2.Port.tcp(6443), 'kube-apiserver through the NLB, and its health checks');
    // The egress half lives here, not in the network stack, which must not depend on the control plane.
    new ec2.CfnSecurityGroupEgress(this, 'LoadBalancerToMasters', {
      groupId: nlbSecurityGroup.securityGroupId,
      ipProtocol: 'tcp',
      fromPort: 6443,
      toPort: 6443,
      destinationSecurityGroupId: this.masterSecurityGroup.securityGroupId,
      description: 'kube-apiserver traffic and health checks to the masters',
    });

    const apiHost = Fn.select(2, Fn.split('/', props.apiUrl));
    const userData = ec2.UserData.custom(
      renderMasterUserData({
        AWS_REGION: config.region,
        EIF_S3_URI: eifS3Uri,
        EIF_SHA256: enclave.pcrs?.eifSha256 ?? '',
        MISSING_REASON: enclave.missingReason ?? '',
        ENCLAVE_CPU_COUNT: config.masters.enclaveCpuCount,
        ENCLAVE_MEMORY_MIB: config.masters.enclaveMemoryMiB,
        ENCLAVE_CID,
        KMS_HOST: `kms.${config.region}.amazonaws.com`,
        KMS_VSOCK_PORT,
        API_HOST: apiHost,
        API_VSOCK_PORT,
        HOST_AGENT_S3_URI: hostAgent.asset.s3ObjectUrl,
        CLUSTER_ID: config.sui.clusterId,
        CLUSTER_STATE_KEY_ID: state.clusterStateKey.keyArn,
        JOIN_TOKEN_KEY_ID: state.joinTokenKey.keyArn,
        API_URL: props.apiUrl,
        TLS_SANS: props.apiServerLoadBalancer.loadBalancerDnsName,
        WEBHOOK_SECRET_ARN: state.webhookSecret.secretArn,
        SNAPSHOT_BUCKET: state.snapshotBucket.bucketName,
        TABLE_NAME: state.table.tableName,
      }),
    );

    const arm = /^[a-z]+[0-9]+g/.test(config.masters.instanceType);
    this.launchTemplate = new ec2.LaunchTemplate(this, 'MasterLaunchTemplate', {
      instanceType: new ec2.InstanceType(config.masters.instanceType),
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: arm ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64 }),
      nitroEnclaveEnabled: true,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      role: masterRole,
      securityGroup: this.masterSecurityGroup,
      userData,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(40, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }) }],
    });

    this.masterGroup = new autoscaling.AutoScalingGroup(this, 'Masters', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      launchTemplate: this.launchTemplate,
      minCapacity: config.masters.count,
      maxCapacity: config.masters.count,
      healthChecks: autoscaling.HealthChecks.ec2({ gracePeriod: Duration.minutes(10) }),
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate(),
      // GroupInServiceInstances is what the master-count alarm watches (monitoring stack).
      groupMetrics: [autoscaling.GroupMetrics.all()],
    });
    Validations.of(this.masterGroup).acknowledge({
      id: 'AwsSolutions-AS3',
      reason: 'Scaling notifications are not used: the monitoring stack alarms to the alarm topic on the in-service master count, the NLB\'s healthy and unhealthy targets, and attestation freshness (no verified attestation within attestationMaxAgeMinutes).',
    });

    const listener = new elbv2.NetworkListener(this, 'KubeApiServer', { loadBalancer: props.apiServerLoadBalancer, port: 6443, protocol: elbv2.Protocol.TCP });
    this.targetGroup = listener.addTargets('Masters', {
      port: 6443,
      protocol: elbv2.Protocol.TCP,
      targets: [this.masterGroup],
      healthCheck: { protocol: elbv2.Protocol.TCP, interval: Duration.seconds(10) },
    });
  }
}
