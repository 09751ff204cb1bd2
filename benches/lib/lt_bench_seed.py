#!/usr/bin/env python3
"""The BitTorrent seed of benches/torrent.sh: Debian's libtorrent seeding one
file of SIZE_MIB random MiB on 127.0.0.1.

    lt_bench_seed.py DIR SIZE_MIB

Writes DIR/big.bin, makes a v1 torrent of it at DIR/big.torrent (libtorrent
picks the piece size) and seeds it. Prints one JSON line once seeding:
{"port", "torrent", "info_hash", "file", "piece_length"}. Then answers one
JSON line per stdin line: "connect PORT" (connects to a peer on
127.0.0.1:PORT, for btfs, which takes no peer address) -> {"ok": true};
"peers" -> {"peers": N}; "stats" -> {"uploaded": PAYLOAD_BYTES_SENT}.
"""
import json
import os
import sys
import time
import warnings

import libtorrent as lt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "bt"))
import lt_loopback  # noqa: E402


def main():
    warnings.simplefilter("ignore", DeprecationWarning)
    top, size_mib = sys.argv[1], int(sys.argv[2])
    path = os.path.join(top, "big.bin")
    with open(path, "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, 0, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, top)
    torrent = os.path.join(top, "big.torrent")
    with open(torrent, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    ses = lt_loopback.session(
        enable_outgoing_utp=False,
        enable_incoming_utp=False,
        allow_multiple_connections_per_ip=True,
        # A local seed should not be what limits the reader.
        send_buffer_watermark=64 << 20,
        send_buffer_low_watermark=16 << 20,
        max_queued_disk_bytes=64 << 20,
    )
    ti = lt.torrent_info(torrent)
    h = ses.add_torrent({"ti": ti, "save_path": top})
    lt_loopback.wait_seeding(h, 600)
    print(json.dumps({
        "port": ses.listen_port(),
        "torrent": torrent,
        "info_hash": str(ti.info_hashes().v1),
        "file": path,
        "piece_length": ti.piece_length(),
        "seeding": h.status().is_seeding,
    }), flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["connect"]:
            h.connect_peer(("127.0.0.1", int(words[1])))
            print(json.dumps({"ok": True}), flush=True)
        elif words == ["peers"]:
            print(json.dumps({"peers": h.status().num_peers}), flush=True)
        elif words == ["stats"]:
            print(json.dumps({"uploaded": h.status().total_payload_upload}), flush=True)


if __name__ == "__main__":
    main()
