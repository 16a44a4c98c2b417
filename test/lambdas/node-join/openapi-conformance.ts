// Holds the external node routes' answers to docs/openapi.yaml: every answer a test gets is checked for a
// documented status, a body valid against its schema and, for 429, the Retry-After header.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import type { HttpResult } from '../../../lambdas/shared/runtime/http';
import { REPO_ROOT } from '../../support/cdk-app';

type Response = { $ref?: string; headers?: Record<string, unknown>; content?: { 'application/json': { schema: unknown } } };
const doc = parse(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'openapi.yaml'), 'utf8')) as {
  paths: Record<string, Record<string, { responses: Record<string, Response> }>>;
  components: { responses: Record<string, Response> };
};
const DOC_ID = 'https://k3s-daas.invalid/openapi-external-nodes';
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema({ $id: DOC_ID, ...doc });

export function expectDocumented(route: string, result: HttpResult): void {
  const [method, p] = route.split(' ');
  let response = doc.paths[p]?.[method.toLowerCase()]?.responses[String(result.statusCode)];
  if (!response) throw new Error(`${route} answered ${result.statusCode}, which docs/openapi.yaml does not describe`);
  if (response.$ref) response = doc.components.responses[response.$ref.split('/').pop()!];
  const schema = response.content?.['application/json']?.schema;
  if (schema === undefined) throw new Error(`${route} ${result.statusCode} has no JSON schema in docs/openapi.yaml`);
  const validate = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', `"${DOC_ID}#/components/`)));
  if (!validate(JSON.parse(result.body ?? 'null'))) {
    throw new Error(`${route} ${result.statusCode} does not match docs/openapi.yaml: ${ajv.errorsText(validate.errors)}\n${result.body}`);
  }
  if (response.headers?.['Retry-After'] && JSON.parse(result.body!).error === 'rate_limited') {
    const header = (result.headers as Record<string, unknown> | undefined)?.['retry-after'];
    if (!/^[1-9][0-9]*$/.test(String(header))) throw new Error(`${route} 429 without a Retry-After header`);
  }
}
