// The RBAC manifest shipped in the enclave image gives every group the token checker can emit a
// meaning, binds nothing to `system:` subjects, and only references roles that exist.
import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROLES, TIER_PERMISSIONS } from '../../../lambdas/shared/sui/roles';
import { groupsFor } from '../../../lambdas/shared/credentials/token-check';

interface Subject { apiGroup?: string; kind: string; name: string; namespace?: string }
interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  roleRef?: { apiGroup: string; kind: string; name: string };
  subjects?: Subject[];
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  aggregationRule?: unknown;
}

const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');
const file = path.join(REPO_ROOT, 'enclave', 'rbac', 'k3s-daas-rbac.yaml');
const parsed = parseAllDocuments(fs.readFileSync(file, 'utf8'));
const docs = parsed.map((d) => d.toJS() as Doc).filter(Boolean);
const roles = docs.filter((d) => d.kind === 'ClusterRole');
const bindings = docs.filter((d) => d.kind === 'ClusterRoleBinding');
/** Roles every Kubernetes (and K3s) API server bootstraps. */
const BUILT_IN = ['view', 'edit', 'admin', 'cluster-admin'];

function rolesOfGroup(group: string): string[] {
  return bindings.filter((b) => b.subjects?.some((s) => s.kind === 'Group' && s.name === group)).map((b) => b.roleRef!.name);
}

describe('enclave/rbac/k3s-daas-rbac.yaml', () => {
  it('parses as YAML: only RBAC v1 ClusterRoles and ClusterRoleBindings', () => {
    expect(parsed.every((d) => d.errors.length === 0)).toBe(true);
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(doc.apiVersion).toBe('rbac.authorization.k8s.io/v1');
      expect(['ClusterRole', 'ClusterRoleBinding']).toContain(doc.kind);
      expect(doc.metadata.name.startsWith('k3s-daas:')).toBe(true);
    }
    expect(new Set(docs.map((d) => `${d.kind}/${d.metadata.name}`)).size).toBe(docs.length);
  });

  it('binds every group the token checker emits for every role tier', () => {
    for (const role of ROLES) {
      for (const group of groupsFor(role, TIER_PERMISSIONS[role])) {
        expect({ group, roles: rolesOfGroup(group).length > 0 }).toEqual({ group, roles: true });
      }
    }
  });

  it('gives each tier what it is for: user reads, node operates nodes, admin is cluster-admin, write edits', () => {
    expect(rolesOfGroup('k3s-daas:user')).toEqual(['k3s-daas:read']);
    expect(rolesOfGroup('k3s-daas:perm:read')).toEqual(['k3s-daas:read']);
    expect(rolesOfGroup('k3s-daas:node').sort()).toEqual(['k3s-daas:node-operator', 'k3s-daas:read']);
    expect(rolesOfGroup('k3s-daas:perm:node:write')).toEqual(['k3s-daas:node-operator']);
    expect(rolesOfGroup('k3s-daas:perm:write')).toEqual(['k3s-daas:write']);
    expect(rolesOfGroup('k3s-daas:admin')).toEqual(['cluster-admin']);
    expect(rolesOfGroup('k3s-daas:perm:admin')).toEqual(['cluster-admin']);
  });

  it('read-only roles never write and never read Secrets', () => {
    const readOnly = roles.filter((r) => r.metadata.name === 'k3s-daas:read-cluster-scoped');
    expect(readOnly).toHaveLength(1);
    for (const rule of readOnly[0].rules ?? []) {
      expect(rule.verbs.every((v) => ['get', 'list', 'watch'].includes(v))).toBe(true);
      expect(rule.resources).not.toContain('secrets');
      expect(rule.resources).not.toContain('*');
    }
    expect(roles.find((r) => r.metadata.name === 'k3s-daas:read')?.aggregationRule).toEqual({
      clusterRoleSelectors: [{ matchLabels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } }, { matchLabels: { 'k3s-daas.io/aggregate-to-read': 'true' } }],
    });
  });

  it('no binding grants anything to a system: subject, a user or a service account; only k3s-daas: groups', () => {
    for (const binding of bindings) {
      expect(binding.subjects?.length).toBeGreaterThan(0);
      for (const subject of binding.subjects!) {
        expect(subject.name.startsWith('system:')).toBe(false);
        expect(subject.kind).toBe('Group');
        expect(subject.name).toMatch(/^k3s-daas:/);
      }
    }
  });

  it('every binding references a role defined here or built into Kubernetes', () => {
    const defined = new Set(roles.map((r) => r.metadata.name));
    for (const binding of bindings) {
      expect(binding.roleRef?.kind).toBe('ClusterRole');
      expect(defined.has(binding.roleRef!.name) || BUILT_IN.includes(binding.roleRef!.name)).toBe(true);
    }
  });
});
