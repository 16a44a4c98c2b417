// Worker nodes in the index (DESIGN §2 steps 6-7): admission, departure and the bootstrap-token pool.
//
// Admission is one DynamoDB transaction: the node record is created only if it never existed (an
// instance joins once; names are never reused), the stake's joined-node counter is incremented only
// while it stays within what the stake covers, and one pool entry of the enclave's bootstrap tokens is
// taken (deleted from the pool, claimed for good). Doing all of it atomically means two instances joining
// at the same instant can neither both take the last slot nor both get the same token. Departure flips the record to `gone` and gives the slot
// back, once. Records carry `gsi2pk = STAKE#<stakeId>` so the indexer finds a stake's nodes (GSI2) to
// evict them when the stake is slashed or withdrawn.
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  TransactionCanceledException,
  type AttributeValue,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { IndexUnavailableError, KEYS, TABLE_INDEXES, type NodeKind, type NodeRecord } from '../index/index-model';
import type { BootstrapPoolEntry } from './join-token';
import type { NodePage, NodePageKey } from './roster';
import * as z from '../runtime/zod';
import { suiIdSchema } from '../sui/ids';

const WorkerGroupsSchema = z
  .array(z.strictObject({ autoScalingGroup: z.string().check(z.minLength(1)), stakeId: suiIdSchema() }))
  .check(z.minLength(1));

/** Env var `WORKER_GROUPS`: JSON `[{autoScalingGroup, stakeId}]`, this cluster's worker groups and the node stake backing each. */
export const WORKER_GROUPS_ENV = z.pipe(z.string(), z.transform((text, ctx) => {
  try {
    return WorkerGroupsSchema.parse(JSON.parse(text));
  } catch {
    ctx.issues.push({ code: 'custom', message: 'must be a JSON array of {autoScalingGroup, stakeId}', input: text });
    return z.NEVER;
  }
}));

/** An EC2 instance id, which is also the node name (names are never reused). */
export const INSTANCE_ID_PATTERN = /^i-[0-9a-f]{8,17}$/;

export type AdmitResult =
  | { admitted: true }
  /** `token_taken`: another admission claimed this pool entry first (or it was claimed before); try another. */
  | { admitted: false; reason: 'already_joined' | 'stake_insufficient' | 'token_taken' };

export interface NodeAdmission {
  /** The node name (an ASG node's instance id). */
  instanceId: string;
  stakeId: string;
  autoScalingGroup: string;
  /** Absent = `asg` (records before external nodes carry no kind). */
  kind?: NodeKind;
  /** External nodes: the node-tier seal token admitted (its revocation or expiry evicts the node). */
  tokenId?: string;
  /** External nodes: the client's request id, so its retry is recognised as the same admission. */
  requestId?: string;
  /** How many nodes the stake covers in total (`floor(amount / node minimum)`). */
  maxNodes: bigint;
  /** The pool entry this node gets: removed from the pool and claimed in the same transaction. */
  token: BootstrapPoolEntry;
  now: Date;
}

export interface NodeDeparture {
  instanceId: string;
  /** Used only when the instance never joined: its `gone` record still blocks the name forever. */
  stakeId: string;
  autoScalingGroup: string;
  now: Date;
}

type Item = Record<string, AttributeValue>;

const s = (value: string): AttributeValue => ({ S: value });
const n = (value: bigint | number): AttributeValue => ({ N: String(value) });

function keyOf(key: { pk: string; sk: string }): Item {
  return { pk: s(key.pk), sk: s(key.sk) };
}

