#!/usr/bin/env bash
# Prints the SHA-256 of the outputs of a fixed set of jobs with the demo model: a multi-window text-to-video
# clip with guidance (Y4M and safetensors), an image-prompt task, a loop, and the same text-to-video clip on a
# local 2-worker cluster. Run before and after a refactor that must keep the bytes: the two lists must be equal.
#
#   scripts/output-hashes.sh [--no-cluster]
#
# Uses the release binaries in .build/release (built if missing, or SORA_BIN_DIR); writes into a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="${SORA_BIN_DIR:-.build/release}"
[ -x "$bin/coordinator" ] || swift build -c release >&2
cluster=1
[ "${1:-}" = "--no-cluster" ] && cluster=0
out=$(mktemp -d /tmp/sora-hashes.XXXXXX)
trap 'rm -rf "$out"' EXIT
prompt="a red circle moving to the right on a black background"
t2v=(--prompt "$prompt" --frames 33 --window-frames 5 --window-overlap 2 --steps 6 --seed 7 --guidance 5)
gen() { "$bin/coordinator" generate --quiet "$@" >&2; }
gen "${t2v[@]}" --out "$out/t2v.y4m"
gen "${t2v[@]}" --out "$out/t2v.safetensors"
gen --prompt "a blue circle moving up on a white background" --frames 1 --steps 6 --seed 3 --out "$out/still.png"
gen --prompt "a blue circle moving up on a white background" --image "$out/still.png" --frames 17 --steps 6 \
    --seed 4 --out "$out/image.y4m"
gen --prompt "a green circle moving up and down on a black background" --loop --duration 2 --window-frames 5 \
    --window-overlap 2 --steps 6 --seed 3 --out "$out/loop.y4m"
if [ "$cluster" = 1 ]; then
    scripts/local-cluster.sh start 2 >&2
    trap '"$root"/scripts/local-cluster.sh stop >&2; rm -rf "$out"' EXIT
    "$bin/coordinator" submit --config cluster.yaml "${t2v[@]}" --wait --out "$out/cluster.y4m" >&2
fi
cd "$out" && sha256sum ./*.y4m ./*.safetensors ./*.png
