#!/usr/bin/env bash
# Contact sheets of the image and video tasks (docs/TASKS.md) made with the demo model, one PNG per task:
# docs/images/task-<name>.png (a `.png` output of `generate` is a sheet of evenly spaced frames of the clip).
# Usage: scripts/task-sheets.sh [OUTPUT_DIR]     (default docs/images; about a minute in release on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/images}"
[ -d models/demo ] || { echo "task-sheets.sh: models/demo is missing (scripts/train_demo_model.py makes it)" >&2; exit 1; }
mkdir -p "$out"
swift build -c release --product coordinator >&2
bin="$(swift build -c release --show-bin-path)/coordinator"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
generate() { echo "task-sheets: $*" >&2; "$bin" generate --model models/demo --quiet --seed 3 "$@"; }
red_right="a red circle moving to the right on a black background"
blue_up="a blue circle moving up on a white background"
# Inputs made by the model itself: a still, and two clips.
generate --prompt "$red_right" --frames 1 --out "$work/still.png"
generate --prompt "$red_right" --out "$work/a.y4m"
generate --prompt "$blue_up" --out "$work/b.y4m"
cp "$work/still.png" "$out/task-image.png"
generate --prompt "$red_right" --image "$work/still.png" --out "$out/task-animate.png"
generate --prompt "$red_right" --extend-forward "$work/a.y4m" --duration 1 --out "$out/task-extend-forward.png"
generate --prompt "$blue_up" --extend-backward "$work/b.y4m" --duration 1 --out "$out/task-extend-backward.png"
generate --prompt "a green circle moving up and down on a black background" --loop --duration 2 \
    --window-frames 5 --window-overlap 2 --out "$out/task-loop.png"
generate --prompt "a green circle moving up on a black background" --connect "$work/a.y4m" "$work/b.y4m" \
    --duration 1 --out "$out/task-connect.png"
generate --prompt "a green circle moving to the right on a black background" --edit "$work/a.y4m" --strength 0.6 \
    --out "$out/task-edit.png"
echo "task-sheets: wrote $out/task-{image,animate,extend-forward,extend-backward,loop,connect,edit}.png" >&2
