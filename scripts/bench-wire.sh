#!/usr/bin/env bash
# Wire benchmark (release): tensor messages of 1, 16 and 256 MiB between two processes over loopback against
# a raw TCP send of the same bytes in the same run, and small-message round-trip time.
#   scripts/bench-wire.sh                      every socket with the system's TCP congestion control
#   scripts/bench-wire.sh --congestion reno    every socket (raw and wire, both processes) with reno
# Prints Markdown tables; docs/BENCHMARKS.md ("## Wire") records runs of both.
# Diagnostics: .build/release/bench-wire --profile MIB COUNT [--raw] [--no-checksums] [--congestion NAME],
# .build/release/bench-wire --crc (see Sources/WireBench/main.swift).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product bench-wire
exec .build/release/bench-wire "$@"
