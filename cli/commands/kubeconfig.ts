// `k3s-daas kubeconfig` (DESIGN §2 step 4, §9): asks the platform for a kubeconfig with a fresh
// credential, and writes it only after verifying the answer against anchors the user already holds,
// never against the answering API (lambdas/shared/kubeconfig/verify-answer.ts): the raw attestation
// document against the AWS Nitro root and the pinned pcrs.json, its claims for the CA, the boot
// settings and the signing key, the settings against the API URL and cluster asked for and against a
// settings digest pinned on first use (or given by the operator). The file is the kubeconfig rendered
// from the verified parts, written 0600, never over an existing file without --force, and never
// through a symlink.
import type { Command } from 'commander';
import { randomBytes, X509Certificate } from 'node:crypto';
import { access, chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { canonicalApiUrl, CLUSTER_ID_PATTERN } from '../../lambdas/shared/attestation/enclave-claims';
import { createCredential } from '../../lambdas/shared/credentials/credential';
import { KubeconfigAnswerError, verifyKubeconfigAnswer } from '../../lambdas/shared/kubeconfig/verify-answer';
import { CliError, type CliContext } from '../context';
import { asVerificationFailure, ConfigError, RefusedError, UsageError, VerificationError } from '../errors';
import { examples } from '../help';
import { loadKeypair } from '../keys';
import { apiBase, apiUrl, requestJson, timeoutMs, withTimeoutOption } from '../network';
import { loadExpectedPcrs } from './attestation';
import { canonicalSuiId } from '../../lambdas/shared/sui/ids';

interface KubeconfigFlags {
  api: string;
  token: string;
  cluster?: string;
  pcrs?: string;
  root?: string;
  output?: string;
  force?: boolean;
  settingsSha256?: string;
  trustFirstUse?: boolean;
  address?: string;
  timeout?: string;
  json?: boolean;
}

/** The repository's own build output, used when --pcrs is not given (run from a checkout). */
const REPO_PCRS_FILE = join('enclave', 'pcrs.json');
/** The credential only has to live for this one request. */
const CREDENTIAL_LIFETIME_S = 120;

/** Oldest attestation document the CLI accepts (NSM time); the route already refuses records older than its own bound. */
const MAX_DOCUMENT_AGE_MS = 24 * 3600_000;

/** Settings digests the user trusted, per API URL and cluster (first-use pins). */
function pinsFile(ctx: CliContext): string {
  return join(ctx.homeDir, '.kube', 'k3s-daas-trusted-settings.json');
}

type Pins = Record<string, { settingsSha256: string; pinnedAt: string }>;

async function readPins(ctx: CliContext): Promise<Pins> {
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

const pinKey = (apiUrl: string, clusterId: string) => `${apiUrl} ${clusterId}`;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
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

async function kubeconfig(flags: KubeconfigFlags, ctx: CliContext): Promise<void> {
  const base = apiBase(flags.api);
  const deadline = timeoutMs(ctx, flags.timeout);
  let askedApiUrl: string;
  try {
    askedApiUrl = canonicalApiUrl(base.toString());
  } catch (error) {
    // http is only ever to this machine (apiBase): no enclave attests such a URL, so verification refuses it later.
    if (base.protocol !== 'http:') throw new UsageError(`--api: ${(error as Error).message}`);
    askedApiUrl = base.href.replace(/\/+$/, '');
  }
  const tokenId = canonicalSuiId(flags.token);
  if (!tokenId) throw new UsageError(`--token must be a seal token object id (0x followed by 64 hex characters), not "${flags.token}"`);
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

  let clusterId = flags.cluster;
  if (clusterId === undefined) {
    // Only a default: whatever the API names is checked against the attested settings below.
    const issuerBody = await requestJson(ctx, apiUrl(base, 'v1/issuer'), { method: 'GET' }, { what: 'GET /v1/issuer', waitingFor: 'fetching the cluster id', timeoutMs: deadline });
    const named = (issuerBody as { clusterId?: unknown } | null)?.clusterId;
    if (typeof named !== 'string') throw new UsageError('the issuer does not name its cluster: pass --cluster <id>');
    // The id goes into a file name, a credential audience and the exec arguments: one strict shape.
    if (!CLUSTER_ID_PATTERN.test(named)) throw new RefusedError(`the issuer names cluster ${JSON.stringify(named.slice(0, 80))}, which is not 1-63 lowercase letters, digits and dashes`);
    clusterId = named;
  } else if (!CLUSTER_ID_PATTERN.test(clusterId)) {
    throw new UsageError(`--cluster ${JSON.stringify(clusterId.slice(0, 80))} is not 1-63 lowercase letters, digits and dashes`);
  }
  const output = resolve(flags.output ?? join(ctx.homeDir, '.kube', `k3s-daas-${clusterId}.yaml`));
  if (!flags.force && (await exists(output))) throw new CliError(`${output} exists: pass --force to replace it`);
  const pins = await readPins(ctx);
  const pinned = flags.settingsSha256?.toLowerCase() ?? pins[pinKey(askedApiUrl, clusterId)]?.settingsSha256;
  // Pins are keyed by API and cluster: an API that names a new cluster must not slip past the pin of the one
  // this user already trusts there (a first use it would then ask for).
  if (pinned === undefined && flags.cluster === undefined && Object.keys(pins).some((k) => k.startsWith(`${askedApiUrl} `))) {
    throw new UsageError(`${askedApiUrl} now names cluster ${clusterId}, which you have not pinned: pass --cluster <id> for the cluster you mean`);
  }

  const keypair = await loadKeypair(ctx, { address: flags.address });
  const { credential } = await createCredential(keypair, { tokenId, clusterId, now: ctx.now(), lifetimeSeconds: CREDENTIAL_LIFETIME_S });
  const answer = await requestJson(
    ctx,
    apiUrl(base, 'v1/kubeconfig'),
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ credential }) },
    { what: 'POST /v1/kubeconfig', waitingFor: 'fetching the kubeconfig', timeoutMs: deadline },
  );
  let verified;
  try {
    verified = await verifyKubeconfigAnswer(answer, {
      apiUrl: askedApiUrl,
      clusterId,
      tokenId,
      expectedPcrs,
      now: ctx.now(),
      maxDocumentAgeMs: MAX_DOCUMENT_AGE_MS,
      rootPem,
      pinnedSettingsSha256: pinned,
    });
  } catch (error) {
    // An answer missing contract fields is the server's failure (exit 5); one that does not verify is exit 6.
    if (error instanceof KubeconfigAnswerError && error.kind === 'malformed') throw new RefusedError(`POST /v1/kubeconfig: ${error.message}`);
    if (error instanceof KubeconfigAnswerError) throw new VerificationError(`${error.message}: refusing to write the kubeconfig`);
    throw asVerificationFailure(error);
  }
  const { settings, settingsSha256 } = verified;
  if (pinned === undefined && !flags.trustFirstUse) {
    // Nothing to verify the settings against yet: a verification failure until the user pins them.
    throw new VerificationError(
      `first use of ${askedApiUrl} cluster ${clusterId}: the attested enclave settings are ${settingsSha256} ` +
        `(cluster-state key ${settings.clusterStateKeyId}, join-token key ${settings.joinTokenKeyId}, apiserver ${settings.tlsSans.join(',')}); ` +
        'if these are your platform\'s, run again with --trust-first-use (or --settings-sha256 <digest> from your operator)',
      { reason: 'settings_not_pinned' },
    );
  }
  await writePrivate(output, verified.kubeconfig, flags.force === true);
  if (pins[pinKey(askedApiUrl, clusterId)]?.settingsSha256 !== settingsSha256) {
    const next = { ...pins, [pinKey(askedApiUrl, clusterId)]: { settingsSha256, pinnedAt: ctx.now().toISOString() } };
    await writePrivate(pinsFile(ctx), `${JSON.stringify(next, null, 2)}\n`, true);
    ctx.err(`pinned enclave settings ${settingsSha256} for ${askedApiUrl} cluster ${clusterId} (${pinsFile(ctx)})\n`);
  }
  ctx.err(`verified: enclave attested at ${verified.attestedAt} with the expected PCRs and settings ${settingsSha256}; signed by the attested key\n`);
  ctx.out(`${output}\n`);
}