function unavailable(what: string, error: unknown): IndexUnavailableError {
  return new IndexUnavailableError(`index ${what} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** Reads a counter stored as N (or a decimal string), without losing precision. */
function bigintOf(value: AttributeValue | undefined): bigint | undefined {
  const text = value?.N ?? value?.S;
  return text !== undefined && /^[0-9]+$/.test(text) ? BigInt(text) : undefined;
}

/** A node record changes at most twice (absent → joined → gone), so three reads always settle it. */
const MARK_GONE_ATTEMPTS = 3;

/** A joined node record as the roster reads it; undefined for another status, or a record this code cannot read (or of a kind it does not know). */
function joinedNodeOf(item: Item): NodeRecord | undefined {
  const [instanceId, stakeId, joinedAt, kind] = [item.instanceId?.S, item.stakeId?.S, item.joinedAt?.S, item.kind?.S];
  if (item.status?.S !== 'joined' || !instanceId || !stakeId || joinedAt === undefined) return undefined;
  if (kind !== undefined && kind !== 'asg' && kind !== 'external') return undefined;
  return {
    instanceId,
    stakeId,
    autoScalingGroup: item.autoScalingGroup?.S ?? '',
    ...(kind ? { kind } : {}),
    ...(item.tokenId?.S ? { tokenId: item.tokenId.S } : {}),
    status: 'joined',
    joinedAt,
  };
}

export class NodeRegistry {
  constructor(
    private readonly db: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async joinedCount(stakeId: string): Promise<bigint> {
    try {
      const { Item } = await this.db.send(new GetItemCommand({ TableName: this.tableName, Key: keyOf(KEYS.stakeNodeCount(stakeId)), ConsistentRead: true }));
      return bigintOf(Item?.joined) ?? 0n;
    } catch (error) {
      throw unavailable('read of the node count', error);
    }
  }

  async getNode(instanceId: string): Promise<NodeRecord | undefined> {
    let item: Item | undefined;
    try {
      ({ Item: item } = await this.db.send(new GetItemCommand({ TableName: this.tableName, Key: keyOf(KEYS.node(instanceId)), ConsistentRead: true })));
    } catch (error) {
      throw unavailable('read of the node', error);
    }
    if (!item) return undefined;
    return {
      instanceId: item.instanceId?.S ?? instanceId,
      stakeId: item.stakeId?.S ?? '',
      autoScalingGroup: item.autoScalingGroup?.S ?? '',
      ...(item.kind?.S === 'external' || item.kind?.S === 'asg' ? { kind: item.kind.S } : {}),
      ...(item.tokenId?.S ? { tokenId: item.tokenId.S } : {}),
      ...(item.requestId?.S ? { requestId: item.requestId.S } : {}),
      status: item.status?.S === 'joined' ? 'joined' : 'gone',
      joinedAt: item.joinedAt?.S ?? '',
      ...(item.goneAt?.S ? { goneAt: item.goneAt.S } : {}),
      ...(item.terminationRequestedAt?.S ? { terminationRequestedAt: item.terminationRequestedAt.S } : {}),
      ...(item.bootstrapTokenId?.S && item.bootstrapExpiresAt?.S && item.bootstrapCaSha256?.S && item.bootstrapCiphertext?.S
        ? {
            bootstrap: {
              tokenId: item.bootstrapTokenId.S,
              expiresAt: item.bootstrapExpiresAt.S,
              caSha256: item.bootstrapCaSha256.S,
              ciphertext: item.bootstrapCiphertext.S,
            },
          }
        : {}),
    };
  }

  /**
   * Records the node, takes one of the stake's slots and claims one bootstrap token, atomically; refuses a
   * second join of the same instance. Reasons are checked in the transaction's order, so an SDK retry of a
   * transaction that already committed reads as `already_joined` (the caller then finds its own record).
   */
  async admit(a: NodeAdmission): Promise<AdmitResult> {
    if (a.maxNodes < 1n) return { admitted: false, reason: 'stake_insufficient' };
    const node: Item = {
      ...keyOf(KEYS.node(a.instanceId)),
      gsi2pk: s(KEYS.stakeIndex(a.stakeId).gsi2pk),
      entity: s('node'),
      instanceId: s(a.instanceId),
      stakeId: s(a.stakeId),
      autoScalingGroup: s(a.autoScalingGroup),
      ...(a.kind ? { kind: s(a.kind) } : {}),
      ...(a.tokenId ? { tokenId: s(a.tokenId) } : {}),
      ...(a.requestId ? { requestId: s(a.requestId) } : {}),
      status: s('joined'),
      joinedAt: s(a.now.toISOString()),
      bootstrapTokenId: s(a.token.tokenId),
      bootstrapExpiresAt: s(a.token.expiresAt),
      bootstrapCaSha256: s(a.token.caSha256),
      bootstrapCiphertext: s(a.token.ciphertext),
    };
    const claim: Item = {
      ...keyOf(KEYS.bootstrapClaim(a.token.tokenId)),
      entity: s('bootstrap-claim'),
      tokenId: s(a.token.tokenId),
      instanceId: s(a.instanceId),
      claimedAt: s(a.now.toISOString()),
    };
    try {
      await this.db.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, Item: node, ConditionExpression: 'attribute_not_exists(pk)' } },
            {
              Update: {
                TableName: this.tableName,
                Key: keyOf(KEYS.stakeNodeCount(a.stakeId)),
                UpdateExpression: 'SET joined = if_not_exists(joined, :zero) + :one, stakeId = :stake',
                ConditionExpression: 'attribute_not_exists(joined) OR joined < :max',
                ExpressionAttributeValues: { ':zero': n(0), ':one': n(1), ':max': n(a.maxNodes), ':stake': s(a.stakeId) },
              },
            },
            {
              Delete: {
                TableName: this.tableName,
                Key: keyOf(KEYS.bootstrapPoolEntry(a.token.tokenId)),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            { Put: { TableName: this.tableName, Item: claim, ConditionExpression: 'attribute_not_exists(pk)' } },
          ],
        }),
      );
      return { admitted: true };
    } catch (error) {
      if (error instanceof TransactionCanceledException) {
        const [nodeReason, countReason, poolReason, claimReason] = (error.CancellationReasons ?? []).map((r) => r.Code);
        if (nodeReason === 'ConditionalCheckFailed') return { admitted: false, reason: 'already_joined' };
        if (countReason === 'ConditionalCheckFailed') return { admitted: false, reason: 'stake_insufficient' };
        if (poolReason === 'ConditionalCheckFailed' || claimReason === 'ConditionalCheckFailed') return { admitted: false, reason: 'token_taken' };
      }
      throw unavailable('admission write', error);
    }
  }

  /**
   * Marks the node `gone` and frees its slot. Idempotent: returns `false` when it was already gone.
   * An instance that never joined gets a `gone` record too, so its name can never join later.
   *
   * Read-then-write races with a concurrent admission (or another delivery): every write is conditional
   * on the state just read, and a failed condition means "look again", never "already gone", so a node
   * admitted between the read and the write is still marked gone and its slot given back.
   */
  async markGone(d: NodeDeparture): Promise<boolean> {
    const goneAt = s(d.now.toISOString());
    for (let attempt = 0; attempt < MARK_GONE_ATTEMPTS; attempt++) {
      const current = await this.getNode(d.instanceId);
      if (current?.status === 'gone') return false;
      try {
        if (!current) {
          await this.db.send(
            new PutItemCommand({
              TableName: this.tableName,
              Item: {
                ...keyOf(KEYS.node(d.instanceId)),
                gsi2pk: s(KEYS.stakeIndex(d.stakeId).gsi2pk),
                entity: s('node'),
                instanceId: s(d.instanceId),
                stakeId: s(d.stakeId),
                autoScalingGroup: s(d.autoScalingGroup),
                status: s('gone'),
                joinedAt: s(''),
                goneAt,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
          return true;
        }
        await this.db.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tableName,
                  Key: keyOf(KEYS.node(d.instanceId)),
                  UpdateExpression: 'SET #status = :gone, goneAt = :at',
                  ConditionExpression: '#status = :joined',
                  ExpressionAttributeNames: { '#status': 'status' },
                  ExpressionAttributeValues: { ':gone': s('gone'), ':joined': s('joined'), ':at': goneAt },
                },
              },
              {
                Update: {
                  TableName: this.tableName,
                  Key: keyOf(KEYS.stakeNodeCount(current.stakeId)),
                  UpdateExpression: 'SET joined = joined - :one',
                  ConditionExpression: 'joined >= :one',
                  ExpressionAttributeValues: { ':one': n(1) },
                },
              },
            ],
          }),
        );
        return true;
      } catch (error) {
        // The node record changed under us (admitted, or marked by a concurrent delivery): read it again.
        if (error instanceof ConditionalCheckFailedException) continue;
        if (error instanceof TransactionCanceledException && error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') continue;
        throw unavailable('departure write', error);
      }
    }
    throw new IndexUnavailableError(`node ${d.instanceId} kept changing while being marked gone`);
  }

  /** Claims a lifecycle action for completion; `false` when an earlier delivery of the event already did. */
  async claimLifecycleAction(token: string, instanceId: string, now: Date): Promise<boolean> {
    try {
      await this.db.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: { ...keyOf(KEYS.lifecycleAction(token)), entity: s('lifecycle-action'), instanceId: s(instanceId), claimedAt: s(now.toISOString()) },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw unavailable('lifecycle claim', error);
    }
  }

  /** Gives a claim back when completing failed transiently, so the retried event can complete it. */
  async releaseLifecycleAction(token: string): Promise<void> {
    try {
      await this.db.send(new DeleteItemCommand({ TableName: this.tableName, Key: keyOf(KEYS.lifecycleAction(token)) }));
    } catch (error) {
      throw unavailable('lifecycle release', error);
    }
  }

  /**
   * One page of the joined nodes of every stake, for the roster (roster.ts). Node records have no partition
   * of their own to Query, so this is a consistent Scan filtered to joined node items; `limit` caps the items
   * evaluated per page, and `next` is where the following page starts.
   */
  async listJoinedNodes(page: { start?: NodePageKey; limit: number }): Promise<NodePage> {
    let result;
    try {
      result = await this.db.send(
        new ScanCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          Limit: page.limit,
          FilterExpression: 'begins_with(pk, :node) AND sk = :sk AND #status = :joined',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':node': s(KEYS.node('').pk), ':sk': s(KEYS.node('').sk), ':joined': s('joined') },
          ...(page.start ? { ExclusiveStartKey: { pk: s(page.start.pk), sk: s(page.start.sk) } } : {}),
        }),
      );
    } catch (error) {
      throw unavailable('scan of the nodes', error);
    }
    const nodes = (result.Items ?? []).map(joinedNodeOf).filter((n): n is NodeRecord => n !== undefined);
    const last = result.LastEvaluatedKey;
    return { nodes, ...(last?.pk?.S && last.sk?.S ? { next: { pk: last.pk.S, sk: last.sk.S } } : {}) };
  }

  /**
   * The stake's joined nodes with their status read consistently: GSI2 names them (eventually consistent),
   * then one consistent BatchGetItem per 100 reads the records themselves. A node the GSI still shows as
   * joined after it left would otherwise push a later node past the stake's capacity in the roster.
   */
  async joinedNodesOfStake(stakeId: string): Promise<NodeRecord[]> {
    const keys: Item[] = [];
    let start: Item | undefined;
    const nodes: NodeRecord[] = [];
    try {
      do {
        const page = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: TABLE_INDEXES.byStake,
            KeyConditionExpression: 'gsi2pk = :stake AND begins_with(pk, :node)',
            ExpressionAttributeValues: { ':stake': s(KEYS.stakeIndex(stakeId).gsi2pk), ':node': s(KEYS.node('').pk) },
            ProjectionExpression: 'pk, sk',
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) if (item.pk?.S && item.sk?.S) keys.push({ pk: item.pk, sk: item.sk });
        start = page.LastEvaluatedKey;
      } while (start);
      for (let i = 0; i < keys.length; i += 100) {
        let pending: Item[] | undefined = keys.slice(i, i + 100);
        for (let attempt = 0; pending && pending.length > 0; attempt++) {
          if (attempt > 8) throw new Error('batch get kept returning unprocessed keys');
          if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
          const res: BatchGetItemCommandOutput = await this.db.send(new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }));
          for (const item of res.Responses?.[this.tableName] ?? []) {
            const node = joinedNodeOf(item);
            if (node) nodes.push(node);
          }
          pending = res.UnprocessedKeys?.[this.tableName]?.Keys;
        }
      }
    } catch (error) {
      throw unavailable('read of the stake\'s nodes', error);
    }
    return nodes;
  }

  /** The pool as stored (consistent read); entries are validated by whoever uses them, never trusted. */
  async listBootstrapPool(): Promise<BootstrapPoolEntry[]> {
    const entries: BootstrapPoolEntry[] = [];
    let start: Item | undefined;
    try {
      do {
        const page = await this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': s(KEYS.bootstrapPool().pk) },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) {
          const [tokenId, expiresAt, caSha256, ciphertext] = [item.tokenId?.S, item.expiresAt?.S, item.caSha256?.S, item.ciphertext?.S];
          if (tokenId && expiresAt && caSha256 && ciphertext) entries.push({ tokenId, expiresAt, caSha256, ciphertext });
        }
        start = page.LastEvaluatedKey;
      } while (start);
    } catch (error) {
      throw unavailable('read of the bootstrap-token pool', error);
    }
    return entries;
  }

  /** Adds an enclave-minted entry to the pool (the master host's write; the master role may write only this partition). */
  async putBootstrapPoolEntry(entry: BootstrapPoolEntry, now: Date): Promise<void> {
    try {
      await this.db.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            ...keyOf(KEYS.bootstrapPoolEntry(entry.tokenId)),
            entity: s('bootstrap-pool-entry'),
            tokenId: s(entry.tokenId),
            expiresAt: s(entry.expiresAt),
            caSha256: s(entry.caSha256),
            ciphertext: s(entry.ciphertext),
            createdAt: s(now.toISOString()),
          },
        }),
      );
    } catch (error) {
      throw unavailable('bootstrap-token pool write', error);
    }
  }

  /** Drops an entry the enclave retired (expired, or deleted from K3s after a reboot). */
  async deleteBootstrapPoolEntry(tokenId: string): Promise<void> {
    try {
      await this.db.send(new DeleteItemCommand({ TableName: this.tableName, Key: keyOf(KEYS.bootstrapPoolEntry(tokenId)) }));
    } catch (error) {
      throw unavailable('bootstrap-token pool delete', error);
    }
  }
}
