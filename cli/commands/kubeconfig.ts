// `k3s-daas kubeconfig` (DESIGN §2 step 4, §9): asks the platform for a kubeconfig with a fresh
// credential, and writes it only after checking that the platform's KMS key signed exactly these bytes,
// that the signed attestation summary shows the expected enclave measurements, and that the CA in the
// file is the attested one. The file is written 0600 and never over an existing one without --force.
import type { Command } from 'commander';
import { createHash, X509Certificate } from 'node:crypto';
import { access, chmod, mkdir, open, rename } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { pcrsMatch } from '../../lambdas/shared/attestation/cluster-attestation';
import { createCredential } from '../../lambdas/shared/credentials/credential';
import { ATTESTATION_EXTENSION } from '../../lambdas/shared/kubeconfig/kubeconfig';
import { verifyKubeconfigSignature } from '../../lambdas/shared/kubeconfig/kubeconfig-signature';
import type { ExpectedPcrs } from '../../lambdas/shared/attestation/pcrs';
import { CliError, type CliContext } from '../context';
import { loadKeypair } from '../keys';
import { loadExpectedPcrs } from './attestation';
import { canonicalSuiId } from '../../lambdas/shared/sui/ids';

interface KubeconfigFlags {
  api: string;
  token: string;
  cluster?: string;
  pcrs?: string;
  output?: string;
  force?: boolean;
}

interface IssuerAnswer {
  clusterId?: string;
  keyId: string;
  publicKeyPem: string;
}

interface KubeconfigAnswer {
  kubeconfig: string;
  signature: string;
  keyId: string;
  attestation: { pcrs: Record<string, string>; timestamp: string; caSha256: string };
}

/** The repository's own build output, used when --pcrs is not given (run from a checkout). */
const REPO_PCRS_FILE = join('enclave', 'pcrs.json');
/** The credential only has to live for this one request. */
const CREDENTIAL_LIFETIME_S = 120;

function apiBase(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`--api must be a URL such as https://abc.execute-api.us-east-1.amazonaws.com, not "${raw}"`);
  }
  const local = url.hostname === 'localhost' || url.hostname === '127.0.0.1';
  if (url.protocol !== 'https:' && !(local && url.protocol === 'http:')) throw new CliError('--api must use https');
  return url;
}

