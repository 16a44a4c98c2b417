// Reachability over synthesized CloudFormation templates, by AWS's rules, so a test can show that each
// network path the platform needs is open and each forbidden one is closed before anything is deployed.
//
// What it models (and the AWS rule each follows):
// - Security groups are stateful: only the initiating direction is checked (source's egress, then the
//   destination's ingress); a reply is always allowed. A group whose template lists no egress keeps AWS's
//   default allow-all egress; one that lists egress has exactly those rules (plus standalone Egress rules).
// - A rule matches by protocol (-1 = all), port range, and either a CIDR, a referenced security group
//   (matches traffic from an ENI in that group) or a prefix list (only AWS-service traffic).
// - Network Load Balancers: with security groups, client traffic must pass the NLB's inbound rules (for
//   PrivateLink traffic only if EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic is on, the default);
//   traffic to targets and health checks must pass the NLB's outbound rules; health checks are not subject
//   to the NLB's inbound rules. The target's ingress sees the NLB's security group (a rule referencing it
//   admits client traffic whatever the client IP preservation), else the client IP when client IP
//   preservation is on (default for instance targets over TCP) or the NLB's private IP when it is off.
//   Health checks always come from the NLB's private IPs. Without cross-zone load balancing an NLB only
//   reaches targets in its own zones.
// - Routing: traffic inside the VPC CIDR is local. Anything else follows the subnet's route table: a
//   gateway endpoint for the destination service, else the default route to a NAT gateway (whose own
//   subnet must route to an internet gateway; the source becomes the NAT's Elastic IP) or to the internet
//   gateway (only for an ENI with a public IP). Internet-facing NLBs resolve to public IPs even inside the
//   VPC, so a private instance reaches one through NAT, as the NAT's public address.
// - AWS services: an interface endpoint with private DNS in the VPC takes the service's regional name
//   (its security group must admit the caller on 443); otherwise the public endpoint over the routes above.
//   Lambda functions outside a VPC reach public endpoints through the Lambda service's own network.
// - Instance metadata from a container: the token PUT answer of IMDSv2 dies after HttpPutResponseHopLimit
//   hops, and a bridged pod is one hop further than the host, so IMDS is closed to pods only when tokens
//   are required with hop limit 1 (or the endpoint is off). An unset hop limit is taken as open: Amazon
//   Linux 2023 AMIs default it to 2.
// Anything it cannot decide (custom network ACLs, peering, transit gateways, an Elastic IP compared with
// a public CIDR) throws instead of guessing.

type Json = Record<string, unknown>;
interface CfnResource { Type: string; Properties?: Json }
export interface CfnTemplate { Resources?: Record<string, CfnResource>; Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }> }

/** A resolved value: a literal string or number, or a symbolic reference to a resource attribute. */
type Value = string | number | boolean | null | Sym | Value[] | { [k: string]: Value };
interface Sym { sym: 'ref' | 'att'; stack: string; id: string; attr?: string }

const isSym = (v: unknown): v is Sym => typeof v === 'object' && v !== null && 'sym' in v;
const key = (stack: string, id: string) => `${stack}/${id}`;

export class ReachabilityError extends Error {}

export interface Verdict {
  readonly open: boolean;
  /** The hops taken, or the first rule that closed the path. */
  readonly trace: string[];
}

interface Rule { protocol: string; from: number; to: number; cidr?: string; eip?: string; sg?: string; prefixList?: boolean; description?: string }
interface SecurityGroup { id: string; vpc: string; ingress: Rule[]; egress: Rule[]; defaultEgress: boolean }
interface Subnet { id: string; vpc: string; cidr: string; az: string; routeTable?: string; publicIpOnLaunch: boolean }
interface Route { destination: string; natGateway?: string; internetGateway?: string; other?: string }
interface RouteTable { id: string; routes: Route[]; gatewayEndpoints: string[] }
interface Nat { id: string; subnet: string; eip: string }
interface InterfaceEndpoint { id: string; vpc: string; service: string; subnets: string[]; securityGroups: string[]; privateDns: boolean }
interface GatewayEndpoint { id: string; service: string; routeTables: string[] }
interface LoadBalancer { id: string; scheme: 'internet-facing' | 'internal'; subnets: string[]; securityGroups: string[]; crossZone: boolean; enforceOnPrivateLink: boolean; endpointService: boolean }
interface Listener { id: string; loadBalancer: string; port: number; protocol: string; targetGroup: string }
interface TargetGroup { id: string; port: number; protocol: string; targetType: string; preserveClientIp: boolean; healthCheckPort: number | 'traffic-port' }
export interface InstanceGroup { id: string; subnets: string[]; securityGroups: string[]; targetGroups: string[]; metadata: { tokens?: string; hopLimit?: number; endpoint?: string }; keyName: boolean; publicIp: boolean }
export interface FunctionPlacement { id: string; subnets: string[]; securityGroups: string[] }

/** Where traffic starts. */
export type Source =
  | { kind: 'internet'; ip: string }
  | { kind: 'instances'; group: string }
  | { kind: 'function'; fn: string }
  /** A consumer of a VPC endpoint service in front of the load balancer (PrivateLink). */
  | { kind: 'privatelink' };

