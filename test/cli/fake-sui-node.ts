// A small Sui full node behind `FakeSuiGrpcTransport` for the CLI tests: it resolves object inputs the way
// a node does during simulation, selects a gas coin, checks the transaction signature against the sender,
// and answers executions with the events the test scripts. Failures (aborts, low balance, outage) are
// switched on per test.
import type { SuiGrpcClient } from '@mysten/sui/grpc';
import { Transaction } from '@mysten/sui/transactions';
import { normalizeSuiAddress, toBase58 } from '@mysten/sui/utils';
import { verifyTransactionSignature } from '@mysten/sui/verify';
import { RpcError } from '@protobuf-ts/runtime-rpc';
import { createSuiClient, type SuiClientOptions } from '../../lambdas/shared/sui/client';
import { FakeSuiGrpcTransport } from '../support/fake-sui-grpc';

const INPUT_KIND = { IMMUTABLE_OR_OWNED: 2, SHARED: 3 } as const;

export interface FakeObject {
  kind: 'shared' | 'owned';
  version: bigint;
  owner?: string;
  type?: string;
  contents?: Uint8Array;
}

export interface ScriptedEvent {
  /** `module::Struct`; the node prefixes the package id. */
  name: string;
  bcs: Uint8Array;
}

export interface MoveAbortScript {
  module: string;
  code: number;
  package?: string;
}

/** What the executed transaction called, decoded from the signed bytes. */
export interface ExecutedCall {
  sender: string;
  calls: string[];
}

const digestOf = (n: number) => toBase58(new Uint8Array(32).fill(n));

export class FakeSuiNode {
  readonly transport = new FakeSuiGrpcTransport();
  readonly objects = new Map<string, FakeObject>();
  readonly executed: ExecutedCall[] = [];
  readonly authHeaders: (string | undefined)[] = [];
  balanceMist = 100n * 1_000_000_000n;
  /** The next simulation aborts with this Move error. */
  abort?: MoveAbortScript;
  /** The next simulation fails with this non-abort execution error (e.g. InsufficientGas). */
  failure?: { kind: number; description: string };
  /** Execution answers with these events (per call so tests can derive them from the transaction). */
  events: (call: ExecutedCall) => ScriptedEvent[] = () => [];
  private nextDigest = 1;

  constructor(readonly packageId: string) {
    const t = this.transport;
    t.on('sui.rpc.v2.StateService/GetBalance', (req: { owner: string }, opts) => {
      this.authHeaders.push(opts.meta?.['x-api-key'] as string | undefined);
      void req;
      return { balance: { coinType: '0x2::sui::SUI', balance: this.balanceMist, coinBalance: this.balanceMist, addressBalance: 0n } };
    });
    t.on('sui.rpc.v2.TransactionExecutionService/SimulateTransaction', (req) => this.simulate(req));
    t.on('sui.rpc.v2.TransactionExecutionService/ExecuteTransaction', (req) => this.execute(req));
    t.on('sui.rpc.v2.StateService/ListOwnedObjects', (req) => this.listOwned(req));
    t.on('sui.rpc.v2.LedgerService/BatchGetObjects', (req) => this.batchGet(req));
  }

  client = (options: SuiClientOptions): SuiGrpcClient => createSuiClient({ ...options, transport: this.transport });

