// The enclave build tooling off-hardware: the scripts stop with a clear reason where Docker or the
// Nitro Enclaves CLI is missing, nitro-cli's measurements become a schema-valid pcrs.json, rebuilt
// measurements are compared, the bundles load, and the image inputs are pinned.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { eifArch, pcrDifferences, pcrFileFromMeasurements } from '../../enclave/src/build/pcrs-file';
import { loadEnvironmentConfig } from '../../lib/config/environments';
import { PcrFileError, parsePcrFile } from '../../lambdas/shared/attestation/pcrs';
import { REPO_ROOT } from '../support/cdk-app';

const pcr = (label: string) => crypto.createHash('sha384').update(label).digest('hex').toUpperCase();
const NITRO_CLI_OUTPUT = JSON.stringify({
  Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: pcr('image'), PCR1: pcr('kernel'), PCR2: pcr('app') },
});
const EIF_SHA = 'ab'.repeat(32);

function runScript(script: string, opts: { binDir?: string; env?: Record<string, string> } = {}) {
  const res = spawnSync('/bin/bash', [path.join(REPO_ROOT, 'enclave/scripts', script)], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { PATH: [opts.binDir, '/usr/bin', '/bin'].filter(Boolean).join(':'), HOME: os.tmpdir(), ...opts.env },
    timeout: 30_000,
  });
  return { status: res.status, stderr: res.stderr };
}

