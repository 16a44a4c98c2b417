// The SDK credential chain of every bundled function (lib/api/lambda-bundle.ts aliases
// `@aws-sdk/credential-provider-node` to this module). Lambda gives a function its execution role's
// credentials in environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and
// in no other way, so the SDK's default chain is narrowed to that first link. The other links (SSO, INI
// files, credential processes, web identity, container and instance metadata) never answer in Lambda,
// yet their lazy chunks made esbuild's code splitting pull ~40 KB of the SDK's other protocols into every
// cold start. Without the variables a client fails with the SDK's CredentialsProviderError (the
// function's outage answer), never with other credentials.
import { fromEnv } from '@aws-sdk/credential-provider-env';

/** The signature the SDK clients' node runtime config imports as `credentialDefaultProvider`. */
export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}) => fromEnv(init);
