// POST /v1/kubeconfig (public, the credential is the auth; DESIGN §2 step 4, §4): checks the
// credential like every token check, requires a fresh verified attestation of an enclave booted with
// this platform's own settings, renders a kubeconfig that holds no secret and signs its bytes with the
// platform's KMS key. The answer carries the raw attestation document, the attested settings and the
// signing public key, so the CLI verifies all of it against anchors of its own (docs/attestation.md).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from '../shared/runtime/zod';
import { attestationDetail, attestationSummary } from '../shared/attestation/attestation-view';
import { EnvPlatformSettings, PLATFORM_SETTINGS_ENV, servesCluster, type PlatformSettingsSource } from '../shared/attestation/platform-settings';
import { DynamoAttestationRecordStore, type AttestationRecordStore } from '../shared/attestation/record-store';
import { errorResult, json, parseJsonBody, withHttpErrors, type HttpResult } from '../shared/runtime/http';
import { readEnv } from '../shared/runtime/env';
import { KmsKubeconfigSigner, type KubeconfigSigner } from '../shared/kubeconfig/kms-signing-key';
import { renderKubeconfig } from '../shared/kubeconfig/kubeconfig';
import { logger, logUnexpected } from '../shared/runtime/powertools';
import { awsClientConfig } from '../shared/runtime/aws-clients';
import { TOKEN_CHECK_ENV, tokenCheckerFromEnv } from '../shared/credentials/token-check-env';

const BodySchema = z.strictObject({ credential: z.string().check(z.minLength(1), z.maxLength(8192)) });

/** The token-check module's answer, narrowed to what this route needs. */
export type CredentialCheckResult = { ok: true; identity: { tokenId: string } } | { ok: false; reason: string };

export interface KubeconfigHandlerDeps {
  readonly checkCredential: (credential: string) => Promise<CredentialCheckResult>;
  readonly store: Pick<AttestationRecordStore, 'getLatest'>;
  readonly signer: Pick<KubeconfigSigner, 'keyId' | 'sign' | 'publicKeyPem'>;
  readonly settings: PlatformSettingsSource;
  readonly clusterId: string;
  readonly serverUrl: string;
  /** A kubeconfig is only issued while the latest verified attestation (NSM time) is younger than this. */
  readonly maxAttestationAgeMs: number;
  readonly now: () => Date;
}

export function createHandler(deps: KubeconfigHandlerDeps): (event: APIGatewayProxyEventV2) => Promise<HttpResult> {
  return withHttpErrors(async (event) => {
    const { credential } = parseJsonBody(event, BodySchema);
    // A backend outage here or below is the shared 503 `backend_unavailable` (withHttpErrors): fail closed, retryable.
    const check = await deps.checkCredential(credential);
    if (!check.ok) return errorResult(401, check.reason, 'the credential was not accepted');

    const record = await deps.store.getLatest();
    const ageMs = record ? deps.now().getTime() - Date.parse(record.timestamp) : Infinity;
    if (!record || !(ageMs <= deps.maxAttestationAgeMs)) {
      logger.warn('kubeconfig refused: no fresh attestation', { latest: record?.timestamp ?? null });
      return errorResult(503, 'no_attestation', 'no fresh verified attestation of the control-plane enclave; retry later');
    }
    const platform = await deps.settings.current();
    const serves = servesCluster(record, platform.digest);
    if (!serves.ok) {
      logger.error('kubeconfig refused: attested settings differ from the platform', { attested: record.settingsSha256 ?? null, platform: platform.digest.toString('hex') });
      return errorResult(503, serves.reason, serves.message);
    }
    const kubeconfig = renderKubeconfig({
      clusterId: deps.clusterId,
      serverUrl: deps.serverUrl,
      caCertPem: record.caCertPem,
      tokenId: check.identity.tokenId,
      attestation: attestationSummary(record),
    });
    const [signature, publicKeyPem] = await Promise.all([deps.signer.sign(kubeconfig), deps.signer.publicKeyPem()]);
    return json(200, { kubeconfig, signature, keyId: deps.signer.keyId, publicKeyPem, attestation: attestationDetail(record) });
  }, logUnexpected);
}

export const KUBECONFIG_ENV = {
  // The same token-check settings as the other credential routes, zkLogin client included.
  ...TOKEN_CHECK_ENV,
  ...PLATFORM_SETTINGS_ENV,
  ATTESTATION_MAX_AGE_SECONDS: z.coerce.number().check(z.int(), z.minimum(60), z.maximum(86_400)),
};

let live: ((event: APIGatewayProxyEventV2) => Promise<HttpResult>) | undefined;

// Built on the first invocation (the cold start) so importing the module in tests needs no environment.
export const handler = (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  if (!live) {
    const env = readEnv(KUBECONFIG_ENV);
    const dynamo = new DynamoDBClient(awsClientConfig('kubeconfig'));
    const kms = new KMSClient(awsClientConfig('kubeconfig'));
    const checker = tokenCheckerFromEnv(env, dynamo);
    live = createHandler({
      checkCredential: (credential) => checker.check(credential),
      store: new DynamoAttestationRecordStore({ tableName: env.TABLE_NAME, client: dynamo }),
      signer: new KmsKubeconfigSigner(kms, env.KUBECONFIG_SIGNING_KEY_ARN),
      settings: new EnvPlatformSettings(env, kms),
      clusterId: env.CLUSTER_ID,
      serverUrl: env.SERVER_URL,
      maxAttestationAgeMs: env.ATTESTATION_MAX_AGE_SECONDS * 1000,
      now: () => new Date(),
    });
  }
  return live(event);
};
