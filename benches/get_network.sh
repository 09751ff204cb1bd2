#!/usr/bin/env bash
# Measures `get` of one stream from `serve` nodes on loopback, with one peer
# and with three, against `sha384sum` of the same file in the same run, and
# prints times, throughputs, ratios, CPU use and peak memory of `get`.
#
#   benches/get_network.sh [SIZE_MIB=1024] [RUNS=3]
#
# LBRYMOUNT_BIN=path measures that binary instead of building the release one.
#
# The file is published into one data dir whose `blobfiles/` is copied into
# each node's own data dir (outside the timed part). Every `get` starts from
# a fresh, empty data dir, so each blob crosses the network, is verified,
# stored (fsynced) and decrypted into the output, which is compared with the
# input. Each figure is the best of RUNS runs; CPU% and max RSS are those of
# the fastest run. The nodes listen on port 0 and are found through their
# `listening on` log line; only the nodes started here are stopped, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
runs=${2:-3}
nodes=3

command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
bin=${LBRYMOUNT_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet
    bin=$PWD/target/release/lbrymount
fi
work=$(mktemp -d "${TMPDIR:-/var/tmp}/lbrymount-bench.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

head -c "$((size_mib << 20))" /dev/urandom >"$work/input"
"$bin" --data-dir "$work/pub" publish "$work/input" >/dev/null
sd=$("$bin" --data-dir "$work/pub" ls | awk 'NR==1 { print $1 }')
cat "$work/input" >/dev/null

# Starts serve node $1 on a port the OS picks and prints its address.
start_node() {
    local dir=$work/node$1 log=$work/node$1.log addr=""
    mkdir -p "$dir"
    cp -r "$work/pub/blobfiles" "$dir/"
    "$bin" --data-dir "$dir" serve --listen 127.0.0.1:0 2>"$log" &
    pids+=("$!")
    for _ in $(seq 1000); do
        addr=$(grep -o 'listening on [0-9.]*:[0-9]*' "$log" | awk '{ print $3 }') || true
        [ -n "$addr" ] && break
        kill -0 "${pids[-1]}" 2>/dev/null || { cat "$log" >&2; echo "node $1 died" >&2; exit 1; }
        sleep 0.01
    done
    [ -n "$addr" ] || { echo "node $1 did not start listening" >&2; exit 1; }
    echo "$addr"
}
peers=()
for n in $(seq "$nodes"); do
    start_node "$n" >"$work/addr$n"
    peers+=("$(cat "$work/addr$n")")
done

# Let the copies reach the disk now, not during the timed runs.
sync

# best_of PREP CMD...: runs PREP (untimed) then the program CMD, $runs times; prints the
# fastest wall time in seconds, and the CPU% and max RSS (KiB) of that run.
best_of() {
    local prep=$1 best="" usage=""
    shift
    for _ in $(seq "$runs"); do
        "$prep"
        local s e t
        s=$(date +%s.%N)
        /usr/bin/time -o "$work/usage" -f '%P %M' "$@" >/dev/null
        e=$(date +%s.%N)
        t=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }')
        if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then
            best=$t
            usage=$(tail -n 1 "$work/usage")
        fi
    done
    echo "$best $usage"
}

fresh() { rm -rf "$work/get" "$work/output" && sync; }
get=("$bin" --data-dir "$work/get" get "$sd" -o "$work/output")

r=$(best_of : sha384sum "$work/input")
read -r t_sha _ _ <<<"$r"
r=$(best_of fresh "${get[@]}" --peer "${peers[0]}")
read -r t_1 cpu_1 rss_1 <<<"$r"
cmp "$work/input" "$work/output"
r=$(best_of fresh "${get[@]}" --peer "${peers[0]}" --peer "${peers[1]}" --peer "${peers[2]}")
read -r t_3 cpu_3 rss_3 <<<"$r"
cmp "$work/input" "$work/output"

rate() { awk -v t="$1" -v m="$size_mib" 'BEGIN { printf "%7.0f MiB/s", m / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
echo "file: $size_mib MiB, best of $runs runs, $(nproc) cores, peers on 127.0.0.1"
printf "sha384sum          %6.2f s  %s\n" "$t_sha" "$(rate "$t_sha")"
printf "get, 1 peer        %6.2f s  %s  = %s x sha384sum throughput  cpu %5s  max rss %s\n" \
    "$t_1" "$(rate "$t_1")" "$(ratio "$t_sha" "$t_1")" "$cpu_1" "$(mib "$rss_1")"
printf "get, 3 peers       %6.2f s  %s  = %s x sha384sum throughput  cpu %5s  max rss %s\n" \
    "$t_3" "$(rate "$t_3")" "$(ratio "$t_sha" "$t_3")" "$cpu_3" "$(mib "$rss_3")"
