// Whole-template snapshots of the dev environment: any change to what would be deployed shows up in
// review. Asset hashes are stripped so the snapshot does not change with every source edit.
import { describe, expect, it } from '@jest/globals';
import { synthPlatform } from '../support/cdk-app';

function stripAssetHashes(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/[0-9a-f]{64}(\.zip|\.json|\.eif)?/g, '<asset-hash>$1');
  if (Array.isArray(value)) return value.map(stripAssetHashes);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stripAssetHashes(v)]));
  return value;
}

describe('dev environment templates', () => {
  const platform = synthPlatform({ env: 'dev' });
  it.each(['network', 'state', 'api', 'controlPlane', 'workers', 'monitoring'] as const)('%s matches the reviewed snapshot', (stack) => {
    expect(stripAssetHashes(platform.template(stack).toJSON())).toMatchSnapshot();
  });
});
