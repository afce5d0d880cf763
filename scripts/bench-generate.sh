#!/usr/bin/env bash
# Peak resident memory of `coordinator generate` against video duration (issue: memory beyond the latent
# stays flat). Builds in release, writes a tiny seeded model, generates 5, 20 and 60 second clips, and prints
# a Markdown table: duration, frames, latent frames, windows, latent bytes, peak RSS, and peak RSS minus six
# latent-sized buffers (the latent, the blended model output, the scheduler's two-step history and last sample,
# and the next latent: the state that must grow with duration), then the wall time.
#
# usage: scripts/bench-generate.sh [--width W] [--height H] [--steps N] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
width=256 height=160 steps=2 threads=2
while (($#)); do
    case "$1" in
        --width) width=$2; shift 2 ;;
        --height) height=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
swift build -c release --product coordinator >&2
bin="$(swift build -c release --show-bin-path)/coordinator"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" init-model --preset tiny --seed 1 --out "$work/model" >&2
echo "| duration | frames | latent frames | windows/step | latent | peak RSS | peak - 6 x latent | time |"
echo "|---|---|---|---|---|---|---|---|"
for seconds in 5 20 60; do
    out="$work/clip-$seconds.y4m"
    /usr/bin/time -f "%M %e" -o "$work/time" "$bin" generate --model "$work/model" --prompt "a red circle moving right" \
        --width "$width" --height "$height" --duration "$seconds" --fps 16 --steps "$steps" --guidance 5 \
        --threads "$threads" --quiet --out "$out" > "$work/summary"
    read -r peak_kib elapsed < "$work/time"
    frames=$(( (seconds * 16 + 3) / 4 * 4 + 1 ))
    latent_frames=$(( (frames - 1) / 4 + 1 ))
    windows=$(( latent_frames <= 21 ? 1 : (latent_frames - 5 + 15) / 16 ))
    latent_bytes=$(( 16 * latent_frames * (height / 8) * (width / 8) * 4 ))
    awk -v s="$seconds" -v f="$frames" -v lf="$latent_frames" -v w="$windows" -v lb="$latent_bytes" \
        -v pk="$peak_kib" -v el="$elapsed" 'BEGIN {
            m = 1048576; p = pk * 1024
            printf "| %s s | %s | %s | %s | %.1f MiB | %.1f MiB | %.1f MiB | %.1f s |\n", s, f, lf, w, lb / m, p / m, (p - 6 * lb) / m, el
        }'
done
