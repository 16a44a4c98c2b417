// The parent-host agent as an S3 asset: one bundled file (enclave/src/build/bundle.ts) that the
// master's user-data downloads next to the EIF. Bundled locally with esbuild at synth; the asset hash
// is the bundle's, so any change in the agent or the shared code it imports ships a new object.
import { AssetHashType, BundlingOutput, DockerImage, type ILocalBundling } from 'aws-cdk-lib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { bundleHostAgent } from '../../enclave/src/build/bundle';

const SOURCE = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'enclave', 'src', 'host-agent');

const localEsbuild: ILocalBundling = {
  tryBundle(outputDir: string): boolean {
    bundleHostAgent(path.join(outputDir, 'host-agent.mjs'));
    return true;
  },
};

export class HostAgentAsset extends Construct {
  public readonly asset: s3assets.Asset;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.asset = new s3assets.Asset(this, 'Bundle', {
      path: SOURCE,
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        local: localEsbuild,
        // Never used: local bundling always succeeds where the repository's dependencies are installed.
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:24-bookworm-slim'),
        outputType: BundlingOutput.SINGLE_FILE,
      },
    });
  }
}
