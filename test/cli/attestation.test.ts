// `k3s-daas attestation verify`: exit 0 with a JSON summary for a document that verifies, exit 1 with
// one line naming the reason for every failure class.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../cli/program';
import { REPO_ROOT } from '../support/cdk-app';
import { encodeCose, NitroTestCa, TEST_PCRS } from '../support/nitro-test-ca';
import { createClusterCaPem } from '../support/cluster-ca';
import { TEST_PLATFORM_SETTINGS, testClaims } from '../support/enclave-settings';
import { makeHarness } from './sui-cli-harness';

const NITRO_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'nitro');
const REAL_DOC = path.join(NITRO_DIR, 'attestation-doc-us-east-1-debug.b64');
const AWS_ROOT = path.join(NITRO_DIR, 'aws-nitro-root-g1.pem');

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const h = await makeHarness();
  const code = await runCli(args, h.ctx);
  return { code, out: h.stdout(), err: h.stderr() };
}

describe('k3s-daas attestation verify', () => {
  let dir: string;
  let ca: NitroTestCa;
  let rootFile: string;
  let pcrsFile: string;
  const write = async (name: string, data: string | Uint8Array) => {
    const file = path.join(dir, name);
    await writeFile(file, data);
    return file;
  };
  const synthetic = (file: string, extra: string[] = []) => ['attestation', 'verify', '--document', file, '--root', rootFile, '--at', ca.now.toISOString(), ...extra];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'k3s-daas-attest-'));
    ca = await NitroTestCa.create();
    rootFile = await write('root.pem', ca.rootPem);
    pcrsFile = await write('pcrs.json', JSON.stringify({ PCR0: TEST_PCRS[0], PCR1: TEST_PCRS[1], PCR2: TEST_PCRS[2], PCR8: TEST_PCRS[8], eifSha256: 'ab'.repeat(32), arch: 'x86_64' }));
  });

  it('the real AWS document verifies against the AWS root at 2023-09-07T15:56:02Z: exit 0 and the summary', async () => {
    const { code, out, err } = await run(['attestation', 'verify', '--document', REAL_DOC, '--root', AWS_ROOT, '--at', '2023-09-07T15:56:02Z']);
    // The AWS sample comes from a debug-mode enclave: verified, but the user is told what that does not prove.
    expect(err).toMatch(/^k3s-daas: warning: this document comes from an enclave in debug mode \(all-zero PCRs\)[^\n]*\n$/);
    expect(code).toBe(0);
    const summary = JSON.parse(out);
    expect(summary).toMatchObject({
      moduleId: 'i-0644948d93f19c17b-enc018a705a4fc6e067',
      timestamp: '2023-09-07T15:56:01.556Z',
      digest: 'SHA384',
      debugMode: true,
      pcrsPinned: false,
      publicKey: null,
    });
    expect(summary.pcrs.PCR0).toBe('00'.repeat(48));
    expect(summary.userData).toHaveLength(182);
    expect(summary.claims).toBeNull(); // not a K3s-DaaS enclave: no claims layout
  });

  it('the real document with the default (pinned) root verifies too', async () => {
    expect((await run(['attestation', 'verify', '--document', REAL_DOC, '--at', '2023-09-07T15:56:02Z'])).code).toBe(0);
  });

  it('the real document now: exit 6, certificate_expired', async () => {
    const { code, out, err } = await run(['attestation', 'verify', '--document', REAL_DOC, '--root', AWS_ROOT]);
    expect(code).toBe(6);
    expect(out).toBe('');
    expect(err).toMatch(/^k3s-daas: attestation rejected: certificate_expired: .*\n$/);
  });

  it('the real document against non-zero expected PCRs: exit 6, debug_mode', async () => {
    const { code, err } = await run(['attestation', 'verify', '--document', REAL_DOC, '--at', '2023-09-07T15:56:02Z', '--pcrs', pcrsFile]);
    expect(code).toBe(6);
    expect(err).toContain('debug_mode');
  });

  it('the real document with a nonce other than its own: exit 6, nonce_mismatch', async () => {
    const { code, err } = await run(['attestation', 'verify', '--document', REAL_DOC, '--at', '2023-09-07T15:56:02Z', '--nonce', '00'.repeat(16)]);
    expect(code).toBe(6);
    expect(err).toContain('nonce_mismatch');
  });

  it('a synthetic document with matching PCRs in raw CBOR: exit 0, pinned', async () => {
    const doc = await ca.document({ nonce: Buffer.from('0102', 'hex') });
    const { code, out } = await run(synthetic(await write('good.cbor', doc.bytes), ['--pcrs', pcrsFile, '--nonce', '0102']));
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ pcrsPinned: true, debugMode: false, nonce: '0102' });
  });

  it('a document of a K3s-DaaS enclave: the summary decodes its claims (CA, settings, snapshot counter)', async () => {
    const caPem = await createClusterCaPem();
    const doc = await ca.document({ userData: testClaims(caPem, { snapshotSeq: 3 }) });
    const { code, out } = await run(synthetic(await write('claims.cbor', doc.bytes), ['--pcrs', pcrsFile]));
    expect(code).toBe(0);
    expect(JSON.parse(out).claims).toMatchObject({ settingsSha256: TEST_PLATFORM_SETTINGS.digest.toString('hex'), snapshot: { seq: 3 } });
  });

  it.each([
    ['untrusted_chain', async () => (await (await NitroTestCa.create({ now: ca.now })).document()).bytes, [] as string[]],
    ['bad_signature', async () => {
      const d = await ca.document();
      const sig = Buffer.from(d.signature);
      sig[0] ^= 1;
      return encodeCose(d.protectedHeader, d.payload, sig);
    }, []],
    ['certificate_expired', async () => (await ca.document({ leafValidity: { notBefore: new Date(0), notAfter: new Date(ca.now.getTime() - 1000) } })).bytes, []],
    ['certificate_not_yet_valid', async () => (await ca.document({ leafValidity: { notBefore: new Date(ca.now.getTime() + 60_000), notAfter: new Date(ca.now.getTime() + 3_600_000) } })).bytes, []],
    ['pcr_mismatch', async () => (await ca.document({ pcrs: { ...TEST_PCRS, 2: 'ef'.repeat(48) } })).bytes, ['--pcrs']],
    ['stale', async () => (await ca.document({ timestamp: new Date(ca.now.getTime() - 600_000) })).bytes, ['--max-age', '300']],
    ['nonce_mismatch', async () => (await ca.document({ nonce: Buffer.from('aa', 'hex') })).bytes, ['--nonce', 'bb']],
    ['missing_field', async () => (await ca.document({ omit: ['pcrs'] })).bytes, []],
    ['unsupported_digest', async () => (await ca.document({ digest: 'SHA512' })).bytes, []],
    ['malformed', async () => Buffer.from([0xff, 0x00, 0x13, 0x37]), []],
  ])('%s: exit 6 with the reason on one line', async (reason, make, extra) => {
    const file = await write(`${reason}.b64`, Buffer.from(await make()).toString('base64'));
    const args = extra[0] === '--pcrs' ? ['--pcrs', pcrsFile] : extra;
    const { code, out, err } = await run(synthetic(file, args));
    expect(code).toBe(6);
    expect(out).toBe('');
    expect(err).toMatch(new RegExp(`^k3s-daas: attestation rejected: ${reason}: [^\\n]*\\n$`));
  });

  it.each([
    ['a missing document file', ['--document', '/nonexistent/doc.b64'], /cannot read document/, 1],
    ['a bad --at', ['--document', REAL_DOC, '--at', 'yesterday'], /--at must be an ISO 8601 time/, 2],
    ['a bad --nonce', ['--document', REAL_DOC, '--nonce', 'xyz'], /--nonce must be hex/, 2],
    ['a root that is not PEM', ['--document', REAL_DOC, '--root', REAL_DOC], /is not a PEM certificate/, 2],
    ['a pcrs file that is not JSON', ['--document', REAL_DOC, '--pcrs', REAL_DOC], /not valid JSON/, 1],
  ])('%s is one clear line', async (_name, args, message, exitCode) => {
    const { code, err } = await run(['attestation', 'verify', ...args]);
    expect(code).toBe(exitCode);
    expect(err).toMatch(message);
    expect(err.trim().split('\n')).toHaveLength(1);
  });
});