/** An address on the wire: a concrete IP, or the public IP of a NAT gateway's Elastic IP. */
type Address = { ip: string } | { eip: string };

export class NetworkModel {
  readonly securityGroups = new Map<string, SecurityGroup>();
  readonly subnets = new Map<string, Subnet>();
  readonly routeTables = new Map<string, RouteTable>();
  readonly nats = new Map<string, Nat>();
  readonly interfaceEndpoints: InterfaceEndpoint[] = [];
  readonly gatewayEndpoints: GatewayEndpoint[] = [];
  readonly loadBalancers = new Map<string, LoadBalancer>();
  readonly listeners: Listener[] = [];
  readonly targetGroups = new Map<string, TargetGroup>();
  readonly instanceGroups = new Map<string, InstanceGroup>();
  readonly functions = new Map<string, FunctionPlacement>();

  /** `templates`: stack name → template, every stack of one environment (cross-stack values are followed). */
  constructor(
    private readonly templates: Record<string, CfnTemplate>,
    private readonly env: { region: string; account: string },
  ) {
    for (const [stack, template] of Object.entries(templates)) this.load(stack, template);
    this.link();
  }

  // ---- intrinsic resolution -------------------------------------------------------------------

  private resolve(stack: string, v: unknown): Value {
    if (v === null || typeof v !== 'object') return v as Value;
    if (Array.isArray(v)) return v.map((x) => this.resolve(stack, x));
    const o = v as Json;
    if ('Ref' in o) {
      const name = String(o.Ref);
      const pseudo: Record<string, string> = { 'AWS::Region': this.env.region, 'AWS::AccountId': this.env.account, 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com' };
      if (name in pseudo) return pseudo[name];
      return { sym: 'ref', stack, id: name };
    }
    if ('Fn::GetAtt' in o) {
      const [id, attr] = o['Fn::GetAtt'] as [string, string];
      const r = this.templates[stack]?.Resources?.[id];
      if (r?.Type === 'AWS::EC2::VPC' && attr === 'CidrBlock') return this.resolve(stack, r.Properties?.CidrBlock);
      if (r?.Type === 'AWS::EC2::SecurityGroup' && attr === 'GroupId') return { sym: 'ref', stack, id };
      return { sym: 'att', stack, id, attr };
    }
    if ('Fn::GetStackOutput' in o) {
      const { StackName, OutputName } = o['Fn::GetStackOutput'] as { StackName: string; OutputName: string };
      const output = this.templates[StackName]?.Outputs?.[OutputName];
      if (!output) throw new ReachabilityError(`${stack}: no output ${OutputName} in stack ${StackName}`);
      return this.resolve(StackName, output.Value);
    }
    if ('Fn::ImportValue' in o) {
      const name = this.resolve(stack, o['Fn::ImportValue']);
      for (const [other, t] of Object.entries(this.templates)) {
        for (const output of Object.values(t.Outputs ?? {})) {
          if (output.Export && this.resolve(other, output.Export.Name) === name) return this.resolve(other, output.Value);
        }
      }
      throw new ReachabilityError(`${stack}: no export ${JSON.stringify(name)}`);
    }
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      const resolved = parts.map((p) => this.resolve(stack, p));
      if (resolved.every((p) => typeof p === 'string' || typeof p === 'number')) return resolved.join(sep);
      // `<eip public ip>/32` is how a rule names one Elastic IP.
      if (sep === '' && resolved.length === 2 && isSym(resolved[0]) && resolved[0].attr === 'PublicIp' && resolved[1] === '/32') {
        return { sym: 'att', stack: resolved[0].stack, id: resolved[0].id, attr: 'PublicIp/32' };
      }
      return { sym: 'att', stack, id: JSON.stringify(resolved), attr: 'join' };
    }
    const out: Record<string, Value> = {};
    for (const [k, x] of Object.entries(o)) out[k] = this.resolve(stack, x);
    return out;
  }

  private idOf(stack: string, v: unknown, what: string): string {
    const r = this.resolve(stack, v);
    if (isSym(r) && (r.sym === 'ref' || r.attr === 'GroupId')) return key(r.stack, r.id);
    throw new ReachabilityError(`${stack}: ${what} ${JSON.stringify(r)} is not a reference to a resource in these templates`);
  }

  private ids(stack: string, v: unknown, what: string): string[] {
    if (v === undefined) return [];
    return (v as unknown[]).map((x) => this.idOf(stack, x, what));
  }

  // ---- loading --------------------------------------------------------------------------------

