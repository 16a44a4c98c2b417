// Counts the requests a DynamoDB client sends, by command, for tests and benchmarks that hold the token
// path to its budget (issue 16: 1 request per uncached check, 0 per hot one). Counted at the deserialize
// step, the innermost one, so every HTTP attempt counts, retries included. The document client built on
// the client (index-repository-dynamodb.ts) shares its middleware stack, so its commands count too.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface RequestCounter {
  /** Requests sent since the counter was attached or last reset. */
  readonly total: number;
  /** The same, by command name (`GetItemCommand`, `BatchGetItemCommand`, …). */
  readonly byCommand: Readonly<Record<string, number>>;
  reset(): void;
}

export function countRequests(client: DynamoDBClient): RequestCounter {
  // A client that caches each command's handler on its first send would not see a counter added later.
  if ((client.config as { cacheMiddleware?: boolean }).cacheMiddleware === true) {
    throw new Error('countRequests: the client reuses command handlers (cacheMiddleware), so a counter added now may miss requests; count at its request handler');
  }
  let byCommand: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? 'unknown';
      byCommand[name] = (byCommand[name] ?? 0) + 1;
      return next(args);
    },
    { step: 'deserialize', name: 'k3sDaasRequestCounter', override: true },
  );
  return {
    get total() {
      return Object.values(byCommand).reduce((a, b) => a + b, 0);
    },
    get byCommand() {
      return { ...byCommand };
    },
    reset() {
      byCommand = {};
    },
  };
}
