import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { bcs } from '@mysten/sui/bcs';
import { fromBase64 } from '@mysten/sui/utils';
import type { Transaction } from '@mysten/sui/transactions';
import {
  buildIssueTransaction, buildRequestUnstakeTransaction, buildRevokeTransaction, buildStakeTransaction, buildWithdrawTransaction,
  InvalidTransactionInputError, MAX_TOKEN_TTL_MS, sealTokenType,
} from '../../../../lambdas/shared/sui/transactions';

const PKG = '0x' + 'a1'.repeat(32);
const POOL = '0x' + 'b2'.repeat(32);
const ME = '0x' + 'c3'.repeat(32);
const STAKE = '0x' + 'd4'.repeat(32);
const TOKEN = '0x' + 'e5'.repeat(32);
const CLOCK = '0x' + '0'.repeat(63) + '6';

type Data = ReturnType<Transaction['getData']>;
type Arg = Data['commands'][number] extends infer C ? C extends { MoveCall: { arguments: (infer A)[] } } ? A : never : never;

function moveCalls(data: Data) {
  return data.commands.flatMap((c) => (c.$kind === 'MoveCall' ? [c.MoveCall] : []));
}

/** What an argument stands for: a pure value's bytes, an object id, or a command result. */
function describeArg(data: Data, arg: Arg): string {
  if (arg.$kind === 'Input') {
    const input = data.inputs[arg.Input];
    if (input.$kind === 'Pure') return `pure:${Buffer.from(fromBase64(input.Pure.bytes)).toString('hex')}`;
    if (input.$kind === 'UnresolvedObject') return `object:${input.UnresolvedObject.objectId}`;
    if (input.$kind === 'Object' && input.Object.$kind === 'SharedObject') {
      return `shared:${input.Object.SharedObject.objectId}:${input.Object.SharedObject.mutable ? 'mut' : 'ref'}`;
    }
    return `input:${input.$kind}`;
  }
  if (arg.$kind === 'Result') return `result:${arg.Result}`;
  if (arg.$kind === 'NestedResult') return `result:${arg.NestedResult[0]}.${arg.NestedResult[1]}`;
  return arg.$kind;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const pureU8 = (n: number) => `pure:${hex(bcs.u8().serialize(n).toBytes())}`;
const pureU64 = (n: bigint | number) => `pure:${hex(bcs.u64().serialize(n).toBytes())}`;
const pureString = (s: string) => `pure:${hex(bcs.string().serialize(s).toBytes())}`;
const pureAddress = (a: string) => `pure:${hex(bcs.Address.serialize(a).toBytes())}`;

describe('transaction builders', () => {
  it('stake splits the amount off the gas coin, calls staking::stake with role u8 and node id, and sends the receipt to the owner', () => {
    const data = buildStakeTransaction({ packageId: PKG, stakingPoolId: POOL, owner: ME, amountMist: 2_000_000_000n, role: 'node', nodeId: 'op-1' }).getData();
    expect(data.sender).toBe(ME);
    expect(data.commands.map((c) => c.$kind)).toEqual(['SplitCoins', 'MoveCall', 'TransferObjects']);
    const split = data.commands[0].SplitCoins!;
    expect(split.coin.$kind).toBe('GasCoin');
    expect(split.amounts.map((a) => describeArg(data, a))).toEqual([pureU64(2_000_000_000n)]);
    const [call] = moveCalls(data);
    expect(`${call.package}::${call.module}::${call.function}`).toBe(`${PKG}::staking::stake`);
    expect(call.arguments.map((a) => describeArg(data, a))).toEqual([`object:${POOL}`, 'result:0.0', pureU8(1), pureString('op-1'), `shared:${CLOCK}:ref`]);
    const transfer = data.commands[2].TransferObjects!;
    expect(transfer.objects.map((a) => describeArg(data, a))).toEqual(['result:1']);
    expect(describeArg(data, transfer.address)).toBe(pureAddress(ME));
  });

  it.each([['user', 0], ['admin', 2]] as const)('stake encodes role %s as %d with an empty node id', (role, code) => {
    const data = buildStakeTransaction({ packageId: PKG, stakingPoolId: POOL, owner: ME, amountMist: 10n ** 10n, role }).getData();
    const [call] = moveCalls(data);
    expect(describeArg(data, call.arguments[2])).toBe(pureU8(code));
    expect(describeArg(data, call.arguments[3])).toBe(pureString(''));
  });

  it('request_unstake passes pool, receipt and clock', () => {
    const data = buildRequestUnstakeTransaction({ packageId: PKG, stakingPoolId: POOL, sender: ME, stakeId: STAKE }).getData();
    const calls = moveCalls(data);
    expect(calls.map((c) => c.function)).toEqual(['request_unstake']);
    expect(calls[0].arguments.map((a) => describeArg(data, a))).toEqual([`object:${POOL}`, `object:${STAKE}`, `shared:${CLOCK}:ref`]);
  });

  it('withdraw pays the sender and destroys the receipt in the same transaction', () => {
    const data = buildWithdrawTransaction({ packageId: PKG, stakingPoolId: POOL, sender: ME, stakeId: STAKE }).getData();
    expect(data.commands.map((c) => c.$kind)).toEqual(['MoveCall', 'TransferObjects', 'MoveCall']);
    const [withdraw, destroy] = moveCalls(data);
    expect(withdraw.function).toBe('withdraw');
    expect(withdraw.arguments.map((a) => describeArg(data, a))).toEqual([`object:${POOL}`, `object:${STAKE}`, `shared:${CLOCK}:ref`]);
    expect(data.commands[1].TransferObjects!.objects.map((a) => describeArg(data, a))).toEqual(['result:0']);
    expect(describeArg(data, data.commands[1].TransferObjects!.address)).toBe(pureAddress(ME));
    expect(destroy.function).toBe('destroy_receipt');
    expect(destroy.arguments.map((a) => describeArg(data, a))).toEqual([`object:${POOL}`, `object:${STAKE}`]);
  });

  it('issue passes pool, receipt, cluster id, ttl and clock to seal_token::issue', () => {
    const data = buildIssueTransaction({ packageId: PKG, stakingPoolId: POOL, sender: ME, stakeId: STAKE, clusterId: 'prod-eu', ttlMs: 86_400_000 }).getData();
    const [call] = moveCalls(data);
    expect(`${call.module}::${call.function}`).toBe('seal_token::issue');
    expect(call.arguments.map((a) => describeArg(data, a))).toEqual([
      `object:${POOL}`, `object:${STAKE}`, pureString('prod-eu'), pureU64(86_400_000), `shared:${CLOCK}:ref`,
    ]);
  });

  it('revoke passes the token object to seal_token::revoke', () => {
    const data = buildRevokeTransaction({ packageId: PKG, sender: ME, tokenId: TOKEN }).getData();
    const [call] = moveCalls(data);
    expect(`${call.package}::${call.module}::${call.function}`).toBe(`${PKG}::seal_token::revoke`);
    expect(call.arguments.map((a) => describeArg(data, a))).toEqual([`object:${TOKEN}`]);
    expect(sealTokenType('0xa')).toBe('0x' + '0'.repeat(63) + 'a::seal_token::SealToken');
  });

  const base = { packageId: PKG, stakingPoolId: POOL, owner: ME };
  it.each([
    ['a zero amount', () => buildStakeTransaction({ ...base, amountMist: 0n, role: 'user' }), /positive/],
    ['an amount above u64', () => buildStakeTransaction({ ...base, amountMist: 1n << 64n, role: 'user' }), /below 2\^64/],
    ['a node stake without node id', () => buildStakeTransaction({ ...base, amountMist: 1n, role: 'node' }), /node id of 1 to 128 bytes/],
    ['a node id over 128 bytes', () => buildStakeTransaction({ ...base, amountMist: 1n, role: 'node', nodeId: 'é'.repeat(65) }), /node id/],
    ['a user stake with a node id', () => buildStakeTransaction({ ...base, amountMist: 1n, role: 'user', nodeId: 'x' }), /takes no node id/],
    ['an unknown role', () => buildStakeTransaction({ ...base, amountMist: 1n, role: 'root' as 'user' }), /role must be one of/],
    ['a bad owner', () => buildStakeTransaction({ ...base, owner: 'alice', amountMist: 1n, role: 'user' }), /owner "alice" is not a Sui address/],
    ['a bad package id', () => buildRevokeTransaction({ packageId: 'x', sender: ME, tokenId: TOKEN }), /package id "x"/],
    ['a bad token id', () => buildRevokeTransaction({ packageId: PKG, sender: ME, tokenId: '0xzz' }), /token id "0xzz"/],
    ['a bad stake id', () => buildRequestUnstakeTransaction({ packageId: PKG, stakingPoolId: POOL, sender: ME, stakeId: '' }), /stake id ""/],
    ['a bad pool id', () => buildWithdrawTransaction({ packageId: PKG, stakingPoolId: '0x', sender: ME, stakeId: STAKE }), /staking pool id "0x"/],
  ])('rejects %s before building', (_name, build, message) => {
    expect(build).toThrow(InvalidTransactionInputError);
    expect(build).toThrow(message);
  });

  it('issue accepts exactly the Move limits and rejects anything outside them', () => {
    const issue = (clusterId: string, ttlMs: number) => () =>
      buildIssueTransaction({ packageId: PKG, stakingPoolId: POOL, sender: ME, stakeId: STAKE, clusterId, ttlMs });
    expect(issue('c'.repeat(64), MAX_TOKEN_TTL_MS)).not.toThrow();
    expect(issue('c', 1)).not.toThrow();
    fc.assert(
      fc.property(fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 31), max: -1 }), fc.double({ min: MAX_TOKEN_TTL_MS + 1, max: 2 ** 60, noNaN: true }), fc.constant(1.5), fc.constant(Number.NaN)), (ttl) => {
        expect(issue('c', ttl)).toThrow(/token lifetime/);
      }),
    );
    expect(issue('', 1)).toThrow(/cluster id must be 1 to 64 bytes/);
    expect(issue('c'.repeat(65), 1)).toThrow(/cluster id/);
  });
});
