// Jest runs in native ESM mode (NODE_OPTIONS=--experimental-vm-modules, see package.json) because
// @mysten/sui 2.x is ESM-only; @swc/jest strips types without type-checking (`npm run build` does that).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }],
  },
  setupFiles: ['<rootDir>/test/setup/env.ts'],
  // Installs the test tools on first use (moto, shellcheck) and starts moto once per run.
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  // A timeout only catches a hang: on a loaded machine (CI runners, two cores shared by many jobs) the
  // emulator-backed suites take minutes, and a slow run must not turn red.
  testTimeout: 600000,
  maxWorkers: 2,
};
