// The CLI's network layer against real local servers: a server that accepts and never answers (HTTP API
// and Sui gRPC), a refused port, a TLS handshake with a plain-HTTP server, an API base path, and how each
// failure is named (exit 4, the cause in words, JSON with --json).
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { normalizeSuiAddress } from '@mysten/sui/utils';
import { runCli } from '../../cli/program';
import { apiBase, apiUrl, classifyNetworkError, timeoutMs } from '../../cli/network';
import { closedPort, makeHarness } from './sui-cli-harness';

const PKG = normalizeSuiAddress('0x' + 'a1'.repeat(32));
const POOL = normalizeSuiAddress('0x' + 'b2'.repeat(32));
const TOKEN = normalizeSuiAddress('0x' + 'e5'.repeat(32));
const key = new Ed25519Keypair();
const suiEnv = { SUI_PRIVATE_KEY: key.getSecretKey(), K3S_DAAS_PACKAGE_ID: PKG, K3S_DAAS_STAKING_POOL_ID: POOL };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Accepts TCP connections and never sends a byte: the stalled endpoint a CLI must not hang on. */
async function silentServer(): Promise<string> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A plain HTTP server that records request paths and answers every one with `status` and a JSON body. */
async function jsonServer(status: number, body: unknown): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = [];
  const server: HttpServer = createHttpServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, paths };
}

async function pcrsFile(): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'k3s-daas-net-')), 'pcrs.json');
  await writeFile(file, JSON.stringify({ PCR0: 'aa'.repeat(48), PCR1: 'bb'.repeat(48), PCR2: 'cc'.repeat(48), eifSha256: 'ab'.repeat(32), arch: 'x86_64' }));
  return file;
}

async function run(argv: string[], env: NodeJS.ProcessEnv = suiEnv, extra: { errIsTTY?: boolean } = {}) {
  const h = await makeHarness(env, { fetch: globalThis.fetch, ...extra });
  const code = await runCli(argv, h.ctx);
  return { code, out: h.stdout(), err: h.stderr() };
}

describe('a stalled endpoint never hangs a command', () => {
  it('kubeconfig: the HTTP API accepts and never answers → exit 4 after --timeout, naming the wait', async () => {
    const api = await silentServer();
    const { code, out, err } = await run(['kubeconfig', '--api', api, '--token', TOKEN, '--pcrs', await pcrsFile(), '--timeout', '0.5']);
    expect(code).toBe(4);
    expect(out).toBe('');
    expect(err).toBe(`k3s-daas: GET /v1/issuer: cannot reach ${api}: no answer within 0.5 s\n`);
  });

  it('kubeconfig on a terminal: a progress line says what it waits for, then it is cleared', async () => {
    const api = await silentServer();
    const { code, err } = await run(['kubeconfig', '--api', api, '--token', TOKEN, '--pcrs', await pcrsFile(), '--timeout', '0.5'], suiEnv, { errIsTTY: true });
    expect(code).toBe(4);
    expect(err).toContain(`fetching the cluster id (${api})…`);
    // The spinner line is cleared (carriage return, erase line) before the error is printed.
    expect(err.endsWith(`\r\u001b[2Kk3s-daas: GET /v1/issuer: cannot reach ${api}: no answer within 0.5 s\n`)).toBe(true);
  });

  it('token list: the Sui gRPC endpoint accepts and never answers → exit 4 after --timeout', async () => {
    const node = await silentServer();
    const { code, err } = await run(['token', 'list', '--grpc-url', node, '--timeout', '0.5']);
    expect(code).toBe(4);
    expect(err).toBe(`k3s-daas: the Sui gRPC endpoint ${node} did not answer within 0.5 s while listing seal tokens (raise --timeout if the node is slow)\n`);
  });

  it('stake: the same stalled node, timeout from K3S_DAAS_TIMEOUT, error as JSON', async () => {
    const node = await silentServer();
    const { code, out, err } = await run(['stake', '1', '--grpc-url', node, '--json'], { ...suiEnv, K3S_DAAS_TIMEOUT: '0.5' });
    expect(code).toBe(4);
    expect(out).toBe('');
    expect(JSON.parse(err)).toEqual({
      error: { kind: 'network', exitCode: 4, reason: 'timeout', message: `the Sui gRPC endpoint ${node} did not answer within 0.5 s while reading the balance (raise --timeout if the node is slow)` },
    });
  });
});

