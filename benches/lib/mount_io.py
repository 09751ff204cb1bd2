"""The timed reads of benches/mount.sh, each inside one python process
(perf_counter), so that process start-up is not counted; every read's bytes
are checked against the original file (byte count for `seq`, whose bytes the
script compares with `cmp` afterwards).

    mount_io.py stat PATH
    mount_io.py ttfb PATH ORIG              -> ms
    mount_io.py seq PATH                    -> seconds bytes
    mount_io.py rand PATH N SEED ORIG       -> median p90 max (ms) total (s)
    mount_io.py many PATH N CHUNK_MIB ORIG  -> seconds bytes
    mount_io.py sha PATH [openssl]          -> seconds CPU-seconds of sha384sum PATH
                                               (or of `openssl dgst -sha384 PATH`)
"""
import os
import random
import statistics
import sys
import threading
import time

now = time.perf_counter


def ttfb(path, orig):
    t = now()
    fd = os.open(path, os.O_RDONLY)
    b = os.read(fd, 1)
    dt = now() - t
    os.close(fd)
    with open(orig, "rb") as f:
        assert len(b) == 1 and b == f.read(1), "wrong or no first byte"
    print(f"{dt * 1e3:.2f}")


def seq(path):
    buf = bytearray(1 << 20)
    total = 0
    t = now()
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            total += n
    print(f"{now() - t:.4f} {total}")


def rand(path, n, seed, orig):
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
    os.close(fd)
    with open(orig, "rb") as f:
        for o, d in zip(offs, got):
            f.seek(o)
            assert d == f.read(len(d)) and len(d) == 4096, f"wrong bytes at {o}"
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3
    print(f"{statistics.median(lat) * 1e3:.3f} {q(0.9):.3f} {lat[-1] * 1e3:.3f} {total:.3f}")


def many(path, n, chunk_mib, orig):
    """N threads, each with its own open file, read CHUNK_MIB sequentially
    (1 MiB preads) from offsets spread evenly over the file, all at once."""
    size = os.stat(path).st_size
    chunk = min(chunk_mib << 20, size)
    step = (size - chunk) // max(1, n - 1)
    offs = [(i * step) // 4096 * 4096 for i in range(n)]
    ofd = os.open(orig, os.O_RDONLY)
    start = threading.Barrier(n + 1)
    done, errors = [0] * n, []

    fds = [os.open(path, os.O_RDONLY) for _ in range(n)]

    def reader(i, fd):
        try:
            start.wait()
            o, end = offs[i], offs[i] + chunk
            while o < end:
                d = os.pread(fd, min(1 << 20, end - o), o)
                if not d or d != os.pread(ofd, len(d), o):
                    raise AssertionError(f"reader {i}: wrong bytes at {o}")
                o += len(d)
                done[i] += len(d)
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(i, fd)) for i, fd in enumerate(fds)]
    for th in threads:
        th.start()
    start.wait()
    t = now()
    for th in threads:
        th.join()
    dt = now() - t
    for fd in fds:
        os.close(fd)
    if errors:
        raise errors[0]
    assert sum(done) == n * chunk, f"read {sum(done)} of {n * chunk} bytes"
    print(f"{dt:.4f} {sum(done)}")


def sha(path, tool):
    import resource
    import subprocess

    cmd = ["openssl", "dgst", "-sha384", path] if tool == "openssl" else ["sha384sum", path]
    t = now()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    dt = now() - t
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{dt:.3f} {r.ru_utime + r.ru_stime:.3f}")


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    a = sys.argv[3:]
    if cmd == "stat":
        t = now()
        os.stat(path)
        print(f"{(now() - t) * 1e3:.2f}")
    elif cmd == "ttfb":
        ttfb(path, a[0])
    elif cmd == "seq":
        seq(path)
    elif cmd == "rand":
        rand(path, int(a[0]), int(a[1]), a[2])
    elif cmd == "sha":
        sha(path, a[0] if a else "sha384sum")
    elif cmd == "many":
        many(path, int(a[0]), int(a[1]), a[2])
    else:
        sys.exit(f"unknown command {cmd}")


main()
