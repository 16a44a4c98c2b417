// `node:http` for the Lambda bundles (lib/api/lambda-bundle.ts aliases every import of it here). An ESM
// import of a built-in copies all of its exports, getters included, and node:http's WebSocket getters
// load all of undici: ~40 ms CPU at every cold start for a module the SDK only uses on plain-HTTP
// endpoints. require() returns the module without touching the getters.
import { createRequire } from 'node:module';

const nodeRequire = createRequire(import.meta.url);
const http = nodeRequire('node:http') as typeof import('node:http');

export default http;
// Exactly what the bundled code imports by name (esbuild fails the build on any other named import).
export const { Agent, request } = http;
