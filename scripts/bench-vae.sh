#!/usr/bin/env bash
# The Wan2.1 VAE benchmark (release build): decode seconds per frame and GFLOP/s of the full-size VAE (base_dim 96,
# seeded random weights) at 128x128, 480x272 and 832x480, on 1 and 2 threads, next to cblas_sgemm on a square
# 2048^3 product measured right after each row; then a per-operation profile of the decode and encode at 128x128.
# Prints the machine and the load before and after.
# Usage: scripts/bench-vae.sh [--frames 5] [--sizes 128x128,480x272,832x480] [--threads "1 2"] [--no-profile]
#        SORA_BIN_DIR=/some/build/release scripts/bench-vae.sh   (time another build, e.g. the one before a change)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${SORA_BIN_DIR:-.build/release}"
frames=5
sizes=128x128,480x272,832x480
threads="1 2"
profile=1
while [ $# -gt 0 ]; do
    case "$1" in
    --frames) frames="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --no-profile) profile=0; shift ;;
    *) echo "bench-vae.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$bin/bench-model" ] || swift build -c release --product bench-model >&2
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; binary: $bin"
echo "load before: $(cat /proc/loadavg)"
for n in $threads; do
    echo
    "$bin/bench-model" --vae "$sizes" --vae-frames "$frames" --threads "$n" --rounds 1
done
if [ "$profile" = 1 ]; then
    for n in $threads; do
        echo
        "$bin/bench-model" --vae 128x128 --vae-frames "$frames" --threads "$n" --rounds 1 --vae-profile --vae-encode
    done
fi
echo
echo "load after: $(cat /proc/loadavg)"
