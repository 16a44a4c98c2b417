// The platform's own view of the enclave's boot settings, computed from its deployment (environment
// variables written by the CDK app from the same resources the master's host agent is told about)
// and the kubeconfig signing key's public key from KMS. The attestation route refuses an enclave whose
// attested settings digest is not this one; the kubeconfig and node-join routes serve only a cluster
// whose stored attestation carries it (`servesCluster`).
import { GetPublicKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import * as z from '../runtime/zod';
import type { EnvOf } from '../runtime/env';
import type { AttestationRecord } from '../index/index-model';
import { DependencyUnavailableError, isDependencyOutage } from '../runtime/outage';
import { canonicalSettings, settingsDigest, spkiSha256, type EnclaveSettings } from './enclave-claims';

/** Settings variables (DESIGN §4 handler settings); the CDK app sets them on every function that checks settings. */
export const PLATFORM_SETTINGS_ENV = {
  CLUSTER_ID: z.string().check(z.minLength(1)),
  /** The HTTP API's own base URL, exactly as the master's host agent gets it. */
  API_URL: z.url({ protocol: /^https$/ }),
  CLUSTER_STATE_KEY_ID: z.string().check(z.minLength(1)),
  JOIN_TOKEN_KEY_ID: z.string().check(z.minLength(1)),
  KUBECONFIG_SIGNING_KEY_ARN: z.string().check(z.startsWith('arn:')),
  /** `https://<nlb>:6443`: its host is the kube-apiserver certificate's SAN. */
  SERVER_URL: z.url({ protocol: /^https$/ }),
};

export type PlatformSettingsEnv = EnvOf<typeof PLATFORM_SETTINGS_ENV>;

export interface PlatformSettingsSource {
  /** The canonical settings and their digest; throws `SettingsUnavailableError` when KMS cannot answer (the shared 503). */
  current(): Promise<{ settings: EnclaveSettings; digest: Buffer }>;
}

/** A KMS outage behind the settings: the shared outage rule answers it 503 `backend_unavailable`, like any other. */
export class SettingsUnavailableError extends DependencyUnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SettingsUnavailableError';
  }
}

/** Reads the signing key's public key once per container (it never changes for a key id); a failure is not cached. */
export class EnvPlatformSettings implements PlatformSettingsSource {
  private cached?: Promise<{ settings: EnclaveSettings; digest: Buffer }>;

  constructor(
    private readonly env: PlatformSettingsEnv,
    private readonly kms: Pick<KMSClient, 'send'>,
  ) {}

  current(): Promise<{ settings: EnclaveSettings; digest: Buffer }> {
    this.cached ??= this.compute().catch((error: unknown) => {
      this.cached = undefined;
      throw error;
    });
    return this.cached;
  }

  private async compute(): Promise<{ settings: EnclaveSettings; digest: Buffer }> {
    let publicKey: Uint8Array | undefined;
    try {
      ({ PublicKey: publicKey } = await this.kms.send(new GetPublicKeyCommand({ KeyId: this.env.KUBECONFIG_SIGNING_KEY_ARN })));
    } catch (error) {
      // Only an outage is retryable; any other KMS answer (a missing key, a denied call) is a deployment bug: 500.
      if (isDependencyOutage(error)) throw new SettingsUnavailableError('the kubeconfig signing key could not be read from KMS', { cause: error });
      throw error;
    }
    if (!publicKey) throw new SettingsUnavailableError('KMS GetPublicKey returned no key');
    const settings = platformSettingsFrom(this.env, spkiSha256(publicKey));
    return { settings, digest: settingsDigest(settings) };
  }
}

export function platformSettingsFrom(env: PlatformSettingsEnv, signingKeySpkiSha256: string): EnclaveSettings {
  return canonicalSettings({
    clusterId: env.CLUSTER_ID,
    apiUrl: env.API_URL,
    clusterStateKeyId: env.CLUSTER_STATE_KEY_ID,
    joinTokenKeyId: env.JOIN_TOKEN_KEY_ID,
    tlsSans: [new URL(env.SERVER_URL).hostname],
    kubeconfigSigningKeySpkiSha256: signingKeySpkiSha256,
  });
}

/** Fixed settings, for tests and local runs. */
export class StaticPlatformSettings implements PlatformSettingsSource {
  constructor(private readonly settings: EnclaveSettings) {}

  async current(): Promise<{ settings: EnclaveSettings; digest: Buffer }> {
    return { settings: this.settings, digest: settingsDigest(this.settings) };
  }
}

export type ServesClusterResult = { ok: true } | { ok: false; reason: 'settings_mismatch'; message: string };

/**
 * True only when the stored attestation was made by an enclave booted with the platform's own settings.
 * The kubeconfig route and the node-join route call this before serving anything of the cluster, so a
 * record from an enclave with other settings (or one recorded before the settings changed) serves nothing.
 */
export function servesCluster(record: AttestationRecord, platformDigest: Buffer): ServesClusterResult {
  if (typeof record.settingsSha256 !== 'string' || record.settingsSha256 !== platformDigest.toString('hex')) {
    return { ok: false, reason: 'settings_mismatch', message: "the attested enclave was not booted with this platform's settings" };
  }
  return { ok: true };
}
