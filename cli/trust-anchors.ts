// The trust anchors every command that verifies an attested answer uses (`kubeconfig`, `node join`): the
// API URL as the attested settings must name it, the expected PCRs (pcrs.json), the attestation root, and
// the settings digest pinned per API URL and cluster (first use, or `--settings-sha256` from the operator).
import { randomBytes, X509Certificate } from 'node:crypto';
import { access, chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { canonicalApiUrl } from '../lambdas/shared/attestation/enclave-claims';
import type { ExpectedPcrs } from '../lambdas/shared/attestation/pcrs';
import { loadExpectedPcrs } from './commands/attestation';
import { CliError, type CliContext } from './context';
import { ConfigError, UsageError } from './errors';

/** The repository's own build output, used when --pcrs is not given (run from a checkout). */
export const REPO_PCRS_FILE = join('enclave', 'pcrs.json');

/** Oldest attestation document the CLI accepts (NSM time); the routes already refuse records older than their own bound. */
export const MAX_DOCUMENT_AGE_MS = 24 * 3600_000;

export interface AnchorFlags {
  pcrs?: string;
  root?: string;
  settingsSha256?: string;
}

export interface LoadedAnchors {
  expectedPcrs: ExpectedPcrs;
  rootPem?: string;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The API URL as the attested settings name it (http only ever to this machine, which no enclave attests). */
export function askedApiUrlOf(base: URL): string {
  try {
    return canonicalApiUrl(base.toString());
  } catch (error) {
    // No enclave attests an http URL, so verification refuses it later.
    if (base.protocol !== 'http:') throw new UsageError(`--api: ${(error as Error).message}`);
    return base.href.replace(/\/+$/, '');
  }
}

/** `--pcrs` (default ./enclave/pcrs.json), `--root` (default: the bundled AWS Nitro root), `--settings-sha256` checked. */
export async function loadAnchors(flags: AnchorFlags): Promise<LoadedAnchors> {
  if (flags.settingsSha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(flags.settingsSha256)) throw new UsageError('--settings-sha256 must be 64 hex characters');
  const pcrsFile = flags.pcrs ?? REPO_PCRS_FILE;
  if (flags.pcrs === undefined && !(await exists(pcrsFile))) {
    throw new ConfigError(`no expected PCRs: pass --pcrs <pcrs.json> (${pcrsFile} not found in this directory)`);
  }
  const expectedPcrs = await loadExpectedPcrs(pcrsFile);
  let rootPem: string | undefined;
  if (flags.root !== undefined) {
    rootPem = await readFile(flags.root, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new ConfigError(`cannot read root certificate ${flags.root}: ${error.code ?? 'error'}`);
    });
    try {
      new X509Certificate(rootPem);
    } catch {
      throw new ConfigError(`${flags.root} is not a PEM certificate`);
    }
  }
  return { expectedPcrs, rootPem };
}

/** Settings digests the user trusted, per API URL and cluster (first-use pins). */
export function pinsFile(ctx: CliContext): string {
  return join(ctx.homeDir, '.kube', 'k3s-daas-trusted-settings.json');
}

export type Pins = Record<string, { settingsSha256: string; pinnedAt: string }>;

export async function readPins(ctx: CliContext): Promise<Pins> {
  let text: string;
  try {
    text = await readFile(pinsFile(ctx), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`cannot read ${pinsFile(ctx)}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const pins = JSON.parse(text) as Pins;
    if (typeof pins !== 'object' || pins === null || Array.isArray(pins)) throw new Error('not an object');
    for (const pin of Object.values(pins)) {
      if (typeof pin !== 'object' || pin === null || typeof pin.settingsSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(pin.settingsSha256)) throw new Error('bad entry');
    }
    return pins;
  } catch {
    throw new ConfigError(`${pinsFile(ctx)} is not a pin file; remove it to pin again`);
  }
}

export const pinKey = (apiUrl: string, clusterId: string) => `${apiUrl} ${clusterId}`;

/**
 * The settings digest to hold the answer to: `--settings-sha256`, else the pin for this API and cluster.
 * Pins are keyed by API and cluster: an API that names a new cluster must not slip past the pin of the one
 * this user already trusts there (a first use it would then ask for) — unless the user named the cluster.
 */
export function pinnedDigest(pins: Pins, flags: { settingsSha256?: string; clusterNamed: boolean }, apiUrl: string, clusterId: string): string | undefined {
  const pinned = flags.settingsSha256?.toLowerCase() ?? pins[pinKey(apiUrl, clusterId)]?.settingsSha256;
  if (pinned === undefined && !flags.clusterNamed && Object.keys(pins).some((k) => k.startsWith(`${apiUrl} `))) {
    throw new UsageError(`${apiUrl} now names cluster ${clusterId}, which you have not pinned: pass --cluster <id> for the cluster you mean`);
  }
  return pinned;
}

/** Records `settingsSha256` as the pin for this API and cluster (and says so) when it is not already. */
export async function savePin(ctx: CliContext, pins: Pins, apiUrl: string, clusterId: string, settingsSha256: string): Promise<void> {
  if (pins[pinKey(apiUrl, clusterId)]?.settingsSha256 === settingsSha256) return;
  const next = { ...pins, [pinKey(apiUrl, clusterId)]: { settingsSha256, pinnedAt: ctx.now().toISOString() } };
  await writePrivate(pinsFile(ctx), `${JSON.stringify(next, null, 2)}\n`, true);
  ctx.err(`pinned enclave settings ${settingsSha256} for ${apiUrl} cluster ${clusterId} (${pinsFile(ctx)})\n`);
}

/**
 * Writes `text` with mode 0600. Without `force`: created exclusively at `path` (O_EXCL: an existing
 * file or symlink there is an error, never followed). With `force`: created exclusively under a fresh
 * random name beside it, then renamed over `path` (rename replaces a symlink, it never writes through one).
 */
export async function writePrivate(path: string, text: string, force: boolean): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new CliError(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const target = force ? `${path}.${randomBytes(8).toString('hex')}.tmp` : path;
  let file;
  try {
    file = await open(target, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${path} exists: pass --force to replace it`);
    throw new CliError(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    try {
      await file.writeFile(text, 'utf8');
    } finally {
      await file.close();
    }
    await chmod(target, 0o600); // the umask could have narrowed it further, never widened; make it exact
    if (force) await rename(target, path);
  } catch (error) {
    if (force) await rm(target, { force: true });
    throw new CliError(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
