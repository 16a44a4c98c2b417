// `k3s-daas kubeconfig` (DESIGN §2 step 4, §9): asks the platform for a kubeconfig with a fresh
// credential, and writes it only after verifying the answer against anchors the user already holds,
// never against the answering API (lambdas/shared/kubeconfig/verify-answer.ts): the raw attestation
// document against the AWS Nitro root and the pinned pcrs.json, its claims for the CA, the boot
// settings and the signing key, the settings against the API URL and cluster asked for and against a
// settings digest pinned on first use (or given by the operator). The file is the kubeconfig rendered
// from the verified parts, written 0600, never over an existing file without --force, and never
// through a symlink.
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { CLUSTER_ID_PATTERN } from '../../lambdas/shared/attestation/enclave-claims';
import { createCredential } from '../../lambdas/shared/credentials/credential';
import { KubeconfigAnswerError, verifyKubeconfigAnswer } from '../../lambdas/shared/kubeconfig/verify-answer';
import { CliError, type CliContext } from '../context';
import { asVerificationFailure, RefusedError, UsageError, VerificationError } from '../errors';
import { examples } from '../help';
import { loadKeypair } from '../keys';
import { apiBase, apiUrl, requestJson, timeoutMs, withTimeoutOption } from '../network';
import { askedApiUrlOf, exists, loadAnchors, MAX_DOCUMENT_AGE_MS, pinnedDigest, readPins, REPO_PCRS_FILE, savePin, writePrivate } from '../trust-anchors';
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

/** The credential only has to live for this one request. */
const CREDENTIAL_LIFETIME_S = 120;

async function kubeconfig(flags: KubeconfigFlags, ctx: CliContext): Promise<void> {
  const base = apiBase(flags.api);
  const deadline = timeoutMs(ctx, flags.timeout);
  const askedApiUrl = askedApiUrlOf(base);
  const tokenId = canonicalSuiId(flags.token);
  if (!tokenId) throw new UsageError(`--token must be a seal token object id (0x followed by 64 hex characters), not "${flags.token}"`);
  const { expectedPcrs, rootPem } = await loadAnchors(flags);

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
  const pinned = pinnedDigest(pins, { settingsSha256: flags.settingsSha256, clusterNamed: flags.cluster !== undefined }, askedApiUrl, clusterId);

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
  await savePin(ctx, pins, askedApiUrl, clusterId, settingsSha256);
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
