#!/usr/bin/env bash
# Multi-host variant of the fault tests: the coordinator and every worker in a network namespace of their own,
# joined by veth pairs to a bridge in the coordinator's namespace (10.77.0.1/24; worker i is 10.77.0.(10+i)), so
# traffic between them crosses real (virtual) links. Each round submits a job, waits for a step, takes the link of
# a worker of the job's placement down (round r: the r-th worker of the placement, cycling; a partition: packets
# vanish, no reset), brings it up again after a while, and checks that the job ends with the bytes of
# single-process `coordinator generate` and that the worker is admitted again afterwards.
#
#   scripts/netns-cluster.sh [--workers W] [--steps K] [--rounds R] [--down-seconds S] [--keep]
#
# Defaults: 3 workers, 200 steps, 3 rounds, links down for 8 s (longer than the 5 s dead-peer time). Needs root
# (CAP_NET_ADMIN) and iproute2; exits 77 with a message when network namespaces are unavailable, 1 when a job
# is lost or an output differs. Binaries come from the release build folder (built if missing) unless
# SORA_BIN_DIR names another folder. Namespace names carry this run's id and are always deleted at the end (with
# the veth pairs in them), as is the work folder unless --keep. Only processes this script started are signalled.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
workers=3; steps=200; rounds=3; down_seconds=8; keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --workers) workers="${2:?}"; shift 2 ;;
        --steps) steps="${2:?}"; shift 2 ;;
        --rounds) rounds="${2:?}"; shift 2 ;;
        --down-seconds) down_seconds="${2:?}"; shift 2 ;;
        --keep) keep=1; shift ;;
        --help|-h) usage ;;
        *) echo "netns: unknown option $1" >&2; usage ;;
    esac
done
for value in "$workers" "$steps" "$rounds" "$down_seconds"; do
    [[ "$value" =~ ^[0-9]+$ ]] || { echo "netns: expected a number, got '$value'" >&2; usage; }
done
[ "$workers" -ge 2 ] && [ "$workers" -le 8 ] || { echo "netns: --workers must be 2..8" >&2; exit 2; }
[ "$steps" -ge 10 ] || { echo "netns: --steps must be at least 10" >&2; exit 2; }

# MARK: - Can we?

