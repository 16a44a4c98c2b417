// POST /v1/kubeconfig (public, the credential is the auth; DESIGN §2 step 4, §4): checks the
// credential like every token check, requires a fresh verified attestation of the enclave, renders a
// kubeconfig that holds no secret and signs its bytes with the platform's KMS key.
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { z } from 'zod';
import { attestationSummary } from '../shared/attestation/cluster-attestation';
import type { AttestationRecordStore } from '../shared/attestation/record-store';
import { errorResult, json, parseJsonBody, withHttpErrors, type HttpResult } from '../shared/http';
import { IndexUnavailableError } from '../shared/index-model';
import type { KubeconfigSigner } from '../shared/kms-signing-key';
import { renderKubeconfig } from '../shared/kubeconfig';
import { logger, logUnexpected } from '../shared/powertools';

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
      if (error instanceof IndexUnavailableError) return errorResult(503, 'index_unavailable', 'the token index cannot be reached; retry later');
      throw error;
    }
    if (!check.ok) return errorResult(401, check.reason, 'the credential was not accepted');

    const record = await deps.store.getLatest();
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
