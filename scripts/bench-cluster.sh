#!/usr/bin/env bash
# Cluster benchmark (not a test), all in one run on 127.0.0.1 with a release build and the `bench` preset (two
# blocks of Wan2.1-T2V-1.3B's shape, float32, 185 MB of weights per block):
#   (a) denoising step time of a multi-window job with guidance on 2 workers of 1 thread each against 1 worker of
#       1 thread (median of the steps after the first, from the coordinator's log); target speed-up >= 1.8x;
#   (b) every worker's peak resident memory (VmHWM from /proc/PID/status after the job) against the planner's
#       prediction (`coordinator plan --json --measure`, asked while the workers run); target within 15%;
#   (c) with a --memory budget that holds one block but not two, `plan` refuses the job on 1 worker and the job
#       runs across 2 (a two-stage pipeline, also timed against (a)'s single worker).
# It also checks that every run wrote the same bytes. Prints Markdown tables and the machine load (uptime).
# Every process it starts is killed on exit (trap); ports are free loopback ports; the work folder is removed
# unless --keep.
#
# usage: scripts/bench-cluster.sh [--steps N] [--frames N] [--width W] [--height H] [--model DIR] [--keep]
#   --model DIR   an existing `coordinator init-model --preset bench` folder (else one is written, about 1 min)
#   SORA_BIN_DIR=DIR in the environment runs DIR/coordinator and DIR/worker instead of building this checkout
# Runtime: about 4 minutes on an idle 2-core machine (model writing 1 min, three jobs of 4 steps, VAE decodes).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=4 frames=33 width=128 height=128 model="" keep=0
while (($#)); do
    case "$1" in
        --steps) steps=$2; shift 2 ;;
        --frames) frames=$2; shift 2 ;;
        --width) width=$2; shift 2 ;;
        --height) height=$2; shift 2 ;;
        --model) model=$(cd "$2" && pwd); shift 2 ;;
        --keep) keep=1; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
((steps >= 2)) || { echo "--steps must be at least 2 (the first step is not timed)" >&2; exit 2; }

if [[ -n "${SORA_BIN_DIR:-}" ]]; then
    # Prebuilt coordinator and worker (e.g. an earlier commit's, to compare in one sitting).
    bin=$(cd "$SORA_BIN_DIR" && pwd)
else
    swift build -c release --product coordinator >&2
    swift build -c release --product worker >&2
    bin="$(swift build -c release --show-bin-path)"
