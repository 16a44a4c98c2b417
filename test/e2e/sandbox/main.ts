// npm run sandbox: the e2e stack for a person. A real kube-apiserver + etcd on 127.0.0.1 configured as
// the enclave supervisor configures K3s, the real `authenticate` handler behind a local HTTPS API, the
// index in moto, a local ledger read by the real indexer, and a stake + seal token for the person's key.
// Prints a kubeconfig (the project's renderer; exec user = the project's CLI) for `kubectl get ns`.
// Ctrl-C stops every process it started, by PID.
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import type { Keypair } from '@mysten/sui/cryptography';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadKeypair } from '../../../cli/keys';
import { DynamoIndexRepository } from '../../../lambdas/shared/index/index-repository-dynamodb';
import { renderKubeconfig } from '../../../lambdas/shared/kubeconfig/kubeconfig';
import { DEFAULT_MIN_STAKE_MIST, roleToU8, TIER_PERMISSIONS } from '../../../lambdas/shared/sui/roles';
import { createIndexTable, emulatorClient } from '../../support/index-table';
// moto-server, not moto: the sandbox runs outside Jest, and moto.ts imports @jest/globals.
import { startMoto, type Moto } from '../../support/moto-server';
import { applyRbac, peersDir, startCluster, type Cluster } from '../support/cluster';
import { startLocalApi, type LocalApi } from '../support/local-api';
import { createPki } from '../support/pki';
import { installCli } from '../support/users';
import { LocalLedger } from './local-ledger';

const CLUSTER_ID = 'sandbox';
const TABLE = 'k3s-daas-index';
const say = (line = '') => process.stdout.write(`${line}\n`);

async function personKey(): Promise<{ keypair: Keypair; generated: boolean }> {
  try {
    const keypair = await loadKeypair({ out: () => {}, err: () => {}, env: process.env, homeDir: os.homedir(), now: () => new Date(), fetch });
    return { keypair, generated: false };
  } catch {
    return { keypair: Ed25519Keypair.generate(), generated: true };
  }
}

