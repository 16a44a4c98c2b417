import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { bcs as sdkBcs } from '@mysten/sui/bcs';
import { decodeEvent, encodeEvent, shortEventName, SUI_ADDRESS_BCS, UnknownEventError } from '../../../../lambdas/shared/sui/events';

const PKG = '0x' + 'ab'.repeat(32);
const addr = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => '0x' + Buffer.from(b).toString('hex'));
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

describe('event BCS schemas', () => {
  it('round-trips SealTokenIssued for any field values', () => {
    fc.assert(
      fc.property(addr, addr, addr, fc.integer({ min: 0, max: 2 }), fc.array(fc.string()), fc.string(), u64, (token, stake, owner, role, permissions, cluster, expires) => {
        const data = { token_id: token, stake_id: stake, owner, role, permissions, cluster_id: cluster, expires_at_ms: expires };
        const bytes = encodeEvent('seal_token::SealTokenIssued', data);
        const decoded = decodeEvent(`${PKG}::seal_token::SealTokenIssued`, bytes, PKG);
        expect(decoded.name).toBe('seal_token::SealTokenIssued');
        expect(decoded.data).toEqual({ ...data, expires_at_ms: expires.toString() });
      }),
    );
  });

  it('round-trips StakeDeposited', () => {
    const data = { stake_id: '0x' + '01'.repeat(32), owner: '0x' + '02'.repeat(32), role: 1, amount: 1_000_000_000n, node_id: 'node-a' };
    const decoded = decodeEvent(`${PKG}::staking::StakeDeposited`, encodeEvent('staking::StakeDeposited', data), PKG);
    expect(decoded.data).toEqual({ ...data, amount: '1000000000' });
  });

  it('rejects events of another package or unknown structs', () => {
    const bytes = encodeEvent('seal_token::SealTokenRevoked', { token_id: '0x' + '03'.repeat(32) });
    expect(() => decodeEvent(`0x${'cd'.repeat(32)}::seal_token::SealTokenRevoked`, bytes, PKG)).toThrow(UnknownEventError);
    expect(() => decodeEvent(`${PKG}::seal_token::Nope`, bytes, PKG)).toThrow(UnknownEventError);
    expect(shortEventName(`${PKG}::m::S<T>::x`, PKG)).toBeUndefined();
  });

  it('matches package ids regardless of leading zeros and case', () => {
    expect(shortEventName('0x2::staking::StakeWithdrawn', '0x' + '0'.repeat(63) + '2')).toBe('staking::StakeWithdrawn');
  });

  // The hex fixtures below are asserted byte for byte by the Move unit tests
  // (`contracts/tests/*_tests.move`, "…_bcs_matches_the_typescript_event_schema"), so a change to a Move
  // event struct or to these schemas fails on one side.
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

  it('StakeDeposited matches the Move BCS fixture', () => {
    const bytes = encodeEvent('staking::StakeDeposited', {
      stake_id: '0x' + '11'.repeat(32), owner: '0x' + '22'.repeat(32), role: 1, amount: 1_000_000_000n, node_id: 'n1',
    });
    expect(hex(bytes)).toBe('11'.repeat(32) + '22'.repeat(32) + '01' + '00ca9a3b00000000' + '026e31');
  });

  it('SealTokenIssued matches the Move BCS fixture', () => {
    const bytes = encodeEvent('seal_token::SealTokenIssued', {
      token_id: '0x' + '33'.repeat(32), stake_id: '0x' + '11'.repeat(32), owner: '0x' + '22'.repeat(32), role: 0,
      permissions: ['read'], cluster_id: 'dev', expires_at_ms: 1_700_000_000_000n,
    });
    expect(hex(bytes)).toBe('33'.repeat(32) + '11'.repeat(32) + '22'.repeat(32) + '00' + '010472656164' + '03646576' + '0068e5cf8b010000');
  });

  it('MinStakeChanged matches the Move BCS fixture', () => {
    const bytes = encodeEvent('staking::MinStakeChanged', { role: 1, amount: 2_000_000_000n });
    expect(hex(bytes)).toBe('01' + '0094357700000000');
    expect(decodeEvent(`${PKG}::staking::MinStakeChanged`, bytes, PKG).data).toEqual({ role: 1, amount: '2000000000' });
  });

  it('EnclaveRegistered matches the Move BCS fixture', () => {
    const bytes = encodeEvent('enclave_registry::EnclaveRegistered', {
      cluster_id: 'dev', public_key: [0x04, 0xab], pcrs: [[0x01, 0x02], [0x03]],
    });
    expect(hex(bytes)).toBe('036465760204ab020201020103');
  });

  it('AdminApproved/AdminRevoked match the Move BCS fixture', () => {
    const admin = `0x${'22'.repeat(32)}`;
    expect(hex(encodeEvent('staking::AdminApproved', { admin }))).toBe('22'.repeat(32));
    expect(hex(encodeEvent('staking::AdminRevoked', { admin }))).toBe('22'.repeat(32));
    expect(decodeEvent(`${PKG}::staking::AdminRevoked`, encodeEvent('staking::AdminRevoked', { admin }), PKG)).toEqual({ name: 'staking::AdminRevoked', data: { admin } });
  });

  it('RegistrationOpened/EnclaveDeregistered match the Move BCS fixture', () => {
    expect(hex(encodeEvent('enclave_registry::RegistrationOpened', { cluster_id: 'dev', nonce: [1, 2] }))).toBe('03646576020102');
    expect(hex(encodeEvent('enclave_registry::EnclaveDeregistered', { cluster_id: 'dev' }))).toBe('03646576');
  });
});

describe('the Sui address layout the event schemas use', () => {
  // Defined on the BCS library so the indexer's cold start carries no transaction layouts; it must
  // encode, decode and refuse exactly as the Sui SDK's own `bcs.Address`.
  const outcome = (f: () => unknown) => {
    try {
      const value = f();
      return { ok: value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value };
    } catch {
      return { error: true };
    }
  };
  const strings = fc.oneof(addr, fc.stringMatching(/^(0x)?[0-9a-fA-F]{0,66}$/), fc.string());
  const bytes = fc.uint8Array({ minLength: 0, maxLength: 40 });

  it('encodes every string and byte array as the SDK does, refusing the same ones', () => {
    fc.assert(
      fc.property(fc.oneof(strings, fc.uint8Array({ minLength: 31, maxLength: 33 })), (value) => {
        expect(outcome(() => SUI_ADDRESS_BCS.serialize(value).toBytes())).toEqual(outcome(() => sdkBcs.Address.serialize(value).toBytes()));
      }),
      { numRuns: 500 },
    );
  });

  it('decodes every byte string as the SDK does', () => {
    fc.assert(
      fc.property(bytes, (value) => {
        expect(outcome(() => SUI_ADDRESS_BCS.parse(value))).toEqual(outcome(() => sdkBcs.Address.parse(value)));
      }),
      { numRuns: 500 },
    );
  });
});
