// The platform's HTTP API on 127.0.0.1 over HTTPS: each request becomes the API Gateway (HTTP API,
// payload v2) event the unit tests build (test/support/token-fixtures.ts postEvent) and goes to the real
// Lambda handler; its result is written back as API Gateway would. Every exchange is recorded so the
// suite can see what kube-apiserver asked and when (its cache and retries are what is measured).
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { HttpResult } from '../../../lambdas/shared/runtime/http';
import { postEvent } from '../../support/token-fixtures';

export type LambdaHandler = (event: APIGatewayProxyEventV2) => Promise<HttpResult>;

export interface Exchange {
  readonly at: number;
  readonly path: string;
  readonly status: number;
  /** `spec.token` of a TokenReview, and whether the answer authenticated it. */
  readonly token?: string;
  readonly authenticated?: boolean;
  /** `status.error` of the answer (why the function could not decide). */
  readonly error?: string;
}

export interface LocalApi {
  readonly url: string;
  readonly exchanges: Exchange[];
  /** Replace the handler of a route (`<path>` for POST, `GET <path>`), e.g. a function instance holding another webhook secret. */
  route(path: string, handler: LambdaHandler): void;
  close(): Promise<void>;
}

function headersOf(req: import('node:http').IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}

export async function startLocalApi(tls: { cert: string; key: string }, routes: Record<string, LambdaHandler>): Promise<LocalApi> {
  const table = new Map(Object.entries(routes));
  const exchanges: Exchange[] = [];
  const server = https.createServer({ cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'https://local');
        const path = url.pathname;
        // Routes are keyed by path (POST) or by `GET <path>`.
        const handler = req.method === 'POST' ? table.get(path) : req.method === 'GET' ? table.get(`GET ${path}`) : undefined;
        if (!handler) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
          return;
        }
        const body = Buffer.concat(chunks).toString('utf8');
        const event = postEvent(path, body, headersOf(req));
        if (req.method === 'GET') {
          const query = Object.fromEntries(url.searchParams);
          Object.assign(event, { routeKey: `GET ${path}`, rawQueryString: url.search.slice(1), body: undefined, ...(url.search ? { queryStringParameters: query } : {}) });
          Object.assign(event.requestContext, { routeKey: `GET ${path}`, http: { ...event.requestContext.http, method: 'GET' } });
        }
        const result = await handler(event);
        let token: string | undefined;
        let authenticated: boolean | undefined;
        let error: string | undefined;
        try {
          token = (JSON.parse(body) as { spec?: { token?: string } }).spec?.token;
          const status = (JSON.parse(result.body ?? '{}') as { status?: { authenticated?: boolean; error?: string } }).status;
          authenticated = status?.authenticated;
          error = status?.error;
        } catch {
          // not a TokenReview
        }
        exchanges.push({ at: Date.now(), path, status: result.statusCode, token, authenticated, error });
        res.writeHead(result.statusCode, { 'content-type': 'application/json', ...(result.headers as Record<string, string> | undefined) });
        res.end(result.body ?? '');
      })().catch(() => {
        // API Gateway answers 500 when the integration fails; so do we.
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"Internal Server Error"}');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/`,
    exchanges,
    route: (path, handler) => table.set(path, handler),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A TCP relay to a backend that can be cut: while down, connections are reset (an unreachable index). */
export interface Relay {
  readonly endpoint: string;
  readonly down: boolean;
  /** Resets every open connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startRelay(target: string): Promise<Relay> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  let down = false;
  const relay: Relay = {
    endpoint: '',
    get down() {
      return down;
    },
    cut() {
      down = true;
      for (const s of sockets) s.resetAndDestroy();
      sockets.clear();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  const server = net.createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (relay as { endpoint: string }).endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return relay;
}
