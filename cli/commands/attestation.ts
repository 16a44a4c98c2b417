// `k3s-daas attestation verify` (DESIGN §9): checks a Nitro attestation document offline with the same
// verifier the platform uses, and prints what it proves. Exit 0 with a JSON summary, or exit 1 with
// the reason code and why.
import type { Command } from 'commander';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { verifyAttestationDocument, type AttestationDocument } from '../../lambdas/shared/attestation/verify';
import { expectedPcrsOf, parsePcrFile, PcrFileError, type ExpectedPcrs } from '../../lambdas/shared/attestation/pcrs';
import { decodeClaims } from '../../lambdas/shared/attestation/enclave-claims';
import { CliError, type CliContext } from '../context';
import { UsageError, VerificationError } from '../errors';
import { examples } from '../help';
import { warn } from '../output';

interface VerifyFlags {
  document: string;
  root?: string;
  pcrs?: string;
  at?: string;
  nonce?: string;
  maxAge?: string;
  json?: boolean;
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new CliError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** A document file holds base64 text (as the NSM tools print it) or the raw CBOR bytes. */
export function documentBytes(file: Buffer): Buffer {
  const text = file.toString('latin1').replace(/\s+/g, '');
  if (text.length > 0 && text.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(text)) return Buffer.from(text, 'base64');
  return file;
}

export async function loadExpectedPcrs(path: string): Promise<ExpectedPcrs> {
  const text = (await readInput(path, 'PCR file')).toString('utf8');
  try {
    return expectedPcrsOf(parsePcrFile(text, path));
  } catch (error) {
    if (error instanceof PcrFileError) throw new CliError(error.message);
    throw error;
  }
}

function summary(doc: AttestationDocument, pinned: boolean): Record<string, unknown> {
  const leaf = new X509Certificate(doc.certificate);
  const hex = (b?: Uint8Array) => (b ? Buffer.from(b).toString('hex') : null);
  return {
    moduleId: doc.moduleId,
    timestamp: doc.timestamp.toISOString(),
    digest: doc.digest,
    pcrs: Object.fromEntries(Object.entries(doc.pcrs).map(([i, v]) => [`PCR${i}`, v])),
    pcrsPinned: pinned,
    debugMode: doc.debugMode,
    certificate: {
      subject: leaf.subject,
      notBefore: new Date(leaf.validFrom).toISOString(),
      notAfter: new Date(leaf.validTo).toISOString(),
      sha256: createHash('sha256').update(doc.certificate).digest('hex'),
    },
    publicKey: hex(doc.publicKey),
    userData: hex(doc.userData),
    // The K3s-DaaS enclave claims when user_data has their layout (docs/attestation.md), else null.
    claims: claimsSummary(doc.userData),
    nonce: hex(doc.nonce),
  };
}

function claimsSummary(userData: Uint8Array | undefined): Record<string, unknown> | null {
  const decoded = decodeClaims(userData);
  if (!decoded.ok) return null;
  const { caSha256, settingsSha256, snapshot } = decoded.claims;
  return { caSha256: caSha256.toString('hex'), settingsSha256: settingsSha256.toString('hex'), snapshot: { seq: Number(snapshot.seq), sha256: snapshot.sha256.toString('hex') } };
}

async function verify(flags: VerifyFlags, ctx: CliContext): Promise<void> {
  const at = flags.at === undefined ? ctx.now() : new Date(flags.at);
  if (Number.isNaN(at.getTime()) || (flags.at !== undefined && !/^\d{4}-\d{2}-\d{2}T/.test(flags.at))) {
    throw new UsageError(`--at must be an ISO 8601 time such as 2023-09-07T15:56:02Z, not "${flags.at}"`);
  }
  if (flags.nonce !== undefined && !/^([0-9a-fA-F]{2})+$/.test(flags.nonce)) throw new UsageError('--nonce must be hex');
  let maxAgeMs: number | undefined;
  if (flags.maxAge !== undefined) {
    if (!/^\d+$/.test(flags.maxAge)) throw new UsageError('--max-age must be a whole number of seconds');
    maxAgeMs = Number(flags.maxAge) * 1000;
  }
  let rootPem: string | undefined;
  if (flags.root !== undefined) {
    rootPem = (await readInput(flags.root, 'root certificate')).toString('utf8');
    try {
      new X509Certificate(rootPem);
    } catch {
      throw new UsageError(`${flags.root} is not a PEM certificate`);
    }
  }
  const expectedPcrs = flags.pcrs === undefined ? null : await loadExpectedPcrs(flags.pcrs);
  const bytes = documentBytes(await readInput(flags.document, 'document'));
  const result = await verifyAttestationDocument(bytes, {
    expectedPcrs,
    at,
    maxAgeMs,
    rootPem,
    nonce: flags.nonce === undefined ? undefined : Buffer.from(flags.nonce, 'hex'),
  });
  if (!result.ok) throw new VerificationError(`attestation rejected: ${result.reason}: ${result.message}`, { reason: result.reason });
  if (result.document.debugMode) {
    warn(ctx, 'this document comes from an enclave in debug mode (all-zero PCRs): it proves no measurement, and the parent instance can read the enclave\'s memory');
  }
  ctx.out(`${JSON.stringify(summary(result.document, expectedPcrs !== null), null, 2)}\n`);
}

export function register(program: Command, ctx: CliContext): void {
  const attestation = program
    .command('attestation')
    .description('Verify AWS Nitro Enclaves attestation documents')
    .addHelpText('after', examples(['k3s-daas attestation verify --document att.b64 --pcrs enclave/pcrs.json']));
  attestation
    .command('verify')
    .description('Verify a Nitro attestation document: signature, certificate chain to the AWS Nitro root, PCRs, nonce')
    .requiredOption('--document <file>', 'attestation document (base64 text or raw CBOR)')
    .option('--root <pem>', 'trusted root certificate (default: the pinned AWS Nitro Enclaves root G1)')
    .option('--pcrs <pcrs.json>', 'expected PCRs (enclave/pcrs.json); without it no measurement is checked')
    .option('--at <iso time>', 'verify as of this time (default: now)')
    .option('--nonce <hex>', 'the nonce the document must carry')
    .option('--max-age <seconds>', 'refuse documents older than this')
    .option('--json', 'print any error as JSON too (the summary always is)')
    .addHelpText('after', examples([
      'k3s-daas attestation verify --document att.b64 --pcrs enclave/pcrs.json',
      'k3s-daas attestation verify --document att.cbor --nonce 0102 --max-age 300',
      'k3s-daas attestation verify --document att.b64 --at 2023-09-07T15:56:02Z',
    ]))
    .action((flags: VerifyFlags) => verify(flags, ctx));
}