  private load(stack: string, template: CfnTemplate): void {
    for (const [id, r] of Object.entries(template.Resources ?? {})) {
      const p = r.Properties ?? {};
      const k = key(stack, id);
      switch (r.Type) {
        case 'AWS::EC2::Subnet':
          this.subnets.set(k, {
            id: k,
            vpc: this.idOf(stack, p.VpcId, 'subnet VPC'),
            cidr: String(this.resolve(stack, p.CidrBlock)),
            az: String(this.resolve(stack, p.AvailabilityZone)),
            publicIpOnLaunch: p.MapPublicIpOnLaunch === true,
          });
          break;
        case 'AWS::EC2::RouteTable':
          this.routeTables.set(k, { id: k, routes: [], gatewayEndpoints: [] });
          break;
        case 'AWS::EC2::NatGateway':
          this.nats.set(k, { id: k, subnet: this.idOf(stack, p.SubnetId, 'NAT subnet'), eip: this.eipOf(stack, p.AllocationId) });
          break;
        case 'AWS::EC2::SecurityGroup': {
          const egress = p.SecurityGroupEgress as Json[] | undefined;
          this.securityGroups.set(k, {
            id: k,
            vpc: this.idOf(stack, p.VpcId, 'security group VPC'),
            ingress: ((p.SecurityGroupIngress as Json[] | undefined) ?? []).map((x) => this.rule(stack, x, 'in')),
            egress: (egress ?? []).map((x) => this.rule(stack, x, 'out')),
            defaultEgress: egress === undefined,
          });
          break;
        }
        case 'AWS::EC2::VPCEndpoint':
          if (p.VpcEndpointType === 'Interface') {
            this.interfaceEndpoints.push({
              id: k,
              vpc: this.idOf(stack, p.VpcId, 'endpoint VPC'),
              service: serviceOf(String(this.resolve(stack, p.ServiceName))),
              subnets: this.ids(stack, p.SubnetIds, 'endpoint subnet'),
              securityGroups: this.ids(stack, p.SecurityGroupIds, 'endpoint security group'),
              privateDns: p.PrivateDnsEnabled === true,
            });
          } else if (p.VpcEndpointType === 'Gateway') {
            this.gatewayEndpoints.push({ id: k, service: serviceOf(String(this.resolve(stack, p.ServiceName))), routeTables: this.ids(stack, p.RouteTableIds, 'endpoint route table') });
          } else {
            throw new ReachabilityError(`${k}: VPC endpoint type ${String(p.VpcEndpointType)} is not modelled`);
          }
          break;
        case 'AWS::ElasticLoadBalancingV2::LoadBalancer': {
          if (p.Type !== 'network') throw new ReachabilityError(`${k}: only network load balancers are modelled`);
          const attrs = new Map(((p.LoadBalancerAttributes as { Key: string; Value: string }[] | undefined) ?? []).map((a) => [a.Key, String(a.Value)]));
          this.loadBalancers.set(k, {
            id: k,
            scheme: p.Scheme === 'internal' ? 'internal' : 'internet-facing',
            subnets: this.ids(stack, p.Subnets, 'load balancer subnet'),
            securityGroups: this.ids(stack, p.SecurityGroups, 'load balancer security group'),
            crossZone: attrs.get('load_balancing.cross_zone.enabled') === 'true',
            enforceOnPrivateLink: p.EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic !== 'off',
            endpointService: false,
          });
          break;
        }
        case 'AWS::ElasticLoadBalancingV2::TargetGroup': {
          const attrs = new Map(((p.TargetGroupAttributes as { Key: string; Value: string }[] | undefined) ?? []).map((a) => [a.Key, String(a.Value)]));
          const targetType = String(p.TargetType ?? 'instance');
          const protocol = String(p.Protocol);
          const defaultPreserve = targetType === 'instance' || protocol === 'UDP' || protocol === 'TCP_UDP';
          this.targetGroups.set(k, {
            id: k,
            port: Number(p.Port),
            protocol,
            targetType,
            preserveClientIp: attrs.has('preserve_client_ip.enabled') ? attrs.get('preserve_client_ip.enabled') === 'true' : defaultPreserve,
            healthCheckPort: p.HealthCheckPort === undefined || p.HealthCheckPort === 'traffic-port' ? 'traffic-port' : Number(p.HealthCheckPort),
          });
          break;
        }
        case 'AWS::AutoScaling::AutoScalingGroup': {
          const lt = p.LaunchTemplate as Json | undefined;
          if (!lt) throw new ReachabilityError(`${k}: only launch-template groups are modelled`);
          const ltId = this.idOf(stack, lt.LaunchTemplateId, 'launch template');
          const [ltStack, ltLogical] = splitKey(ltId);
          const data = (this.templates[ltStack]?.Resources?.[ltLogical]?.Properties?.LaunchTemplateData ?? {}) as Json;
          const nics = (data.NetworkInterfaces as Json[] | undefined) ?? [];
          const metadata = (data.MetadataOptions ?? {}) as Json;
          this.instanceGroups.set(k, {
            id: k,
            subnets: this.ids(stack, p.VPCZoneIdentifier, 'group subnet'),
            securityGroups: [
              ...this.ids(ltStack, data.SecurityGroupIds, 'instance security group'),
              ...nics.flatMap((n) => this.ids(ltStack, n.Groups, 'instance security group')),
            ],
            targetGroups: this.ids(stack, p.TargetGroupARNs, 'target group'),
            metadata: {
              tokens: metadata.HttpTokens as string | undefined,
              hopLimit: metadata.HttpPutResponseHopLimit as number | undefined,
              endpoint: metadata.HttpEndpoint as string | undefined,
            },
            keyName: data.KeyName !== undefined,
            publicIp: nics.some((n) => n.AssociatePublicIpAddress === true),
          });
          break;
        }
        case 'AWS::Lambda::Function': {
          const vpc = p.VpcConfig as Json | undefined;
          this.functions.set(k, {
            id: k,
            subnets: vpc ? this.ids(stack, vpc.SubnetIds, 'function subnet') : [],
            securityGroups: vpc ? this.ids(stack, vpc.SecurityGroupIds, 'function security group') : [],
          });
          break;
        }
        case 'AWS::EC2::Instance':
        case 'AWS::EC2::NetworkAcl':
        case 'AWS::EC2::NetworkAclEntry':
        case 'AWS::EC2::SubnetNetworkAclAssociation':
        case 'AWS::EC2::VPCPeeringConnection':
        case 'AWS::EC2::TransitGatewayAttachment':
        case 'AWS::EC2::TransitGatewayVpcAttachment':
        case 'AWS::EC2::NetworkInterface':
          throw new ReachabilityError(`${k}: ${r.Type} is not modelled; extend the analyzer before relying on it`);
        default:
      }
    }
  }

