#!/usr/bin/env bash
# Torrents in the mount against btfs, on the same torrent from the same
# local libtorrent seed, in one run; each figure beside btfs's and its
# target.
#
#   benches/torrent.sh [SIZE_MIB=1024]
#
# LBRYMOUNT_BIN=path measures that binary (default target/release/lbrymount,
# built with `cargo build --release` if absent). NCOLD (default 3) fresh
# mounts of each for the first byte and the cold sequential read, one more
# each for the random reads. Needs root (the run has a network namespace of
# its own, with only its loopback: btfs's DHT and trackers cannot reach
# anything), btfs, Debian's python3-libtorrent, fusermount3 and unshare
# (apt-get install btfs python3-libtorrent fuse3 util-linux iproute2).
#
# The seed (benches/lib/lt_bench_seed.py) makes a v1 torrent of one file of
# SIZE_MIB random MiB and seeds it on 127.0.0.1. Each mount is fresh (an
# empty data dir, a new FUSE superblock) and the two take turns:
#   - lbrymount: `lbrymount MNT --no-bt-dht`, then `lbrymount add
#     big.torrent --peer SEED`, which opens the torrent from the file's
#     metadata (as btfs is given the file) and prints its path;
#   - btfs: `btfs -f big.torrent MNT` on a port of its own, which the seed
#     is told to connect to (btfs takes no peer address), once the seed sees
#     it as a peer.
# On each: the first byte (open + 1-byte read, timed in one python process),
# then at once the cold sequential read of the whole file (1 MiB reads), with
# the mount process's CPU time per GiB (utime + stime from /proc/PID/stat)
# and its peak RSS (VmHWM); the bytes are compared with the original on the
# last round. Then 200 random 4 KiB preads on one more fresh mount each
# (bytes checked). Only processes started here are stopped, by PID; mounts
# made here are unmounted and the temp dir removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: the benchmark needs a network namespace of its own" >&2; exit 1; }
if [ -z "${LBRYMOUNT_BENCH_NETNS:-}" ]; then
    exec unshare --net env LBRYMOUNT_BENCH_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
size_mib=${1:-1024}
ncold=${NCOLD:-3}
nreads=200

missing=()
for c in btfs python3 ip; do command -v "$c" >/dev/null || missing+=("$c"); done
command -v fusermount3 >/dev/null || missing+=(fusermount3)
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || missing+=(python3-libtorrent)
# shellcheck source=benches/lib/prelude.sh
. benches/lib/prelude.sh
require "apt-get install btfs python3-libtorrent fuse3 iproute2"
release_bin
size_b=$((size_mib << 20))
load=$(cut -d' ' -f1-3 /proc/loadavg)

work=$(mktemp -d "${TMPDIR:-/var/tmp}/lbrymount-torrent-bench.XXXXXX")
# shellcheck source=benches/lib/mount_env.sh
. benches/lib/mount_env.sh
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the seed ---------------------------------------------------------------
mkdir -p "$work/seed"
coproc SEED { exec /usr/bin/python3 benches/lib/lt_bench_seed.py "$work/seed" "$size_mib"; }
pids+=("$SEED_PID")
read -r -t 600 hello <&"${SEED[0]}" || { echo "the seed did not start" >&2; exit 1; }
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
[ "$(field "$hello" seeding)" = True ] || { echo "the seed is not seeding: $hello" >&2; exit 1; }
seed_port=$(field "$hello" port)
torrent=$(field "$hello" torrent)
ih=$(field "$hello" info_hash)
file=$(field "$hello" file)
piece_kib=$(($(field "$hello" piece_length) / 1024))
seed_ask() {
    echo "$1" >&"${SEED[1]}"
    read -r -t 30 reply <&"${SEED[0]}"
    echo "$reply"
}
seed_peers() { [ "$(field "$(seed_ask peers)" peers)" -ge 1 ]; }
cat "$file" >/dev/null

# start_bt KIND: a fresh lbrymount or btfs mount of the torrent; sets mnt,
# mnt_pid, mnt_log and path (the file in the mount).
n_mount=0
start_bt() {
    n_mount=$((n_mount + 1))
    mnt=$work/mnt-$n_mount mnt_log=$work/mount-$n_mount.log
    local data=$work/data-$n_mount port
    mkdir -p "$mnt"
    mounts+=("$mnt")
    case $1 in
    lbrymount)
        "$bin" "${iso[@]}" --data-dir "$data" "$mnt" --no-dht --no-share --listen 127.0.0.1:0 \
            --no-bt-dht 2>"$mnt_log" &
        mnt_pid=$!
        pids+=("$mnt_pid")
        wait_for "lbrymount mount" "$mnt_pid" grep -qs 'mounted at' "$mnt_log" || { cat "$mnt_log" >&2; exit 1; }
        path=$("$bin" --data-dir "$data" add "$torrent" --peer "127.0.0.1:$seed_port")
        ;;
    btfs)
        port=$(free_port)
        btfs -f --data-directory="$data" --min-port="$port" --max-port="$port" "$torrent" "$mnt" \
            >"$mnt_log" 2>&1 &
        mnt_pid=$!
        pids+=("$mnt_pid")
        wait_for "btfs" "$mnt_pid" mountpoint -q "$mnt" || { cat "$mnt_log" >&2; exit 1; }
        path=$mnt/big.bin
        wait_for "btfs" "$mnt_pid" test -e "$path"
        seed_ask "connect $port" >/dev/null
        wait_for "btfs's connection" "$mnt_pid" seed_peers
        ;;
    esac
}
stop_bt() {
    stop "$mnt_pid"
    forget "$mnt_pid"
    unmount "$mnt"
    rmdir "$mnt" 2>/dev/null || true
    rm -rf "$work/data-$n_mount"
}

