#!/usr/bin/env bash
# Runs the whole test suite in a release build with testing enabled (numeric tests are too slow in debug).
# Extra arguments go to `swift test`, e.g. `scripts/test.sh --filter WireTests`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
swift build -c release -Xswiftc -enable-testing --build-tests
exec swift test -c release -Xswiftc -enable-testing --skip-build "$@"
