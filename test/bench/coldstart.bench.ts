// Cold start of every Lambda (issue 16 item 1): each handler bundled with the deployed esbuild settings
// (test/support/lambda-bundles.ts: the one esbuild call DomainFunction deploys), run in a fresh Node process with the Node options and environment the
// CDK app deploys (prod), against moto for AWS. CPU of that process (process.cpuUsage), median of fresh
// processes; the baseline is the same process importing an empty module (Node's own start).
//   coldstart_empty_process_cpu_ms           baseline: Node start with the deployed options + an empty module
//   coldstart_<fn>_bundle_kb / _lazy_kb / _map_kb   what a cold start loads in KB of 1,000 bytes (entry + static chunks, SDK
//                                            inside), the import()-only chunks, and the source maps (none
//                                            on authenticate and tokens-validate)
//   coldstart_<fn>_import_cpu_ms             importing the bundle (the AWS SDK resolves from node_modules,
//                                            as the runtime's own copy would)
//   coldstart_<fn>_first_call_cpu_ms         the first invocation: clients built, the first AWS calls made
//   coldstart_<fn>_ratio                     (import + first call) / the empty process
//   coldstart_<fn>_first_call                the first call's answer; functions without a local stand-in for
//                                            what their first call needs say so, and report the import only
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DynamoIndexRepository } from '../../lambdas/shared/index/index-repository-dynamodb';
import { REPO_ROOT } from '../support/cdk-app';
import { createIndexTable, emulatorClient } from '../support/index-table';
import { deployedFunctions, type DeployedFunction } from '../support/deployed-functions';
import { buildLambdaBundles, lambdaHandlerNames } from '../support/lambda-bundles';
import { startMoto } from '../support/moto-server';
import { ensureTestTools } from '../support/test-tools';
import { postEvent } from '../support/token-fixtures';
import { credentialsFor, eventsFor, makeUsers, seedIndex } from './fixtures';
import { report, type BenchOptions } from './measure';

const run$ = promisify(execFile);
const TABLE = 'bench-coldstart';
const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789abcdef';

// Runs in the child: CPU at start (Node's boot), after the import, after the first call.
const RUNNER = `
import * as fs from 'node:fs';
const [modulePath, eventPath] = process.argv.slice(2);
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
const boot = cpu();
const mod = await import(modulePath);
const imported = cpu();
let outcome = 'not called';
if (eventPath) {
  const res = await mod.handler(JSON.parse(fs.readFileSync(eventPath, 'utf8')), { getRemainingTimeInMillis: () => 10000, awsRequestId: 'bench' });
  let body = {};
  try { body = JSON.parse(res?.body ?? '{}'); } catch {}
  outcome = String(res?.statusCode ?? res?.outcome ?? 'returned')
    + (body.status?.authenticated !== undefined ? ' authenticated=' + body.status.authenticated : '')
    + (body.valid !== undefined ? ' valid=' + body.valid : '')
    + (res?.statusCode >= 400 ? ' ' + String(res.body).slice(0, 160) : '');
}
const called = cpu();
process.stdout.write('\\nBENCH_RESULT ' + JSON.stringify({ boot, importUs: imported - boot, firstCallUs: called - imported, outcome }) + '\\n');
`;

interface ChildResult {
  boot: number;
  importUs: number;
  firstCallUs: number;
  outcome: string;
}

async function runChild(runner: string, module: string, eventFile: string | undefined, env: Record<string, string>): Promise<ChildResult> {
  const { stdout } = await run$(process.execPath, [runner, module, ...(eventFile ? [eventFile] : [])], { env, maxBuffer: 16 * 2 ** 20 });
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (!line) throw new Error(`cold-start child printed no result for ${module}:\n${stdout.slice(-2000)}`);
  return JSON.parse(line.slice('BENCH_RESULT '.length)) as ChildResult;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A deployed variable whose value the template computes gets a local stand-in; literal values stay as deployed. */
function localEnvironment(fn: DeployedFunction, local: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(fn.environment)) {
    if (name in local) env[name] = local[name];
    else if (typeof value === 'string') env[name] = value;
    else if (name.endsWith('_URL')) env[name] = 'https://bench.invalid';
    else env[name] = `arn:aws:kms:us-east-1:123456789012:key/bench-${name.toLowerCase()}`;
  }
  return env;
}

