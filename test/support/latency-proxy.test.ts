// The benchmarks' latency proxy behaves as an HTTP/1.1 proxy does: an upstream that closes every
// connection (moto does) does not make the benchmarked client reconnect for each request, the delay is
// added, and requests, round trips and client connections are counted as documented.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startLatencyProxy, type LatencyProxy } from './latency-proxy';

let upstream: http.Server;
let proxy: LatencyProxy;
let upstreamConnections = 0;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close', 'x-echo-target': String(req.headers['x-amz-target']) });
      res.end(JSON.stringify({ echo: body }));
    });
  });
  upstream.on('connection', () => upstreamConnections++);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  proxy = await startLatencyProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
});

afterAll(async () => {
  await proxy.stop();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

/** One POST through the proxy on `agent`; resolves with the status, headers and body. */
function post(agent: http.Agent, body: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const { hostname, port } = new URL(proxy.endpoint);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, method: 'POST', path: '/', agent, headers: { 'x-amz-target': 'DynamoDB_20120810.GetItem', 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('latency proxy', () => {
  it('keeps the client connection open although the upstream closes each one, and forwards the answer', async () => {
    await proxy.setDelay(0);
    await proxy.reset();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = upstreamConnections;
    try {
      for (let i = 0; i < 5; i++) {
        const res = await post(agent, `request ${i}`);
        expect(res.status).toBe(200);
        expect(JSON.parse(res.body)).toEqual({ echo: `request ${i}` });
        expect(res.headers['x-echo-target']).toBe('DynamoDB_20120810.GetItem');
        expect(res.headers.connection).not.toBe('close');
      }
    } finally {
      agent.destroy();
    }
    const stats = await proxy.stats();
    expect(stats).toMatchObject({ requests: 5, roundTrips: 5, connections: 1, byTarget: { 'DynamoDB_20120810.GetItem': 5 } });
    // The upstream side is the proxy's own: it closed each connection, so there were five.
    expect(upstreamConnections - before).toBe(5);
  });

  it('counts every connection of a client that does not keep them', async () => {
    await proxy.reset();
    const agent = new http.Agent({ keepAlive: false });
    for (let i = 0; i < 3; i++) expect((await post(agent, 'x')).status).toBe(200);
    expect(await proxy.stats()).toMatchObject({ requests: 3, connections: 3 });
  });

  it('holds each request for the delay', async () => {
    await proxy.setDelay(40);
    await proxy.reset();
    const agent = new http.Agent({ keepAlive: true });
    const started = process.hrtime.bigint();
    try {
      await post(agent, 'slow');
    } finally {
      agent.destroy();
      await proxy.setDelay(0);
    }
    // A lower bound only: the machine's speed can make it longer, never shorter.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeGreaterThanOrEqual(40);
  });
});
