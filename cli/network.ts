// One way for every command to talk to the network: a deadline on each call (default, `--timeout`,
// `K3S_DAAS_TIMEOUT`), a progress line while waiting, and failures that name their cause (refused, DNS,
// TLS, timeout, reset) instead of "fetch failed". The HTTP API client and the Sui gRPC client share it.
import type { Command } from 'commander';
import { ConfigError, NetworkError, RefusedError, UsageError, type NetworkCause } from './errors';
import type { CliContext } from './context';
import { withProgress } from './output';

export const DEFAULT_TIMEOUT_S = 30;

/** Adds `--timeout <seconds>` to a command that calls the network. */
export function withTimeoutOption(command: Command): Command {
  return command.option('--timeout <seconds>', `give up on a network call after this many seconds (env K3S_DAAS_TIMEOUT; default ${DEFAULT_TIMEOUT_S})`);
}

/** `--timeout` (or `K3S_DAAS_TIMEOUT`, or the default) in milliseconds. */
export function timeoutMs(ctx: CliContext, flag: string | undefined): number {
  const fromEnv = ctx.env.K3S_DAAS_TIMEOUT?.trim();
  const raw = flag ?? (fromEnv || undefined);
  if (raw === undefined) return DEFAULT_TIMEOUT_S * 1000;
  const seconds = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(seconds > 0) || seconds > 3600) {
    const message = `${flag === undefined ? 'K3S_DAAS_TIMEOUT' : '--timeout'} must be a number of seconds above 0 and at most 3600, not "${raw}"`;
    throw flag === undefined ? new ConfigError(message) : new UsageError(message);
  }
  return Math.round(seconds * 1000);
}

export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

export interface NetworkFailure {
  cause: NetworkCause;
  /** What went wrong in words, with the system's error code when there is one. */
  detail: string;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;

/** Reads the cause out of a failed `fetch` (undici nests the socket error as `cause`). */
export function classifyNetworkError(error: unknown, timeout: number): NetworkFailure {
  const chain: { name?: string; code?: unknown; message?: string }[] = [];
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    chain.push(e as { name?: string; code?: unknown; message?: string });
    const errors = (e as { errors?: unknown }).errors; // AggregateError: one per address tried
    if (Array.isArray(errors) && errors.length > 0) chain.push(errors[0] as { code?: unknown; message?: string });
  }
  const codeOf = (e: { code?: unknown }) => (typeof e.code === 'string' ? e.code : undefined);
  const withCode = (words: string, e: { code?: unknown; message?: string }) => {
    const code = codeOf(e);
    return code ? `${words} (${code})` : words;
  };
  if (chain.some((e) => e.name === 'TimeoutError')) return { cause: 'timeout', detail: `no answer within ${formatSeconds(timeout)}` };
  for (const e of chain) {
    const code = codeOf(e);
    if (code === 'ECONNREFUSED') return { cause: 'refused', detail: withCode('connection refused', e) };
    if (code && DNS_CODES.has(code)) return { cause: 'dns', detail: withCode('DNS lookup failed', e) };
    if (code && TIMEOUT_CODES.has(code)) return { cause: 'timeout', detail: withCode('timed out connecting', e) };
    if (code && TLS_CODE.test(code)) return { cause: 'tls', detail: `TLS failure: ${firstLine(e.message ?? code)} (${code})` };
    if (code && RESET_CODES.has(code)) return { cause: 'reset', detail: withCode('the connection was closed before an answer', e) };
    if (code && UNREACHABLE_CODES.has(code)) return { cause: 'unreachable', detail: withCode('host unreachable', e) };
  }
  for (const e of chain) {
    if (/ssl|tls|certificate/i.test(e.message ?? '')) return { cause: 'tls', detail: `TLS failure: ${firstLine(e.message ?? '')}` };
    if (/other side closed|socket hang up/i.test(e.message ?? '')) return { cause: 'reset', detail: 'the connection was closed before an answer' };
  }
  const last = chain.at(-1);
  return { cause: 'unreachable', detail: firstLine(last?.message ?? String(error)) };
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

/** `--api`: an https URL (http only to this machine); its path is kept as the base of every route. */
export function apiBase(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--api must be a URL such as https://abc.execute-api.us-east-1.amazonaws.com/prod, not "${raw}"`);
  }
  const local = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(local && url.protocol === 'http:')) throw new UsageError('--api must use https');
  if (url.search || url.hash) throw new UsageError('--api must not carry a query or fragment');
  return url;
}

/** `route` (e.g. `v1/issuer`) under the API base, keeping a stage path such as `/prod`. */
export function apiUrl(base: URL, route: string): URL {
  const url = new URL(base.href);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${route.replace(/^\/+/, '')}`;
  return url;
}

export interface JsonCall {
  /** Names the call in messages, e.g. `GET /v1/issuer`. */
  readonly what: string;
  /** What the progress line says while waiting, e.g. `fetching the issuer key`. */
  readonly waitingFor: string;
  readonly timeoutMs: number;
}

/**
 * Sends one HTTP request and returns the parsed JSON answer. The deadline covers the whole exchange,
 * the body included, so a server that accepts and never answers fails with a timeout.
 */
export async function requestJson(ctx: CliContext, url: URL, init: RequestInit, call: JsonCall): Promise<unknown> {
  const endpoint = url.origin;
  const signal = AbortSignal.timeout(call.timeoutMs);
  return withProgress(ctx, `${call.waitingFor} (${endpoint})…`, async () => {
    let status: number;
    let ok: boolean;
    let text: string;
    try {
      const res = await ctx.fetch(url, { ...init, signal });
      status = res.status;
      ok = res.ok;
      text = await res.text();
    } catch (error) {
      const failure = classifyNetworkError(error, call.timeoutMs);
      throw new NetworkError(`${call.what}: cannot reach ${endpoint}: ${failure.detail}`, failure.cause);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new RefusedError(`${call.what}: ${endpoint} answered ${status} with a body that is not JSON`, { reason: `http_${status}` });
    }
    if (!ok) {
      const err = (body ?? {}) as { error?: unknown; message?: unknown };
      const code = typeof err.error === 'string' ? err.error : `http_${status}`;
      throw new RefusedError(`${call.what} refused (${status} ${code}): ${typeof err.message === 'string' ? err.message : ''}`.trimEnd().replace(/:$/, ''), { reason: code });
    }
    return body;
  });
}
