// The worker bootstrap runs for real: local HTTP servers stand in for IMDS (v2 only), the join API (which
// fails before it admits) and the K3s release download; fake systemctl/sysctl/modprobe on PATH record
// what they are asked, and the fake systemctl starts the unit's ExecStart like systemd would, so the
// downloaded fake `k3s` records exactly what the agent would get.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { itWithShellcheck } from '../../support/shellcheck';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderWorkerUserData, type WorkerUserDataSettings } from '../../../lib/workers/worker-user-data';

const INSTANCE_ID = 'i-0a1b2c3d4e5f60718';
const REGION = 'eu-west-3';
const ROLE = 'k3s-daas-test-worker';
const CREDS = { AccessKeyId: 'ASIAEXAMPLEKEY123456', SecretAccessKey: 'c2VjcmV0K2tleS9leGFtcGxlPQ==', Token: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN/abc+def==' };
const SERVER = 'https://k3s-nlb.example.com:6443';
/** A per-node bootstrap token as the join route answers it: `K10<CA hash>::<id>.<secret>`. */
const TOKEN = `K10${'7f'.repeat(32)}::${crypto.randomBytes(3).toString('hex')}.${crypto.randomBytes(8).toString('hex')}`;
const STAKE_ID = '0x' + '0'.repeat(63) + 'c';
const FAKE_K3S = `#!/usr/bin/env bash
# Test stand-in for the K3s binary: records its arguments, environment and the token file it was given.
printf '%s\\n' "$@" > "$FAKE_RECORD_DIR/k3s-args"
env > "$FAKE_RECORD_DIR/k3s-env"
prev=''
for arg in "$@"; do
  if [[ "$prev" == --token-file ]]; then cp "$arg" "$FAKE_RECORD_DIR/k3s-token-seen"; stat -c '%a' "$arg" > "$FAKE_RECORD_DIR/k3s-token-mode"; fi
  prev="$arg"
done
`;
const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest('hex');

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function serve(handler: (req: Recorded, res: http.ServerResponse) => void): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(recorded);
      handler(recorded, res);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}

const IMDS_SESSION = 'imds-session-token-abc';
let imds: Awaited<ReturnType<typeof serve>>;
let downloads: Awaited<ReturnType<typeof serve>>;
let api: Awaited<ReturnType<typeof serve>>;
/** What the join API answers, in order; the last answer repeats. */
let apiAnswers: Array<{ status: number; body: string }>;

beforeAll(async () => {
  imds = await serve((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return void res.writeHead(400).end();
      return void res.writeHead(200).end(IMDS_SESSION);
    }
    // IMDSv2 only, as the launch template requires: no session token, no answer.
    if (req.headers['x-aws-ec2-metadata-token'] !== IMDS_SESSION) return void res.writeHead(401).end();
    const answers: Record<string, string> = {
      '/latest/meta-data/instance-id': INSTANCE_ID,
      '/latest/meta-data/placement/region': REGION,
      '/latest/meta-data/iam/security-credentials/': ROLE,
      [`/latest/meta-data/iam/security-credentials/${ROLE}`]: JSON.stringify({ Code: 'Success', Type: 'AWS-HMAC', ...CREDS }),
    };
    const answer = answers[req.url];
    res.writeHead(answer === undefined ? 404 : 200).end(answer ?? '');
  });
  downloads = await serve((req, res) => {
    const assets: Record<string, string> = { '/v1.34.2%2Bk3s1/k3s': FAKE_K3S, '/v1.34.2%2Bk3s1/k3s-arm64': FAKE_K3S.replace('stand-in', 'arm64 stand-in') };
    const asset = assets[req.url];
    res.writeHead(asset === undefined ? 404 : 200).end(asset ?? '');
  });
  api = await serve((_req, res) => {
    const index = Math.min(api.requests.length - 1, apiAnswers.length - 1);
    const answer = apiAnswers[index];
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  });
});
afterAll(async () => {
  await Promise.all([imds?.close(), downloads?.close(), api?.close()]);
});

let root: string;
beforeEach(() => {
  api.requests.length = 0;
  imds.requests.length = 0;
  downloads.requests.length = 0;
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-user-data-'));
});

