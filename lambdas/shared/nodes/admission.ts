// Node admission, shared by both ways into the cluster (DESIGN §2 step 6, issue 15 item 2): an instance of a
// platform worker group (`POST /v1/nodes/join`, IAM) and an operator's own machine (`POST
// /v1/nodes/external/join`, a join credential). Each route establishes who is joining under which stake;
// from there the rules are this module's, so both paths apply the same capacity rule, the same
// transaction (node-registry.ts) and the same per-node bootstrap tokens:
//
// - capacity: a node stake that is `active` covers `floor(amount / node minimum)` nodes, the minimum being
//   the one the indexer recorded from the pool (or the publish-time default), counting nodes of both kinds;
// - a node name is admitted once: a retry of the same admission (its answer was lost) within
//   `resendWindowMs` gets the same token again, anything else on an existing name is `already_joined`;
// - every admission claims its own pool entry minted for the attested CA, in the admission transaction.
import { randomInt } from 'node:crypto';
import type { NodeKind, NodeRecord, TokenIndexReader } from '../index/index-model';
import { assertIndexFresh, type FreshnessPolicy } from '../index/freshness';
import { DEFAULT_MIN_STAKE_MIST } from '../sui/roles';
import {
  BOOTSTRAP_TOKEN_ID_PATTERN,
  BOOTSTRAP_TOKEN_SECRET_PATTERN,
  BOOTSTRAP_TOKEN_TIMING,
  bootstrapTokenEncryptionContext,
  caPemSha256,
  type BootstrapPoolEntry,
  type JoinTokenCipher,
} from './join-token';
import type { NodeRegistry } from './node-registry';

export type StakeCapacityResult =
  | { ok: true; maxNodes: bigint }
  | { ok: false; reason: 'stake_inactive' | 'stake_wrong_role'; message: string };

/**
 * How many nodes a stake covers in total, read with the node minimum and the index's freshness in one
 * round trip. Throws `IndexStaleError` when the index is too old to decide on (it may still show a slashed
 * or unstaked stake as active): refuse, retryable.
 */
export async function stakeCapacity(
  stakes: Pick<TokenIndexReader, 'readItems'>,
  stakeId: string,
  options: { nowMs: number; freshness: FreshnessPolicy },
): Promise<StakeCapacityResult> {
  const { stake, minStakeMist, freshness } = await stakes.readItems({ stakeId, minStakeRole: 'node', freshness: true });
  assertIndexFresh(freshness, options.nowMs, options.freshness);
  if (!stake || stake.status !== 'active') {
    return { ok: false, reason: 'stake_inactive', message: `node stake ${stakeId} is ${stake?.status ?? 'not in the index'}` };
  }
  if (stake.role !== 'node') return { ok: false, reason: 'stake_wrong_role', message: `stake ${stakeId} is a ${stake.role} stake` };
  // The live node minimum once the pool changed it on chain, else the publish-time default.
  const nodeMinimum = minStakeMist ?? DEFAULT_MIN_STAKE_MIST.node;
  return { ok: true, maxNodes: stake.amountMist / nodeMinimum };
}

/** Who is being admitted: the record the admission writes. */
export interface NodeCandidate {
  /** The node name (the instance id of an ASG node). */
  name: string;
  stakeId: string;
  kind: NodeKind;
  /** '' for an external node. */
  autoScalingGroup: string;
  /** External nodes: the node-tier seal token admitted. */
  tokenId?: string;
  /** External nodes: the client's request id, so a retry is recognised as the same admission. */
  requestId?: string;
}

export type AdmissionRefusal = 'already_joined' | 'stake_insufficient' | 'no_join_token' | 'ca_not_attested';

export type AdmissionResult =
  | { ok: true; entry: BootstrapPoolEntry; secret: string; /** the answer of an earlier admission, sent again */ again: boolean }
  | { ok: false; reason: AdmissionRefusal; message: string };

export interface AdmissionDeps {
  clusterId: string;
  registry: Pick<NodeRegistry, 'getNode' | 'listBootstrapPool' | 'admit'>;
  /** Opens pool entries (only the join functions may decrypt with the bootstrap-token context). */
  cipher: JoinTokenCipher;
}

export interface AdmissionRequest {
  candidate: NodeCandidate;
  /** `stakeCapacity(...).maxNodes`. */
  maxNodes: bigint;
  /** The CA of the latest verified attestation, which every handed-out token pins. */
  attestedCaPem: string;
  now: Date;
  /**
   * Runs once before a NEW admission is attempted (never for the resend of an earlier one), e.g. the
   * external route's per-stake rate limit; it refuses by throwing.
   */
  beforeNewAdmission?: () => Promise<void>;
}

