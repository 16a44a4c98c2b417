// The Lambda functions as an environment deploys them, for the cold-start benchmark: the settings the CDK
// app synthesizes (Node options, environment variables, memory). Bundles: lambda-bundles.ts.
import { synthPlatform } from './cdk-app';

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
