// `k3s-daas node join|leave` (issue 15): a node operator admits their own Linux machine as a K3s worker
// with a node-tier seal token, and takes it out again.
//
// join: the caller's node token (read from the chain: its stake and cluster), the pinned K3s binary
// downloaded and checksum-verified BEFORE anything asks for a node slot, then a join credential
// (aud = joinAudience(cluster), so it is never a kubectl credential) POSTed to /v1/nodes/external/join
// with a fresh requestId (a retry after a network failure reuses it: the same answer, no second slot).
// The answer is verified against the operator's own anchors (Nitro root, pcrs.json, the settings pin),
// never against the API's word: the CA the bootstrap token pins is the attested CA, the server is a name
// of the attested certificate, the node is marked as the platform must mark it. Only then is the binary
// made executable and installed, the agent config written (0600) and the agent started (systemd unit
// `k3s-agent`; without systemd the exact command is printed and the step fails, exit 3).
//
// leave: drain (kubectl with a kubeconfig that may evict, when given), stop and disable the agent, POST
// /v1/nodes/external/leave (the platform gives the slot back and its reconciler deletes the Node), and
// with --purge remove the config, the binary and the unit.
//
// --dry-run reads the chain (read-only) and prints every step with its paths, URL and checksum; it
// contacts nothing else, writes nothing, and never asks for a node slot.
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { AttestedAnswerError } from '../../lambdas/shared/attestation/attested-answer';
import { CLUSTER_ID_PATTERN } from '../../lambdas/shared/attestation/enclave-claims';
import { createCredential } from '../../lambdas/shared/credentials/credential';
import { joinAudience } from '../../lambdas/shared/credentials/token-check';
import { K3S_RELEASE } from '../../lambdas/shared/nodes/k3s-release';
import { NODE_NAME_PATTERN, verifyJoinAnswer, type VerifiedJoin } from '../../lambdas/shared/nodes/verify-join-answer';
import { canonicalSuiId } from '../../lambdas/shared/sui/ids';
import { CliError, type CliContext } from '../context';
import { asVerificationFailure, ConfigError, NetworkError, RefusedError, UsageError, VerificationError } from '../errors';
import { examples } from '../help';
import {
  AGENT_UNIT, AGENT_UNIT_DESCRIPTION, agentCommand, agentConfigYaml, agentUnit, DEFAULT_AGENT_CONFIG, DEFAULT_INSTALL_DIR, detectSystemd, downloadVerified, fetchCaBundle, fileSha256,
  findExecutable, installBinary, k3sAsset, runTool, SYSTEMD_UNIT_DIR, type K3sAsset,
} from '../k3s-agent';
import { loadKeypair } from '../keys';
import { apiBase, apiUrl, requestJson, timeoutMs } from '../network';
import { printJson, warn } from '../output';
import { listSealTokens, type ListedToken } from '../owned-objects';
import { openClient, resolveTarget, withSuiOptions, type SuiOptions } from '../sui-command';
import { askedApiUrlOf, exists, loadAnchors, MAX_DOCUMENT_AGE_MS, pinnedDigest, readPins, REPO_PCRS_FILE, savePin, writePrivate } from '../trust-anchors';

interface NodeFlags extends SuiOptions {
  api?: string;
  token?: string;
  cluster?: string;
  installDir: string;
  config: string;
  dryRun?: boolean;
}

interface JoinFlags extends NodeFlags {
  pcrs?: string;
  root?: string;
  settingsSha256?: string;
  trustFirstUse?: boolean;
  k3sDownloadBase?: string;
  force?: boolean;
}

interface LeaveFlags extends NodeFlags {
  nodeName?: string;
  kubeconfig?: string;
  purge?: boolean;
}

/** A join credential only has to live for this request and its retries. */
const CREDENTIAL_LIFETIME_S = 300;
/** Attempts of the join POST when the network fails (same requestId each time), and the pauses between them. */
const JOIN_RETRY_DELAYS_MS = [1_000, 3_000];
/** The binary is large: its download gets at least this long, whatever the per-call --timeout. */
const MIN_DOWNLOAD_TIMEOUT_MS = 600_000;
const SYSTEMCTL_TIMEOUT_MS = 120_000;
const DRAIN_TIMEOUT_S = 300;

