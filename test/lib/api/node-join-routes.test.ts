// The worker join/leave wiring in the synthesized templates: IAM join route that only the worker role
// may invoke, the lifecycle rule for this cluster's worker groups, least-privilege grants, the master
// role's bootstrap-token relay rights, and the bootstrap rendered into the worker launch template.
import { describe, expect, it } from '@jest/globals';
import type { Template } from 'aws-cdk-lib/assertions';
import { synthPlatform } from '../../support/cdk-app';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };
type Resource = { Type: string; Properties: Record<string, unknown> };

const JOIN = "POST /v1/nodes/join: admit a worker instance backed by its group's node stake";
const LIFECYCLE = 'Worker scale-in: mark the node gone, complete the terminating lifecycle action once';

function fnByDescription(template: Template, description: string): [string, Resource] {
  const found = Object.entries(template.findResources('AWS::Lambda::Function', { Properties: { Description: description } }));
  expect(found).toHaveLength(1);
  return found[0] as [string, Resource];
}

function statementsOfFunction(template: Template, fnId: string): Statement[] {
  const roleId = (template.toJSON().Resources[fnId].Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

const actions = (s: Statement) => ([] as string[]).concat(s.Action);
const withAction = (statements: Statement[], action: string) => statements.filter((s) => actions(s).includes(action));

describe('node join routes', () => {
  const platform = synthPlatform({ env: 'dev' });
  const api = platform.template('api');
  const config = platform.config;
  const groupName = `k3s-daas-dev-workers-${config.workerGroups[0].name}`;
  const [joinId, joinFn] = fnByDescription(api, JOIN);
  const [lifecycleId] = fnByDescription(api, LIFECYCLE);
  const joinStatements = statementsOfFunction(api, joinId);
  const lifecycleStatements = statementsOfFunction(api, lifecycleId);

  it('POST /v1/nodes/join is IAM-authorized', () => {
    api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /v1/nodes/join', AuthorizationType: 'AWS_IAM' });
  });

  it('the worker role may invoke the join route and nothing else', () => {
    const workerPolicies = Object.values(api.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles).match(/WorkerRole/));
    expect(workerPolicies).toHaveLength(1);
    const statements = workerPolicies[0].Properties.PolicyDocument.Statement as Statement[];
    expect(statements).toHaveLength(1);
    expect(actions(statements[0])).toEqual(['execute-api:Invoke']);
    const resources = [statements[0].Resource].flat();
    expect(resources).toHaveLength(1);
    expect(JSON.stringify(resources[0])).toContain('/$default/POST/v1/nodes/join');
  });

  it('the join function knows the worker role, groups with their node stakes, the server URL and the join key', () => {
    const vars = (joinFn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(vars.WORKER_ROLE_NAME).toBe('k3s-daas-dev-worker');
    expect(JSON.parse(vars.WORKER_GROUPS as string)).toEqual([{ autoScalingGroup: groupName, stakeId: config.workerGroups[0].nodeStakeId }]);
    expect(JSON.stringify(vars.SERVER_URL)).toContain(':6443');
    expect(JSON.stringify(vars.JOIN_TOKEN_KEY_ARN)).toMatch(/JoinTokenKey/);
  });

  it('the join function may decrypt only with the join key and only the bootstrap-token encryption context', () => {
    // Besides: the signing key's public key, part of the platform settings the attestation must match.
    const publicKey = joinStatements.filter((s) => actions(s).includes('kms:GetPublicKey'));
    expect(publicKey).toHaveLength(1);
    expect(actions(publicKey[0])).toEqual(['kms:GetPublicKey']);
    expect(JSON.stringify(publicKey[0].Resource)).toMatch(/KubeconfigSigningKey/);
    const kms = joinStatements.filter((s) => actions(s).some((a) => a.startsWith('kms:') && a !== 'kms:GetPublicKey'));
    expect(kms).toHaveLength(1);
    expect(actions(kms[0])).toEqual(['kms:Decrypt']);
    expect(JSON.stringify(kms[0].Resource)).toMatch(/JoinTokenKey/);
    expect(kms[0].Condition).toEqual({
      StringEquals: { 'kms:EncryptionContext:cluster': config.sui.clusterId, 'kms:EncryptionContext:purpose': 'k3s-bootstrap-token' },
    });
  });

  it('the Auto Scaling describe call is the only Resource "*" grant of the join function, and it has no EC2 grant', () => {
    const star = joinStatements.filter((s) => s.Resource === '*').flatMap(actions).filter((a) => !a.startsWith('xray:'));
    expect(star.sort()).toEqual(['autoscaling:DescribeAutoScalingInstances']);
    expect(joinStatements.flatMap(actions).filter((a) => a.startsWith('ec2:'))).toEqual([]);
  });

  it('table grants are limited to the node, stake, pool-minimum and bootstrap-token items, with no scans and queries of the pool only', () => {
    const leading = (statements: Statement[], action: string) =>
      withAction(statements, action).flatMap((s) => [s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']].flat());
    expect(leading(joinStatements, 'dynamodb:GetItem').sort()).toEqual(['ATTESTATION', 'NODE#*']);
    // The stake, the node minimum and the indexer cursor (index freshness, issue 12 item 7) in one batch.
    expect(leading(joinStatements, 'dynamodb:BatchGetItem').sort()).toEqual(['INDEXER', 'POOL', 'STAKE#*']);
    expect(leading(joinStatements, 'dynamodb:PutItem').sort()).toEqual(['BOOTSTRAP_CLAIM#*', 'NODE#*']);
    expect(leading(joinStatements, 'dynamodb:UpdateItem')).toEqual(['NODECOUNT#*']);
    expect(leading(joinStatements, 'dynamodb:Query')).toEqual(['BOOTSTRAP']);
    expect(leading(joinStatements, 'dynamodb:DeleteItem')).toEqual(['BOOTSTRAP']);
    expect(leading(lifecycleStatements, 'dynamodb:GetItem')).toEqual(['NODE#*']);
    expect(leading(lifecycleStatements, 'dynamodb:PutItem').sort()).toEqual(['LIFECYCLE#*', 'NODE#*']);
    expect(leading(lifecycleStatements, 'dynamodb:UpdateItem').sort()).toEqual(['NODE#*', 'NODECOUNT#*']);
    expect(leading(lifecycleStatements, 'dynamodb:DeleteItem')).toEqual(['LIFECYCLE#*']);
    // Neither function may write stake records (amount, status): a write path on STAKE#* would let it
    // fake the stake that gates admission.
    for (const s of [...joinStatements, ...lifecycleStatements]) {
      const keys = [s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']].flat();
      if (actions(s).some((a) => ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'].includes(a))) {
        expect(keys).not.toContain('STAKE#*');
        expect(keys).not.toContain('POOL');
      }
    }
    for (const s of [...joinStatements, ...lifecycleStatements]) {
      for (const a of actions(s).filter((x) => x.startsWith('dynamodb:'))) {
        expect(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query']).toContain(a);
        expect(s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']).toBeDefined();
      }
    }
  });

  it('the lifecycle function may complete lifecycle actions of this cluster\'s worker groups only', () => {
    const complete = withAction(lifecycleStatements, 'autoscaling:CompleteLifecycleAction');
    expect(complete).toHaveLength(1);
    const resources = [complete[0].Resource].flat();
    expect(resources).toHaveLength(config.workerGroups.length);
    expect(JSON.stringify(resources[0])).toContain(`:autoScalingGroup:*:autoScalingGroupName/${groupName}`);
    expect(lifecycleStatements.flatMap(actions).filter((a) => a.startsWith('kms:') || a.startsWith('ec2:'))).toEqual([]);
  });

  it('an EventBridge rule sends the terminating lifecycle actions of the worker groups to the lifecycle function', () => {
    const rules = Object.values(api.findResources('AWS::Events::Rule')).filter((r) =>
      String(JSON.stringify(r.Properties.EventPattern)).includes('EC2 Instance-terminate Lifecycle Action'),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0].Properties.EventPattern).toEqual({
      source: ['aws.autoscaling'],
      'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
      detail: { AutoScalingGroupName: [groupName], LifecycleHookName: ['k3s-daas-drain-on-terminate'] },
    });
    expect(JSON.stringify(rules[0].Properties.Targets)).toContain(lifecycleId);
  });

  it('the master role may encrypt (never decrypt) under the join key with the bootstrap context and relay only the pool partition, never claims', () => {
    const policies = Object.values(api.findResources('AWS::IAM::Policy')).filter(
      (p) => JSON.stringify(p.Properties.Roles).match(/MasterRole/) && JSON.stringify(p.Properties.PolicyDocument).includes('kms:Encrypt'),
    );
    expect(policies).toHaveLength(1);
    const statements = policies[0].Properties.PolicyDocument.Statement as Statement[];
    expect(statements.map(actions)).toEqual([['kms:Encrypt'], ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:Query']]);
    expect(statements[0].Condition?.StringEquals).toEqual({ 'kms:EncryptionContext:cluster': config.sui.clusterId, 'kms:EncryptionContext:purpose': 'k3s-bootstrap-token' });
    expect(statements[1].Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['BOOTSTRAP'] } });
    // Nothing grants the master role Decrypt on the join key: the host never reads a token secret.
    const masterKms = Object.values(api.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).match(/MasterRole/))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
      .filter((st) => JSON.stringify(st.Resource).match(/JoinTokenKey/));
    expect(masterKms.flatMap(actions)).toEqual(['kms:Encrypt']);
  });

  it('the worker launch template carries the rendered bootstrap with the API URL and no token', () => {
    const templates = Object.values(platform.template('workers').findResources('AWS::EC2::LaunchTemplate'));
    expect(templates).toHaveLength(1);
    const userData = JSON.stringify((templates[0].Properties.LaunchTemplateData as Record<string, unknown>).UserData);
    expect(userData).toContain("readonly STAKE_ID='" + config.workerGroups[0].nodeStakeId);
    expect(userData).toContain("readonly K3S_SHA256_AMD64='" + config.k3s.sha256Amd64);
    expect(userData).toContain('execute-api');
    expect(userData).toContain('K3sDaas-dev-Api'); // the API id, referenced from the Api stack
    expect(userData).not.toMatch(/K10[0-9a-f]{64}/);
    // EC2 accepts at most 16 KiB of user data before base64.
    expect(Buffer.byteLength(userData)).toBeLessThan(16 * 1024);
  });
});

describe('external node routes (issue 15)', () => {
  const platform = synthPlatform({ env: 'dev' });
  const api = platform.template('api');
  const config = platform.config;
  const [joinId, joinFn] = fnByDescription(api, "POST /v1/nodes/external/join: admit an operator's own machine under its node stake");
  const [leaveId, leaveFn] = fnByDescription(api, "POST /v1/nodes/external/leave: mark an operator's node gone and give its slot back");
  const joinStatements = statementsOfFunction(api, joinId);
  const leaveStatements = statementsOfFunction(api, leaveId);
  const leading = (statements: Statement[], action: string) =>
    withAction(statements, action).flatMap((s) => [s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']].flat()).sort();

  it('both routes are public (the join credential in the body is the authentication) and each has its own function', () => {
    for (const [route, fnId] of [['POST /v1/nodes/external/join', joinId], ['POST /v1/nodes/external/leave', leaveId]]) {
      api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: route, AuthorizationType: 'NONE' });
      const integrations = Object.values(api.findResources('AWS::ApiGatewayV2::Integration')).filter((i) => JSON.stringify(i.Properties.IntegrationUri).includes(fnId));
      expect(integrations).toHaveLength(1);
    }
    expect(joinId).not.toBe(leaveId);
  });

  it('the join function knows the server, the join key, the attestation bound, the rate limit and the freshness bound; no worker-role or group settings', () => {
    const vars = (joinFn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(JSON.stringify(vars.SERVER_URL)).toContain(':6443');
    expect(JSON.stringify(vars.JOIN_TOKEN_KEY_ARN)).toMatch(/JoinTokenKey/);
    expect(vars.ATTESTATION_MAX_AGE_SECONDS).toBe(String(config.attestationMaxAgeMinutes * 60));
    expect(vars.JOIN_RATE_LIMIT).toBe('10');
    expect(vars.JOIN_RATE_WINDOW_SECONDS).toBe('600');
    expect(vars.INDEX_MAX_AGE_SECONDS).toBe(String(config.indexer.maxIndexAgeSeconds));
    expect(vars.WORKER_ROLE_NAME).toBeUndefined();
    expect(vars.WORKER_GROUPS).toBeUndefined();
    expect((leaveFn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.JOIN_TOKEN_KEY_ARN).toBeUndefined();
    expect(joinFn.Properties.Timeout).toBe(15);
    expect(leaveFn.Properties.Timeout).toBe(10);
  });

  it('the join function: token-check reads, its admission items and rate item, Decrypt only with the bootstrap context, no EC2 or Auto Scaling', () => {
    expect(leading(joinStatements, 'dynamodb:BatchGetItem')).toEqual(['ADMIN#*', 'INDEXER', 'POOL', 'STAKE#*', 'TOKEN#*']);
    expect(leading(joinStatements, 'dynamodb:GetItem')).toEqual(['ATTESTATION', 'JOINRATE#*', 'NODE#*']);
    expect(leading(joinStatements, 'dynamodb:PutItem')).toEqual(['BOOTSTRAP_CLAIM#*', 'JOINRATE#*', 'NODE#*']);
    expect(leading(joinStatements, 'dynamodb:UpdateItem')).toEqual(['NODECOUNT#*']);
    expect(leading(joinStatements, 'dynamodb:Query')).toEqual(['BOOTSTRAP']);
    expect(leading(joinStatements, 'dynamodb:DeleteItem')).toEqual(['BOOTSTRAP']);
    const kms = joinStatements.filter((s) => actions(s).some((a) => a.startsWith('kms:') && a !== 'kms:GetPublicKey'));
    expect(kms.map(actions)).toEqual([['kms:Decrypt']]);
    expect(kms[0].Condition).toEqual({
      StringEquals: { 'kms:EncryptionContext:cluster': config.sui.clusterId, 'kms:EncryptionContext:purpose': 'k3s-bootstrap-token' },
    });
    const all = joinStatements.flatMap(actions);
    expect(all.filter((a) => a.startsWith('ec2:') || a.startsWith('autoscaling:'))).toEqual([]);
    expect(joinStatements.filter((s) => s.Resource === '*').flatMap(actions).filter((a) => !a.startsWith('xray:'))).toEqual([]);
  });

  it('the leave function: token-check reads, and reading and flipping node records and counters only', () => {
    expect(leading(leaveStatements, 'dynamodb:BatchGetItem')).toEqual(['ADMIN#*', 'INDEXER', 'POOL', 'STAKE#*', 'TOKEN#*']);
    expect(leading(leaveStatements, 'dynamodb:GetItem')).toEqual(['NODE#*']);
    expect(leading(leaveStatements, 'dynamodb:UpdateItem')).toEqual(['NODE#*', 'NODECOUNT#*']);
    const dynamo = leaveStatements.flatMap(actions).filter((a) => a.startsWith('dynamodb:'));
    expect([...new Set(dynamo)].sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem']);
    expect(leaveStatements.flatMap(actions).filter((a) => a.startsWith('kms:'))).toEqual([]);
  });

  it('neither may write stake records, and every table grant is item-scoped', () => {
    for (const s of [...joinStatements, ...leaveStatements]) {
      const keys = [s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']].flat();
      if (actions(s).some((a) => a.startsWith('dynamodb:'))) expect(keys[0]).toBeDefined();
      if (actions(s).some((a) => ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'].includes(a))) {
        expect(keys).not.toContain('STAKE#*');
        expect(keys).not.toContain('TOKEN#*');
        expect(keys).not.toContain('POOL');
      }
    }
  });
});