function stubBin(stubs: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-bin-'));
  for (const [name, body] of Object.entries(stubs)) {
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  return dir;
}

describe('npm run enclave:build / enclave:verify prerequisites', () => {
  it('build fails with a clear message where Docker is not installed', () => {
    const { status, stderr } = runScript('build.sh');
    expect(status).toBe(1);
    expect(stderr).toMatch(/^enclave build: Docker is not installed/);
  });

  it('build fails with a clear message where the Docker daemon is not running', () => {
    const { status, stderr } = runScript('build.sh', { binDir: stubBin({ docker: 'exit 1' }) });
    expect(status).toBe(1);
    expect(stderr).toMatch(/daemon is not reachable/);
  });

  it('build fails with a clear message where nitro-cli is missing', () => {
    const { status, stderr } = runScript('build.sh', { binDir: stubBin({ docker: 'exit 0' }) });
    expect(status).toBe(1);
    expect(stderr).toMatch(/nitro-cli is not installed: install aws-nitro-enclaves-cli/);
  });

  it('verify fails with a clear message when there is no pcrs.json to compare with', () => {
    const { status, stderr } = runScript('verify.sh', { env: { EXPECTED_PCRS: '/nonexistent/pcrs.json' } });
    expect(status).toBe(1);
    expect(stderr).toMatch(/\/nonexistent\/pcrs.json does not exist: nothing to verify against/);
  });

  it('verify fails where Docker is absent (it rebuilds)', () => {
    const { status, stderr } = runScript('verify.sh', { env: { EXPECTED_PCRS: path.join(REPO_ROOT, 'test/fixtures/pcrs.json') } });
    expect(status).toBe(1);
    expect(stderr).toMatch(/Docker is not installed/);
  });
});

describe('pcrs.json from nitro-cli measurements', () => {
  it('writes the contract format: lowercase PCR0/1/2, the EIF SHA-256 and the arch, valid for the shared schema', () => {
    const file = pcrFileFromMeasurements(NITRO_CLI_OUTPUT, EIF_SHA, 'x86_64');
    expect(file).toEqual({ PCR0: pcr('image').toLowerCase(), PCR1: pcr('kernel').toLowerCase(), PCR2: pcr('app').toLowerCase(), eifSha256: EIF_SHA, arch: 'x86_64' });
    expect(parsePcrFile(JSON.stringify(file))).toEqual(file);
  });

  it('keeps PCR8 of a signed image', () => {
    const signed = JSON.parse(NITRO_CLI_OUTPUT);
    signed.Measurements.PCR8 = pcr('signer');
    expect(pcrFileFromMeasurements(JSON.stringify(signed), EIF_SHA, 'aarch64')).toMatchObject({ PCR8: pcr('signer').toLowerCase(), arch: 'aarch64' });
  });

  it('refuses output that is not nitro-cli measurements, short PCRs and all-zero (debug) PCR0', () => {
    expect(() => pcrFileFromMeasurements('Start building the Enclave Image...', EIF_SHA, 'x86_64')).toThrow(/not JSON/);
    expect(() => pcrFileFromMeasurements('{"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "ab"}}', EIF_SHA, 'x86_64')).toThrow(/Measurements.PCR1/);
    const short = JSON.parse(NITRO_CLI_OUTPUT);
    short.Measurements.PCR1 = 'abcd';
    expect(() => pcrFileFromMeasurements(JSON.stringify(short), EIF_SHA, 'x86_64')).toThrow(/PCR1 must be 96 lowercase hex/);
    const zero = JSON.parse(NITRO_CLI_OUTPUT);
    zero.Measurements.PCR0 = '0'.repeat(96);
    expect(() => pcrFileFromMeasurements(JSON.stringify(zero), EIF_SHA, 'x86_64')).toThrow(PcrFileError);
  });

  it('compares a rebuild by measurements (not by EIF hash, which carries build metadata)', () => {
    const a = pcrFileFromMeasurements(NITRO_CLI_OUTPUT, EIF_SHA, 'x86_64');
    expect(pcrDifferences(a, { ...a, eifSha256: 'cd'.repeat(32) })).toEqual([]);
    expect(pcrDifferences(a, { ...a, PCR2: pcr('other').toLowerCase() })).toEqual([expect.stringMatching(/^PCR2: committed /)]);
  });

  it('maps uname -m to the contract arch', () => {
    expect([eifArch('x86_64'), eifArch('aarch64'), eifArch('arm64')]).toEqual(['x86_64', 'aarch64', 'aarch64']);
    expect(() => eifArch('riscv64')).toThrow(/unsupported/);
  });
});

describe('image inputs are pinned', () => {
  const containerfile = fs.readFileSync(path.join(REPO_ROOT, 'enclave/Containerfile'), 'utf8');

  it('every base image is pinned by digest', () => {
    const froms = [...containerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThan(0);
    const nodeImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(containerfile)?.[1];
    expect(nodeImage).toMatch(/^node:24-bookworm-slim@sha256:[0-9a-f]{64}$/);
    for (const from of froms) expect(from === '${NODE_IMAGE}' || /@sha256:[0-9a-f]{64}$/.test(from)).toBe(true);
  });

  it('checks the K3s binary against the pinned SHA-256, taken from the environment config', () => {
    expect(containerfile).toMatch(/sha256sum -c -/);
    const res = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs'), 'enclave/src/build/pcrs-cli.ts', 'k3s-pins'], { cwd: REPO_ROOT, encoding: 'utf8' });
    const k3s = loadEnvironmentConfig('dev').k3s;
    expect(res.stdout).toBe(`K3S_VERSION=${k3s.version}\nK3S_SHA256_AMD64=${k3s.sha256Amd64}\nK3S_SHA256_ARM64=${k3s.sha256Arm64}\n`);
    expect(k3s.sha256Amd64).toBe('15811d34187e03fe29d0e46108c42cc33e62cec1b3d9d80f50944536ebcad40a');
  });

  it('uses fixed timestamps (SOURCE_DATE_EPOCH from the commit, rewrite-timestamp on export)', () => {
    const build = fs.readFileSync(path.join(REPO_ROOT, 'enclave/scripts/build.sh'), 'utf8');
    expect(build).toMatch(/SOURCE_DATE_EPOCH="\$\(git log -1 --format=%ct/);
    expect(build).toMatch(/rewrite-timestamp=true/);
    expect(containerfile).toMatch(/ARG SOURCE_DATE_EPOCH/);
  });
});

describe('bundles', () => {
  beforeAll(() => {
    const res = spawnSync('npm', ['run', '--silent', 'enclave:bundle'], { cwd: REPO_ROOT, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`enclave:bundle failed: ${res.stderr}`);
  });

  it('the supervisor bundle loads (koffi stays external, everything else is inside)', () => {
    const bundle = fs.readFileSync(path.join(REPO_ROOT, 'enclave/dist/supervisor.mjs'), 'utf8');
    expect(bundle).toMatch(/from "koffi"|import\("koffi"\)/);
    const res = spawnSync(process.execPath, ['-e', `import(${JSON.stringify(path.join(REPO_ROOT, 'enclave/dist/supervisor.mjs'))}).then((m) => console.log(typeof m.main))`], { encoding: 'utf8' });
    expect(res.stdout.trim()).toBe('function');
  });

  it('the host agent bundle starts and refuses to run without its settings, naming them', () => {
    const res = spawnSync(process.execPath, [path.join(REPO_ROOT, 'enclave/dist/host-agent.mjs')], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(/"message":"fatal".*AWS_REGION.*SNAPSHOT_BUCKET/);
  });
});
