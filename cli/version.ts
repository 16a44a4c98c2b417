// The CLI's version is the package's: one number to bump, shown by `k3s-daas --version`. Read at run time
// from the package root, which is one level above both this source file and the bundle (dist/).
import { readFileSync } from 'node:fs';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
    return pkg.name === 'k3s-daas' && typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const VERSION = packageVersion();