  /** Second pass: things that point at resources of other stacks. */
  private link(): void {
    for (const [stack, template] of Object.entries(this.templates)) {
      for (const [id, r] of Object.entries(template.Resources ?? {})) {
        const p = r.Properties ?? {};
        switch (r.Type) {
          case 'AWS::EC2::SecurityGroupIngress':
            this.group(this.idOf(stack, p.GroupId, 'rule group')).ingress.push(this.rule(stack, p, 'in'));
            break;
          case 'AWS::EC2::SecurityGroupEgress':
            this.group(this.idOf(stack, p.GroupId, 'rule group')).egress.push(this.rule(stack, p, 'out'));
            break;
          case 'AWS::EC2::SubnetRouteTableAssociation':
            this.subnet(this.idOf(stack, p.SubnetId, 'associated subnet')).routeTable = this.idOf(stack, p.RouteTableId, 'route table');
            break;
          case 'AWS::EC2::Route': {
            const table = this.routeTables.get(this.idOf(stack, p.RouteTableId, 'route table'));
            if (!table) throw new ReachabilityError(`${key(stack, id)}: unknown route table`);
            const destination = String(this.resolve(stack, p.DestinationCidrBlock ?? p.DestinationIpv6CidrBlock));
            if (p.NatGatewayId) table.routes.push({ destination, natGateway: this.idOf(stack, p.NatGatewayId, 'NAT gateway') });
            else if (p.GatewayId) table.routes.push({ destination, internetGateway: this.idOf(stack, p.GatewayId, 'internet gateway') });
            else throw new ReachabilityError(`${key(stack, id)}: route target ${JSON.stringify(p)} is not modelled`);
            break;
          }
          case 'AWS::ElasticLoadBalancingV2::Listener': {
            const actions = (p.DefaultActions as Json[]) ?? [];
            const forward = actions.find((a) => a.Type === 'forward');
            if (!forward) throw new ReachabilityError(`${key(stack, id)}: only forwarding listeners are modelled`);
            this.listeners.push({
              id: key(stack, id),
              loadBalancer: this.idOf(stack, p.LoadBalancerArn, 'listener load balancer'),
              port: Number(p.Port),
              protocol: String(p.Protocol),
              targetGroup: this.idOf(stack, forward.TargetGroupArn, 'listener target group'),
            });
            break;
          }
          case 'AWS::EC2::VPCEndpointService':
            for (const nlb of this.ids(stack, p.NetworkLoadBalancerArns, 'endpoint service load balancer')) {
              const lb = this.loadBalancers.get(nlb);
              if (lb) lb.endpointService = true;
            }
            break;
          default:
        }
      }
    }
    for (const table of this.routeTables.values()) {
      table.gatewayEndpoints = this.gatewayEndpoints.filter((e) => e.routeTables.includes(table.id)).map((e) => e.service);
    }
  }

  private eipOf(stack: string, allocation: unknown): string {
    const r = this.resolve(stack, allocation);
    if (isSym(r) && r.attr === 'AllocationId') return key(r.stack, r.id);
    throw new ReachabilityError(`${stack}: NAT allocation ${JSON.stringify(r)} is not an Elastic IP of these templates`);
  }

  private rule(stack: string, p: Json, direction: 'in' | 'out'): Rule {
    const protocol = String(p.IpProtocol);
    const all = protocol === '-1' || protocol === 'all';
    const rule: Rule = {
      protocol: all ? '-1' : protocol,
      from: all ? 0 : Number(p.FromPort ?? 0),
      to: all ? 65535 : Number(p.ToPort ?? 65535),
      description: p.Description === undefined ? undefined : String(this.resolve(stack, p.Description)),
    };
    const cidr = this.resolve(stack, p.CidrIp);
    if (p.CidrIpv6 !== undefined) rule.cidr = 'ipv6';
    else if (typeof cidr === 'string') rule.cidr = cidr;
    else if (isSym(cidr) && cidr.attr === 'PublicIp/32') rule.eip = key(cidr.stack, cidr.id);
    else if (cidr !== undefined) throw new ReachabilityError(`${stack}: rule CIDR ${JSON.stringify(cidr)} cannot be resolved`);
    const peer = direction === 'in' ? p.SourceSecurityGroupId : p.DestinationSecurityGroupId;
    if (peer !== undefined) rule.sg = this.idOf(stack, peer, 'rule peer security group');
    if ((direction === 'in' ? p.SourcePrefixListId : p.DestinationPrefixListId) !== undefined) rule.prefixList = true;
    return rule;
  }

