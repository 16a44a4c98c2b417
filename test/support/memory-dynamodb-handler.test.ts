// The in-memory DynamoDB transport of the SDK benchmark answers like DynamoDB for what it supports, and
// refuses what it does not (so a benchmark cannot silently read nothing).
import { describe, expect, it } from '@jest/globals';
import { DynamoDBClient, GetItemCommand, PutItemCommand, ScanCommand, TransactWriteItemsCommand, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { MemoryDynamoDbHandler } from './memory-dynamodb-handler';

function client(transport: MemoryDynamoDbHandler): DynamoDBClient {
  return new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, requestHandler: transport, maxAttempts: 1 });
}

describe('MemoryDynamoDbHandler', () => {
  it('puts under the condition DynamoDB would check, and gets what was put', async () => {
    const transport = new MemoryDynamoDbHandler();
    const db = client(transport);
    const item = { pk: { S: 'A' }, sk: { S: 'B' }, rev: { N: '1' } };
    await db.send(new PutItemCommand({ TableName: 't', Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
    await expect(db.send(new PutItemCommand({ TableName: 't', Item: item, ConditionExpression: 'attribute_not_exists(pk)' }))).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    await expect(db.send(new PutItemCommand({ TableName: 't', Item: { ...item, rev: { N: '3' } }, ConditionExpression: '#r = :r', ExpressionAttributeNames: { '#r': 'rev' }, ExpressionAttributeValues: { ':r': { N: '2' } } }))).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    await db.send(new PutItemCommand({ TableName: 't', Item: { ...item, rev: { N: '2' } }, ConditionExpression: '#r = :r', ExpressionAttributeNames: { '#r': 'rev' }, ExpressionAttributeValues: { ':r': { N: '1' } } }));
    expect((await db.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'A' }, sk: { S: 'B' } } }))).Item).toEqual({ ...item, rev: { N: '2' } });
    expect((await db.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'A' }, sk: { S: 'C' } } }))).Item).toBeUndefined();
    expect(transport.byOperation).toEqual({ PutItem: 4, GetItem: 2 });
  });

  it('writes a transaction of conditional puts all or nothing, with the cancellation reasons DynamoDB gives', async () => {
    const transport = new MemoryDynamoDbHandler();
    const db = client(transport);
    const put = (pk: string, condition?: { expr: string; rev?: number }) => ({
      Put: {
        TableName: 't', Item: { pk: { S: pk }, sk: { S: 'S' }, rev: { N: '1' } },
        ...(condition ? { ConditionExpression: condition.expr } : {}),
        ...(condition?.rev !== undefined ? { ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': { N: String(condition.rev) } } } : {}),
      },
    });
    await db.send(new TransactWriteItemsCommand({ TransactItems: [put('a', { expr: 'attribute_not_exists(pk)' }), put('b')] }));
    const refused = await db.send(new TransactWriteItemsCommand({ TransactItems: [put('c', { expr: 'attribute_not_exists(pk)' }), put('a', { expr: 'attribute_not_exists(pk)' })] })).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TransactionCanceledException);
    expect((refused as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual(['None', 'ConditionalCheckFailed']);
    // Nothing of the cancelled transaction was written.
    expect((await db.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'c' }, sk: { S: 'S' } } }))).Item).toBeUndefined();
    await db.send(new TransactWriteItemsCommand({ TransactItems: [put('a', { expr: '#rev = :rev', rev: 1 })] }));
  });

  it('refuses operations and conditions it does not implement', async () => {
    const db = client(new MemoryDynamoDbHandler());
    await expect(db.send(new ScanCommand({ TableName: 't' }))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(db.send(new PutItemCommand({ TableName: 't', Item: { pk: { S: 'A' }, sk: { S: 'B' } }, ConditionExpression: 'attribute_exists(pk)' }))).rejects.toMatchObject({ name: 'ValidationException' });
  });
});
