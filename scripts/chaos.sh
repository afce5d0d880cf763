#!/usr/bin/env bash
# Chaos run: a coordinator and workers on 127.0.0.1 (each worker reached through a `faultproxy`), one job per
# trial with one random fault injected mid-job (worker SIGKILL + restart, worker SIGSTOP + SIGCONT, coordinator
# SIGKILL + restart, or a proxy that corrupts, cuts, delays or throttles, or forges, replays, reorders or
# drops a whole frame), and every output compared byte for
# byte with single-process `coordinator generate` of the same job.
#
#   scripts/chaos.sh [--trials N] [--seed S] [--workers W] [--steps K] [--keep]
#
# Defaults: 10 trials, seed 1, 3 workers, 12 steps. Prints one line per trial and a summary (trials, faults by
# kind, jobs completed, jobs lost, outputs that differ); exits 1 if a job was lost or an output differs.
# Binaries come from the release build folder (built if missing) unless SORA_BIN_DIR names another folder.
# Work folder: a fresh mktemp -d folder, removed at the end unless --keep. Only the processes this script
# started are ever signalled.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
trials=10; seed=1; workers=3; steps=12; keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --trials) trials="${2:?}"; shift 2 ;;
        --seed) seed="${2:?}"; shift 2 ;;
        --workers) workers="${2:?}"; shift 2 ;;
        --steps) steps="${2:?}"; shift 2 ;;
        --keep) keep=1; shift ;;
        --help|-h) usage ;;
        *) echo "chaos: unknown option $1" >&2; usage ;;
    esac
done
for value in "$trials" "$seed" "$workers" "$steps"; do
    [[ "$value" =~ ^[0-9]+$ ]] || { echo "chaos: expected a number, got '$value'" >&2; usage; }
done
[ "$workers" -ge 2 ] && [ "$workers" -le 8 ] || { echo "chaos: --workers must be 2..8" >&2; exit 2; }
[ "$steps" -ge 4 ] || { echo "chaos: --steps must be at least 4" >&2; exit 2; }

bin="${SORA_BIN_DIR:-}"
if [ -z "$bin" ]; then
    bin=$(swift build -c release --show-bin-path)
    if ! [ -x "$bin/coordinator" ] || ! [ -x "$bin/worker" ] || ! [ -x "$bin/faultproxy" ]; then swift build -c release; fi