  private group(id: string): SecurityGroup {
    const g = this.securityGroups.get(id);
    if (!g) throw new ReachabilityError(`unknown security group ${id}`);
    return g;
  }

  private subnet(id: string): Subnet {
    const s = this.subnets.get(id);
    if (!s) throw new ReachabilityError(`unknown subnet ${id}`);
    return s;
  }

  // ---- rule evaluation ------------------------------------------------------------------------

  /** Does one of `groups`' rules (in `direction`) admit TCP `port` with this peer? */
  private admits(groups: string[], direction: 'in' | 'out', port: number, peer: { address?: Address; groups?: string[]; awsService?: boolean }): Rule | undefined {
    let undecided: ReachabilityError | undefined;
    for (const g of groups.map((id) => this.group(id))) {
      const rules = direction === 'out' && g.defaultEgress ? [{ protocol: '-1', from: 0, to: 65535, cidr: '0.0.0.0/0' }, ...g.egress] : direction === 'out' ? g.egress : g.ingress;
      for (const r of rules) {
        if (r.protocol !== '-1' && r.protocol !== 'tcp' && r.protocol !== '6') continue;
        if (port < r.from || port > r.to) continue;
        if (r.sg && peer.groups?.includes(r.sg)) return r;
        if (r.prefixList && peer.awsService) return r;
        try {
          if (peer.address && (r.cidr || r.eip) && addressIn(peer.address, r)) return r;
        } catch (error) {
          if (!(error instanceof ReachabilityError)) throw error;
          undecided = error;
        }
      }
    }
    // Only undecidable when no other rule settles it.
    if (undecided) throw undecided;
    return undefined;
  }

  private groupsAdmit(trace: string[], what: string, groups: string[], direction: 'in' | 'out', port: number, peer: Parameters<NetworkModel['admits']>[3]): boolean {
    if (groups.length === 0) {
      trace.push(`${what}: no security group, so nothing to pass`);
      return true;
    }
    const rule = this.admits(groups, direction, port, peer);
    trace.push(rule ? `${what}: ${direction === 'in' ? 'ingress' : 'egress'} ${describeRule(rule)} on ${port}` : `${what}: CLOSED, no ${direction === 'in' ? 'ingress' : 'egress'} rule of ${groups.join(', ')} admits tcp/${port} ${describePeer(peer)}`);
    return rule !== undefined;
  }

  /** The route a packet from `subnet` to an address outside the VPC takes: 'gateway-endpoint', a NAT, the IGW, or none. */
  private egressRoute(subnet: string, opts: { service?: string; publicIp: boolean }): { via: 'endpoint' } | { via: 'nat'; eip: string; nat: string } | { via: 'igw' } | undefined {
    const s = this.subnet(subnet);
    const table = s.routeTable ? this.routeTables.get(s.routeTable) : undefined;
    if (!table) return undefined;
    if (opts.service && table.gatewayEndpoints.includes(opts.service)) return { via: 'endpoint' };
    const def = table.routes.find((r) => r.destination === '0.0.0.0/0');
    if (!def) return undefined;
    if (def.internetGateway) return opts.publicIp ? { via: 'igw' } : undefined;
    if (def.natGateway) {
      const nat = this.nats.get(def.natGateway);
      if (!nat) return undefined;
      const natRoute = this.egressRoute(nat.subnet, { publicIp: true });
      return natRoute?.via === 'igw' ? { via: 'nat', eip: nat.eip, nat: nat.id } : undefined;
    }
    return undefined;
  }

  private placements(source: Source): { subnet?: string; groups: string[]; publicIp: boolean; label: string }[] {
    if (source.kind === 'internet') return [{ groups: [], publicIp: true, label: `internet client ${source.ip}` }];
    if (source.kind === 'privatelink') return [{ groups: [], publicIp: false, label: 'PrivateLink consumer' }];
    if (source.kind === 'instances') {
      const g = this.instanceGroups.get(source.group);
      if (!g) throw new ReachabilityError(`unknown instance group ${source.group}`);
      return g.subnets.map((subnet) => ({ subnet, groups: g.securityGroups, publicIp: g.publicIp || this.subnet(subnet).publicIpOnLaunch, label: `${source.group} in ${subnet}` }));
    }
    const f = this.functions.get(source.fn);
    if (!f) throw new ReachabilityError(`unknown function ${source.fn}`);
    if (f.subnets.length === 0) return [{ groups: [], publicIp: true, label: `${source.fn} (Lambda service network)` }];
    // Lambda ENIs never get a public IP, even in a public subnet.
    return f.subnets.map((subnet) => ({ subnet, groups: f.securityGroups, publicIp: false, label: `${source.fn} in ${subnet}` }));
  }

