// The e2e suite (npm run test:e2e): real kube-apiserver, etcd and kubectl built by
// test/e2e/build-peers.sh. Kept out of `npm test` (jest.config.js matches *.test.ts only).
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  roots: ['<rootDir>/test/e2e'],
  testMatch: ['**/*.e2e.ts'],
  // One control plane per file; the machine is small.
  maxWorkers: 1,
  testTimeout: 10 * 60_000,
  reporters: ['default'],
};
