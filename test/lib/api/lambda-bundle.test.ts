// Every handler bundled exactly as deployed (lib/api/lambda-bundle.ts): what a cold start loads stays
// within 500 KiB, the AWS SDK counted (it is inside the bundle), and the paths a cold start must not pay
// for stay in lazy chunks. Sizes are deterministic for a locked dependency tree.
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildLambdaBundles, kib, lambdaHandlerNames, type BuiltBundle } from '../../support/lambda-bundles';

const BUDGET_BYTES = 500 * 1024;

/**
 * Bundles still over the budget (issue 16 item 3 open for them), each held to its present size so it can
 * only shrink: kubeconfig renders YAML (yaml,
 * 112 KiB) besides the credential check; the indexer reads events through the Sui gRPC client (~180 KiB);
 * node-join describes instances through EC2, whose schemas are ~550 KiB even tree-shaken; authenticate is
 * 1.6 KiB over.
 */
const OVER_BUDGET_CEILING_KIB: Record<string, number> = {
  authenticate: 503,
  indexer: 620,
  kubeconfig: 640,
  'node-join': 975,
};

describe('Lambda bundles', () => {
  const outRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'k3s-daas-bundle-test-'));
  afterAll(() => fs.rmSync(outRoot, { recursive: true, force: true }));
  let bundles: BuiltBundle[] = [];
  const bundle = (name: string) => {
    if (bundles.length === 0) bundles = buildLambdaBundles(lambdaHandlerNames(), outRoot);
    const found = bundles.find((b) => b.handlerName === name);
    if (!found) throw new Error(`no bundle ${name}`);
    return found;
  };

  it.each(lambdaHandlerNames())('%s: its cold start loads at most 500 KiB (or its recorded ceiling), AWS SDK inside', (name) => {
    const b = bundle(name);
    expect(b.sdkInside).toBe(true);
    const ceiling = OVER_BUDGET_CEILING_KIB[name];
    if (ceiling === undefined) expect(b.coldStartBytes).toBeLessThanOrEqual(BUDGET_BYTES);
    else {
      expect(b.coldStartBytes).toBeGreaterThan(BUDGET_BYTES); // under budget now: drop it from the list
      expect(b.coldStartBytes).toBeLessThanOrEqual(ceiling * 1024);
    }
    if (process.env.BUNDLE_SIZES) console.log(`${name}: ${kib(b.coldStartBytes)} cold start, ${kib(b.lazyBytes)} lazy`);
  });

  it('the kubectl path does not load the zkLogin gRPC client, the SDK\'s unused credential providers or pkijs at cold start', () => {
    for (const name of ['authenticate', 'tokens-validate']) {
      const inputs = bundle(name).coldStartInputs;
      expect(inputs.some((i) => i.includes('@aws-sdk/client-dynamodb/'))).toBe(true); // the SDK is bundled, not the runtime's
      expect(inputs.filter((i) => i.includes('@mysten/sui/dist/grpc/') || i.includes('@protobuf-ts/'))).toEqual([]);
      expect(inputs.filter((i) => /credential-provider-(sso|ini|process|web-identity|login)\//.test(i))).toEqual([]);
      expect(inputs.filter((i) => i.includes('pkijs'))).toEqual([]);
      expect(bundle(name).sourceMap).toBe(false);
    }
  });

  it('the issuer and kubeconfig carry no document verifier, no bundle carries pkijs; the indexer loads EC2 only to evict', () => {
    for (const name of ['issuer', 'kubeconfig']) expect(bundle(name).coldStartInputs.filter((i) => i.includes('attestation/verify.ts') || i.includes('cbor-x'))).toEqual([]);
    expect(bundle('attestation').coldStartInputs).toContain('lambdas/shared/attestation/verify.ts');
    for (const name of lambdaHandlerNames()) expect(bundle(name).coldStartInputs.filter((i) => i.includes('pkijs') || i.includes('asn1js'))).toEqual([]);
    expect(bundle('indexer').coldStartInputs.filter((i) => i.includes('@aws-sdk/client-ec2'))).toEqual([]);
  });

  it('every bundle loads in a fresh Node process and exports its handler (chunks, aliases and banner resolve)', () => {
    for (const name of lambdaHandlerNames()) {
      const script = `const m = await import(${JSON.stringify(bundle(name).entryFile)}); process.stdout.write(typeof m.handler);`;
      expect({ name, handler: execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } }) })
        .toEqual({ name, handler: 'function' });
    }
  });

  it('no bundle imports node:http as an ES module (that loads all of undici at cold start)', () => {
    for (const name of lambdaHandlerNames()) {
      const dir = bundle(name).dir;
      const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.mjs'));
      for (const file of files) {
        const code = fs.readFileSync(path.join(dir, file), 'utf8');
        expect({ file: `${name}/${file}`, esmHttp: /from\s*["'](node:)?http["']|import\(\s*["'](node:)?http["']\s*\)/.test(code) }).toEqual({ file: `${name}/${file}`, esmHttp: false });
      }
    }
  });
});
