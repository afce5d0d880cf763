#!/usr/bin/env bash
# Starts a coordinator and N workers on this machine (loopback only, fresh cluster token), or stops exactly the
# processes a previous `start` launched (their pids are in .cluster/pids).
#
#   scripts/local-cluster.sh start N [--model DIR]   # default model: models/demo; N = 1..32
#   scripts/local-cluster.sh stop
#
# With N = 2 and the default model it uses the top-level cluster.yaml (ports 7700-7702); otherwise it writes
# .cluster/cluster.yaml (ports 7700..7700+N). Logs go to .cluster/logs/. Binaries come from the release build
# folder (built if missing) unless SORA_BIN_DIR names another folder.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state=.cluster
pids="$state/pids"

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

stop_cluster() {
    [ -f "$pids" ] || { echo "local-cluster: nothing to stop (no $pids)" >&2; return 0; }
    while read -r pid binary; do
        [ -n "$pid" ] || continue
        # Only a process that is still the one we started: same pid and same executable.
        if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "^$binary "; then
            kill "$pid" 2>/dev/null || true
            for _ in 1 2 3 4 5 6 7 8 9 10; do [ -d "/proc/$pid" ] || break; sleep 0.2; done
            [ -d "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
            echo "local-cluster: stopped $pid ($(basename "$binary"))" >&2
        fi
    done < "$pids"
    rm -f "$pids"
}

case "${1:-}" in
    stop) stop_cluster; exit 0 ;;
    start) shift ;;
    *) usage ;;
esac

count="${1:-}"; shift || true
[[ "$count" =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le 32 ] || { echo "local-cluster: N must be 1..32" >&2; usage; }
model=models/demo
default_model=1
while [ $# -gt 0 ]; do
    case "$1" in
        --model) model="${2:?--model needs a folder}"; default_model=0; shift 2 ;;
        *) echo "local-cluster: unknown option $1" >&2; usage ;;
    esac
done
[ -f "$model/model_index.json" ] || {
    echo "local-cluster: model folder $model not found; pass --model DIR (\`coordinator init-model --preset tiny --out DIR\` makes one)" >&2
    exit 1
}
[ -f "$pids" ] && { echo "local-cluster: a cluster is already running ($pids); run '$0 stop' first" >&2; exit 1; }

bin="${SORA_BIN_DIR:-}"
if [ -z "$bin" ]; then
    bin=$(swift build -c release --show-bin-path)
    [ -x "$bin/coordinator" ] && [ -x "$bin/worker" ] || swift build -c release
fi
model_abs=$(cd "$model" && pwd)
model_root=$(dirname "$model_abs")
model_name=$(basename "$model_abs")

mkdir -p "$state/logs"
rm -f "$state/token"
"$bin/coordinator" init-token --out "$state/token" >/dev/null

if [ "$count" -eq 2 ] && [ "$default_model" -eq 1 ]; then
    # The top-level cluster.yaml names models/demo relative to the workers' model root: this folder.
    config=cluster.yaml
    model_root="$root"
else
    config="$state/cluster.yaml"
    {
        echo "# Written by scripts/local-cluster.sh start $count; paths are relative to this folder."
        echo "coordinator:"
        echo "  listen: 127.0.0.1:7700"
        echo "  state_dir: state"
        echo "token_file: token"
        echo "model: $model_name"
        echo "model_path: $model_abs"
        echo "workers:"
        for ((i = 0; i < count; i++)); do
            echo "  - name: w$i"
            echo "    address: 127.0.0.1:$((7701 + i))"
            echo "    memory: 4GiB"
            echo "    threads: 1"
        done
        echo "scheduler:"
        echo "  window_frames: 21"
        echo "  window_overlap: 5"
        echo "  max_inflight_per_stage: 2"
    } > "$config"
fi

: > "$pids"
for ((i = 0; i < count; i++)); do
    "$bin/worker" --listen "127.0.0.1:$((7701 + i))" --token-file "$state/token" --model-root "$model_root" \
        --threads 1 --name "w$i" > "$state/logs/w$i.log" 2>&1 &
    echo "$! $bin/worker" >> "$pids"
done
"$bin/coordinator" serve --config "$config" --model "$model_abs" > "$state/logs/coordinator.log" 2>&1 &
echo "$! $bin/coordinator" >> "$pids"

for _ in $(seq 1 100); do
    "$bin/coordinator" status --config "$config" >/dev/null 2>&1 && break
    sleep 0.2
done
"$bin/coordinator" status --config "$config" >/dev/null 2>&1 || {
    echo "local-cluster: the coordinator did not come up; see $state/logs/coordinator.log" >&2
    stop_cluster
    exit 1
}
echo "local-cluster: coordinator on 127.0.0.1:7700 and $count worker(s) on 127.0.0.1:7701-$((7700 + count)); logs in $state/logs" >&2
echo "submit a job with:"
echo "  $bin/coordinator submit --config $config --prompt \"a red circle moving right\" --wait --out video.y4m"
echo "stop with:"
echo "  $0 stop"
