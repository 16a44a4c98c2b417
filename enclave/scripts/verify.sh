#!/usr/bin/env bash
# Rebuilds the enclave image from this checkout into a scratch directory and checks that its PCRs
# equal the committed enclave/pcrs.json: anyone can confirm that the measurements in the KMS key
# policy belong to this source. Same requirements as build.sh (Docker, nitro-cli).
set -euo pipefail

die() { printf 'enclave verify: %s\n' "$*" >&2; exit 1; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
readonly EXPECTED="${EXPECTED_PCRS:-${REPO_ROOT}/enclave/pcrs.json}"
[[ -f "${EXPECTED}" ]] || die "${EXPECTED} does not exist: nothing to verify against (run npm run enclave:build first)"

scratch="$(mktemp -d)"
trap 'rm -rf "${scratch}"' EXIT
OUT_DIR="${scratch}" PCRS_OUT='' bash "${REPO_ROOT}/enclave/scripts/build.sh"

arch="$(uname -m)"
[[ "${arch}" == arm64 ]] && arch=aarch64
cd "${REPO_ROOT}"
EIF_ARCH="${arch}" npx --no-install tsx enclave/src/build/pcrs-cli.ts compare --expected "${EXPECTED}" --measurements "${scratch}/measurements.json" --eif "${scratch}/k3s-daas.eif"
