// Builds the real platform for tests: the committed cdk.json context, bundling skipped (no esbuild
// run per test), a fixture pcrs.json instead of an enclave build, fixed account/region from config.
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadEnvironmentConfig } from '../../lib/config/environments';
import type { EnvironmentConfig } from '../../lib/config/environment-config';
import { buildPlatform, type Platform } from '../../lib/k3s-daas-platform';
import { loadEnclaveArtifacts, type EnclaveArtifacts } from '../../lib/shared/enclave-artifacts';

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const FIXTURE_PCRS = path.join(REPO_ROOT, 'test', 'fixtures', 'pcrs.json');
/** A tiny stand-in EIF whose SHA-256 is the fixture's eifSha256 (the file is test data only). */
export const FIXTURE_EIF = path.join(REPO_ROOT, 'test', 'fixtures', 'k3s-daas.eif');

export function cdkContext(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context;
}

export interface TestPlatform extends Platform {
  readonly app: App;
  readonly config: EnvironmentConfig;
  template(stack: keyof Platform): Template;
}

export function synthPlatform(
  opts: { env?: string; config?: EnvironmentConfig; enclave?: EnclaveArtifacts; withBuild?: boolean } = {},
): TestPlatform {
  const app = new App({
    builtinCloudFormationValidation: true,
    context: { ...cdkContext(), 'aws:cdk:bundling-stacks': [] },
  });
  const config = opts.config ?? loadEnvironmentConfig(opts.env ?? 'dev');
  const enclave =
    opts.enclave ??
    (opts.withBuild === false
      ? loadEnclaveArtifacts({ production: config.production, pcrsFile: '/nonexistent/pcrs.json', eifFile: '/nonexistent/k3s-daas.eif' })
      : loadEnclaveArtifacts({ production: config.production, pcrsFile: FIXTURE_PCRS, eifFile: FIXTURE_EIF }));
  const platform = buildPlatform(app, config, enclave);
  const templates = new Map<string, Template>();
  return {
    ...platform,
    app,
    config,
    template(stack) {
      if (!templates.has(stack)) templates.set(stack, Template.fromStack(platform[stack]));
      return templates.get(stack)!;
    },
  };
}
