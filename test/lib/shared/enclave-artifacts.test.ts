// The synth warning of an environment without an enclave build: one line that says what it means for
// a deploy and what to do.
import { describe, expect, it } from '@jest/globals';
import * as path from 'node:path';
import { failClosedWarning, loadEnclaveArtifacts } from '../../../lib/shared/enclave-artifacts';
import { FIXTURE_EIF, FIXTURE_PCRS, REPO_ROOT } from '../../support/cdk-app';

describe('fail-closed synth warning', () => {
  it('without pcrs.json: one line naming the file as typed from the repository, the effect and the fix', () => {
    const cwd = process.cwd();
    process.chdir(REPO_ROOT);
    try {
      const artifacts = loadEnclaveArtifacts({ production: false, pcrsFile: path.join(REPO_ROOT, 'enclave', 'no-such-pcrs.json'), eifFile: FIXTURE_EIF });
      const warning = failClosedWarning(artifacts)!;
      expect(warning).not.toMatch(/\n/);
      expect(warning).toBe(
        'FAIL-CLOSED: enclave/no-such-pcrs.json not found: build the enclave image first (npm run enclave:build). ' +
          'Until then a deploy of this environment runs no control plane: the cluster-state key decrypts nothing and masters refuse to start.',
      );
    } finally {
      process.chdir(cwd);
    }
  });

  it('with PCRs but no EIF: the masters refuse to start, the key still follows the PCRs', () => {
    const warning = failClosedWarning(loadEnclaveArtifacts({ production: false, pcrsFile: FIXTURE_PCRS, eifFile: '/nonexistent/k3s-daas.eif' }))!;
    expect(warning).toMatch(/^FAIL-CLOSED: \/nonexistent\/k3s-daas\.eif not found: the EIF measured by .*pcrs\.json must be shipped with it\. /);
    expect(warning).toMatch(/runs no control plane: masters refuse to start\.$/);
    expect(warning).not.toMatch(/\n/);
  });

  it('says nothing for a complete build', () => {
    expect(failClosedWarning(loadEnclaveArtifacts({ production: false, pcrsFile: FIXTURE_PCRS, eifFile: FIXTURE_EIF }))).toBeUndefined();
  });
});
