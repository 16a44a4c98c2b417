import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { COMMON_ENV, ConfigError, readEnv } from '../../../../lambdas/shared/runtime/env';

describe('function settings', () => {
  it('reads and types the declared variables', () => {
    expect(readEnv({ ...COMMON_ENV, N: z.coerce.number().int() }, { TABLE_NAME: 't', CLUSTER_ID: 'c', N: '3' })).toEqual({ TABLE_NAME: 't', CLUSTER_ID: 'c', N: 3 });
  });

  it('names every missing or bad variable at once', () => {
    expect(() => readEnv({ ...COMMON_ENV, N: z.coerce.number().int() }, { N: 'x' })).toThrow(ConfigError);
    expect(() => readEnv({ ...COMMON_ENV }, {})).toThrow(/TABLE_NAME .*CLUSTER_ID/);
  });
});
