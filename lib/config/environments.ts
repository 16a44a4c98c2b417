// The environments this repository deploys. Values that exist only after a deployment step (the Sui
// package and pool ids after `sui client publish`, the AWS account, the alarm addresses) are set here by
// the operator and reviewed like code; `cdk synth -c env=<name>` picks one.
import { K3S_RELEASE } from '../../lambdas/shared/nodes/k3s-release';
import { validateEnvironmentConfig, type EnvironmentConfig } from './environment-config';

// The pinned K3s release (one copy, shared with the join routes and the CLI's `node join`).
const K3S = { version: K3S_RELEASE.version, sha256Amd64: K3S_RELEASE.sha256Amd64, sha256Arm64: K3S_RELEASE.sha256Arm64 };

export const ENVIRONMENTS: Record<string, unknown> = {
  dev: {
    name: 'dev',
    production: false,
    account: '111111111111',
    region: 'us-east-1',
    sui: {
      network: 'testnet',
      grpcUrl: 'https://fullnode.testnet.sui.io:443',
      packageId: '0x' + '0'.repeat(63) + 'a',
      stakingPoolId: '0x' + '0'.repeat(63) + 'b',
      clusterId: 'k3s-daas-dev',
    },
    network: { cidr: '10.40.0.0/16', maxAzs: 2, natGateways: 1 },
    masters: {
      instanceType: 'm6i.xlarge',
      count: 1,
      enclaveCpuCount: 2,
      enclaveMemoryMiB: 4096,
      apiAllowedCidrs: ['0.0.0.0/0'],
    },
    workerGroups: [
      { name: 'general', instanceType: 'm6i.large', minSize: 1, maxSize: 3, desiredCapacity: 1, nodeStakeId: '0x' + '0'.repeat(63) + 'c' },
    ],
    k3s: K3S,
    api: {
      throttleRatePerSecond: 50,
      throttleBurst: 100,
      webhookThrottle: { ratePerSecond: 50, burst: 100 },
      publicRouteThrottle: { ratePerSecond: 10, burst: 20 },
      // dev pays nothing while idle; its kubectl users wait out an occasional cold start.
      authenticateProvisionedConcurrency: 0,
    },
    indexer: { scheduleMinutes: 1, lagAlarmSeconds: 300, maxIndexAgeSeconds: 300 },
    alarms: { emails: ['k3s-daas-dev-alarms@example.com'] },
    attestationMaxAgeMinutes: 15,
    logRetentionDays: 14,
  },
  prod: {
    name: 'prod',
    production: true,
    account: '222222222222',
    region: 'us-east-1',
    sui: {
      network: 'mainnet',
      grpcUrl: 'https://fullnode.mainnet.sui.io:443',
      packageId: '0x' + '0'.repeat(63) + 'd',
      stakingPoolId: '0x' + '0'.repeat(63) + 'e',
      clusterId: 'k3s-daas-prod',
    },
    network: { cidr: '10.50.0.0/16', maxAzs: 3, natGateways: 3 },
    masters: {
      instanceType: 'm6i.2xlarge',
      count: 1,
      enclaveCpuCount: 4,
      enclaveMemoryMiB: 8192,
      apiAllowedCidrs: ['0.0.0.0/0'],
    },
    workerGroups: [
      { name: 'general', instanceType: 'm6i.xlarge', minSize: 2, maxSize: 20, desiredCapacity: 3, nodeStakeId: '0x' + '0'.repeat(63) + 'f' },
    ],
    k3s: K3S,
    api: {
      throttleRatePerSecond: 100,
      throttleBurst: 200,
      webhookThrottle: { ratePerSecond: 500, burst: 1000 },
      publicRouteThrottle: { ratePerSecond: 50, burst: 100 },
      // A warm check takes ~10–30 ms, so 5 instances serve ~150–500 checks/s before any cold start.
      authenticateProvisionedConcurrency: 5,
    },
    indexer: { scheduleMinutes: 1, lagAlarmSeconds: 180, maxIndexAgeSeconds: 300 },
    alarms: { emails: ['k3s-daas-prod-alarms@example.com'] },
    attestationMaxAgeMinutes: 15,
    logRetentionDays: 90,
  },
};

export function loadEnvironmentConfig(name: string): EnvironmentConfig {
  const raw = ENVIRONMENTS[name];
  if (raw === undefined) {
    throw new Error(`unknown environment "${name}": choose one of ${Object.keys(ENVIRONMENTS).join(', ')} with -c env=<name>`);
  }
  return validateEnvironmentConfig(raw, name);
}
