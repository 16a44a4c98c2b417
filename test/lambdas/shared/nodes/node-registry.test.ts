// Node registry against moto's DynamoDB: departure races with admission. The registry reads the node and
// then writes conditionally; these tests make the other writer act exactly between that read and write.
import { afterAll, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { PutItemCommand, TransactWriteItemsCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeRegistry } from '../../../../lambdas/shared/nodes/node-registry';
import { describeWithMoto, startMoto, type Moto } from '../../../support/moto';
import { clients, createIndexTable, opaquePoolEntry } from '../../../support/worker-fixtures';

const TABLE = 'index';
const GROUP = 'k3s-daas-test-workers-general';
const STAKE = '0x' + '0'.repeat(63) + 'c';
const INSTANCE = 'i-0123456789abcdef0';

let moto: Moto;
let db: DynamoDBClient;
let registry: NodeRegistry;

/** A client that runs `interleave` once, just before the first command `matches` selects is sent. */
function interleavingClient(matches: (command: unknown) => boolean, interleave: () => Promise<void>): DynamoDBClient {
  let done = false;
  return {
    send: async (command: unknown) => {
      if (!done && matches(command)) {
        done = true;
        await interleave();
      }
      return db.send(command as never);
    },
  } as unknown as DynamoDBClient;
}

const admission = { instanceId: INSTANCE, stakeId: STAKE, autoScalingGroup: GROUP, maxNodes: 3n };
const departure = { instanceId: INSTANCE, stakeId: STAKE, autoScalingGroup: GROUP };

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  db = clients(moto.endpoint).db;
  registry = new NodeRegistry(db, TABLE);
  await createIndexTable(db, TABLE);
});

describeWithMoto('NodeRegistry.markGone', () => {
  it('marks gone and frees the slot of a node admitted between its read and its write', async () => {
    const racing = new NodeRegistry(
      interleavingClient(
        (command) => command instanceof PutItemCommand && command.input.Item?.status?.S === 'gone',
        async () => {
          expect(await registry.admit({ ...admission, token: await opaquePoolEntry(registry), now: new Date() })).toEqual({ admitted: true });
        },
      ),
      TABLE,
    );
    expect(await racing.markGone({ ...departure, now: new Date() })).toBe(true);
    expect(await registry.getNode(INSTANCE)).toMatchObject({ status: 'gone', stakeId: STAKE });
    expect(await registry.joinedCount(STAKE)).toBe(0n);
  });

  it('reports "already gone" without touching the count when a concurrent delivery marked it first', async () => {
    expect(await registry.admit({ ...admission, token: await opaquePoolEntry(registry), now: new Date() })).toEqual({ admitted: true });
    const racing = new NodeRegistry(
      interleavingClient(
        (command) => command instanceof TransactWriteItemsCommand,
        async () => {
          expect(await registry.markGone({ ...departure, now: new Date() })).toBe(true);
        },
      ),
      TABLE,
    );
    expect(await racing.markGone({ ...departure, now: new Date() })).toBe(false);
    expect(await registry.getNode(INSTANCE)).toMatchObject({ status: 'gone' });
    expect(await registry.joinedCount(STAKE)).toBe(0n);
  });

  it('never lets a departed instance join again', async () => {
    expect(await registry.markGone({ ...departure, now: new Date() })).toBe(true);
    expect(await registry.admit({ ...admission, token: await opaquePoolEntry(registry), now: new Date() })).toEqual({ admitted: false, reason: 'already_joined' });
    expect(await registry.joinedCount(STAKE)).toBe(0n);
  });
});