async function main(): Promise<void> {
  say('k3s-daas sandbox — LOCAL ONLY:');
  say('  * the chain is a local ledger in this process: no Sui node, no Move transaction runs; its events are');
  say('    real BCS events that the real indexer reads into the index (moto, the local AWS emulator);');
  say('  * there is no enclave: kube-apiserver runs as a plain local process and the kubeconfig is NOT attested;');
  say('  * everything listens on 127.0.0.1 and stops when you press Ctrl-C.');
  say();
  try {
    peersDir();
  } catch {
    say('The Kubernetes peers are not built yet: building them now (bash test/e2e/build-peers.sh; the first build takes 10-40 minutes on 2 cores).');
    const { status } = (await import('node:child_process')).spawnSync('bash', [path.join(path.dirname(new URL(import.meta.url).pathname), '../build-peers.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (status !== 0) throw new Error('building the peers failed (see above)');
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-daas-sandbox-'));
  let moto: Moto | undefined;
  let api: LocalApi | undefined;
  let cluster: Cluster | undefined;
  let indexerTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (indexerTimer) clearInterval(indexerTimer);
    say('\nstopping: ' + [...(cluster?.peers ?? []).map((p) => `${p.name} (pid ${p.pid})`), moto ? 'moto' : ''].filter(Boolean).join(', '));
    await cluster?.stop();
    await api?.close();
    await moto?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    const { keypair, generated } = await personKey();
    const address = keypair.toSuiAddress();

    moto = await startMoto();
    const db = emulatorClient(moto.endpoint);
    await createIndexTable(db, TABLE);
    const secret = randomBytes(24).toString('hex');
    const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const { ARN } = await secrets.send(new CreateSecretCommand({ Name: 'webhook', SecretString: secret }));
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing',
      TABLE_NAME: TABLE, CLUSTER_ID, SUI_NETWORK: 'testnet', WEBHOOK_SECRET_ARN: ARN, POWERTOOLS_LOG_LEVEL: 'WARN',
      // The deployed default bound; the indexer below runs every 10 s, so the index stays well inside it.
      INDEX_MAX_AGE_SECONDS: '300',
    });

    // The person's stake and seal token, as `k3s-daas stake` and `k3s-daas token issue` would emit them.
    const ledger = new LocalLedger();
    const stakeId = `0x${randomBytes(32).toString('hex')}`;
    const tokenId = `0x${randomBytes(32).toString('hex')}`;
    ledger.record([{ name: 'staking::StakeDeposited', data: { stake_id: stakeId, owner: address, role: roleToU8('user'), amount: DEFAULT_MIN_STAKE_MIST.user, node_id: '' } }]);
    ledger.record([{ name: 'seal_token::SealTokenIssued', data: {
      token_id: tokenId, stake_id: stakeId, owner: address, role: roleToU8('user'), permissions: [...TIER_PERMISSIONS.user],
      cluster_id: CLUSTER_ID, expires_at_ms: BigInt(Date.now() + 7 * 86_400_000),
    } }]);
    const repo = new DynamoIndexRepository({ tableName: TABLE, client: db });
    const log = { info() {}, warn: (m: string) => say(`indexer: ${m}`), error: (m: string) => say(`indexer: ${m}`) };
    const indexOnce = () => ledger.index(repo, log);
    await indexOnce();
    // As the EventBridge schedule does, less often than on AWS is not needed here.
    indexerTimer = setInterval(() => void indexOnce().catch((e: unknown) => say(`indexer run failed: ${String(e)}`)), 10_000);

    const pki = createPki(path.join(dir, 'pki'));
    const { handler } = await import('../../../lambdas/authenticate/handler');
    api = await startLocalApi(pki.leaf('local-api', '/CN=local-api', 'serverAuth'), { '/v1/authenticate': handler });
    say('starting etcd and kube-apiserver (a minute or two on a busy machine)…');
    cluster = await startCluster({ dir: path.join(dir, 'cluster'), apiUrl: api.url, webhookSecret: secret, pki, apiserverEnv: { SSL_CERT_FILE: pki.caCert } });
    await applyRbac(cluster);

    const binDir = await installCli(path.join(dir, 'cli'));
    fs.symlinkSync(cluster.kubectlPath, path.join(binDir, 'kubectl'));
    const caCertPem = fs.readFileSync(pki.caCert, 'utf8');
    const kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(kubeconfig, renderKubeconfig({
      clusterId: CLUSTER_ID, serverUrl: cluster.serverUrl, caCertPem, tokenId,
      attestation: { pcrs: {}, timestamp: new Date().toISOString(), caSha256: createHash('sha256').update(new X509Certificate(caCertPem).raw).digest('hex') },
    }), { mode: 0o600 });

    say();
    say(`Sandbox ready. Your address ${address} (${generated ? 'a key generated for this sandbox' : 'your key'}) holds`);
    say(`  user-tier stake ${stakeId}`);
    say(`  seal token      ${tokenId}`);
    say('In another shell:');
    say(`  export PATH='${binDir}':"$PATH"   # k3s-daas (the credential plugin) and kubectl v1.34`);
    say(`  export KUBECONFIG='${kubeconfig}'`);
    if (generated) say(`  export SUI_PRIVATE_KEY='${keypair.getSecretKey()}'   # sandbox key, nothing else uses it`);
    say('  kubectl get ns                      # allowed: the user tier reads');
    say('  kubectl create namespace demo       # refused: the user tier cannot write');
    say('  kubectl auth whoami');
    say();
    say('The kubeconfig:');
    say(fs.readFileSync(kubeconfig, 'utf8'));
    say('Press Ctrl-C to stop.');
  } catch (error) {
    say(`sandbox: ${error instanceof Error ? error.message : String(error)}`);
    await stop(1);
  }
}

void main();
