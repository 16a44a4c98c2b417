// An in-memory stand-in for AF_VSOCK: one "fabric" shared by the parent (CID 3) and enclaves; each
// side gets a VsockNetwork bound to its CID. Streams are node:stream duplex pairs.
import { duplexPair, type Duplex } from 'node:stream';
import type { VsockNetwork } from '../../../enclave/src/common/vsock';

export class MemoryVsockFabric {
  private readonly listeners = new Map<string, (stream: Duplex) => void>();
  readonly connections: string[] = [];

  network(localCid: number): VsockNetwork {
    return {
      connect: async (cid, port) => {
        const handler = this.listeners.get(`${cid}:${port}`);
        if (!handler) throw new Error(`vsock ${cid}:${port}: connection refused`);
        this.connections.push(`${localCid}->${cid}:${port}`);
        const [mine, theirs] = duplexPair();
        // Like a socket: tearing down one end tears down the connection.
        mine.once('close', () => theirs.destroy());
        theirs.once('close', () => mine.destroy());
        handler(theirs);
        return mine;
      },
      listen: async (port, onConnection) => {
        const key = `${localCid}:${port}`;
        if (this.listeners.has(key)) throw new Error(`vsock ${key}: address in use`);
        this.listeners.set(key, onConnection);
        return { close: async () => void this.listeners.delete(key) };
      },
    };
  }
}
