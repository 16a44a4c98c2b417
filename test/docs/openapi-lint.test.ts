// docs/openapi.yaml passes a standard OpenAPI linter: Redocly's `recommended` ruleset (summaries,
// license, a 4XX answer per operation, required properties defined, valid $refs, …), warnings included.
import { describe, expect, it } from '@jest/globals';
import { createConfig, lint } from '@redocly/openapi-core';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/cdk-app';

describe('docs/openapi.yaml lint', () => {
  it('has no error or warning under the recommended rules', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lint({ ref: path.join(REPO_ROOT, 'docs', 'openapi.yaml'), config });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`)).toEqual([]);
  });
});
