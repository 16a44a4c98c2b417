// POST /v1/attestation (IAM, master role; DESIGN §4): the parent-host agent posts a fresh Nitro
// attestation document with the cluster CA it binds. A document that verifies, attests this platform's
// own boot settings and keeps the snapshot counter moving forward is stored as the latest attestation;
// kubeconfigs are only issued while one is fresh. 204, or 400 with the reason code.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from '../shared/runtime/zod';
import { MAX_DOCUMENT_BYTES, verifyClusterAttestation } from '../shared/attestation/cluster-attestation';
import { parseExpectedPcrsEnv } from '../shared/attestation/expected-pcrs-env';
import { AttestedCaChangedError, DynamoAttestationRecordStore, SnapshotCounterError, type AttestationRecordStore } from '../shared/attestation/record-store';
import { EnvPlatformSettings, PLATFORM_SETTINGS_ENV, type PlatformSettingsSource } from '../shared/attestation/platform-settings';
import { COMMON_ENV, readEnv } from '../shared/runtime/env';
import { errorResult, noContent, parseJsonBody, withHttpErrors, type HttpResult } from '../shared/runtime/http';
import type { ExpectedPcrs } from '../shared/attestation/pcrs';
import { logger, logUnexpected } from '../shared/runtime/powertools';
import { awsClientConfig } from '../shared/runtime/aws-clients';

const BodySchema = z
  .strictObject({
    document: z.string().check(z.minLength(1), z.maxLength(Math.ceil((MAX_DOCUMENT_BYTES * 4) / 3) + 4)),
    caCertPem: z.string().check(z.minLength(1), z.maxLength(4096)),
  });

export interface AttestationHandlerDeps {
  /** Undefined without an enclave build: every document is refused. */
  readonly expectedPcrs: ExpectedPcrs | undefined;
  readonly store: AttestationRecordStore;
  /** The platform's own boot settings: an enclave attesting other ones is refused. */
  readonly settings: PlatformSettingsSource;
  readonly now: () => Date;
  readonly maxDocumentAgeMs: number;
  /** Trust anchor override for tests; the pinned AWS root otherwise. */
  readonly rootPem?: string;
}

export function createHandler(deps: AttestationHandlerDeps): (event: APIGatewayProxyEventV2) => Promise<HttpResult> {
  return withHttpErrors(async (event) => {
    const body = parseJsonBody(event, BodySchema);
    if (!deps.expectedPcrs) {
      return errorResult(503, 'no_expected_pcrs', 'this environment has no enclave build (enclave/pcrs.json): no attestation is accepted');
    }
    // A KMS outage behind the settings is the shared 503 `backend_unavailable` (withHttpErrors).
    const platformSettings = await deps.settings.current();
    const now = deps.now();
    const result = await verifyClusterAttestation(body, {
      expectedPcrs: deps.expectedPcrs,
      now,
      maxDocumentAgeMs: deps.maxDocumentAgeMs,
      rootPem: deps.rootPem,
      platformSettings,
    });
    if (!result.ok) {
      logger.warn('attestation refused', { reason: result.reason, detail: result.message });
      return errorResult(400, result.reason, result.message);
    }
    try {
      await deps.store.putLatest(result.record);
    } catch (error) {
      if (error instanceof SnapshotCounterError) {
        logger.error('attestation refused: snapshot counter', { reason: error.reason, committed: error.committed, posted: error.posted, moduleId: result.record.moduleId });
        return errorResult(400, error.reason, error.message);
      }
      if (!(error instanceof AttestedCaChangedError)) throw error;
      logger.error('attestation refused: the cluster CA changed', { pinned: error.pinnedCaSha256, posted: error.postedCaSha256, moduleId: result.record.moduleId });
      return errorResult(400, 'ca_changed', 'this document attests another cluster CA than the pinned one; an operator must accept a new cluster');
    }
    logger.info('attestation accepted', {
      moduleId: result.record.moduleId,
      timestamp: result.record.timestamp,
      caSha256: result.record.caSha256,
      snapshotSeq: result.record.snapshotSeq,
    });
    return noContent();
  }, logUnexpected);
}

export const ATTESTATION_ENV = {
  ...COMMON_ENV,
  ...PLATFORM_SETTINGS_ENV,
  EXPECTED_PCRS: z.string().check(z.minLength(1)),
  ATTESTATION_DOCUMENT_MAX_AGE_SECONDS: z._default(z.coerce.number().check(z.int(), z.minimum(10), z.maximum(3600)), 300),
};

let live: ((event: APIGatewayProxyEventV2) => Promise<HttpResult>) | undefined;

// Built on the first invocation (the cold start) so importing the module in tests needs no environment.
export const handler = (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  if (!live) {
    const env = readEnv(ATTESTATION_ENV);
    live = createHandler({
      expectedPcrs: parseExpectedPcrsEnv(env.EXPECTED_PCRS),
      store: new DynamoAttestationRecordStore({ tableName: env.TABLE_NAME, client: new DynamoDBClient(awsClientConfig('attestation')) }),
      settings: new EnvPlatformSettings(env, new KMSClient(awsClientConfig('attestation'))),
      now: () => new Date(),
      maxDocumentAgeMs: env.ATTESTATION_DOCUMENT_MAX_AGE_SECONDS * 1000,
    });
  }
  return live(event);
};