  /** Every placement of `source` must reach it for a path to count as open; any one is enough to count as not closed. */
  private all(source: Source, each: (p: ReturnType<NetworkModel['placements']>[number], trace: string[]) => boolean): { open: Verdict; anyOpen: boolean } {
    const traces: string[] = [];
    let allOpen = true;
    let anyOpen = false;
    for (const p of this.placements(source)) {
      const trace: string[] = [p.label];
      const ok = each(p, trace);
      allOpen &&= ok;
      anyOpen ||= ok;
      traces.push(trace.join(' → '));
    }
    return { open: { open: allOpen, trace: traces }, anyOpen };
  }

  /** TCP from `source` to the AWS service's regional endpoint (`kms`, `dynamodb`, `secretsmanager`, `execute-api`, …). */
  toService(source: Source, service: string): Verdict & { anyOpen: boolean } {
    const r = this.all(source, (p, trace) => {
      if (!p.subnet) {
        trace.push(`public ${service} endpoint`);
        return true;
      }
      const vpc = this.subnet(p.subnet).vpc;
      // execute-api endpoints serve only private REST APIs; with private DNS they capture the public
      // names of every API, so an HTTP API becomes unreachable from the VPC.
      if (service === 'execute-api' && this.interfaceEndpoints.some((e) => e.vpc === vpc && e.service === service && e.privateDns)) {
        trace.push('CLOSED: an execute-api endpoint with private DNS captures the HTTP API\'s public name but serves only private REST APIs');
        return false;
      }
      const endpoint = this.interfaceEndpoints.find((e) => e.vpc === vpc && e.service === service && e.privateDns);
      if (endpoint) {
        trace.push(`private DNS of ${endpoint.id}`);
        const ips = endpoint.subnets.map((s) => ({ ip: firstHost(this.subnet(s).cidr) }));
        if (!ips.some((ip) => this.admits(p.groups, 'out', 443, { address: ip, groups: endpoint.securityGroups }))) {
          trace.push(`CLOSED: no egress rule of ${p.groups.join(', ')} admits tcp/443 to the endpoint's subnets or groups`);
          return false;
        }
        trace.push('egress to the endpoint');
        return this.groupsAdmit(trace, endpoint.id, endpoint.securityGroups, 'in', 443, { address: { ip: firstHost(this.subnet(p.subnet).cidr) }, groups: p.groups });
      }
      const route = this.egressRoute(p.subnet, { service, publicIp: p.publicIp });
      if (!route) {
        trace.push(`CLOSED: ${p.subnet} has no route to the public ${service} endpoint`);
        return false;
      }
      if (!this.groupsAdmit(trace, 'source', p.groups, 'out', 443, { address: { ip: PUBLIC_SAMPLE }, awsService: true })) return false;
      trace.push(route.via === 'endpoint' ? `gateway endpoint for ${service}` : route.via === 'nat' ? `${route.nat} → internet gateway → public ${service} endpoint` : `internet gateway → public ${service} endpoint`);
      return true;
    });
    return { ...r.open, anyOpen: r.anyOpen };
  }

  /** TCP from `source` to the load balancer's listener on `port`, and on through it to every registered target group. */
  throughLoadBalancer(source: Source, loadBalancer: string, port: number): Verdict & { anyOpen: boolean } {
    const lb = this.loadBalancers.get(loadBalancer);
    if (!lb) throw new ReachabilityError(`unknown load balancer ${loadBalancer}`);
    const r = this.all(source, (p, trace) => {
      // Where the packet comes from as the NLB sees it.
      let client: Address | undefined;
      let clientGroups: string[] = [];
      if (source.kind === 'privatelink') {
        if (!lb.endpointService) {
          trace.push('CLOSED: no VPC endpoint service exposes this load balancer');
          return false;
        }
        const listener = this.listeners.find((l) => l.loadBalancer === lb.id && l.port === port);
        if (!listener) {
          trace.push(`CLOSED: no listener on ${port}`);
          return false;
        }
        // The consumer's address is in someone else's VPC: only an any-address rule can be known to admit it.
        const consumer: Address = { ip: '100.64.0.10' };
        if (lb.enforceOnPrivateLink && !this.groupsAdmit(trace, lb.id, lb.securityGroups, 'in', port, { address: consumer })) return false;
        if (!lb.enforceOnPrivateLink) trace.push('EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic off: inbound rules skipped');
        return this.toTargets(trace, lb, listener.targetGroup, consumer, false);
      }
      if (!p.subnet) {
        if (lb.scheme !== 'internet-facing') {
          trace.push('CLOSED: internal load balancer, source outside the VPC');
          return false;
        }
        client = source.kind === 'internet' ? { ip: source.ip } : { ip: PUBLIC_SAMPLE };
      } else if (lb.scheme === 'internet-facing') {
        const route = this.egressRoute(p.subnet, { publicIp: p.publicIp });
        if (!route || route.via === 'endpoint') {
          trace.push(`CLOSED: ${p.subnet} has no route to the load balancer's public addresses`);
          return false;
        }
        if (!this.groupsAdmit(trace, 'source', p.groups, 'out', port, { address: { ip: PUBLIC_SAMPLE } })) return false;
        if (route.via === 'nat') {
          trace.push(`${route.nat} (source becomes ${route.eip})`);
          client = { eip: route.eip };
        } else {
          client = { ip: PUBLIC_SAMPLE };
        }
      } else {
        const lbIp = { ip: firstHost(this.subnet(lb.subnets[0]).cidr) };
        if (!this.groupsAdmit(trace, 'source', p.groups, 'out', port, { address: lbIp, groups: lb.securityGroups })) return false;
        client = { ip: firstHost(this.subnet(p.subnet).cidr) };
        clientGroups = p.groups;
      }
      if (lb.scheme === 'internet-facing' && !lb.subnets.some((s) => this.egressRoute(s, { publicIp: true })?.via === 'igw')) {
        trace.push('CLOSED: no subnet of the internet-facing load balancer routes to an internet gateway');
        return false;
      }
      if (!this.groupsAdmit(trace, lb.id, lb.securityGroups, 'in', port, { address: client, groups: clientGroups })) return false;
      const listener = this.listeners.find((l) => l.loadBalancer === lb.id && l.port === port);
      if (!listener) {
        trace.push(`CLOSED: no listener on ${port}`);
        return false;
      }
      trace.push(`listener ${listener.id}`);
      return this.toTargets(trace, lb, listener.targetGroup, client, false);
    });
    return { ...r.open, anyOpen: r.anyOpen };
  }

