#!/usr/bin/env bash
# Wire benchmark (release): tensor messages of 1, 16 and 256 MiB between two processes over loopback against
# a raw TCP send of the same bytes in the same run, and small-message round-trip time.
#   scripts/bench-wire.sh
# Prints Markdown tables; docs/BENCHMARKS.md ("## Wire") records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product bench-wire
exec .build/release/bench-wire
