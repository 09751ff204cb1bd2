#!/usr/bin/env python3
"""A libtorrent seed for lbrymount's torrent tests (loopback only).

Usage: lt_seed.py DIR [PORT]

Writes a multi-file folder DIR/album (pseudo-random content, fixed seed),
makes a torrent of it with libtorrent's defaults (a hybrid v1+v2 torrent
with BEP 47 padding files, 64 KiB pieces) at DIR/album.torrent, and seeds it
on 127.0.0.1 (on PORT if given, so a test can bring a seed back at the
same address). Prints one JSON line: {"port": P, "torrent": PATH,
"info_hash": V1_HEX, "files": [[PATH, SIZE], ...]} once seeding, then stays
up until stdin closes; each line "stats" on stdin is answered with
{"uploaded": PAYLOAD_BYTES_SENT}.
"""
import json
import os
import random
import sys
import warnings

import libtorrent as lt

import lt_loopback

FILES = [("a.bin", 300000), ("c.txt", 6), ("sub/b.bin", 1048699)]


def main():
    warnings.simplefilter("ignore", DeprecationWarning)
    top = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    rng = random.Random(1)
    for path, size in FILES:
        full = os.path.join(top, "album", path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(bytes(rng.getrandbits(8) for _ in range(size)))
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(top, "album"))
    ct = lt.create_torrent(fs, 65536)
    lt.set_piece_hashes(ct, top)
    torrent = os.path.join(top, "album.torrent")
    with open(torrent, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    ses = lt_loopback.session(port)
    ti = lt.torrent_info(torrent)
    h = ses.add_torrent({"ti": ti, "save_path": top})
    lt_loopback.wait_seeding(h, 30)
    print(json.dumps({
        "port": ses.listen_port(),
        "torrent": torrent,
        "info_hash": str(ti.info_hashes().v1),
        "seeding": h.status().is_seeding,
        "files": [[p, s] for p, s in FILES],
    }), flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            up = h.status().total_payload_upload
            print(json.dumps({"uploaded": up}), flush=True)


if __name__ == "__main__":
    main()
