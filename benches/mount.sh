#!/usr/bin/env bash
# Measures reads through the mount against `rclone mount` of the same file
# served by nginx, and against `sha384sum` of it, all in the same run on
# 127.0.0.1, and prints a table side by side with the targets.
#
#   benches/mount.sh [SIZE_MIB=1024]
#
# LBRYMOUNT_BIN=path measures that binary (default target/release/lbrymount,
# built with `cargo build --release` if absent). Needs python3, rclone and
# nginx (apt-get install rclone nginx), /dev/fuse and fusermount3 (fuse3).
#
# lbrymount: node A publishes a file of SIZE_MIB random MiB and serves it
# (`serve --no-dht`); node B mounts with A as its only `--peer`, so every
# blob B reads crosses the loopback, is verified, cached and decrypted.
# Before any measurement one untimed `get` from A makes A hash-check each
# blob once (a node checks a blob the first time it serves it): on a real
# network the seeder is another machine, here it would take a core from B,
# and nginx serves rclone without any such check.
# rclone: nginx serves the same file, `rclone mount :http: --vfs-cache-mode
# full` reads it. Each system is measured on fresh mounts (an empty B data
# dir / an empty rclone cache dir each time, and a new FUSE superblock, so
# nothing is in the mount's page cache):
#   1. lookup (`stat` of the file) then time to the first byte (open + read 1 B);
#   2. cold sequential read of the whole file (1 MiB reads) on NCOLD (default
#      3) fresh mounts, each with the mount process's CPU use and peak RSS
#      (VmHWM, read when the read ends); the best time is compared, all are
#      listed. On the last mount: a warm re-read, a `cmp` with the original,
#      and 200 random 4 KiB preads (warm);
#   3. 200 random 4 KiB preads on a cold mount (same offsets as the warm ones;
#      the bytes are checked against the original).
# Page caches are not dropped (that needs root): the source file, A's blobs
# and nginx's file are in the page cache for both systems alike. Both mounts
# write what they fetch to their cache dir (lbrymount with O_DIRECT, rclone
# through the page cache); the time to write SIZE_MIB into new 2 MiB files
# is printed as a reference for that cost, which varies several-fold on VMs
# that hand freed memory back to the host (fresh pages are then slow to
# touch). The mounts' kernel read-ahead (bdi read_ahead_kb) is printed too:
# it bounds the reads in flight (lbrymount raises its own to 1 MiB as root).
# `sha384sum` of the file, page cache warm, best of 3, is the reference the
# cold sequential read is compared with (target >= 0.7x its throughput).
# Only processes started here are stopped, by PID; mounts made here are
# unmounted and the temp dir removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
nreads=200
ncold=${NCOLD:-3}

load=$(cut -d' ' -f1-3 /proc/loadavg)
missing=()
for c in python3 rclone nginx sha384sum; do
    command -v "$c" >/dev/null || missing+=("$c")
done
command -v fusermount3 >/dev/null || command -v fusermount >/dev/null || missing+=(fusermount3)
if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]} (apt-get install rclone nginx fuse3 python3)" >&2
    exit 1
fi
bin=${LBRYMOUNT_BIN:-target/release/lbrymount}
if [ ! -x "$bin" ]; then
    [ -n "${LBRYMOUNT_BIN:-}" ] && { echo "LBRYMOUNT_BIN=$bin is not executable" >&2; exit 1; }
    cargo build --release --quiet
fi
bin=$(realpath "$bin")

work=$(mktemp -d "${TMPDIR:-/var/tmp}/lbrymount-mount-bench.XXXXXX")
pids=()
mounts=()
unmount() {
    mountpoint -q "$1" 2>/dev/null || return 0
    fusermount3 -uz "$1" 2>/dev/null || fusermount -uz "$1" 2>/dev/null || umount -l "$1" 2>/dev/null || true
}
# stop PID: SIGTERM, then SIGKILL after 10 s.
stop() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1000); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    set +e
    for pid in "${pids[@]}"; do stop "$pid"; done
    for m in "${mounts[@]}"; do unmount "$m"; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nginx's workers may run as another user: the served file must be readable.
chmod 755 "$work"
mkdir -p "$work/www"
name=input.bin
file=$work/www/$name
head -c "$((size_mib << 20))" /dev/urandom >"$file"
chmod 644 "$file"
"$bin" -q --data-dir "$work/A" publish "$file" >/dev/null
sd=$("$bin" --data-dir "$work/A" ls | awk 'NR==1 { print $1 }')
cat "$file" >/dev/null

