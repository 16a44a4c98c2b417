// Cold start of a Lambda bundle as CPU time: a fresh Node process imports the bundle and makes one
// handler call, with the function's deployed NODE_OPTIONS; an empty module imported the same way is the
// baseline. CPU (user + system) rather than wall time, medians over fresh processes taken in turns, so
// machine load moves both sides alike. For `npx tsx test/support/cold-start.ts` and the benchmarks; never
// for unit-test assertions (the figures depend on the machine).
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { nodeOptionsFor } from '../../lib/api/domain-function';
import { DynamoIndexRepository } from '../../lambdas/shared/index/index-repository-dynamodb';
import { createIndexTable, emulatorClient } from './index-table';
import { buildLambdaBundles, kib } from './lambda-bundles';
import { startMoto } from './moto-server';
import { CLUSTER_ID, credentialFor, postEvent, stakeRecord, tokenRecord } from './token-fixtures';

export interface ColdStartSpec {
  /** The bundle's entry module; absent for the empty-module baseline. */
  readonly entryFile?: string;
  /** As deployed (`nodeOptionsFor`); '' for none. */
  readonly nodeOptions: string;
  readonly env: Record<string, string>;
  /** Passed to `handler` once after the import; the answer must satisfy `expect` (a wrong setup is no figure). */
  readonly event?: unknown;
  readonly expectInAnswer?: string;
}

export interface ColdStartSample {
  /** CPU of the whole process at the end: Node's own start, the import and the call. */
  readonly processMs: number;
  readonly importMs: number;
  readonly firstCallMs: number;
}

const CHILD = `
const ms = (a, b) => ((b.user - a.user) + (b.system - a.system)) / 1000;
const c0 = process.cpuUsage();
const spec = JSON.parse(process.env.COLD_START_SPEC);
const mod = spec.entryFile ? await import(spec.entryFile) : await import('data:text/javascript,export const x = 1');
const c1 = process.cpuUsage();
if (spec.entryFile && spec.event !== undefined) {
  const answer = JSON.stringify(await mod.handler(spec.event, {}));
  if (spec.expectInAnswer && !answer.includes(spec.expectInAnswer)) throw new Error('unexpected answer: ' + answer.slice(0, 300));
}
const c2 = process.cpuUsage();
process.stdout.write(JSON.stringify({ processMs: (c2.user + c2.system) / 1000, importMs: ms(c0, c1), firstCallMs: ms(c1, c2) }));
`;

/** One fresh process. `nodeBinary`: the Node to measure with (default this one; Lambda runs Node 24). */
export function coldStartOnce(spec: ColdStartSpec, nodeBinary = process.execPath): ColdStartSample {
  const out = execFileSync(nodeBinary, ['--input-type=module', '-e', CHILD], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...spec.env, NODE_OPTIONS: spec.nodeOptions, COLD_START_SPEC: JSON.stringify(spec) },
  });
  return JSON.parse(out) as ColdStartSample;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

export interface ColdStartFigure {
  readonly importMs: number;
  readonly firstCallMs: number;
  /** Process CPU above the empty-module baseline: what the bundle and its first call cost. */
  readonly aboveBaselineMs: number;
  readonly baselineMs: number;
  /** Process CPU as a multiple of the baseline process. */
  readonly ratio: number;
}

/** Medians over `runs` rounds, each round one baseline process and one per spec. */
export function measureColdStarts(specs: readonly ColdStartSpec[], runs = 9, nodeBinary = process.execPath): ColdStartFigure[] {
  const baseline: number[] = [];
  const samples = specs.map(() => [] as ColdStartSample[]);
  for (let round = 0; round < runs; round++) {
    baseline.push(coldStartOnce({ nodeOptions: '', env: {} }, nodeBinary).processMs);
    specs.forEach((spec, i) => samples[i].push(coldStartOnce(spec, nodeBinary)));
  }
  const baselineMs = median(baseline);
  return samples.map((s) => {
    const processMs = median(s.map((x) => x.processMs));
    return {
      importMs: median(s.map((x) => x.importMs)),
      firstCallMs: median(s.map((x) => x.firstCallMs)),
      aboveBaselineMs: processMs - baselineMs,
      baselineMs,
      ratio: processMs / baselineMs,
    };
  });
}

/**
 * The authenticate function's cold start against moto: a real index table holding one valid token and
 * its stake, a fresh cursor and the webhook secret; the call is an authenticated TokenReview.
 */
export async function authenticateColdStart(opts: { runs?: number; nodeBinary?: string } = {}): Promise<{ bytes: number; figure: ColdStartFigure }> {
  const [bundle] = buildLambdaBundles(['authenticate']);
  const moto = await startMoto();
  try {
    const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
    const dynamo = emulatorClient(moto.endpoint);
    await createIndexTable(dynamo, 'index');
    const repo = new DynamoIndexRepository({ tableName: 'index', client: dynamo });
    await repo.writeEntities([{ kind: 'token', record: tokenRecord('user'), expectedRev: 0 }, { kind: 'stake', record: stakeRecord('user'), expectedRev: 0 }]);
    const now = Date.now();
    await repo.putCursor({ cursor: 'cold-start', checkpoint: 1n, eventsSeen: 0, updatedAt: new Date(now).toISOString(), coveredThroughMs: now + 3_600_000 }, await repo.getCursor());
    const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials });
    const secretArn = (await secrets.send(new CreateSecretCommand({ Name: 'webhook', SecretString: 'webhook-secret' }))).ARN!;
    const review = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: await credentialFor('user', { now: new Date(now) }) } };
    const spec: ColdStartSpec = {
      entryFile: bundle.entryFile,
      nodeOptions: nodeOptionsFor('authenticate') ?? '',
      env: {
        AWS_ENDPOINT_URL: moto.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        TABLE_NAME: 'index', CLUSTER_ID, SUI_NETWORK: 'testnet', INDEX_MAX_AGE_SECONDS: '300', WEBHOOK_SECRET_ARN: secretArn,
        POWERTOOLS_SERVICE_NAME: 'authenticate',
      },
      event: postEvent('/v1/authenticate', JSON.stringify(review), { authorization: 'Bearer webhook-secret' }),
      expectInAnswer: '\\"authenticated\\":true',
    };
    const [figure] = measureColdStarts([spec], opts.runs, opts.nodeBinary);
    return { bytes: bundle.coldStartBytes, figure };
  } finally {
    await moto.stop();
  }
}

// `npx tsx test/support/cold-start.ts` (NODE_BIN=<node 24> to measure with the Lambda runtime's Node).
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const { bytes, figure } = await authenticateColdStart({ runs: Number(process.env.RUNS ?? 9), nodeBinary: process.env.NODE_BIN });
  console.log(`authenticate (${kib(bytes)} at cold start): import ${figure.importMs.toFixed(0)} ms + first call ${figure.firstCallMs.toFixed(0)} ms CPU; ` +
    `${figure.aboveBaselineMs.toFixed(0)} ms above an empty module (${figure.baselineMs.toFixed(0)} ms), ${figure.ratio.toFixed(1)}× its process CPU`);
}
