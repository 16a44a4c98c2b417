// POST /v1/kubeconfig (public, the credential is the auth; DESIGN §2 step 4, §4): checks the
// credential like every token check, requires a fresh verified attestation of the enclave, renders a
// kubeconfig that holds no secret and signs its bytes with the platform's KMS key.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod';
import { attestationSummary } from '../shared/attestation/cluster-attestation';
import { DynamoAttestationRecordStore, type AttestationRecordStore } from '../shared/attestation/record-store';
import { errorResult, json, parseJsonBody, withHttpErrors, type HttpResult } from '../shared/runtime/http';
import { readEnv } from '../shared/runtime/env';
import { IndexUnavailableError } from '../shared/index/index-model';
import { KmsKubeconfigSigner, type KubeconfigSigner } from '../shared/kubeconfig/kms-signing-key';
import { renderKubeconfig } from '../shared/kubeconfig/kubeconfig';
import { logger, logUnexpected } from '../shared/runtime/powertools';
import { isBackendUnavailable } from '../shared/credentials/token-check';
import { backendFailureCode } from '../shared/index/freshness';
import { TOKEN_CHECK_ENV, tokenCheckerFromEnv } from '../shared/credentials/token-check-env';

const BodySchema = z.object({ credential: z.string().min(1).max(8192) }).strict();

/** The token-check module's answer, narrowed to what this route needs. */
export type CredentialCheckResult = { ok: true; identity: { tokenId: string } } | { ok: false; reason: string };

export interface KubeconfigHandlerDeps {
  readonly checkCredential: (credential: string) => Promise<CredentialCheckResult>;
  readonly store: Pick<AttestationRecordStore, 'getLatest'>;
  readonly signer: Pick<KubeconfigSigner, 'keyId' | 'sign'>;
  readonly clusterId: string;
  readonly serverUrl: string;
  /** A kubeconfig is only issued while the latest verified attestation (NSM time) is younger than this. */
  readonly maxAttestationAgeMs: number;
  readonly now: () => Date;
}

export function createHandler(deps: KubeconfigHandlerDeps): (event: APIGatewayProxyEventV2) => Promise<HttpResult> {
  return withHttpErrors(async (event) => {
    const { credential } = parseJsonBody(event, BodySchema);
    let check: CredentialCheckResult;
    try {
      check = await deps.checkCredential(credential);
    } catch (error) {
      // Fail closed but retryable: a backend outage is not the caller's fault.
      if (isBackendUnavailable(error)) {
        logger.warn('kubeconfig refused: token check backend unavailable', error as Error);
        return errorResult(503, backendFailureCode(error), 'the token index cannot be reached or is stale; retry later');
      }
      throw error;
    }
    if (!check.ok) return errorResult(401, check.reason, 'the credential was not accepted');

    let record;
    try {
      record = await deps.store.getLatest();
    } catch (error) {
      // Same outage, same answer as the token check: retryable 503, never a 500.
      if (!(error instanceof IndexUnavailableError)) throw error;
      logger.warn('kubeconfig refused: attestation record unavailable', error);
      return errorResult(503, 'index_unavailable', 'the attestation record cannot be read; retry later');
    }
    const ageMs = record ? deps.now().getTime() - Date.parse(record.timestamp) : Infinity;
    if (!record || !(ageMs <= deps.maxAttestationAgeMs)) {
      logger.warn('kubeconfig refused: no fresh attestation', { latest: record?.timestamp ?? null });
      return errorResult(503, 'no_attestation', 'no fresh verified attestation of the control-plane enclave; retry later');
    }
    const kubeconfig = renderKubeconfig({
      clusterId: deps.clusterId,
      serverUrl: deps.serverUrl,
      caCertPem: record.caCertPem,
      tokenId: check.identity.tokenId,
      attestation: attestationSummary(record),
    });
    const signature = await deps.signer.sign(kubeconfig);
    return json(200, { kubeconfig, signature, keyId: deps.signer.keyId, attestation: attestationSummary(record) });
  }, logUnexpected);
}

export const KUBECONFIG_ENV = {
  // The same token-check settings as the other credential routes, zkLogin client included.
  ...TOKEN_CHECK_ENV,
  KUBECONFIG_SIGNING_KEY_ARN: z.string().startsWith('arn:'),
  SERVER_URL: z.url({ protocol: /^https$/ }),
  ATTESTATION_MAX_AGE_SECONDS: z.coerce.number().int().min(60).max(86_400),
};

let live: ((event: APIGatewayProxyEventV2) => Promise<HttpResult>) | undefined;

// Built on the first invocation (the cold start) so importing the module in tests needs no environment.
export const handler = (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  if (!live) {
    const env = readEnv(KUBECONFIG_ENV);
    const dynamo = new DynamoDBClient({});
    const checker = tokenCheckerFromEnv(env);
    live = createHandler({
      checkCredential: (credential) => checker.check(credential),
      store: new DynamoAttestationRecordStore({ tableName: env.TABLE_NAME, client: dynamo }),
      signer: new KmsKubeconfigSigner(new KMSClient({}), env.KUBECONFIG_SIGNING_KEY_ARN),
      clusterId: env.CLUSTER_ID,
      serverUrl: env.SERVER_URL,
      maxAttestationAgeMs: env.ATTESTATION_MAX_AGE_SECONDS * 1000,
      now: () => new Date(),
    });
  }
  return live(event);
};
