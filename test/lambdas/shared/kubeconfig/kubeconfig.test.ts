// The kubeconfig holds no secret, parses as a kubeconfig and runs the credential plugin with exactly
// the arguments `k3s-daas credential` takes.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { createHash, X509Certificate } from 'node:crypto';
import { parse } from 'yaml';
import { credentialExecArgs, KubeconfigInputError, renderKubeconfig, type KubeconfigInput } from '../../../../lambdas/shared/kubeconfig/kubeconfig';
import { createClusterCaPem } from '../../../support/cluster-ca';

const TOKEN = '0x' + 'ab'.repeat(32);
const SERVER = 'https://k3s-daas-dev-nlb.elb.us-east-1.amazonaws.com:6443';

describe('renderKubeconfig', () => {
  let caCertPem: string;
  let input: KubeconfigInput;
  beforeAll(async () => {
    caCertPem = await createClusterCaPem();
    const caSha256 = createHash('sha256').update(new X509Certificate(caCertPem).raw).digest('hex');
    input = { clusterId: 'k3s-daas-dev', serverUrl: SERVER, caCertPem, tokenId: TOKEN, attestation: { pcrs: { PCR0: 'aa'.repeat(48) }, timestamp: '2026-11-23T01:00:00.000Z', caSha256 } };
  });

  it('parses with @kubernetes/client-node as one cluster, one exec user, one current context', () => {
    const kc = new KubeConfig();
    kc.loadFromString(renderKubeconfig(input));
    expect(kc.getContexts()).toHaveLength(1);
    expect(kc.getCurrentContext()).toBe('k3s-daas-dev');
    const cluster = kc.getCurrentCluster();
    expect(cluster?.server).toBe(SERVER);
    expect(new X509Certificate(Buffer.from(cluster!.caData!, 'base64').toString('utf8')).raw).toEqual(new X509Certificate(caCertPem).raw);
    const user = kc.getCurrentUser();
    expect(user?.exec).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1',
      command: 'k3s-daas',
      args: ['credential', '--token', TOKEN, '--cluster', 'k3s-daas-dev'],
      interactiveMode: 'Never',
    });
    expect(user?.token).toBeUndefined();
    expect(user?.password).toBeUndefined();
    expect(user?.keyData).toBeUndefined();
  });

  it('exec args are the credential command with the token and cluster', () => {
    expect(credentialExecArgs(TOKEN, 'c1')).toEqual(['credential', '--token', TOKEN, '--cluster', 'c1']);
  });

  it('is byte-for-byte deterministic for the same input', () => {
    expect(renderKubeconfig(input)).toBe(renderKubeconfig(input));
  });

  it('carries the attestation summary as a kubeconfig extension, so the signature covers it', () => {
    const doc = parse(renderKubeconfig(input));
    expect(doc.extensions).toEqual([{ name: 'k3s-daas.io/attestation', extension: input.attestation }]);
  });

  it('refuses a CA that is not the attested one', async () => {
    const other = await createClusterCaPem('other');
    expect(() => renderKubeconfig({ ...input, caCertPem: other })).toThrow(/not the attested CA/);
  });

  it.each([
    ['a bad cluster id', { clusterId: 'Bad Id' }],
    ['a bad token id', { tokenId: '0x1234' }],
    ['a non-https server', { serverUrl: 'http://example.com:6443' }],
    ['a non-URL server', { serverUrl: 'not a url' }],
    ['a CA that is not a certificate', { caCertPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }],
  ])('refuses %s', (_name, override) => {
    expect(() => renderKubeconfig({ ...input, ...override })).toThrow(KubeconfigInputError);
  });
});