fi
work=$(mktemp -d /tmp/bench-cluster.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if ((keep)); then echo "work folder kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load_before=$(uptime)
echo "load before: $load_before" >&2
if [[ -z "$model" ]]; then
    "$bin/coordinator" init-model --preset bench --out "$work/models/bench" >&2
    model="$work/models/bench"
fi
root=$(dirname "$model")
model_name=$(basename "$model")
"$bin/coordinator" init-token --out "$work/token" >/dev/null
job=(--prompt "a red fox running through fresh snow" --negative-prompt "blurry" --width "$width" --height "$height"
     --frames "$frames" --steps "$steps" --guidance 5 --seed 7 --window-frames 3 --window-overlap 1)

# Each worker and the coordinator run in a session of their own, like processes on separate machines: with the
# kernel's autogroup scheduling (sched_autogroup_enabled) all processes of one session share one group's CPU time,
# so without this a second worker would split the first one's share instead of adding a core.
session=""
if command -v setsid > /dev/null; then session=setsid; fi

# A loopback port nobody listens on (and not handed out earlier in this run).
used_ports=" "
free_port() {
    local port
    while true; do
        port=$((20000 + RANDOM % 40000))
        [[ $used_ports == *" $port "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then used_ports+="$port "; echo "$port"; return; fi
    done
}

# write_config NAME MEMORY... : cluster.yaml for one worker per MEMORY (1 thread each).
write_config() {
    local name=$1; shift
    local config="$work/$name.yaml" index=0
    {
        echo "coordinator:"
        echo "  listen: 127.0.0.1:$(free_port)"
        echo "  state_dir: $work/$name-state"
        echo "token_file: $work/token"
        echo "model: $model_name"
        echo "workers:"
        for memory in "$@"; do
            echo "  - name: w$index"
            echo "    address: 127.0.0.1:$(free_port)"
            echo "    memory: $memory"
            echo "    threads: 1"
            index=$((index + 1))
        done
        echo "scheduler:"
        echo "  window_frames: 3"
        echo "  window_overlap: 1"
        echo "  max_inflight_per_stage: 2"
    } > "$config"
    echo "$config"
}

# start_cluster NAME MEMORY... : workers (--memory as in the config) and a coordinator; sets worker_pids and
# coordinator_pid, returns once every worker is connected.
start_cluster() {
    local name=$1; shift
    config=$(write_config "$name" "$@")
    worker_pids=()
    local index=0
    for memory in "$@"; do
        local address
        address=$(awk -v n="w$index" '$2 == "name:" && $3 == n { getline; print $2 }' "$config")
        $session "$bin/worker" --listen "$address" --token-file "$work/token" --model-root "$root" --memory "$memory" \
            --threads 1 --name "w$index" > "$work/$name-w$index.log" 2>&1 &
        pids+=($!); worker_pids+=($!)
        index=$((index + 1))
    done
    $session "$bin/coordinator" serve --config "$config" --model "$model" --threads 1 > "$work/$name-coordinator.log" 2>&1 &
    pids+=($!); coordinator_pid=$!
    local deadline=$((SECONDS + 120))
    for ((i = 0; i < index; i++)); do
        until grep -q "worker w$i connected" "$work/$name-coordinator.log"; do
            if ((SECONDS >= deadline)) || ! kill -0 "$coordinator_pid" 2>/dev/null; then
                echo "cluster $name did not come up:" >&2; cat "$work/$name-"*.log >&2; exit 1
            fi
            sleep 0.2
        done
    done
}

stop_cluster() {
    for pid in "${worker_pids[@]}" "$coordinator_pid"; do kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}

# Median of the step times after the first ("step K/N in X s"; the first step pages the weights in).
median_step() {
    grep -o "step [0-9]*/$steps in [0-9.]* s" "$1" | awk '{ split($2, k, "/"); if (k[1] > 1) print $4 }' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

vmhwm() { awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$1/status"; }
tick=$(getconf CLK_TCK)
cpu_seconds() { awk -v t="$tick" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }
# Sum of the step times in a coordinator log (the denoising wall time).
denoise_seconds() { grep -o "step [0-9]*/$steps in [0-9.]* s" "$1" | awk '{ s += $4 } END { print s + 0 }'; }

# run_case NAME MEMORY... : runs the job, records step time, placement, and per worker predicted vs measured peak.
run_case() {
    local name=$1; shift
    start_cluster "$name" "$@"
    "$bin/coordinator" plan --config "$config" --model "$model" --json --measure "${job[@]:2}" > "$work/$name-plan.json"
    local started=$SECONDS
    "$bin/coordinator" submit --config "$config" "${job[@]}" --wait --quiet --out "$work/$name.y4m" >&2
    local wall=$((SECONDS - started))
    local placement
    placement=$(grep -o 'placement [0-9]*: .*' "$work/$name-coordinator.log" | tail -1 | cut -d: -f2- | sed 's/^ //')
    local index=0 cpus=""
    for pid in "${worker_pids[@]}"; do
        echo "$name w$index $(vmhwm "$pid")" >> "$work/peaks"
        cpus+="w$index $(cpu_seconds "$pid") s, "
        index=$((index + 1))
    done
    local denoise
    denoise=$(denoise_seconds "$work/$name-coordinator.log")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(median_step "$work/$name-coordinator.log")" "$wall" "$denoise" \
        "${cpus%, }" "$placement" >> "$work/steps"
    stop_cluster
}

# (a) and (b): one worker, then two, budgets that hold the whole model.
run_case one 8GiB
run_case two 8GiB 8GiB
# (c): budgets that hold one block but not two.
small=350MiB
refuse_config=$(write_config refuse "$small")
set +e
"$bin/coordinator" plan --config "$refuse_config" --model "$model" "${job[@]:2}" > "$work/refuse.out" 2>&1
refuse_status=$?
set -e
run_case split "$small" "$small"
load_after=$(uptime)
echo "load after: $load_after" >&2

# Predicted peak of worker NAME in case CASE from the plan JSON (the stage it hosts; its layer count must
# match the placement the coordinator used, checked below).
predicted() {
    tr -d '\n' < "$work/$1-plan.json" | grep -o "{[^{}]*\"worker\":\"$2\"[^{}]*}" | head -1 |
        grep -o '"predicted_peak_bytes":[0-9]*' | cut -d: -f2
}
planned_layers() {
    tr -d '\n' < "$work/$1-plan.json" | grep -o '"pipelines":.*' | grep -o '"layer_end":[0-9]*,"layer_start":[0-9]*' |
        tr '\n' ' '
}

one=$(awk -F'\t' '$1 == "one" { print $2 }' "$work/steps")
echo
echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)."
echo "Load before: ${load_before#*load average: }; after: ${load_after#*load average: } (uptime load averages, 1/5/15 min)."
echo "## (a) step time, $width x $height, $frames frames, windows of 3 latent frames (overlap 1), guidance 5, $steps steps"
echo
echo "| run | workers (1 thread each) | placement | median step (steps 2..$steps) | speed-up vs 1 worker | denoising wall | workers' CPU time (whole job) | share of a core per worker while denoising | CPU-bound speed-up | job wall time |"
echo "|---|---|---|---|---|---|---|---|---|---|"
one_cpu=$(awk -F'\t' '$1 == "one" { split($5, f, " "); print f[2] }' "$work/steps")
while IFS=$'\t' read -r name step wall denoise cpus placement; do
    workers=$(grep -c "^$name " "$work/peaks")
    awk -v n="$name" -v w="$workers" -v p="$placement" -v s="$step" -v o="$one" -v t="$wall" -v d="$denoise" -v c="$cpus" \
        -v oc="$one_cpu" 'BEGIN {
            gsub(/ [|] /, " + ", p)  # pipelines side by side: a bar would split the table
            k = split(c, f, " "); total = 0; most = 0
            for (i = 2; i <= k; i += 3) { total += f[i]; if (f[i] > most) most = f[i] }
            printf "| %s | %d | `%s` | %.3f s | %.2fx | %.1f s | %s | %.0f%% | %.2fx | %d s |\n",
                n, w, p, s, o / s, d, c, 100 * total / w / d, oc / most, t }'
done < "$work/steps"
echo
echo "Share of a core: the workers' CPU seconds over the denoising wall time and the worker count; below 100%"
echo "the workers waited for a core (other load) or for work (pipeline bubbles). CPU-bound speed-up: the single"
echo "worker's CPU seconds over the busiest worker's, i.e. the speed-up if every worker had a core to itself."
echo
echo "## (b) peak resident memory per worker: measured VmHWM against the planner's prediction"
echo
echo "| run | worker | predicted peak | measured VmHWM | error |"
echo "|---|---|---|---|---|"
while read -r name worker measured; do
    prediction=$(predicted "$name" "$worker")
    awk -v n="$name" -v w="$worker" -v p="${prediction:-0}" -v m="$measured" 'BEGIN {
        mib = 1048576
        error = (p > 0) ? 100 * (p - m) / m : 0
        printf "| %s | %s | %.1f MiB | %.1f MiB | %+.1f%% |\n", n, w, p / mib, m / mib, error }'
done < "$work/peaks"
echo
echo "Plans used for the predictions (layer_end, layer_start per stage): one: $(planned_layers one)| two: $(planned_layers two)| split: $(planned_layers split)"
echo
echo "## (c) weights (2 x 185 MB) over one worker's --memory $small"
echo
echo "| workers | result |"
echo "|---|---|"
echo "| 1 x $small | \`plan\` exit $refuse_status: $(grep -o 'does not fit.*' "$work/refuse.out" | cut -c1-220) |"
split_step=$(awk -F'\t' '$1 == "split" { print $2 }' "$work/steps")
split_placement=$(awk -F'\t' '$1 == "split" { print $6 }' "$work/steps")
echo "| 2 x $small | ran as \`$split_placement\`, median step $split_step s |"
echo
if cmp -s "$work/one.y4m" "$work/two.y4m" && cmp -s "$work/one.y4m" "$work/split.y4m"; then
    echo "Outputs: the three runs wrote identical bytes ($(stat -c %s "$work/one.y4m") bytes)."
else
    echo "Outputs: DIFFER between runs (exactness broken)."
fi
