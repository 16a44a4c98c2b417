// The K3s server configuration inside the enclave (DESIGN §8): no agent (workers are separate
// machines), kube-apiserver authenticating bearer tokens through the platform's TokenReview webhook
// (`POST <api>/v1/authenticate`, v1, cache TTL ≤ 25 s: with the token checker's 5 s decision cache a
// revocation lands within the documented 30 s, revocation-bound.ts), the NLB name in
// the serving certificate, embedded etcd (for `etcd-snapshot`), and the RBAC manifests of the
// `k3s-daas:` groups auto-deployed from the manifests directory.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { MAX_WEBHOOK_CACHE_TTL_SECONDS } from '../../../lambdas/shared/credentials/revocation-bound';

/** The apiserver's webhook cache: the revocation bound less the checker's own decision cache. */
export const WEBHOOK_CACHE_TTL_SECONDS = MAX_WEBHOOK_CACHE_TTL_SECONDS;

export interface K3sPaths {
  configFile: string;
  webhookConfigFile: string;
  dataDir: string;
}

export const DEFAULT_PATHS: K3sPaths = {
  configFile: '/etc/rancher/k3s/config.yaml',
  webhookConfigFile: '/etc/rancher/k3s/authn-webhook.yaml',
  dataDir: '/var/lib/rancher/k3s',
};

export interface K3sServerSettings {
  /** Base URL of the platform API, e.g. `https://abc123.execute-api.us-east-1.amazonaws.com/`. */
  apiUrl: string;
  webhookSecret: string;
  /** Extra names in the apiserver certificate (the NLB DNS name). */
  tlsSans: string[];
  serverToken: string;
  agentToken: string;
  webhookCacheTtlSeconds?: number;
}

export class K3sConfigError extends Error {}

/** `<api>/v1/authenticate`, keeping any stage path of the base URL. */
export function authenticateUrl(apiUrl: string): string {
  let base: URL;
  try {
    base = new URL(apiUrl);
  } catch {
    throw new K3sConfigError(`API URL ${JSON.stringify(apiUrl)} is not a URL`);
  }
  if (base.protocol !== 'https:') throw new K3sConfigError(`API URL ${apiUrl} must be https`);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return new URL('v1/authenticate', base).toString();
}

export function renderWebhookKubeconfig(apiUrl: string, webhookSecret: string): string {
  if (!/^[!-~]{16,}$/.test(webhookSecret)) throw new K3sConfigError('webhook secret must be at least 16 printable characters');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'k3s-daas-authenticate', cluster: { server: authenticateUrl(apiUrl) } }],
    users: [{ name: 'kube-apiserver', user: { token: webhookSecret } }],
    contexts: [{ name: 'webhook', context: { cluster: 'k3s-daas-authenticate', user: 'kube-apiserver' } }],
    'current-context': 'webhook',
  });
}

export function renderServerConfig(settings: K3sServerSettings, paths: K3sPaths = DEFAULT_PATHS): string {
  const ttl = settings.webhookCacheTtlSeconds ?? WEBHOOK_CACHE_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_WEBHOOK_CACHE_TTL_SECONDS) {
    throw new K3sConfigError(`webhook cache TTL ${ttl}s must be 1..${MAX_WEBHOOK_CACHE_TTL_SECONDS} s`);
  }
  for (const san of settings.tlsSans) {
    if (!/^[a-zA-Z0-9.-]{1,253}$/.test(san)) throw new K3sConfigError(`tls-san ${JSON.stringify(san)} is not a DNS name or IP`);
  }
  return stringify({
    'disable-agent': true,
    'cluster-init': true,
    'data-dir': paths.dataDir,
    token: settings.serverToken,
    'agent-token': settings.agentToken,
    'tls-san': settings.tlsSans,
    'write-kubeconfig-mode': '0600',
    // Nothing in the enclave serves ingress or load balancers; workers run those.
    disable: ['traefik', 'servicelb'],
    'kube-apiserver-arg': [
      `authentication-token-webhook-config-file=${paths.webhookConfigFile}`,
      'authentication-token-webhook-version=v1',
      `authentication-token-webhook-cache-ttl=${ttl}s`,
      'anonymous-auth=false',
    ],
  });
}

/** Where K3s auto-applies manifests from. */
export function manifestsDir(paths: K3sPaths = DEFAULT_PATHS): string {
  return path.join(paths.dataDir, 'server', 'manifests');
}

/** Writes both files (mode 0600: they hold the tokens and the webhook secret) and copies the RBAC manifests. */
export async function writeK3sConfig(settings: K3sServerSettings, rbacDir: string, paths: K3sPaths = DEFAULT_PATHS): Promise<string[]> {
  await fs.mkdir(path.dirname(paths.configFile), { recursive: true, mode: 0o700 });
  await fs.mkdir(path.dirname(paths.webhookConfigFile), { recursive: true, mode: 0o700 });
  await fs.writeFile(paths.webhookConfigFile, renderWebhookKubeconfig(settings.apiUrl, settings.webhookSecret), { mode: 0o600 });
  await fs.writeFile(paths.configFile, renderServerConfig(settings, paths), { mode: 0o600 });
  const target = manifestsDir(paths);
  await fs.mkdir(target, { recursive: true });
  const copied: string[] = [];
  for (const name of (await fs.readdir(rbacDir)).sort()) {
    if (!/\.ya?ml$/.test(name)) continue;
    const dest = path.join(target, `k3s-daas-rbac-${name}`);
    await fs.copyFile(path.join(rbacDir, name), dest);
    copied.push(dest);
  }
  if (copied.length === 0) throw new K3sConfigError(`no RBAC manifests in ${rbacDir}: the k3s-daas: groups would have no permissions`);
  return copied;
}

/** /etc/hosts lines sending the regional KMS and the API host to the loopback bridges. */
export function renderHosts(entries: Record<string, string>): string {
  return ['127.0.0.1 localhost', ...Object.entries(entries).map(([host, ip]) => `${ip} ${host}`)].join('\n') + '\n';
}
