// The attestation route group in the synthesized Api stack: routes and their auth, least-privilege
// grants, and the expected PCRs taken from the same pcrs.json as the cluster-state key.
import { describe, expect, it } from '@jest/globals';
import type { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'node:fs';
import { FIXTURE_PCRS, synthPlatform } from '../../support/cdk-app';

type Resource = { Type: string; Properties: Record<string, unknown> };

function functionByHandler(template: Template, description: string): [string, Resource] {
  const found = Object.entries(template.findResources('AWS::Lambda::Function', { Properties: { Description: description } }));
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
}

function statementsOfRole(template: Template, fnId: string): Record<string, unknown>[] {
  const fn = template.toJSON().Resources[fnId];
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}

const actionsOf = (statements: Record<string, unknown>[]) => statements.flatMap((s) => [s.Action].flat() as string[]);

describe('attestation routes', () => {
  const platform = synthPlatform();
  const api = platform.template('api');
  const pcrs = JSON.parse(fs.readFileSync(FIXTURE_PCRS, 'utf8'));

  it('POST /v1/attestation is IAM-authorized; /v1/issuer and /v1/kubeconfig are public', () => {
    api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /v1/attestation', AuthorizationType: 'AWS_IAM' });
    api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /v1/issuer', AuthorizationType: 'NONE' });
    api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /v1/kubeconfig', AuthorizationType: 'NONE' });
  });

  it('only the master role may invoke the attestation route, and only that route', () => {
    const invokePolicies = Object.values(api.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.PolicyDocument).includes('execute-api:Invoke') && JSON.stringify(p.Properties.PolicyDocument).includes('/v1/attestation'),
    );
    expect(invokePolicies).toHaveLength(1);
    const policy = invokePolicies[0].Properties;
    expect(policy.Roles).toHaveLength(1);
    expect(JSON.stringify(policy.Roles)).toMatch(/RefMasterRole/);
    const statements = policy.PolicyDocument.Statement as { Resource: unknown }[];
    expect(statements).toHaveLength(1);
    expect(JSON.stringify(statements[0].Resource)).toContain('/POST/v1/attestation');
    expect(JSON.stringify(statements[0].Resource)).not.toContain('kubeconfig');
  });

  it('the attestation and issuer functions get the expected PCRs of pcrs.json', () => {
    const expected = JSON.stringify({ 0: pcrs.PCR0, 1: pcrs.PCR1, 2: pcrs.PCR2 });
    for (const description of ['POST /v1/attestation: verify and record the enclave attestation', 'GET /v1/issuer: kubeconfig signing key, expected PCRs, latest attestation']) {
      const [, fn] = functionByHandler(api, description);
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.EXPECTED_PCRS).toBe(expected);
    }
  });

  it('without an enclave build the functions are told there are no expected PCRs (fail closed)', () => {
    const bare = synthPlatform({ withBuild: false }).template('api');
    const [, fn] = functionByHandler(bare, 'POST /v1/attestation: verify and record the enclave attestation');
    expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.EXPECTED_PCRS).toBe('none');
  });

  it('the kubeconfig function gets the server URL and the configured maximum attestation age', () => {
    const [, fn] = functionByHandler(api, 'POST /v1/kubeconfig: KMS-signed kubeconfig for an attested cluster');
    const vars = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(vars.ATTESTATION_MAX_AGE_SECONDS).toBe(String(platform.config.attestationMaxAgeMinutes * 60));
    expect(JSON.stringify(vars.SERVER_URL)).toContain(':6443');
    expect(vars.KUBECONFIG_SIGNING_KEY_ARN).toBeDefined();
  });

  it('every function of the group gets the platform settings the enclave must attest, from the resources the host agent is told about', () => {
    for (const description of [
      'POST /v1/attestation: verify and record the enclave attestation',
      'GET /v1/issuer: kubeconfig signing key, expected PCRs, latest attestation',
      'POST /v1/kubeconfig: KMS-signed kubeconfig for an attested cluster',
    ]) {
      const [, fn] = functionByHandler(api, description);
      const vars = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(JSON.stringify(vars.API_URL)).toContain('execute-api');
      expect(JSON.stringify(vars.CLUSTER_STATE_KEY_ID)).toMatch(/ClusterStateKey/);
      expect(JSON.stringify(vars.JOIN_TOKEN_KEY_ID)).toMatch(/JoinTokenKey/);
      expect(JSON.stringify(vars.KUBECONFIG_SIGNING_KEY_ARN)).toMatch(/KubeconfigSigningKey/);
      expect(JSON.stringify(vars.SERVER_URL)).toContain(':6443');
    }
  });

  it('kms:Sign only for the kubeconfig function; kms:GetPublicKey (the settings digest binds the key) for all three; on the signing key only', () => {
    const [kubeconfigId] = functionByHandler(api, 'POST /v1/kubeconfig: KMS-signed kubeconfig for an attested cluster');
    const [issuerId] = functionByHandler(api, 'GET /v1/issuer: kubeconfig signing key, expected PCRs, latest attestation');
    const [attestationId] = functionByHandler(api, 'POST /v1/attestation: verify and record the enclave attestation');
    const kms = (id: string) => statementsOfRole(api, id).filter((s) => actionsOf([s]).some((a) => a.startsWith('kms:')));
    expect(actionsOf(kms(kubeconfigId)).sort()).toEqual(['kms:GetPublicKey', 'kms:Sign']);
    expect(actionsOf(kms(issuerId))).toEqual(['kms:GetPublicKey']);
    expect(actionsOf(kms(attestationId))).toEqual(['kms:GetPublicKey']);
    for (const s of [...kms(kubeconfigId), ...kms(issuerId), ...kms(attestationId)]) {
      expect(JSON.stringify(s.Resource)).toMatch(/KubeconfigSigningKey/);
    }
  });

  it('table access is limited to the items each function reads or writes', () => {
    const [kubeconfigId] = functionByHandler(api, 'POST /v1/kubeconfig: KMS-signed kubeconfig for an attested cluster');
    const [attestationId] = functionByHandler(api, 'POST /v1/attestation: verify and record the enclave attestation');
    const dynamo = (id: string) => statementsOfRole(api, id).filter((s) => actionsOf([s]).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo(attestationId)).toEqual([
      expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['ATTESTATION'] } } }),
    ]);
    expect(dynamo(kubeconfigId)).toEqual([
      expect.objectContaining({ Action: 'dynamodb:GetItem', Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['ATTESTATION'] } } }),
      expect.objectContaining({
        Action: 'dynamodb:BatchGetItem', Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TOKEN#*', 'STAKE#*', 'POOL', 'ADMIN#*', 'INDEXER'] } },
      }),
      expect.objectContaining({ Action: 'dynamodb:GetItem', Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TOKEN#*'] } } }),
    ]);
  });
});
