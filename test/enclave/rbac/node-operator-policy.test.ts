// The admission policy that limits node operators to their own nodes, evaluated with a CEL engine on
// the requests the API server would hand it (match conditions first, then every validation).
import { describe, expect, it } from '@jest/globals';
import { evaluate } from '@marcbachmann/cel-js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { groupsFor } from '../../../lambdas/shared/credentials/token-check';
import { TIER_PERMISSIONS } from '../../../lambdas/shared/sui/roles';

const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');
const docs = parseAllDocuments(fs.readFileSync(path.join(REPO_ROOT, 'enclave', 'rbac', 'k3s-daas-node-operator-policy.yaml'), 'utf8')).map((d) => d.toJS());
const policy = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy');
const binding = docs.find((d) => d.kind === 'ValidatingAdmissionPolicyBinding');

const MINE = '0x' + 'a1'.repeat(32);
const THEIRS = '0x' + 'b2'.repeat(32);
// The worker bootstrap's labels: the stake id's two 32-hex-digit halves (a label value holds at most 63 characters).
const node = (stake?: string) => ({ metadata: { name: 'i-0abc', labels: stake ? { 'k3s-daas.io/stake-id-hi': stake.slice(2, 34), 'k3s-daas.io/stake-id-lo': stake.slice(34) } : {} } });
const user = (groups: string[], stake = MINE) => ({ username: 'sui:0x1', groups, extra: { 'k3s-daas.io/stake-id': [stake] } });
const operator = user(groupsFor('node', TIER_PERMISSIONS.node));
const admin = user(groupsFor('admin', TIER_PERMISSIONS.admin));

/** allowed unless matched and some validation is false (failurePolicy Fail: an error denies). */
function admits(request: { operation: 'UPDATE' | 'DELETE'; userInfo: unknown }, oldObject: unknown, object: unknown): boolean {
  const vars = { request, oldObject, object };
  const matched = policy.spec.matchConditions.every((c: { expression: string }) => evaluate(c.expression, vars) === true);
  if (!matched) return true;
  return policy.spec.validations.every((v: { expression: string }) => {
    try {
      return evaluate(v.expression, vars) === true;
    } catch {
      return false;
    }
  });
}

describe('node operators may only change their own nodes', () => {
  it('is bound to deny, and fails closed', () => {
    expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ['Deny'] });
    expect(policy.spec.failurePolicy).toBe('Fail');
  });

  it('lets an operator cordon or delete a node of their stake', () => {
    const cordoned = { ...node(MINE), spec: { unschedulable: true } };
    expect(admits({ operation: 'UPDATE', userInfo: operator }, node(MINE), cordoned)).toBe(true);
    expect(admits({ operation: 'DELETE', userInfo: operator }, node(MINE), null)).toBe(true);
  });

  it("refuses another stake's node, an unlabelled node, and moving the label", () => {
    expect(admits({ operation: 'UPDATE', userInfo: operator }, node(THEIRS), node(THEIRS))).toBe(false);
    expect(admits({ operation: 'DELETE', userInfo: operator }, node(THEIRS), null)).toBe(false);
    expect(admits({ operation: 'DELETE', userInfo: operator }, node(), null)).toBe(false);
    expect(admits({ operation: 'UPDATE', userInfo: operator }, node(MINE), node(THEIRS))).toBe(false);
    expect(admits({ operation: 'UPDATE', userInfo: operator }, node(MINE), node())).toBe(false);
  });

  it("refuses removing an external node's node-kind label or taint (what keeps tenants' pods off it); other taints are free", () => {
    const taint = { key: 'k3s-daas.io/external', value: 'true', effect: 'NoSchedule' };
    const external = (labels: Record<string, string>, taints: unknown[]) => ({ metadata: { ...node(MINE).metadata, labels: { ...node(MINE).metadata.labels, ...labels } }, spec: { taints } });
    const before = external({ 'k3s-daas.io/node-kind': 'external' }, [taint]);
    expect(admits({ operation: 'UPDATE', userInfo: operator }, before, external({ 'k3s-daas.io/node-kind': 'external' }, [taint, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]))).toBe(true);
    expect(admits({ operation: 'UPDATE', userInfo: operator }, before, external({}, [taint]))).toBe(false);
    expect(admits({ operation: 'UPDATE', userInfo: operator }, before, external({ 'k3s-daas.io/node-kind': 'asg' }, [taint]))).toBe(false);
    expect(admits({ operation: 'UPDATE', userInfo: operator }, before, external({ 'k3s-daas.io/node-kind': 'external' }, []))).toBe(false);
    expect(admits({ operation: 'UPDATE', userInfo: operator }, before, external({ 'k3s-daas.io/node-kind': 'external' }, [{ ...taint, effect: 'PreferNoSchedule' }]))).toBe(false);
    expect(admits({ operation: 'DELETE', userInfo: operator }, before, null)).toBe(true);
  });

  it('refuses an operator whose identity carries no stake id', () => {
    expect(admits({ operation: 'DELETE', userInfo: { username: 'sui:0x1', groups: operator.groups, extra: {} } }, node(MINE), null)).toBe(false);
  });

  it('does not limit admins, nor users outside the node tier (RBAC already stops them)', () => {
    expect(admits({ operation: 'DELETE', userInfo: admin }, node(THEIRS), null)).toBe(true);
    expect(admits({ operation: 'DELETE', userInfo: user(['system:nodes']) }, node(THEIRS), null)).toBe(true);
  });
});
