// External node credentials against real Kubernetes (issue 15): the upstream kube-apiserver of the e2e suite,
// authenticating through the real `authenticate` handler (HTTPS, index and webhook secret in moto), and the
// real external join route wired from its environment as on Lambda (its cold-start path, join audience
// included). A join credential — aud k3s-daas-join:<cluster> — sent to the apiserver as a kubectl bearer
// token is refused by the webhook, while a kubectl credential of the same node-tier token is accepted; and
// that kubectl credential is refused at the join route (`wrong_audience`), where the join credential passes
// the credential check.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { handler as authenticate } from '../../lambdas/authenticate/handler';
import { handler as externalJoin } from '../../lambdas/node-external-join/handler';
import { createCredential } from '../../lambdas/shared/credentials/credential';
import { joinAudience } from '../../lambdas/shared/credentials/token-check';
import { DynamoIndexRepository } from '../../lambdas/shared/index/index-repository-dynamodb';
import { createIndexTable, emulatorClient } from '../support/index-table';
import { postEvent } from '../support/token-fixtures';
import { startMoto, type Moto } from '../support/moto';
import { applyRbac, runKubectl, startCluster, type Cluster } from './support/cluster';
import { startLocalApi, type LocalApi } from './support/local-api';
import { createPki } from './support/pki';
import { LocalLedger } from './sandbox/local-ledger';
import { createPerson, installCli, type Person } from './support/users';

const CLUSTER_ID = 'e2e-join-cluster';
const TABLE = 'k3s-daas-index';
const SECRET = 'e2e-join-webhook-secret-0123456789';
const saved = { ...process.env };
// kubectl's words for a 401.
const UNAUTHORIZED = /You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)/;

let dir: string;
let moto: Moto;
let api: LocalApi;
let cluster: Cluster;
let ledger: LocalLedger;
let repo: DynamoIndexRepository;
let operator: Person;

/** A kubeconfig whose user presents `token` as a static bearer token (what a thief of a join credential would do). */
function bearerKubeconfig(name: string, token: string): string {
  const file = path.join(dir, `${name}.kubeconfig`);
  fs.writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server: cluster.serverUrl, 'certificate-authority': cluster.pki.caCert } }],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: 'e2e', user: name } }],
    'current-context': name,
  }), { mode: 0o600 });
  return file;
}

async function credential(aud: string): Promise<string> {
  return (await createCredential(operator.keypair, { tokenId: operator.tokenId, clusterId: aud, lifetimeSeconds: 600 })).credential;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-daas-e2e-join-'));
  moto = await startMoto();
  const db = emulatorClient(moto.endpoint);
  await createIndexTable(db, TABLE);
  repo = new DynamoIndexRepository({ tableName: TABLE, client: db });
  ledger = new LocalLedger();
  const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const { ARN } = await secrets.send(new CreateSecretCommand({ Name: 'webhook', SecretString: SECRET }));
  // Both functions read their settings from the environment at cold start, as on Lambda. The join route's
  // KMS settings are never reached by the requests here (they are refused, or pass only the credential check).
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing',
    TABLE_NAME: TABLE, CLUSTER_ID, SUI_NETWORK: 'testnet', WEBHOOK_SECRET_ARN: ARN, INDEX_MAX_AGE_SECONDS: '300',
    API_URL: 'https://api.e2e.invalid', SERVER_URL: 'https://k3s.e2e.invalid:6443',
    CLUSTER_STATE_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/state', JOIN_TOKEN_KEY_ID: 'arn:aws:kms:us-east-1:123456789012:key/join',
    JOIN_TOKEN_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/join', KUBECONFIG_SIGNING_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/signing',
    ATTESTATION_MAX_AGE_SECONDS: '900',
  });

  const pki = createPki(path.join(dir, 'pki'));
  api = await startLocalApi(pki.leaf('local-api', '/CN=local-api', 'serverAuth'), { '/v1/authenticate': authenticate, '/v1/nodes/external/join': externalJoin });
  cluster = await startCluster({ dir: path.join(dir, 'cluster'), apiUrl: api.url, webhookSecret: SECRET, pki, apiserverEnv: { SSL_CERT_FILE: pki.caCert } });
  await applyRbac(cluster);
  const people = {
    dir, repo, ledger, clusterId: CLUSTER_ID, serverUrl: cluster.serverUrl, caCertPem: fs.readFileSync(pki.caCert, 'utf8'),
    cliBinDir: await installCli(path.join(dir, 'cli')), kubectlPath: cluster.kubectlPath,
  };
  operator = await createPerson(people, 'operator', 'node');
}, 30 * 60_000);

afterAll(async () => {
  await cluster?.stop();
  await api?.close();
  await moto?.stop();
  process.env = saved;
  if (dir && !process.env.K3S_DAAS_E2E_KEEP) fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('join credentials and kubectl credentials never stand in for each other', () => {
  it('a join credential sent as a kubectl bearer token is refused by the real kube-apiserver through the real webhook; a kubectl credential of the same token is accepted', async () => {
    const joinToken = await credential(joinAudience(CLUSTER_ID));
    const refused = await runKubectl(cluster.kubectlPath, ['auth', 'whoami', '-o', 'json'], { kubeconfig: bearerKubeconfig('thief', joinToken) });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(UNAUTHORIZED);
    // The apiserver asked the webhook, which refused it (not a transport failure).
    const review = api.exchanges.filter((e) => e.path === '/v1/authenticate' && e.token === joinToken);
    expect(review.length).toBeGreaterThan(0);
    expect(review.every((e) => e.status === 200 && e.authenticated === false)).toBe(true);

    const kubectlToken = await credential(CLUSTER_ID);
    const accepted = await runKubectl(cluster.kubectlPath, ['auth', 'whoami', '-o', 'json'], { kubeconfig: bearerKubeconfig('operator', kubectlToken) });
    expect(accepted.stderr).toBe('');
    expect(JSON.parse(accepted.stdout).status.userInfo.username).toBe(`sui:${operator.address}`);
  });

  it('the join route (wired from its environment) refuses the kubectl credential (401 wrong_audience) and lets the join credential past the credential check', async () => {
    const ask = async (aud: string) => {
      const res = await externalJoin(postEvent('/v1/nodes/external/join', JSON.stringify({ credential: await credential(aud), requestId: randomBytes(16).toString('base64url') })));
      return { status: res.statusCode, error: JSON.parse(res.body ?? '{}').error as string };
    };
    expect(await ask(CLUSTER_ID)).toEqual({ status: 401, error: 'wrong_audience' });
    // No enclave has attested in this suite: past the credential and capacity checks the route stops there.
    expect(await ask(joinAudience(CLUSTER_ID))).toEqual({ status: 503, error: 'no_attestation' });
  });
});