/** What `node join` leaves beside the agent config, so `node leave` knows the node without asking. */
const NodeStateSchema = z.object({
  api: z.string(),
  clusterId: z.string(),
  tokenId: z.string(),
  stakeId: z.string(),
  nodeName: z.string(),
  server: z.string(),
  k3sVersion: z.string(),
  binary: z.string(),
  joinedAt: z.string(),
});
type NodeState = z.infer<typeof NodeStateSchema>;

const stateFileOf = (configPath: string) => join(dirname(configPath), 'k3s-daas-node.json');
const binaryOf = (installDir: string) => join(installDir, 'k3s');
const unitFileOf = () => join(SYSTEMD_UNIT_DIR, `${AGENT_UNIT}.service`);

/** Whether the k3s-agent unit is the one node join writes (agentUnit's description), not another install's. */
async function isOurUnit(): Promise<boolean> {
  const text = await readFile(unitFileOf(), 'utf8').catch(() => '');
  return text.includes(`\nDescription=${AGENT_UNIT_DESCRIPTION}\n`);
}

/** Numbered progress lines on stderr, one per step (not a spinner: they stay, for the operator's record). */
class Steps {
  private n = 0;
  constructor(private readonly ctx: CliContext, private readonly total: number) {}
  start(text: string): void {
    this.n += 1;
    this.ctx.err(`[${this.n}/${this.total}] ${text}\n`);
  }
  note(text: string): void {
    this.ctx.err(`      ${text}\n`);
  }
}

async function readState(configPath: string): Promise<Partial<NodeState>> {
  let text: string;
  try {
    text = await readFile(stateFileOf(configPath), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${stateFileOf(configPath)}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    // Every field is checked again where it is used (URL, node name, token id); here only its type.
    return NodeStateSchema.partial().parse(JSON.parse(text));
  } catch {
    throw new ConfigError(`${stateFileOf(configPath)} is not a k3s-daas node state file`);
  }
}

/** The node name of an existing agent config, if there is one. */
async function configuredNodeName(configPath: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${configPath}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const name = (parseYaml(text) as Record<string, unknown> | null)?.['node-name'];
    return typeof name === 'string' ? name : '';
  } catch {
    return '';
  }
}

/**
 * The node token to sign with, read from the chain: `--token` must be one of the caller's seal tokens
 * and of the node role; without it, the caller's only node token (for `--cluster` when given).
 */
async function resolveNodeToken(ctx: CliContext, flags: NodeFlags, address: string): Promise<ListedToken> {
  const wanted = flags.token === undefined ? undefined : canonicalSuiId(flags.token);
  if (flags.token !== undefined && !wanted) throw new UsageError(`--token must be a seal token object id (0x followed by 64 hex characters), not "${flags.token}"`);
  if (flags.cluster !== undefined && !CLUSTER_ID_PATTERN.test(flags.cluster)) {
    throw new UsageError(`--cluster ${JSON.stringify(flags.cluster.slice(0, 80))} is not 1-63 lowercase letters, digits and dashes`);
  }
  const target = await resolveTarget(ctx, flags);
  const tokens = await listSealTokens(ctx, openClient(ctx, target), target, address);
  let token: ListedToken | undefined;
  if (wanted) {
    token = tokens.find((t) => t.tokenId === wanted);
    if (!token) throw new ConfigError(`seal token ${wanted} is not owned by ${address} on ${target.config.network}`);
    if (token.role !== 'node') throw new UsageError(`seal token ${wanted} has the ${token.role} role; joining a machine needs a node token (k3s-daas stake <SUI> --role node, then token issue)`);
  } else {
    const candidates = tokens.filter((t) => t.role === 'node' && !t.expired && (flags.cluster === undefined || t.clusterId === flags.cluster));
    if (candidates.length === 0) throw new ConfigError(`${address} holds no unexpired node token${flags.cluster ? ` for cluster ${flags.cluster}` : ''} on ${target.config.network}: issue one with k3s-daas token issue --stake <node stake>`);
    if (candidates.length > 1) throw new UsageError(`${address} holds ${candidates.length} node tokens (${candidates.map((t) => t.tokenId).join(', ')}): pass --token <id>`);
    token = candidates[0];
  }
  if (token.expired) throw new ConfigError(`seal token ${token.tokenId} expired at ${token.expiresAt}: issue a new one`);
  if (flags.cluster !== undefined && token.clusterId !== flags.cluster) throw new UsageError(`seal token ${token.tokenId} is for cluster ${token.clusterId}, not ${flags.cluster}`);
  if (!CLUSTER_ID_PATTERN.test(token.clusterId)) throw new RefusedError(`seal token ${token.tokenId} names cluster ${JSON.stringify(token.clusterId.slice(0, 80))}, which is not a cluster id`);
  return token;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/** POSTs `body`; a network failure is retried with the very same body (requestId): the route answers a retry with the same admission. */
async function postWithRetry(ctx: CliContext, url: URL, body: unknown, what: string, timeout: number, steps: Steps): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await requestJson(ctx, url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, { what, waitingFor: `${what}`, timeoutMs: timeout });
    } catch (error) {
      if (!(error instanceof NetworkError) || attempt >= JOIN_RETRY_DELAYS_MS.length) throw error;
      steps.note(`${error.message}; retrying with the same request id (${attempt + 2}/${JOIN_RETRY_DELAYS_MS.length + 1})`);
      await sleep(JOIN_RETRY_DELAYS_MS[attempt]);
    }
  }
}

