#!/usr/bin/env bash
# Wire benchmark (release): tensor messages of 1, 16 and 256 MiB between two processes over loopback against
# a raw TCP send of the same bytes in the same run, and small-message round-trip time.
#   scripts/bench-wire.sh                      every socket with the system's TCP congestion control
#   scripts/bench-wire.sh --congestion reno    every socket (raw and wire, both processes) with reno
#   scripts/bench-wire.sh --cpus 0,1 [...]     the sender pinned to CPU 0 and the receiver to CPU 1
# Prints Markdown tables; docs/BENCHMARKS.md ("## Wire") records runs of both.
# Diagnostics: .build/release/bench-wire --profile MIB COUNT [--raw] [--no-checksums] [--congestion NAME],
# .build/release/bench-wire --crc, and .build/release/bench-wire --mac for the MACs and ciphers (docs/BENCHMARKS.md,
# "Wire crypto primitives"; see Sources/WireBench/main.swift).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product bench-wire
# --cpus A,B: the sender on CPU A, the receiver on CPU B (as two cluster machines each have their own CPU).
if [ "${1:-}" = "--cpus" ]; then
    [[ "${2:-}" =~ ^[0-9]+,[0-9]+$ ]] || { echo "bench-wire.sh: --cpus takes A,B (two CPU numbers)" >&2; exit 2; }
    sender="${2%,*}" receiver="${2#*,}"
    shift 2
    exec taskset -c "$sender" .build/release/bench-wire --receiver-cpu "$receiver" "$@"
fi
exec .build/release/bench-wire "$@"
