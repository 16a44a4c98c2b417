// The index in the DynamoDB single table (keys and GSIs from `index-model.ts`). Big integers (MIST
// amounts, checkpoints) are stored as decimal strings so no precision is lost in a JavaScript number.
// Every failure to reach the table surfaces as `IndexUnavailableError` so handlers fail closed.
//
// Reads go through the low-level client (GetItem / BatchGetItem, items unmarshalled here): the token check
// makes one read per uncached check, and the document client's per-request marshalling middleware cost a
// sixth of a GetItem's CPU (docs/capacity.md). Writes and queries keep the document client.
import { BatchGetItemCommand, DynamoDBClient, GetItemCommand, type AttributeValue, type BatchGetItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type NativeAttributeValue,
} from '@aws-sdk/lib-dynamodb';
import {
  IndexUnavailableError,
  KEYS,
  TABLE_INDEXES,
  type AdminRecord,
  type EventPosition,
  type IndexReadRequest,
  type IndexReadResult,
  type IndexView,
  type TokenBacking,
  type MinStakeRecord,
  type NodeRecord,
  type SealTokenRecord,
  type StakeRecord,
} from './index-model';
import { IndexConflictError, type EntityWrite, type IndexRepository, type IndexerCursor, type ResweepEntry, type ResweepPage, type StakeMembers, type Versioned } from './index-repository';
import { ROLES, type Role } from '../sui/roles';
import { forEachBounded } from '../concurrency/bounded';

type Item = Record<string, NativeAttributeValue>;

const BATCH_GET_MAX = 100;
/** TransactWriteItems takes at most 100 actions. */
const TRANSACT_MAX = 100;
/** BatchWriteItem takes at most 25 puts or deletes. */
const BATCH_WRITE_MAX = 25;
/** Transactions or batches of one call in flight at once (a page rarely needs more than one). */
const WRITE_CONCURRENCY = 4;
/** Tries of a batch whose remainder DynamoDB keeps handing back (throttling), with capped backoff between. */
const BATCH_MAX_ATTEMPTS = 9;
/** Re-sweep entries per Query page: bounds what one indexer step holds and works on at once. */
export const RESWEEP_PAGE_SIZE = 100;

export interface DynamoIndexRepositoryOptions {
  tableName: string;
  client?: DynamoDBClient;
}

export class DynamoIndexRepository implements IndexRepository {
  private readonly client: DynamoDBClient;
  private docClient?: DynamoDBDocumentClient;
  private readonly table: string;
  /** The index view's keys, marshalled once: every container reads them every few seconds. */
  private readonly viewKeys: Record<string, AttributeValue>[];

  constructor(options: DynamoIndexRepositoryOptions) {
    this.table = options.tableName;
    this.client = options.client ?? new DynamoDBClient({});
    this.viewKeys = [KEYS.cursor(), ...ROLES.map(KEYS.minStake)].map((k) => marshall(k));
  }

  /**
   * The document client, built on first use: the token check's reads never need it, so a checker's client
   * may reuse command handlers (`awsClientConfig(…, { reuseCommandHandlers: true })`), which the document
   * client refuses; writes and queries on such a client fail here.
   */
  private get doc(): DynamoDBDocumentClient {
    if ((this.client.config as { cacheMiddleware?: boolean }).cacheMiddleware === true) {
      throw new Error('this repository\'s DynamoDB client reuses command handlers (cacheMiddleware): it serves token-check reads only');
    }
    return (this.docClient ??= DynamoDBDocumentClient.from(this.client, { marshallOptions: { removeUndefinedValues: true } }));
  }

  async getToken(tokenId: string): Promise<SealTokenRecord | undefined> {
    const item = await this.get(KEYS.token(tokenId));
    return item && tokenFromItem(item);
  }

  async getStake(stakeId: string): Promise<StakeRecord | undefined> {
    const item = await this.get(KEYS.stake(stakeId));
    return item && stakeFromItem(item);
  }

  async getMinStake(role: Role): Promise<bigint | undefined> {
    const item = await this.get(KEYS.minStake(role));
    return item && minStakeFromItem(item).amountMist;
  }

