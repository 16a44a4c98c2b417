// GET /healthz — liveness of the API itself; touches no dependency so it never turns a backend
// outage into a failed deploy health check.
import { json, type HttpResult } from '../shared/runtime/http';

export async function handler(): Promise<HttpResult> {
  return json(200, { ok: true });
}
