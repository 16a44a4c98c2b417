// The crash-and-resume guarantee against DynamoDB (moto) rather than the in-memory repository: the
// conditional puts, GSI lookups and conditional cursor of the real implementation give the same index
// as one clean run, and terminations stay exactly once.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { DynamoIndexRepository } from '../../../lambdas/shared/index/index-repository-dynamodb';
import { generateHistory, prng } from '../../support/event-history';
import { createIndexTable, emulatorClient } from '../../support/index-table';
import { createHarness, FaultPlan, InjectedFault } from '../../support/indexer-harness';
import { describeWithMoto, startMoto, type Moto } from '../../support/moto';

let moto: Moto;
let seq = 0;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

async function dynamoRepo() {
  const client = emulatorClient(moto.endpoint);
  const tableName = `crash-${++seq}`;
  await createIndexTable(client, tableName);
  return new DynamoIndexRepository({ tableName, client });
}

describeWithMoto('indexer against DynamoDB (moto)', () => {
  const history = generateHistory({ seed: 11, transactions: 80 });
  const node = { scanLimit: 9, maxLimit: 10 };

  it('resumes after faults at 8 random points to the clean-run index with exactly-once terminations', async () => {
    expect(history.expectedTerminations.length).toBeGreaterThan(0);
    expect(history.counts['staking::MinStakeChanged']).toBeGreaterThan(0);
    const clean = await createHarness(history, { repo: await dynamoRepo(), node });
    await clean.runUntilCaughtUp({ pageLimit: 10 });
    const read = async (h: typeof clean) => ({
      stakes: await Promise.all([...history.expected.stakes.keys()].map((s) => h.repo.getStake(s))),
      tokens: await Promise.all([...history.expected.tokens.keys()].map((t) => h.repo.getToken(t))),
      nodes: await Promise.all(history.nodes.map((n) => h.repo.getNode(n.instanceId))),
      minStakes: await h.repo.getMinStakes(['user', 'node', 'admin']),
      admins: await h.repo.getAdmins([...history.expected.admins.keys()]),
      cursor: await h.repo.getCursor(),
    });
    const reference = await read(clean);
    const counter = new FaultPlan();
    await (await createHarness(history, { node })).run({ pageLimit: 10 }, counter);
    const rnd = prng(4);
    for (let i = 0; i < 8; i++) {
      const failAt = 1 + Math.floor(rnd() * counter.points);
      const h = await createHarness(history, { repo: await dynamoRepo(), node });
      await expect(h.run({ pageLimit: 10 }, new FaultPlan(failAt))).rejects.toBeInstanceOf(InjectedFault);
      await h.runUntilCaughtUp({ pageLimit: 10 });
      expect({ failAt, index: await read(h) }).toEqual({ failAt, index: reference });
      const counts = h.ec2.terminationCounts();
      expect({ failAt, terminated: [...counts.keys()].sort(), max: Math.max(0, ...counts.values()) })
        .toEqual({ failAt, terminated: history.expectedTerminations, max: history.expectedTerminations.length ? 1 : 0 });
    }
  });
});
