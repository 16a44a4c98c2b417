// Renders master-user-data.sh: the settings block is a list of `readonly NAME='value'` lines so the
// script itself stays a plain, shellcheck-able file.
import * as fs from 'node:fs';
import * as path from 'node:path';

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
}

/** Single-quotes a value for bash; values may contain CDK tokens, which never contain quotes. */
export function shellQuote(value: string | number): string {
  return `'${String(value).replace(/'/g, `'"'"'`)}'`;
}

export function renderMasterUserData(settings: MasterUserDataSettings): string {
  const block = Object.entries(settings)
    .map(([name, value]) => `readonly ${name}=${shellQuote(value)}`)
    .join('\n');
  const template = fs.readFileSync(TEMPLATE, 'utf8');
  if (!template.includes('# @@SETTINGS@@')) throw new Error('master user-data template lost its settings marker');
  return template.replace('# @@SETTINGS@@', block);
}
