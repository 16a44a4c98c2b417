// A real control plane on 127.0.0.1 for the e2e suite and the sandbox: embedded etcd, upstream
// kube-apiserver v1.34.2 with exactly the `kube-apiserver-arg` list and webhook kubeconfig the enclave
// supervisor writes (writeK3sConfig from enclave/src/supervisor/k3s-config.ts) on top of the flags K3s
// sets itself, and the ClusterRole aggregation controller that kube-controller-manager runs in K3s.
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { writeK3sConfig, type K3sPaths, type K3sServerSettings } from '../../../enclave/src/supervisor/k3s-config';
import { createPki, type Pki } from './pki';
import { freePort, pollUntil, startPeer, type Peer } from './processes';

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
export const RBAC_DIR = path.join(REPO_ROOT, 'enclave/rbac');

/** Where build-peers.sh put the binaries for the current sources; fails with the command to run. */
export function peersDir(): string {
  const script = path.join(REPO_ROOT, 'test/e2e/build-peers.sh');
  try {
    return execFileSync('bash', [script, '--print-dir'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('the e2e peers are not built for the current sources: run `bash test/e2e/build-peers.sh` (npm run test:e2e does)');
  }
}

/**
 * The kube-apiserver flags K3s v1.34 sets itself (k3s pkg/daemons/control/server.go, apiServer()) for a
 * server with the defaults the project keeps: Node,RBAC authorization, the NodeRestriction admission
 * plugin, the 10.43.0.0/16 service range, the in-cluster service-account issuer and audiences.
 * Certificates and listen addresses are this run's.
 */
function k3sApiserverFlags(o: { pki: Pki; serving: { cert: string; key: string }; etcdUrl: string; port: number; certDir: string }): Map<string, string> {
  return new Map([
    ['storage-backend', 'etcd3'],
    ['etcd-servers', o.etcdUrl],
    ['cert-dir', o.certDir],
    ['allow-privileged', 'true'],
    ['authorization-mode', 'Node,RBAC'],
    ['enable-admission-plugins', 'NodeRestriction'],
    ['anonymous-auth', 'false'],
    ['profiling', 'false'],
    ['service-cluster-ip-range', '10.43.0.0/16'],
    ['service-node-port-range', '30000-32767'],
    ['service-account-issuer', 'https://kubernetes.default.svc.cluster.local'],
    ['api-audiences', 'https://kubernetes.default.svc.cluster.local,k3s'],
    ['service-account-key-file', o.pki.serviceAccountPub],
    ['service-account-signing-key-file', o.pki.serviceAccountKey],
    ['client-ca-file', o.pki.caCert],
    ['tls-cert-file', o.serving.cert],
    ['tls-private-key-file', o.serving.key],
    ['bind-address', '127.0.0.1'],
    ['advertise-address', '127.0.0.1'],
    ['secure-port', String(o.port)],
    ['enable-aggregator-routing', 'true'],
  ]);
}

/** K3s merges `kube-apiserver-arg` over its own flags: a `name=value` entry replaces the default. */
export function mergeApiserverArgs(k3s: Map<string, string>, extra: string[]): string[] {
  const merged = new Map(k3s);
  for (const arg of extra) {
    const eq = arg.indexOf('=');
    if (eq < 1) throw new Error(`kube-apiserver-arg ${JSON.stringify(arg)} is not name=value`);
    merged.set(arg.slice(0, eq), arg.slice(eq + 1));
  }
  return [...merged].map(([name, value]) => `--${name}=${value}`);
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  readonly serverUrl: string;
  readonly pki: Pki;
  readonly dir: string;
  readonly kubectlPath: string;
  readonly adminKubeconfig: string;
  /** The rendered kube-apiserver arguments, in order. */
  readonly apiserverArgs: string[];
  /** The supervisor's `kube-apiserver-arg` list as rendered. */
  readonly renderedArgs: string[];
  readonly manifestsDir: string;
  readonly peers: Peer[];
  kubectl(args: string[], opts?: { kubeconfig?: string; env?: NodeJS.ProcessEnv; input?: string }): Promise<KubectlResult>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  dir: string;
  /** The local API the webhook kubeconfig points at (`https://127.0.0.1:<port>/`). */
  apiUrl: string;
  webhookSecret: string;
  pki?: Pki;
  /** Environment of kube-apiserver (SSL_CERT_FILE: the roots it trusts for the webhook). */
  apiserverEnv?: NodeJS.ProcessEnv;
}

export function runKubectl(kubectlPath: string, args: string[], opts: { kubeconfig: string; env?: NodeJS.ProcessEnv; input?: string }): Promise<KubectlResult> {
  return new Promise((resolve) => {
    // Asynchronous on purpose: the webhook server may live in this very process.
    const child = execFile(kubectlPath, ['--kubeconfig', opts.kubeconfig, '--request-timeout=60s', ...args],
      { env: { ...(opts.env ?? process.env) }, maxBuffer: 16 * 1024 * 1024, timeout: 180_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

function adminKubeconfigYaml(serverUrl: string, pki: Pki, client: { cert: string; key: string }): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server: serverUrl, 'certificate-authority': pki.caCert } }],
    users: [{ name: 'admin', user: { 'client-certificate': client.cert, 'client-key': client.key } }],
    contexts: [{ name: 'admin', context: { cluster: 'e2e', user: 'admin' } }],
    'current-context': 'admin',
  });
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const bin = peersDir();
  const dir = options.dir;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pki = options.pki ?? createPki(path.join(dir, 'pki'));
  const serving = pki.leaf('apiserver', '/CN=kube-apiserver', 'serverAuth');
  // The K3s admin kubeconfig's identity (system:masters), used to set the cluster up as K3s would.
  const admin = pki.leaf('admin', '/O=system:masters/CN=system:admin', 'clientAuth');

  const paths: K3sPaths = {
    configFile: path.join(dir, 'k3s/config.yaml'),
    webhookConfigFile: path.join(dir, 'k3s/authn-webhook.yaml'),
    dataDir: path.join(dir, 'k3s/data'),
  };
  const settings: K3sServerSettings = {
    apiUrl: options.apiUrl,
    webhookSecret: options.webhookSecret,
    tlsSans: ['127.0.0.1'],
    serverToken: 'e2e-server-token-not-used-by-kube-apiserver',
    agentToken: 'e2e-agent-token-not-used-by-kube-apiserver',
  };
  const copied = await writeK3sConfig(settings, RBAC_DIR, paths);
  const manifestsDir = path.dirname(copied[0]!);
  const rendered = parse(fs.readFileSync(paths.configFile, 'utf8')) as { 'kube-apiserver-arg': string[] };
  const renderedArgs = rendered['kube-apiserver-arg'];

  const peers: Peer[] = [];
  const stop = async () => {
    for (const peer of [...peers].reverse()) await peer.stop();
  };
  try {
    const [etcdClientPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcd = startPeer('etcd', path.join(bin, 'etcd'), ['--data-dir', path.join(dir, 'etcd'), '--listen-client-url', etcdUrl, '--listen-peer-url', `http://127.0.0.1:${etcdPeerPort}`], path.join(dir, 'etcd.log'));
    peers.push(etcd);
    await pollUntil('etcd to be ready', async () => (fs.readFileSync(etcd.logFile, 'utf8').includes('etcd ready') ? true : undefined), { attempts: 600, intervalMs: 500, alive: [etcd] });

    const apiserverArgs = mergeApiserverArgs(k3sApiserverFlags({ pki, serving, etcdUrl, port: apiPort, certDir: path.join(dir, 'apiserver-certs') }), renderedArgs);
    const apiserver = startPeer('kube-apiserver', path.join(bin, 'kube-apiserver'), apiserverArgs, path.join(dir, 'kube-apiserver.log'), {
      env: { ...process.env, ...options.apiserverEnv },
    });
    peers.push(apiserver);
    const serverUrl = `https://127.0.0.1:${apiPort}`;
    const adminKubeconfig = path.join(dir, 'admin.kubeconfig');
    fs.writeFileSync(adminKubeconfig, adminKubeconfigYaml(serverUrl, pki, admin), { mode: 0o600 });
    const kubectlPath = path.join(bin, 'kubectl');
    const kubectl: Cluster['kubectl'] = (args, opts = {}) => runKubectl(kubectlPath, args, { kubeconfig: opts.kubeconfig ?? adminKubeconfig, env: opts.env, input: opts.input });
    // Generous: a cold apiserver on a busy 2-core machine bootstraps its RBAC roles for a while.
    await pollUntil('kube-apiserver /readyz', async () => ((await kubectl(['get', '--raw', '/readyz'])).stdout.trim() === 'ok' ? true : undefined),
      { attempts: 300, intervalMs: 1000, alive: [etcd, apiserver] });

    const aggregator = startPeer('aggregator', path.join(bin, 'aggregator'), ['--kubeconfig', adminKubeconfig], path.join(dir, 'aggregator.log'));
    peers.push(aggregator);
    return { serverUrl, pki, dir, kubectlPath, adminKubeconfig, apiserverArgs, renderedArgs, manifestsDir, peers, kubectl, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `kubectl apply` of the RBAC manifests exactly as the supervisor placed them, then waits for aggregation. */
export async function applyRbac(cluster: Cluster): Promise<void> {
  const applied = await cluster.kubectl(['apply', '-f', cluster.manifestsDir]);
  if (applied.code !== 0) throw new Error(`kubectl apply of the RBAC manifests failed: ${applied.stderr}`);
  // Aggregated roles start empty; the controller fills them from the selected roles.
  for (const role of ['k3s-daas:read', 'k3s-daas:write']) {
    await pollUntil(`aggregated rules of ${role}`, async () => {
      const out = await cluster.kubectl(['get', 'clusterrole', role, '-o', 'json']);
      return out.code === 0 && ((JSON.parse(out.stdout) as { rules?: unknown[] }).rules ?? []).length > 0 ? true : undefined;
    }, { attempts: 120, intervalMs: 1000, alive: cluster.peers });
  }
}
