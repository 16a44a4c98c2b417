// Creates the index table in a local emulator with the same keys and GSIs as the State stack's table.
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TABLE_INDEXES } from '../../lambdas/shared/index/index-model';

export async function createIndexTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const projection = { ProjectionType: 'ALL' as const };
  await client.send(new CreateTableCommand({
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi2pk'].map((name) => ({ AttributeName: name, AttributeType: 'S' as const })),
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    GlobalSecondaryIndexes: [
      { IndexName: TABLE_INDEXES.byOwner, KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }], Projection: projection },
      { IndexName: TABLE_INDEXES.byStake, KeySchema: [{ AttributeName: 'gsi2pk', KeyType: 'HASH' }, { AttributeName: 'pk', KeyType: 'RANGE' }], Projection: projection },
    ],
  }));
}

export function emulatorClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
}