  /** The load balancer's health checks of every target registered in its listeners' target groups. */
  healthChecks(loadBalancer: string): Verdict {
    const lb = this.loadBalancers.get(loadBalancer);
    if (!lb) throw new ReachabilityError(`unknown load balancer ${loadBalancer}`);
    const trace: string[] = [];
    let open = this.listeners.some((l) => l.loadBalancer === lb.id);
    for (const listener of this.listeners.filter((l) => l.loadBalancer === lb.id)) {
      const t: string[] = [`health checks of ${listener.targetGroup}`];
      open = this.toTargets(t, lb, listener.targetGroup, undefined, true) && open;
      trace.push(t.join(' → '));
    }
    return { open, trace };
  }

  private toTargets(trace: string[], lb: LoadBalancer, targetGroupId: string, client: Address | undefined, healthCheck: boolean): boolean {
    const tg = this.targetGroups.get(targetGroupId);
    if (!tg) throw new ReachabilityError(`unknown target group ${targetGroupId}`);
    if (tg.targetType !== 'instance') throw new ReachabilityError(`${tg.id}: target type ${tg.targetType} is not modelled`);
    const groups = [...this.instanceGroups.values()].filter((g) => g.targetGroups.includes(tg.id));
    if (groups.length === 0) {
      trace.push(`CLOSED: nothing is registered in ${tg.id}`);
      return false;
    }
    const port = healthCheck && tg.healthCheckPort !== 'traffic-port' ? tg.healthCheckPort : tg.port;
    const lbAzs = new Set(lb.subnets.map((s) => this.subnet(s).az));
    const lbIp: Address = { ip: firstHost(this.subnet(lb.subnets[0]).cidr) };
    let ok = true;
    for (const g of groups) {
      for (const subnet of g.subnets) {
        const s = this.subnet(subnet);
        if (!lb.crossZone && !lbAzs.has(s.az)) {
          trace.push(`CLOSED: ${g.id} in ${s.az}, where the load balancer has no node and cross-zone is off`);
          ok = false;
          continue;
        }
        const targetIp = { ip: firstHost(s.cidr) };
        if (lb.securityGroups.length > 0 && !this.groupsAdmit(trace, `${lb.id} to ${g.id}`, lb.securityGroups, 'out', port, { address: targetIp, groups: g.securityGroups })) {
          ok = false;
          continue;
        }
        // What the target's security group sees as the source.
        const seen: Address = healthCheck || !tg.preserveClientIp ? lbIp : client!;
        const peer = { address: seen, groups: lb.securityGroups };
        if (!this.groupsAdmit(trace, `${g.id}${healthCheck ? ' (health check)' : tg.preserveClientIp ? ' (client IP preserved)' : ''}`, g.securityGroups, 'in', port, peer)) ok = false;
      }
    }
    return ok;
  }

  /** TCP straight to an instance group's private addresses, not through a load balancer. */
  toInstances(source: Source, group: string, port: number): Verdict & { anyOpen: boolean } {
    const target = this.instanceGroups.get(group);
    if (!target) throw new ReachabilityError(`unknown instance group ${group}`);
    const r = this.all(source, (p, trace) => {
      let ok = false;
      for (const subnet of target.subnets) {
        const t: string[] = [];
        const targetPublic = target.publicIp || this.subnet(subnet).publicIpOnLaunch;
        let peer: { address: Address; groups?: string[] };
        if (!p.subnet) {
          if (!targetPublic) {
            trace.push(`${subnet}: CLOSED, no public address`);
            continue;
          }
          if (this.egressRoute(subnet, { publicIp: true })?.via !== 'igw') {
            trace.push(`${subnet}: CLOSED, no internet gateway route`);
            continue;
          }
          peer = { address: { ip: source.kind === 'internet' ? source.ip : PUBLIC_SAMPLE } };
        } else {
          if (!this.groupsAdmit(t, 'source', p.groups, 'out', port, { address: { ip: firstHost(this.subnet(subnet).cidr) }, groups: target.securityGroups })) {
            trace.push(...t);
            continue;
          }
          peer = { address: { ip: firstHost(this.subnet(p.subnet).cidr) }, groups: p.groups };
        }
        if (this.groupsAdmit(t, group, target.securityGroups, 'in', port, peer)) ok = true;
        trace.push(`${subnet}: ${t.join(' → ')}`);
      }
      return ok;
    });
    return { ...r.open, anyOpen: r.anyOpen };
  }

