// Where the `k3s_daas` package lives on each Sui network. Package and pool ids exist only after
// `sui client publish` (the publish transaction creates the shared `StakingPool`); until an operator
// records them here they come from flags or environment variables and the CLI says so when missing.
import { isValidSuiObjectId, normalizeSuiObjectId } from '@mysten/sui/utils';

export const SUI_NETWORKS = ['mainnet', 'testnet', 'devnet', 'localnet'] as const;
export type SuiNetwork = (typeof SUI_NETWORKS)[number];

export interface SuiNetworkDefaults {
  readonly grpcUrl: string;
  /** Published `k3s_daas` package, when known. */
  readonly packageId?: string;
  /** The shared `staking::StakingPool` created at publish, when known. */
  readonly stakingPoolId?: string;
}

export const SUI_NETWORK_DEFAULTS: Readonly<Record<SuiNetwork, SuiNetworkDefaults>> = {
  mainnet: { grpcUrl: 'https://fullnode.mainnet.sui.io:443' },
  testnet: { grpcUrl: 'https://fullnode.testnet.sui.io:443' },
  devnet: { grpcUrl: 'https://fullnode.devnet.sui.io:443' },
  localnet: { grpcUrl: 'http://127.0.0.1:9000' },
};

export interface SuiNetworkConfig {
  readonly network: SuiNetwork;
  readonly grpcUrl: string;
  readonly packageId: string;
  readonly stakingPoolId: string;
}

export interface SuiNetworkOverrides {
  network?: string;
  grpcUrl?: string;
  packageId?: string;
  stakingPoolId?: string;
}

/** A configuration problem; the message names the setting (and how to set it when `hints` are given). */
export class SuiConfigError extends Error {}

export interface SettingHints {
  network: string;
  grpcUrl: string;
  packageId: string;
  stakingPoolId: string;
}

const DEFAULT_HINTS: SettingHints = { network: 'network', grpcUrl: 'grpcUrl', packageId: 'packageId', stakingPoolId: 'stakingPoolId' };

export function isSuiNetwork(value: string): value is SuiNetwork {
  return (SUI_NETWORKS as readonly string[]).includes(value);
}

/** Merges overrides over the network's defaults and validates every field. */
export function resolveSuiNetwork(overrides: SuiNetworkOverrides, hints: SettingHints = DEFAULT_HINTS): SuiNetworkConfig {
  const network = overrides.network ?? 'testnet';
  if (!isSuiNetwork(network)) {
    throw new SuiConfigError(`${hints.network} "${network}" is not one of ${SUI_NETWORKS.join(', ')}`);
  }
  const defaults = SUI_NETWORK_DEFAULTS[network];
  const grpcUrl = overrides.grpcUrl ?? defaults.grpcUrl;
  let url: URL;
  try {
    url = new URL(grpcUrl);
  } catch {
    throw new SuiConfigError(`${hints.grpcUrl} "${grpcUrl}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new SuiConfigError(`${hints.grpcUrl} "${grpcUrl}" must be an http(s) URL`);
  }
  return {
    network,
    grpcUrl: grpcUrl.replace(/\/+$/, ''),
    packageId: objectId(overrides.packageId ?? defaults.packageId, hints.packageId, network),
    stakingPoolId: objectId(overrides.stakingPoolId ?? defaults.stakingPoolId, hints.stakingPoolId, network),
  };
}

function objectId(value: string | undefined, hint: string, network: SuiNetwork): string {
  if (value === undefined || value === '') {
    throw new SuiConfigError(`no ${hint} for ${network}: the k3s_daas package is not recorded for this network`);
  }
  if (!/^0x[0-9a-fA-F]{1,64}$/.test(value) || !isValidSuiObjectId(normalizeSuiObjectId(value))) {
    throw new SuiConfigError(`${hint} "${value}" is not a Sui object id (0x followed by up to 64 hex digits)`);
  }
  return normalizeSuiObjectId(value);
}
