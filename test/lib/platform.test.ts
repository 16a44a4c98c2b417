import { describe, expect, it } from '@jest/globals';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { EnclaveArtifactsError, loadEnclaveArtifacts } from '../../lib/shared/enclave-artifacts';
import { FIXTURE_EIF, FIXTURE_PCRS, synthPlatform } from '../support/cdk-app';

describe('the platform synthesizes', () => {
  it.each(Object.keys(ENVIRONMENTS))('environment %s with an enclave build, cdk-nag clean', (env) => {
    const platform = synthPlatform({ env });
    // app.synth() runs the cdk-nag plugin and CDK's CloudFormation validation; any violation throws.
    expect(() => platform.app.synth()).not.toThrow();
    for (const stack of [platform.network, platform.state, platform.api, platform.controlPlane, platform.workers, platform.monitoring]) {
      expect(stack.account).toBe(platform.config.account);
      expect(stack.region).toBe(platform.config.region);
    }
  });

  it('dev without an enclave build, with a loud fail-closed warning', () => {
    const platform = synthPlatform({ env: 'dev', withBuild: false });
    expect(() => platform.app.synth()).not.toThrow();
    Annotations.fromStack(platform.state).hasWarning('*', Match.stringLikeRegexp('FAIL-CLOSED'));
  });

  it('never for production without pcrs.json', () => {
    expect(() => loadEnclaveArtifacts({ production: true, pcrsFile: '/nonexistent/pcrs.json', eifFile: FIXTURE_EIF })).toThrow(
      new EnclaveArtifactsError('production environment needs the enclave PCRs: /nonexistent/pcrs.json not found: build the enclave image first (npm run enclave:build)'),
    );
  });

  it('never for production without the EIF the PCRs measure', () => {
    expect(() => loadEnclaveArtifacts({ production: true, pcrsFile: FIXTURE_PCRS, eifFile: '/nonexistent/k3s-daas.eif' })).toThrow(/needs the enclave image/);
  });
});
