// A programmable in-process gRPC transport for `SuiGrpcClient` ({ network, transport }): tests register
// a handler per `service/Method` (e.g. `sui.rpc.v2.LedgerService/ListEvents`) and get real SDK code
// paths (request building, response decoding, pagination) without a network. Unregistered methods
// fail with UNIMPLEMENTED so a test never passes by accident.
import {
  Deferred,
  RpcError,
  RpcOutputStreamController,
  ServerStreamingCall,
  UnaryCall,
  mergeRpcOptions,
  type MethodInfo,
  type RpcOptions,
  type RpcTransport,
} from '@protobuf-ts/runtime-rpc';

export type MethodKey = `${string}/${string}`;
/** Unary: return the response message. Server streaming: return the list of frames. Throw `RpcError` to fail. */
export type FakeHandler = (request: any, options: RpcOptions) => unknown | Promise<unknown>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface RecordedCall {
  method: MethodKey;
  request: unknown;
  headers: Record<string, string | string[]>;
}

export class FakeSuiGrpcTransport implements RpcTransport {
  readonly calls: RecordedCall[] = [];
  private readonly handlers = new Map<string, FakeHandler>();

  on(method: MethodKey, handler: FakeHandler): this {
    this.handlers.set(method, handler);
    return this;
  }

  /** Makes every call fail as an unreachable server would. */
  failAll(code = 'UNAVAILABLE', message = 'connection refused'): this {
    this.handlers.clear();
    this.fallback = () => {
      throw new RpcError(message, code);
    };
    return this;
  }

  private fallback: FakeHandler | undefined;

  mergeOptions(options?: Partial<RpcOptions>): RpcOptions {
    return mergeRpcOptions({}, options);
  }

  private resolve(method: MethodInfo, input: unknown, options: RpcOptions): Promise<unknown> {
    const key = `${method.service.typeName}/${method.name}` as MethodKey;
    this.calls.push({ method: key, request: input, headers: { ...(options.meta ?? {}) } });
    const handler = this.handlers.get(key) ?? this.fallback;
    if (!handler) return Promise.reject(new RpcError(`fake transport: no handler for ${key}`, 'UNIMPLEMENTED'));
    return Promise.resolve().then(() => handler(input, options));
  }

  unary<I extends object, O extends object>(method: MethodInfo<I, O>, input: I, options: RpcOptions): UnaryCall<I, O> {
    const result = this.resolve(method, input, options).then((r) => method.O.create(r as never));
    const ok = result.then(() => ({ code: 'OK', detail: '' }));
    return new UnaryCall(method, options.meta ?? {}, input, Promise.resolve({}), result, ok, Promise.resolve({}));
  }

  serverStreaming<I extends object, O extends object>(method: MethodInfo<I, O>, input: I, options: RpcOptions): ServerStreamingCall<I, O> {
    const stream = new RpcOutputStreamController<O>();
    const status = new Deferred<{ code: string; detail: string }>();
    this.resolve(method, input, options).then(
      (frames) => {
        for (const frame of (frames ?? []) as unknown[]) stream.notifyMessage(method.O.create(frame as never));
        stream.notifyComplete();
        status.resolve({ code: 'OK', detail: '' });
      },
      (error: unknown) => {
        const rpcError = error instanceof RpcError ? error : new RpcError(String(error), 'INTERNAL');
        stream.notifyError(rpcError);
        status.rejectPending(rpcError);
      },
    );
    return new ServerStreamingCall(method, options.meta ?? {}, input, Promise.resolve({}), stream, status.promise, Promise.resolve({}));
  }

  clientStreaming(): never {
    throw new RpcError('fake transport: client streaming is not used by the SDK', 'UNIMPLEMENTED');
  }

  duplex(): never {
    throw new RpcError('fake transport: duplex streaming is not used by the SDK', 'UNIMPLEMENTED');
  }
}
