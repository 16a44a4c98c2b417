// An AWS SDK `requestHandler` that answers DynamoDB's JSON protocol from a table in memory, in this
// process: no socket, no HTTP server, no emulator. The client in front of it runs everything it runs in
// production (endpoint rules, middleware, signing, retries, serde), so a benchmark through it measures the
// SDK's CPU per request, which moto and the latency proxy cannot isolate (their HTTP is in the figure).
//
// It holds items as the wire carries them (DynamoDB JSON) keyed by `pk`/`sk`, and knows the operations the
// index's token path and its seeding use: GetItem, BatchGetItem, PutItem and TransactWriteItems (Put actions) with the condition forms
// DynamoIndexRepository writes (`attribute_not_exists(pk)`, `#name = :value`), and Query of a GSI with
// `#k = :k AND begins_with(#s, :p)` (one page). Anything else is a 400 error the client raises, so an
// unsupported request cannot pass silently.
import { HttpResponse, type HttpRequest } from '@smithy/protocol-http';

type AttributeValue = Record<string, unknown>;
type WireItem = Record<string, AttributeValue>;

export class MemoryDynamoDbHandler {
  readonly items = new Map<string, WireItem>();
  /** Each item as the wire carries it, serialized when written: a read costs this process no serializing (DynamoDB's work). */
  private readonly wire = new Map<string, string>();
  /** GSI partition (`gsi1pk|<value>`) → keys of the items in it. */
  private readonly partitions = new Map<string, Set<string>>();
  /** Requests answered, by operation (`GetItem`, `BatchGetItem`, `PutItem`, …). */
  byOperation: Record<string, number> = {};

  get requests(): number {
    return Object.values(this.byOperation).reduce((a, b) => a + b, 0);
  }

  resetCounts(): void {
    this.byOperation = {};
  }

  // The client calls these on its handler (node-http-handler's shape); there is nothing to configure.
  updateHttpClientConfig(): void {}
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
  destroy(): void {}

