#!/usr/bin/env bash
# Measures reads through the mount against `rclone mount` of the same file
# served by nginx, and against `sha384sum` of it, all in the same run on
# 127.0.0.1, and prints each figure as a ratio against its reference from the
# same run, beside its target.
#
#   benches/mount.sh [SIZE_MIB=1024]
#
# LBRYMOUNT_BIN=path measures that binary (default target/release/lbrymount,
# built with `cargo build --release` if absent). NCOLD (default 3) fresh
# mounts per cold sequential figure, NTTFB (default 5) fresh mounts for the
# first byte, NREADERS (default 100) concurrent readers of MANY_MIB (default
# 16) MiB each. Needs python3, rclone and nginx (apt-get install rclone
# nginx), /dev/fuse and fusermount3 (fuse3); root to drop the page cache.
#
# lbrymount: node A publishes a file of SIZE_MIB random MiB and serves it
# (`serve --no-dht`); nodes P2 and P3 hold copies of A's blobs and serve them
# too. A mount has A as its only `--peer` (one peer) or A, P2 and P3 (three
# peers), so every blob it reads crosses the loopback, is verified, cached
# and decrypted. Before any measurement one untimed `get` through each node
# makes it hash-check each blob once (a node checks a blob the first time it
# serves it): on a real network the seeder is another machine, here it would
# take a core from the mount, and nginx serves rclone without any such check.
# rclone: nginx serves the same file, `rclone mount :http: --vfs-cache-mode
# full` reads it. No process contacts anything beyond 127.0.0.1.
#
# Each cold figure is taken on fresh mounts (an empty data dir / rclone cache
# dir, and a new FUSE superblock, so nothing is in the mount's page cache);
# the two systems' mounts take turns, so that both see the same machine:
#   1. lookup (`stat` of the file) then time to the first byte (open + read
#      1 B), on NTTFB fresh mounts each; then the first byte with nothing
#      before it (the open's path lookups included), on NTTFB more; medians
#      compared;
#   2. cold sequential read of the whole file (1 MiB reads) on NCOLD fresh
#      mounts each (lbrymount with one peer and with three), with the mount
#      process's CPU time (utime + stime from /proc/PID/stat) per GiB read and
#      its peak RSS (VmHWM) after one streaming reader; the fastest time and
#      the least CPU are compared, all times listed. On the last one-peer
#      mount: a warm re-read, `cmp` with the original, 200 random 4 KiB preads
#      (warm); then the mount is stopped, the page cache dropped (root only;
#      the servers' files are read back in), the same data / cache dir mounted
#      again and read whole: the re-read from the disk cache, with the bytes
#      the server sent meanwhile (should be ~0);
#   3. 200 random 4 KiB preads on a cold mount (the bytes are checked);
#   4. NREADERS threads, each with its own open file, reading MANY_MIB
#      sequentially from offsets spread over the file, all at once through
#      one cold mount (bytes checked): the mount process's peak RSS.
# Otherwise page caches are not dropped: the source file, the nodes' blobs
# and nginx's file are in the page cache for both systems alike. Both mounts
# write what they fetch to their cache dir (lbrymount with O_DIRECT, rclone
# through the page cache); the time to write SIZE_MIB into new 2 MiB files
# is printed as a reference for that cost. The mounts' kernel read-ahead
# (bdi read_ahead_kb) is printed too (lbrymount raises its own as root).
# `sha384sum` of the file, page cache warm, best of 3, is the reference for
# the cold sequential read's throughput; `openssl dgst -sha384`'s CPU time
# (least of 3, if openssl is there) is the floor of the mount's CPU per GiB. Only processes started here are
# stopped, by PID; mounts made here are unmounted and the temp dir removed on
# exit.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
nreads=200
ncold=${NCOLD:-3}
nttfb=${NTTFB:-5}
nreaders=${NREADERS:-100}
many_mib=${MANY_MIB:-16}

load=$(cut -d' ' -f1-3 /proc/loadavg)
missing=()
for c in python3 rclone nginx sha384sum; do
    command -v "$c" >/dev/null || missing+=("$c")
done
command -v fusermount3 >/dev/null || command -v fusermount >/dev/null || missing+=(fusermount3)
# shellcheck source=benches/lib/prelude.sh
. benches/lib/prelude.sh
require "apt-get install rclone nginx fuse3 python3"
release_bin
size_b=$((size_mib << 20))

work=$(mktemp -d "${TMPDIR:-/var/tmp}/lbrymount-mount-bench.XXXXXX")
# shellcheck source=benches/lib/mount_env.sh
. benches/lib/mount_env.sh
trap cleanup EXIT
trap 'exit 130' INT TERM

