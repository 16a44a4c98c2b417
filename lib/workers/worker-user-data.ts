// Renders worker-user-data.sh like master-user-data.ts renders the master's: the settings block is a list
// of `readonly NAME='value'` lines, so the script stays a plain, shellcheck-able file. No secret is a
// setting: the join token is fetched at boot from the join route.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { shellQuote } from '../control-plane/master-user-data';

const TEMPLATE = path.join(path.dirname(new URL(import.meta.url).pathname), 'worker-user-data.sh');

export interface WorkerUserDataSettings {
  /** Base URL of the platform API without a trailing slash (may be a CDK token). */
  API_URL: string;
  CLUSTER_ID: string;
  /** Worker group name from the config (node label `k3s-daas.io/worker-group`). */
  WORKER_GROUP: string;
  /** The group's node stake (node label `k3s-daas.io/stake-id`). */
  STAKE_ID: string;
  K3S_VERSION: string;
  K3S_SHA256_AMD64: string;
  K3S_SHA256_ARM64: string;
}

export function renderWorkerUserData(settings: WorkerUserDataSettings): string {
  const block = Object.entries(settings)
    .map(([name, value]) => `readonly ${name}=${shellQuote(value)}`)
    .join('\n');
  const template = fs.readFileSync(TEMPLATE, 'utf8');
  if (!template.includes('# @@SETTINGS@@')) throw new Error('worker user-data template lost its settings marker');
  return template.replace('# @@SETTINGS@@', block);
}
