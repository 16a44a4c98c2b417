// Used by enclave/scripts/build.sh and verify.sh:
//   tsx enclave/src/build/pcrs-cli.ts write   --measurements <nitro-cli json> --eif <eif> --out <pcrs.json>
//   tsx enclave/src/build/pcrs-cli.ts compare --expected <pcrs.json> --measurements <nitro-cli json> --eif <eif>
//   tsx enclave/src/build/pcrs-cli.ts k3s-pins
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { loadEnvironmentConfig } from '../../../lib/config/environments';
import { parsePcrFile } from '../../../lambdas/shared/attestation/pcrs';
import { eifArch, pcrDifferences, pcrFileFromMeasurements } from './pcrs-file';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i > 0 ? process.argv[i + 1] : undefined;
  if (!value) fail(`missing --${name}`);
  return value;
}

function fail(message: string): never {
  process.stderr.write(`enclave build: ${message}\n`);
  process.exit(1);
}

function measured() {
  const eif = arg('eif');
  const sha256 = crypto.createHash('sha256').update(fs.readFileSync(eif)).digest('hex');
  return pcrFileFromMeasurements(fs.readFileSync(arg('measurements'), 'utf8'), sha256, eifArch(process.env.EIF_ARCH ?? os.machine()));
}

try {
  switch (process.argv[2]) {
    case 'write': {
      const file = measured();
      fs.writeFileSync(arg('out'), JSON.stringify(file, null, 2) + '\n');
      process.stdout.write(`wrote ${arg('out')}: PCR0 ${file.PCR0}\n`);
      break;
    }
    case 'compare': {
      const expectedFile = arg('expected');
      if (!fs.existsSync(expectedFile)) fail(`${expectedFile} does not exist: nothing to verify against (run npm run enclave:build first)`);
      const diffs = pcrDifferences(parsePcrFile(fs.readFileSync(expectedFile, 'utf8'), expectedFile), measured());
      if (diffs.length > 0) fail(`the rebuilt image does not reproduce ${expectedFile}:\n  ${diffs.join('\n  ')}`);
      process.stdout.write(`reproducible: the rebuilt image has the PCRs of ${expectedFile}\n`);
      break;
    }
    case 'k3s-pins': {
      // One copy of the pins: lib/config/environments.ts (every environment uses the same K3s).
      const k3s = loadEnvironmentConfig(process.env.K3S_DAAS_ENV ?? 'dev').k3s;
      process.stdout.write(
        [`K3S_VERSION=${k3s.version}`, `K3S_SHA256_AMD64=${k3s.sha256Amd64}`, `K3S_SHA256_ARM64=${k3s.sha256Arm64}`].join('\n') + '\n',
      );
      break;
    }
    default:
      fail('usage: pcrs-cli.ts write|compare|k3s-pins …');
  }
} catch (err) {
  fail((err as Error).message);
}
