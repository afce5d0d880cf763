#!/usr/bin/env bash
# Installs what the build needs (OpenBLAS and pkg-config through apt, when missing), then builds in release.
# Idempotent: run it as often as you like.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-deps.sh
command -v swift >/dev/null 2>&1 || { echo "setup: swift is not on PATH (Swift 6 toolchain required)" >&2; exit 1; }
echo "setup: building (release)" >&2
swift build -c release
echo "setup: done; binaries in $(swift build -c release --show-bin-path)" >&2
