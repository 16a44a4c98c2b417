// The pinned trust anchor is exactly AWS's published Nitro Enclaves root G1.
import { describe, expect, it } from '@jest/globals';
import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AWS_NITRO_ROOT_G1_PEM, AWS_NITRO_ROOT_G1_SHA256 } from '../../../../lambdas/shared/attestation/aws-nitro-root';
import { REPO_ROOT } from '../../../support/cdk-app';

const PUBLISHED_FINGERPRINT = '64:1A:03:21:A3:E2:44:EF:E4:56:46:31:95:D6:06:31:7E:D7:CD:CC:3C:17:56:E0:98:93:F3:C6:8F:79:BB:5B';

describe('pinned AWS Nitro root G1', () => {
  it('has the DER SHA-256 fingerprint AWS publishes', () => {
    const der = new X509Certificate(AWS_NITRO_ROOT_G1_PEM).raw;
    expect(createHash('sha256').update(der).digest('hex')).toBe(AWS_NITRO_ROOT_G1_SHA256);
    expect(new X509Certificate(AWS_NITRO_ROOT_G1_PEM).fingerprint256).toBe(PUBLISHED_FINGERPRINT);
    expect(new X509Certificate(AWS_NITRO_ROOT_G1_PEM).subject).toContain('CN=aws.nitro-enclaves');
  });

  it('the bundled constant equals the .pem in the repo and the Nitro test vector (test/fixtures/nitro)', () => {
    const inRepo = fs.readFileSync(path.join(REPO_ROOT, 'lambdas', 'shared', 'attestation', 'aws-nitro-root-g1.pem'), 'utf8');
    const shared = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'nitro', 'aws-nitro-root-g1.pem'), 'utf8');
    expect(AWS_NITRO_ROOT_G1_PEM.trim()).toBe(inRepo.trim());
    expect(new X509Certificate(inRepo).raw.equals(new X509Certificate(shared).raw)).toBe(true);
  });
});
