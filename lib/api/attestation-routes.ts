// The attestation route group (DESIGN §2 steps 4-5, §4): POST /v1/attestation for the masters (IAM,
// master role only), GET /v1/issuer and POST /v1/kubeconfig for users. One function per route, each
// with only the grants it uses. The expected PCRs come from the same pcrs.json that binds the
// cluster-state key, so there is one source of truth for what enclave is trusted.
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { renderExpectedPcrsEnv } from '../../lambdas/shared/attestation/expected-pcrs-env';
import { KEYS } from '../../lambdas/shared/index/index-model';
import { expectedPcrsOf } from '../../lambdas/shared/attestation/pcrs';
import type { EnvironmentConfig } from '../config/environment-config';
import type { EnclaveArtifacts } from '../shared/enclave-artifacts';
import type { StateStack } from '../state/state-stack';
import { DomainFunction } from './domain-function';
import { allowReadingPlatformSettings, platformSettingsEnvironment } from './platform-settings-environment';
import { indexFreshnessEnvironment } from './index-freshness';
import { TOKEN_CHECK_GET_ITEM_KEYS, TOKEN_CHECK_LEADING_KEYS } from './token-check-routes';
import type { PlatformApi } from './platform-api';

export interface AttestationRoutesProps {
  readonly api: PlatformApi;
  readonly config: EnvironmentConfig;
  readonly state: StateStack;
  readonly enclave: EnclaveArtifacts;
  /** `https://<nlb dns>:6443`, written into every kubeconfig. */
  readonly serverUrl: string;
  readonly commonEnvironment: Record<string, string>;
}

/** How old a posted attestation document may be; the host agent posts a fresh one every few minutes. */
const DOCUMENT_MAX_AGE_SECONDS = 300;

export class AttestationRoutes extends Construct {
  public readonly attestationFunction: DomainFunction;
  public readonly issuerFunction: DomainFunction;
  public readonly kubeconfigFunction: DomainFunction;

  constructor(scope: Construct, id: string, props: AttestationRoutesProps) {
    super(scope, id);
    const { api, config, state } = props;
    const expectedPcrs = renderExpectedPcrsEnv(props.enclave.pcrs ? expectedPcrsOf(props.enclave.pcrs) : undefined);
    const common = { logRetentionDays: config.logRetentionDays, production: config.production };
    const signingKeyArn = state.kubeconfigSigningKey.keyArn;
    // Every function of this group compares or publishes the enclave's boot settings.
    const settingsEnv = platformSettingsEnvironment({ state, apiUrl: api.url, serverUrl: props.serverUrl });

    this.attestationFunction = new DomainFunction(this, 'Attestation', {
      ...common,
      handlerName: 'attestation',
      description: 'POST /v1/attestation: verify and record the enclave attestation',
      environment: {
        ...props.commonEnvironment,
        ...settingsEnv,
        EXPECTED_PCRS: expectedPcrs,
        ATTESTATION_DOCUMENT_MAX_AGE_SECONDS: String(DOCUMENT_MAX_AGE_SECONDS),
      },
    });
    this.issuerFunction = new DomainFunction(this, 'Issuer', {
      ...common,
      handlerName: 'issuer',
      description: 'GET /v1/issuer: kubeconfig signing key, expected PCRs, latest attestation',
      memorySize: 256,
      environment: { ...props.commonEnvironment, ...settingsEnv, EXPECTED_PCRS: expectedPcrs },
    });
    this.kubeconfigFunction = new DomainFunction(this, 'Kubeconfig', {
      ...common,
      handlerName: 'kubeconfig',
      description: 'POST /v1/kubeconfig: KMS-signed kubeconfig for an attested cluster',
      environment: {
        ...props.commonEnvironment,
        ...settingsEnv,
        ATTESTATION_MAX_AGE_SECONDS: String(config.attestationMaxAgeMinutes * 60),
        ...indexFreshnessEnvironment(config),
      },
    });

    // Table access is limited to the items each function touches (partition keys), not the whole table.
    const attestationKey = KEYS.attestation().pk;
    // GetItem too: a refused conditional write is classified against the stored record (CA pin, snapshot counter).
    this.attestationFunction.addToRolePolicy(tableItems(['dynamodb:PutItem', 'dynamodb:GetItem'], state, [attestationKey]));
    this.issuerFunction.addToRolePolicy(tableItems(['dynamodb:GetItem'], state, [attestationKey]));
    this.kubeconfigFunction.addToRolePolicy(tableItems(['dynamodb:GetItem'], state, [attestationKey]));
    this.kubeconfigFunction.addToRolePolicy(tableItems(['dynamodb:BatchGetItem'], state, TOKEN_CHECK_LEADING_KEYS));
    this.kubeconfigFunction.addToRolePolicy(tableItems(['dynamodb:GetItem'], state, TOKEN_CHECK_GET_ITEM_KEYS));
    for (const fn of [this.attestationFunction, this.issuerFunction, this.kubeconfigFunction]) allowReadingPlatformSettings(fn, state);
    this.kubeconfigFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Sign'], resources: [signingKeyArn] }));

    const attestationRoute = api.addRoute({
      method: apigwv2.HttpMethod.POST,
      path: '/v1/attestation',
      handler: this.attestationFunction,
      authorization: 'iam',
    });
    api.allowInvoke('MasterMayPostAttestation', state.masterRole, [attestationRoute]);
    api.addRoute({
      method: apigwv2.HttpMethod.GET,
      path: '/v1/issuer',
      handler: this.issuerFunction,
      authorization: 'none',
      publicBecause: 'Publishes only public data (a public key, expected PCRs, the latest attestation summary) so clients can verify kubeconfigs.',
    });
    api.addRoute({
      method: apigwv2.HttpMethod.POST,
      path: '/v1/kubeconfig',
      handler: this.kubeconfigFunction,
      authorization: 'none',
      publicBecause: 'The Sui-signed credential in the body is the authentication (DESIGN §4); the kubeconfig holds no secret.',
    });
  }
}

function tableItems(actions: string[], state: StateStack, partitionKeys: string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions,
    resources: [state.table.tableArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': partitionKeys } },
  });
}
