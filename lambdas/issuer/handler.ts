// GET /v1/issuer (public; DESIGN §4): what a client needs to check a kubeconfig without trusting the
// API: the KMS public key that signs kubeconfigs, the PCRs the platform expects, and the latest
// verified attestation. All of it is public information.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod';
import { attestationSummary, namedPcrs } from '../shared/attestation/cluster-attestation';
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
}

export function createHandler(deps: IssuerHandlerDeps): (event: APIGatewayProxyEventV2) => Promise<HttpResult> {
  return withHttpErrors(async () => {
    const [publicKeyPem, record] = await Promise.all([deps.signer.publicKeyPem(), deps.store.getLatest()]);
    return json(200, {
      clusterId: deps.clusterId,
      keyId: deps.signer.keyId,
      publicKeyPem,
      expectedPcrs: deps.expectedPcrs ? namedPcrs(deps.expectedPcrs) : null,
      attestation: record ? { ...attestationSummary(record), moduleId: record.moduleId, verifiedAt: record.verifiedAt } : null,
    });
  }, logUnexpected);
}

export const ISSUER_ENV = {
  ...COMMON_ENV,
  EXPECTED_PCRS: z.string().min(1),
  KUBECONFIG_SIGNING_KEY_ARN: z.string().startsWith('arn:'),
};

let live: ((event: APIGatewayProxyEventV2) => Promise<HttpResult>) | undefined;

export const handler = (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
  if (!live) {
    const env = readEnv(ISSUER_ENV);
    live = createHandler({
      clusterId: env.CLUSTER_ID,
      signer: new KmsKubeconfigSigner(new KMSClient(awsClientConfig('issuer')), env.KUBECONFIG_SIGNING_KEY_ARN),
      expectedPcrs: parseExpectedPcrsEnv(env.EXPECTED_PCRS),
      store: new DynamoAttestationRecordStore({ tableName: env.TABLE_NAME, client: new DynamoDBClient(awsClientConfig('issuer')) }),
    });
  }
  return live(event);
};
