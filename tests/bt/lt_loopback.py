"""What every libtorrent of lbrymount's tests and benchmarks shares: a
session on 127.0.0.1 that finds no one by itself (no DHT, local peer
discovery, UPnP or NAT-PMP), so nothing leaves the machine, and the wait
for a torrent to be complete."""
import time

import libtorrent as lt


def session(port=0, **settings):
    """A loopback-only session listening on 127.0.0.1:PORT (0: any), with
    `settings` on top (libtorrent's settings_pack names)."""
    pack = {
        "listen_interfaces": "127.0.0.1:%d" % port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert_category.error,
    }
    pack.update(settings)
    return lt.session(pack)


def wait_seeding(handle, seconds):
    """Waits until `handle` holds the whole torrent, at most `seconds`;
    returns whether it does."""
    deadline = time.time() + seconds
    while not handle.status().is_seeding and time.time() < deadline:
        time.sleep(0.05)
    return handle.status().is_seeding
