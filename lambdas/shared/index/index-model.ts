// The index the indexer writes and every token check, join and eviction reads (DESIGN §2).
// One DynamoDB single table; these are its entities and keys. The repository implementations
// (DynamoDB and in-memory) live in `index-repository*.ts` and both honour this interface.
import type { Role } from '../sui/roles';
import type { EnclaveSettings } from '../attestation/enclave-claims';
import { DependencyUnavailableError } from '../runtime/outage';

/** Ledger position of the last event applied to an entity; compared to apply each event once. */
export interface EventPosition {
  checkpoint: bigint;
  /** Order of the transaction within the indexer's ascending event stream of that checkpoint. */
  txOrdinal: number;
  eventIndex: number;
  txDigest: string;
}

export type StakeStatus = 'active' | 'unbonding' | 'withdrawn' | 'slashed';

export interface StakeRecord {
  stakeId: string;
  owner: string;
  role: Role;
  amountMist: bigint;
  status: StakeStatus;
  nodeId: string;
  unlockAtMs?: number;
  lastEvent: EventPosition;
}

export interface SealTokenRecord {
  tokenId: string;
  stakeId: string;
  owner: string;
  role: Role;
  permissions: string[];
  clusterId: string;
  expiresAtMs: number;
  revoked: boolean;
  /** Set when the backing stake was slashed or withdrawn: the token no longer admits anyone. */
  invalidated: boolean;
  /**
   * What a token check needs of the token's stake and owner, copied here and kept current by the indexer
   * (event-applier.ts), so one consistent read of the token decides. Absent on items written before the
   * copy existed: the checker then reads the stake and approval itself (a second round trip).
   */
  backing?: TokenBacking;
  lastEvent: EventPosition;
}

/** The stake and owner state a token check decides on, as the indexer last applied it to the token. */
export interface TokenBacking {
  /**
   * The backing stake's status and amount (0 unless active: an inactive stake admits no one whatever it
   * holds); absent while the index does not know the stake (refused).
   */
  stake?: { status: StakeStatus; amountMist: bigint };
  /** Admin tokens: whether the owner is an approved admin (`AdminApproved`/`AdminRevoked`); false for other roles. */
  adminApproved: boolean;
}

/** A role's minimum stake as the pool last announced it (`staking::MinStakeChanged`). */
export interface MinStakeRecord {
  role: Role;
  amountMist: bigint;
  lastEvent: EventPosition;
}

/** Whether an address may hold admin stakes and tokens, as the pool last announced (`AdminApproved`/`AdminRevoked`). */
export interface AdminRecord {
  address: string;
  approved: boolean;
  lastEvent: EventPosition;
}

/** How current the index is: what the indexer last recorded on its cursor item. */
export interface IndexFreshness {
  /**
   * Ledger time (ms since the epoch) of the newest checkpoint the indexer has fully covered: every event
   * up to then is in the index. Undefined until the indexer has recorded one.
   */
  coveredThroughMs?: number;
}

/**
 * What every token check of a container shares, read in one request at most every few seconds
 * (token-check.ts): how far the indexer has covered the chain and the pool's minimum per role.
 */
export interface IndexView {
  freshness: IndexFreshness;
  /** Roles whose minimum the pool changed on chain; the others are at the publish-time default. */
  minStakeMist: Partial<Record<Role, bigint>>;
}

/** Point reads a token check or a node join needs at one moment; whatever is named is read in one round trip. */
export interface IndexReadRequest {
  tokenId?: string;
  stakeId?: string;
  minStakeRole?: Role;
  /** An address whose admin approval is wanted. */
  admin?: string;
  freshness?: boolean;
}

export interface IndexReadResult {
  token?: SealTokenRecord;
  stake?: StakeRecord;
  /** The role's minimum as last changed on chain; undefined while the publish-time default holds. */
  minStakeMist?: bigint;
  /** Undefined when the pool never announced anything about the address. */
  admin?: AdminRecord;
  /** Present when asked for (empty when the indexer never recorded a cursor). */
  freshness?: IndexFreshness;
}

export type NodeStatus = 'joined' | 'gone';

/** `asg`: an instance of one of the platform's worker groups; `external`: an operator's own machine (issue 15). */
export type NodeKind = 'asg' | 'external';

export interface NodeRecord {
  /** The node's name in the cluster: the EC2 instance id for `asg` nodes, the assigned name for `external` ones. */
  instanceId: string;
  stakeId: string;
  /** The worker group of an `asg` node; empty for an `external` node. */
  autoScalingGroup: string;
  /** Absent on records written before external nodes existed: those are `asg`. */
  kind?: NodeKind;
  /** The node-tier seal token an `external` node was admitted with: its revocation or expiry evicts the node. */
  tokenId?: string;
  /** `external` nodes: the join's request id (base64url), so a retry of that join is answered again, not admitted twice. */
  requestId?: string;
  status: NodeStatus;
  joinedAt: string;
  goneAt?: string;
  /** Set once the indexer asked EC2 to terminate it (slash/withdraw eviction), so a replay never asks twice. */
  terminationRequestedAt?: string;
  /**
   * The bootstrap token claimed at admission (join-token.ts): kept so a retry by the same instance whose
   * answer was lost gets the same credential again, never a second one. Absent on records written before
   * per-node tokens and on `gone` records of instances that never joined.
   */
  bootstrap?: { tokenId: string; expiresAt: string; caSha256: string; ciphertext: string };
  /**
   * Set (conditionally) by the indexer run about to call TerminateInstances for it: a second run seeing
   * a fresh claim leaves the node alone, so overlapping runs never both terminate it.
   */
  evictionClaimedAt?: string;
}

