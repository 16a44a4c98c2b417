#!/usr/bin/env bash
# Reproducible enclave build: bundle → container image (BuildKit, fixed timestamps) → EIF with
# nitro-cli → enclave/pcrs.json (DESIGN §3). Needs Docker with a running daemon (BuildKit/buildx)
# and the AWS Nitro Enclaves CLI; see docs/enclave.md.
#
# Environment:
#   OUT_DIR         where the EIF and nitro-cli's measurements go (default enclave/dist)
#   PCRS_OUT        where pcrs.json is written (default enclave/pcrs.json; empty: do not write)
#   ENCLAVE_SIGNING_CERT, ENCLAVE_SIGNING_KEY   optional: sign the EIF (adds PCR8)
set -euo pipefail

die() { printf 'enclave build: %s\n' "$*" >&2; exit 1; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
readonly ENCLAVE_DIR="${REPO_ROOT}/enclave"
readonly OUT_DIR="${OUT_DIR:-${ENCLAVE_DIR}/dist}"
readonly PCRS_OUT="${PCRS_OUT-${ENCLAVE_DIR}/pcrs.json}"

# Prerequisites first, so a machine without them fails in a second with the reason.
command -v docker >/dev/null 2>&1 \
  || die "Docker is not installed: the enclave image is built with Docker (BuildKit). Install Docker and the AWS Nitro Enclaves CLI (see docs/enclave.md)."
docker info >/dev/null 2>&1 \
  || die "Docker is installed but its daemon is not reachable (docker info failed): start Docker or add this user to the docker group."
docker buildx version >/dev/null 2>&1 \
  || die "docker buildx (BuildKit) is missing: it is needed for reproducible timestamps (rewrite-timestamp)."
command -v nitro-cli >/dev/null 2>&1 \
  || die "nitro-cli is not installed: install aws-nitro-enclaves-cli and aws-nitro-enclaves-cli-devel (Amazon Linux: dnf install aws-nitro-enclaves-cli aws-nitro-enclaves-cli-devel)."
compgen -G "${ENCLAVE_DIR}/rbac/*.yaml" >/dev/null \
  || die "no RBAC manifests in enclave/rbac/: the k3s-daas: groups would have no permissions."

cd "${REPO_ROOT}"
arch="$(uname -m)"
case "${arch}" in
  x86_64) k3s_asset=k3s; sha_var=K3S_SHA256_AMD64; platform=linux/amd64 ;;
  aarch64|arm64) arch=aarch64; k3s_asset=k3s-arm64; sha_var=K3S_SHA256_ARM64; platform=linux/arm64 ;;
  *) die "unsupported architecture ${arch}: Nitro Enclaves run x86_64 or aarch64" ;;
esac

# K3s pins have one home: lib/config/environments.ts.
pins="$(npx --no-install tsx enclave/src/build/pcrs-cli.ts k3s-pins)"
k3s_version="$(sed -n 's/^K3S_VERSION=//p' <<<"${pins}")"
k3s_sha256="$(sed -n "s/^${sha_var}=//p" <<<"${pins}")"
[[ -n "${k3s_version}" && -n "${k3s_sha256}" ]] || die "could not read the K3s pins from lib/config/environments.ts"

# Reproducible timestamps: the commit time of HEAD, not the wall clock.
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || true)"
[[ -n "${SOURCE_DATE_EPOCH}" ]] || die "not a git checkout: SOURCE_DATE_EPOCH comes from the HEAD commit time"
export SOURCE_DATE_EPOCH

echo "enclave build: bundling the supervisor"
npm run --silent enclave:bundle
# koffi is a native module; ship it beside the bundle with only the Linux builds.
rm -rf "${ENCLAVE_DIR}/dist/node_modules"
mkdir -p "${ENCLAVE_DIR}/dist/node_modules/koffi/build/koffi"
cp -R node_modules/koffi/package.json node_modules/koffi/index.js node_modules/koffi/indirect.js node_modules/koffi/lib \
  "${ENCLAVE_DIR}/dist/node_modules/koffi/" 2>/dev/null || die "node_modules/koffi is incomplete: run npm install"
cp -R node_modules/koffi/build/koffi/linux_x64 node_modules/koffi/build/koffi/linux_arm64 "${ENCLAVE_DIR}/dist/node_modules/koffi/build/koffi/"

image="k3s-daas-enclave:$(git rev-parse --short=12 HEAD)"
echo "enclave build: container image ${image} (${platform}, K3s ${k3s_version}, SOURCE_DATE_EPOCH ${SOURCE_DATE_EPOCH})"
docker buildx build \
  --platform "${platform}" \
  --file "${ENCLAVE_DIR}/Containerfile" \
  --build-arg "SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH}" \
  --build-arg "K3S_VERSION=${k3s_version//+/%2B}" \
  --build-arg "K3S_ASSET=${k3s_asset}" \
  --build-arg "K3S_SHA256=${k3s_sha256}" \
  --output "type=docker,name=${image},rewrite-timestamp=true" \
  "${ENCLAVE_DIR}"

mkdir -p "${OUT_DIR}"
eif="${OUT_DIR}/k3s-daas.eif"
measurements="${OUT_DIR}/measurements.json"
sign_args=()
if [[ -n "${ENCLAVE_SIGNING_CERT:-}" || -n "${ENCLAVE_SIGNING_KEY:-}" ]]; then
  [[ -f "${ENCLAVE_SIGNING_CERT:-}" && -f "${ENCLAVE_SIGNING_KEY:-}" ]] || die "ENCLAVE_SIGNING_CERT and ENCLAVE_SIGNING_KEY must both name files"
  sign_args=(--signing-certificate "${ENCLAVE_SIGNING_CERT}" --private-key "${ENCLAVE_SIGNING_KEY}")
fi
echo "enclave build: EIF ${eif}"
# nitro-cli prints the measurements JSON on stdout and its progress on stderr.
nitro-cli build-enclave --docker-uri "${image}" --output-file "${eif}" "${sign_args[@]}" >"${measurements}"

if [[ -n "${PCRS_OUT}" ]]; then
  EIF_ARCH="${arch}" npx --no-install tsx enclave/src/build/pcrs-cli.ts write --measurements "${measurements}" --eif "${eif}" --out "${PCRS_OUT}"
fi
