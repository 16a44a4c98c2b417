// The environment a function needs to compute the platform's own enclave boot settings
// (lambdas/shared/attestation/platform-settings.ts): the same resources the master's host agent is
// told about (control-plane-stack.ts), so the digest the enclave attests and the one the platform
// expects are taken from one deployment.
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { StateStack } from '../state/state-stack';

export interface PlatformSettingsEnvironmentProps {
  readonly state: StateStack;
  /** The HTTP API's base URL (`PlatformApi.url`), exactly as the host agent gets it. */
  readonly apiUrl: string;
  /** `https://<nlb dns>:6443`. */
  readonly serverUrl: string;
}

export function platformSettingsEnvironment(props: PlatformSettingsEnvironmentProps): Record<string, string> {
  return {
    API_URL: props.apiUrl,
    CLUSTER_STATE_KEY_ID: props.state.clusterStateKey.keyArn,
    JOIN_TOKEN_KEY_ID: props.state.joinTokenKey.keyArn,
    KUBECONFIG_SIGNING_KEY_ARN: props.state.kubeconfigSigningKey.keyArn,
    SERVER_URL: props.serverUrl,
  };
}

/** The signing key's public key is part of the settings (its SPKI hash). */
export function allowReadingPlatformSettings(fn: IFunction, state: StateStack): void {
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:GetPublicKey'], resources: [state.kubeconfigSigningKey.keyArn] }));
}