declare -A R
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
median() { tr ' ' '\n' <<<"$1" | sort -g | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); print (NR % 2) ? v[m] : (v[m] + v[m + 1]) / 2 }'; }

# --- first byte and cold sequential read ------------------------------------
for run in $(seq "$ncold"); do
    for k in lbrymount btfs; do
        start_bt "$k"
        R[$k.ttfb_all]+="${R[$k.ttfb_all]:+ }$(io ttfb "$path" "$file")"
        t0=$(ticks "$mnt_pid")
        read -r secs bytes < <(io seq "$path")
        t1=$(ticks "$mnt_pid")
        [ "$bytes" = "$size_b" ] || { echo "$k: cold read gave $bytes bytes" >&2; exit 1; }
        if [ "$run" = "$ncold" ]; then
            cmp "$file" "$path" || { echo "$k: the bytes read differ from the original" >&2; exit 1; }
        fi
        hwm=$(hwm_kib "$mnt_pid")
        [ "$hwm" -gt "${R[$k.hwm]:-0}" ] && R[$k.hwm]=$hwm
        R[$k.cold_all]+="${R[$k.cold_all]:+ }$secs"
        if [ -z "${R[$k.cold_s]:-}" ] || lt "$secs" "${R[$k.cold_s]}"; then
            R[$k.cold_s]=$secs
            R[$k.cpugb]=$(awk -v d="$((t1 - t0))" -v hz="$hz" -v b="$bytes" 'BEGIN { printf "%.2f", d / hz / (b / 2^30) }')
        fi
        stop_bt
    done
done

# --- random 4 KiB reads on a cold mount -------------------------------------
for k in lbrymount btfs; do
    start_bt "$k"
    R[$k.rand]=$(io rand "$path" "$nreads" 42 "$file")
    stop_bt
done

# --- the table --------------------------------------------------------------
mbs() { awk -v s="$1" -v b="$size_b" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }
for k in lbrymount btfs; do
    R[$k.ttfb]=$(median "${R[$k.ttfb_all]}")
    R[$k.mbs]=$(mbs "${R[$k.cold_s]}")
    read -r R[$k.rmed] R[$k.rp90] _ _ <<<"${R[$k.rand]}"
done
echo "torrent: one file of $size_mib MiB, $piece_kib KiB pieces, one libtorrent seed on 127.0.0.1; $ncold fresh mounts each; load before: $load"
printf '%-34s %14s %14s %10s   %s\n' "" lbrymount btfs ratio target
printf '%-34s %14s %14s %10s   %s\n' "cold sequential read (MB/s, best)" "${R[lbrymount.mbs]}" "${R[btfs.mbs]}" \
    "$(ratio "${R[lbrymount.mbs]}" "${R[btfs.mbs]}")" ">= 10x btfs and >= 300 MB/s"
printf '%-34s %14s %14s %10s   %s\n' "first byte (ms, median)" "${R[lbrymount.ttfb]}" "${R[btfs.ttfb]}" \
    "$(ratio "${R[btfs.ttfb]}" "${R[lbrymount.ttfb]}")" "< 50 ms"
printf '%-34s %14s %14s %10s   %s\n' "random 4 KiB, cold (ms, median)" "${R[lbrymount.rmed]}" "${R[btfs.rmed]}" \
    "$(ratio "${R[btfs.rmed]}" "${R[lbrymount.rmed]}")" ""
printf '%-34s %14s %14s %10s   %s\n' "random 4 KiB, cold (ms, p90)" "${R[lbrymount.rp90]}" "${R[btfs.rp90]}" \
    "$(ratio "${R[btfs.rp90]}" "${R[lbrymount.rp90]}")" ""
printf '%-34s %14s %14s %10s   %s\n' "peak RSS (MiB)" "$((R[lbrymount.hwm] / 1024))" "$((R[btfs.hwm] / 1024))" \
    "$(ratio "${R[btfs.hwm]}" "${R[lbrymount.hwm]}")" "< 100 MiB"
printf '%-34s %14s %14s\n' "CPU-s per GiB read (best run)" "${R[lbrymount.cpugb]}" "${R[btfs.cpugb]}"
echo "all cold reads (s): lbrymount ${R[lbrymount.cold_all]}; btfs ${R[btfs.cold_all]}"
echo "all first bytes (ms): lbrymount ${R[lbrymount.ttfb_all]}; btfs ${R[btfs.ttfb_all]}"
echo "ratios: lbrymount's figure over btfs's for speed, btfs's over lbrymount's for time and memory (higher is better)"
