// Read-only views of a verified attestation record (DESIGN §4): what the issuer and kubeconfig routes
// answer. Kept apart from cluster-attestation.ts (the verifier) so those bundles carry no chain code.
import type { AttestationRecord } from '../index/index-model';
import type { AttestationSummary } from '../kubeconfig/kubeconfig';
import type { ExpectedPcrs } from './pcrs';

/** The attestation summary of DESIGN §4 (kubeconfig response and signed kubeconfig extension). */
export function attestationSummary(record: AttestationRecord): AttestationSummary {
  return { pcrs: record.pcrs, timestamp: record.timestamp, caSha256: record.caSha256 };
}

/** The attestation part of the issuer and kubeconfig answers (docs/openapi.yaml `AttestationDetail`). */
export function attestationDetail(record: AttestationRecord): Record<string, unknown> {
  return {
    ...attestationSummary(record),
    moduleId: record.moduleId,
    verifiedAt: record.verifiedAt,
    document: record.document ?? null,
    settingsSha256: record.settingsSha256 ?? null,
    settings: record.settings ?? null,
    snapshot: record.snapshotSeq === undefined ? null : { seq: record.snapshotSeq, sha256: record.snapshotSha256 },
  };
}

/** `ExpectedPcrs` as the `PCR<n>` names of pcrs.json and of attestation summaries. */
export function namedPcrs(pcrs: ExpectedPcrs): Record<string, string> {
  return Object.fromEntries(Object.entries(pcrs).map(([i, v]) => [`PCR${i}`, v as string]));
}

/** True when every expected PCR appears with the same value in `actual` (`PCR<n>` → hex). */
export function pcrsMatch(expected: ExpectedPcrs, actual: Record<string, string>): boolean {
  const entries = Object.entries(expected);
  return entries.length > 0 && entries.every(([i, v]) => typeof actual[`PCR${i}`] === 'string' && actual[`PCR${i}`].toLowerCase() === String(v).toLowerCase());
}
