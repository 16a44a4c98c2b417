// Stand-ins for a dependency that is down, for fault-injection tests: an endpoint that accepts
// connections and never answers (a hung service, a black-holed load balancer), and one that refuses
// them (nothing listening). SDK clients are pointed at them like at moto.
import * as net from 'node:net';

export interface HangingEndpoint {
  readonly endpoint: string;
  /** Connections accepted so far (each one a request the client had to give up on). */
  connections(): number;
  stop(): Promise<void>;
}

export async function startHangingEndpoint(): Promise<HangingEndpoint> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // Read and never answer.
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A local port nothing listens on (bound, then released): connecting to it is refused at once. */
export async function refusingEndpoint(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