/** Pool entries tried per join before giving up (each costs a decrypt; a lost race costs a transaction). */
const MAX_CANDIDATES = 5;

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** An entry the host stored is untrusted until its ciphertext opens; this only drops what cannot be one. */
function wellFormed(e: BootstrapPoolEntry): boolean {
  return BOOTSTRAP_TOKEN_ID_PATTERN.test(e.tokenId) && ISO_INSTANT.test(e.expiresAt) && /^[0-9a-f]{64}$/.test(e.caSha256) && e.ciphertext.length > 0;
}

function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Whether an existing record is the one this candidate's earlier admission wrote. */
function sameAdmission(node: NodeRecord, c: NodeCandidate): boolean {
  return (
    node.stakeId === c.stakeId &&
    (node.kind ?? 'asg') === c.kind &&
    node.autoScalingGroup === c.autoScalingGroup &&
    node.tokenId === c.tokenId &&
    node.requestId === c.requestId
  );
}

/**
 * Admits `candidate` (or answers its earlier admission again). Refusals are results; a backend outage
 * throws (`IndexUnavailableError`, KMS errors), as does `beforeNewAdmission`.
 */
export async function admitNode(deps: AdmissionDeps, request: AdmissionRequest): Promise<AdmissionResult> {
  const { candidate, now } = request;
  const attestedCa = caPemSha256(request.attestedCaPem);

  /** The token secret of an entry, or undefined when its ciphertext is not one the enclave sealed for this binding. */
  const open = async (entry: BootstrapPoolEntry): Promise<string | undefined> => {
    const context = bootstrapTokenEncryptionContext({ clusterId: deps.clusterId, tokenId: entry.tokenId, expiresAt: entry.expiresAt, caSha256: entry.caSha256 });
    try {
      const secret = await deps.cipher.decrypt(Buffer.from(entry.ciphertext, 'base64'), context);
      return BOOTSTRAP_TOKEN_SECRET_PATTERN.test(secret) ? secret : undefined;
    } catch (error) {
      // Sealed under another key or binding (edited attributes, another cluster or purpose): not a pool entry.
      if ((error as { name?: string })?.name === 'InvalidCiphertextException') return undefined;
      throw error;
    }
  };

  const refuse = (reason: AdmissionRefusal, message: string): AdmissionResult => ({ ok: false, reason, message });

  /**
   * A name already in the index. Its own retry (the answer of a committed admission was lost) gets the
   * same token again while it is fresh; anything else is a second join.
   */
  const admittedBefore = async (node: NodeRecord | undefined): Promise<AdmissionResult> => {
    const sent = node?.bootstrap;
    const already = () => refuse('already_joined', `node ${candidate.name} has joined before; node names are never reused`);
    if (!node || node.status !== 'joined' || !sent || !sameAdmission(node, candidate)) return already();
    const joinedAt = Date.parse(node.joinedAt);
    if (!(now.getTime() < joinedAt + BOOTSTRAP_TOKEN_TIMING.resendWindowMs) || !(now.getTime() < Date.parse(sent.expiresAt))) return already();
    if (sent.caSha256 !== attestedCa) return refuse('ca_not_attested', `the cluster CA changed since node ${candidate.name} was admitted`);
    const secret = await open(sent);
    if (!secret) return already();
    return { ok: true, entry: sent, secret, again: true };
  };

  const existing = await deps.registry.getNode(candidate.name);
  if (existing) return admittedBefore(existing);
  if (request.maxNodes < 1n) return refuse('stake_insufficient', `node stake ${candidate.stakeId} covers no node`);
  await request.beforeNewAdmission?.();

  const claimable = (await deps.registry.listBootstrapPool()).filter(
    (e) => wellFormed(e) && Date.parse(e.expiresAt) - now.getTime() >= BOOTSTRAP_TOKEN_TIMING.minRemainingAtClaimMs,
  );
  // Concurrent joins start from different entries instead of all racing for the first.
  let otherCa = false;
  let tried = 0;
  for (const entry of shuffled(claimable)) {
    // An entry minted for another CA (the host's own, or before the CA changed) is never handed out.
    if (entry.caSha256 !== attestedCa) {
      otherCa = true;
      continue;
    }
    if (tried++ >= MAX_CANDIDATES) break;
    const secret = await open(entry);
    if (!secret) continue;
    const admitted = await deps.registry.admit({ ...candidate, instanceId: candidate.name, maxNodes: request.maxNodes, token: entry, now });
    if (admitted.admitted) return { ok: true, entry, secret, again: false };
    // Our own record can exist now: the SDK retried a transaction that had committed, or a concurrent retry won.
    if (admitted.reason === 'already_joined') return admittedBefore(await deps.registry.getNode(candidate.name));
    if (admitted.reason === 'stake_insufficient') {
      return refuse('stake_insufficient', `node stake ${candidate.stakeId} covers ${request.maxNodes} node(s), all taken`);
    }
    // token_taken: another join claimed this entry first.
  }
  if (otherCa) return refuse('ca_not_attested', 'the available bootstrap tokens were not minted for the cluster CA the enclave attested');
  return refuse('no_join_token', 'no bootstrap token is available yet; the control plane refills its pool continuously, retry');
}