# nginx's workers may run as another user: the served file must be readable.
chmod 755 "$work"
mkdir -p "$work/www"
name=input.bin
file=$work/www/$name
head -c "$size_b" /dev/urandom >"$file"
chmod 644 "$file"
"$bin" "${iso[@]}" -q --data-dir "$work/A" publish "$file" >/dev/null
sd=$("$bin" --data-dir "$work/A" ls | awk 'NR==1 { print $1 }')
for n in P2 P3; do
    mkdir -p "$work/$n"
    cp -r "$work/A/blobfiles" "$work/$n/"
done

# --- the servers ------------------------------------------------------------
peer_pids=()
peers3=""
for n in A P2 P3; do
    start_serve "$n"
    peer_pids+=("$srv_pid")
    peers3+="${peers3:+ }--peer $srv_addr"
    [ "$n" = A ] && apid=$srv_pid aaddr=$srv_addr
    check_serve "$srv_addr"
done
start_nginx
cat "$file" >/dev/null

# Reference for the cache writes both mounts do: SIZE_MIB into new 2 MiB files.
cat >"$work/write.py" <<'EOF'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
data = os.urandom(2 << 20)
t = time.perf_counter()
for i in range((n + 1) // 2):
    with open(os.path.join(d, str(i)), "wb") as f:
        f.write(data)
print(f"{time.perf_counter() - t:.3f}")
EOF
t_write=$(python3 "$work/write.py" "$work/wtest" "$size_mib")
rm -rf "$work/wtest"
sync

# Reference: sha384sum, page cache warm, best of 3.
# Its CPU-seconds per GiB (best of 3) are the floor of the mount's, which
# hashes every byte it reads once; this VM's speed varies by the hour, so the
# mount's CPU per GiB is also given as a multiple of it.
t_sha="" c_sha=""
for _ in 1 2 3; do
    read -r t c < <(io sha "$file")
    if [ -z "$t_sha" ] || awk -v t="$t" -v b="$t_sha" 'BEGIN { exit !(t < b) }'; then t_sha=$t; fi
    if [ -z "$c_sha" ] || awk -v t="$c" -v b="$c_sha" 'BEGIN { exit !(t < b) }'; then c_sha=$c; fi
done
c_sha=$(awk -v c="$c_sha" -v b="$size_b" 'BEGIN { printf "%.2f", c / (b / 2^30) }')
# The hashing floor itself: coreutils' sha384sum is its own C code, about
# 1.8x the CPU of OpenSSL's SHA-384, which lbrymount links. Least of 3.
c_ossl=""
if command -v openssl >/dev/null; then
    for _ in 1 2 3; do
        read -r _ c < <(io sha "$file" openssl)
        if [ -z "$c_ossl" ] || awk -v t="$c" -v b="$c_ossl" 'BEGIN { exit !(t < b) }'; then c_ossl=$c; fi
    done
    c_ossl=$(awk -v c="$c_ossl" -v b="$size_b" 'BEGIN { printf "%.2f", c / (b / 2^30) }')
fi

declare -A R
l=lbrymount r=rclone
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
median() { tr ' ' '\n' <<<"$1" | sort -g | awk '{ v[NR] = $1 } END { m = int((NR + 1) / 2); print (NR % 2) ? v[m] : (v[m] + v[m + 1]) / 2 }'; }

# --- 1. lookup and first byte -----------------------------------------------
for _ in $(seq "$nttfb"); do
    for k in $l $r; do
        start_mount "$k" "first-$k"
        R[$k.stat_all]+="${R[$k.stat_all]:+ }$(io stat "$path")"
        R[$k.ttfb_all]+="${R[$k.ttfb_all]:+ }$(io ttfb "$path" "$file")"
        stop_mount
    done
done
# The first byte with nothing before it: open of the full path (every lookup
# on the way) and a 1-byte read, as the first request a fresh mount sees.
for _ in $(seq "$nttfb"); do
    for k in $l $r; do
        start_mount "$k" "bare-$k"
        R[$k.bare_all]+="${R[$k.bare_all]:+ }$(io ttfb "$path" "$file")"
        stop_mount
    done
done
for k in $l $r; do
    R[$k.stat]=$(median "${R[$k.stat_all]}")
    R[$k.ttfb]=$(median "${R[$k.ttfb_all]}")
    R[$k.bare]=$(median "${R[$k.bare_all]}")
done

# --- 2. cold sequential, and the re-reads on the last mount -----------------
# cold_run KEY KIND DATA [PEERS]: a cold sequential read on a fresh mount,
# which is left mounted; its figures go into R[KEY.*].
cold_run() {
    local key=$1 t0 t1 s0 s1 out secs bytes hwm cpugb
    start_mount "$2" "$3" "${4:-}"
    io stat "$path" >/dev/null
    t0=$(ticks "$mnt_pid")
    s0=$(ticks "${srv_pids[@]}")
    out=$(io seq "$path")
    t1=$(ticks "$mnt_pid")
    s1=$(ticks "${srv_pids[@]}")
    hwm=$(hwm_kib "$mnt_pid")
    R[$key.ra]=$(cat "/sys/class/bdi/$(mountpoint -d "$mnt")/read_ahead_kb" 2>/dev/null || echo "?")
    read -r secs bytes <<<"$out"
    [ "$bytes" = "$size_b" ] || { echo "$key: cold read gave $bytes bytes" >&2; exit 1; }
    cpugb=$(awk -v d="$((t1 - t0))" -v hz="$hz" -v b="$bytes" 'BEGIN { printf "%.2f", d / hz / (b / 2^30) }')
    R[$key.cold_all]+="${R[$key.cold_all]:+ }$secs"
    [ "$hwm" -gt "${R[$key.hwm]:-0}" ] && R[$key.hwm]=$hwm
    if [ -z "${R[$key.cpugb]:-}" ] || lt "$cpugb" "${R[$key.cpugb]}"; then R[$key.cpugb]=$cpugb; fi
    if [ -z "${R[$key.cold_s]:-}" ] || lt "$secs" "${R[$key.cold_s]}"; then
        R[$key.cold_s]=$secs
        R[$key.cpu]=$(awk -v d="$((t1 - t0))" -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.0f%%", 100 * d / hz / s }')
        R[$key.srv_cpu]=$(awk -v d="$((s1 - s0))" -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.0f%%", 100 * d / hz / s }')
    fi
}
# after_cold KIND DATA: on the mount cold_run left, the warm re-read, cmp and
# warm random reads; then the re-read from the disk cache on a new mount of
# the same DATA, page cache dropped.
after_cold() {
    local k=$1 out bytes f0 f1
    out=$(io seq "$path")
    read -r "R[$k.warm_s]" bytes <<<"$out"
    [ "$bytes" = "$size_b" ] || { echo "$k: warm re-read gave $bytes bytes" >&2; exit 1; }
    cmp "$file" "$path" || { echo "$k: the bytes read differ from the original" >&2; exit 1; }
    R[$k.cmp]=identical
    R[$k.rand_warm]=$(io rand "$path" "$nreads" 42 "$file")
    R[$k.hwm_end]=$(hwm_kib "$mnt_pid")
    stop_mount
    drop_page_cache || { R[$k.disk_s]=""; return 0; }
    f0=$(served_bytes "$k")
    start_mount "$k" "$2" "" keep
    io stat "$path" >/dev/null
    out=$(io seq "$path")
    read -r "R[$k.disk_s]" bytes <<<"$out"
    [ "$bytes" = "$size_b" ] || { echo "$k: disk-cache re-read gave $bytes bytes" >&2; exit 1; }
    cmp "$file" "$path" || { echo "$k: the disk-cache re-read differs from the original" >&2; exit 1; }
    stop_mount
    f1=$(served_bytes "$k")
    R[$k.disk_fetched]=$((f1 - f0))
}
for run in $(seq "$ncold"); do
    cold_run l3 $l "cold-l3" "$peers3"
    if [ "$run" = "$ncold" ]; then
        cmp "$file" "$path" || { echo "3 peers: the bytes read differ from the original" >&2; exit 1; }
    fi
    stop_mount
    for k in $l $r; do
        cold_run "$k" "$k" "cold-$k"
        if [ "$run" = "$ncold" ]; then after_cold "$k" "cold-$k"; else stop_mount; fi
    done
done

# --- 3. cold random ---------------------------------------------------------
for k in $l $r; do
    start_mount "$k" "rand-$k"
    io stat "$path" >/dev/null
    R[$k.rand_cold]=$(io rand "$path" "$nreads" 42 "$file")
    stop_mount
done

# --- 4. many readers through one mount --------------------------------------
for k in $l $r; do
    start_mount "$k" "many-$k"
    io stat "$path" >/dev/null
    out=$(io many "$path" "$nreaders" "$many_mib" "$file")
    read -r "R[$k.many_s]" "R[$k.many_b]" <<<"$out"
    R[$k.many_hwm]=$(hwm_kib "$mnt_pid")
    stop_mount
done

# --- the tables -------------------------------------------------------------
. benches/lib/mount_report.sh