  async getMinStakes(roles: readonly Role[]): Promise<Map<Role, Versioned<MinStakeRecord>>> {
    const items = await this.batchGet(roles.map(KEYS.minStake));
    return new Map(items.map((i) => [i.role as Role, { record: minStakeFromItem(i), rev: i.rev as number }]));
  }

  async getAdmins(addresses: readonly string[]): Promise<Map<string, Versioned<AdminRecord>>> {
    const items = await this.batchGet(addresses.map(KEYS.admin));
    return new Map(items.map((i) => [i.address as string, { record: adminFromItem(i), rev: i.rev as number }]));
  }

  async readItems(request: IndexReadRequest): Promise<IndexReadResult> {
    const keys: Item[] = [];
    if (request.tokenId !== undefined) keys.push(KEYS.token(request.tokenId));
    if (request.stakeId !== undefined) keys.push(KEYS.stake(request.stakeId));
    if (request.minStakeRole !== undefined) keys.push(KEYS.minStake(request.minStakeRole));
    if (request.admin !== undefined) keys.push(KEYS.admin(request.admin));
    if (request.freshness) keys.push(KEYS.cursor());
    // Eventually consistent like the single reads token checks always made: a second old at most.
    const items = keys.length > 0 ? await this.batchGet(keys, false) : [];
    const out: IndexReadResult = request.freshness ? { freshness: {} } : {};
    // Told apart by key (the table's contract), not by any attribute a writer might leave out.
    const is = (item: Item, key: Item) => item.pk === key.pk && item.sk === key.sk;
    for (const item of items) {
      if (request.tokenId !== undefined && is(item, KEYS.token(request.tokenId))) out.token = tokenFromItem(item);
      else if (request.stakeId !== undefined && is(item, KEYS.stake(request.stakeId))) out.stake = stakeFromItem(item);
      else if (request.minStakeRole !== undefined && is(item, KEYS.minStake(request.minStakeRole))) out.minStakeMist = minStakeFromItem(item).amountMist;
      else if (request.admin !== undefined && is(item, KEYS.admin(request.admin))) out.admin = adminFromItem(item);
      else if (is(item, KEYS.cursor()) && typeof item.coveredThroughMs === 'number') out.freshness = { coveredThroughMs: item.coveredThroughMs };
    }
    return out;
  }

  async readTokenForCheck(tokenId: string): Promise<SealTokenRecord | undefined> {
    // Strongly consistent: a revocation or slash the indexer has written is seen by the next check.
    const item = await this.get(KEYS.token(tokenId), true);
    return item && tokenFromItem(item);
  }

  async readIndexView(): Promise<IndexView> {
    // Eventually consistent (a second old at most), like the reads it replaces: the view is held for
    // seconds anyway, and the bound it enters (maxIndexAge + view TTL) is far larger.
    const items = await this.batchGetMarshalled(this.viewKeys, false);
    const view: IndexView = { freshness: {}, minStakeMist: {} };
    for (const item of items) {
      if (item.pk === KEYS.cursor().pk && item.sk === KEYS.cursor().sk) {
        if (typeof item.coveredThroughMs === 'number') view.freshness = { coveredThroughMs: item.coveredThroughMs };
        continue;
      }
      const role = ROLES.find((r) => item.pk === KEYS.minStake(r).pk && item.sk === KEYS.minStake(r).sk);
      if (role) view.minStakeMist[role] = minStakeFromItem(item).amountMist;
    }
    return view;
  }

  async getStakes(stakeIds: readonly string[]): Promise<Map<string, Versioned<StakeRecord>>> {
    const items = await this.batchGet(stakeIds.map(KEYS.stake));
    return new Map(items.map((i) => [i.stakeId as string, { record: stakeFromItem(i), rev: i.rev as number }]));
  }

  async getTokens(tokenIds: readonly string[]): Promise<Map<string, Versioned<SealTokenRecord>>> {
    const items = await this.batchGet(tokenIds.map(KEYS.token));
    return new Map(items.map((i) => [i.tokenId as string, { record: tokenFromItem(i), rev: i.rev as number }]));
  }

