// vsock plumbing shared by the supervisor (inside the enclave) and the host agent (outside). Node has
// no AF_VSOCK sockets, so every program here speaks plain TCP on loopback and the vsock hop is done by
// `socat` (1.7.4+ has VSOCK-LISTEN/VSOCK-CONNECT; Amazon Linux 2023 and Debian bookworm ship it).
// The vsock side sits behind `VsockNetwork` so tests swap in an in-memory stand-in.
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { Duplex } from 'node:stream';

/** The parent instance's CID as seen from inside an enclave (fixed by Nitro). */
export const PARENT_CID = 3;

/** vsock ports of the K3s-DaaS wiring. Host-side listeners live on the parent, enclave-side on the enclave. */
export const VSOCK_PORTS = {
  /** Parent: vsock-proxy → KMS (lib/control-plane KMS_VSOCK_PORT). */
  kms: 8000,
  /** Parent: vsock-proxy → the platform API (lib/control-plane API_VSOCK_PORT). */
  api: 8001,
  /** Parent: host agent's control API (boot settings, snapshots, sealed secrets, join token). */
  hostAgent: 8002,
  /** Enclave: attestation document server. */
  attestation: 8003,
  /** Enclave: kube-apiserver. */
  apiServer: 6443,
} as const;

export interface Closeable {
  close(): Promise<void>;
}

export interface VsockNetwork {
  /** Opens a stream to `cid:port`. */
  connect(cid: number, port: number): Promise<Duplex>;
  /** Accepts streams on the local vsock `port`. */
  listen(port: number, onConnection: (stream: Duplex) => void): Promise<Closeable>;
}

/**
 * Pipes two streams both ways. End-of-stream is propagated per direction (half-close), so both
 * sockets must allow half-open connections; a failure, or one side fully closing, ends both.
 */
export function splice(a: Duplex, b: Duplex): void {
  const done = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', done).on('close', done);
  b.on('error', done).on('close', done);
  a.pipe(b);
  b.pipe(a);
}

/** TCP listener whose connections are spliced onto vsock `cid:port`. */
export async function forwardTcpToVsock(opts: {
  vsock: VsockNetwork;
  listenHost: string;
  listenPort: number;
  cid: number;
  port: number;
  onError?: (err: Error) => void;
}): Promise<Closeable & { port: number }> {
  const open = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    socket.pause();
    opts.vsock.connect(opts.cid, opts.port).then(
      (stream) => {
        splice(socket, stream);
        socket.resume();
      },
      (err: Error) => {
        opts.onError?.(err);
        socket.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort, opts.listenHost, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: async () => {
      const closed = closeServer(server);
      for (const socket of open) socket.destroy();
      await closed;
    },
  };
}

/** vsock listener whose connections are spliced onto TCP `targetHost:targetPort`. */
export async function forwardVsockToTcp(opts: {
  vsock: VsockNetwork;
  port: number;
  targetHost: string;
  targetPort: number;
  onError?: (err: Error) => void;
}): Promise<Closeable> {
  return opts.vsock.listen(opts.port, (stream) => {
    const socket = net.connect({ port: opts.targetPort, host: opts.targetHost, allowHalfOpen: true });
    socket.once('error', (err) => opts.onError?.(err));
    splice(stream, socket);
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * The real vsock: `socat` child processes. connect() runs one `socat STDIO VSOCK-CONNECT:cid:port` per
 * stream; listen() runs one `socat VSOCK-LISTEN:port,fork TCP:127.0.0.1:<internal>` feeding a loopback
 * server, so accepted streams arrive as ordinary sockets.
 */
export function socatVsock(opts: { socat?: string; onExit?: (what: string, code: number | null) => void } = {}): VsockNetwork {
  const socat = opts.socat ?? 'socat';
  return {
    async connect(cid, port) {
      const child = spawn(socat, ['-T', '3600', 'STDIO', `VSOCK-CONNECT:${cid}:${port}`], { stdio: ['pipe', 'pipe', 'ignore'] });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => resolve());
        child.once('error', (err) => reject(new Error(`cannot run ${socat} for vsock ${cid}:${port}: ${err.message}`)));
      });
      const stream = Duplex.from({ readable: child.stdout!, writable: child.stdin! });
      stream.on('close', () => child.kill());
      child.once('exit', () => stream.destroy());
      return stream;
    },
    async listen(port, onConnection) {
      const server = net.createServer({ allowHalfOpen: true }, (socket) => onConnection(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const internal = (server.address() as net.AddressInfo).port;
      const child: ChildProcess = spawn(socat, [`VSOCK-LISTEN:${port},fork,reuseaddr`, `TCP:127.0.0.1:${internal}`], { stdio: 'ignore' });
      let closing = false;
      child.once('exit', (code) => {
        if (!closing) opts.onExit?.(`vsock listener ${port}`, code);
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => resolve());
        child.once('error', (err) => {
          closing = true;
          server.close();
          reject(new Error(`cannot run ${socat} to listen on vsock ${port}: ${err.message}`));
        });
      });
      return {
        async close() {
          closing = true;
          child.kill();
          await closeServer(server);
        },
      };
    },
  };
}
