// GET /v1/issuer (public; DESIGN §4): what a client needs to check a kubeconfig without trusting the
// API: the KMS public key that signs kubeconfigs, the PCRs the platform expects, the platform's own
// boot settings (and their digest, the value an enclave must attest), and the latest verified
// attestation with its raw document and the committed snapshot counter (which the enclave reads over
// TLS at boot to refuse an older snapshot). All of it is public information.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from '../shared/runtime/zod';
import { attestationDetail, namedPcrs } from '../shared/attestation/attestation-view';
import { EnvPlatformSettings, PLATFORM_SETTINGS_ENV, type PlatformSettingsSource } from '../shared/attestation/platform-settings';
import { parseExpectedPcrsEnv } from '../shared/attestation/expected-pcrs-env';
import { DynamoAttestationRecordStore, type AttestationRecordStore } from '../shared/attestation/record-store';
import { COMMON_ENV, readEnv } from '../shared/runtime/env';
import { json, withHttpErrors, type HttpResult } from '../shared/runtime/http';
import { KmsKubeconfigSigner, type KubeconfigSigner } from '../shared/kubeconfig/kms-signing-key';
import type { ExpectedPcrs } from '../shared/attestation/pcrs';
import { logUnexpected } from '../shared/runtime/powertools';
import { awsClientConfig } from '../shared/runtime/aws-clients';

export interface IssuerHandlerDeps {
  readonly clusterId: string;
  readonly signer: Pick<KubeconfigSigner, 'keyId' | 'publicKeyPem'>;
  readonly expectedPcrs: ExpectedPcrs | undefined;
  readonly store: AttestationRecordStore;
  readonly settings: PlatformSettingsSource;
}

export function createHandler(deps: IssuerHandlerDeps): (event: APIGatewayProxyEventV2) => Promise<HttpResult> {
  return withHttpErrors(async () => {
    const platform = await deps.settings.current();
    const [publicKeyPem, record] = await Promise.all([deps.signer.publicKeyPem(), deps.store.getLatest()]);
    return json(200, {
      clusterId: deps.clusterId,
      keyId: deps.signer.keyId,
      publicKeyPem,
      expectedPcrs: deps.expectedPcrs ? namedPcrs(deps.expectedPcrs) : null,
      settings: platform.settings,
      settingsSha256: platform.digest.toString('hex'),
      attestation: record ? attestationDetail(record) : null,
    });
  }, logUnexpected);
}

export const ISSUER_ENV = {
  ...COMMON_ENV,
  ...PLATFORM_SETTINGS_ENV,
  EXPECTED_PCRS: z.string().check(z.minLength(1)),
};

let live: ((event: APIGatewayProxyEventV2) => Promise<HttpResult>) | undefined;

export const handler = (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  if (!live) {
    const env = readEnv(ISSUER_ENV);
    const kms = new KMSClient(awsClientConfig('issuer'));
    live = createHandler({
      clusterId: env.CLUSTER_ID,
      signer: new KmsKubeconfigSigner(kms, env.KUBECONFIG_SIGNING_KEY_ARN),
      settings: new EnvPlatformSettings(env, kms),
      expectedPcrs: parseExpectedPcrsEnv(env.EXPECTED_PCRS),
      store: new DynamoAttestationRecordStore({ tableName: env.TABLE_NAME, client: new DynamoDBClient(awsClientConfig('issuer')) }),
    });
  }
  return live(event);
};
