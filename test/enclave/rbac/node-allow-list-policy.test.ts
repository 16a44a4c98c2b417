// The allow-list admission policy (issue 15), evaluated with a CEL engine on the requests kube-apiserver
// would hand it: match condition, then the variables in order, then every validation, with the ConfigMap the
// reconciler writes (its own allowListData, so the format has one copy) as `params`. The same policy runs
// against the real kube-apiserver in test/e2e/nodes.e2e.ts.
import { describe, expect, it } from '@jest/globals';
import { evaluate } from '@marcbachmann/cel-js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { allowListData, ROSTER_CONFIGMAP, type RosterNode } from '../../../enclave/src/supervisor/node-reconciler';

const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');
const docs = parseAllDocuments(fs.readFileSync(path.join(REPO_ROOT, 'enclave', 'rbac', 'k3s-daas-node-allow-list-policy.yaml'), 'utf8')).map((d) => d.toJS());
const policy = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy' && d.metadata.name === 'k3s-daas-node-allow-list');
const binding = docs.find((d) => d.kind === 'ValidatingAdmissionPolicyBinding' && d.metadata.name === 'k3s-daas-node-allow-list');
const guard = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy' && d.metadata.name === 'k3s-daas-node-roster-kept');
const guardBinding = docs.find((d) => d.kind === 'ValidatingAdmissionPolicyBinding' && d.metadata.name === 'k3s-daas-node-roster-kept');

const STAKE = '0x' + 'a1'.repeat(32);
const OTHER = '0x' + 'b2'.repeat(32);
const ASG = 'i-0abcdef0123456789';
const EXT = 'ext-a1a1a1a1a1a1-0badc0de';
const roster: RosterNode[] = [{ name: ASG, kind: 'asg', stakeId: STAKE }, { name: EXT, kind: 'external', stakeId: STAKE }];
const params = { data: allowListData(roster) };

const stakeLabels = (stake: string) => ({ 'k3s-daas.io/stake-id-hi': stake.slice(2, 34), 'k3s-daas.io/stake-id-lo': stake.slice(34) });
const EXTERNAL_TAINT = { key: 'k3s-daas.io/external', value: 'true', effect: 'NoSchedule' };
const nodeObject = (name: string, labels: Record<string, string>, taints?: unknown[]) => ({ metadata: { name, labels }, spec: taints ? { taints } : {} });
const externalNode = (name = EXT, over: { labels?: Record<string, string>; taints?: unknown[] } = {}) =>
  nodeObject(name, over.labels ?? { ...stakeLabels(STAKE), 'k3s-daas.io/node-kind': 'external' }, over.taints ?? [EXTERNAL_TAINT]);

type Operation = 'CREATE' | 'UPDATE' | 'DELETE';
interface Req {
  as: string;
  operation: Operation;
  resource?: { group: string; resource: string };
  subResource?: string;
  object?: unknown;
  oldObject?: unknown;
  params?: unknown;
}

/** Allowed unless matched and some validation is false or errors (failurePolicy Fail: an error denies). */
function admits(r: Req): boolean {
  const request = { operation: r.operation, userInfo: { username: r.as, groups: r.as.startsWith('system:node:') ? ['system:nodes', 'system:authenticated'] : [] },
    resource: { version: 'v1', ...(r.resource ?? { group: '', resource: 'nodes' }) }, subResource: r.subResource ?? '' };
  const vars: Record<string, unknown> = { request, object: r.object ?? null, oldObject: r.oldObject ?? null, params: r.params === undefined ? params : r.params };
  if (!policy.spec.matchConditions.every((c: { expression: string }) => evaluate(c.expression, vars) === true)) return true;
  const variables: Record<string, unknown> = {};
  vars.variables = variables;
  try {
    for (const v of policy.spec.variables as { name: string; expression: string }[]) variables[v.name] = evaluate(v.expression, vars);
    return policy.spec.validations.every((v: { expression: string }) => evaluate(v.expression, vars) === true);
  } catch {
    return false;
  }
}

const asNode = (name: string) => `system:node:${name}`;