skip() { echo "netns: skipped: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root (CAP_NET_ADMIN); this is uid $(id -u)"
command -v ip >/dev/null || skip "the 'ip' tool (iproute2) is not installed"
run_id="sora$$x$((RANDOM % 1000))"
ip netns add "${run_id}probe" 2>/dev/null || skip "'ip netns add' is not permitted here"
ip netns del "${run_id}probe"

bin="${SORA_BIN_DIR:-}"
if [ -z "$bin" ]; then
    bin=$(swift build -c release --show-bin-path)
    if ! [ -x "$bin/coordinator" ] || ! [ -x "$bin/worker" ]; then swift build -c release; fi
fi
for program in coordinator worker; do
    [ -x "$bin/$program" ] || { echo "netns: $bin/$program not found (swift build -c release)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/sora-netns.XXXXXX)
hub="${run_id}hub"
namespaces=()
declare -A pid
cleanup() {
    for role in "${!pid[@]}"; do
        kill -9 "${pid[$role]}" 2>/dev/null || true
        wait "${pid[$role]}" 2>/dev/null || true
    done
    for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    if [ "$keep" -eq 0 ]; then rm -rf "$work"; else echo "netns: work folder kept: $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# MARK: - Network

ip netns add "$hub"; namespaces+=("$hub")
ip -n "$hub" link set lo up
ip -n "$hub" link add name br0 type bridge
ip -n "$hub" addr add 10.77.0.1/24 dev br0
ip -n "$hub" link set br0 up
declare -A worker_ns worker_ip
for ((i = 0; i < workers; i++)); do
    ns="${run_id}w$i"; worker_ns[$i]=$ns; worker_ip[$i]="10.77.0.$((10 + i))"
    ip netns add "$ns"; namespaces+=("$ns")
    ip -n "$ns" link set lo up
    ip -n "$hub" link add name "hw$i" type veth peer name eth0 netns "$ns"
    ip -n "$hub" link set "hw$i" master br0
    ip -n "$hub" link set "hw$i" up
    ip -n "$ns" addr add "${worker_ip[$i]}/24" dev eth0
    ip -n "$ns" link set eth0 up
done
echo "netns: coordinator in $hub at 10.77.0.1; workers: $(for ((i = 0; i < workers; i++)); do printf 'w%d in %s at %s  ' "$i" "${worker_ns[$i]}" "${worker_ip[$i]}"; done)"

# MARK: - Cluster

"$bin/coordinator" init-model --preset tiny --out "$work/models/tiny" >/dev/null 2>&1
"$bin/coordinator" init-token --out "$work/token" >/dev/null
{
    echo "coordinator:"
    echo "  listen: 10.77.0.1:7700"
    echo "  state_dir: state"
    echo "token_file: token"
    echo "model: models/tiny"
    echo "workers:"
    for ((i = 0; i < workers; i++)); do
        echo "  - name: w$i"
        echo "    address: ${worker_ip[$i]}:7800"
        echo "    memory: 1GiB"
        echo "    threads: 1"
    done
    echo "scheduler:"
    echo "  window_frames: 3"
    echo "  window_overlap: 1"
    echo "  max_inflight_per_stage: 2"
} > "$work/cluster.yaml"
mkdir -p "$work/logs"

for ((i = 0; i < workers; i++)); do
    ip netns exec "${worker_ns[$i]}" "$bin/worker" --listen "${worker_ip[$i]}:7800" --token-file "$work/token" \
        --model-root "$work" --threads 1 --name "w$i" >> "$work/logs/w$i.log" 2>&1 &
    pid[w$i]=$!
done
ip netns exec "$hub" "$bin/coordinator" serve --config "$work/cluster.yaml" --threads 1 >> "$work/logs/coordinator.log" 2>&1 &
pid[c]=$!
client() { local command=$1; shift; timeout 120 ip netns exec "$hub" "$bin/coordinator" "$command" --config "$work/cluster.yaml" "$@"; }
for _ in $(seq 1 150); do client status >/dev/null 2>&1 && break; sleep 0.2; done
for _ in $(seq 1 150); do
    [ "$(grep -c 'worker w[0-9]* connected' "$work/logs/coordinator.log" || true)" -ge "$workers" ] && break
    sleep 0.2
done
json_field() {  # status JSON, field -> the field's value (lists as compact JSON), empty when absent
    python3 -c 'import json, sys
try:
    value = json.loads(sys.argv[1]).get(sys.argv[2], "")
except ValueError:
    value = ""
print(json.dumps(value, separators=(",", ":")) if isinstance(value, list) else value)' "$1" "$2"
}

args=(--prompt "a red fox in the snow" --negative-prompt blurry --width 64 --height 48 --frames 17
      --steps "$steps" --guidance 5 --seed 7 --max-sequence-length 16 --window-frames 3 --window-overlap 1)
(cd "$work" && "$bin/coordinator" generate --model models/tiny --threads 1 --quiet --out reference.y4m "${args[@]}" \
    >> "$work/logs/generate.log" 2>&1)

# MARK: - Rounds

completed=0; lost=0; differ=0
for ((round = 1; round <= rounds; round++)); do
    job=$(client submit "${args[@]}" | tr -d '[:space:]')
    status=""
    for _ in $(seq 1 600); do
        status=$(client status "$job" --json 2>/dev/null || true)
        [ "$(json_field "$status" steps_done)" -ge 3 ] 2>/dev/null && break
        sleep 0.05
    done
    placement=$(json_field "$status" placement)
    # Round r cuts the r-th worker of the placement (cycling): a first stage (its link carries the coordinator's
    # inputs and its activations to the next stage), a last stage (results back to the coordinator), a replica.
    mapfile -t placed < <(grep -o 'w[0-9]*\[' <<< "$placement" | tr -d '[')
    victim=${placed[$(( (round - 1) % ${#placed[@]} ))]:-}
    [ -n "$victim" ] || { echo "netns: round $round: no placement in status: $status" >&2; exit 1; }
    index=${victim#w}
    at_step=$(json_field "$status" steps_done)
    losses_before=$(grep -c "worker $victim lost" "$work/logs/coordinator.log" || true)
    connects_before=$(grep -c "worker $victim connected" "$work/logs/coordinator.log" || true)
    down_at=$(date +%s.%N)
    ip -n "$hub" link set "hw$index" down
    detected="not detected"
    deadline=$(( $(date +%s) + down_seconds ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if [ "$detected" = "not detected" ] && \
           [ "$(grep -c "worker $victim lost" "$work/logs/coordinator.log" || true)" -gt "$losses_before" ]; then
            detected=$(awk -v now="$(date +%s.%N)" -v start="$down_at" 'BEGIN { printf "%.2f s", now - start }')
        fi
        sleep 0.05
    done
    ip -n "$hub" link set "hw$index" up
    if ! client wait "$job" --quiet --out "$work/round-$round.y4m" >> "$work/logs/client.log" 2>&1; then
        lost=$((lost + 1)); verdict="LOST (see $work/logs)"; keep=1
    elif cmp -s "$work/round-$round.y4m" "$work/reference.y4m"; then
        completed=$((completed + 1)); verdict="output identical"
    else
        completed=$((completed + 1)); differ=$((differ + 1)); verdict="OUTPUT DIFFERS"; keep=1
    fi
    final=$(client status "$job" --json 2>/dev/null || true)
    redone=$(json_field "$final" steps_redone)
    # The partitioned worker comes back as a fresh worker (it dropped the job when the coordinator went silent).
    readmitted="no"
    for _ in $(seq 1 300); do
        if [ "$(grep -c "worker $victim connected" "$work/logs/coordinator.log" || true)" -gt "$connects_before" ]; then
            readmitted="yes"; break
        fi
        sleep 0.1
    done
    echo "round $round: $job, $victim (placement $placement) cut at step $at_step for $down_seconds s;" \
         "declared lost after $detected; steps redone ${redone:-?}; re-admitted: $readmitted; $verdict"
    [ "$readmitted" = "yes" ] || { echo "netns: $victim was not connected again after its link came back" >&2; lost=$((lost + 1)); }
done
echo "summary: $rounds rounds, $workers workers in their own namespaces, $steps steps per job, links down $down_seconds s"
echo "  jobs completed: $completed, jobs lost: $lost, outputs that differ: $differ"
[ "$lost" -eq 0 ] && [ "$differ" -eq 0 ]
