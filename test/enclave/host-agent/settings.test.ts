import { describe, expect, it } from '@jest/globals';
import { HOST_AGENT_ENV } from '../../../enclave/src/host-agent/main';
import { ConfigError, readEnv } from '../../../lambdas/shared/runtime/env';

// What master-user-data.sh writes into /etc/k3s-daas/host-agent.env.
const ENV = {
  AWS_REGION: 'us-east-1',
  CLUSTER_ID: 'k3s-daas-dev',
  CLUSTER_STATE_KEY_ID: 'arn:aws:kms:us-east-1:111111111111:key/state',
  JOIN_TOKEN_KEY_ID: 'arn:aws:kms:us-east-1:111111111111:key/join',
  API_URL: 'https://abc.execute-api.us-east-1.amazonaws.com/',
  TLS_SANS: 'nlb.example.com',
  WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:webhook',
  SNAPSHOT_BUCKET: 'snapshots',
  TABLE_NAME: 'index',
  ENCLAVE_CID: '16',
};

describe('host agent settings', () => {
  it('reads the env file the user-data writes, with default intervals', () => {
    expect(readEnv(HOST_AGENT_ENV, ENV)).toMatchObject({ ENCLAVE_CID: 16, SNAPSHOT_INTERVAL_SECONDS: 900, ATTESTATION_INTERVAL_SECONDS: 120 });
  });

  it('refuses a non-https API URL, a reserved CID and too-frequent snapshots, naming each', () => {
    expect(() => readEnv(HOST_AGENT_ENV, { ...ENV, API_URL: 'http://abc.example.com/' })).toThrow(/API_URL/);
    expect(() => readEnv(HOST_AGENT_ENV, { ...ENV, ENCLAVE_CID: '3' })).toThrow(/ENCLAVE_CID/);
    expect(() => readEnv(HOST_AGENT_ENV, { ...ENV, SNAPSHOT_INTERVAL_SECONDS: '5' })).toThrow(ConfigError);
  });
});
