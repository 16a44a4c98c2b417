// A tiny HTTP proxy in front of a local AWS emulator for the benchmarks: it holds every request for a
// configurable delay before forwarding it (the network round trip a real DynamoDB call pays, which a
// local emulator does not), and counts requests per API operation and sequential round trips. It runs in
// a child process so its own CPU never counts against the benchmarked process.
//
// A round trip is a period with at least one request in flight: requests sent together (Promise.all)
// overlap and count once, requests sent one after another count once each. With a delay of a few
// milliseconds concurrent requests always overlap, so the count is exact; at 0 ms it is a lower bound.
//
// Connections are the proxy's own business on each side, as with any HTTP/1.1 proxy: hop-by-hop headers
// are not forwarded. moto answers every request with `Connection: close`; passed on, it made the
// benchmarked client open a new TCP connection per request, which DynamoDB (keep-alive, like the SDK's
// agent) never asks for, so the connection setup was counted as the SDK's CPU. `connections` counts the
// client's connections, so a benchmark can show they are reused.
import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild } from './child-process';

export interface ProxyStats {
  /** Requests per operation, keyed by the `X-Amz-Target` header (`DynamoDB_20120810.GetItem`). */
  readonly byTarget: Record<string, number>;
  readonly requests: number;
  readonly roundTrips: number;
  /** Client connections that carried requests since the last reset (1 while the client reuses one; requests if it never does). */
  readonly connections: number;
}

export interface LatencyProxy {
  readonly endpoint: string;
  setDelay(ms: number): Promise<void>;
  /** Counters since the last reset. */
  stats(): Promise<ProxyStats>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Requests of one service in `stats.byTarget` (e.g. `DynamoDB_`). */
export function requestsOf(stats: ProxyStats, targetPrefix: string): number {
  return Object.entries(stats.byTarget).reduce((n, [target, count]) => n + (target.startsWith(targetPrefix) ? count : 0), 0);
}

const PROXY = `
const http = require('node:http');
const target = new URL(process.argv[1]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
// RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const endToEnd = (headers) => Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
let delayMs = 0, inFlight = 0, roundTrips = 0, requests = 0, connections = 0, byTarget = {};
// Connections that carried a request of the client (the control requests' own are not counted).
let seen = new WeakSet();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/__proxy/')) {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/__proxy/delay') delayMs = Number(url.searchParams.get('ms'));
    if (url.pathname === '/__proxy/reset') { roundTrips = 0; requests = 0; connections = 0; byTarget = {}; seen = new WeakSet(); }
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({ requests, roundTrips, connections, byTarget }));
  }
  if (inFlight++ === 0) roundTrips++;
  requests++;
  if (!seen.has(req.socket)) { seen.add(req.socket); connections++; }
  const op = String(req.headers['x-amz-target'] ?? req.method + ' ' + req.url.split('?')[0]);
  byTarget[op] = (byTarget[op] ?? 0) + 1;
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const forward = () => {
      const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: endToEnd(req.headers), agent }, (up) => {
        res.writeHead(up.statusCode, endToEnd(up.headers));
        up.pipe(res);
        up.on('end', () => inFlight--);
      });
      upstream.on('error', (e) => { inFlight--; res.writeHead(502); res.end(String(e)); });
      upstream.end(Buffer.concat(chunks));
    };
    if (delayMs > 0) setTimeout(forward, delayMs); else forward();
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

interface ListeningChild {
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Runs `script` (which prints its port on its first line) in a child Node process. stdin stays open while
 * we live: the child exits when its parent does, leaving nothing behind.
 */
async function spawnListening(script: string, args: readonly string[], what: string): Promise<ListeningChild> {
  const child: ChildProcess = spawn(process.execPath, ['-e', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: process.env.PATH ?? '' } });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before listening`)));
  });
  return {
    port,
    stop: () => stopChild(child, (c) => c.stdin!.end()),
  };
}

const INSTANT_PEER = `
const http = require('node:http');
const body = process.argv[1];
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': 'instant-peer' });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

/**
 * A peer that answers every request at once with `body` (DynamoDB's JSON protocol content type) and keeps
 * its connections open, in a child process: the SDK's own CPU per request with no emulator in the way,
 * for comparison with moto (which takes milliseconds per answer).
 */
export async function startInstantPeer(body: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const child = await spawnListening(INSTANT_PEER, [body], 'instant peer');
  return { endpoint: `http://127.0.0.1:${child.port}`, stop: () => child.stop() };
}

/** Starts the proxy in front of `targetEndpoint` (e.g. moto's `http://127.0.0.1:port`). */
export async function startLatencyProxy(targetEndpoint: string): Promise<LatencyProxy> {
  const { port, stop } = await spawnListening(PROXY, [targetEndpoint], 'latency proxy');
  const endpoint = `http://127.0.0.1:${port}`;
  const control = async (path: string): Promise<ProxyStats> => {
    const res = await fetch(`${endpoint}/__proxy/${path}`);
    if (!res.ok) throw new Error(`latency proxy answered HTTP ${res.status} to ${path}`);
    return (await res.json()) as ProxyStats;
  };
  return {
    endpoint,
    setDelay: async (ms) => void (await control(`delay?ms=${ms}`)),
    stats: () => control('stats'),
    reset: async () => void (await control('reset')),
    stop,
  };
}
