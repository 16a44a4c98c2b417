// The K3s agent on an external node's machine (issue 15, `k3s-daas node join|leave`): the pinned release's
// binary, downloaded and checked against the pin's SHA-256 before it is ever made executable; the agent
// config (/etc/rancher/k3s/config.yaml, 0600: it holds the bootstrap secret); and the systemd unit
// `k3s-agent` that runs it. Each function does one step and fails with the CLI's classes: a download that
// cannot be had is network (4) or configuration (3), a checksum that differs is a verification failure (6).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, open, rename, rm, stat } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { K3S_GITHUB_RELEASES, type K3sRelease } from '../lambdas/shared/nodes/k3s-release';
import type { CliContext } from './context';
import { CliError, ConfigError, NetworkError, RefusedError, VerificationError } from './errors';
import { classifyNetworkError } from './network';
import { withProgress } from './output';

export const DEFAULT_INSTALL_DIR = '/usr/local/bin';
export const DEFAULT_AGENT_CONFIG = '/etc/rancher/k3s/config.yaml';
export const AGENT_UNIT = 'k3s-agent';
export const AGENT_UNIT_DESCRIPTION = 'K3s agent of a k3s-daas external node (k3s-daas node join)';
export const SYSTEMD_UNIT_DIR = '/etc/systemd/system';
/** sd_booted(3): systemd is the running init when this directory exists. */
const SYSTEMD_RUNTIME_DIR = '/run/systemd/system';
/** A CA bundle is a few KiB. */
const MAX_CA_BUNDLE_BYTES = 64 * 1024;
/** The k3s binary is ~70 MiB; anything far larger is not the release asset. */
const MAX_BINARY_BYTES = 512 * 1024 * 1024;

export interface K3sAsset {
  version: string;
  /** Release asset name: `k3s` (amd64) or `k3s-arm64`. */
  name: string;
  url: string;
  sha256: string;
}

/** The release asset for this machine's architecture (Node's `process.arch`). */
export function k3sAsset(release: K3sRelease, arch: string, downloadBase?: string): K3sAsset {
  const byArch: Record<string, { name: string; sha256: string }> = {
    x64: { name: 'k3s', sha256: release.sha256Amd64 },
    arm64: { name: 'k3s-arm64', sha256: release.sha256Arm64 },
  };
  const asset = byArch[arch];
  if (!asset) throw new ConfigError(`K3s publishes agents for amd64 and arm64, not for this machine's ${arch}`);
  const base = (downloadBase ?? release.downloadBase ?? K3S_GITHUB_RELEASES).replace(/\/+$/, '');
  return { version: release.version, name: asset.name, url: `${base}/${encodeURIComponent(release.version)}/${asset.name}`, sha256: asset.sha256 };
}

/** SHA-256 (hex) of a file, or undefined when there is none. */
export async function fileSha256(path: string): Promise<string | undefined> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const hash = createHash('sha256');
    for await (const chunk of file.createReadStream()) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } finally {
    await file.close().catch(() => undefined);
  }
}

/**
 * Downloads `asset` into a fresh file in `dir` (mode 0600, not executable), hashing as it streams, and
 * returns its path only when the SHA-256 is the pinned one; otherwise the file is deleted and nothing
 * is installed.
 */
export async function downloadVerified(ctx: CliContext, asset: K3sAsset, dir: string, timeoutMs: number): Promise<string> {
  const part = join(dir, `.k3s-${randomBytes(8).toString('hex')}.part`);
  let file;
  try {
    file = await open(part, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError(`cannot write to ${dir} (${code})${code === 'EACCES' || code === 'EPERM' ? ': run as root or pass --install-dir' : ''}`);
  }
  const origin = new URL(asset.url).origin;
  try {
    const hash = createHash('sha256');
    await withProgress(ctx, `downloading K3s ${asset.version} (${asset.url})…`, async () => {
      let res: Response;
      try {
        res = await ctx.fetch(asset.url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
      } catch (error) {
        const failure = classifyNetworkError(error, timeoutMs);
        throw new NetworkError(`downloading K3s ${asset.version}: cannot reach ${origin}: ${failure.detail}`, failure.cause);
      }
      if (!res.ok || !res.body) {
        throw new ConfigError(`downloading K3s ${asset.version}: ${asset.url} answered ${res.status}: check --k3s-download-base`);
      }
      let size = 0;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          size += chunk.length;
          if (size > MAX_BINARY_BYTES) throw new VerificationError(`downloading K3s ${asset.version}: ${asset.url} is larger than ${MAX_BINARY_BYTES} bytes, not the release binary`, { reason: 'checksum_mismatch' });
          hash.update(chunk);
          await file.write(chunk);
        }
      } catch (error) {
        if (error instanceof CliError) throw error;
        const failure = classifyNetworkError(error, timeoutMs);
        throw new NetworkError(`downloading K3s ${asset.version}: the download from ${origin} broke off: ${failure.detail}`, failure.cause);
      }
    });
    await file.close();
    const actual = hash.digest('hex');
    if (actual !== asset.sha256) {
      throw new VerificationError(`checksum mismatch: ${asset.url} has SHA-256 ${actual}, the pinned K3s ${asset.version} ${asset.name} has ${asset.sha256}: refusing to install it`, { reason: 'checksum_mismatch' });
    }
    return part;
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(part, { force: true });
    throw error;
  }
}

