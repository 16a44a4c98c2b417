#!/usr/bin/env bash
# Builds the e2e peers (kube-apiserver, kubectl, embedded etcd, ClusterRole aggregation
# controller) from test/e2e/peers with the Go module proxy, once per content hash, into
# ${K3S_DAAS_E2E_CACHE:-~/.cache/k3s-daas/e2e}/<hash>/. A cached build is reused; a stale or
# partial one is never used because the directory only appears, by rename, when complete.
# Prints the directory holding the binaries as its last line of stdout.
#   --print-dir  print the directory the current sources map to and exit (0 if built, 1 if not)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peers="$here/peers"
cache_root="${K3S_DAAS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k3s-daas/e2e}"
binaries=(kube-apiserver kubectl etcd aggregator)

command -v go >/dev/null || { echo "build-peers: go is not on PATH (Go >= 1.24 builds the e2e peers)" >&2; exit 2; }

# The hash covers everything that decides the binaries: module files, our sources, this
# script and the Go toolchain.
hash="$(
  cd "$peers"
  {
    go env GOVERSION GOOS GOARCH
    # By content only (stdin), so every checkout of the same sources finds the same cache entry.
    sha256sum < "$here/build-peers.sh"
    sha256sum go.mod go.sum
    find . -name '*.go' -type f | LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -c1-16
)"
out="$cache_root/$hash"

complete() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$out/$b" ]] || return 1; done
}

if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$out"
  complete
  exit
fi

if complete; then
  echo "build-peers: reusing $out" >&2
  echo "$out"
  exit 0
fi

mkdir -p "$cache_root"
work="$(mktemp -d "$cache_root/.build-$hash.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Version stamps as the Kubernetes release build sets them, so kubectl and the apiserver
# report v1.34.2 (skew checks and `kubectl version` read these).
kube_version=v1.34.2
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=34"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

started=$SECONDS
echo "build-peers: building into $out (first build takes 10-40 minutes on 2 cores)" >&2
cd "$peers"
# nice: the build competes with everything else on a small machine.
# -buildvcs=false: the module sits inside the project repository, whose VCS state says nothing about the peers.
build() { nice -n 10 go build -trimpath -buildvcs=false -ldflags="$ldflags" -o "$work/$1" "$2"; echo "build-peers: built $1 ($((SECONDS - started)) s)" >&2; }
build etcd ./etcd
build aggregator ./aggregator
build kubectl k8s.io/kubernetes/cmd/kubectl
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver

rm -rf "$out"
mv "$work" "$out"
trap - EXIT
echo "$out"