  async tokensOfStake(stakeId: string): Promise<Versioned<SealTokenRecord>[]> {
    const items = await this.query(TABLE_INDEXES.byStake, 'gsi2pk', KEYS.stakeIndex(stakeId).gsi2pk, { prefix: 'TOKEN#', attr: 'pk' });
    return items.map((i) => ({ record: tokenFromItem(i), rev: i.rev as number }));
  }

  async stakeMembers(stakeId: string): Promise<StakeMembers> {
    const items = await this.query(TABLE_INDEXES.byStake, 'gsi2pk', KEYS.stakeIndex(stakeId).gsi2pk);
    const members: StakeMembers = { tokens: [], nodes: [] };
    // Told apart by key prefix, as tokensOfStake and nodesOfStake do.
    for (const i of items) {
      if (String(i.pk).startsWith('TOKEN#')) members.tokens.push({ record: tokenFromItem(i), rev: i.rev as number });
      else if (String(i.pk).startsWith('NODE#')) members.nodes.push(nodeFromItem(i));
    }
    return members;
  }

  async tokensOfOwner(owner: string): Promise<SealTokenRecord[]> {
    const items = await this.query(TABLE_INDEXES.byOwner, 'gsi1pk', KEYS.ownerIndex(owner).gsi1pk, { prefix: 'TOKEN', attr: 'sk' });
    return items.map(tokenFromItem);
  }

  async stakesOfOwner(owner: string): Promise<StakeRecord[]> {
    const items = await this.query(TABLE_INDEXES.byOwner, 'gsi1pk', KEYS.ownerIndex(owner).gsi1pk, { prefix: 'STAKE', attr: 'sk' });
    return items.map(stakeFromItem);
  }

  async writeEntities(writes: readonly EntityWrite[]): Promise<void> {
    // One TransactWriteItems per 100 writes, each put conditional on the revision it was computed from:
    // the optimistic check stays exact per entity, and a page of events costs one request instead of one
    // per entity. A transaction is all or nothing; a conflict anywhere cancels it and the caller reloads
    // and re-applies (idempotent). Chunks are independent (the contract allows a partial write).
    const chunks: EntityWrite[][] = [];
    for (let i = 0; i < writes.length; i += TRANSACT_MAX) chunks.push(writes.slice(i, i + TRANSACT_MAX));
    await forEachBounded(chunks, WRITE_CONCURRENCY, (chunk) => this.writeChunk(chunk));
  }

