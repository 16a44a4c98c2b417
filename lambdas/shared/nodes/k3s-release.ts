// The K3s release every worker runs, ASG instance or external machine: one pin, read by the CDK config
// (worker user data), the join routes (`k3sVersion` in the answer) and the CLI's `node join` (which
// downloads and checksum-verifies the same binary). Checksums from the release's sha256sum-amd64.txt /
// sha256sum-arm64.txt.

export interface K3sRelease {
  /** A K3s release tag, e.g. `v1.34.2+k3s1`. */
  version: string;
  /** SHA-256 (hex) of the release's `k3s` (amd64) binary. */
  sha256Amd64: string;
  /** SHA-256 (hex) of the release's `k3s-arm64` binary. */
  sha256Arm64: string;
  /** Where release assets live (`<base>/<url-encoded version>/<asset>`); absent = GitHub releases. */
  downloadBase?: string;
}

/** The default download base: K3s's GitHub releases. */
export const K3S_GITHUB_RELEASES = 'https://github.com/k3s-io/k3s/releases/download';

export const K3S_RELEASE: Readonly<K3sRelease> = Object.freeze({
  version: 'v1.34.2+k3s1',
  sha256Amd64: '15811d34187e03fe29d0e46108c42cc33e62cec1b3d9d80f50944536ebcad40a',
  sha256Arm64: '2e1db0e54a8b0d0ab8a264a119c9c617561f9290e7bb2722d795f8bc91b24cf8',
});