describe('network errors name their cause', () => {
  it('refused: nothing listens on the API port', async () => {
    const api = `http://127.0.0.1:${await closedPort()}`;
    const { code, err } = await run(['kubeconfig', '--api', api, '--token', TOKEN, '--pcrs', await pcrsFile()]);
    expect(code).toBe(4);
    expect(err).toBe(`k3s-daas: GET /v1/issuer: cannot reach ${api}: connection refused (ECONNREFUSED)\n`);
  });

  it('TLS: an https URL whose server does not speak TLS', async () => {
    const { url } = await jsonServer(200, {});
    const api = url.replace('http:', 'https:');
    const { code, err } = await run(['kubeconfig', '--api', api, '--token', TOKEN, '--pcrs', await pcrsFile(), '--json']);
    expect(code).toBe(4);
    const { error } = JSON.parse(err) as { error: { reason: string; message: string } };
    expect(error.reason).toBe('tls');
    expect(error.message).toMatch(new RegExp(`^GET /v1/issuer: cannot reach ${api}: TLS failure: .*\\(ERR_SSL_`));
  });

  it('TLS on the Sui gRPC endpoint too', async () => {
    const { url } = await jsonServer(200, {});
    const node = url.replace('http:', 'https:');
    const { code, err } = await run(['token', 'list', '--grpc-url', node]);
    expect(code).toBe(4);
    expect(err).toMatch(new RegExp(`^k3s-daas: cannot reach the Sui gRPC endpoint ${node}: TLS failure: .*\\(ERR_SSL_[A-Z_]+\\)\\n$`));
  });

  it('reset: the server closes the connection without answering', async () => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const api = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const { code, err } = await run(['kubeconfig', '--api', api, '--token', TOKEN, '--pcrs', await pcrsFile(), '--json']);
    expect(code).toBe(4);
    expect(JSON.parse(err)).toMatchObject({ error: { kind: 'network', reason: 'reset', message: expect.stringMatching(/^GET \/v1\/issuer: cannot reach .*: the connection was closed before an answer/) } });
  });

  it.each([
    ['dns', Object.assign(new Error('getaddrinfo ENOTFOUND api.example.invalid'), { code: 'ENOTFOUND' }), 'DNS lookup failed (ENOTFOUND)'],
    ['dns', Object.assign(new Error('getaddrinfo EAI_AGAIN api.example.com'), { code: 'EAI_AGAIN' }), 'DNS lookup failed (EAI_AGAIN)'],
    ['tls', Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' }), 'TLS failure: certificate has expired (CERT_HAS_EXPIRED)'],
    ['tls', Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), "TLS failure: Hostname/IP does not match certificate's altnames (ERR_TLS_CERT_ALTNAME_INVALID)"],
    ['reset', Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }), 'the connection was closed before an answer (UND_ERR_SOCKET)'],
    ['timeout', Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), 'timed out connecting (UND_ERR_CONNECT_TIMEOUT)'],
    ['unreachable', Object.assign(new Error('connect EHOSTUNREACH 10.0.0.1:443'), { code: 'EHOSTUNREACH' }), 'host unreachable (EHOSTUNREACH)'],
  ])('classifies an undici %s failure', (cause, socketError, detail) => {
    // undici wraps the socket error: TypeError('fetch failed', { cause }).
    expect(classifyNetworkError(new TypeError('fetch failed', { cause: socketError }), 30_000)).toEqual({ cause, detail });
  });

  it('classifies an AbortSignal.timeout abort as a timeout with the deadline', () => {
    expect(classifyNetworkError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 1500)).toEqual({ cause: 'timeout', detail: 'no answer within 1.5 s' });
  });
});

describe('the API base URL', () => {
  it('keeps a stage path: --api …/prod calls …/prod/v1/issuer', async () => {
    const server = await jsonServer(503, { error: 'no_attestation', message: 'retry later' });
    const { code, err } = await run(['kubeconfig', '--api', `${server.url}/prod/`, '--token', TOKEN, '--pcrs', await pcrsFile()]);
    expect(code).toBe(5);
    expect(err).toBe('k3s-daas: GET /v1/issuer refused (503 no_attestation): retry later\n');
    expect(server.paths).toEqual(['/prod/v1/issuer']);
  });

  it('joins routes under any base path', () => {
    expect(apiUrl(apiBase('https://abc.execute-api.eu-west-1.amazonaws.com'), 'v1/issuer').href).toBe('https://abc.execute-api.eu-west-1.amazonaws.com/v1/issuer');
    expect(apiUrl(apiBase('https://api.example.com/k3s/prod'), 'v1/kubeconfig').href).toBe('https://api.example.com/k3s/prod/v1/kubeconfig');
    expect(apiUrl(apiBase('https://api.example.com/prod///'), '/v1/issuer').href).toBe('https://api.example.com/prod/v1/issuer');
  });

  it('a JSON answer without what the contract promises is a refusal (exit 5)', async () => {
    const server = await jsonServer(200, { keyId: 'k' });
    const { code, err } = await run(['kubeconfig', '--api', server.url, '--token', TOKEN, '--pcrs', await pcrsFile(), '--cluster', 'k3s-daas-dev']);
    expect(code).toBe(5);
    expect(err).toBe('k3s-daas: POST /v1/kubeconfig: the answer has no kubeconfig\n');
  });

  it('an answer that is not JSON is a refusal naming the status', async () => {
    const server = createHttpServer((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const api = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const { code, err } = await run(['kubeconfig', '--api', api, '--token', TOKEN, '--pcrs', await pcrsFile()]);
    expect(code).toBe(5);
    expect(err).toBe(`k3s-daas: GET /v1/issuer: ${api} answered 502 with a body that is not JSON\n`);
  });
});

describe('--timeout', () => {
  it.each([['0'], ['-1'], ['abc'], ['1e3'], ['3601']])('rejects --timeout %s as a usage error', async (value) => {
    const { code, err } = await run(['token', 'list', '--timeout', value]);
    expect(code).toBe(2);
    expect(err).toBe(`k3s-daas: --timeout must be a number of seconds above 0 and at most 3600, not "${value}"\n`);
  });

  it('a bad K3S_DAAS_TIMEOUT is a configuration error; the flag wins over it', async () => {
    const { ctx } = await makeHarness({ K3S_DAAS_TIMEOUT: 'soon' });
    expect(() => timeoutMs(ctx, undefined)).toThrow(expect.objectContaining({ exitCode: 3, message: 'K3S_DAAS_TIMEOUT must be a number of seconds above 0 and at most 3600, not "soon"' }));
    expect(timeoutMs(ctx, '2.5')).toBe(2500);
    expect(timeoutMs((await makeHarness()).ctx, undefined)).toBe(30_000);
  });
});