/** Makes the verified download executable and moves it into place (rename: never half a binary at `target`). */
export async function installBinary(verifiedPath: string, target: string): Promise<void> {
  try {
    await chmod(verifiedPath, 0o755);
    await rename(verifiedPath, target);
  } catch (error) {
    await rm(verifiedPath, { force: true });
    throw new CliError(`cannot install ${target}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export interface AgentConfig {
  server: string;
  token: string;
  nodeName: string;
  labels: Record<string, string>;
  taints: readonly string[];
}

/** The K3s agent's config file (keys as `k3s agent` flags take them). */
export function agentConfigYaml(config: AgentConfig): string {
  return stringify({
    server: config.server,
    token: config.token,
    'node-name': config.nodeName,
    'node-label': Object.entries(config.labels).map(([k, v]) => `${k}=${v}`),
    'node-taint': [...config.taints],
  });
}

/** The unit that runs the agent (as K3s's own install script writes it, minus what an agent does not need). */
export function agentUnit(binary: string, configPath: string): string {
  return `[Unit]
Description=${AGENT_UNIT_DESCRIPTION}
Documentation=https://docs.k3s.io
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=${binary} agent --config ${configPath}
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
`;
}

/** The command that starts the agent by hand, where there is no systemd. */
export function agentCommand(binary: string, configPath: string): string {
  return `${binary} agent --config ${configPath}`;
}

/** `name` on the PATH of `ctx.env`, or undefined. */
export async function findExecutable(ctx: CliContext, name: string): Promise<string | undefined> {
  for (const dir of (ctx.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export type Systemd = { running: true; systemctl: string } | { running: false; why: string };

/** Whether systemd runs this machine and `systemctl` is at hand. */
export async function detectSystemd(ctx: CliContext): Promise<Systemd> {
  const booted = await stat(SYSTEMD_RUNTIME_DIR).then((s) => s.isDirectory(), () => false);
  if (!booted) return { running: false, why: `systemd is not running on this machine (${SYSTEMD_RUNTIME_DIR} is absent)` };
  const systemctl = await findExecutable(ctx, 'systemctl');
  if (!systemctl) return { running: false, why: 'systemctl is not on PATH' };
  return { running: true, systemctl };
}

const execFileAsync = promisify(execFile);

/** Runs a local tool (systemctl, kubectl) with a deadline; a failure names the command and its first error line. */
export async function runTool(ctx: CliContext, file: string, args: readonly string[], timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, [...args], { env: ctx.env, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message?: string; killed?: boolean };
    const detail = e.killed ? `no result within ${Math.round(timeoutMs / 1000)} s` : ((e.stderr ?? '').trim().split('\n')[0] || (e.message ?? 'failed'));
    throw new CliError(`${[file, ...args].join(' ')} failed: ${detail}`);
  }
}

/**
 * The CA bundle the K3s server serves on `/cacerts`, as the K3s agent itself fetches it with a K10 token:
 * over TLS that cannot be verified yet (the CA is what is being fetched), so the bytes are trusted only
 * through the hashes the caller checks — the token's K10 hash of exactly these bytes, and the enclave's
 * attested hash of the certificate in them. `lookup` lets a test point the attested name at a local server.
 */
export function fetchCaBundle(server: URL, timeoutMs: number, lookup?: LookupFunction): Promise<string> {
  const url = new URL('/cacerts', server);
  return new Promise((resolveBundle, reject) => {
    const fail = (error: unknown) => {
      const failure = classifyNetworkError(error, timeoutMs);
      reject(new NetworkError(`GET ${url.href}: cannot reach ${url.origin}: ${failure.detail}`, failure.cause));
    };
    const req = httpsRequest(
      // Deliberately unverified TLS: see above; nothing but the two hashes vouches for the answer.
      { host: url.hostname, port: url.port, path: url.pathname, method: 'GET', rejectUnauthorized: false, servername: url.hostname, lookup, signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_CA_BUNDLE_BYTES) {
            req.destroy();
            reject(new RefusedError(`GET ${url.href}: the CA bundle is larger than ${MAX_CA_BUNDLE_BYTES} bytes`));
          } else chunks.push(chunk);
        });
        res.on('error', fail);
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new RefusedError(`GET ${url.href} answered ${res.statusCode}`, { reason: `http_${res.statusCode}` }));
          else resolveBundle(Buffer.concat(chunks).toString('utf8'));
        });
      },
    );
    req.on('error', fail);
    req.end();
  });
}
