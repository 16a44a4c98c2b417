// The credential chain every bundled function gets (lib/api/lambda-bundle.ts aliases the SDK's default
// chain to it): the execution role's credentials from the environment Lambda sets, and nothing else.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { defaultProvider } from '../../../../lambdas/shared/runtime/lambda-credentials';

const VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_CREDENTIAL_EXPIRATION', 'AWS_PROFILE'] as const;

describe('the Lambda credential chain', () => {
  let saved: Record<string, string | undefined>;
  beforeEach(() => {
    saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));
    for (const v of VARS) delete process.env[v];
  });
  afterEach(() => {
    for (const v of VARS) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
  });

  it('returns the role session Lambda puts in the environment', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'ASIAEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret';
    process.env.AWS_SESSION_TOKEN = 'session';
    expect(await defaultProvider()()).toMatchObject({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session' });
  });

  it('fails with the SDK\'s CredentialsProviderError when the environment has none, even with a profile named (no other source)', async () => {
    process.env.AWS_PROFILE = 'someone-elses';
    const failure = await defaultProvider()().catch((error: unknown) => error);
    expect((failure as Error).name).toBe('CredentialsProviderError');
  });
});
