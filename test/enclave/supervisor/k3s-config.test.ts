import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import {
  K3sConfigError,
  authenticateUrl,
  renderHosts,
  renderServerConfig,
  renderWebhookKubeconfig,
  writeK3sConfig,
  type K3sPaths,
} from '../../../enclave/src/supervisor/k3s-config';
import { REPO_ROOT } from '../../support/cdk-app';

const SETTINGS = {
  apiUrl: 'https://abc123.execute-api.us-east-1.amazonaws.com/',
  webhookSecret: 'w'.repeat(48),
  tlsSans: ['k3s-daas-dev-nlb-0123456789.elb.us-east-1.amazonaws.com'],
  serverToken: 'a'.repeat(64),
  agentToken: 'b'.repeat(64),
};

describe('K3s server config', () => {
  const config = parse(renderServerConfig(SETTINGS));

  it('runs the server without an agent, with embedded etcd (needed for etcd-snapshot)', () => {
    expect(config['disable-agent']).toBe(true);
    expect(config['cluster-init']).toBe(true);
  });

  it('sets exactly the reviewed options: no debug, no extra listeners or auth modes slipped in', () => {
    expect(Object.keys(config).sort()).toEqual(['agent-token', 'cluster-init', 'data-dir', 'disable', 'disable-agent', 'kube-apiserver-arg', 'tls-san', 'token', 'write-kubeconfig-mode']);
    expect(renderServerConfig(SETTINGS)).not.toMatch(/debug|v=\d|insecure|anonymous-auth=true/);
  });

  it('passes the webhook flags to kube-apiserver with K3s spelling (kube-apiserver-arg, no leading dashes)', () => {
    expect(config['kube-apiserver-arg']).toEqual([
      'authentication-token-webhook-config-file=/etc/rancher/k3s/authn-webhook.yaml',
      'authentication-token-webhook-version=v1',
      'authentication-token-webhook-cache-ttl=25s',
      'anonymous-auth=false',
    ]);
  });

  it('puts the NLB name in the serving certificate and the sealed tokens in the config', () => {
    expect(config['tls-san']).toEqual(SETTINGS.tlsSans);
    expect(config.token).toBe(SETTINGS.serverToken);
    expect(config['agent-token']).toBe(SETTINGS.agentToken);
  });

  it('refuses a webhook cache TTL over 25 s (with the checker\'s decision cache, revocation lands within the indexer interval + 30 s)', () => {
    // 25 s + the token checker's 5 s decision cache = the documented 30 s revocation bound.
    expect(() => renderServerConfig({ ...SETTINGS, webhookCacheTtlSeconds: 26 })).toThrow(/1..25 s/);
    expect(parse(renderServerConfig({ ...SETTINGS, webhookCacheTtlSeconds: 10 }))['kube-apiserver-arg']).toContain('authentication-token-webhook-cache-ttl=10s');
  });

  it('refuses a tls-san that could inject YAML or flags', () => {
    expect(() => renderServerConfig({ ...SETTINGS, tlsSans: ['a b'] })).toThrow(K3sConfigError);
  });
});

describe('webhook kubeconfig', () => {
  it('points at <api>/v1/authenticate and sends the bearer secret', () => {
    const kubeconfig = parse(renderWebhookKubeconfig(SETTINGS.apiUrl, SETTINGS.webhookSecret));
    expect(kubeconfig.clusters[0].cluster.server).toBe('https://abc123.execute-api.us-east-1.amazonaws.com/v1/authenticate');
    expect(kubeconfig.users[0].user.token).toBe(SETTINGS.webhookSecret);
    expect(kubeconfig['current-context']).toBe('webhook');
    expect(kubeconfig.contexts[0].context).toEqual({ cluster: 'k3s-daas-authenticate', user: 'kube-apiserver' });
  });

  it('keeps a stage path with or without a trailing slash, and requires https', () => {
    expect(authenticateUrl('https://api.example.com/prod')).toBe('https://api.example.com/prod/v1/authenticate');
    expect(authenticateUrl('https://api.example.com')).toBe('https://api.example.com/v1/authenticate');
    expect(() => authenticateUrl('http://api.example.com/')).toThrow(/must be https/);
    expect(() => authenticateUrl('not a url')).toThrow(/is not a URL/);
  });

  it('refuses a short or multi-line webhook secret', () => {
    expect(() => renderWebhookKubeconfig(SETTINGS.apiUrl, 'short')).toThrow(/at least 16/);
    expect(() => renderWebhookKubeconfig(SETTINGS.apiUrl, 'x'.repeat(20) + '\nfoo')).toThrow(K3sConfigError);
  });
});

describe('writing the files', () => {
  function tempPaths(): { dir: string; paths: K3sPaths; rbac: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-config-'));
    const rbac = path.join(dir, 'rbac');
    fs.mkdirSync(rbac);
    return { dir, rbac, paths: { configFile: path.join(dir, 'etc/config.yaml'), webhookConfigFile: path.join(dir, 'etc/authn.yaml'), dataDir: path.join(dir, 'data') } };
  }

  it('writes config and webhook file readable by the owner only and installs the RBAC manifests for auto-deploy', async () => {
    const { rbac, paths } = tempPaths();
    fs.writeFileSync(path.join(rbac, 'roles.yaml'), 'kind: ClusterRole\n');
    fs.writeFileSync(path.join(rbac, 'README.md'), 'not a manifest');
    const copied = await writeK3sConfig(SETTINGS, rbac, paths);
    expect(copied).toEqual([path.join(paths.dataDir, 'server/manifests/k3s-daas-rbac-roles.yaml')]);
    expect(fs.statSync(paths.configFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(paths.webhookConfigFile).mode & 0o777).toBe(0o600);
    expect(parse(fs.readFileSync(paths.configFile, 'utf8'))['kube-apiserver-arg'][0]).toBe(`authentication-token-webhook-config-file=${paths.webhookConfigFile}`);
  });

  it('installs the repository\'s RBAC manifests (enclave/rbac) the image ships', async () => {
    const { paths } = tempPaths();
    const rbacDir = path.join(REPO_ROOT, 'enclave', 'rbac');
    const shipped = fs.readdirSync(rbacDir).filter((f) => /\.ya?ml$/.test(f));
    expect(shipped.length).toBeGreaterThan(0);
    const copied = await writeK3sConfig(SETTINGS, rbacDir, paths);
    expect(copied.map((f) => path.basename(f))).toEqual(shipped.sort().map((f) => `k3s-daas-rbac-${f}`));
  });

  it('fails when there are no RBAC manifests (the k3s-daas: groups would have no permissions)', async () => {
    const { rbac, paths } = tempPaths();
    await expect(writeK3sConfig(SETTINGS, rbac, paths)).rejects.toThrow(/no RBAC manifests/);
  });
});

describe('/etc/hosts for the loopback bridges', () => {
  it('maps each remote host to its bridge address', () => {
    expect(renderHosts({ 'kms.us-east-1.amazonaws.com': '127.0.0.2' })).toBe('127.0.0.1 localhost\n127.0.0.2 kms.us-east-1.amazonaws.com\n');
  });
});