function settings(overrides: Partial<WorkerUserDataSettings> = {}): WorkerUserDataSettings {
  return {
    API_URL: 'https://never-used.example.com',
    CLUSTER_ID: 'k3s-daas-test',
    WORKER_GROUP: 'general',
    STAKE_ID,
    K3S_VERSION: 'v1.34.2+k3s1',
    K3S_SHA256_AMD64: sha256(FAKE_K3S),
    K3S_SHA256_ARM64: sha256(FAKE_K3S.replace('stand-in', 'arm64 stand-in')),
    ...overrides,
  };
}

function writeFakeTools(): string {
  const bin = path.join(root, 'fake-bin');
  fs.mkdirSync(bin);
  const record = path.join(root, 'record');
  fs.mkdirSync(record);
  const tool = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\nset -eu\n${body}\n`, { mode: 0o755 });
  tool('modprobe', `printf '%s\\n' "$*" >> "$FAKE_RECORD_DIR/modprobe"`);
  tool('sysctl', `printf '%s\\n' "$*" >> "$FAKE_RECORD_DIR/sysctl"`);
  tool(
    'systemctl',
    `printf '%s\\n' "$*" >> "$FAKE_RECORD_DIR/systemctl"
if [[ "$1" == enable && "$2" == --now ]]; then
  shift 2
  for unit in "$@"; do
    exec_start="$(sed -n 's/^ExecStart=//p' "$K3S_DAAS_SYSTEMD_DIR/$unit")"
    bash -c "$exec_start"
  done
fi`,
  );
  return bin;
}

async function runBootstrap(script: string, env: Record<string, string> = {}) {
  const bin = writeFakeTools();
  const scriptPath = path.join(root, 'user-data.sh');
  fs.writeFileSync(scriptPath, script, { mode: 0o755 });
  const dirs = Object.fromEntries(
    ['BIN_DIR', 'K3S_CONFIG_DIR', 'STATE_DIR', 'SYSTEMD_DIR', 'SYSCTL_DIR', 'MODULES_DIR'].map((d) => [`K3S_DAAS_${d}`, path.join(root, 'fs', d.toLowerCase())]),
  );
  fs.mkdirSync(dirs.K3S_DAAS_SYSTEMD_DIR, { recursive: true });
  const child = spawn('bash', [scriptPath], {
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      HOME: root,
      FAKE_RECORD_DIR: path.join(root, 'record'),
      K3S_DAAS_IMDS_URL: imds.url,
      K3S_DAAS_API_URL: api.url,
      K3S_DAAS_K3S_DOWNLOAD_URL: downloads.url,
      K3S_DAAS_ARCH: 'x86_64',
      K3S_DAAS_BACKOFF_INITIAL: '1',
      K3S_DAAS_BACKOFF_MAX: '2',
      K3S_DAAS_JOIN_ATTEMPTS: '5',
      ...dirs,
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const read = (name: string) => (fs.existsSync(path.join(root, 'record', name)) ? fs.readFileSync(path.join(root, 'record', name), 'utf8') : undefined);
  return { code, stdout, stderr, dirs, read };
}

/** Recomputes the SigV4 signature of a recorded request with the instance credentials. */
async function expectValidSigV4(req: Recorded) {
  const authorization = String(req.headers.authorization);
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/execute-api\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  expect(match).not.toBeNull();
  const [, accessKey, , region, signedHeaders, signature] = match!;
  expect(accessKey).toBe(CREDS.AccessKeyId);
  expect(region).toBe(REGION);
  expect(req.headers['x-amz-security-token']).toBe(CREDS.Token);
  const names = signedHeaders.split(';');
  expect(names).toEqual(expect.arrayContaining(['host', 'x-amz-date']));
  const amzDate = String(req.headers['x-amz-date']);
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const headers = Object.fromEntries(names.filter((n) => n !== 'x-amz-date' && n !== 'x-amz-security-token').map((n) => [n, String(req.headers[n])]));
  const url = new URL(req.url, 'http://localhost');
  const signer = new SignatureV4({
    credentials: { accessKeyId: CREDS.AccessKeyId, secretAccessKey: CREDS.SecretAccessKey, ...(names.includes('x-amz-security-token') ? { sessionToken: CREDS.Token } : {}) },
    region: REGION,
    service: 'execute-api',
    sha256: Sha256,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    new HttpRequest({ method: req.method, protocol: 'http:', hostname: String(req.headers.host), path: url.pathname, headers, body: req.body }),
    { signingDate },
  );
  expect(String(signed.headers.authorization)).toContain(`Signature=${signature}`);
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('worker user-data bootstrap', () => {
  it('joins with SigV4-signed requests, retries with backoff, and starts the agent with the exact server, token and node name', async () => {
    apiAnswers = [
      { status: 502, body: '{"message":"Internal server error"}' },
      { status: 403, body: '{"error":"no_join_token","message":"the control plane has not published a join token yet"}' },
      { status: 200, body: JSON.stringify({ server: SERVER, token: TOKEN, nodeName: INSTANCE_ID }) },
    ];
    const run = await runBootstrap(renderWorkerUserData(settings()));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    // One clear line per attempt, with the capped exponential backoff.
    expect(run.stdout).toMatch(/join attempt 1\/5: HTTP 502 no reason given; retrying in 1s/);
    expect(run.stdout).toMatch(/join attempt 2\/5: HTTP 403 no_join_token; retrying in 2s/);
    expect(run.stdout).toMatch(/join attempt 3\/5: admitted/);

    expect(api.requests).toHaveLength(3);
    for (const req of api.requests) {
      expect(req.method).toBe('POST');
      expect(req.url).toBe('/v1/nodes/join');
      expect(req.body).toBe('{}');
      await expectValidSigV4(req);
    }

    const args = run.read('k3s-args')!.trim().split('\n');
    const tokenFile = path.join(run.dirs.K3S_DAAS_STATE_DIR, 'agent-token');
    expect(args).toEqual(['agent', '--server', SERVER, '--token-file', tokenFile, '--node-name', INSTANCE_ID, '--config', path.join(run.dirs.K3S_DAAS_K3S_CONFIG_DIR, 'config.yaml')]);
    expect(run.read('k3s-token-seen')).toBe(TOKEN);
    expect(run.read('k3s-token-mode')!.trim()).toBe('600');
    expect(run.read('k3s-env')).not.toContain(TOKEN);

    const config = fs.readFileSync(path.join(run.dirs.K3S_DAAS_K3S_CONFIG_DIR, 'config.yaml'), 'utf8');
    expect(config).toContain(`"k3s-daas.io/stake-id-hi=${STAKE_ID.slice(2, 34)}"`);
    expect(config).toContain(`"k3s-daas.io/stake-id-lo=${STAKE_ID.slice(34)}"`);
    expect(config).toContain('"k3s-daas.io/worker-group=general"');
    expect(run.read('modprobe')).toBe('overlay\nbr_netfilter\n');
    expect(run.read('sysctl')).toBe('--system\n');
    expect(fs.readFileSync(path.join(run.dirs.K3S_DAAS_SYSCTL_DIR, '90-k3s-daas.conf'), 'utf8')).toMatch(/net\.bridge\.bridge-nf-call-iptables = 1[\s\S]*net\.ipv4\.ip_forward = 1/);
    expect(run.read('systemctl')).toBe('daemon-reload\nenable --now k3s-agent.service k3s-daas-leave.service\n');
    expect(fs.readFileSync(path.join(run.dirs.K3S_DAAS_SYSTEMD_DIR, 'k3s-daas-leave.service'), 'utf8')).toContain(`delete node ${INSTANCE_ID}`);

    // The token is in its 0600 file and nowhere else: not in output, units, config or any leftover file.
    expect(run.stdout).not.toContain(TOKEN);
    expect(run.stdout).not.toContain(CREDS.SecretAccessKey);
    for (const file of filesUnder(path.join(root, 'fs'))) {
      if (file !== tokenFile) expect(fs.readFileSync(file, 'utf8')).not.toContain(TOKEN);
    }
    expect(fs.statSync(tokenFile).mode & 0o777).toBe(0o600);
  });

  it('downloads the arm64 binary on Graviton instances and checks it against the arm64 checksum', async () => {
    apiAnswers = [{ status: 200, body: JSON.stringify({ server: SERVER, token: TOKEN, nodeName: INSTANCE_ID }) }];
    const run = await runBootstrap(renderWorkerUserData(settings()), { K3S_DAAS_ARCH: 'aarch64' });
    expect(run.code).toBe(0);
    expect(downloads.requests.map((r) => r.url)).toEqual(['/v1.34.2%2Bk3s1/k3s-arm64']);
  });

  it('refuses to install a K3s binary whose SHA-256 differs from the pinned one, before asking to join', async () => {
    apiAnswers = [{ status: 200, body: JSON.stringify({ server: SERVER, token: TOKEN, nodeName: INSTANCE_ID }) }];
    const run = await runBootstrap(renderWorkerUserData(settings({ K3S_SHA256_AMD64: 'f'.repeat(64) })));
    expect(run.code).not.toBe(0);
    expect(run.stdout).toMatch(/FATAL: K3s binary SHA-256 [0-9a-f]{64} does not match the pinned f{64}/);
    expect(fs.existsSync(path.join(run.dirs.K3S_DAAS_BIN_DIR, 'k3s'))).toBe(false);
    expect(api.requests).toHaveLength(0);
  });

  it('gives up at once on a permanent refusal (already_joined) and starts nothing', async () => {
    apiAnswers = [{ status: 403, body: '{"error":"already_joined","message":"instance has joined before"}' }];
    const run = await runBootstrap(renderWorkerUserData(settings()));
    expect(run.code).not.toBe(0);
    expect(run.stdout).toMatch(/FATAL: join attempt 1\/5: HTTP 403 already_joined; giving up/);
    expect(api.requests).toHaveLength(1);
    expect(run.read('k3s-args')).toBeUndefined();
  });

  it('retries not_a_worker (EC2 describe calls lag just after launch) and joins when the instance becomes visible', async () => {
    apiAnswers = [
      { status: 403, body: '{"error":"not_a_worker"}' },
      { status: 403, body: '{"error":"not_a_worker"}' },
      { status: 200, body: JSON.stringify({ server: SERVER, token: TOKEN, nodeName: INSTANCE_ID }) },
    ];
    const run = await runBootstrap(renderWorkerUserData(settings()));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/join attempt 2\/5: HTTP 403 not_a_worker; retrying in 2s/);
    expect(run.stdout).toMatch(/join attempt 3\/5: admitted/);
    expect(run.read('k3s-token-seen')).toBe(TOKEN);
  });

  it('gives up on not_a_worker once it has been repeated three times', async () => {
    apiAnswers = [{ status: 403, body: '{"error":"not_a_worker"}' }];
    const run = await runBootstrap(renderWorkerUserData(settings()));
    expect(run.code).not.toBe(0);
    expect(run.stdout).toMatch(/FATAL: join attempt 3\/5: HTTP 403 not_a_worker; giving up/);
    expect(api.requests).toHaveLength(3);
    expect(run.read('k3s-args')).toBeUndefined();
  });

  it('gives up after the configured number of attempts when the API keeps failing', async () => {
    apiAnswers = [{ status: 503, body: '{"error":"stake_insufficient"}' }];
    const run = await runBootstrap(renderWorkerUserData(settings()), { K3S_DAAS_JOIN_ATTEMPTS: '2' });
    expect(run.code).not.toBe(0);
    expect(run.stdout).toMatch(/join attempt 1\/2: HTTP 503 stake_insufficient; retrying in 1s/);
    expect(run.stdout).toMatch(/FATAL: join attempt 2\/2: HTTP 503 stake_insufficient; giving up/);
    expect(run.read('k3s-args')).toBeUndefined();
  });

  it.each([
    ['lacks the CA hash', 'K10::abcdef.0123456789abcdef'],
    ['is not a per-node bootstrap token (a cluster-wide agent token)', `K10${'7f'.repeat(32)}::node:${'s'.repeat(64)}`],
  ])('refuses an answer whose token %s, and never starts the agent with it', async (_why, token) => {
    apiAnswers = [{ status: 200, body: JSON.stringify({ server: SERVER, token, nodeName: INSTANCE_ID }) }];
    const run = await runBootstrap(renderWorkerUserData(settings()), { K3S_DAAS_JOIN_ATTEMPTS: '1' });
    expect(run.code).not.toBe(0);
    expect(run.stdout).toMatch(/HTTP 200 malformed answer; giving up/);
    expect(run.read('k3s-args')).toBeUndefined();
  });

  itWithShellcheck('renders a script that shellcheck passes without findings', (shellcheck) => {
    const scriptPath = path.join(root, 'rendered.sh');
    fs.writeFileSync(scriptPath, renderWorkerUserData(settings({ API_URL: 'https://abc.execute-api.us-east-1.amazonaws.com' })));
    const result = spawnSync(shellcheck, ['--severity=style', scriptPath], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('keeps every setting single-quoted so no value can break out of its assignment', () => {
    const script = renderWorkerUserData(settings({ WORKER_GROUP: "gen'eral$(reboot)" }));
    expect(script).toContain(`readonly WORKER_GROUP='gen'"'"'eral$(reboot)'`);
    expect(script).not.toContain('# @@SETTINGS@@');
  });
});
