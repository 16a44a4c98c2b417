// A throwaway PKI for one e2e run (openssl): the cluster CA (serving certificate of kube-apiserver, the
// admin client certificate, and the local API's certificate) and the service-account signing key.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
  /** Certificate + key paths of a leaf signed by the CA. */
  leaf(name: string, subject: string, usage: 'serverAuth' | 'clientAuth'): { cert: string; key: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createPki(dir: string): Pki {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caCert = path.join(dir, 'ca.crt');
  const caKey = path.join(dir, 'ca.key');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', caKey, '-out', caCert, '-days', '7', '-subj', '/CN=k3s-daas-e2e-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  // SEC1 "EC PRIVATE KEY" for signing and its public half for verifying, the forms kube-apiserver reads.
  const serviceAccountKey = path.join(dir, 'service-account.key');
  const serviceAccountPub = path.join(dir, 'service-account.pub');
  openssl(['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', serviceAccountKey], dir);
  openssl(['ec', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPub], dir);
  return {
    dir, caCert, caKey, serviceAccountKey, serviceAccountPub,
    leaf(name, subject, usage) {
      const cert = path.join(dir, `${name}.crt`);
      const key = path.join(dir, `${name}.key`);
      const csr = path.join(dir, `${name}.csr`);
      const ext = path.join(dir, `${name}.ext`);
      fs.writeFileSync(ext, [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        `extendedKeyUsage=${usage}`,
        ...(usage === 'serverAuth' ? ['subjectAltName=IP:127.0.0.1,DNS:localhost'] : []),
      ].join('\n'));
      openssl(['req', ...ec, '-keyout', key, '-out', csr, '-subj', subject], dir);
      openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '7', '-extfile', ext], dir);
      return { cert, key };
    },
  };
}
