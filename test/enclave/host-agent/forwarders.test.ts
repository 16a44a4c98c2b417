// The byte forwarders between TCP and vsock, on an in-memory vsock: the same chain the real
// deployment builds (host TCP 6443 → vsock 16:6443 → enclave TCP 6443, and the supervisor's
// loopback bridge → vsock 3:8002 → host agent), checked for byte-exact, bidirectional transfer.
import { afterEach, describe, expect, it } from '@jest/globals';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { PARENT_CID, forwardTcpToVsock, forwardVsockToTcp, type Closeable } from '../../../enclave/src/common/vsock';
import { MemoryVsockFabric } from '../support/memory-vsock';

const ENCLAVE_CID = 16;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function echoServer(): Promise<number> {
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}

function track<T extends Closeable>(c: T): T {
  cleanups.push(() => c.close());
  return c;
}

async function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const socket = net.connect(port, '127.0.0.1', () => socket.end(payload));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
    });
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    void got;
  });
}

describe('TCP ↔ vsock forwarders', () => {
  it('carries bytes both ways from a host TCP port through vsock to a TCP service inside the enclave', async () => {
    const fabric = new MemoryVsockFabric();
    const target = await echoServer();
    track(await forwardVsockToTcp({ vsock: fabric.network(ENCLAVE_CID), port: 6443, targetHost: '127.0.0.1', targetPort: target }));
    const entry = track(await forwardTcpToVsock({ vsock: fabric.network(PARENT_CID), listenHost: '127.0.0.1', listenPort: 0, cid: ENCLAVE_CID, port: 6443 }));
    const payload = crypto.randomBytes(3 * 1024 * 1024);
    const echoed = await roundTrip(entry.port, payload);
    expect(echoed.equals(payload)).toBe(true);
    expect(fabric.connections).toEqual([`${PARENT_CID}->${ENCLAVE_CID}:6443`]);
  });

  it('keeps concurrent connections apart', async () => {
    const fabric = new MemoryVsockFabric();
    const target = await echoServer();
    track(await forwardVsockToTcp({ vsock: fabric.network(PARENT_CID), port: 8002, targetHost: '127.0.0.1', targetPort: target }));
    const entry = track(await forwardTcpToVsock({ vsock: fabric.network(ENCLAVE_CID), listenHost: '127.0.0.1', listenPort: 0, cid: PARENT_CID, port: 8002 }));
    const payloads = Array.from({ length: 8 }, (_, i) => Buffer.alloc(10_000 + i, i));
    const results = await Promise.all(payloads.map((p) => roundTrip(entry.port, p)));
    results.forEach((r, i) => expect(r.equals(payloads[i])).toBe(true));
  });

  it('closes the TCP connection when nothing listens on the vsock port', async () => {
    const fabric = new MemoryVsockFabric();
    const errors: string[] = [];
    const entry = track(
      await forwardTcpToVsock({ vsock: fabric.network(PARENT_CID), listenHost: '127.0.0.1', listenPort: 0, cid: ENCLAVE_CID, port: 6443, onError: (e) => errors.push(e.message) }),
    );
    const echoed = await roundTrip(entry.port, Buffer.from('hello')).catch(() => Buffer.alloc(0));
    expect(echoed.length).toBe(0);
    expect(errors).toEqual(['vsock 16:6443: connection refused']);
  });
});