  private async writeChunk(writes: readonly EntityWrite[]): Promise<void> {
    const puts = writes.map((w) => {
      const item =
        w.kind === 'stake' ? stakeToItem(w.record)
          : w.kind === 'token' ? tokenToItem(w.record)
            : w.kind === 'admin' ? adminToItem(w.record)
              : minStakeToItem(w.record);
      item.rev = w.expectedRev + 1;
      return {
        Put: {
          TableName: this.table,
          Item: item,
          ConditionExpression: w.expectedRev === 0 ? 'attribute_not_exists(pk)' : '#rev = :rev',
          ...(w.expectedRev === 0 ? {} : { ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': w.expectedRev } }),
        },
      };
    });
    const keys = new Set(puts.map((p) => `${p.Put.Item.pk}|${p.Put.Item.sk}`));
    // A transaction refuses two actions on one item; the applier never asks for that, so it is a bug.
    if (keys.size !== puts.length) throw new Error('writeEntities was given two writes of the same entity');
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: puts }));
    } catch (error) {
      if (isConflict(error)) {
        const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
        const moved = puts.filter((_, i) => reasons[i]?.Code === 'ConditionalCheckFailed').map((p) => String(p.Put.Item.pk));
        throw new IndexConflictError(`${moved.length > 0 ? moved.join(', ') : 'an entity'} changed concurrently`);
      }
      throw unavailable(error);
    }
  }

  async addResweeps(stakeIds: readonly string[], run: string, addedAt: string): Promise<void> {
    const unique = [...new Set(stakeIds)];
    await this.batchWrite(unique.map((stakeId) => ({ PutRequest: { Item: { ...KEYS.resweep(stakeId), entity: 'resweep', stakeId, run, addedAt } } })));
  }

  async resweepPage(startAfter?: string, limit = RESWEEP_PAGE_SIZE): Promise<ResweepPage> {
    // Strongly consistent: an entry written by the previous run (just before its cursor) must be seen.
    try {
      const res = await this.doc.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': KEYS.resweepPartition().pk },
        ConsistentRead: true,
        Limit: limit,
        ...(startAfter !== undefined ? { ExclusiveStartKey: KEYS.resweep(startAfter) } : {}),
      }));
      const entries = (res.Items ?? []).map((i) => ({ stakeId: i.stakeId as string, run: i.run as string, addedAt: i.addedAt as string }));
      // DynamoDB may end a page early (1 MB) or return an empty last page with a key; both just page on.
      return res.LastEvaluatedKey ? { entries, nextStart: String(res.LastEvaluatedKey.sk).slice('STAKE#'.length) } : { entries };
    } catch (error) {
      throw unavailable(error);
    }
  }

  async removeResweeps(entries: readonly ResweepEntry[]): Promise<void> {
    // Conditional on the run that added each entry: one a later run wrote again (the stake was slashed
    // again) is its own to sweep, and stays. Transactions carry the condition; a cancelled one is sent
    // again without the entries whose condition failed.
    const chunks: ResweepEntry[][] = [];
    for (let i = 0; i < entries.length; i += TRANSACT_MAX) chunks.push(entries.slice(i, i + TRANSACT_MAX));
    await forEachBounded(chunks, WRITE_CONCURRENCY, async (chunk) => {
      let pending = chunk;
      for (let attempt = 1; pending.length > 0; attempt++) {
        try {
          await this.doc.send(new TransactWriteCommand({
            TransactItems: pending.map((e) => ({
              Delete: {
                TableName: this.table,
                Key: KEYS.resweep(e.stakeId),
                ConditionExpression: '#run = :run',
                ExpressionAttributeNames: { '#run': 'run' },
                ExpressionAttributeValues: { ':run': e.run },
              },
            })),
          }));
          return;
        } catch (error) {
          const name = (error as { name?: string }).name;
          const cancelled = name === 'TransactionCanceledException' || name === 'TransactionConflictException';
          if (!cancelled || attempt >= BATCH_MAX_ATTEMPTS) throw unavailable(error);
          const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
          // Drop the entries re-added (or already removed) since they were read; retry the rest.
          pending = pending.filter((_, i) => reasons[i]?.Code !== 'ConditionalCheckFailed');
          if (pending.length > 0) await sleep(backoffMs(attempt));
        }
      }
    });
  }

  private async batchWrite(requests: Item[]): Promise<void> {
    const chunks: Item[][] = [];
    for (let i = 0; i < requests.length; i += BATCH_WRITE_MAX) chunks.push(requests.slice(i, i + BATCH_WRITE_MAX));
    await forEachBounded(chunks, WRITE_CONCURRENCY, async (chunk) => {
      let pending: Item[] | undefined = chunk;
      try {
        for (let attempt = 1; pending && pending.length > 0; attempt++) {
          if (attempt > BATCH_MAX_ATTEMPTS) throw new Error('batch write kept returning unprocessed items');
          if (attempt > 1) await sleep(backoffMs(attempt - 1));
          const res = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending } }));
          pending = res.UnprocessedItems?.[this.table] as Item[] | undefined;
        }
      } catch (error) {
        throw unavailable(error);
      }
    });
  }

  async getNode(instanceId: string): Promise<NodeRecord | undefined> {
    const item = await this.get(KEYS.node(instanceId));
    return item && nodeFromItem(item);
  }

  async nodesOfStake(stakeId: string): Promise<NodeRecord[]> {
    const items = await this.query(TABLE_INDEXES.byStake, 'gsi2pk', KEYS.stakeIndex(stakeId).gsi2pk, { prefix: 'NODE#', attr: 'pk' });
    return items.map(nodeFromItem);
  }

  async putNode(node: NodeRecord): Promise<void> {
    try {
      await this.doc.send(new PutCommand({
        TableName: this.table,
        Item: { ...KEYS.node(node.instanceId), ...KEYS.stakeIndex(node.stakeId), entity: 'node', ...node },
      }));
    } catch (error) {
      throw unavailable(error);
    }
  }

  async markTerminationRequested(instanceId: string, at: string): Promise<boolean> {
    try {
      await this.doc.send(new UpdateCommand({
        TableName: this.table,
        Key: KEYS.node(instanceId),
        UpdateExpression: 'SET terminationRequestedAt = :at',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(terminationRequestedAt)',
        ExpressionAttributeValues: { ':at': at },
      }));
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw unavailable(error);
    }
  }

  async claimEviction(instanceId: string, at: string, staleBefore: string): Promise<boolean> {
    try {
      await this.doc.send(new UpdateCommand({
        TableName: this.table,
        Key: KEYS.node(instanceId),
        UpdateExpression: 'SET evictionClaimedAt = :at',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(terminationRequestedAt) AND (attribute_not_exists(evictionClaimedAt) OR evictionClaimedAt <= :stale)',
        ExpressionAttributeValues: { ':at': at, ':stale': staleBefore },
      }));
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw unavailable(error);
    }
  }

  async releaseEviction(instanceId: string, at: string): Promise<void> {
    try {
      await this.doc.send(new UpdateCommand({
        TableName: this.table,
        Key: KEYS.node(instanceId),
        UpdateExpression: 'REMOVE evictionClaimedAt',
        ConditionExpression: 'evictionClaimedAt = :at AND attribute_not_exists(terminationRequestedAt)',
        ExpressionAttributeValues: { ':at': at },
      }));
    } catch (error) {
      if (isConflict(error)) return;
      throw unavailable(error);
    }
  }

  async getCursor(): Promise<IndexerCursor | undefined> {
    const item = await this.get(KEYS.cursor(), true);
    if (!item) return undefined;
    return {
      cursor: item.cursor as string,
      checkpoint: BigInt(item.checkpoint as string),
      lastEvent: item.lastEvent ? positionFromItem(item.lastEvent as Item) : undefined,
      eventsSeen: item.eventsSeen as number,
      ...(typeof item.coveredThroughMs === 'number' ? { coveredThroughMs: item.coveredThroughMs } : {}),
      updatedAt: item.updatedAt as string,
      ...(Array.isArray(item.resweepStakes) && item.resweepStakes.length > 0 ? { resweepStakes: [...(item.resweepStakes as string[])] } : {}),
    };
  }

  async putCursor(next: IndexerCursor, previous: IndexerCursor | undefined): Promise<void> {
    try {
      await this.doc.send(new PutCommand({
        TableName: this.table,
        Item: {
          ...KEYS.cursor(),
          entity: 'cursor',
          cursor: next.cursor,
          checkpoint: next.checkpoint.toString(),
          lastEvent: next.lastEvent && positionToItem(next.lastEvent),
          eventsSeen: next.eventsSeen,
          coveredThroughMs: next.coveredThroughMs,
          updatedAt: next.updatedAt,
          resweepStakes: next.resweepStakes?.length ? next.resweepStakes : undefined,
        },
        ConditionExpression: previous ? '#cursor = :previous' : 'attribute_not_exists(pk)',
        ...(previous ? { ExpressionAttributeNames: { '#cursor': 'cursor' }, ExpressionAttributeValues: { ':previous': previous.cursor } } : {}),
      }));
    } catch (error) {
      if (isConflict(error)) throw new IndexConflictError('indexer cursor moved since it was read');
      throw unavailable(error);
    }
  }

  private async get(key: Item, consistent = false): Promise<Item | undefined> {
    try {
      const { Item: item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: marshall(key), ConsistentRead: consistent || undefined }));
      return item && unmarshall(item);
    } catch (error) {
      throw unavailable(error);
    }
  }

  private batchGet(keys: Item[], consistent = true): Promise<Item[]> {
    const unique = [...new Map(keys.map((k) => [`${k.pk}|${k.sk}`, k])).values()];
    return this.batchGetMarshalled(unique.map((k) => marshall(k)), consistent);
  }

  /** `keys` distinct, already marshalled. */
  private async batchGetMarshalled(keys: Record<string, AttributeValue>[], consistent: boolean): Promise<Item[]> {
    const out: Item[] = [];
    try {
      for (let i = 0; i < keys.length; i += BATCH_GET_MAX) {
        let pending: Record<string, AttributeValue>[] | undefined = keys.slice(i, i + BATCH_GET_MAX);
        for (let attempt = 0; pending && pending.length > 0; attempt++) {
          if (attempt >= BATCH_MAX_ATTEMPTS) throw new Error('batch get kept returning unprocessed keys');
          if (attempt > 0) await sleep(backoffMs(attempt));
          const res: BatchGetItemCommandOutput = await this.client.send(new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: consistent } } }));
          for (const item of res.Responses?.[this.table] ?? []) out.push(unmarshall(item));
          pending = res.UnprocessedKeys?.[this.table]?.Keys;
        }
      }
    } catch (error) {
      throw unavailable(error);
    }
    return out;
  }

  private async query(index: string, keyName: string, keyValue: string, sortPrefix?: { attr: string; prefix: string }): Promise<Item[]> {
    const out: Item[] = [];
    let start: Item | undefined;
    try {
      do {
        const res = await this.doc.send(new QueryCommand({
          TableName: this.table,
          IndexName: index,
          KeyConditionExpression: sortPrefix ? '#k = :k AND begins_with(#s, :p)' : '#k = :k',
          ExpressionAttributeNames: sortPrefix ? { '#k': keyName, '#s': sortPrefix.attr } : { '#k': keyName },
          ExpressionAttributeValues: sortPrefix ? { ':k': keyValue, ':p': sortPrefix.prefix } : { ':k': keyValue },
          ExclusiveStartKey: start,
        }));
        out.push(...(res.Items ?? []));
        start = res.LastEvaluatedKey;
      } while (start);
    } catch (error) {
      throw unavailable(error);
    }
    return out;
  }
}

