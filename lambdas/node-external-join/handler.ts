// POST /v1/nodes/external/join (public; the join credential in the body is the authentication; issue 15
// item 2). Admits an operator's own machine as a worker under the operator's node stake: a node-tier seal
// token whose stake is active and covers one more node, rate-limited per stake. Past the credential, it is
// the very admission ASG instances get (lambdas/shared/nodes/admission.ts): the same capacity rule counting
// both kinds of node, the same transaction, a per-node bootstrap token from the same enclave pool. The
// answer carries the attestation detail of the kubeconfig route, so the CLI verifies the CA against the
// attested cluster with its own anchors, never against this API's word.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from '../shared/runtime/zod';
import { attestationDetail } from '../shared/attestation/cluster-attestation';
import { EnvPlatformSettings, PLATFORM_SETTINGS_ENV, servesCluster, type PlatformSettingsSource } from '../shared/attestation/platform-settings';
import { DynamoAttestationRecordStore, type AttestationRecordStore } from '../shared/attestation/record-store';
import { joinAudience, type TokenCheckResult } from '../shared/credentials/token-check';
import { TOKEN_CHECK_ENV, tokenCheckerFromEnv } from '../shared/credentials/token-check-env';
import type { TokenIndexReader } from '../shared/index/index-model';
import { DynamoIndexRepository } from '../shared/index/index-repository-dynamodb';
import { admitNode, stakeCapacity } from '../shared/nodes/admission';
import { checkJoinCredential, JOIN_CREDENTIAL_MAX_LENGTH } from '../shared/nodes/external-auth';
import { formatJoinToken, KmsJoinTokenCipher, type JoinTokenCipher } from '../shared/nodes/join-token';
import { DynamoJoinRateLimiter, JOIN_RATE_ENV, type JoinRateLimiter } from '../shared/nodes/join-rate-limit';
import { K3S_RELEASE } from '../shared/nodes/k3s-release';
import { EXTERNAL_NODE_TAINT, externalNodeName, nodeLabels } from '../shared/nodes/node-labels';
import { NodeRegistry } from '../shared/nodes/node-registry';
import { awsClientConfig } from '../shared/runtime/aws-clients';
import { readEnv, type EnvOf } from '../shared/runtime/env';
import { errorResult, HttpError, json, parseJsonBody, withHttpErrors, type HttpResult } from '../shared/runtime/http';
import { countIndexStale, logger, logUnexpected } from '../shared/runtime/powertools';

export const EXTERNAL_JOIN_ENV = {
  ...TOKEN_CHECK_ENV,
  ...PLATFORM_SETTINGS_ENV,
  JOIN_TOKEN_KEY_ARN: z.string().check(z.minLength(1)),
  /** The kubeconfig route's bound: the CLI verifies the same document, so it must be as fresh. */
  ATTESTATION_MAX_AGE_SECONDS: z.coerce.number().check(z.int(), z.minimum(60), z.maximum(86_400)),
  ...JOIN_RATE_ENV,
};

export type ExternalJoinSettings = EnvOf<typeof EXTERNAL_JOIN_ENV>;

/** base64url (no padding) of 16 random bytes. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]{21}[AQgw]$/;

const BodySchema = z
  .strictObject({
    credential: z.string().check(z.minLength(1), z.maxLength(JOIN_CREDENTIAL_MAX_LENGTH)),
    requestId: z.string().check(z.regex(REQUEST_ID_PATTERN, 'must be base64url (no padding) of 16 random bytes')),
  });

export interface ExternalJoinDeps {
  settings: Pick<ExternalJoinSettings, 'CLUSTER_ID' | 'SERVER_URL' | 'INDEX_MAX_AGE_SECONDS' | 'ATTESTATION_MAX_AGE_SECONDS'>;
  /** The token checker with `audience: joinAudience(clusterId)`. */
  checkCredential: (credential: string) => Promise<TokenCheckResult>;
  /** Stake records and the pool's node minimum, as the indexer wrote them. */
  stakes: Pick<TokenIndexReader, 'readItems'>;
  registry: Pick<NodeRegistry, 'getNode' | 'listBootstrapPool' | 'admit'>;
  cipher: JoinTokenCipher;
  attestations: Pick<AttestationRecordStore, 'getLatest'>;
  platformSettings: PlatformSettingsSource;
  rateLimiter: JoinRateLimiter;
  now?: () => Date;
}

class RateLimited extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`this stake admitted its allowance of new nodes recently; retry in ${retryAfterSeconds} s`);
  }
}

const forbidden = (code: string, message: string) => new HttpError(403, code, message);