fi
for program in coordinator worker faultproxy; do
    [ -x "$bin/$program" ] || { echo "chaos: $bin/$program not found (swift build -c release)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/sora-chaos.XXXXXX)
declare -A pid        # role -> pid of the process we started
cleanup() {
    for role in "${!pid[@]}"; do
        kill -CONT "${pid[$role]}" 2>/dev/null || true
        kill -9 "${pid[$role]}" 2>/dev/null || true
        wait "${pid[$role]}" 2>/dev/null || true
    done
    if [ "$keep" -eq 0 ]; then rm -rf "$work"; else echo "chaos: work folder kept: $work" >&2; fi
}
trap cleanup EXIT
RANDOM=$seed

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# MARK: - Cluster

"$bin/coordinator" init-model --preset tiny --out "$work/models/tiny" >/dev/null
"$bin/coordinator" init-token --out "$work/token" >/dev/null
coordinator_port=$(free_port)
declare -A worker_port proxy_port
{
    echo "coordinator:"
    echo "  listen: 127.0.0.1:$coordinator_port"
    echo "  state_dir: state"
    echo "token_file: token"
    echo "model: models/tiny"
    echo "workers:"
    for ((i = 0; i < workers; i++)); do
        worker_port[$i]=$(free_port); proxy_port[$i]=$(free_port)
        echo "  - name: w$i"
        echo "    address: 127.0.0.1:${proxy_port[$i]}"
        echo "    memory: 1GiB"
        echo "    threads: 1"
    done
    echo "scheduler:"
    echo "  window_frames: 3"
    echo "  window_overlap: 1"
    echo "  max_inflight_per_stage: 2"
} > "$work/cluster.yaml"
mkdir -p "$work/logs"

start_worker() {
    "$bin/worker" --listen "127.0.0.1:${worker_port[$1]}" --token-file "$work/token" --model-root "$work" \
        --threads 1 --name "w$1" >> "$work/logs/w$1.log" 2>&1 &
    pid[w$1]=$!
}
start_proxy() {  # worker index, fault options...
    local index=$1; shift
    "$bin/faultproxy" --listen "127.0.0.1:${proxy_port[$index]}" --target "127.0.0.1:${worker_port[$index]}" "$@" \
        >> "$work/logs/proxy-w$index.log" 2>&1 &
    pid[p$index]=$!
    sleep 0.2
}
stop_role() { kill -9 "${pid[$1]}" 2>/dev/null || true; wait "${pid[$1]}" 2>/dev/null || true; unset "pid[$1]"; }
start_coordinator() {
    "$bin/coordinator" serve --config "$work/cluster.yaml" --threads 1 >> "$work/logs/coordinator.log" 2>&1 &
    pid[c]=$!
    for _ in $(seq 1 150); do client status >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "chaos: the coordinator did not come up; see $work/logs/coordinator.log" >&2
    exit 1
}
client() { local command=$1; shift; timeout 60 "$bin/coordinator" "$command" --config "$work/cluster.yaml" "$@"; }
steps_done() { client status "$1" --json 2>/dev/null | grep -o '"steps_done":[0-9]*' | cut -d: -f2 || true; }

for ((i = 0; i < workers; i++)); do start_worker "$i"; start_proxy "$i"; done
start_coordinator

job_arguments() {  # seed -> the array `args`
    args=(--prompt "a red fox in the snow" --negative-prompt blurry --width 64 --height 48 --frames 17
          --steps "$steps" --guidance 5 --seed "$1" --max-sequence-length 16 --window-frames 3 --window-overlap 1)
}
reference() {  # seed -> path of the fault-free single-process output
    local path="$work/reference-$1.y4m"
    if [ ! -f "$path" ]; then
        job_arguments "$1"
        (cd "$work" && "$bin/coordinator" generate --model models/tiny --threads 1 --quiet --out "$path" "${args[@]}" >> "$work/logs/generate.log" 2>&1)
    fi
    echo "$path"
}

# MARK: - Trials

kinds=(worker-kill worker-stop coordinator-restart proxy-corrupt proxy-cut proxy-delay proxy-throttle proxy-frame)
declare -A injected
completed=0; lost=0; differ=0
for ((trial = 1; trial <= trials; trial++)); do
    job_seed=$((1 + RANDOM % 3))
    kind=${kinds[$((RANDOM % ${#kinds[@]}))]}
    victim=$((RANDOM % workers))
    at_step=$((1 + RANDOM % (steps - 3)))
    expected=$(reference "$job_seed")
    job_arguments "$job_seed"
    job=$(client submit "${args[@]}" | tr -d '[:space:]')
    started=$(date +%s.%N)
    for _ in $(seq 1 600); do
        [ "$(steps_done "$job")" -ge "$at_step" ] 2>/dev/null && break
        sleep 0.05
    done
    detail=""
    case "$kind" in
        worker-kill)
            stop_role "w$victim"; sleep $((1 + RANDOM % 3)); start_worker "$victim"; detail="w$victim" ;;
        worker-stop)
            kill -STOP "${pid[w$victim]}"; sleep $((6 + RANDOM % 3)); kill -CONT "${pid[w$victim]}"; detail="w$victim" ;;
        coordinator-restart)
            stop_role c; start_coordinator ;;
        proxy-corrupt)
            offset=$((RANDOM * 4)); stop_role "p$victim"
            start_proxy "$victim" --corrupt-after-bytes "$offset" --faulty-connections 1 --direction both
            detail="w$victim byte $offset" ;;
        proxy-frame)
            # A frame forged (every checksum recomputed), replayed, reordered or dropped: only the frame MAC
            # catches it; the connection closes and the step is redone.
            frame_faults=(forge replay reorder drop)
            fault=${frame_faults[$((RANDOM % 4))]}; stop_role "p$victim"
            start_proxy "$victim" --frame-fault "$fault" --frame-kinds 259,260 --faulty-connections 1 --direction both
            detail="w$victim $fault" ;;
        proxy-cut)
            offset=$((RANDOM * 4)); stop_role "p$victim"
            start_proxy "$victim" --cut-after-bytes "$offset" --faulty-connections 1 --direction both
            detail="w$victim after $offset B" ;;
        proxy-delay)
            delay=$((5 + RANDOM % 50)); stop_role "p$victim"; start_proxy "$victim" --delay-ms "$delay"
            detail="w$victim ${delay} ms" ;;
        proxy-throttle)
            rate=$((50000 + RANDOM * 10)); stop_role "p$victim"; start_proxy "$victim" --throttle-bytes-per-second "$rate"
            detail="w$victim ${rate} B/s" ;;
    esac
    injected[$kind]=$(( ${injected[$kind]:-0} + 1 ))
    out="$work/trial-$trial.y4m"
    if client wait "$job" --quiet --out "$out" >/dev/null 2>&1 || client wait "$job" --quiet --out "$out" >/dev/null 2>&1; then
        completed=$((completed + 1))
        if cmp -s "$out" "$expected"; then verdict="identical"; else verdict="DIFFERS"; differ=$((differ + 1)); fi
    else
        lost=$((lost + 1)); verdict="LOST"
    fi
    # Proxies go back to clean forwarding for the next trial.
    case "$kind" in proxy-*) stop_role "p$victim"; start_proxy "$victim" ;; esac
    seconds=$(awk -v a="$(date +%s.%N)" -v b="$started" 'BEGIN { print a - b }')
    redone=$(client status "$job" --json 2>/dev/null | grep -o '"steps_redone":[0-9]*' | cut -d: -f2 || true)
    printf 'trial %3d: %-8s seed %d, %-19s at step %2d %-22s %s, steps redone %s, %.1f s\n' \
        "$trial" "$job" "$job_seed" "$kind" "$at_step" "$detail" "$verdict" "${redone:-?}" "$seconds"
done

echo "summary: seed $seed, $trials trials, $workers workers, $steps steps per job"
for kind in "${kinds[@]}"; do echo "  faults $kind: ${injected[$kind]:-0}"; done
echo "  jobs completed: $completed, jobs lost: $lost, outputs that differ: $differ"
[ "$lost" -eq 0 ] && [ "$differ" -eq 0 ]
