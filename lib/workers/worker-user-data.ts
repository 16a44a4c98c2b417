// Renders worker-user-data.sh through lib/shared/user-data-template.ts. No secret is a setting: the
// join token is fetched at boot from the join route.
import * as path from 'node:path';
import { renderUserDataTemplate } from '../shared/user-data-template';

const TEMPLATE = path.join(path.dirname(new URL(import.meta.url).pathname), 'worker-user-data.sh');

export interface WorkerUserDataSettings {
  /** Base URL of the platform API without a trailing slash (may be a CDK token). */
  API_URL: string;
  CLUSTER_ID: string;
  /** Worker group name from the config (node label `k3s-daas.io/worker-group`). */
  WORKER_GROUP: string;
  /** The group's node stake (node labels `k3s-daas.io/stake-id-hi` / `-lo`: its two 32-hex-digit halves). */
  STAKE_ID: string;
  K3S_VERSION: string;
  K3S_SHA256_AMD64: string;
  K3S_SHA256_ARM64: string;
}

export function renderWorkerUserData(settings: WorkerUserDataSettings): string {
  return renderUserDataTemplate(TEMPLATE, { ...settings });
}
