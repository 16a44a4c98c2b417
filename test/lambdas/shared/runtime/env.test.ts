import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { WORKER_GROUPS_ENV } from '../../../../lambdas/shared/nodes/node-registry';
import { COMMON_ENV, ConfigError, readEnv } from '../../../../lambdas/shared/runtime/env';

describe('function settings', () => {
  it('reads and types the declared variables', () => {
    expect(readEnv({ ...COMMON_ENV, N: z.coerce.number().int() }, { TABLE_NAME: 't', CLUSTER_ID: 'c', N: '3' })).toEqual({ TABLE_NAME: 't', CLUSTER_ID: 'c', N: 3 });
  });

  it('names every missing or bad variable at once', () => {
    expect(() => readEnv({ ...COMMON_ENV, N: z.coerce.number().int() }, { N: 'x' })).toThrow(ConfigError);
    expect(() => readEnv({ ...COMMON_ENV }, {})).toThrow(/TABLE_NAME .*CLUSTER_ID/);
  });

  it('parses WORKER_GROUPS as JSON and names the variable with its rule when it is not the expected list', () => {
    const stakeId = '0x' + '0'.repeat(63) + 'c';
    expect(readEnv({ WORKER_GROUPS: WORKER_GROUPS_ENV }, { WORKER_GROUPS: JSON.stringify([{ autoScalingGroup: 'g', stakeId }]) })).toEqual({ WORKER_GROUPS: [{ autoScalingGroup: 'g', stakeId }] });
    for (const bad of ['not json', '[]', JSON.stringify([{ autoScalingGroup: 'g', stakeId, extra: 1 }]), JSON.stringify([{ autoScalingGroup: 'g', stakeId: '0x1' }])]) {
      expect(() => readEnv({ WORKER_GROUPS: WORKER_GROUPS_ENV }, { WORKER_GROUPS: bad })).toThrow('invalid function configuration: WORKER_GROUPS (must be a JSON array of {autoScalingGroup, stakeId})');
    }
  });
});
