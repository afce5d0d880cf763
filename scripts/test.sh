#!/usr/bin/env bash
# Runs the whole test suite in a release build with testing enabled (numeric tests are too slow in debug).
# Extra arguments go to `swift test`, e.g. `scripts/test.sh --filter WireTests`. Tests run one at a time (below).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
swift build -c release -Xswiftc -enable-testing --build-tests
# --no-parallel: the cluster suites wait on real processes from synchronous tests, which holds threads of Swift's
# cooperative pool (as many as cores: two here); run side by side they starved the async loopback and heartbeat
# tests of threads and made them time out. One test at a time, the whole suite takes about 80 s in release.
exec swift test -c release -Xswiftc -enable-testing --skip-build --no-parallel "$@"