export function register(program: Command, ctx: CliContext): void {
  const command = program
    .command('kubeconfig')
    .description('Fetch a kubeconfig for a seal token, verify it against the Nitro root, pcrs.json and the attested settings, write it (0600)')
    .requiredOption('--api <url>', 'platform HTTP API base URL, stage path included (e.g. https://…/prod)')
    .requiredOption('--token <id>', 'seal token object id')
    .option('--cluster <id>', 'cluster id (default: the one the API serves)')
    .option('--pcrs <pcrs.json>', `expected enclave PCRs (default: ./${REPO_PCRS_FILE})`)
    .option('--root <pem>', 'trusted attestation root (default: the bundled AWS Nitro Enclaves root G1)')
    .option('--settings-sha256 <hex>', 'the enclave settings digest your operator published (GET /v1/issuer settingsSha256)')
    .option('--trust-first-use', 'pin the attested enclave settings on first use (later runs refuse other settings)')
    .option('--output <path>', 'where to write the kubeconfig (default: ~/.kube/k3s-daas-<cluster>.yaml)')
    .option('--force', 'replace an existing file')
    .option('--address <address>', 'keystore address whose key signs the request (default: client.yaml active_address)')
    .option('--json', 'print any error as JSON')
    .addHelpText('after', examples([
      'k3s-daas kubeconfig --api https://abc.execute-api.eu-west-1.amazonaws.com/prod --token 0x7ab… --pcrs enclave/pcrs.json',
      'k3s-daas kubeconfig --api https://api.example.com --token 0x7ab… --output ~/.kube/config --force',
    ]));
  withTimeoutOption(command);
  command.action((flags: KubeconfigFlags) => kubeconfig(flags, ctx));
}
