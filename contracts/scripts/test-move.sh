#!/usr/bin/env bash
# Move unit tests of the `k3s_daas` package (`npm run test:move`).
#   1. `sui move test` when the Sui CLI is on PATH;
#   2. otherwise the WASM Sui compiler/test runner (@zktx.io/sui-move-builder) with the framework sources
#      from SUI_FRAMEWORK_DIR (a Sui repository checkout; never committed here);
#   3. otherwise fail with the reason, unless K3S_DAAS_SKIP_MOVE_TESTS=1 (then print the reason, exit 0).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package_dir="$(dirname "$here")"
repo_root="$(dirname "$package_dir")"

if command -v sui >/dev/null 2>&1; then
  echo "test-move: sui move test ($(sui --version 2>/dev/null || echo 'sui'))"
  exec sui move test --path "$package_dir" "$@"
fi

if [[ -n "${SUI_FRAMEWORK_DIR:-}" ]]; then
  echo "test-move: no sui binary; WASM Move test runner with the framework in $SUI_FRAMEWORK_DIR"
  cd "$repo_root"
  exec npx --no-install tsx "$here/run-move-tests.ts" "$package_dir"
fi

reason="no 'sui' binary on PATH and SUI_FRAMEWORK_DIR is not set (point it at a Sui repository checkout holding crates/sui-framework/packages/{move-stdlib,sui-framework})"
if [[ "${K3S_DAAS_SKIP_MOVE_TESTS:-}" == "1" ]]; then
  echo "test-move: SKIPPED Move unit tests: $reason (K3S_DAAS_SKIP_MOVE_TESTS=1)"
  exit 0
fi
echo "test-move: cannot run the Move unit tests: $reason. Set K3S_DAAS_SKIP_MOVE_TESTS=1 to skip explicitly." >&2
exit 1
