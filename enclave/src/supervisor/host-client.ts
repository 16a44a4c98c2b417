// The supervisor's side of the host agent's control API (see common/host-protocol.ts), reached over
// the loopback → vsock bridge. Every answer is validated: the host is untrusted.
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { BootSettingsSchema, BootstrapPoolListingSchema, CredentialsSchema, HOST_PATHS, type BootSettings } from '../common/host-protocol';
import type { BootstrapPoolEntry } from '../../../lambdas/shared/nodes/join-token';
import type { BlobStore } from './sealed-secrets';
import type { SnapshotStore } from './snapshots';

export class HostClient {
  constructor(
    /** e.g. `http://127.0.0.1:9002` (the bridge to vsock 3:8002). */
    private readonly baseUrl: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  private async request(method: string, path: string, body?: Uint8Array, contentType = 'application/octet-stream'): Promise<Response> {
    const res = await this.fetchImpl(new URL(path, this.baseUrl), {
      method,
      body: body ? Buffer.from(body) : undefined,
      headers: body ? { 'content-type': contentType } : undefined,
      signal: AbortSignal.timeout(120_000),
    });
    if (!res.ok && res.status !== 404) throw new Error(`host agent ${method} ${path} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    return res;
  }

  async boot(): Promise<BootSettings> {
    const res = await this.request('GET', HOST_PATHS.boot);
    if (res.status === 404) throw new Error('host agent has no boot settings');
    return BootSettingsSchema.parse(await res.json());
  }

  /** Credentials of the master role, refreshed from the host shortly before they expire. */
  credentialProvider(): AwsCredentialIdentityProvider {
    let cached: AwsCredentialIdentity | undefined;
    return async () => {
      if (cached && (!cached.expiration || cached.expiration.getTime() - Date.now() > 5 * 60_000)) return cached;
      const res = await this.request('GET', HOST_PATHS.credentials);
      if (res.status === 404) throw new Error('host agent has no credentials');
      const c = CredentialsSchema.parse(await res.json());
      cached = { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: c.expiration ? new Date(c.expiration) : undefined };
      return cached;
    };
  }

  private async getBytes(path: string): Promise<Uint8Array | undefined> {
    const res = await this.request('GET', path);
    if (res.status === 404) return undefined;
    return new Uint8Array(await res.arrayBuffer());
  }

  sealedSecretsStore(): BlobStore {
    return {
      get: () => this.getBytes(HOST_PATHS.sealedSecrets),
      put: async (bytes) => void (await this.request('PUT', HOST_PATHS.sealedSecrets, bytes)),
    };
  }

  snapshotStore(): SnapshotStore {
    return {
      latest: () => this.getBytes(HOST_PATHS.latestSnapshot),
      put: async (bytes) => void (await this.request('PUT', HOST_PATHS.snapshots, bytes)),
    };
  }

  /** The host's relay of the index's bootstrap-token pool (bootstrap-tokens.ts decides what to believe). */
  bootstrapPool(): { list(): Promise<BootstrapPoolEntry[]>; put(entry: BootstrapPoolEntry): Promise<void>; retire(tokenId: string): Promise<void> } {
    return {
      list: async () => {
        const res = await this.request('GET', HOST_PATHS.bootstrapTokens);
        if (res.status === 404) throw new Error('host agent does not relay bootstrap tokens');
        return BootstrapPoolListingSchema.parse(await res.json()).entries;
      },
      put: async (entry) => {
        const res = await this.request('PUT', HOST_PATHS.bootstrapTokens, Buffer.from(JSON.stringify(entry)), 'application/json');
        if (res.status === 404) throw new Error('host agent does not relay bootstrap tokens');
      },
      retire: async (tokenId) => {
        const res = await this.request('DELETE', `${HOST_PATHS.bootstrapTokens}/${encodeURIComponent(tokenId)}`);
        if (res.status === 404) throw new Error('host agent does not relay bootstrap tokens');
      },
    };
  }
}