# The timing helper: each measurement is taken inside one python process
# (perf_counter), so process start-up is not counted.
cat >"$work/io.py" <<'EOF'
import os, random, statistics, sys, time
cmd, path = sys.argv[1], sys.argv[2]
now = time.perf_counter
if cmd == "stat":
    t = now(); os.stat(path); print(f"{(now() - t) * 1e3:.2f}")
elif cmd == "ttfb":
    t = now()
    fd = os.open(path, os.O_RDONLY)
    b = os.read(fd, 1)
    dt = now() - t
    assert len(b) == 1, "no first byte"
    print(f"{dt * 1e3:.2f}")
elif cmd == "seq":
    buf = bytearray(1 << 20)
    total = 0
    t = now()
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            total += n
    print(f"{now() - t:.4f} {total}")
elif cmd == "rand":
    n, seed, orig = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    size = os.stat(path).st_size
    rng = random.Random(seed)
    offs = [rng.randrange(0, size // 4096) * 4096 for _ in range(n)]
    fd = os.open(path, os.O_RDONLY)
    lat, got = [], []
    t0 = now()
    for o in offs:
        t = now()
        got.append(os.pread(fd, 4096, o))
        lat.append(now() - t)
    total = now() - t0
    with open(orig, "rb") as f:
        for o, d in zip(offs, got):
            f.seek(o)
            assert d == f.read(len(d)) and len(d) == 4096, f"wrong bytes at {o}"
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3
    print(f"{statistics.median(lat) * 1e3:.3f} {q(0.9):.3f} {lat[-1] * 1e3:.3f} {total:.3f}")
EOF
io() { python3 "$work/io.py" "$@"; }
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_for WHAT PID CHECK...: polls CHECK for up to 60 s while PID lives.
wait_for() {
    local what=$1 pid=$2
    shift 2
    for _ in $(seq 6000); do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || { echo "$what died" >&2; return 1; }
        sleep 0.01
    done
    echo "$what: timed out" >&2
    return 1
}
# CPU time of PID in clock ticks (user + system).
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

# --- node A and nginx -------------------------------------------------------
"$bin" --data-dir "$work/A" serve --no-dht --listen 127.0.0.1:0 2>"$work/A.log" &
pids+=("$!")
apid=$!
wait_for "serve node A" "$apid" grep -q 'listening on' "$work/A.log" || { cat "$work/A.log" >&2; exit 1; }
aport=$(grep -o 'listening on [0-9.]*:[0-9]*' "$work/A.log" | head -1 | sed 's/.*://')

nport=$(free_port)
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$nport;
        root $work/www;
        autoindex on;
    }
}
EOF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" 2>"$work/nginx/stderr" &
pids+=("$!")
npid=$!
nginx_up() { python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$nport/$name', timeout=1).read(1)" 2>/dev/null; }
wait_for nginx "$npid" nginx_up || { cat "$work/nginx/stderr" "$work/nginx/logs/error.log" >&2; exit 1; }

# A checks each blob the first time it serves it: do that now, untimed.
"$bin" -q --data-dir "$work/warm" get "$sd" --peer "127.0.0.1:$aport" --no-bootstrap -o "$work/warm.out"
cmp -s "$file" "$work/warm.out" || { echo "get from node A gave other bytes" >&2; exit 1; }
rm -rf "$work/warm" "$work/warm.out"

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

# --- the mounts -------------------------------------------------------------
mnt_pid=""
mnt=""
mnt_log=""
# start_mount lbrymount|rclone N: a fresh mount (empty data / cache dir);
# sets mnt, mnt_pid, mnt_log.
start_mount() {
    local kind=$1 n=$2
    mnt=$work/mnt-$kind-$n
    mnt_log=$work/$kind-$n.log
    mkdir -p "$mnt"
    mounts+=("$mnt")
    case $kind in
    lbrymount)
        rm -rf "$work/B"
        "$bin" --data-dir "$work/B" "$mnt" --no-dht --listen 127.0.0.1:0 \
            --peer "127.0.0.1:$aport" 2>"$mnt_log" &
        mnt_pid=$!
        pids+=("$mnt_pid")
        wait_for "lbrymount mount" "$mnt_pid" grep -q 'mounted at' "$mnt_log" || { cat "$mnt_log" >&2; exit 1; }
        path=$mnt/$sd/$name
        ;;
    rclone)
        rm -rf "$work/rclone-cache"
        : >"$work/rclone.conf"
        rclone mount :http: "$mnt" --config "$work/rclone.conf" \
            --http-url "http://127.0.0.1:$nport/" --vfs-cache-mode full \
            --cache-dir "$work/rclone-cache" --read-only 2>"$mnt_log" &
        mnt_pid=$!
        pids+=("$mnt_pid")
        wait_for "rclone mount" "$mnt_pid" mountpoint -q "$mnt" || { cat "$mnt_log" >&2; exit 1; }
        path=$mnt/$name
        ;;
    esac
}
stop_mount() {
    stop "$mnt_pid"
    # Forget the PID, so that cleanup never signals a reused one.
    local keep=() p
    for p in "${pids[@]}"; do [ "$p" = "$mnt_pid" ] || keep+=("$p"); done
    pids=("${keep[@]}")
    unmount "$mnt"
    rmdir "$mnt" 2>/dev/null || true
}

