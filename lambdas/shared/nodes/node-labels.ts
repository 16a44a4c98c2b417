// What the platform stamps on a node (issue 15): its stake as two label halves, its kind, and for an
// operator's own machine a taint that keeps tenants' pods off it unless they tolerate it. The join route
// assigns them, the CLI starts the agent with them, and the in-cluster admission policy insists on them.
import { createHash } from 'node:crypto';
import type { NodeKind } from '../index/index-model';

export const STAKE_ID_HI_LABEL = 'k3s-daas.io/stake-id-hi';
export const STAKE_ID_LO_LABEL = 'k3s-daas.io/stake-id-lo';
export const NODE_KIND_LABEL = 'k3s-daas.io/node-kind';
/** In kubelet `--register-with-taints` form: external nodes run only pods that tolerate it. */
export const EXTERNAL_NODE_TAINT = 'k3s-daas.io/external=true:NoSchedule';

const SUI_ID = /^0x[0-9a-f]{64}$/;

/**
 * A Sui id has 66 characters and a label value at most 63, so the stake id is two labels of 32 hex digits
 * each (the worker user data writes the same two).
 */
export function stakeIdLabels(stakeId: string): Record<string, string> {
  if (!SUI_ID.test(stakeId)) throw new Error('stakeId must be 0x followed by 64 lowercase hex characters');
  return { [STAKE_ID_HI_LABEL]: stakeId.slice(2, 34), [STAKE_ID_LO_LABEL]: stakeId.slice(34) };
}

/** Labels of a node of `kind` under `stakeId`. */
export function nodeLabels(stakeId: string, kind: NodeKind): Record<string, string> {
  return { ...stakeIdLabels(stakeId), [NODE_KIND_LABEL]: kind };
}

/** `ext-<12 hex of the stake>-<8 hex>`: a DNS-1123 label (lowercase alphanumerics and dashes, 25 characters). */
export const EXTERNAL_NODE_NAME_PATTERN = /^ext-[0-9a-f]{12}-[0-9a-f]{8}$/;

/**
 * The name of the external node a join request admits: derived from the stake and the client's request id,
 * so a retry of the same request names the same node (and finds its record), while a new request gets a new
 * name. The record's create condition means a name is admitted at most once, ever: a request id used
 * again after its node left is `already_joined`, never a second life for that name.
 */
export function externalNodeName(stakeId: string, requestId: string): string {
  if (!SUI_ID.test(stakeId)) throw new Error('stakeId must be 0x followed by 64 lowercase hex characters');
  const digest = createHash('sha256').update(`k3s-daas-external-node\n${stakeId}\n${requestId}`, 'utf8').digest('hex');
  return `ext-${stakeId.slice(2, 14)}-${digest.slice(0, 8)}`;
}
