#!/usr/bin/env python3
"""A libtorrent downloader for lbrymount's seeding test (loopback only).

Usage: lt_leech.py TORRENT|MAGNET SAVE_DIR PEER_HOST:PORT SECONDS

Adds the torrent (a .torrent file, or a magnet link whose metadata the peer
must then give, BEP 9) with SAVE_DIR empty, connects to the one peer given (no
DHT, no tracker, no other peer), and waits until every piece is downloaded
and checked, or SECONDS pass. Prints one JSON line: {"seeding": BOOL,
"progress": FRACTION, "downloaded": PAYLOAD_BYTES, "peers": N}.
"""
import json
import sys
import time
import warnings

import libtorrent as lt

import lt_loopback


def main():
    warnings.simplefilter("ignore", DeprecationWarning)
    torrent, save, peer, seconds = sys.argv[1:5]
    host, port = peer.rsplit(":", 1)
    # Our node speaks the peer wire over TCP only (no uTP).
    ses = lt_loopback.session(enable_outgoing_utp=False, enable_incoming_utp=False)
    if torrent.startswith("magnet:"):
        params = lt.parse_magnet_uri(torrent)
        params.save_path = save
        h = ses.add_torrent(params)
    else:
        h = ses.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save})
    deadline = time.time() + float(seconds)
    next_connect = 0.0
    while not h.status().is_seeding and time.time() < deadline:
        if time.time() >= next_connect:
            h.connect_peer((host, int(port)))
            next_connect = time.time() + 2
        time.sleep(0.05)
    s = h.status()
    print(json.dumps({
        "seeding": s.is_seeding,
        "progress": s.progress,
        "downloaded": s.total_payload_download,
        "peers": s.num_peers,
    }), flush=True)


if __name__ == "__main__":
    main()
