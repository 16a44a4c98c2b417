// The host agent's control API for the enclave (vsock 8002 → this loopback HTTP server). It hands out
// boot settings and the instance role's credentials, stores the enclave's sealed ciphertext, and
// publishes the KMS-encrypted join token. It never sees plaintext secrets except the webhook bearer
// secret, which the host's role can read anyway.
import * as http from 'node:http';
import {
  HOST_PATHS,
  JoinTokenUploadSchema,
  MAX_SMALL_BODY_BYTES,
  MAX_SNAPSHOT_BYTES,
  type BootSettings,
  type HostCredentials,
} from '../common/host-protocol';
import type { CiphertextStore } from './snapshot-bucket';

export interface HostAgentDeps {
  boot(): Promise<BootSettings>;
  credentials(): Promise<HostCredentials>;
  store: CiphertextStore;
  publishJoinToken(ciphertext: Uint8Array): Promise<void>;
  log?: (message: string, extra?: Record<string, unknown>) => void;
}

class BodyTooLarge extends Error {}

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function createHostAgentServer(deps: HostAgentDeps): http.Server {
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const bytes = (res: http.ServerResponse, body: Uint8Array | undefined) => {
    if (!body) return json(res, 404, { error: 'not_found' });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(Buffer.from(body));
  };
  const route = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const route = `${req.method} ${new URL(req.url ?? '/', 'http://host').pathname}`;
    switch (route) {
      case `GET ${HOST_PATHS.boot}`:
        return json(res, 200, await deps.boot());
      case `GET ${HOST_PATHS.credentials}`:
        return json(res, 200, await deps.credentials());
      case `GET ${HOST_PATHS.sealedSecrets}`:
        return bytes(res, await deps.store.getSealedSecrets());
      case `PUT ${HOST_PATHS.sealedSecrets}`: {
        const body = await readBody(req, MAX_SMALL_BODY_BYTES);
        if (body.length === 0) return json(res, 400, { error: 'empty_body' });
        await deps.store.putSealedSecrets(body);
        return json(res, 200, { stored: body.length });
      }
      case `GET ${HOST_PATHS.latestSnapshot}`:
        return bytes(res, await deps.store.getSnapshot());
      case `PUT ${HOST_PATHS.snapshots}`: {
        const body = await readBody(req, MAX_SNAPSHOT_BYTES);
        if (body.length === 0) return json(res, 400, { error: 'empty_body' });
        await deps.store.putSnapshot(body);
        deps.log?.('snapshot stored', { bytes: body.length });
        return json(res, 200, { stored: body.length });
      }
      case `PUT ${HOST_PATHS.joinToken}`: {
        let parsed;
        try {
          parsed = JoinTokenUploadSchema.parse(JSON.parse((await readBody(req, MAX_SMALL_BODY_BYTES)).toString('utf8')));
        } catch (err) {
          if (err instanceof BodyTooLarge) throw err;
          return json(res, 400, { error: 'bad_join_token', message: 'body must be {"ciphertext": "<base64>"}' });
        }
        await deps.publishJoinToken(Buffer.from(parsed.ciphertext, 'base64'));
        deps.log?.('join token published');
        return json(res, 200, { published: true });
      }
      default:
        return json(res, 404, { error: 'not_found' });
    }
  };
  return http.createServer((req, res) => {
    route(req, res).catch((err: Error) => {
      if (err instanceof BodyTooLarge) return json(res, 413, { error: 'too_large' });
      deps.log?.('request failed', { error: err.message });
      json(res, 502, { error: 'upstream_failed', message: err.message });
    });
  });
}
