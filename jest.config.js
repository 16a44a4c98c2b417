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
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  testTimeout: 60000,
  maxWorkers: 2,
};
