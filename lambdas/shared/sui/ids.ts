// Sui object ids and addresses as every part of K3s-DaaS writes them: `0x` + 64 lowercase hex
// (DESIGN §5). One rule for the credential format, the index, the settings and the CLI.
import * as z from '../runtime/zod';

export const SUI_ID_PATTERN = /^0x[0-9a-f]{64}$/;
export const SUI_ID_RULE = 'must be 0x followed by 64 lowercase hex characters';

/** A zod schema for a canonical Sui id (settings, env vars). */
export const suiIdSchema = () => z.string().check(z.regex(SUI_ID_PATTERN, SUI_ID_RULE));

/** What a person typed, in canonical form (hex case does not matter to them); undefined if it is no id. */
export function canonicalSuiId(typed: string): string | undefined {
  const lower = typed.trim().toLowerCase();
  return SUI_ID_PATTERN.test(lower) ? lower : undefined;
}
