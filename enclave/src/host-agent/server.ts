// The host agent's control API for the enclave (vsock 8002 → this loopback HTTP server). It hands out
// boot settings and the instance role's credentials, stores the enclave's sealed ciphertext, and
// relays the enclave's pool of KMS-encrypted bootstrap tokens to and from the index. It never sees
// plaintext secrets except the webhook bearer secret, which the host's role can read anyway.
import * as http from 'node:http';
import {
  BootstrapPoolEntrySchema,
  HOST_PATHS,
  MAX_SMALL_BODY_BYTES,
  MAX_SNAPSHOT_BYTES,
  type BootSettings,
  type HostCredentials,
} from '../common/host-protocol';
import { BOOTSTRAP_TOKEN_ID_PATTERN, type BootstrapPoolEntry } from '../../../lambdas/shared/nodes/join-token';
import type { CiphertextStore } from './snapshot-bucket';

/** The index partition of the bootstrap-token pool (NodeRegistry in production). */
export interface BootstrapPoolStore {
  list(): Promise<BootstrapPoolEntry[]>;
  put(entry: BootstrapPoolEntry): Promise<void>;
  delete(tokenId: string): Promise<void>;
}

export interface HostAgentDeps {
  boot(): Promise<BootSettings>;
  credentials(): Promise<HostCredentials>;
  store: CiphertextStore;
  bootstrapPool: BootstrapPoolStore;
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
    const pathname = new URL(req.url ?? '/', 'http://host').pathname;
    const route = `${req.method} ${pathname}`;
    const retire = pathname.startsWith(`${HOST_PATHS.bootstrapTokens}/`) ? pathname.slice(HOST_PATHS.bootstrapTokens.length + 1) : undefined;
    if (req.method === 'DELETE' && retire !== undefined) {
      if (!BOOTSTRAP_TOKEN_ID_PATTERN.test(retire)) return json(res, 400, { error: 'bad_token_id' });
      await deps.bootstrapPool.delete(retire);
      return json(res, 200, { deleted: retire });
    }
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
      case `GET ${HOST_PATHS.bootstrapTokens}`:
        return json(res, 200, { entries: await deps.bootstrapPool.list() });
      case `PUT ${HOST_PATHS.bootstrapTokens}`: {
        let parsed;
        try {
          parsed = BootstrapPoolEntrySchema.parse(JSON.parse((await readBody(req, MAX_SMALL_BODY_BYTES)).toString('utf8')));
        } catch (err) {
          if (err instanceof BodyTooLarge) throw err;
          return json(res, 400, { error: 'bad_bootstrap_token', message: 'body must be {"tokenId", "expiresAt", "caSha256", "ciphertext"}' });
        }
        await deps.bootstrapPool.put(parsed);
        deps.log?.('bootstrap token added to the pool', { tokenId: parsed.tokenId, expiresAt: parsed.expiresAt });
        return json(res, 200, { stored: parsed.tokenId });
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
