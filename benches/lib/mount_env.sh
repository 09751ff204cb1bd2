# shellcheck shell=bash disable=SC2034,SC2154 # globals shared with benches/mount.sh
# The processes and mounts of benches/mount.sh: serve nodes, nginx, fresh
# lbrymount / rclone mounts, and the clean-up that stops only what was
# started here (by PID) and unmounts only what was mounted here.
# Sourced by benches/mount.sh, which sets work, bin, file, name, sd and hz.

pids=()
mounts=()
# Nothing leaves the machine: no hub, tracker, fixed peer, LAN multicast or UPnP.
iso=(--no-hub --no-trackers --no-fixed-peers --no-lan --no-upnp)

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
# forget PID: cleanup must never signal a reused one.
forget() {
    local rest=() p
    for p in "${pids[@]}"; do [ "$p" = "$1" ] || rest+=("$p"); done
    pids=("${rest[@]}")
}
cleanup() {
    set +e
    local pid m
    for pid in "${pids[@]}"; do stop "$pid"; done
    for m in "${mounts[@]}"; do unmount "$m"; done
    rm -rf "$work"
}

io() { python3 "$(dirname "${BASH_SOURCE[0]}")/mount_io.py" "$@"; }
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
# CPU time of PIDs in clock ticks (user + system, summed).
ticks() {
    local p sum=0
    for p in "$@"; do sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
    echo "$sum"
}
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# drop_page_cache: writes back and drops the whole page cache (root only);
# fails when it cannot. The servers' files are read again afterwards, so
# that only the mount under test starts cold.
drop_page_cache() {
    [ -w /proc/sys/vm/drop_caches ] || return 1
    sync
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || return 1
    cat "$file" "$work"/A/blobfiles/* "$work"/P*/blobfiles/* >/dev/null
}

# start_serve NAME: `serve` on NAME's data dir (which holds the blobs), on a
# port the OS picks; sets srv_pid and srv_addr.
start_serve() {
    local log=$work/$1.log
    "$bin" "${iso[@]}" --data-dir "$work/$1" serve --no-dht --no-share --listen 127.0.0.1:0 2>"$log" &
    srv_pid=$!
    pids+=("$srv_pid")
    wait_for "serve node $1" "$srv_pid" grep -qs 'listening on' "$log" || { cat "$log" >&2; exit 1; }
    srv_addr=$(grep -o 'listening on [0-9.]*:[0-9]*' "$log" | head -1 | awk '{ print $3 }')
}

# check_serve ADDR: an untimed `get` through ADDR alone, compared with the
# original. A node checks each blob the first time it serves it: on a real
# network the seeder is another machine, here it would take a core from the
# mount, and nginx serves rclone without any such check.
check_serve() {
    rm -rf "$work/warm" "$work/warm.out"
    "$bin" "${iso[@]}" -q --data-dir "$work/warm" get "$sd" --peer "$1" --no-bootstrap -o "$work/warm.out"
    cmp -s "$file" "$work/warm.out" || { echo "get through $1 gave other bytes" >&2; exit 1; }
    rm -rf "$work/warm" "$work/warm.out"
}

# start_nginx: serves $work/www on a free port; sets nport, npid (the
# master) and nginx_pids (it and its worker).
start_nginx() {
    nport=$(free_port)
    mkdir -p "$work/nginx/logs"
    cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 512; }
http {
    log_format sent '\$bytes_sent';
    access_log $work/nginx/logs/access.log sent;
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
    npid=$!
    pids+=("$npid")
    wait_for nginx "$npid" nginx_up || { cat "$work/nginx/stderr" "$work/nginx/logs/error.log" >&2; exit 1; }
    # The worker serves; its CPU time is not in the master's /proc/PID/stat.
    mapfile -t nginx_pids < <(echo "$npid"; ps -o pid= --ppid "$npid" | tr -d ' ')
}
# served_bytes lbrymount|rclone: the bytes node A / nginx has sent so far.
served_bytes() {
    case $1 in
    lbrymount) "$bin" --data-dir "$work/A" status | awk '/^served:/ { print $4 }' ;;
    rclone) awk '{ s += $1 } END { printf "%.0f\n", s }' "$work/nginx/logs/access.log" ;;
    esac
}
nginx_up() {
    python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$nport/$name', timeout=1).read(1)" 2>/dev/null
}

# start_mount KIND DATA [PEERS] [keep]: a mount of kind lbrymount or rclone on
# a new mountpoint (a new FUSE superblock: nothing in its page cache), with
# the data dir (lbrymount) or cache dir (rclone) $work/DATA, emptied first
# unless `keep`. PEERS (lbrymount) is a list of --peer flags, default node A.
# Sets mnt, mnt_pid, mnt_log, path; the servers it reads from in srv_pids.
mount_seq=0
start_mount() {
    local kind=$1 data=$work/$2 peers=${3:-"--peer $aaddr"} keep=${4:-}
    mount_seq=$((mount_seq + 1))
    mnt=$work/mnt-$mount_seq
    mnt_log=$work/mount-$mount_seq.log
    mkdir -p "$mnt"
    mounts+=("$mnt")
    [ "$keep" = keep ] || rm -rf "$data"
    case $kind in
    lbrymount)
        # shellcheck disable=SC2086 # PEERS is a list of flags
        "$bin" "${iso[@]}" --data-dir "$data" "$mnt" --no-dht --no-share --listen 127.0.0.1:0 \
            $peers 2>"$mnt_log" &
        mnt_pid=$!
        pids+=("$mnt_pid")
        wait_for "lbrymount mount" "$mnt_pid" grep -qs 'mounted at' "$mnt_log" || { cat "$mnt_log" >&2; exit 1; }
        path=$mnt/$sd/$name
        srv_pids=("$apid")
        [ "$peers" = "--peer $aaddr" ] || srv_pids=("${peer_pids[@]}")
        ;;
    rclone)
        : >"$work/rclone.conf"
        rclone mount :http: "$mnt" --config "$work/rclone.conf" \
            --http-url "http://127.0.0.1:$nport/" --vfs-cache-mode full \
            --cache-dir "$data" --read-only 2>"$mnt_log" &
        mnt_pid=$!
        pids+=("$mnt_pid")
        wait_for "rclone mount" "$mnt_pid" mountpoint -q "$mnt" || { cat "$mnt_log" >&2; exit 1; }
        path=$mnt/$name
        srv_pids=("${nginx_pids[@]}")
        ;;
    esac
}
stop_mount() {
    stop "$mnt_pid"
    forget "$mnt_pid"
    unmount "$mnt"
    rmdir "$mnt" 2>/dev/null || true
}
