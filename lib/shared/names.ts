// Physical names that must be known before the resource exists, so that stacks can refer to each
// other without a reference cycle (the API needs the worker group names; the worker stack needs the
// API). Everything else keeps CDK-generated names.
import type { EnvironmentConfig, WorkerGroupConfig } from '../config/environment-config';

export const names = {
  prefix: (c: EnvironmentConfig) => `k3s-daas-${c.name}`,
  masterRole: (c: EnvironmentConfig) => `k3s-daas-${c.name}-master`,
  workerRole: (c: EnvironmentConfig) => `k3s-daas-${c.name}-worker`,
  workerGroup: (c: EnvironmentConfig, g: WorkerGroupConfig) => `k3s-daas-${c.name}-workers-${g.name}`,
  workerLifecycleHook: () => 'k3s-daas-drain-on-terminate',
  /** `WORKER_GROUPS` of the functions that admit or evict workers: JSON `[{autoScalingGroup, stakeId}]`. */
  workerGroupsEnv: (c: EnvironmentConfig) =>
    JSON.stringify(c.workerGroups.map((g) => ({ autoScalingGroup: names.workerGroup(c, g), stakeId: g.nodeStakeId }))),
};