export async function run({ smoke }: BenchOptions): Promise<void> {
  const tools = await ensureTestTools((line) => console.error(line));
  if (!tools.moto.ok) {
    report('coldstart_bench', `unavailable (moto: ${tools.moto.reason})`);
    return;
  }
  const runs = smoke ? 1 : 5;
  const deployed = new Map(deployedFunctions('prod').map((f) => [f.handlerName, f]));
  const names = lambdaHandlerNames().filter((n) => !smoke || n === 'authenticate');
  const dir = fs.mkdtempSync(path.join(REPO_ROOT, 'node_modules', '.k3s-daas-bench-'));
  const moto = await startMoto();
  try {
    const runner = path.join(dir, 'runner.mjs');
    fs.writeFileSync(runner, RUNNER);
    const empty = path.join(dir, 'empty.mjs');
    fs.writeFileSync(empty, '');

    // The first calls of the credential routes check a real credential against a seeded index.
    const auth = deployed.get('authenticate');
    const clusterId = typeof auth?.environment.CLUSTER_ID === 'string' ? auth.environment.CLUSTER_ID : 'bench-cluster';
    const direct = emulatorClient(moto.endpoint);
    await createIndexTable(direct, TABLE);
    const users = makeUsers(1);
    await seedIndex(new DynamoIndexRepository({ tableName: TABLE, client: direct }), eventsFor(users, clusterId), Date.now());
    const [credential] = await credentialsFor(users, new Date(), clusterId);
    const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const { ARN } = await secrets.send(new CreateSecretCommand({ Name: 'bench-coldstart-webhook', SecretString: WEBHOOK_SECRET }));
    const local = { TABLE_NAME: TABLE, WEBHOOK_SECRET_ARN: ARN! };
    const events: Record<string, unknown> = {
      authenticate: postEvent('/v1/authenticate', JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: credential } }), { authorization: `Bearer ${WEBHOOK_SECRET}` }),
      'tokens-validate': postEvent('/v1/tokens/validate', JSON.stringify({ credential })),
      // Answers 503 (no attestation recorded) after checking the credential: clients and index read included.
      kubeconfig: postEvent('/v1/kubeconfig', JSON.stringify({ credential })),
      healthz: { ...postEvent('/healthz', ''), routeKey: 'GET /healthz' },
    };
    // A cheap refusal would flatter the figure: these first calls must succeed.
    const mustAnswer: Record<string, string> = { authenticate: '200 authenticated=true', 'tokens-validate': '200 valid=true', healthz: '200' };
    const noFirstCall: Record<string, string> = {
      attestation: 'needs a Nitro attestation document of a running enclave',
      issuer: 'needs a verified attestation and a KMS signing key',
      'node-join': 'needs an EC2 instance of a worker group (SigV4 caller)',
      'node-lifecycle': 'needs an Auto Scaling lifecycle action',
      indexer: 'needs a Sui full node (gRPC)',
    };
    const baseEnv = {
      PATH: process.env.PATH ?? '', AWS_ENDPOINT_URL: moto.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing',
    };

    const emptyCpu: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await runChild(runner, empty, undefined, { ...baseEnv, NODE_OPTIONS: auth?.nodeOptions ?? '' });
      emptyCpu.push(r.boot + r.importUs);
    }
    const baseline = median(emptyCpu);
    report('coldstart_empty_process_cpu_ms', baseline / 1000, 1);

    for (const name of names) {
      const fn = deployed.get(name);
      if (!fn) {
        report(`coldstart_${name}`, 'not deployed in prod (no function in the synthesized templates)');
        continue;
      }
      const [bundle] = buildLambdaBundles([name], dir);
      const mapBytes = fs.readdirSync(bundle.dir).filter((f) => f.endsWith('.map')).reduce((sum, f) => sum + fs.statSync(path.join(bundle.dir, f)).size, 0);
      // What a cold start loads (entry + static chunks, AWS SDK inside); import()-only chunks apart.
      report(`coldstart_${name}_bundle_kb`, bundle.coldStartBytes / 1000, 1);
      report(`coldstart_${name}_lazy_kb`, bundle.lazyBytes / 1000, 1);
      report(`coldstart_${name}_map_kb`, mapBytes / 1000, 1);
      const eventFile = events[name] ? path.join(dir, `${name}.event.json`) : undefined;
      if (eventFile) fs.writeFileSync(eventFile, JSON.stringify(events[name]));
      const env = { ...baseEnv, ...localEnvironment(fn, local), NODE_OPTIONS: fn.nodeOptions };
      const results: ChildResult[] = [];
      for (let i = 0; i < runs; i++) results.push(await runChild(runner, bundle.entryFile, eventFile, env));
      const wrong = results.find((r) => mustAnswer[name] !== undefined && r.outcome !== mustAnswer[name]);
      if (wrong) throw new Error(`the first call of ${name} answered ${wrong.outcome}, not ${mustAnswer[name]}`);
      const importUs = median(results.map((r) => r.importUs));
      const firstUs = median(results.map((r) => r.firstCallUs));
      report(`coldstart_${name}_import_cpu_ms`, importUs / 1000, 1);
      if (eventFile) {
        report(`coldstart_${name}_first_call_cpu_ms`, firstUs / 1000, 1);
        report(`coldstart_${name}_import_and_first_call_cpu_ms`, (importUs + firstUs) / 1000, 1);
        report(`coldstart_${name}_ratio`, (importUs + firstUs) / baseline, 2);
        report(`coldstart_${name}_first_call`, results[0].outcome);
        // Source maps: authenticate and tokens-validate ship without them (lib/api/lambda-bundle.ts), so
        // there is no source-map cost on the kubectl path left to measure.
      } else {
        report(`coldstart_${name}_ratio`, importUs / baseline, 2);
        report(`coldstart_${name}_first_call`, `not measured: ${noFirstCall[name] ?? 'no local stand-in'}`);
      }
    }
  } finally {
    await moto.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
