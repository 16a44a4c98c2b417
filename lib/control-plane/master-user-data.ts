// Renders master-user-data.sh: the settings block is a list of `readonly NAME='value'` lines so the
// script itself stays a plain, shellcheck-able file.
import * as path from 'node:path';
import { renderUserDataTemplate } from '../shared/user-data-template';

const TEMPLATE = path.join(path.dirname(new URL(import.meta.url).pathname), 'master-user-data.sh');

export interface MasterUserDataSettings {
  AWS_REGION: string;
  /** `s3://bucket/key` of the EIF, or '' when this environment has no enclave build (fails closed). */
  EIF_S3_URI: string;
  EIF_SHA256: string;
  MISSING_REASON: string;
  ENCLAVE_CPU_COUNT: number;
  ENCLAVE_MEMORY_MIB: number;
  ENCLAVE_CID: number;
  KMS_HOST: string;
  KMS_VSOCK_PORT: number;
  API_HOST: string;
  API_VSOCK_PORT: number;
  // The host agent's settings (docs/enclave.md). Absent → '' and the script fails closed.
  /** `s3://bucket/key` of the bundled host agent. */
  HOST_AGENT_S3_URI?: string;
  CLUSTER_ID?: string;
  CLUSTER_STATE_KEY_ID?: string;
  JOIN_TOKEN_KEY_ID?: string;
  API_URL?: string;
  /** Comma-separated extra names for the apiserver certificate (the NLB DNS name). */
  TLS_SANS?: string;
  WEBHOOK_SECRET_ARN?: string;
  SNAPSHOT_BUCKET?: string;
  TABLE_NAME?: string;
}

const HOST_AGENT_DEFAULTS: Required<Pick<MasterUserDataSettings, 'HOST_AGENT_S3_URI' | 'CLUSTER_ID' | 'CLUSTER_STATE_KEY_ID' | 'JOIN_TOKEN_KEY_ID' | 'API_URL' | 'TLS_SANS' | 'WEBHOOK_SECRET_ARN' | 'SNAPSHOT_BUCKET' | 'TABLE_NAME'>> = {
  HOST_AGENT_S3_URI: '',
  CLUSTER_ID: '',
  CLUSTER_STATE_KEY_ID: '',
  JOIN_TOKEN_KEY_ID: '',
  API_URL: '',
  TLS_SANS: '',
  WEBHOOK_SECRET_ARN: '',
  SNAPSHOT_BUCKET: '',
  TABLE_NAME: '',
};

export function renderMasterUserData(settings: MasterUserDataSettings): string {
  return renderUserDataTemplate(TEMPLATE, { ...HOST_AGENT_DEFAULTS, ...settings });
}