async function call(ctx: CliContext, url: URL, init: RequestInit, what: string): Promise<unknown> {
  let res: Response;
  try {
    res = await ctx.fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    throw new CliError(`${what}: cannot reach ${url.origin} (${error instanceof Error ? error.message : String(error)})`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError(`${what}: ${res.status} with a body that is not JSON`);
  }
  if (!res.ok) {
    const err = body as { error?: unknown; message?: unknown };
    throw new CliError(`${what} refused (${res.status} ${String(err.error ?? 'error')}): ${String(err.message ?? '')}`.trimEnd());
  }
  return body;
}

function isString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

function checkIssuer(body: unknown): IssuerAnswer {
  const b = body as Partial<IssuerAnswer>;
  if (!b || !isString(b.keyId) || !isString(b.publicKeyPem)) throw new CliError('GET /v1/issuer answered without keyId/publicKeyPem');
  return { keyId: b.keyId, publicKeyPem: b.publicKeyPem, clusterId: isString(b.clusterId) ? b.clusterId : undefined };
}

function checkAnswer(body: unknown): KubeconfigAnswer {
  const b = body as Partial<KubeconfigAnswer>;
  if (!b || !isString(b.kubeconfig) || !isString(b.signature) || !isString(b.keyId) || typeof b.attestation !== 'object' || b.attestation === null) {
    throw new CliError('POST /v1/kubeconfig answered without kubeconfig/signature/keyId/attestation');
  }
  return b as KubeconfigAnswer;
}

function sameSummary(a: KubeconfigAnswer['attestation'], b: KubeconfigAnswer['attestation']): boolean {
  const pcrs = (p: Record<string, string>) => JSON.stringify(Object.entries(p ?? {}).sort(([x], [y]) => x.localeCompare(y)));
  return a.timestamp === b.timestamp && a.caSha256 === b.caSha256 && pcrs(a.pcrs) === pcrs(b.pcrs);
}

/** Every check that must pass before the file is written; each failure names what is wrong. */
export function verifyKubeconfigAnswer(answer: KubeconfigAnswer, issuer: IssuerAnswer, expected: ExpectedPcrs): void {
  if (answer.keyId !== issuer.keyId) throw new CliError(`kubeconfig was signed by ${answer.keyId}, but the issuer key is ${issuer.keyId}`);
  if (!verifyKubeconfigSignature(answer.kubeconfig, answer.signature, issuer.publicKeyPem)) {
    throw new CliError('kubeconfig signature does not verify with the issuer key: refusing to write it');
  }
  // From here on the bytes are the platform's own: read the signed attestation summary out of them.
  let doc: { clusters?: { cluster?: { 'certificate-authority-data'?: string } }[]; extensions?: { name?: string; extension?: KubeconfigAnswer['attestation'] }[] };
  try {
    doc = parseYaml(answer.kubeconfig);
  } catch {
    throw new CliError('kubeconfig is not YAML');
  }
  const signed = doc?.extensions?.find((e) => e?.name === ATTESTATION_EXTENSION)?.extension;
  if (!signed || typeof signed.pcrs !== 'object' || !isString(signed.caSha256)) throw new CliError('kubeconfig carries no signed attestation summary');
  if (!pcrsMatch(expected, signed.pcrs)) {
    const diff = Object.entries(expected)
      .filter(([i, v]) => signed.pcrs[`PCR${i}`] !== v)
      .map(([i]) => `PCR${i}`);
    throw new CliError(`attested enclave does not match the expected PCRs (${diff.join(', ')} differ): refusing to write the kubeconfig`);
  }
  if (!sameSummary(signed, answer.attestation)) {
    throw new CliError('attestation summary in the answer differs from the signed one in the kubeconfig');
  }
  const clusters = doc.clusters ?? [];
  if (clusters.length !== 1 || !isString(clusters[0]?.cluster?.['certificate-authority-data'])) throw new CliError('kubeconfig must hold exactly one cluster with a CA');
  let caDer: Buffer;
  try {
    caDer = new X509Certificate(Buffer.from(clusters[0].cluster!['certificate-authority-data']!, 'base64')).raw;
  } catch {
    throw new CliError('kubeconfig CA is not a certificate');
  }
  if (createHash('sha256').update(caDer).digest('hex') !== signed.caSha256) throw new CliError('kubeconfig CA is not the attested CA');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes `text` with mode 0600: exclusively unless `force`, then through a private temp file and rename. */
async function writePrivate(path: string, text: string, force: boolean): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const target = force ? `${path}.${process.pid}.tmp` : path;
  let file;
  try {
    file = await open(target, force ? 'w' : 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError(`${path} exists: pass --force to replace it`);
    throw new CliError(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    await file.writeFile(text, 'utf8');
  } finally {
    await file.close();
  }
  await chmod(target, 0o600); // the umask could have narrowed it further, never widened; make it exact
  if (force) await rename(target, path);
}

async function kubeconfig(flags: KubeconfigFlags, ctx: CliContext): Promise<void> {
  const base = apiBase(flags.api);
  const tokenId = canonicalSuiId(flags.token);
  if (!tokenId) throw new CliError(`--token must be a seal token object id (0x followed by 64 hex characters), not "${flags.token}"`);
  const pcrsFile = flags.pcrs ?? REPO_PCRS_FILE;
  if (flags.pcrs === undefined && !(await exists(pcrsFile))) {
    throw new CliError(`no expected PCRs: pass --pcrs <pcrs.json> (${pcrsFile} not found in this directory)`);
  }
  const expected = await loadExpectedPcrs(pcrsFile);

  const issuer = checkIssuer(await call(ctx, new URL('/v1/issuer', base), { method: 'GET' }, 'GET /v1/issuer'));
  const clusterId = flags.cluster ?? issuer.clusterId;
  if (!clusterId) throw new CliError('the issuer does not name its cluster: pass --cluster <id>');
  const output = resolve(flags.output ?? join(ctx.homeDir, '.kube', `k3s-daas-${clusterId}.yaml`));
  if (!flags.force && (await exists(output))) throw new CliError(`${output} exists: pass --force to replace it`);

  const keypair = await loadKeypair(ctx);
  const { credential } = await createCredential(keypair, { tokenId, clusterId, now: ctx.now(), lifetimeSeconds: CREDENTIAL_LIFETIME_S });
  const answer = checkAnswer(
    await call(
      ctx,
      new URL('/v1/kubeconfig', base),
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ credential }) },
      'POST /v1/kubeconfig',
    ),
  );
  verifyKubeconfigAnswer(answer, issuer, expected);
  await writePrivate(output, answer.kubeconfig, flags.force === true);
  ctx.err(`verified: signed by ${answer.keyId}; enclave attested at ${answer.attestation.timestamp} with the expected PCRs\n`);
  ctx.out(`${output}\n`);
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('kubeconfig')
    .description('Fetch a kubeconfig for a seal token, verify its KMS signature and the enclave attestation, write it (0600)')
    .requiredOption('--api <url>', 'platform HTTP API base URL')
    .requiredOption('--token <id>', 'seal token object id')
    .option('--cluster <id>', 'cluster id (default: the one the API serves)')
    .option('--pcrs <pcrs.json>', `expected enclave PCRs (default: ./${REPO_PCRS_FILE})`)
    .option('--output <path>', 'where to write the kubeconfig (default: ~/.kube/k3s-daas-<cluster>.yaml)')
    .option('--force', 'replace an existing file')
    .action((flags: KubeconfigFlags) => kubeconfig(flags, ctx));
}
