#!/usr/bin/env node
// CDK app entry: `cdk synth -c env=<name>` (default dev). Offline: no lookups, no credentials.
import { App } from 'aws-cdk-lib';
import { loadEnvironmentConfig } from '../lib/config/environments';
import { buildPlatform } from '../lib/k3s-daas-platform';
import { loadEnclaveArtifacts } from '../lib/shared/enclave-artifacts';

const app = new App({ builtinCloudFormationValidation: true });
const envName = String(app.node.tryGetContext('env') ?? 'dev');
try {
  const config = loadEnvironmentConfig(envName);
  const enclave = loadEnclaveArtifacts({
    production: config.production,
    pcrsFile: app.node.tryGetContext('pcrsFile'),
    eifFile: app.node.tryGetContext('eifFile'),
  });
  buildPlatform(app, config, enclave);
} catch (error) {
  // Configuration errors are for people: one line, no stack trace.
  console.error(`k3s-daas synth: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
app.synth();