function isConflict(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  if (name === 'ConditionalCheckFailedException' || name === 'TransactionConflictException') return true;
  if (name === 'TransactionCanceledException') {
    const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
    return reasons.some((r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict');
  }
  return false;
}

function unavailable(error: unknown): Error {
  if (error instanceof IndexUnavailableError || error instanceof IndexConflictError) return error;
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new IndexUnavailableError(`index table unavailable (${reason})`, { cause: error });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Exponential from 50 ms, capped at 1 s, with jitter so retries of parallel batches spread out. */
function backoffMs(attempt: number): number {
  const base = Math.min(1000, 25 * 2 ** attempt);
  return base / 2 + Math.floor(Math.random() * (base / 2));
}

function positionToItem(p: EventPosition): Item {
  return { checkpoint: p.checkpoint.toString(), txOrdinal: p.txOrdinal, eventIndex: p.eventIndex, txDigest: p.txDigest };
}

function positionFromItem(i: Item): EventPosition {
  return { checkpoint: BigInt(i.checkpoint as string), txOrdinal: i.txOrdinal as number, eventIndex: i.eventIndex as number, txDigest: i.txDigest as string };
}

function stakeToItem(s: StakeRecord): Item {
  return {
    ...KEYS.stake(s.stakeId),
    ...(s.owner ? KEYS.ownerIndex(s.owner) : {}),
    entity: 'stake',
    stakeId: s.stakeId,
    owner: s.owner,
    role: s.role,
    amountMist: s.amountMist.toString(),
    status: s.status,
    nodeId: s.nodeId,
    unlockAtMs: s.unlockAtMs,
    lastEvent: positionToItem(s.lastEvent),
  };
}

function stakeFromItem(i: Item): StakeRecord {
  return {
    stakeId: i.stakeId as string,
    owner: i.owner as string,
    role: i.role as Role,
    amountMist: BigInt(i.amountMist as string),
    status: i.status as StakeRecord['status'],
    nodeId: i.nodeId as string,
    ...(i.unlockAtMs !== undefined ? { unlockAtMs: Number(i.unlockAtMs) } : {}),
    lastEvent: positionFromItem(i.lastEvent as Item),
  };
}

function minStakeToItem(m: MinStakeRecord): Item {
  return { ...KEYS.minStake(m.role), entity: 'minStake', role: m.role, amountMist: m.amountMist.toString(), lastEvent: positionToItem(m.lastEvent) };
}

function minStakeFromItem(i: Item): MinStakeRecord {
  return { role: i.role as Role, amountMist: BigInt(i.amountMist as string), lastEvent: positionFromItem(i.lastEvent as Item) };
}

function adminToItem(a: AdminRecord): Item {
  return { ...KEYS.admin(a.address), entity: 'admin', address: a.address, approved: a.approved, lastEvent: positionToItem(a.lastEvent) };
}

function adminFromItem(i: Item): AdminRecord {
  return { address: i.address as string, approved: i.approved === true, lastEvent: positionFromItem(i.lastEvent as Item) };
}

function tokenToItem(t: SealTokenRecord): Item {
  return {
    ...KEYS.token(t.tokenId),
    // GSI key attributes may not be empty strings; a token known only from its revocation has no owner yet.
    ...(t.owner ? KEYS.ownerIndex(t.owner) : {}),
    ...(t.stakeId ? KEYS.stakeIndex(t.stakeId) : {}),
    entity: 'token',
    tokenId: t.tokenId,
    stakeId: t.stakeId,
    owner: t.owner,
    role: t.role,
    permissions: t.permissions,
    clusterId: t.clusterId,
    expiresAtMs: t.expiresAtMs,
    revoked: t.revoked,
    invalidated: t.invalidated,
    backing: t.backing && backingToItem(t.backing),
    lastEvent: positionToItem(t.lastEvent),
  };
}

function backingToItem(b: TokenBacking): Item {
  return {
    ...(b.stake ? { stakeStatus: b.stake.status, stakeAmountMist: b.stake.amountMist.toString() } : {}),
    adminApproved: b.adminApproved,
  };
}

function backingFromItem(i: Item): TokenBacking {
  return {
    ...(typeof i.stakeStatus === 'string' && typeof i.stakeAmountMist === 'string'
      ? { stake: { status: i.stakeStatus as StakeRecord['status'], amountMist: BigInt(i.stakeAmountMist) } }
      : {}),
    adminApproved: i.adminApproved === true,
  };
}

function tokenFromItem(i: Item): SealTokenRecord {
  return {
    tokenId: i.tokenId as string,
    stakeId: i.stakeId as string,
    owner: i.owner as string,
    role: i.role as Role,
    permissions: [...((i.permissions as string[] | undefined) ?? [])],
    clusterId: i.clusterId as string,
    expiresAtMs: Number(i.expiresAtMs),
    revoked: i.revoked === true,
    invalidated: i.invalidated === true,
    ...(i.backing && typeof i.backing === 'object' ? { backing: backingFromItem(i.backing as Item) } : {}),
    lastEvent: positionFromItem(i.lastEvent as Item),
  };
}

function nodeFromItem(i: Item): NodeRecord {
  return {
    instanceId: i.instanceId as string,
    stakeId: i.stakeId as string,
    autoScalingGroup: i.autoScalingGroup as string,
    status: i.status as NodeRecord['status'],
    joinedAt: i.joinedAt as string,
    ...(i.goneAt !== undefined ? { goneAt: i.goneAt as string } : {}),
    ...(i.terminationRequestedAt !== undefined ? { terminationRequestedAt: i.terminationRequestedAt as string } : {}),
    ...(i.evictionClaimedAt !== undefined ? { evictionClaimedAt: i.evictionClaimedAt as string } : {}),
    // External nodes (issue 15): without these the indexer would take an operator's machine for an ASG instance.
    ...(i.kind === 'asg' || i.kind === 'external' ? { kind: i.kind } : {}),
    ...(typeof i.tokenId === 'string' ? { tokenId: i.tokenId } : {}),
    ...(typeof i.requestId === 'string' ? { requestId: i.requestId } : {}),
  };
}
