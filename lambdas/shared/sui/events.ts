// BCS layouts of every event the `k3s_daas` package emits (DESIGN §7). One definition, used by the
// indexer to decode, by the CLI to show results, and by tests to encode synthetic histories.
// Field order and types must equal the Move structs exactly: BCS has no field names.
import { bcs as baseBcs } from '@mysten/bcs';
import { fromHex, isValidSuiAddress, normalizeSuiAddress, SUI_ADDRESS_LENGTH, toHex } from '@mysten/sui/utils';

/**
 * `@mysten/sui/bcs`'s `bcs` is one object holding every Sui layout (transactions, effects, …): importing
 * it put ~15 KB the indexer never decodes into its cold start. The primitives are the BCS library's own
 * (the SDK's `bcs` spreads them); this is the SDK's definition of `bcs.Address`, which
 * test/lambdas/shared/sui/events.test.ts holds it to (same bytes, same refusals).
 */
export const SUI_ADDRESS_BCS = baseBcs.bytes(SUI_ADDRESS_LENGTH).transform({
  validate: (val: string | Uint8Array) => {
    const address = typeof val === 'string' ? val : toHex(val);
    if (!address || !isValidSuiAddress(normalizeSuiAddress(address))) throw new Error(`Invalid Sui address ${address}`);
  },
  input: (val: string | Uint8Array) => (typeof val === 'string' ? fromHex(normalizeSuiAddress(val)) : val),
  output: (val) => normalizeSuiAddress(toHex(val)),
});

const bcs = { ...baseBcs, Address: SUI_ADDRESS_BCS };

const ID = bcs.Address; // sui::object::ID is a struct holding one address; BCS is the 32 bytes.

export const EVENT_SCHEMAS = {
  'staking::StakeDeposited': bcs.struct('StakeDeposited', {
    stake_id: ID,
    owner: bcs.Address,
    role: bcs.u8(),
    amount: bcs.u64(),
    node_id: bcs.string(),
  }),
  'staking::UnstakeRequested': bcs.struct('UnstakeRequested', {
    stake_id: ID,
    unlock_at_ms: bcs.u64(),
  }),
  'staking::StakeWithdrawn': bcs.struct('StakeWithdrawn', {
    stake_id: ID,
    amount: bcs.u64(),
  }),
  'staking::StakeSlashed': bcs.struct('StakeSlashed', {
    stake_id: ID,
    amount: bcs.u64(),
    remaining: bcs.u64(),
    reason: bcs.string(),
  }),
  'staking::MinStakeChanged': bcs.struct('MinStakeChanged', {
    role: bcs.u8(),
    amount: bcs.u64(),
  }),
  'staking::AdminApproved': bcs.struct('AdminApproved', {
    admin: bcs.Address,
  }),
  'staking::AdminRevoked': bcs.struct('AdminRevoked', {
    admin: bcs.Address,
  }),
  'seal_token::SealTokenIssued': bcs.struct('SealTokenIssued', {
    token_id: ID,
    stake_id: ID,
    owner: bcs.Address,
    role: bcs.u8(),
    permissions: bcs.vector(bcs.string()),
    cluster_id: bcs.string(),
    expires_at_ms: bcs.u64(),
  }),
  'seal_token::SealTokenRevoked': bcs.struct('SealTokenRevoked', {
    token_id: ID,
  }),
  'enclave_registry::EnclaveRegistered': bcs.struct('EnclaveRegistered', {
    cluster_id: bcs.string(),
    public_key: bcs.vector(bcs.u8()),
    pcrs: bcs.vector(bcs.vector(bcs.u8())),
  }),
  'enclave_registry::RegistrationOpened': bcs.struct('RegistrationOpened', {
    cluster_id: bcs.string(),
    nonce: bcs.vector(bcs.u8()),
  }),
  'enclave_registry::EnclaveDeregistered': bcs.struct('EnclaveDeregistered', {
    cluster_id: bcs.string(),
  }),
} as const;

export type EventName = keyof typeof EVENT_SCHEMAS;
export type EventData<N extends EventName> = ReturnType<(typeof EVENT_SCHEMAS)[N]['parse']>;

/** A decoded event: its short name (`module::Struct`) and its typed fields. */
export type DecodedEvent = { [N in EventName]: { name: N; data: EventData<N> } }[EventName];

export class UnknownEventError extends Error {}

/** `0x…::staking::StakeDeposited` → `staking::StakeDeposited` when the package matches. */
export function shortEventName(eventType: string, packageId: string): string | undefined {
  const [pkg, module, name, ...rest] = eventType.split('::');
  if (rest.length > 0 || !module || !name) return undefined;
  if (normalizeId(pkg) !== normalizeId(packageId)) return undefined;
  return `${module}::${name}`;
}

/** Decodes one event of the package; throws `UnknownEventError` for foreign or unknown types. */
export function decodeEvent(eventType: string, bcsBytes: Uint8Array, packageId: string): DecodedEvent {
  const name = shortEventName(eventType, packageId);
  if (!name || !(name in EVENT_SCHEMAS)) throw new UnknownEventError(`unknown event type ${eventType}`);
  const schema = EVENT_SCHEMAS[name as EventName];
  return { name, data: schema.parse(bcsBytes) } as DecodedEvent;
}

export function encodeEvent<N extends EventName>(name: N, data: Parameters<(typeof EVENT_SCHEMAS)[N]['serialize']>[0]): Uint8Array {
  // The generic schema union cannot be narrowed by TypeScript; the caller's types are checked above.
  return (EVENT_SCHEMAS[name] as { serialize(v: unknown): { toBytes(): Uint8Array } }).serialize(data).toBytes();
}

function normalizeId(id: string): string {
  return '0x' + id.replace(/^0x/i, '').toLowerCase().padStart(64, '0');
}
