// Wraps an in-process gRPC transport (FakeSuiGrpcTransport) so every request and response message goes
// through its protobuf binary encoding and back, as on the wire: the SDK then pays the decoding a real
// full node's answers cost (the fake alone hands over message objects). For benchmarks and tests of the
// indexer's production path.
import { RpcOutputStreamController, ServerStreamingCall, UnaryCall, type MethodInfo, type RpcOptions, type RpcTransport } from '@protobuf-ts/runtime-rpc';

function wire<T extends object>(type: MethodInfo['I'] | MethodInfo['O'], message: T): T {
  return type.fromBinary(type.toBinary(message)) as T;
}

export function protobufWire(inner: RpcTransport): RpcTransport {
  return {
    mergeOptions: (options?: Partial<RpcOptions>) => inner.mergeOptions(options),
    unary<I extends object, O extends object>(method: MethodInfo<I, O>, input: I, options: RpcOptions): UnaryCall<I, O> {
      const call = inner.unary(method, wire(method.I, input), options);
      const response = call.response.then((r) => wire(method.O, r));
      return new UnaryCall(method, options.meta ?? {}, input, call.headers, response, call.status, call.trailers);
    },
    serverStreaming<I extends object, O extends object>(method: MethodInfo<I, O>, input: I, options: RpcOptions): ServerStreamingCall<I, O> {
      const call = inner.serverStreaming(method, wire(method.I, input), options);
      const stream = new RpcOutputStreamController<O>();
      call.responses.onNext((message, error, complete) => {
        if (message) stream.notifyMessage(wire(method.O, message));
        if (error) stream.notifyError(error);
        if (complete) stream.notifyComplete();
      });
      return new ServerStreamingCall(method, options.meta ?? {}, input, call.headers, stream, call.status, call.trailers);
    },
    clientStreaming: (method, options) => inner.clientStreaming(method, options),
    duplex: (method, options) => inner.duplex(method, options),
  };
}
