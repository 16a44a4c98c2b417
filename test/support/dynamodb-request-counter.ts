// Counts the DynamoDB requests a client sends, by operation, with an SDK middleware: what tests and
// benchmarks cite as "requests per event" or "round trips per check". Every send counts once (the SDK's
// own retries of a throttled call are not extra requests the code asked for; a resent batch remainder is).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface RequestCounter {
  /** Requests per operation name (`Query`, `BatchGetItem`, `TransactWriteItems`, …). */
  readonly byOperation: Map<string, number>;
  total(): number;
  reset(): void;
}

export function countRequests(client: DynamoDBClient): RequestCounter {
  const byOperation = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName ?? 'unknown').replace(/Command$/, '');
      byOperation.set(name, (byOperation.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'k3sDaasRequestCounter' },
  );
  return {
    byOperation,
    total: () => [...byOperation.values()].reduce((a, b) => a + b, 0),
    reset: () => byOperation.clear(),
  };
}
