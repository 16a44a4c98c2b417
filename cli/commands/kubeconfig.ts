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
import { asVerificationFailure, classifyAs, ConfigError, ExitCode, UsageError } from '../errors';
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
  output?: string;
  force?: boolean;
  address?: string;
  timeout?: string;
  json?: boolean;
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

/** An answer that lacks what the contract promises is the server's failure (exit 5), not ours. */
function refusedIfBad<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw classifyAs(error, ExitCode.Refused);
  }
}

async function kubeconfig(flags: KubeconfigFlags, ctx: CliContext): Promise<void> {
  const base = apiBase(flags.api);
  const deadline = timeoutMs(ctx, flags.timeout);
  const tokenId = canonicalSuiId(flags.token);
  if (!tokenId) throw new UsageError(`--token must be a seal token object id (0x followed by 64 hex characters), not "${flags.token}"`);
  const pcrsFile = flags.pcrs ?? REPO_PCRS_FILE;
  if (flags.pcrs === undefined && !(await exists(pcrsFile))) {
    throw new ConfigError(`no expected PCRs: pass --pcrs <pcrs.json> (${pcrsFile} not found in this directory)`);
  }
  const expected = await loadExpectedPcrs(pcrsFile);

  const issuerBody = await requestJson(ctx, apiUrl(base, 'v1/issuer'), { method: 'GET' }, { what: 'GET /v1/issuer', waitingFor: 'fetching the issuer key', timeoutMs: deadline });
  const issuer = refusedIfBad(() => checkIssuer(issuerBody));
  const clusterId = flags.cluster ?? issuer.clusterId;
  if (!clusterId) throw new UsageError('the issuer does not name its cluster: pass --cluster <id>');
  const output = resolve(flags.output ?? join(ctx.homeDir, '.kube', `k3s-daas-${clusterId}.yaml`));
  if (!flags.force && (await exists(output))) throw new CliError(`${output} exists: pass --force to replace it`);

  const keypair = await loadKeypair(ctx, { address: flags.address });
  const { credential } = await createCredential(keypair, { tokenId, clusterId, now: ctx.now(), lifetimeSeconds: CREDENTIAL_LIFETIME_S });
  const answerBody = await requestJson(
    ctx,
    apiUrl(base, 'v1/kubeconfig'),
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ credential }) },
    { what: 'POST /v1/kubeconfig', waitingFor: 'fetching the kubeconfig', timeoutMs: deadline },
  );
  const answer = refusedIfBad(() => checkAnswer(answerBody));
  try {
    verifyKubeconfigAnswer(answer, issuer, expected);
  } catch (error) {
    throw asVerificationFailure(error);
  }
  await writePrivate(output, answer.kubeconfig, flags.force === true);
  ctx.err(`verified: signed by ${answer.keyId}; enclave attested at ${answer.attestation.timestamp} with the expected PCRs\n`);
  ctx.out(`${output}\n`);
}

export function register(program: Command, ctx: CliContext): void {
  const command = program
    .command('kubeconfig')
    .description('Fetch a kubeconfig for a seal token, verify its KMS signature and the enclave attestation, write it (0600)')
    .requiredOption('--api <url>', 'platform HTTP API base URL, stage path included (e.g. https://…/prod)')
    .requiredOption('--token <id>', 'seal token object id')
    .option('--cluster <id>', 'cluster id (default: the one the API serves)')
    .option('--pcrs <pcrs.json>', `expected enclave PCRs (default: ./${REPO_PCRS_FILE})`)
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