function joinPlan(flags: JoinFlags, token: ListedToken, asset: K3sAsset, pinned: string | undefined, apiUrlText: string) {
  const binary = binaryOf(resolve(flags.installDir));
  const config = resolve(flags.config);
  return {
    dryRun: true,
    token: { tokenId: token.tokenId, stakeId: token.stakeId, clusterId: token.clusterId },
    steps: [
      { step: 'download', url: asset.url, sha256: asset.sha256, k3sVersion: asset.version, into: resolve(flags.installDir) },
      { step: 'join', request: `POST ${apiUrlText}`, audience: joinAudience(token.clusterId), settingsPin: pinned ?? (flags.trustFirstUse ? 'first use: pin what the enclave attests' : null) },
      { step: 'verify', checks: ['attestation document against the root and pcrs.json', 'settings against the API URL, cluster and pin', 'token CA hash == attested CA', 'server named by the attested certificate', `k3sVersion == ${asset.version}`, 'node name, labels (stake of your token), taints'] },
      { step: 'install', binary, mode: '0755' },
      { step: 'configure', config, mode: '0600', state: stateFileOf(config) },
      { step: 'start', unit: unitFileOf(), command: `systemctl enable ${AGENT_UNIT} && systemctl restart ${AGENT_UNIT}`, withoutSystemd: agentCommand(binary, config) },
    ],
  };
}

