import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderMasterUserData, type MasterUserDataSettings } from '../../../lib/control-plane/master-user-data';
import { shellQuote } from '../../../lib/shared/user-data-template';
import { itWithShellcheck } from '../../support/shellcheck';

const SETTINGS: MasterUserDataSettings = {
  AWS_REGION: 'us-east-1',
  EIF_S3_URI: 's3://assets-bucket/abc.eif',
  EIF_SHA256: 'a'.repeat(64),
  MISSING_REASON: '',
  ENCLAVE_CPU_COUNT: 2,
  ENCLAVE_MEMORY_MIB: 4096,
  ENCLAVE_CID: 16,
  KMS_HOST: 'kms.us-east-1.amazonaws.com',
  KMS_VSOCK_PORT: 8000,
  API_HOST: 'abc.execute-api.us-east-1.amazonaws.com',
  API_VSOCK_PORT: 8001,
};

function runShellcheck(shellcheck: string, script: string): { status: number | null; output: string } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'userdata-')), 'user-data.sh');
  fs.writeFileSync(file, script);
  const run = spawnSync(shellcheck, ['--severity=style', '--shell=bash', file], { encoding: 'utf8' });
  if (run.error) throw run.error;
  return { status: run.status, output: run.stdout + run.stderr };
}

describe('master user-data', () => {
  const script = renderMasterUserData(SETTINGS);

  itWithShellcheck('passes shellcheck as rendered', (shellcheck) => {
    const result = runShellcheck(shellcheck, script);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('never runs the enclave in debug mode', () => {
    const commands = script.split('\n').filter((line) => !line.trim().startsWith('#'));
    expect(commands.join('\n')).not.toMatch(/--debug-mode/);
    expect(script).toMatch(/nitro-cli run-enclave --eif-path/);
  });

  it('checks the EIF SHA-256 before using it and restricts vsock-proxy to KMS and the API', () => {
    expect(script.indexOf('sha256sum')).toBeLessThan(script.indexOf('mv "${EIF_PATH}.download" "${EIF_PATH}"'));
    expect(script).toContain('allowlist:');
    expect(script).toContain("readonly KMS_HOST='kms.us-east-1.amazonaws.com'");
    expect(script).toMatch(/TCP-LISTEN:6443.*VSOCK-CONNECT:\$\{ENCLAVE_CID\}:6443/);
  });

  it('refuses to start without an enclave image (fail closed), as a real bash run shows', () => {
    const failClosed = renderMasterUserData({ ...SETTINGS, EIF_S3_URI: '', MISSING_REASON: 'no build' });
    const run = spawnSync('bash', ['-c', failClosed], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/FATAL: no enclave image in this environment \(no build\)/);
  });

  it('refuses an EIF whose SHA-256 differs, as a real bash run with stand-in tools shows', () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'fakebin-'));
    const fake = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
    for (const tool of ['dnf', 'usermod', 'systemctl']) fake(tool, 'exit 0');
    fake('aws', 'printf "tampered image" > "${@: -1}"');
    const run = spawnSync('bash', ['-c', script.replace(/\/opt\/k3s-daas/g, bin + '/opt').replace(/\/etc\/nitro_enclaves/g, bin)], {
      encoding: 'utf8',
      env: { PATH: `${bin}:/usr/bin:/bin` },
    });
    expect(run.stdout).toMatch(/FATAL: enclave image SHA-256 [0-9a-f]{64} does not match the expected a{64}/);
    expect(run.status).toBe(1);
  });

  it('quotes values for bash', () => {
    expect(shellQuote("it's")).toBe(`'it'"'"'s'`);
    expect(spawnSync('bash', ['-c', `printf %s ${shellQuote("a'b $HOME")}`], { encoding: 'utf8' }).stdout).toBe("a'b $HOME");
  });
});
