// `k3s-daas credential` (DESIGN §2 step 3, §9): the kubectl exec credential plugin. Signs a short-lived
// credential with the user's Sui key and prints it as an ExecCredential; keeps it in a private cache
// file until 60 s before it expires so kubectl does not make the user sign on every call.
import type { Command } from 'commander';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createCredential, MAX_LIFETIME_S, parseCredential } from '../../lambdas/shared/credentials/credential';
import { CliError, type CliContext } from '../context';
import { UsageError } from '../errors';
import { examples } from '../help';
import { loadKeypair } from '../keys';
import { warn } from '../output';
import { canonicalSuiId } from '../../lambdas/shared/sui/ids';

export const EXEC_CREDENTIAL_V1 = 'client.authentication.k8s.io/v1';
const EXEC_CREDENTIAL_V1BETA1 = 'client.authentication.k8s.io/v1beta1';
/** A cached credential is replaced this long before it expires, so kubectl never sends a dying one. */
export const REFRESH_BEFORE_EXPIRY_MS = 60_000;

interface CredentialFlags {
  token: string;
  cluster?: string;
  lifetime: string;
  address?: string;
  json?: boolean;
}

export interface ExecCredential {
  apiVersion: string;
  kind: 'ExecCredential';
  status: { token: string; expirationTimestamp: string };
}

export function cacheDir(ctx: CliContext): string {
  return join(ctx.homeDir, '.kube', 'cache', 'k3s-daas');
}

function parseTokenId(raw: string): string {
  const id = canonicalSuiId(raw);
  if (!id) throw new UsageError(`--token must be a seal token object id (0x followed by 64 hex characters), not "${raw}"`);
  return id;
}

function parseLifetime(raw: string): number {
  const seconds = Number(raw);
  if (!/^\d+$/.test(raw) || seconds < 1 || seconds > MAX_LIFETIME_S) throw new UsageError(`--lifetime must be whole seconds between 1 and ${MAX_LIFETIME_S}, not "${raw}"`);
  return seconds;
}

/** kubectl says which ExecCredential version it configured in KUBERNETES_EXEC_INFO; answer in kind. */
function requestedApiVersion(ctx: CliContext): string {
  try {
    const info = JSON.parse(ctx.env.KUBERNETES_EXEC_INFO ?? '{}') as { apiVersion?: unknown };
    return info.apiVersion === EXEC_CREDENTIAL_V1BETA1 ? EXEC_CREDENTIAL_V1BETA1 : EXEC_CREDENTIAL_V1;
  } catch {
    return EXEC_CREDENTIAL_V1;
  }
}

function execCredential(apiVersion: string, token: string, expiresAt: Date): ExecCredential {
  return { apiVersion, kind: 'ExecCredential', status: { token, expirationTimestamp: expiresAt.toISOString().replace('.000Z', 'Z') } };
}

/** The cached credential when it is still ours, for this token and cluster, and not about to expire. */
async function readCached(file: string, want: { tokenId: string; clusterId: string; address: string; nowMs: number }): Promise<{ token: string; expiresAt: Date } | undefined> {
  let cached: ExecCredential;
  try {
    // A cache others could read (a loosened file or directory) is not reused: the credential in it is a
    // bearer secret. Writing a new one restores 0600 / 0700.
    if (((await stat(file)).mode & 0o077) !== 0 || ((await stat(dirname(file))).mode & 0o077) !== 0) return undefined;
    cached = JSON.parse(await readFile(file, 'utf8')) as ExecCredential;
  } catch {
    return undefined; // absent or damaged: make a new one
  }
  const parsed = parseCredential(cached?.status?.token);
  if (!parsed.ok) return undefined;
  const { payload } = parsed.value;
  const fresh = payload.exp * 1000 - want.nowMs > REFRESH_BEFORE_EXPIRY_MS && payload.iat * 1000 <= want.nowMs + REFRESH_BEFORE_EXPIRY_MS;
  if (!fresh || payload.tok !== want.tokenId || payload.aud !== want.clusterId || payload.sub !== want.address) return undefined;
  return { token: cached.status.token, expiresAt: new Date(payload.exp * 1000) };
}

/** Writes the cache file 0600 inside a 0700 directory, atomically (a reader never sees half a file). */
async function writeCached(dir: string, file: string, content: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

export async function credential(ctx: CliContext, flags: CredentialFlags): Promise<ExecCredential> {
  const tokenId = parseTokenId(flags.token);
  const clusterId = flags.cluster ?? ctx.env.K3S_DAAS_CLUSTER_ID;
  if (!clusterId) throw new UsageError('no cluster: pass --cluster <id> or set K3S_DAAS_CLUSTER_ID');
  const lifetimeSeconds = parseLifetime(flags.lifetime);
  const keypair = await loadKeypair(ctx, { address: flags.address });
  const address = keypair.toSuiAddress();
  const apiVersion = requestedApiVersion(ctx);

  const dir = cacheDir(ctx);
  // One file per (cluster, token, signer): switching keys or clusters never reuses another's credential.
  const file = join(dir, `${createHash('sha256').update(`${clusterId}\n${tokenId}\n${address}`).digest('hex').slice(0, 32)}.json`);
  const nowMs = ctx.now().getTime();
  const cached = await readCached(file, { tokenId, clusterId, address, nowMs });
  if (cached) return execCredential(apiVersion, cached.token, cached.expiresAt);

  let created;
  try {
    created = await createCredential(keypair, { tokenId, clusterId, lifetimeSeconds, now: ctx.now() });
  } catch (error) {
    throw new CliError(`cannot create a credential: ${error instanceof Error ? error.message : String(error)}`);
  }
  const answer = execCredential(apiVersion, created.credential, created.expiresAt);
  try {
    await writeCached(dir, file, `${JSON.stringify(execCredential(EXEC_CREDENTIAL_V1, created.credential, created.expiresAt))}\n`);
  } catch (error) {
    // The credential is still good; kubectl just asks us to sign again next time.
    warn(ctx, `cannot cache the credential in ${dir} (${error instanceof Error ? error.message : String(error)})`);
  }
  return answer;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('credential')
    .description('kubectl exec credential plugin: print a short-lived signed credential as an ExecCredential (cached until 60 s before expiry)')
    .requiredOption('--token <id>', 'seal token object id')
    .option('--cluster <id>', 'cluster id (env K3S_DAAS_CLUSTER_ID)')
    .option('--lifetime <seconds>', `credential lifetime, at most ${MAX_LIFETIME_S}`, String(MAX_LIFETIME_S))
    .option('--address <address>', 'keystore address whose key signs (default: client.yaml active_address)')
    .option('--json', 'print any error as JSON too (the credential always is)')
    .addHelpText('after', examples([
      'k3s-daas credential --token 0x7ab… --cluster prod-eu',
      'kubectl config set-credentials k3s-daas --exec-api-version=client.authentication.k8s.io/v1 --exec-command=k3s-daas --exec-arg=credential --exec-arg=--token=0x7ab…',
    ]))
    .action(async (flags: CredentialFlags) => {
      ctx.out(`${JSON.stringify(await credential(ctx, flags))}\n`);
    });
}
