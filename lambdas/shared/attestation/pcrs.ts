// `enclave/pcrs.json` (DESIGN §3, contract): written by the reproducible enclave build, read by the CDK
// app (KMS key policy), the attestation Lambda and the CLI. One schema for all of them.
import * as z from '../runtime/zod';

const sha384Hex = z.string().check(z.regex(/^[0-9a-f]{96}$/, 'must be 96 lowercase hex characters (SHA-384)'));

export const PcrFileSchema = z
  .strictObject({
    PCR0: sha384Hex,
    PCR1: sha384Hex,
    PCR2: sha384Hex,
    PCR8: z.optional(sha384Hex),
    eifSha256: z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (SHA-256)')),
    arch: z.enum(['x86_64', 'aarch64']),
  });

export type PcrFile = z.infer<typeof PcrFileSchema>;

/** The measurements an attestation must match: PCR index → lowercase hex. */
export type ExpectedPcrs = Partial<Record<0 | 1 | 2 | 3 | 4 | 8, string>>;

export class PcrFileError extends Error {}

/** Parses the file's text; the error names the offending field. */
export function parsePcrFile(text: string, source = 'pcrs.json'): PcrFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PcrFileError(`${source} is not valid JSON`);
  }
  const result = PcrFileSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new PcrFileError(`${source}: ${issue.path.join('.') || '(root)'} ${issue.message}`);
  }
  return result.data;
}

export function expectedPcrsOf(file: PcrFile): ExpectedPcrs {
  return { 0: file.PCR0, 1: file.PCR1, 2: file.PCR2, ...(file.PCR8 ? { 8: file.PCR8 } : {}) };
}
