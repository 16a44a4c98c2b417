// Builds the whole platform for one environment into an App: the stacks, their wiring, cdk-nag and
// CDK's CloudFormation validation. `bin/app.ts` and the tests both call this, so tests check what ships.
import { Annotations, App, Tags, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ApiStack } from './api/api-stack';
import type { EnvironmentConfig } from './config/environment-config';
import { ControlPlaneStack } from './control-plane/control-plane-stack';
import { NetworkStack } from './network/network-stack';
import { failClosedWarning, type EnclaveArtifacts } from './shared/enclave-artifacts';
import { StateStack } from './state/state-stack';
import { renderWorkerUserData } from './workers/worker-user-data';
import { WorkersStack } from './workers/workers-stack';

export interface Platform {
  readonly network: NetworkStack;
  readonly state: StateStack;
  readonly api: ApiStack;
  readonly controlPlane: ControlPlaneStack;
  readonly workers: WorkersStack;
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

  const failClosed = failClosedWarning(enclave);
  if (failClosed) Annotations.of(state.clusterStateKey).addWarningV2('k3s-daas:no-enclave-build', failClosed);
  for (const stack of [network, state, api, controlPlane, workers]) {
    Tags.of(stack).add('project', 'k3s-daas');
    Tags.of(stack).add('environment', config.name);
  }
  return { network, state, api, controlPlane, workers };
}
