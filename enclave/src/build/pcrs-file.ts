// Turns `nitro-cli build-enclave` output into `enclave/pcrs.json` (DESIGN §3 contract) and compares
// two builds. nitro-cli prints `{"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "<hex>",
// "PCR1": …, "PCR2": …, "PCR8"?: …}}` on stdout; the file is validated with the shared schema so the
// CDK app, the attestation route and the CLI never see a malformed one.
import { z } from 'zod';
import { PcrFileError, PcrFileSchema, type PcrFile } from '../../../lambdas/shared/attestation/pcrs';

const MeasurementsSchema = z.object({
  Measurements: z
    .object({
      HashAlgorithm: z.string().regex(/^Sha384\b/, 'must be Sha384'),
      PCR0: z.string(),
      PCR1: z.string(),
      PCR2: z.string(),
      PCR8: z.string().optional(),
    })
    .loose(),
});

export type EifArch = PcrFile['arch'];

/** `uname -m` → the contract's arch names. */
export function eifArch(machine: string): EifArch {
  if (machine === 'x86_64' || machine === 'amd64') return 'x86_64';
  if (machine === 'aarch64' || machine === 'arm64') return 'aarch64';
  throw new PcrFileError(`unsupported build architecture ${machine}: Nitro Enclaves run x86_64 or aarch64`);
}

export function pcrFileFromMeasurements(nitroCliOutput: string, eifSha256: string, arch: EifArch): PcrFile {
  let json: unknown;
  try {
    json = JSON.parse(nitroCliOutput);
  } catch {
    throw new PcrFileError('nitro-cli output is not JSON (was --output-file given and stdout kept apart from logs?)');
  }
  const parsed = MeasurementsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PcrFileError(`nitro-cli output: ${issue.path.join('.') || '(root)'} ${issue.message}`);
  }
  const m = parsed.data.Measurements;
  const candidate = {
    PCR0: m.PCR0.toLowerCase(),
    PCR1: m.PCR1.toLowerCase(),
    PCR2: m.PCR2.toLowerCase(),
    ...(m.PCR8 ? { PCR8: m.PCR8.toLowerCase() } : {}),
    eifSha256: eifSha256.toLowerCase(),
    arch,
  };
  const result = PcrFileSchema.safeParse(candidate);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new PcrFileError(`pcrs.json: ${issue.path.join('.')} ${issue.message}`);
  }
  if (/^0+$/.test(result.data.PCR0)) throw new PcrFileError('PCR0 is all zeros: that is a debug-mode measurement, not an image');
  return result.data;
}

/** The measurement differences between two builds (empty when reproducible). The EIF hash is not compared: nitro-cli embeds build metadata. */
export function pcrDifferences(expected: PcrFile, actual: PcrFile): string[] {
  const diffs: string[] = [];
  for (const key of ['PCR0', 'PCR1', 'PCR2', 'PCR8'] as const) {
    if (expected[key] !== actual[key]) diffs.push(`${key}: committed ${expected[key] ?? '(none)'} ≠ rebuilt ${actual[key] ?? '(none)'}`);
  }
  if (expected.arch !== actual.arch) diffs.push(`arch: committed ${expected.arch} ≠ rebuilt ${actual.arch}`);
  return diffs;
}
