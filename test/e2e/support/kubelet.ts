// A kubelet's identity as K3s issues it: a client certificate CN system:node:<name>, O system:nodes, from the
// run's CA, and a kubeconfig presenting it to the run's kube-apiserver.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runKubectl, type Cluster, type KubectlResult } from './cluster';
import type { Pki } from './pki';

export interface KubeletIdentity {
  readonly name: string;
  readonly kubeconfig: string;
  /** The client certificate and key files, for requests kubectl cannot make as a kubelet does. */
  readonly cert: { readonly cert: string; readonly key: string };
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
}

export function kubeletIdentity(cluster: Cluster, pki: Pki, dir: string, name: string): KubeletIdentity {
  const cert = pki.leaf(`kubelet-${name}`, `/O=system:nodes/CN=system:node:${name}`, 'clientAuth');
  const kubeconfig = path.join(dir, `kubelet-${name}.kubeconfig`);
  fs.writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server: cluster.serverUrl, 'certificate-authority': pki.caCert } }],
    users: [{ name, user: { 'client-certificate': cert.cert, 'client-key': cert.key } }],
    contexts: [{ name, context: { cluster: 'e2e', user: name } }],
    'current-context': name,
  }), { mode: 0o600 });
  return { name, kubeconfig, cert, kubectl: (args, input) => runKubectl(cluster.kubectlPath, args, { kubeconfig, input }) };
}