function printPlan(ctx: CliContext, plan: { steps: Record<string, unknown>[] } & Record<string, unknown>, json: boolean | undefined): void {
  if (json) return printJson(ctx, plan);
  ctx.out('dry run: nothing is downloaded, written, started or asked of the API\n');
  plan.steps.forEach((s, i) => {
    const { step, ...rest } = s;
    const detail = Object.entries(rest).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('; ') : String(v)}`).join(' ');
    ctx.out(`${i + 1}. ${String(step)}: ${detail}\n`);
  });
}

async function nodeJoin(flags: JoinFlags, ctx: CliContext): Promise<void> {
  const base = apiBase(flags.api as string); // a required option of join
  const askedApiUrl = askedApiUrlOf(base);
  const deadline = timeoutMs(ctx, flags.timeout);
  const { expectedPcrs, rootPem } = await loadAnchors(flags);
  const release = ctx.k3sRelease ?? K3S_RELEASE;
  const asset = k3sAsset(release, process.arch, flags.k3sDownloadBase);
  if (flags.k3sDownloadBase !== undefined) {
    const mirror = new URL(asset.url);
    const local = mirror.hostname === '127.0.0.1' || mirror.hostname === 'localhost';
    // The checksum protects the bytes either way; https keeps a mirror's address from being spoofed.
    if (mirror.protocol !== 'https:' && !(local && mirror.protocol === 'http:')) throw new UsageError('--k3s-download-base must use https');
  }
  const installDir = resolve(flags.installDir);
  const configPath = resolve(flags.config);
  const binary = binaryOf(installDir);
  const keypair = await loadKeypair(ctx, { address: flags.address });
  const steps = new Steps(ctx, flags.dryRun ? 1 : 7);

  steps.start(`reading your node token on the chain`);
  const token = await resolveNodeToken(ctx, flags, keypair.toSuiAddress());
  steps.note(`token ${token.tokenId}, stake ${token.stakeId}, cluster ${token.clusterId}`);
  const pins = await readPins(ctx);
  const pinned = pinnedDigest(pins, { settingsSha256: flags.settingsSha256, clusterNamed: true }, askedApiUrl, token.clusterId);
  const joinUrl = apiUrl(base, 'v1/nodes/external/join');
  if (flags.dryRun) return printPlan(ctx, joinPlan(flags, token, asset, pinned, joinUrl.href), flags.json);

  // Everything that can fail here fails before a node slot is asked for.
  if (pinned === undefined && !flags.trustFirstUse) {
    throw new VerificationError(
      `first use of ${askedApiUrl} cluster ${token.clusterId}: no enclave settings pinned; pass --settings-sha256 <digest> from your platform ` +
        '(GET /v1/issuer settingsSha256), or --trust-first-use to pin what the enclave attests',
      { reason: 'settings_not_pinned' },
    );
  }
  const existing = await configuredNodeName(configPath);
  if (existing !== undefined && !flags.force) {
    throw new CliError(`${configPath} exists${existing ? ` (node ${existing})` : ''}: run k3s-daas node leave first, or pass --force to join anew`);
  }
  try {
    await mkdir(installDir, { recursive: true });
    await mkdir(dirname(configPath), { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError(`cannot create ${installDir} or ${dirname(configPath)} (${code})${code === 'EACCES' ? ': run as root' : ''}`);
  }

  steps.start(`K3s ${asset.version}: ${asset.url} (SHA-256 ${asset.sha256})`);
  let verifiedDownload: string | undefined;
  if ((await fileSha256(binary)) === asset.sha256) {
    steps.note(`${binary} is already that release (checksum verified)`);
  } else {
    verifiedDownload = await downloadVerified(ctx, asset, installDir, Math.max(deadline, MIN_DOWNLOAD_TIMEOUT_MS));
    steps.note('checksum verified');
  }
  try {
    steps.start(`asking ${joinUrl.href} to admit this machine`);
    const requestId = randomBytes(16).toString('base64url');
    const { credential } = await createCredential(keypair, { tokenId: token.tokenId, clusterId: joinAudience(token.clusterId), now: ctx.now(), lifetimeSeconds: CREDENTIAL_LIFETIME_S });
    const answer = await postWithRetry(ctx, joinUrl, { credential, requestId }, 'POST /v1/nodes/external/join', deadline, steps);

    steps.start('verifying the answer against the Nitro root, pcrs.json and the attested settings');
    let verified: VerifiedJoin;
    try {
      verified = await verifyJoinAnswer(answer, {
        apiUrl: askedApiUrl, clusterId: token.clusterId, expectedPcrs, now: ctx.now(), maxDocumentAgeMs: MAX_DOCUMENT_AGE_MS, rootPem,
        pinnedSettingsSha256: pinned, stakeId: token.stakeId, k3sVersion: release.version,
        fetchCaBundle: (server) => {
          steps.note(`the answer carries no CA certificate: fetching ${server.origin}/cacerts (trusted only if it hashes to the token's pin and the attested CA)`);
          return fetchCaBundle(server, deadline);
        },
      });
    } catch (error) {
      const named = (answer as { nodeName?: unknown } | null)?.nodeName;
      const recorded = typeof named === 'string' && NODE_NAME_PATTERN.test(named) ? ` (the platform recorded node ${named}; free its slot with k3s-daas node leave --node-name ${named})` : '';
      if (error instanceof AttestedAnswerError && error.kind === 'malformed') throw new RefusedError(`POST /v1/nodes/external/join: ${error.message}${recorded}`);
      if (error instanceof AttestedAnswerError) throw new VerificationError(`${error.message}: refusing to install the agent${recorded}`);
      throw asVerificationFailure(error);
    }
    steps.note(`node ${verified.nodeName}, server ${verified.server}, enclave attested at ${verified.attested.attestedAt}, CA ${verified.caSha256}`);
    await savePin(ctx, pins, askedApiUrl, token.clusterId, verified.attested.settingsSha256);

    steps.start(`installing ${binary}`);
    if (verifiedDownload !== undefined) {
      await installBinary(verifiedDownload, binary);
      verifiedDownload = undefined;
    }

    steps.start(`writing ${configPath} (0600) and ${stateFileOf(configPath)}`);
    await writePrivate(configPath, agentConfigYaml(verified), true);
    const state: NodeState = {
      api: base.href, clusterId: token.clusterId, tokenId: token.tokenId, stakeId: token.stakeId, nodeName: verified.nodeName,
      server: verified.server, k3sVersion: verified.k3sVersion, binary, joinedAt: ctx.now().toISOString(),
    };
    await writePrivate(stateFileOf(configPath), `${JSON.stringify(state, null, 2)}\n`, true);

    steps.start(`starting the K3s agent (systemd unit ${AGENT_UNIT})`);
    const result = { nodeName: verified.nodeName, server: verified.server, labels: verified.labels, taints: verified.taints, k3sVersion: verified.k3sVersion, expiresAt: verified.expiresAt, binary, config: configPath };
    const systemd = await detectSystemd(ctx);
    if (!systemd.running) {
      if (flags.json) printJson(ctx, { ...result, started: false });
      else ctx.out(`admitted as ${verified.nodeName}; the agent is installed and configured but not started\n`);
      // The operator must act (the bootstrap token expires at expiresAt): a configuration failure, with the exact command.
      throw new ConfigError(`${systemd.why}: start the agent yourself before ${verified.expiresAt}: sudo ${agentCommand(binary, configPath)}`);
    }
    await writePrivate(unitFileOf(), agentUnit(binary, configPath), true);
    await runTool(ctx, systemd.systemctl, ['daemon-reload'], SYSTEMCTL_TIMEOUT_MS);
    await runTool(ctx, systemd.systemctl, ['enable', AGENT_UNIT], SYSTEMCTL_TIMEOUT_MS);
    // restart, not start: after --force an agent of the old config may be running.
    await runTool(ctx, systemd.systemctl, ['restart', AGENT_UNIT], SYSTEMCTL_TIMEOUT_MS);
    if (flags.json) return printJson(ctx, { ...result, started: true });
    ctx.out(`joined as ${verified.nodeName}: the ${AGENT_UNIT} unit runs K3s ${verified.k3sVersion} against ${verified.server}\n`);
  } finally {
    if (verifiedDownload !== undefined) await rm(verifiedDownload, { force: true });
  }
}