export function createHandler(deps: ExternalJoinDeps): (event: APIGatewayProxyEventV2) => Promise<HttpResult> {
  const { settings } = deps;
  const now = deps.now ?? (() => new Date());

  const join = async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
    const { credential, requestId } = parseJsonBody(event, BodySchema);
    // A backend outage or a stale index here or below is the shared 503 (withHttpErrors).
    const identity = await checkJoinCredential(deps.checkCredential, credential);

    const at = now();
    const capacity = await stakeCapacity(deps.stakes, identity.stakeId, {
      nowMs: at.getTime(),
      freshness: { maxAgeMs: settings.INDEX_MAX_AGE_SECONDS * 1000, onStale: countIndexStale },
    });
    // The token check saw the stake active an instant ago; these only catch a change in between.
    if (!capacity.ok && capacity.reason === 'stake_inactive') throw new HttpError(401, 'stake_inactive', capacity.message);
    if (!capacity.ok) throw forbidden('not_node_tier', capacity.message);

    const attested = await deps.attestations.getLatest();
    const ageMs = attested ? at.getTime() - Date.parse(attested.timestamp) : Infinity;
    // The CLI verifies this document with its own age bound: an old one would only fail there.
    if (!attested || !(ageMs <= settings.ATTESTATION_MAX_AGE_SECONDS * 1000)) {
      throw new HttpError(503, 'no_attestation', 'no fresh verified attestation of the control-plane enclave; retry later');
    }
    const platform = await deps.platformSettings.current();
    const serves = servesCluster(attested, platform.digest);
    if (!serves.ok) throw forbidden(serves.reason, serves.message);

    const nodeName = externalNodeName(identity.stakeId, requestId);
    const admission = await admitNode(
      { clusterId: settings.CLUSTER_ID, registry: deps.registry, cipher: deps.cipher },
      {
        candidate: { name: nodeName, stakeId: identity.stakeId, kind: 'external', autoScalingGroup: '', tokenId: identity.tokenId, requestId },
        maxNodes: capacity.maxNodes,
        attestedCaPem: attested.caCertPem,
        now: at,
        // A retry of an admitted request is answered again without counting: it takes nothing.
        beforeNewAdmission: async () => {
          const decision = await deps.rateLimiter.take(identity.stakeId, at);
          if (!decision.allowed) throw new RateLimited(Math.ceil(decision.retryAfterMs / 1000));
        },
      },
    );
    if (!admission.ok) {
      // Retryable: the enclave refills the pool continuously.
      if (admission.reason === 'no_join_token') throw new HttpError(503, admission.reason, admission.message);
      throw forbidden(admission.reason, admission.message);
    }
    const { entry, secret } = admission;
    logger.info(admission.again ? 'external node admission answered again' : 'external node admitted', {
      nodeName,
      stakeId: identity.stakeId,
      sealTokenId: identity.tokenId,
      bootstrapTokenId: entry.tokenId,
    });
    return json(200, {
      server: settings.SERVER_URL,
      token: formatJoinToken(attested.caCertPem, entry.tokenId, secret),
      // The CA itself, so the CLI can tie the token's PEM hash to the attested DER hash without a /cacerts fetch.
      caCertPem: attested.caCertPem,
      expiresAt: entry.expiresAt,
      nodeName,
      labels: nodeLabels(identity.stakeId, 'external'),
      taints: [EXTERNAL_NODE_TAINT],
      k3sVersion: K3S_RELEASE.version,
      attestation: attestationDetail(attested),
    });
  };

  return withHttpErrors(async (event) => {
    try {
      return await join(event);
    } catch (error) {
      if (error instanceof RateLimited) {
        logger.warn('external node join refused', { reason: 'rate_limited', retryAfterSeconds: error.retryAfterSeconds });
        const result = errorResult(429, 'rate_limited', error.message, { retryAfterSeconds: error.retryAfterSeconds });
        return { ...result, headers: { ...result.headers, 'retry-after': String(error.retryAfterSeconds) } };
      }
      // Operators see why a machine stayed out; never the credential or a token.
      if (error instanceof HttpError) logger.warn('external node join refused', { reason: error.code, detail: error.message });
      throw error;
    }
  }, logUnexpected);
}

let live: ReturnType<typeof createHandler> | undefined;

export const handler = (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  if (!live) {
    const settings = readEnv(EXTERNAL_JOIN_ENV);
    const clientConfig = awsClientConfig('node-external-join');
    const db = new DynamoDBClient(clientConfig);
    const kms = new KMSClient(clientConfig);
    // A kubectl credential (aud = cluster id) is `wrong_audience` here, and a join credential at the webhook.
    const checker = tokenCheckerFromEnv(settings, db, countIndexStale, joinAudience(settings.CLUSTER_ID));
    live = createHandler({
      settings,
      checkCredential: (credential) => checker.check(credential),
      stakes: new DynamoIndexRepository({ tableName: settings.TABLE_NAME, client: db }),
      registry: new NodeRegistry(db, settings.TABLE_NAME),
      cipher: new KmsJoinTokenCipher(kms, settings.JOIN_TOKEN_KEY_ARN),
      attestations: new DynamoAttestationRecordStore({ tableName: settings.TABLE_NAME, client: db }),
      platformSettings: new EnvPlatformSettings(settings, kms),
      rateLimiter: new DynamoJoinRateLimiter(db, settings.TABLE_NAME, {
        limit: settings.JOIN_RATE_LIMIT,
        windowMs: settings.JOIN_RATE_WINDOW_SECONDS * 1000,
      }),
    });
  }
  return live(event);
};
