// The Node object a worker registers: its name is the instance id and its labels are exactly what the
// worker bootstrap (lib/workers/worker-user-data.sh, rendered by lib/workers/worker-user-data.ts) writes
// into the agent's config. The script's own config-writing block is run (bash) with its rendered
// settings, so the labels come from the shipped script, not from a copy of its rule.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { renderWorkerUserData } from '../../../lib/workers/worker-user-data';

export interface WorkerNode {
  name: string;
  labels: Record<string, string>;
}

export function workerNode(dir: string, settings: { clusterId: string; workerGroup: string; stakeId: string; instanceId: string }): WorkerNode {
  const script = renderWorkerUserData({
    API_URL: 'https://api.invalid', CLUSTER_ID: settings.clusterId, WORKER_GROUP: settings.workerGroup, STAKE_ID: settings.stakeId,
    K3S_VERSION: 'v1.34.2+k3s1', K3S_SHA256_AMD64: '0'.repeat(64), K3S_SHA256_ARM64: '0'.repeat(64),
  });
  const lines = script.split('\n');
  const settingsBlock = lines.filter((l) => /^readonly [A-Z0-9_]+='/.test(l));
  const start = lines.findIndex((l) => l.startsWith('cat > "${K3S_CONFIG_DIR}/config.yaml" <<CONFIG'));
  const end = lines.indexOf('CONFIG', start);
  if (start < 0 || end < 0) throw new Error('worker-user-data.sh no longer writes the agent config with a CONFIG heredoc; update test/e2e/support/worker-node.ts');
  const configDir = fs.mkdtempSync(path.join(dir, 'worker-'));
  execFileSync('bash', ['-c', ['set -euo pipefail', ...settingsBlock, `K3S_CONFIG_DIR='${configDir}'`, "TOKEN_FILE=/etc/k3s-daas/agent-token", ...lines.slice(start, end + 1)].join('\n')]);
  const config = parse(fs.readFileSync(path.join(configDir, 'config.yaml'), 'utf8')) as { 'node-label': string[] };
  const labels: Record<string, string> = {};
  for (const entry of config['node-label']) {
    const eq = entry.indexOf('=');
    labels[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { name: settings.instanceId, labels };
}

/** The Node as the kubelet registers it (plus the labels every kubelet adds itself). */
export function nodeManifest(node: WorkerNode): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name: node.name,
      labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...node.labels },
    },
    spec: {},
  });
}