export interface AttestationRecord {
  pcrs: Record<string, string>;
  caSha256: string;
  caCertPem: string;
  moduleId: string;
  /** Time the document was produced by the NSM (ISO 8601). */
  timestamp: string;
  verifiedAt: string;
  /**
   * The enclave claims (`lambdas/shared/attestation/enclave-claims.ts`). Absent only in records written
   * before claims existed; such a record serves nothing (`servesCluster`).
   */
  settingsSha256?: string;
  /** The canonical settings the digest is over, returned to clients so they can check them. */
  settings?: EnclaveSettings;
  /** Sequence and SHA-256 (hex) of the newest sealed datastore snapshot the enclave attested: the committed rollback counter. */
  snapshotSeq?: number;
  snapshotSha256?: string;
  /** The verified document itself (base64), so clients verify it against their own anchors. */
  document?: string;
}

/** Single-table keys. `pk`/`sk` on the table; GSI1 = owner → tokens; GSI2 = stake → tokens and nodes. */
export const KEYS = {
  token: (tokenId: string) => ({ pk: `TOKEN#${tokenId}`, sk: 'TOKEN' }),
  stake: (stakeId: string) => ({ pk: `STAKE#${stakeId}`, sk: 'STAKE' }),
  node: (instanceId: string) => ({ pk: `NODE#${instanceId}`, sk: 'NODE' }),
  cursor: () => ({ pk: 'INDEXER', sk: 'CURSOR' }),
  attestation: () => ({ pk: 'ATTESTATION', sk: 'LATEST' }),
  /** The pool of enclave-minted bootstrap tokens awaiting a joining node (one partition, so both sides can Query it). */
  bootstrapPool: () => ({ pk: 'BOOTSTRAP' }),
  bootstrapPoolEntry: (tokenId: string) => ({ pk: 'BOOTSTRAP', sk: `TOKEN#${tokenId}` }),
  /**
   * One item per bootstrap token ever handed out, written only by the join route in the admission
   * transaction: the host can write the pool partition, so a pool item it re-publishes after its claim
   * must still never reach a second instance.
   */
  bootstrapClaim: (tokenId: string) => ({ pk: `BOOTSTRAP_CLAIM#${tokenId}`, sk: 'CLAIM' }),
  /** The pool's live minimum of a role; absent until the pool changes it from the publish-time default. */
  minStake: (role: Role) => ({ pk: 'POOL', sk: `MIN_STAKE#${role}` }),
  /** An address's admin approval (absent until the pool announced one). */
  admin: (address: string) => ({ pk: `ADMIN#${address}`, sk: 'ADMIN' }),
  /**
   * Joined-node counter of a node stake: the join route admits atomically against it (node-registry.ts).
   * Its own partition, so the join and lifecycle functions may update it without being able to update
   * the stake record (IAM `dynamodb:LeadingKeys` cannot tell sort keys apart).
   */
  stakeNodeCount: (stakeId: string) => ({ pk: `NODECOUNT#${stakeId}`, sk: 'NODE_COUNT' }),
  /** One item per terminating lifecycle action, so a retried event completes it only once. */
  lifecycleAction: (token: string) => ({ pk: `LIFECYCLE#${token}`, sk: 'LIFECYCLE' }),
  /** Recent external-join admissions of a stake (the per-stake rate limit, lambdas/shared/nodes/join-rate-limit.ts). */
  joinRate: (stakeId: string) => ({ pk: `JOINRATE#${stakeId}`, sk: 'JOIN_RATE' }),
  /**
   * A stake the indexer must sweep once more (the GSI's second look, or an eviction to retry): one item
   * per stake in one partition, so nothing grows with the number of stakes (docs/indexer.md).
   */
  resweep: (stakeId: string) => ({ pk: 'RESWEEP', sk: `STAKE#${stakeId}` }),
  resweepPartition: () => ({ pk: 'RESWEEP' }),
  ownerIndex: (owner: string) => ({ gsi1pk: `OWNER#${owner}` }),
  stakeIndex: (stakeId: string) => ({ gsi2pk: `STAKE#${stakeId}` }),
} as const;

export const TABLE_INDEXES = { byOwner: 'gsi1', byStake: 'gsi2' } as const;

/** What token checks and node joins need: read-only point reads. */
export interface TokenIndexReader {
  getToken(tokenId: string): Promise<SealTokenRecord | undefined>;
  getStake(stakeId: string): Promise<StakeRecord | undefined>;
  /** The role's minimum as last changed on chain; undefined while the publish-time default holds. */
  getMinStake(role: Role): Promise<bigint | undefined>;
  /** Every item the request names, in one round trip (DynamoDB: one BatchGetItem). */
  readItems(request: IndexReadRequest): Promise<IndexReadResult>;
  /** The token item, strongly consistent, in one request (DynamoDB: one GetItem): the uncached check's only read. */
  readTokenForCheck(tokenId: string): Promise<SealTokenRecord | undefined>;
  /** The cursor's coverage and the three role minimums in one request (DynamoDB: one BatchGetItem). */
  readIndexView(): Promise<IndexView>;
}

/** Thrown by repositories when the backing store cannot be reached; handlers fail closed on it. */
export class IndexUnavailableError extends DependencyUnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IndexUnavailableError';
  }
}
