// People of the e2e suite: a Sui key, a stake and a seal token in the index (either recorded on the local
// ledger and indexed by the real indexer, or written with the indexer's DynamoDB repository), a HOME for
// the credential plugin's cache, and the kubeconfig the project's renderer makes, whose exec user is the
// project's CLI.
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import type { SealTokenRecord, StakeRecord } from '../../../lambdas/shared/index/index-model';
import type { IndexRepository } from '../../../lambdas/shared/index/index-repository';
import { renderKubeconfig } from '../../../lambdas/shared/kubeconfig/kubeconfig';
import { DEFAULT_MIN_STAKE_MIST, roleToU8, TIER_PERMISSIONS, type Role } from '../../../lambdas/shared/sui/roles';
import type { LocalLedger } from '../sandbox/local-ledger';
import { REPO_ROOT, runKubectl, type KubectlResult } from './cluster';

export const suiId = () => `0x${randomBytes(32).toString('hex')}`;

/**
 * Bundles the CLI exactly as `npm run build:cli` does and puts a `k3s-daas` command on a private PATH
 * directory (the kubeconfig's exec user runs `k3s-daas` from PATH).
 */
export async function installCli(dir: string): Promise<string> {
  const binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir, { recursive: true });
  const bundle = path.join(dir, 'k3s-daas.mjs');
  await build({
    entryPoints: [path.join(REPO_ROOT, 'bin/k3s-daas.ts')], bundle: true, platform: 'node', target: 'node22', format: 'esm', outfile: bundle,
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }, logLevel: 'warning',
  });
  fs.writeFileSync(path.join(binDir, 'k3s-daas'), `#!/bin/sh\nexec '${process.execPath}' '${bundle}' "$@"\n`, { mode: 0o755 });
  return binDir;
}

export interface Person {
  readonly name: string;
  readonly role: Role;
  readonly keypair: Ed25519Keypair;
  readonly address: string;
  readonly stakeId: string;
  readonly tokenId: string;
  readonly home: string;
  readonly kubeconfig: string;
  readonly env: NodeJS.ProcessEnv;
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
}

const position = { checkpoint: 1n, txOrdinal: 0, eventIndex: 0, txDigest: 'e2e' };

export interface PeopleContext {
  dir: string;
  repo: IndexRepository;
  clusterId: string;
  serverUrl: string;
  caCertPem: string;
  cliBinDir: string;
  kubectlPath: string;
}

export async function createPerson(ctx: PeopleContext, name: string, role: Role, opts: { tokenExpiresAtMs?: number; keypair?: Ed25519Keypair; ledger?: LocalLedger } = {}): Promise<Person> {
  const keypair = opts.keypair ?? Ed25519Keypair.generate();
  const address = keypair.toSuiAddress();
  const stakeId = suiId();
  const tokenId = suiId();
  const token: SealTokenRecord = {
    tokenId, stakeId, owner: address, role, permissions: [...TIER_PERMISSIONS[role]], clusterId: ctx.clusterId,
    expiresAtMs: opts.tokenExpiresAtMs ?? Date.now() + 30 * 86_400_000, revoked: false, invalidated: false, lastEvent: position,
  };
  const stake: StakeRecord = { stakeId, owner: address, role, amountMist: DEFAULT_MIN_STAKE_MIST[role], status: 'active', nodeId: role === 'node' ? `${name}-machines` : '', lastEvent: position };
  if (opts.ledger) {
    // What `k3s-daas stake` and `k3s-daas token issue` make the package emit, then one indexer run.
    opts.ledger.record([{ name: 'staking::StakeDeposited', data: { stake_id: stakeId, owner: address, role: roleToU8(role), amount: stake.amountMist, node_id: stake.nodeId } }]);
    opts.ledger.record([{ name: 'seal_token::SealTokenIssued', data: {
      token_id: tokenId, stake_id: stakeId, owner: address, role: roleToU8(role), permissions: token.permissions, cluster_id: ctx.clusterId, expires_at_ms: BigInt(token.expiresAtMs),
    } }]);
    const report = await opts.ledger.index(ctx.repo);
    if (report.stoppedBecause !== 'caught_up') throw new Error(`indexing ${name}'s stake and token stopped: ${report.stoppedBecause}`);
  } else {
    await ctx.repo.writeEntities([{ kind: 'stake', record: stake, expectedRev: 0 }, { kind: 'token', record: token, expectedRev: 0 }]);
  }

  const home = path.join(ctx.dir, 'people', name);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const caSha256 = createHash('sha256').update(new X509Certificate(ctx.caCertPem).raw).digest('hex');
  const kubeconfig = path.join(home, 'kubeconfig');
  fs.writeFileSync(kubeconfig, renderKubeconfig({
    clusterId: ctx.clusterId, serverUrl: ctx.serverUrl, caCertPem: ctx.caCertPem, tokenId,
    attestation: { pcrs: {}, timestamp: new Date().toISOString(), caSha256 },
  }), { mode: 0o600 });
  const env: NodeJS.ProcessEnv = {
    PATH: `${ctx.cliBinDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    SUI_PRIVATE_KEY: keypair.getSecretKey(),
  };
  return {
    name, role, keypair, address, stakeId, tokenId, home, kubeconfig, env,
    kubectl: (args, input) => runKubectl(ctx.kubectlPath, args, { kubeconfig, env, input }),
  };
}
