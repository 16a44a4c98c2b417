import { describe, expect, it } from '@jest/globals';
import { resolveSuiNetwork, SUI_NETWORK_DEFAULTS, SuiConfigError } from '../../../../lambdas/shared/sui/networks';

const PKG = '0x' + 'a'.repeat(64);
const POOL = '0xb';

describe('resolveSuiNetwork', () => {
  it('fills the gRPC URL from the network defaults and normalizes ids', () => {
    const config = resolveSuiNetwork({ network: 'mainnet', packageId: PKG, stakingPoolId: POOL });
    expect(config).toEqual({
      network: 'mainnet', grpcUrl: SUI_NETWORK_DEFAULTS.mainnet.grpcUrl, packageId: PKG, stakingPoolId: '0x' + '0'.repeat(63) + 'b',
    });
  });

  it('defaults to testnet and honours a gRPC URL override', () => {
    const config = resolveSuiNetwork({ grpcUrl: 'http://127.0.0.1:9000/', packageId: PKG, stakingPoolId: POOL });
    expect(config.network).toBe('testnet');
    expect(config.grpcUrl).toBe('http://127.0.0.1:9000');
  });

  it.each([
    [{ network: 'moonnet', packageId: PKG, stakingPoolId: POOL }, /network "moonnet" is not one of mainnet, testnet, devnet, localnet/],
    [{ grpcUrl: 'not a url', packageId: PKG, stakingPoolId: POOL }, /grpcUrl "not a url" is not a URL/],
    [{ grpcUrl: 'ftp://x', packageId: PKG, stakingPoolId: POOL }, /must be an http\(s\) URL/],
    [{ stakingPoolId: POOL }, /no packageId for testnet/],
    [{ packageId: PKG }, /no stakingPoolId for testnet/],
    [{ packageId: 'abc', stakingPoolId: POOL }, /packageId "abc" is not a Sui object id/],
    [{ packageId: PKG, stakingPoolId: '0x' + 'f'.repeat(65) }, /stakingPoolId "0xf+" is not a Sui object id/],
  ])('rejects bad settings with a message naming the field: %j', (overrides, message) => {
    expect(() => resolveSuiNetwork(overrides)).toThrow(SuiConfigError);
    expect(() => resolveSuiNetwork(overrides)).toThrow(message);
  });

  it('names settings the way the caller spells them', () => {
    const hints = { network: '--network', grpcUrl: '--grpc-url', packageId: '--package (K3S_DAAS_PACKAGE_ID)', stakingPoolId: '--pool' };
    expect(() => resolveSuiNetwork({ stakingPoolId: POOL }, hints)).toThrow('no --package (K3S_DAAS_PACKAGE_ID) for testnet');
  });
});
