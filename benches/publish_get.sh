#!/usr/bin/env bash
# Measures `publish` and `get --offline` of one file against `sha384sum` and
# `cp` of the same file, in the same run, and prints times and ratios.
#
#   benches/publish_get.sh [SIZE_MIB=1024] [RUNS=3]
#
# Every command reads its input from the page cache (the file is read once
# first), starts after a `sync`, and each figure is the best of RUNS runs. `get` syncs its output
# before renaming it into place; `cp` does not, so `cp` is timed with a
# `sync` of the copy too, to compare like with like.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
runs=${2:-3}

cargo build --release --quiet
bin=$PWD/target/release/lbrymount
work=$(mktemp -d "${TMPDIR:-/var/tmp}/lbrymount-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

head -c "$((size_mib << 20))" /dev/urandom >"$work/input"
cat "$work/input" >/dev/null

# best_of CMD...: prints the fastest wall time in seconds over $runs runs
# (RUN holds the run number during each; PREP, if set, runs untimed before each).
best_of() {
    local best=""
    for i in $(seq "$runs"); do
        local s e t
        # Start each run alike: the caller's PREP (untimed), then no writeback
        # left over from the previous run.
        "${PREP:-true}"
        sync
        s=$(date +%s.%N)
        RUN=$i "$@" >/dev/null
        e=$(date +%s.%N)
        t=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }')
        [ -n "${BENCH_VERBOSE:-}" ] && echo "  $1 run $i: $t s" >&2
        if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
    done
    echo "$best"
}

# Each run publishes into a fresh data dir.
publish_once() { "$bin" --data-dir "$work/data.$RUN" publish "$work/input"; }
cp_sync() { cp "$work/input" "$work/copy" && sync "$work/copy"; }

t_sha=$(best_of sha384sum "$work/input")
t_cp=$(best_of cp_sync)
# Earlier runs' stores are removed before each run, so every publish starts
# with the same amount of page cache in use.
drop_stores() { rm -rf "$work"/data.*; }
t_pub=$(PREP=drop_stores best_of publish_once)
sd=$("$bin" --data-dir "$work/data.$runs" ls | awk 'NR==1 { print $1 }')
t_get=$(best_of "$bin" --data-dir "$work/data.$runs" get "$sd" --offline -o "$work/output")
cmp "$work/input" "$work/output"

rate() { awk -v t="$1" -v m="$size_mib" 'BEGIN { printf "%7.0f MiB/s", m / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "file: $size_mib MiB, best of $runs runs, $(nproc) cores"
printf "sha384sum          %6.2f s  %s\n" "$t_sha" "$(rate "$t_sha")"
printf "cp + sync          %6.2f s  %s\n" "$t_cp" "$(rate "$t_cp")"
printf "publish            %6.2f s  %s  = %s x sha384sum\n" "$t_pub" "$(rate "$t_pub")" "$(ratio "$t_pub" "$t_sha")"
printf "get --offline      %6.2f s  %s  = %s x sha384sum, %s x cp+sync\n" "$t_get" "$(rate "$t_get")" "$(ratio "$t_get" "$t_sha")" "$(ratio "$t_get" "$t_cp")"