  async handle(request: HttpRequest): Promise<{ response: HttpResponse }> {
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('DynamoDB_20120810.') ? target.slice('DynamoDB_20120810.'.length) : target;
    this.byOperation[operation] = (this.byOperation[operation] ?? 0) + 1;
    const body = request.body as unknown;
    const input = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body as Uint8Array)) as Record<string, unknown>;
    try {
      const output = this.answer(operation, input);
      return { response: response(200, typeof output === 'string' ? output : JSON.stringify(output)) };
    } catch (error) {
      if (error instanceof DynamoError) return { response: failure(error) };
      throw error;
    }
  }

  /** The output object, or its JSON already serialized. */
  /** Stores an item and keeps the GSI partitions it belongs to current. */
  private put(item: WireItem): void {
    const key = keyOf(item);
    const previous = this.items.get(key);
    for (const attr of GSI_KEYS) {
      const before = previous?.[attr]?.S;
      if (typeof before === 'string') this.partitions.get(`${attr}|${before}`)?.delete(key);
      const after = item[attr]?.S;
      if (typeof after === 'string') {
        const partition = `${attr}|${after}`;
        if (!this.partitions.has(partition)) this.partitions.set(partition, new Set());
        this.partitions.get(partition)!.add(key);
      }
    }
    this.items.set(key, item);
    this.wire.set(key, JSON.stringify(item));
  }

  private answer(operation: string, input: Record<string, unknown>): unknown {
    switch (operation) {
      case 'GetItem': {
        const item = this.wire.get(keyOf(input.Key as WireItem));
        return item ? `{"Item":${item}}` : '{}';
      }
      case 'BatchGetItem': {
        const requests = input.RequestItems as Record<string, { Keys: WireItem[] }>;
        const tables = Object.entries(requests).map(([table, { Keys }]) => {
          const found = Keys.flatMap((key) => this.wire.get(keyOf(key)) ?? []);
          return `${JSON.stringify(table)}:[${found.join(',')}]`;
        });
        return `{"Responses":{${tables.join(',')}},"UnprocessedKeys":{}}`;
      }
      case 'PutItem': {
        const item = input.Item as WireItem;
        if (input.ConditionExpression !== undefined && !holds(input, this.items.get(keyOf(item)))) {
          throw new DynamoError('ConditionalCheckFailedException', 'The conditional request failed');
        }
        this.put(item);
        return {};
      }
      case 'TransactWriteItems': {
        // Put actions only (what writeEntities sends), all or nothing, with DynamoDB's cancellation reasons.
        const actions = (input.TransactItems as { Put?: Record<string, unknown> }[]).map((action) => {
          if (!action.Put) throw new DynamoError('ValidationException', 'only Put actions are supported by the in-memory table');
          return action.Put;
        });
        const reasons = actions.map((put) => (put.ConditionExpression === undefined || holds(put, this.items.get(keyOf(put.Item as WireItem))) ? 'None' : 'ConditionalCheckFailed'));
        if (reasons.some((r) => r !== 'None')) {
          throw new DynamoError('TransactionCanceledException', `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.join(', ')}]`, { CancellationReasons: reasons.map((Code) => ({ Code })) });
        }
        for (const put of actions) this.put(put.Item as WireItem);
        return {};
      }
      case 'Query': {
        const expression = String(input.KeyConditionExpression);
        const match = /^(#\w+) = (:\w+) AND begins_with\((#\w+), (:\w+)\)$/.exec(expression);
        const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
        const values = (input.ExpressionAttributeValues ?? {}) as WireItem;
        const keyName = match && names[match[1]];
        const sortName = match && names[match[3]];
        const keyValue = match && values[match[2]]?.S;
        const prefix = match && values[match[4]]?.S;
        if (!keyName || !GSI_KEYS.includes(keyName) || !sortName || typeof keyValue !== 'string' || typeof prefix !== 'string') {
          throw new DynamoError('ValidationException', `query ${expression} is not supported by the in-memory table`);
        }
        const items = [...(this.partitions.get(`${keyName}|${keyValue}`) ?? [])]
          .map((k) => this.items.get(k)!)
          .filter((item) => typeof item[sortName]?.S === 'string' && (item[sortName].S as string).startsWith(prefix));
        return { Items: items, Count: items.length, ScannedCount: items.length };
      }
      default:
        throw new DynamoError('ValidationException', `operation ${operation || '(none)'} is not supported by the in-memory table`);
    }
  }
}

const GSI_KEYS = ['gsi1pk', 'gsi2pk'];

class DynamoError extends Error {
  constructor(readonly type: string, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

function keyOf(item: WireItem): string {
  const pk = item.pk?.S;
  const sk = item.sk?.S;
  if (typeof pk !== 'string' || typeof sk !== 'string') throw new DynamoError('ValidationException', 'the key must be the string attributes pk and sk');
  return `${pk}\u0000${sk}`;
}

function holds(input: Record<string, unknown>, existing: WireItem | undefined): boolean {
  const expression = String(input.ConditionExpression).trim();
  if (expression === 'attribute_not_exists(pk)') return existing === undefined;
  const equality = /^(#\w+) = (:\w+)$/.exec(expression);
  if (!equality) throw new DynamoError('ValidationException', `condition ${expression} is not supported by the in-memory table`);
  const name = (input.ExpressionAttributeNames as Record<string, string> | undefined)?.[equality[1]];
  const value = (input.ExpressionAttributeValues as WireItem | undefined)?.[equality[2]];
  if (name === undefined || value === undefined) throw new DynamoError('ValidationException', `condition ${expression} names an undefined attribute or value`);
  return existing !== undefined && JSON.stringify(existing[name]) === JSON.stringify(value);
}

function failure(error: DynamoError): HttpResponse {
  return response(400, JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${error.type}`, message: error.message, ...error.extra }));
}

function response(statusCode: number, json: string): HttpResponse {
  return new HttpResponse({
    statusCode,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'memory' },
    body: Buffer.from(json),
  });
}