async function nodeLeave(flags: LeaveFlags, ctx: CliContext): Promise<void> {
  const configPath = resolve(flags.config);
  const installDir = resolve(flags.installDir);
  const state = await readState(configPath);
  const apiText = flags.api ?? state.api;
  if (!apiText) throw new UsageError(`no API: pass --api <url> (no ${stateFileOf(configPath)} from a join)`);
  const base = apiBase(apiText);
  const deadline = timeoutMs(ctx, flags.timeout);
  const nodeName = flags.nodeName ?? state.nodeName ?? (await configuredNodeName(configPath));
  if (!nodeName) throw new UsageError(`no node name: pass --node-name <name> (no ${stateFileOf(configPath)} or ${configPath} from a join)`);
  if (!NODE_NAME_PATTERN.test(nodeName)) throw new UsageError(`--node-name ${JSON.stringify(nodeName.slice(0, 80))} is not a node name`);
  const binary = state.binary ?? binaryOf(installDir);
  const keypair = await loadKeypair(ctx, { address: flags.address });
  const steps = new Steps(ctx, flags.dryRun ? 1 : flags.purge ? 5 : 4);

  steps.start('reading your node token on the chain');
  const token = await resolveNodeToken(ctx, { ...flags, token: flags.token ?? state.tokenId, cluster: flags.cluster ?? state.clusterId }, keypair.toSuiAddress());
  steps.note(`token ${token.tokenId}, stake ${token.stakeId}, cluster ${token.clusterId}`);
  const leaveUrl = apiUrl(base, 'v1/nodes/external/leave');
  if (flags.dryRun) {
    const purge = flags.purge ? [{ step: 'purge', remove: [configPath, stateFileOf(configPath), binary, unitFileOf()] }] : [];
    return printPlan(ctx, {
      dryRun: true,
      nodeName,
      token: { tokenId: token.tokenId, stakeId: token.stakeId, clusterId: token.clusterId },
      steps: [
        { step: 'drain', command: flags.kubeconfig ? `kubectl --kubeconfig ${flags.kubeconfig} drain ${nodeName} --ignore-daemonsets --delete-emptydir-data` : 'skipped: no --kubeconfig (the reconciler deletes the Node; its pods are rescheduled)' },
        { step: 'stop', command: `systemctl disable --now ${AGENT_UNIT}` },
        { step: 'leave', request: `POST ${leaveUrl.href}`, audience: joinAudience(token.clusterId) },
        ...purge,
      ],
    }, flags.json);
  }

  steps.start(`draining ${nodeName}`);
  const kubectl = await findExecutable(ctx, 'kubectl');
  if (!flags.kubeconfig) {
    steps.note('no --kubeconfig to drain with (a node\'s own credentials may not evict pods): once the leave is recorded the platform\'s reconciler deletes the Node and its pods are rescheduled elsewhere');
  } else if (!kubectl) {
    warn(ctx, 'kubectl is not on PATH: not drained; the reconciler deletes the Node once the leave is recorded and its pods are rescheduled');
  } else {
    try {
      await runTool(ctx, kubectl, ['--kubeconfig', flags.kubeconfig, 'drain', nodeName, '--ignore-daemonsets', '--delete-emptydir-data', `--timeout=${DRAIN_TIMEOUT_S}s`], (DRAIN_TIMEOUT_S + 30) * 1000);
      steps.note('cordoned and drained');
    } catch (error) {
      warn(ctx, `drain incomplete (${(error as Error).message}); leaving anyway: the reconciler deletes the Node and its remaining pods`);
    }
  }

  steps.start(`stopping the K3s agent (${AGENT_UNIT})`);
  const systemd = await detectSystemd(ctx);
  if (systemd.running && !(await exists(unitFileOf()))) {
    steps.note(`no ${unitFileOf()} here: nothing to stop`);
  } else if (systemd.running) {
    await runTool(ctx, systemd.systemctl, ['disable', '--now', AGENT_UNIT], SYSTEMCTL_TIMEOUT_MS);
    steps.note(`${AGENT_UNIT} stopped and disabled`);
  } else {
    warn(ctx, `${systemd.why}: stop the agent process yourself (${agentCommand(binary, configPath)}); its credentials stop working once the leave is recorded`);
  }

  steps.start(`telling ${leaveUrl.href} that ${nodeName} leaves`);
  const { credential } = await createCredential(keypair, { tokenId: token.tokenId, clusterId: joinAudience(token.clusterId), now: ctx.now(), lifetimeSeconds: CREDENTIAL_LIFETIME_S });
  const answer = (await postWithRetry(ctx, leaveUrl, { credential, nodeName }, 'POST /v1/nodes/external/leave', deadline, steps)) as { nodeName?: unknown; status?: unknown } | null;
  if (answer?.status !== 'gone' || answer.nodeName !== nodeName) throw new RefusedError(`POST /v1/nodes/external/leave: the answer does not say node ${nodeName} is gone`);

  const removed: string[] = [];
  if (flags.purge) {
    steps.start('removing the agent config, its state, the binary and the unit');
    // Only what node join put here: the binary it recorded, and a unit it wrote (a K3s of some other install stays).
    const ours = [configPath, stateFileOf(configPath), ...(state.binary ? [state.binary] : []), ...((await isOurUnit()) ? [unitFileOf()] : [])];
    if (!state.binary && (await exists(binary))) steps.note(`${binary} kept: no ${stateFileOf(configPath)} says node join installed it`);
    for (const path of ours) {
      if (!(await exists(path))) continue;
      try {
        await rm(path, { force: true });
        removed.push(path);
      } catch (error) {
        throw new CliError(`cannot remove ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }
    if (systemd.running && removed.includes(unitFileOf())) await runTool(ctx, systemd.systemctl, ['daemon-reload'], SYSTEMCTL_TIMEOUT_MS);
  }
  if (flags.json) return printJson(ctx, { nodeName, status: 'gone', removed });
  ctx.out(`${nodeName} left the cluster${flags.purge ? `; removed ${removed.length ? removed.join(', ') : 'nothing (none present)'}` : `; ${configPath} and ${binary} kept (--purge removes them)`}\n`);
}

function nodeOptions(command: Command): Command {
  return withSuiOptions(
    command
      .option('--token <id>', 'node-tier seal token id (default: your only node token)')
      .option('--cluster <id>', 'cluster id (default: the token\'s)')
      .option('--install-dir <path>', 'where the k3s binary lives', DEFAULT_INSTALL_DIR)
      .option('--config <path>', 'the K3s agent config file', DEFAULT_AGENT_CONFIG)
      .option('--dry-run', 'print every step (paths, URL, checksum) and do none of them'),
  );
}

export function register(program: Command, ctx: CliContext): void {
  const node = program
    .command('node')
    .description('Join this machine to a cluster as a worker with a node-tier seal token, or take it out')
    .addHelpText('after', examples(['k3s-daas node join --api https://api.example.com/prod --pcrs pcrs.json --dry-run', 'sudo k3s-daas node join --api https://api.example.com/prod --pcrs pcrs.json --trust-first-use', 'sudo k3s-daas node leave --purge']));

  nodeOptions(
    node
      .command('join')
      .description('Admit this machine as an external worker: verify the attested answer, install the pinned K3s agent (checksum-verified), configure and start it')
      .requiredOption('--api <url>', 'platform HTTP API base URL, stage path included (e.g. https://…/prod)')
      .option('--pcrs <pcrs.json>', `expected enclave PCRs (default: ./${REPO_PCRS_FILE})`)
      .option('--root <pem>', 'trusted attestation root (default: the bundled AWS Nitro Enclaves root G1)')
      .option('--settings-sha256 <hex>', 'the enclave settings digest your platform published (GET /v1/issuer settingsSha256)')
      .option('--trust-first-use', 'pin the attested enclave settings on first use (later runs refuse other settings)')
      .option('--k3s-download-base <url>', 'mirror of the K3s release assets (<base>/<version>/k3s); the pinned checksum still applies')
      .option('--force', 'join anew even though an agent config exists (it is replaced)')
      .addHelpText('after', examples([
        'k3s-daas node join --api https://api.example.com --token 0x7ab… --settings-sha256 3f1c… --dry-run',
        'sudo k3s-daas node join --api https://abc.execute-api.eu-west-1.amazonaws.com/prod --pcrs pcrs.json --trust-first-use',
      ])),
  ).action((flags: JoinFlags) => nodeJoin(flags, ctx));

  nodeOptions(
    node
      .command('leave')
      .description('Take this machine out: drain it, stop the agent, tell the platform (the slot is freed), and with --purge remove config and binary')
      .option('--api <url>', 'platform HTTP API base URL (default: the one node join used)')
      .option('--node-name <name>', 'the node to take out (default: the one node join configured here)')
      .option('--kubeconfig <path>', 'a kubeconfig allowed to drain the node (kubectl drain); without it the platform deletes the Node and its pods are rescheduled')
      .option('--purge', 'remove the agent config, its state file, the k3s binary and the systemd unit')
      .addHelpText('after', examples(['k3s-daas node leave --dry-run', 'sudo k3s-daas node leave --kubeconfig ~/.kube/k3s-daas-prod.yaml --purge'])),
  ).action((flags: LeaveFlags) => nodeLeave(flags, ctx));
}
