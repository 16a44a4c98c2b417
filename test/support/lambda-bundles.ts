// Every Lambda as it is deployed, for the cold-start benchmark: the function settings the CDK app
// synthesizes for an environment (Node options, environment variables, memory) and each handler bundled
// with the esbuild settings DomainFunction deploys (`LAMBDA_BUNDLE`, source maps when the deployed Node
// options enable them).
import { build } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LAMBDA_BUNDLE } from '../../lib/api/domain-function';
import { REPO_ROOT, synthPlatform } from './cdk-app';

export interface DeployedFunction {
  /** Folder under lambdas/ (the function's POWERTOOLS_SERVICE_NAME). */
  readonly handlerName: string;
  /** Environment variables; values the template computes (references to other resources) are CloudFormation objects. */
  readonly environment: Readonly<Record<string, unknown>>;
  readonly nodeOptions: string;
  readonly memorySize?: number;
  readonly reservedConcurrency?: number;
}

/** The functions of environment `env` as its synthesized templates declare them (bundling skipped). */
export function deployedFunctions(env = 'prod'): DeployedFunction[] {
  const platform = synthPlatform({ env });
  const functions: DeployedFunction[] = [];
  for (const stack of platform.app.synth().stacks) {
    for (const resource of Object.values<{ Type: string; Properties: Record<string, any> }>(stack.template.Resources ?? {})) { // eslint-disable-line @typescript-eslint/no-explicit-any
      const variables = resource.Properties?.Environment?.Variables as Record<string, unknown> | undefined;
      const handlerName = variables?.POWERTOOLS_SERVICE_NAME;
      if (resource.Type !== 'AWS::Lambda::Function' || typeof handlerName !== 'string') continue;
      functions.push({
        handlerName,
        environment: variables!,
        nodeOptions: typeof variables!.NODE_OPTIONS === 'string' ? variables!.NODE_OPTIONS : '',
        memorySize: resource.Properties.MemorySize,
        reservedConcurrency: resource.Properties.ReservedConcurrentExecutions,
      });
    }
  }
  return functions;
}

/** Every handler folder under lambdas/. */
export function lambdaNames(): string[] {
  const dir = path.join(REPO_ROOT, 'lambdas');
  return fs.readdirSync(dir).filter((name) => fs.existsSync(path.join(dir, name, 'handler.ts'))).sort();
}

export interface LambdaBundle {
  readonly file: string;
  readonly bytes: number;
  /** Size of the source map Lambda also loads (0 when none is built). */
  readonly mapBytes: number;
}

/**
 * Bundles lambdas/<name>/handler.ts into `outDir` with the deployed esbuild settings. `outDir` must lie
 * inside the repository (e.g. under node_modules/) so the externals the Lambda runtime provides
 * (@aws-sdk/*) resolve from node_modules.
 */
export async function bundleLambda(name: string, outDir: string, opts: { sourceMap: boolean }): Promise<LambdaBundle> {
  const file = path.join(outDir, `${name}.mjs`);
  const { format, target, mainFields, minify, banner, external, ...rest } = LAMBDA_BUNDLE;
  await build({
    entryPoints: [path.join(REPO_ROOT, 'lambdas', name, 'handler.ts')],
    bundle: true,
    platform: 'node',
    format,
    target,
    mainFields: [...mainFields],
    minify,
    external: [...external],
    banner: { js: banner },
    // Settings added to LAMBDA_BUNDLE later pass through as esbuild options (esbuild refuses a name it
    // does not know, so a setting this helper fails to apply is an error, not a silent difference).
    ...(rest as Record<string, unknown>),
    sourcemap: opts.sourceMap,
    outfile: file,
    logLevel: 'error',
  });
  const map = `${file}.map`;
  return { file, bytes: fs.statSync(file).size, mapBytes: fs.existsSync(map) ? fs.statSync(map).size : 0 };
}
