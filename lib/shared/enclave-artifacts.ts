// The enclave build's outputs as the CDK app sees them: `enclave/pcrs.json` (the PCR contract of
// DESIGN §3) and the EIF. Production refuses to synth without them; dev synthesizes fail-closed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parsePcrFile, type PcrFile } from '../../lambdas/shared/attestation/pcrs';

export const DEFAULT_PCRS_FILE = path.join(__dirname_of(import.meta.url), '..', '..', 'enclave', 'pcrs.json');
export const DEFAULT_EIF_FILE = path.join(__dirname_of(import.meta.url), '..', '..', 'enclave', 'dist', 'k3s-daas.eif');

export interface EnclaveArtifacts {
  /** Undefined only in a non-production environment without a build: then nothing may decrypt. */
  readonly pcrs?: PcrFile;
  readonly eifPath?: string;
  /** Why the environment runs fail-closed, for the synth warning. */
  readonly missingReason?: string;
}

export class EnclaveArtifactsError extends Error {}

export function loadEnclaveArtifacts(opts: { production: boolean; pcrsFile?: string; eifFile?: string }): EnclaveArtifacts {
  const pcrsFile = opts.pcrsFile ?? DEFAULT_PCRS_FILE;
  const eifFile = opts.eifFile ?? DEFAULT_EIF_FILE;
  if (!fs.existsSync(pcrsFile)) {
    const reason = `${shown(pcrsFile)} not found: build the enclave image first (npm run enclave:build)`;
    if (opts.production) throw new EnclaveArtifactsError(`production environment needs the enclave PCRs: ${reason}`);
    return { missingReason: reason };
  }
  const pcrs = parsePcrFile(fs.readFileSync(pcrsFile, 'utf8'), pcrsFile);
  if (!fs.existsSync(eifFile)) {
    const reason = `${shown(eifFile)} not found: the EIF measured by ${shown(pcrsFile)} must be shipped with it`;
    if (opts.production) throw new EnclaveArtifactsError(`production environment needs the enclave image: ${reason}`);
    return { pcrs, missingReason: reason };
  }
  return { pcrs, eifPath: eifFile };
}

/**
 * The one-line synth warning of an environment without an enclave build: what it means for a deploy and
 * what to do about it. Undefined when the build is complete.
 */
export function failClosedWarning(artifacts: EnclaveArtifacts): string | undefined {
  if (artifacts.pcrs && !artifacts.missingReason) return undefined;
  const effect = artifacts.pcrs ? 'masters refuse to start' : 'the cluster-state key decrypts nothing and masters refuse to start';
  return `FAIL-CLOSED: ${artifacts.missingReason ?? 'no enclave build'}. Until then a deploy of this environment runs no control plane: ${effect}.`;
}

/** A path as the person running synth typed it: relative to the working directory when inside it. */
function shown(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

function __dirname_of(url: string): string {
  return path.dirname(new URL(url).pathname);
}
