// How the credential-authenticated node routes (`/v1/nodes/external/join` and `/leave`) authenticate: a
// join credential (DESIGN §5 format, `aud = joinAudience(clusterId)`) checked like every credential, and
// then only node-tier tokens are callers at all.
import type { Identity, TokenCheckResult } from '../credentials/token-check';
import { HttpError } from '../runtime/http';

/** A credential is a few hundred bytes (zkLogin ones a few KiB); the kubeconfig route allows the same. */
export const JOIN_CREDENTIAL_MAX_LENGTH = 8192;

/**
 * The caller's identity, or a refusal: 401 with the token check's reason (`wrong_audience` for a kubectl
 * credential, `stake_inactive`, `token_revoked`, …), except `stake_insufficient`, which is 403 as when the
 * stake's capacity is used up (the stake covers no node); 403 `not_node_tier` for a user or admin token.
 */
export async function checkJoinCredential(check: (credential: string) => Promise<TokenCheckResult>, credential: string): Promise<Identity> {
  const result = await check(credential);
  if (!result.ok) {
    if (result.reason === 'stake_insufficient') throw new HttpError(403, 'stake_insufficient', 'the node stake is below one node minimum');
    throw new HttpError(401, result.reason, 'the join credential was not accepted');
  }
  if (result.identity.role !== 'node') {
    throw new HttpError(403, 'not_node_tier', `a ${result.identity.role}-tier token cannot admit machines; use a node-tier seal token`);
  }
  return result.identity;
}
