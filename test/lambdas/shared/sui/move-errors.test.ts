import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SuiClientTypes } from '@mysten/sui/client';
import { describeExecutionError, MOVE_ERRORS, moveErrorFor, type MoveModule } from '../../../../lambdas/shared/sui/move-errors';

const PKG = '0x' + 'ab'.repeat(32);

/** `/// doc\nconst EName: u64 = N;` pairs from a Move source file. */
function constantsIn(module: MoveModule): Record<number, { name: string; message: string }> {
  const source = readFileSync(join('contracts', 'sources', `${module}.move`), 'utf8');
  const found: Record<number, { name: string; message: string }> = {};
  for (const m of source.matchAll(/\/\/\/ ([^\n]*)\nconst (E\w+): u64 = (\d+);/g)) {
    found[Number(m[3])] = { name: m[2], message: m[1] };
  }
  return found;
}

describe('Move abort codes', () => {
  it.each(['staking', 'seal_token', 'enclave_registry'] as const)('the %s table equals the error constants of its Move source', (module) => {
    const fromSource = constantsIn(module);
    expect(Object.keys(fromSource).length).toBeGreaterThan(0);
    expect(MOVE_ERRORS[module]).toEqual(fromSource);
  });

  it('codes are unique across the package', () => {
    const codes = Object.values(MOVE_ERRORS).flatMap((t) => Object.keys(t));
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('names an abort of our package by module and code', () => {
    expect(moveErrorFor(PKG, { package: PKG, module: 'staking' }, '8')).toEqual({
      module: 'staking', name: 'ELockupNotOver', message: 'the lock-up period has not ended',
    });
    // Leading zeros / case of the package id do not matter.
    expect(moveErrorFor('0xAB' + 'ab'.repeat(31), { package: PKG, module: 'seal_token' }, 103n)?.name).toBe('EStakeSlashed');
  });

  it('does not name aborts of other packages, unknown modules or unknown codes', () => {
    expect(moveErrorFor(PKG, { package: '0x2', module: 'staking' }, 8)).toBeUndefined();
    expect(moveErrorFor(PKG, { package: PKG, module: 'coin' }, 8)).toBeUndefined();
    expect(moveErrorFor(PKG, { package: PKG, module: 'staking' }, 99)).toBeUndefined();
    expect(moveErrorFor(PKG, undefined, 8)).toBeUndefined();
    expect(moveErrorFor(PKG, { package: PKG, module: 'staking' }, '18446744073709551615')).toBeUndefined();
  });

  it('describes execution errors in one line', () => {
    const abort = (pkg: string, module: string, code: string): SuiClientTypes.ExecutionError => ({
      $kind: 'MoveAbort', message: 'raw', MoveAbort: { abortCode: code, location: { package: pkg, module, functionName: 'withdraw' } },
    });
    expect(describeExecutionError(abort(PKG, 'staking', '8'), PKG)).toBe('staking::ELockupNotOver (the lock-up period has not ended)');
    expect(describeExecutionError(abort('0x2', 'balance', '2'), PKG)).toBe('Move abort 2 in balance::withdraw');
    expect(describeExecutionError({ $kind: 'Unknown', message: 'InsufficientGas\nmore', Unknown: null }, PKG)).toBe('InsufficientGas');
    expect(describeExecutionError(undefined, PKG)).toBe('transaction failed');
  });
});
