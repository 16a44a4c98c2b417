// The expected PCRs reach the attestation and issuer functions as `EXPECTED_PCRS`, rendered by the
// CDK app from the same `enclave/pcrs.json` that binds the cluster-state key. `none` means the
// environment has no enclave build: then no document is ever accepted (fail closed).
import * as z from '../runtime/zod';
import type { ExpectedPcrs } from './pcrs';

export const NO_EXPECTED_PCRS = 'none';

const sha384Hex = z.string().check(z.regex(/^[0-9a-f]{96}$/));
const ExpectedPcrsSchema = z
  .strictObject({ 0: sha384Hex, 1: sha384Hex, 2: sha384Hex, 3: z.optional(sha384Hex), 4: z.optional(sha384Hex), 8: z.optional(sha384Hex) });

/** `EXPECTED_PCRS` value for a pcrs.json (or its absence). */
export function renderExpectedPcrsEnv(pcrs: ExpectedPcrs | undefined): string {
  return pcrs ? JSON.stringify(pcrs) : NO_EXPECTED_PCRS;
}

/** Parses `EXPECTED_PCRS`; `undefined` for `none`. Throws on anything else that is not PCR0-2 of 96 hex. */
export function parseExpectedPcrsEnv(value: string): ExpectedPcrs | undefined {
  if (value === NO_EXPECTED_PCRS) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new Error('EXPECTED_PCRS is neither "none" nor JSON');
  }
  const parsed = ExpectedPcrsSchema.safeParse(json);
  if (!parsed.success) throw new Error(`EXPECTED_PCRS is invalid: ${parsed.error.issues[0].path.join('.')} ${parsed.error.issues[0].message}`);
  return parsed.data as ExpectedPcrs;
}
