// Parent-host agent (bundled by enclave/src/build/bundle.ts, shipped as a CDK asset, run by systemd
// on the master; see lib/control-plane/master-user-data.sh). Untrusted by design: it answers the
// enclave's control API over vsock, stores ciphertext, and relays attestation documents.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { fromInstanceMetadata } from '@aws-sdk/credential-providers';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { readEnv } from '../../../lambdas/shared/runtime/env';
import { NodeRegistry } from '../../../lambdas/shared/nodes/node-registry';
import type { BootSettings } from '../common/host-protocol';
import { VSOCK_PORTS, forwardTcpToVsock, forwardVsockToTcp, socatVsock } from '../common/vsock';
import { relayAttestation } from './attestation-poster';
import { createHostAgentServer } from './server';
import { SnapshotBucket } from './snapshot-bucket';

export const HOST_AGENT_ENV = {
  AWS_REGION: z.string().min(1),
  CLUSTER_ID: z.string().min(1),
  CLUSTER_STATE_KEY_ID: z.string().min(1),
  JOIN_TOKEN_KEY_ID: z.string().min(1),
  API_URL: z.url({ protocol: /^https$/ }),
  TLS_SANS: z.string().min(1),
  WEBHOOK_SECRET_ARN: z.string().min(1),
  SNAPSHOT_BUCKET: z.string().min(3),
  TABLE_NAME: z.string().min(1),
  ENCLAVE_CID: z.coerce.number().int().min(4),
  SNAPSHOT_INTERVAL_SECONDS: z.coerce.number().int().min(60).default(900),
  ATTESTATION_INTERVAL_SECONDS: z.coerce.number().int().min(10).default(120),
};

const CONTROL_PORT = 9102;
const ENCLAVE_ATTESTATION_BRIDGE_PORT = 9103;

function log(message: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'host-agent', message, ...extra })}\n`);
}

export async function main(): Promise<void> {
  const env = readEnv(HOST_AGENT_ENV);
  const credentials = fromInstanceMetadata({ maxRetries: 3, timeout: 2000 });
  const clientConfig = { region: env.AWS_REGION, credentials };
  const secrets = new SecretsManagerClient(clientConfig);
  const registry = new NodeRegistry(new DynamoDBClient(clientConfig), env.TABLE_NAME);
  const store = new SnapshotBucket(new S3Client(clientConfig), env.SNAPSHOT_BUCKET, env.CLUSTER_ID);

  const boot = async (): Promise<BootSettings> => {
    const secret = await secrets.send(new GetSecretValueCommand({ SecretId: env.WEBHOOK_SECRET_ARN }));
    if (!secret.SecretString) throw new Error('webhook secret has no string value');
    return {
      region: env.AWS_REGION,
      clusterId: env.CLUSTER_ID,
      clusterStateKeyId: env.CLUSTER_STATE_KEY_ID,
      joinTokenKeyId: env.JOIN_TOKEN_KEY_ID,
      apiUrl: env.API_URL,
      tlsSans: env.TLS_SANS.split(',').filter(Boolean),
      webhookSecret: secret.SecretString,
      snapshotIntervalSeconds: env.SNAPSHOT_INTERVAL_SECONDS,
    };
  };

  const server = createHostAgentServer({
    boot,
    credentials: async () => {
      const c = await credentials();
      return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: c.expiration?.toISOString() };
    },
    store,
    bootstrapPool: {
      list: () => registry.listBootstrapPool(),
      put: (entry) => registry.putBootstrapPoolEntry(entry, new Date()),
      delete: (tokenId) => registry.deleteBootstrapPoolEntry(tokenId),
    },
    log,
  });
  await new Promise<void>((resolve) => server.listen(CONTROL_PORT, '127.0.0.1', resolve));

  const vsock = socatVsock({ onExit: (what, code) => log('socat exited', { what, code }) });
  const onError = (err: Error) => log('forwarder error', { error: err.message });
  await forwardVsockToTcp({ vsock, port: VSOCK_PORTS.hostAgent, targetHost: '127.0.0.1', targetPort: CONTROL_PORT, onError });
  // kube-apiserver traffic (TCP 6443 → vsock 16:6443) is forwarded by its own socat unit
  // (master-user-data.sh), so the API stays reachable while this agent restarts.
  await forwardTcpToVsock({ vsock, listenHost: '127.0.0.1', listenPort: ENCLAVE_ATTESTATION_BRIDGE_PORT, cid: env.ENCLAVE_CID, port: VSOCK_PORTS.attestation, onError });
  log('host agent ready', { clusterId: env.CLUSTER_ID, enclaveCid: env.ENCLAVE_CID });

  const relay = () =>
    relayAttestation({ enclaveUrl: `http://127.0.0.1:${ENCLAVE_ATTESTATION_BRIDGE_PORT}`, apiUrl: env.API_URL, region: env.AWS_REGION, credentials })
      .then(() => log('attestation posted'))
      .catch((err: Error) => log('attestation relay failed', { error: err.message }));
  setInterval(relay, env.ATTESTATION_INTERVAL_SECONDS * 1000);
  void relay();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: Error) => {
    log('fatal', { error: err.message });
    process.exit(1);
  });
}
