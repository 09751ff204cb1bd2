#!/usr/bin/env python3
"""A libtorrent DHT node for lbrymount's mainline DHT tests (loopback only).

Usage: lt_dht.py BOOTSTRAP_HOST:PORT ANNOUNCE_INFOHASH WANTED_INFOHASH SAVE_DIR

Joins the DHT through the bootstrap node, adds ANNOUNCE_INFOHASH as a torrent
(a magnet: libtorrent announces it in the DHT on its listen port, as any
client does), and asks for WANTED_INFOHASH's peers once a second. Prints one
JSON object per line: {"dht_nodes": N, "listen_port": P} once joined,
{"found": ["ip:port", ...]}
when the wanted infohash has peers, {"error": "..."} on a timeout. Then it
stays up (so others can find what it announced) until stdin closes.
"""
import json
import sys
import threading
import time
import warnings

import libtorrent as lt


def say(obj):
    print(json.dumps(obj), flush=True)


def main():
    warnings.simplefilter("ignore", DeprecationWarning)
    boot, ann_hash, wanted, save = sys.argv[1:5]
    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": True,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "dht_bootstrap_nodes": boot,
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_ignore_dark_internet": False,
        "dht_prefer_verified_node_ids": False,
        "dht_announce_interval": 2,
        "alert_mask": lt.alert_category.all,
    })
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    deadline = time.time() + 40
    while ses.status().dht_nodes == 0 and time.time() < deadline:
        time.sleep(0.2)
    say({"dht_nodes": ses.status().dht_nodes, "listen_port": ses.listen_port()})
    atp = lt.add_torrent_params()
    atp.info_hashes = lt.info_hash_t(lt.sha1_hash(bytes.fromhex(ann_hash)))
    atp.save_path = save
    ses.add_torrent(atp)
    found = set()
    next_ask = 0.0
    while not found and time.time() < deadline and not stop.is_set():
        if time.time() >= next_ask:
            ses.dht_get_peers(lt.sha1_hash(bytes.fromhex(wanted)))
            next_ask = time.time() + 1.0
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_get_peers_reply_alert) and str(a.info_hash) == wanted:
                found.update(f"{ip}:{port}" for ip, port in a.peers())
        time.sleep(0.05)
    say({"found": sorted(found)} if found else {"error": "no peers for the wanted infohash"})
    stop.wait(60)


if __name__ == "__main__":
    main()
