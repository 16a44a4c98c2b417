// The VPC every stateful compute part lives in: two or more AZs, private subnets for masters and
// workers, gateway endpoints for DynamoDB/S3, interface endpoints for the services the hosts and the
// enclave reach privately (KMS through vsock-proxy; SSM Session Manager; STS), and flow logs.
import { RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/environment-config';

// NLB access logs exist only for TLS listeners (Elastic Load Balancing user guide, "Access logs for your
// Network Load Balancer"); this one passes kube-apiserver's TLS through on TCP, so there is nothing to log.
const ELB2_REASON = 'TCP pass-through listener: NLB access logs are only written for TLS listeners. Connections are in the VPC flow logs (ALL traffic).';

export interface NetworkStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

export class NetworkStack extends Stack {
  private readonly zones: string[];

  public readonly vpc: ec2.Vpc;
  /** The kube-apiserver entry point; created here so the API, masters and workers can all name it. */
  public readonly apiServerLoadBalancer: elbv2.NetworkLoadBalancer;
  /**
   * The NLB's own security group: admits kubectl clients (masters.apiAllowedCidrs) and the NAT gateways'
   * Elastic IPs (workers resolve the internet-facing NLB to public addresses and arrive through NAT) on
   * 6443, and sends nothing until the control plane adds its egress to the masters.
   */
  public readonly apiServerLoadBalancerSecurityGroup: ec2.SecurityGroup;
  /** `https://<nlb dns>:6443`, the K3s server URL given to workers and kubeconfigs. */
  public readonly serverUrl: string;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.zones = ['a', 'b', 'c', 'd', 'e', 'f'].slice(0, config.network.maxAzs).map((s) => `${config.region}${s}`);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(config.network.cidr),
      availabilityZones: this.zones,
      natGateways: config.network.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      restrictDefaultSecurityGroup: true,
    });

    Validations.of(this.vpc).acknowledge({
      id: 'CloudFormation-Validate::W3010',
      reason: 'AZ names come from the environment config so synth needs no account lookup (DESIGN §3: offline synth).',
    });

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: config.logRetentionDays,
      removalPolicy: config.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    this.vpc.addGatewayEndpoint('DynamoDb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    const interfaceEndpoints: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
      Sts: ec2.InterfaceVpcEndpointAwsService.STS,
      Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
      SsmMessages: ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
      Ec2Messages: ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
    };
    for (const [name, service] of Object.entries(interfaceEndpoints)) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, { service, privateDnsEnabled: true, subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } });
      Validations.of(endpoint).acknowledge({
        id: 'AwsSolutions-EC23',
        reason: 'Endpoint security groups admit HTTPS from the VPC CIDR only (an intrinsic the rule cannot evaluate).',
      });
    }

    this.apiServerLoadBalancerSecurityGroup = new ec2.SecurityGroup(this, 'ApiServerLoadBalancerSecurityGroup', {
      vpc: this.vpc,
      description: 'K3s-DaaS kube-apiserver NLB: 6443 from the allowed client CIDRs and the NAT gateways',
      allowAllOutbound: false,
    });
    for (const cidr of config.masters.apiAllowedCidrs) {
      this.apiServerLoadBalancerSecurityGroup.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(6443), 'kubectl clients (masters.apiAllowedCidrs)');
    }
    // Workers reach the internet-facing NLB through NAT, so it sees them as the NAT gateways' addresses.
    for (const [i, subnet] of this.vpc.publicSubnets.entries()) {
      const eip = subnet.node.tryFindChild('EIP') as ec2.CfnEIP | undefined;
      if (eip) this.apiServerLoadBalancerSecurityGroup.addIngressRule(ec2.Peer.ipv4(`${eip.attrPublicIp}/32`), ec2.Port.tcp(6443), `workers through NAT gateway ${i + 1}`);
    }
    Validations.of(this.apiServerLoadBalancerSecurityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'kubectl clients connect from anywhere allowed by masters.apiAllowedCidrs; authentication is the seal-token webhook.',
    });

    this.apiServerLoadBalancer = new elbv2.NetworkLoadBalancer(this, 'ApiServerLoadBalancer', {
      vpc: this.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      crossZoneEnabled: true,
      securityGroups: [this.apiServerLoadBalancerSecurityGroup],
    });
    Validations.of(this.apiServerLoadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason: ELB2_REASON,
    });
    this.serverUrl = `https://${this.apiServerLoadBalancer.loadBalancerDnsName}:6443`;
  }

  /** Explicit AZ names keep synth offline: no availability-zone lookup against the account. */
  override get availabilityZones(): string[] {
    return this.zones;
  }
}
