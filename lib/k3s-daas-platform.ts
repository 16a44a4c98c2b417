// Builds the whole platform for one environment into an App: the stacks, their wiring, cdk-nag and
// CDK's CloudFormation validation. `bin/app.ts` and the tests both call this, so tests check what ships.
import { Annotations, App, CfnOutput, Tags, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ApiStack } from './api/api-stack';
import type { EnvironmentConfig } from './config/environment-config';
import { ControlPlaneStack } from './control-plane/control-plane-stack';
import { MonitoringStack } from './monitoring/monitoring-stack';
import { NetworkStack } from './network/network-stack';
import { failClosedWarning, type EnclaveArtifacts } from './shared/enclave-artifacts';
import { StateStack } from './state/state-stack';
import { renderWorkerUserData } from './workers/worker-user-data';
import { WorkersStack } from './workers/workers-stack';
import type { Construct } from 'constructs';

export interface Platform {
  readonly network: NetworkStack;
  readonly state: StateStack;
  readonly api: ApiStack;
  readonly controlPlane: ControlPlaneStack;
  readonly workers: WorkersStack;
  readonly monitoring: MonitoringStack;
}

export function buildPlatform(app: App, config: EnvironmentConfig, enclave: EnclaveArtifacts): Platform {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const env = { account: config.account, region: config.region };
  const id = (name: string) => `K3sDaas-${config.name}-${name}`;

  const network = new NetworkStack(app, id('Network'), { env, config });
  const state = new StateStack(app, id('State'), { env, config, enclave });
  const api = new ApiStack(app, id('Api'), { env, config, state, serverUrl: network.serverUrl, enclave });
  const controlPlane = new ControlPlaneStack(app, id('ControlPlane'), {
    env,
    config,
    enclave,
    vpc: network.vpc,
    apiServerLoadBalancer: network.apiServerLoadBalancer,
    apiServerLoadBalancerSecurityGroup: network.apiServerLoadBalancerSecurityGroup,
    state,
    apiUrl: api.api.url,
  });
  const workers = new WorkersStack(app, id('Workers'), {
    env,
    config,
    vpc: network.vpc,
    workerRole: state.workerRole,
    userDataFor: (group) =>
      ec2.UserData.custom(
        renderWorkerUserData({
          API_URL: api.api.url,
          CLUSTER_ID: config.sui.clusterId,
          WORKER_GROUP: group.name,
          STAKE_ID: group.nodeStakeId,
          K3S_VERSION: config.k3s.version,
          K3S_SHA256_AMD64: config.k3s.sha256Amd64,
          K3S_SHA256_ARM64: config.k3s.sha256Arm64,
        }),
      ),
  });

  const monitoring = new MonitoringStack(app, id('Monitoring'), { env, config, network, state, api, controlPlane });

  // What users, the CLI and the deploy guide (docs/deploy.md) read after `cdk deploy --outputs-file`.
  const output = (stack: Construct, name: string, value: string, description: string) => new CfnOutput(stack, name, { value, description });
  output(api, 'ApiUrl', api.api.url, 'Platform HTTP API base URL: the --api of k3s-daas kubeconfig');
  output(api, 'ClusterId', config.sui.clusterId, 'Cluster id (seal tokens name it; the --cluster of k3s-daas token issue)');
  output(api, 'ExpectedPcrsSource', expectedPcrsSource(enclave), 'Where the PCRs this deployment trusts come from (the --pcrs of k3s-daas kubeconfig)');
  output(network, 'ApiServerLoadBalancerDnsName', network.apiServerLoadBalancer.loadBalancerDnsName, 'kube-apiserver NLB (https://<name>:6443)');
  output(state, 'KubeconfigSigningKeyArn', state.kubeconfigSigningKey.keyArn, 'KMS key that signs kubeconfigs (GET /v1/issuer serves its public key)');
  output(state, 'AlarmTopicArn', state.alarmTopic.topicArn, 'SNS topic every alarm notifies');
  output(state, 'WebhookSecretArn', state.webhookSecret.secretArn, 'TokenReview webhook bearer secret (rotation: docs/deploy.md)');
  output(controlPlane, 'MasterAutoScalingGroupName', controlPlane.masterGroup.autoScalingGroupName, 'Master group (instance refresh after an enclave or secret change)');

  const failClosed = failClosedWarning(enclave);
  if (failClosed) Annotations.of(state.clusterStateKey).addWarningV2('k3s-daas:no-enclave-build', failClosed);
  for (const stack of [network, state, api, controlPlane, workers, monitoring]) {
    Tags.of(stack).add('project', 'k3s-daas');
    Tags.of(stack).add('environment', config.name);
  }
  return { network, state, api, controlPlane, workers, monitoring };
}

/** The PCR file the attestation route and the cluster-state key were built from, by its measurements. */
function expectedPcrsSource(enclave: EnclaveArtifacts): string {
  if (!enclave.pcrs) return 'none: no enclave build (FAIL-CLOSED, nothing can decrypt the cluster state)';
  const { PCR0, PCR1, PCR2, PCR8, eifSha256, arch } = enclave.pcrs;
  return `enclave/pcrs.json of the deployed build: ${JSON.stringify({ PCR0, PCR1, PCR2, ...(PCR8 ? { PCR8 } : {}), eifSha256, arch })}`;
}
