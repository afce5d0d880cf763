#!/usr/bin/env bash
# The few-step recipe against the default one (issue 23): on the wan-1.3b preset (Wan2.1-T2V-1.3B's shapes, random
# bf16 weights), `coordinator generate` runs in one sitting
#   A. the default recipe: 50 UniPC steps, guidance 5 (two branches): 100 transformer passes;
#   B. the 4-step recipe with a rank-32 LoRA: --steps 4 --guidance 1 --scheduler euler --shift 5: 4 passes;
#   C. the 4-step recipe without the LoRA: what B would cost with the LoRA merged into the weights.
# and prints a Markdown table: passes, denoising seconds, seconds per pass, peak RSS, wall time; then the
# LoRA's cost: B's time per pass over C's (the on-the-fly product), B's peak RSS over C's against the weights.
#
# usage: scripts/bench-lora.sh [--width W] [--height H] [--frames F] [--threads N] [--rank R] [--dir DIR]
#   DIR keeps the model between runs (default /tmp/sora-bench; writing it takes minutes and ~14 GB: the text
#   encoder has umT5-XXL's shapes). Prompts are cut to 64 tokens so the text encoder does not dominate.
set -euo pipefail
cd "$(dirname "$0")/.."
width=160 height=96 frames=5 threads=2 rank=32 dir=/tmp/sora-bench
while (($#)); do
    case "$1" in
        --width) width=$2; shift 2 ;;
        --height) height=$2; shift 2 ;;
        --frames) frames=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --rank) rank=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
swift build -c release --product coordinator >&2
bin="$(swift build -c release --show-bin-path)/coordinator"
model="$dir/wan-1.3b"
mkdir -p "$dir"
[[ -f "$model/transformer/config.json" ]] || "$bin" init-model --preset wan-1.3b --seed 1 --out "$model" >&2
lora="$dir/lora-rank$rank.safetensors"
[[ -f "$lora" ]] || "$bin" init-lora --model "$model" --rank "$rank" --seed 1 --out "$lora" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "job: ${width}x${height}, $frames frames, threads $threads, max sequence length 64; LoRA rank $rank ($(du -h "$lora" | cut -f1))"
echo
echo "| run | recipe | passes | denoising | per pass | peak RSS | wall |"
echo "|---|---|---|---|---|---|---|"
run() {
    local name=$1 recipe=$2; shift 2
    /usr/bin/time -f "%M %e" -o "$work/time" "$bin" generate --model "$model" --prompt "a red fox running in the snow" \
        --negative-prompt "blurry" --width "$width" --height "$height" --frames "$frames" --max-sequence-length 64 \
        --threads "$threads" --seed 3 --quiet --out "$work/$name.y4m" "$@" > "$work/$name.out"
    read -r peak_kib elapsed < "$work/time"
    local timing
    timing=$(grep '^timing:' "$work/$name.out")
    local passes denoise per
    passes=$(sed -E 's/timing: ([0-9]+) transformer passes.*/\1/' <<< "$timing")
    denoise=$(sed -E 's/.*denoising ([0-9.]+) s.*/\1/' <<< "$timing")
    per=$(sed -E 's/.*\(([0-9.]+) s per pass\).*/\1/' <<< "$timing")
    echo "$name $passes $denoise $per $peak_kib" >> "$work/results"
    awk -v n="$name" -v r="$recipe" -v p="$passes" -v d="$denoise" -v s="$per" -v k="$peak_kib" -v e="$elapsed" \
        'BEGIN { printf "| %s | %s | %d | %.1f s | %.2f s | %.2f GiB | %.1f s |\n", n, r, p, d, s, k / 1048576, e }'
}
run A "50 UniPC steps, guidance 5" --steps 50 --guidance 5
run B "4 Euler steps (shift 5), guidance 1, rank-$rank LoRA" --steps 4 --guidance 1 --scheduler euler --shift 5 --lora "$lora"
run C "4 Euler steps (shift 5), guidance 1, no LoRA" --steps 4 --guidance 1 --scheduler euler --shift 5
weights=$(du -b "$model/transformer" | cut -f1)
echo
awk -v w="$weights" '
    { passes[$1] = $2; denoise[$1] = $3; per[$1] = $4; peak[$1] = $5 * 1024 }
    END {
        printf "denoising A / B: %.1fx less wall time for the 4-step recipe with its LoRA\n", denoise["A"] / denoise["B"]
        printf "LoRA on the fly: %.1f%% more time per pass than without it (B / C)\n", 100 * (per["B"] / per["C"] - 1)
        printf "LoRA memory: peak RSS B - C = %.0f MiB, %.1f%% of the transformer weights (%.2f GiB as stored)\n",
            (peak["B"] - peak["C"]) / 1048576, 100 * (peak["B"] - peak["C"]) / w, w / 1073741824
    }' "$work/results"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
