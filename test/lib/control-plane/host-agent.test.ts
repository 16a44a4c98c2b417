// The host agent's wiring on the masters: its bundle as an asset, its least-privilege grants, and the
// user-data that installs and starts it before the enclave.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderMasterUserData, type MasterUserDataSettings } from '../../../lib/control-plane/master-user-data';
import { synthPlatform } from '../../support/cdk-app';
import { itWithShellcheck } from '../../support/shellcheck';

describe('host agent on the masters (CDK)', () => {
  const platform = synthPlatform({ env: 'dev' });
  const template = platform.template('controlPlane');
  const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) => JSON.stringify(p).includes('secretsmanager:GetSecretValue'));
  const statements = (policy?.Properties.PolicyDocument.Statement ?? []) as { Action: string | string[]; Resource: unknown }[];

  it('may read and write exactly the two ciphertext objects of this cluster and list the snapshot bucket', () => {
    const objects = statements.find((s) => JSON.stringify(s.Action) === JSON.stringify(['s3:GetObject', 's3:PutObject']));
    const resources = JSON.stringify(objects?.Resource);
    expect(resources).toContain('/clusters/k3s-daas-dev/datastore.snapshot.sealed');
    expect(resources).toContain('/clusters/k3s-daas-dev/cluster-secrets.sealed');
    expect(resources).not.toContain('*');
    expect(statements.find((s) => s.Action === 's3:ListBucket')).toBeDefined();
  });

  it('may read the webhook secret and its own bundle object, nothing else', () => {
    expect(statements.map((s) => s.Action)).toEqual(['s3:GetObject', ['s3:GetObject', 's3:PutObject'], 's3:ListBucket', 'secretsmanager:GetSecretValue']);
    expect(JSON.stringify(statements[0].Resource)).toMatch(/cdk-hnb659fds-assets-111111111111-us-east-1\/[0-9a-f]{64}/);
    expect(policy?.Properties.Roles).toHaveLength(1);
  });

  it('passes the host agent its settings through the user-data', () => {
    const json = JSON.stringify(template.findResources('AWS::EC2::LaunchTemplate'));
    for (const name of ['HOST_AGENT_S3_URI', 'CLUSTER_STATE_KEY_ID', 'JOIN_TOKEN_KEY_ID', 'API_URL', 'TLS_SANS', 'WEBHOOK_SECRET_ARN', 'SNAPSHOT_BUCKET', 'TABLE_NAME']) {
      expect(json).toContain(`readonly ${name}=`);
    }
    expect(json).toContain("readonly CLUSTER_ID='k3s-daas-dev'");
  });
});

const SETTINGS: MasterUserDataSettings = {
  AWS_REGION: 'us-east-1',
  EIF_S3_URI: 's3://assets/abc.eif',
  EIF_SHA256: crypto.createHash('sha256').update('the image').digest('hex'),
  MISSING_REASON: '',
  ENCLAVE_CPU_COUNT: 2,
  ENCLAVE_MEMORY_MIB: 4096,
  ENCLAVE_CID: 16,
  KMS_HOST: 'kms.us-east-1.amazonaws.com',
  KMS_VSOCK_PORT: 8000,
  API_HOST: 'abc.execute-api.us-east-1.amazonaws.com',
  API_VSOCK_PORT: 8001,
  HOST_AGENT_S3_URI: 's3://assets/agent.mjs',
  CLUSTER_ID: 'k3s-daas-dev',
  CLUSTER_STATE_KEY_ID: 'arn:aws:kms:us-east-1:111111111111:key/state',
  JOIN_TOKEN_KEY_ID: 'arn:aws:kms:us-east-1:111111111111:key/join',
  API_URL: 'https://abc.execute-api.us-east-1.amazonaws.com/',
  TLS_SANS: 'nlb.example.com',
  WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:webhook',
  SNAPSHOT_BUCKET: 'snapshots',
  TABLE_NAME: 'index',
};

/** Runs the rendered script with stand-in tools under a scratch root; returns its output and the files it wrote. */
function runWithStandIns(settings: MasterUserDataSettings) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'master-'));
  const bin = path.join(root, 'bin');
  fs.mkdirSync(bin);
  const fake = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  for (const tool of ['dnf', 'usermod', 'systemctl']) fake(tool, `echo "$0 $*" >> ${root}/calls`);
  fake('aws', `case "$*" in *eif*) printf "the image" > "\${@: -1}" ;; *) printf "agent" > "\${@: -1}" ;; esac`);
  fake('node-22', 'exit 0');
  const script = renderMasterUserData(settings)
    .replace(/\/opt\/k3s-daas/g, `${root}/opt`)
    .replace(/\/etc\/nitro_enclaves/g, `${root}/ne`)
    .replace(/\/etc\/k3s-daas/g, `${root}/k3s-daas`)
    .replace(/\/etc\/systemd\/system/g, root);
  const run = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
  return { run, root };
}

describe('host agent in the master user-data (bash run with stand-in tools)', () => {
  it('installs the agent with its settings in a root-only env file and starts it before the enclave', () => {
    const { run, root } = runWithStandIns(SETTINGS);
    expect(run.stdout).toMatch(/enclave started/);
    expect(run.status).toBe(0);
    const env = fs.readFileSync(path.join(root, 'k3s-daas/host-agent.env'), 'utf8');
    expect(env).toContain('CLUSTER_ID=k3s-daas-dev\n');
    expect(env).toContain('SNAPSHOT_BUCKET=snapshots\n');
    expect(env).toContain('ENCLAVE_CID=16\n');
    expect(fs.statSync(path.join(root, 'k3s-daas/host-agent.env')).mode & 0o777).toBe(0o600);
    const unit = fs.readFileSync(path.join(root, 'k3s-daas-host-agent.service'), 'utf8');
    expect(unit).toMatch(new RegExp(`ExecStart=${bin(root)}/node-22 ${root}/opt/host-agent.mjs`));
    expect(unit).toContain(`EnvironmentFile=${root}/k3s-daas/host-agent.env`);
    const calls = fs.readFileSync(path.join(root, 'calls'), 'utf8');
    expect(calls).toMatch(/dnf install -y .*nodejs22/);
    expect(calls).toMatch(/systemctl enable --now .*k3s-daas-host-agent k3s-daas-enclave/);
  });

  it('fails closed without a host agent bundle', () => {
    const { run } = runWithStandIns({ ...SETTINGS, HOST_AGENT_S3_URI: '' });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/FATAL: no host agent bundle in this deployment/);
  });

  itWithShellcheck('passes shellcheck with the host agent settings', (shellcheck) => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'userdata-')), 'user-data.sh');
    fs.writeFileSync(file, renderMasterUserData(SETTINGS));
    const run = spawnSync(shellcheck, ['--severity=style', '--shell=bash', file], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});

function bin(root: string): string {
  return path.join(root, 'bin');
}