  addObject(id: string, object: FakeObject): void {
    this.objects.set(normalizeSuiAddress(id), object);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private simulate(req: any): unknown {
    const tx = structuredClone(req.transaction);
    const pt = tx.kind.data.programmableTransaction;
    pt.inputs = pt.inputs.map((input: { kind?: number; objectId?: string; mutable?: boolean }) => {
      if (input.kind || !input.objectId) return input;
      const object = this.objects.get(normalizeSuiAddress(input.objectId));
      if (!object) throw new RpcError(`object ${input.objectId} not found`, 'NOT_FOUND');
      return object.kind === 'shared'
        ? { kind: INPUT_KIND.SHARED, objectId: input.objectId, version: object.version, mutable: true }
        : { kind: INPUT_KIND.IMMUTABLE_OR_OWNED, objectId: input.objectId, version: object.version, digest: digestOf(7) };
    });
    tx.gasPayment = {
      objects: [{ objectId: normalizeSuiAddress('0x9a5'), version: 3n, digest: digestOf(9) }],
      owner: tx.sender,
      price: 1000n,
      budget: 5_000_000n,
    };
    let status: unknown = { success: true };
    if (this.abort) {
      const { module, code } = this.abort;
      status = {
        success: false,
        error: {
          description: `MoveAbort in ${module} with code ${code}`,
          errorDetails: { oneofKind: 'abort', abort: { abortCode: BigInt(code), location: { package: this.abort.package ?? this.packageId, module, functionName: 'f' } } },
        },
      };
    } else if (this.failure) {
      status = { success: false, error: { description: this.failure.description, kind: this.failure.kind } };
    }
    return { transaction: { transaction: tx, effects: { status, epoch: 10n } } };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async execute(req: any): Promise<unknown> {
    const bytes: Uint8Array = req.transaction.bcs.value;
    const data = Transaction.from(bytes).getData();
    const sender = normalizeSuiAddress(data.sender!);
    // A node rejects a signature that does not come from the sender's key.
    const publicKey = await verifyTransactionSignature(bytes, Buffer.from(req.signatures[0].bcs.value as Uint8Array).toString('base64'));
    if (publicKey.toSuiAddress() !== sender) throw new RpcError('signature does not match the sender', 'INVALID_ARGUMENT');
    const call: ExecutedCall = {
      sender,
      calls: data.commands.flatMap((c) => (c.$kind === 'MoveCall' ? [`${c.MoveCall.module}::${c.MoveCall.function}`] : [])),
    };
    this.executed.push(call);
    const digest = digestOf(100 + this.nextDigest++);
    return {
      transaction: {
        digest,
        effects: { status: { success: true }, epoch: 10n },
        events: {
          events: this.events(call).map((e) => ({
            packageId: this.packageId, module: e.name.split('::')[0], sender, eventType: `${this.packageId}::${e.name}`,
            contents: { name: `${this.packageId}::${e.name}`, value: e.bcs },
          })),
        },
        checkpoint: 42n,
      },
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private batchGet(req: any): unknown {
    const NOT_FOUND = 5;
    return {
      objects: (req.requests as { objectId: string }[]).map(({ objectId }) => {
        const id = normalizeSuiAddress(objectId);
        const o = this.objects.get(id);
        if (!o) return { result: { oneofKind: 'error', error: { code: NOT_FOUND, message: `object ${id} not found` } } };
        const owner = o.kind === 'shared' ? { kind: 3, version: o.version } : { kind: 1, address: o.owner ?? id };
        return { result: { oneofKind: 'object', object: { objectId: id, version: o.version, digest: digestOf(5), objectType: o.type, owner, contents: o.contents && { name: o.type, value: o.contents } } } };
      }),
    };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private listOwned(req: any): unknown {
    const owner = normalizeSuiAddress(req.owner);
    const all = [...this.objects.entries()].filter(([, o]) => o.owner && normalizeSuiAddress(o.owner) === owner && (!req.objectType || o.type === req.objectType));
    // Pages of `pageSize`, the token being the index of the next object.
    const start = req.pageToken ? Number(new TextDecoder().decode(req.pageToken)) : 0;
    const size = req.pageSize ?? 50;
    const page = all.slice(start, start + size);
    const next = start + size < all.length ? new TextEncoder().encode(String(start + size)) : undefined;
    return {
      objects: page.map(([id, o]) => ({ objectId: id, version: o.version, digest: digestOf(5), objectType: o.type, owner: { kind: 1, address: owner }, contents: { name: o.type, value: o.contents } })),
      nextPageToken: next,
    };
  }
}
