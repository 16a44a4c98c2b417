import { describe, expect, it } from '@jest/globals';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir } from '../../cli/commands/credential';
import { runCli } from '../../cli/program';
import { verifyCredential } from '../../lambdas/shared/credentials/credential';
import { makeHarness } from './sui-cli-harness';

const TOKEN = `0x${'5a'.repeat(32)}`;
const CLUSTER = 'k3s-daas-dev';
const START = new Date('2026-11-23T00:00:00Z');
const keypair = Ed25519Keypair.fromSecretKey(new Uint8Array(32).fill(77));

async function setup(env: NodeJS.ProcessEnv = { SUI_PRIVATE_KEY: keypair.getSecretKey() }) {
  let now = START;
  const h = await makeHarness(env, { now: () => now });
  const run = async (args: string[]) => {
    const before = { out: h.stdout().length, err: h.stderr().length };
    const code = await runCli(args, h.ctx);
    return { code, out: h.stdout().slice(before.out), err: h.stderr().slice(before.err) };
  };
  return { h, run, setNow: (d: Date) => { now = d; } };
}

const ARGS = ['credential', '--token', TOKEN, '--cluster', CLUSTER];

describe('k3s-daas credential (exec credential plugin)', () => {
  it('prints a client.authentication.k8s.io/v1 ExecCredential whose token verifies for the cluster', async () => {
    const { run } = await setup();
    const { code, out, err } = await run(ARGS);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    const exec = JSON.parse(out);
    expect(Object.keys(exec).sort()).toEqual(['apiVersion', 'kind', 'status']);
    expect(exec.apiVersion).toBe('client.authentication.k8s.io/v1');
    expect(exec.kind).toBe('ExecCredential');
    expect(exec.status.expirationTimestamp).toBe('2026-11-23T00:15:00Z');
    const verified = await verifyCredential(exec.status.token, { audience: CLUSTER, nowMs: START.getTime() });
    expect(verified).toMatchObject({ ok: true, value: { payload: { tok: TOKEN, sub: keypair.toSuiAddress(), aud: CLUSTER } } });
  });

  it('caches the credential in a 0600 file inside a 0700 directory', async () => {
    const { h, run } = await setup();
    await run(ARGS);
    const dir = cacheDir(h.ctx);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    expect((await stat(join(dir, files[0]))).mode & 0o777).toBe(0o600);
  });

  it('reuses the cached credential until 60 s before expiry, then signs a new one', async () => {
    const { run, setNow } = await setup();
    const first = JSON.parse((await run([...ARGS, '--lifetime', '600'])).out).status.token;
    setNow(new Date(START.getTime() + 539_000)); // 61 s before expiry
    expect(JSON.parse((await run([...ARGS, '--lifetime', '600'])).out).status.token).toBe(first);
    setNow(new Date(START.getTime() + 541_000)); // 59 s before expiry
    const second = JSON.parse((await run([...ARGS, '--lifetime', '600'])).out);
    expect(second.status.token).not.toBe(first);
    expect(second.status.expirationTimestamp).toBe('2026-11-23T00:19:01Z');
  });

  it('never reuses a credential for another token, cluster or key', async () => {
    const { h, run } = await setup();
    const a = JSON.parse((await run(ARGS)).out).status.token;
    const b = JSON.parse((await run(['credential', '--token', `0x${'6b'.repeat(32)}`, '--cluster', CLUSTER])).out).status.token;
    const c = JSON.parse((await run(['credential', '--token', TOKEN, '--cluster', 'other'])).out).status.token;
    (h.ctx.env as Record<string, string>).SUI_PRIVATE_KEY = Ed25519Keypair.fromSecretKey(new Uint8Array(32).fill(78)).getSecretKey();
    const d = JSON.parse((await run(ARGS)).out).status.token;
    expect(new Set([a, b, c, d]).size).toBe(4);
  });

  it.each([
    ['file', 0o644, 'file'],
    ['directory', 0o755, 'dir'],
  ] as const)('does not reuse a cache whose %s others can read; the new one is private again', async (_what, mode, target) => {
    const { h, run } = await setup();
    const first = JSON.parse((await run(ARGS)).out).status.token;
    const dir = cacheDir(h.ctx);
    const [file] = await readdir(dir);
    await chmod(target === 'file' ? join(dir, file) : dir, mode);
    const second = JSON.parse((await run(ARGS)).out).status.token;
    expect(second).not.toBe(first);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, file))).mode & 0o777).toBe(0o600);
    expect(JSON.parse((await run(ARGS)).out).status.token).toBe(second);
  });

  it('replaces a damaged cache file', async () => {
    const { h, run } = await setup();
    await run(ARGS);
    const dir = cacheDir(h.ctx);
    const [file] = await readdir(dir);
    await writeFile(join(dir, file), '{"status": {"token": "k3sdaas.v1.broken"}}');
    const { code, out } = await run(ARGS);
    expect(code).toBe(0);
    expect(JSON.parse(out).status.token).not.toContain('broken');
    expect(JSON.parse(await readFile(join(dir, file), 'utf8')).status.token).toBe(JSON.parse(out).status.token);
  });

  it('still prints the credential (with a warning) when the cache cannot be written', async () => {
    const { h, run } = await setup();
    await mkdir(join(h.ctx.homeDir, '.kube'), { recursive: true });
    await writeFile(join(h.ctx.homeDir, '.kube', 'cache'), 'not a directory');
    const { code, out, err } = await run(ARGS);
    expect(code).toBe(0);
    expect(JSON.parse(out).kind).toBe('ExecCredential');
    expect(err).toMatch(/^k3s-daas: warning: cannot cache/);
  });

  it('answers v1beta1 when kubectl asks for it in KUBERNETES_EXEC_INFO', async () => {
    const { run } = await setup({
      SUI_PRIVATE_KEY: keypair.getSecretKey(),
      KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', spec: { interactive: false } }),
    });
    expect(JSON.parse((await run(ARGS)).out).apiVersion).toBe('client.authentication.k8s.io/v1beta1');
  });

  it('takes the cluster from K3S_DAAS_CLUSTER_ID, else names the flag in a one-line error', async () => {
    const withEnv = await setup({ SUI_PRIVATE_KEY: keypair.getSecretKey(), K3S_DAAS_CLUSTER_ID: 'from-env' });
    const token = JSON.parse((await withEnv.run(['credential', '--token', TOKEN])).out).status.token;
    expect(await verifyCredential(token, { audience: 'from-env', nowMs: START.getTime() })).toMatchObject({ ok: true });
    const { run } = await setup();
    const { code, out, err } = await run(['credential', '--token', TOKEN]);
    expect({ code, out }).toEqual({ code: 2, out: '' });
    expect(err).toBe('k3s-daas: no cluster: pass --cluster <id> or set K3S_DAAS_CLUSTER_ID\n');
  });

  it.each([
    [['credential', '--token', '0x1234', '--cluster', CLUSTER], /--token must be a seal token object id/],
    [[...ARGS, '--lifetime', '901'], /--lifetime must be whole seconds between 1 and 900/],
    [[...ARGS, '--lifetime', '1.5'], /--lifetime must be whole seconds/],
  ])('bad flags %j → exit 2 (usage) with one line', async (args, message) => {
    const { run } = await setup();
    const { code, err } = await run(args);
    expect(code).toBe(2);
    expect(err).toMatch(message);
    expect(err.trim().split('\n')).toHaveLength(1);
  });

  it('without a key → one-line error; the private key never appears in any output', async () => {
    const none = await setup({});
    const failed = await none.run(ARGS);
    expect(failed.code).toBe(3);
    expect(failed.err).toMatch(/^k3s-daas: no Sui key/);
    const { run, h } = await setup();
    await run(ARGS);
    await run(ARGS);
    const secret = keypair.getSecretKey();
    const cached = await readFile(join(cacheDir(h.ctx), (await readdir(cacheDir(h.ctx)))[0]), 'utf8');
    for (const text of [h.stdout(), h.stderr(), cached]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain('suiprivkey');
      expect(text).not.toContain(Buffer.from(new Uint8Array(32).fill(77)).toString('base64'));
    }
  });
});