  /** Can a (bridged) pod on these instances obtain an IMDSv2 token, or use IMDSv1? */
  podsToMetadata(group: string): Verdict {
    const g = this.instanceGroups.get(group);
    if (!g) throw new ReachabilityError(`unknown instance group ${group}`);
    const { tokens, hopLimit, endpoint } = g.metadata;
    if (endpoint === 'disabled') return { open: false, trace: ['metadata endpoint disabled'] };
    if (tokens !== 'required') return { open: true, trace: [`HttpTokens ${tokens ?? 'unset'}: IMDSv1 answers pods at any hop count`] };
    if (hopLimit === undefined) return { open: true, trace: ['HttpPutResponseHopLimit unset: the AMI default (2 on Amazon Linux 2023) lets the token reach pods'] };
    return hopLimit <= 1
      ? { open: false, trace: [`IMDSv2 required with hop limit ${hopLimit}: the token answer dies before a pod`] }
      : { open: true, trace: [`hop limit ${hopLimit} lets the token answer reach pods`] };
  }

  /** Every way in to TCP 22 on anything: security group rules, listeners, key pairs. */
  sshExposure(): string[] {
    const found: string[] = [];
    for (const g of this.securityGroups.values()) {
      for (const r of g.ingress) {
        if ((r.protocol === '-1' || r.protocol === 'tcp' || r.protocol === '6') && r.from <= 22 && r.to >= 22) found.push(`${g.id} ingress ${describeRule(r)}`);
      }
    }
    for (const l of this.listeners) if (l.port === 22) found.push(`${l.id} listens on 22`);
    for (const g of this.instanceGroups.values()) if (g.keyName) found.push(`${g.id} launches with a key pair`);
    return found;
  }

  /** The logical-id-keyed entity whose id ends with `fragment` (ids carry CDK hashes). */
  find<T>(map: Map<string, T>, pattern: RegExp): string {
    const hits = [...map.keys()].filter((k) => pattern.test(k));
    if (hits.length !== 1) throw new ReachabilityError(`${pattern} matches ${hits.length} entities: ${hits.join(', ')}`);
    return hits[0];
  }
}

/** A public address outside every private range, standing for "some host on the internet". */
const PUBLIC_SAMPLE = '198.51.100.7';

function serviceOf(serviceName: string): string {
  const m = /^com\.amazonaws\.[a-z0-9-]+\.(.+)$/.exec(serviceName);
  if (!m) throw new ReachabilityError(`endpoint service ${serviceName} is not an AWS service name`);
  return m[1];
}

function splitKey(k: string): [string, string] {
  const i = k.lastIndexOf('/');
  return [k.slice(0, i), k.slice(i + 1)];
}

function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new ReachabilityError(`${ip} is not an IPv4 address`);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bits] = cidr.split('/');
  const n = Number(bits);
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return ((ipToInt(base) & mask) >>> 0) === ((ipToInt(ip) & mask) >>> 0);
}

function firstHost(cidr: string): string {
  const [base] = cidr.split('/');
  const n = ipToInt(base) + 10;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Ranges no Elastic IP is ever allocated from: private, shared, loopback and documentation (RFC 5737) space. */
const NON_EIP_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'];

function addressIn(address: Address, rule: Rule): boolean {
  if (rule.cidr === 'ipv6') return false;
  if ('ip' in address) return rule.cidr !== undefined && cidrContains(rule.cidr, address.ip);
  if (rule.eip) return rule.eip === address.eip;
  const cidr = rule.cidr!;
  if (cidr.endsWith('/0')) return true;
  // An Elastic IP is public: no private range holds it. A public CIDR might: that needs the real address.
  const [base, bits] = cidr.split('/');
  if (NON_EIP_RANGES.some((r) => cidrContains(r, base) && Number(bits) >= Number(r.split('/')[1]))) return false;
  throw new ReachabilityError(`cannot tell whether Elastic IP ${address.eip} lies in ${cidr}: name the EIP in the rule instead`);
}

function describeRule(r: Rule): string {
  const peer = r.sg ? `group ${r.sg}` : r.eip ? `EIP ${r.eip}` : r.prefixList ? 'prefix list' : (r.cidr ?? '?');
  const ports = r.protocol === '-1' ? 'all traffic' : `${r.protocol}/${r.from === r.to ? r.from : `${r.from}-${r.to}`}`;
  return `${ports} ${peer}${r.description ? ` (${r.description})` : ''}`;
}

function describePeer(peer: { address?: Address; groups?: string[] }): string {
  const a = peer.address ? ('ip' in peer.address ? peer.address.ip : `EIP ${peer.address.eip}`) : '';
  return `for ${a}${peer.groups?.length ? ` / groups ${peer.groups.join(', ')}` : ''}`;
}