declare -A R
# measure KIND: the fresh mounts; results in R[KIND.*].
measure() {
    local k=$1 t0 t1 s0 s1 out srv_pid=$apid
    [ "$k" = rclone ] && srv_pid=$npid
    # 1. lookup and first byte.
    start_mount "$k" 1
    R[$k.stat]=$(io stat "$path")
    R[$k.ttfb]=$(io ttfb "$path")
    stop_mount
    # 2. cold sequential on $ncold fresh mounts (best kept, all listed, like
    # sha384sum's best of 3); on the last one: warm re-read, cmp, warm random.
    local run secs cpu srv hwm
    R[$k.cold_all]=""
    R[$k.hwm]=0
    for run in $(seq "$ncold"); do
        start_mount "$k" 2
        io stat "$path" >/dev/null
        t0=$(ticks "$mnt_pid")
        s0=$(ticks "$srv_pid")
        out=$(io seq "$path")
        t1=$(ticks "$mnt_pid")
        s1=$(ticks "$srv_pid")
        hwm=$(hwm_kib "$mnt_pid")
        R[$k.ra]=$(cat "/sys/class/bdi/$(mountpoint -d "$mnt")/read_ahead_kb" 2>/dev/null || echo "?")
        read -r secs bytes <<<"$out"
        [ "$bytes" = "$((size_mib << 20))" ] || { echo "$k: cold read gave $bytes bytes" >&2; exit 1; }
        cpu=$(awk -v d="$((t1 - t0))" -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.0f%%", 100 * d / hz / s }')
        srv=$(awk -v d="$((s1 - s0))" -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.0f%%", 100 * d / hz / s }')
        R[$k.cold_all]+="${R[$k.cold_all]:+ }$secs"
        [ "$hwm" -gt "${R[$k.hwm]}" ] && R[$k.hwm]=$hwm
        if [ -z "${R[$k.cold_s]:-}" ] || awk -v t="$secs" -v b="${R[$k.cold_s]}" 'BEGIN { exit !(t < b) }'; then
            R[$k.cold_s]=$secs R[$k.cpu]=$cpu R[$k.srv_cpu]=$srv
        fi
        [ "$run" = "$ncold" ] || stop_mount
    done
    out=$(io seq "$path")
    read -r R[$k.warm_s] bytes <<<"$out"
    cmp "$file" "$path" || { echo "$k: the bytes read differ from the original" >&2; exit 1; }
    R[$k.cmp]=identical
    R[$k.rand_warm]=$(io rand "$path" "$nreads" 42 "$file")
    R[$k.hwm_end]=$(hwm_kib "$mnt_pid")
    stop_mount
    # 3. cold random.
    start_mount "$k" 3
    io stat "$path" >/dev/null
    R[$k.rand_cold]=$(io rand "$path" "$nreads" 42 "$file")
    stop_mount
}

# Reference: sha384sum, page cache warm, best of 3.
t_sha=""
for _ in 1 2 3; do
    s=$(date +%s.%N)
    sha384sum "$file" >/dev/null
    e=$(date +%s.%N)
    t=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }')
    if [ -z "$t_sha" ] || awk -v t="$t" -v b="$t_sha" 'BEGIN { exit !(t < b) }'; then t_sha=$t; fi
done

measure lbrymount
measure rclone

# --- the table --------------------------------------------------------------
rate() { awk -v t="$1" -v m="$size_mib" 'BEGIN { printf "%.0f MiB/s", m / t }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
field() { awk -v i="$2" '{ print $i }' <<<"$1"; }
row() { printf "%-40s %-22s %-22s\n" "$1" "$2" "$3"; }
l=lbrymount r=rclone
sha_rate=$(awk -v t="$t_sha" -v m="$size_mib" 'BEGIN { print m / t }')
ratio() { awk -v t="$1" -v m="$size_mib" -v s="$sha_rate" 'BEGIN { printf "%.2fx", m / t / s }'; }

echo "file: $size_mib MiB of random data, $(nproc) cores, all on 127.0.0.1; $(rclone version 2>/dev/null | head -1)"
echo "load average at the start: $load"
echo "sha384sum (page cache warm, best of 3): $t_sha s = $(rate "$t_sha")"
echo "writing $size_mib MiB into new 2 MiB files (no fsync): $t_write s = $(rate "$t_write")"
echo
row "scenario" "lbrymount" "rclone mount"
row "lookup: stat of the file, cold" "${R[$l.stat]} ms" "${R[$r.stat]} ms"
row "first byte: open + read 1 B, cold" "${R[$l.ttfb]} ms" "${R[$r.ttfb]} ms"
row "cold sequential read (best)" "$(rate "${R[$l.cold_s]}") (${R[$l.cold_s]} s)" "$(rate "${R[$r.cold_s]}") (${R[$r.cold_s]} s)"
row "  / sha384sum throughput" "$(ratio "${R[$l.cold_s]}")" "$(ratio "${R[$r.cold_s]}")"
row "  all $ncold runs (s)" "${R[$l.cold_all]}" "${R[$r.cold_all]}"
row "  CPU of the mount process" "${R[$l.cpu]}" "${R[$r.cpu]}"
row "  CPU of the server (node A / nginx)" "${R[$l.srv_cpu]}" "${R[$r.srv_cpu]}"
row "  peak RSS of the mount process (max)" "$(mib "${R[$l.hwm]}")" "$(mib "${R[$r.hwm]}")"
row "  kernel read-ahead of the mount" "${R[$l.ra]} KiB" "${R[$r.ra]} KiB"
row "warm re-read (same mount)" "$(rate "${R[$l.warm_s]}") (${R[$l.warm_s]} s)" "$(rate "${R[$r.warm_s]}") (${R[$r.warm_s]} s)"
row "cmp with the original" "${R[$l.cmp]}" "${R[$r.cmp]}"
for c in cold warm; do
    row "$nreads x 4 KiB pread, $c: median" "$(field "${R[$l.rand_$c]}" 1) ms" "$(field "${R[$r.rand_$c]}" 1) ms"
    row "  p90 / max" "$(field "${R[$l.rand_$c]}" 2) / $(field "${R[$l.rand_$c]}" 3) ms" \
        "$(field "${R[$r.rand_$c]}" 2) / $(field "${R[$r.rand_$c]}" 3) ms"
    row "  all $nreads reads" "$(field "${R[$l.rand_$c]}" 4) s" "$(field "${R[$r.rand_$c]}" 4) s"
done
row "peak RSS at the end (after all reads)" "$(mib "${R[$l.hwm_end]}")" "$(mib "${R[$r.hwm_end]}")"
echo

verdict() { if awk "BEGIN { exit !($1) }"; then echo met; else echo MISSED; fi; }
cold_ratio=$(awk -v t="${R[$l.cold_s]}" -v m="$size_mib" -v s="$sha_rate" 'BEGIN { print m / t / s }')
echo "targets:"
printf "  cold sequential >= 0.7x sha384sum:   %-6s (%.2fx)\n" \
    "$(verdict "$cold_ratio >= 0.7")" "$cold_ratio"
printf "  warm re-read faster than rclone:     %-6s (%s vs %s)\n" \
    "$(verdict "${R[$l.warm_s]} < ${R[$r.warm_s]}")" "$(rate "${R[$l.warm_s]}")" "$(rate "${R[$r.warm_s]}")"
printf "  peak RSS < 100 MiB:                  %-6s (%s)\n" \
    "$(verdict "${R[$l.hwm]} < 100 * 1024")" "$(mib "${R[$l.hwm]}")"