describe('the node allow-list policy', () => {
  it('denies, fails closed, reads the reconciler\'s ConfigMap and treats a missing one as no admission', () => {
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.paramKind).toEqual({ apiVersion: 'v1', kind: 'ConfigMap' });
    expect(binding.spec).toEqual({
      policyName: policy.metadata.name, validationActions: ['Deny'],
      paramRef: { name: ROSTER_CONFIGMAP.name, namespace: ROSTER_CONFIGMAP.namespace, parameterNotFoundAction: 'Deny' },
    });
    expect(policy.spec.matchConstraints.resourceRules).toEqual([{ apiGroups: ['*'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['*/*'] }]);
  });

  it('ships the ConfigMap first and without data (applied before the policy; re-applying never clears the roster), and nobody may delete it', () => {
    expect(docs[0]).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROSTER_CONFIGMAP.name, namespace: ROSTER_CONFIGMAP.namespace, labels: { 'app.kubernetes.io/managed-by': 'k3s-daas' } } });
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
    expect(guard.spec.matchConstraints.resourceRules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['DELETE'], resources: ['configmaps'], resourceNames: [ROSTER_CONFIGMAP.name] }]);
    expect(guardBinding.spec).toEqual({ policyName: guard.metadata.name, validationActions: ['Deny'] });
    const deletes = (namespace: string) => guard.spec.validations.every((v: { expression: string }) => evaluate(v.expression, { request: { namespace } }) === true);
    expect(deletes(ROSTER_CONFIGMAP.namespace)).toBe(false);
    expect(deletes('tenant')).toBe(true);
  });

  it('lets a rostered ASG node register and update its Node with its stake labels, and write its pods and lease', () => {
    const node = nodeObject(ASG, stakeLabels(STAKE));
    expect(admits({ as: asNode(ASG), operation: 'CREATE', object: node })).toBe(true);
    expect(admits({ as: asNode(ASG), operation: 'UPDATE', subResource: 'status', object: node, oldObject: node })).toBe(true);
    expect(admits({ as: asNode(ASG), operation: 'UPDATE', resource: { group: '', resource: 'pods' }, subResource: 'status', object: {}, oldObject: {} })).toBe(true);
    expect(admits({ as: asNode(ASG), operation: 'DELETE', resource: { group: '', resource: 'pods' }, oldObject: {} })).toBe(true);
    expect(admits({ as: asNode(ASG), operation: 'UPDATE', resource: { group: 'coordination.k8s.io', resource: 'leases' }, object: {}, oldObject: {} })).toBe(true);
  });

  it('lets a rostered external node register only with its label and taint', () => {
    expect(admits({ as: asNode(EXT), operation: 'CREATE', object: externalNode() })).toBe(true);
    // Extra taints and labels of its own are fine.
    expect(admits({ as: asNode(EXT), operation: 'CREATE', object: externalNode(EXT, { taints: [{ key: 'gpu', effect: 'NoSchedule' }, EXTERNAL_TAINT] }) })).toBe(true);
    expect(admits({ as: asNode(EXT), operation: 'CREATE', object: externalNode(EXT, { taints: [] }) })).toBe(false);
    expect(admits({ as: asNode(EXT), operation: 'CREATE', object: nodeObject(EXT, { ...stakeLabels(STAKE), 'k3s-daas.io/node-kind': 'external' }) })).toBe(false);
    expect(admits({ as: asNode(EXT), operation: 'CREATE', object: externalNode(EXT, { taints: [{ ...EXTERNAL_TAINT, effect: 'PreferNoSchedule' }] }) })).toBe(false);
    expect(admits({ as: asNode(EXT), operation: 'CREATE', object: externalNode(EXT, { taints: [{ key: EXTERNAL_TAINT.key, effect: 'NoSchedule' }] }) })).toBe(false);
    expect(admits({ as: asNode(EXT), operation: 'CREATE', object: externalNode(EXT, { labels: stakeLabels(STAKE) }) })).toBe(false);
    expect(admits({ as: asNode(EXT), operation: 'UPDATE', object: externalNode(EXT, { labels: { ...stakeLabels(STAKE), 'k3s-daas.io/node-kind': 'asg' } }), oldObject: externalNode() })).toBe(false);
    // Stripping the taint on a later update is refused like a registration without it.
    expect(admits({ as: asNode(EXT), operation: 'UPDATE', object: externalNode(EXT, { taints: [] }), oldObject: externalNode() })).toBe(false);
  });

  it('refuses the stake labels of another stake, missing ones, and a Node of another name', () => {
    expect(admits({ as: asNode(ASG), operation: 'CREATE', object: nodeObject(ASG, stakeLabels(OTHER)) })).toBe(false);
    expect(admits({ as: asNode(ASG), operation: 'CREATE', object: nodeObject(ASG, {}) })).toBe(false);
    expect(admits({ as: asNode(ASG), operation: 'CREATE', object: nodeObject(ASG, { 'k3s-daas.io/stake-id-hi': stakeLabels(STAKE)['k3s-daas.io/stake-id-hi'] }) })).toBe(false);
    expect(admits({ as: asNode(EXT), operation: 'CREATE', object: externalNode(EXT, { labels: { ...stakeLabels(OTHER), 'k3s-daas.io/node-kind': 'external' } }) })).toBe(false);
    expect(admits({ as: asNode(ASG), operation: 'CREATE', object: externalNode(EXT) })).toBe(false);
    // An ASG entry is not satisfied by labels that would suit an external entry of the same stake, nor the reverse of the prefix.
    expect(admits({ as: asNode(ASG), operation: 'CREATE', object: nodeObject(ASG, stakeLabels(STAKE)), params: { data: { [ASG]: `external/${STAKE.slice(2)}` } } })).toBe(false);
  });

  it('denies every write of a kubelet that is not rostered: its Node, its pods, its lease, events', () => {
    const stranger = 'i-0fffffffffffffff0';
    expect(admits({ as: asNode(stranger), operation: 'CREATE', object: nodeObject(stranger, stakeLabels(STAKE)) })).toBe(false);
    expect(admits({ as: asNode(stranger), operation: 'UPDATE', subResource: 'status', object: nodeObject(stranger, stakeLabels(STAKE)), oldObject: nodeObject(stranger, stakeLabels(STAKE)) })).toBe(false);
    expect(admits({ as: asNode(stranger), operation: 'UPDATE', resource: { group: '', resource: 'pods' }, subResource: 'status', object: {}, oldObject: {} })).toBe(false);
    expect(admits({ as: asNode(stranger), operation: 'DELETE', resource: { group: '', resource: 'pods' }, oldObject: {} })).toBe(false);
    expect(admits({ as: asNode(stranger), operation: 'CREATE', resource: { group: 'coordination.k8s.io', resource: 'leases' }, object: {} })).toBe(false);
    expect(admits({ as: asNode(stranger), operation: 'CREATE', resource: { group: '', resource: 'events' }, object: {} })).toBe(false);
  });

  it('denies everything when the ConfigMap holds no data, and a rostered name never matches a longer or shorter one', () => {
    expect(admits({ as: asNode(ASG), operation: 'CREATE', object: nodeObject(ASG, stakeLabels(STAKE)), params: {} })).toBe(false);
    expect(admits({ as: asNode(ASG), operation: 'CREATE', object: nodeObject(ASG, stakeLabels(STAKE)), params: { data: {} } })).toBe(false);
    expect(admits({ as: asNode(`${ASG}x`), operation: 'CREATE', object: nodeObject(`${ASG}x`, stakeLabels(STAKE)) })).toBe(false);
    expect(admits({ as: asNode(ASG.slice(0, -1)), operation: 'CREATE', object: nodeObject(ASG.slice(0, -1), stakeLabels(STAKE)) })).toBe(false);
  });

  it('does not match anyone who is not a kubelet (admins, operators, the reconciler itself)', () => {
    for (const as of ['system:admin', 'sui:0x1', 'system:serviceaccount:kube-system:default', 'system:nodes']) {
      expect(admits({ as, operation: 'DELETE', oldObject: nodeObject(ASG, {}) })).toBe(true);
    }
  });
});
