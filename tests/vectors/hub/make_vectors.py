#!/usr/bin/python3
"""Writes the golden vectors of lbrymount's hub codecs, outside Rust.

The protobuf bytes come from Google's Python protobuf compiling the two
.proto files beside this script (subsets of lbry-sdk's result.proto and
claim.proto, same field numbers); the transaction, script and hash vectors
are written with struct and hashlib, and the channel signature with the
`ecdsa` package (the library old lbry-sdk versions made channel keys with,
so its DER public key is the form old channels carry). The Rust tests (src/wire/hub/tests/
vectors.rs) decode these files and compare every field with the values
below, and encode the same values and compare bytes. The output is
committed, so building and testing lbrymount needs neither protoc nor Python.

Run from anywhere (Debian: apt-get install python3-protobuf protobuf-compiler
python3-ecdsa):
    /usr/bin/python3 tests/vectors/hub/make_vectors.py
"""

import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

import ecdsa
from ecdsa.util import sigencode_string

HERE = os.path.dirname(os.path.abspath(__file__))


def compile_protos():
    out = tempfile.mkdtemp(prefix="hub-vectors-")
    subprocess.run(
        ["protoc", f"--proto_path={HERE}", f"--python_out={out}", "result.proto", "claim.proto"],
        check=True,
    )
    sys.path.insert(0, out)
    import claim_pb2
    import result_pb2
    return claim_pb2, result_pb2


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def h(n, fill):
    """n bytes counting up from fill: recognisable, never all equal."""
    return bytes((fill + i) % 256 for i in range(n))


def stream_claim(pb):
    c = pb.Claim()
    s = c.stream
    s.source.hash = h(48, 0)
    s.source.name = "river.mp4"
    s.source.size = 1_234_567_890_123
    s.source.media_type = "video/mp4"
    s.source.sd_hash = h(48, 100)
    s.author = "Ann"
    s.license = "CC-BY-4.0"
    s.license_url = "https://creativecommons.org/licenses/by/4.0/"
    s.release_time = 1_700_000_000
    s.fee.currency = pb.Fee.USD
    s.fee.address = h(25, 0x55)
    s.fee.amount = 250
    c.title = "River \u2014 a film"
    c.description = "Water.\nMoving."
    c.thumbnail.url = "https://thumbs.example/river.jpg"
    c.tags.extend(["nature", "water"])
    c.languages.add(language=40, region=76)
    c.locations.add(country=3, city="Oslo", latitude=-59913, longitude=10752)
    return c


def claims(pb):
    write("claim_stream.bin", stream_claim(pb).SerializeToString())

    c = pb.Claim()
    c.channel.public_key = bytes([2]) + h(32, 0x80)
    c.channel.email = "bar@example.org"
    c.channel.website_url = "https://bar.example"
    c.channel.cover.url = "https://bar.example/cover.png"
    c.channel.featured.claim_references.add(claim_hash=h(20, 0xf0))
    c.title = "Bar"
    write("claim_channel.bin", c.SerializeToString())

    c = pb.Claim()
    c.repost.claim_hash = h(20, 0x30)
    write("claim_repost.bin", c.SerializeToString())

    c = pb.Claim()
    c.collection.list_type = pb.ClaimList.DERIVATION
    c.collection.claim_references.add(claim_hash=h(20, 1))
    c.collection.claim_references.add(claim_hash=h(20, 2))
    c.title = "Two"
    write("claim_collection.bin", c.SerializeToString())

    c = pb.Claim()
    c.stream.source.bt_infohash = h(20, 0xb0)
    c.stream.source.name = "big.iso"
    c.stream.source.size = 4_700_000_000
    write("claim_torrent.bin", c.SerializeToString())

    # Stream.video (field 11) is not declared by lbrymount: it must be skipped.
    c = pb.Claim()
    c.stream.source.sd_hash = h(48, 7)
    c.stream.video.width = 1920
    c.stream.video.height = 1080
    c.stream.video.duration = 63
    c.title = "Clip"
    write("claim_video.bin", c.SerializeToString())


def outputs(pb):
    o = pb.Outputs()
    t = o.txos.add(tx_hash=h(32, 0x10), nout=2, height=1000)
    m = t.claim
    m.channel.tx_hash = h(32, 0x20)
    m.channel.nout = 1
    m.channel.height = 900
    m.repost.tx_hash = h(32, 0x40)
    m.repost.height = 800
    m.short_url = "river#1"
    m.canonical_url = "@bar#2/river#1"
    m.is_controlling = True
    m.take_over_height = 1001
    m.creation_height = 1002
    m.activation_height = 1003
    m.expiration_height = 2_103_400
    m.reposted = 5
    m.effective_amount = 2**40
    m.support_amount = 7
    m.trending_score = -1.25
    e = o.txos.add().error
    e.code = pb.Error.NOT_FOUND
    e.text = 'Could not find claim at "lbry://nothing".'
    e = o.txos.add().error
    e.code = pb.Error.BLOCKED
    e.text = "blocked by @censor"
    e.blocked.count = 3
    e.blocked.channel.tx_hash = h(32, 0x60)
    e.blocked.channel.height = 700
    x = o.extra_txos.add(tx_hash=h(32, 0x20), nout=1, height=900)
    x.claim.short_url = "@bar#2"
    x.claim.canonical_url = "@bar#2"
    x.claim.claims_in_channel = 42
    o.total = 1000
    o.offset = 20
    b = o.blocked.add(count=3)
    b.channel.tx_hash = h(32, 0x60)
    b.channel.height = 700
    o.blocked_total = 3
    data = o.SerializeToString()
    write("outputs_full.bin", data)
    write("outputs_full.b64", base64.b64encode(data))


def varint(n):
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    return b"\xfe" + struct.pack("<I", n)


def push(data):
    n = len(data)
    if n <= 0x4B:
        return bytes([n]) + data
    if n <= 0xFF:
        return b"\x4c" + bytes([n]) + data
    return b"\x4d" + struct.pack("<H", n) + data


def sha256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def claim_hash(tx_hash, nout):
    return hashlib.new("ripemd160", hashlib.sha256(tx_hash + struct.pack(">I", nout)).digest()).digest()


def transaction(pb):
    """A claim (PUSHDATA2), an update, a support and 250 plain outputs (a 0xfd count)."""
    claim = b"\x00" + stream_claim(pb).SerializeToString() + b"\x00" * 100
    assert len(claim) > 255
    p2pkh = b"\x76\xa9\x14" + h(20, 0x99) + b"\x88\xac"
    scripts = [
        b"\xb5" + push(b"river") + push(claim) + b"\x6d\x75" + p2pkh,
        b"\xb7" + push(b"river") + push(h(20, 0xc0)) + push(claim[:60]) + b"\x6d\x6d" + p2pkh,
        b"\xb6" + push(b"river") + push(h(20, 0xc0)) + b"\x6d\x75" + p2pkh,
    ] + [p2pkh] * 250
    raw = struct.pack("<I", 1) + varint(2)
    raw += h(32, 0xA0) + struct.pack("<I", 7) + varint(3) + b"\x51\x52\x53" + struct.pack("<I", 0xFFFFFFFE)
    raw += h(32, 0xA1) + struct.pack("<I", 0) + varint(0) + struct.pack("<I", 0xFFFFFFFF)
    raw += varint(len(scripts))
    for i, s in enumerate(scripts):
        raw += struct.pack("<Q", 1000 + i) + varint(len(s)) + s
    raw += struct.pack("<I", 0)
    write("tx_claims.bin", raw)
    tx_hash = sha256d(raw)
    first_input = h(32, 0xA0) + struct.pack("<I", 7)
    channel_hash = h(20, 0xc0)
    payload = stream_claim(pb).SerializeToString()
    return {
        "tx_claims.bin": {
            "txid": tx_hash[::-1].hex(),
            "outputs": len(scripts),
            "claim_ids": [claim_hash(tx_hash, n)[::-1].hex() for n in (0, 1, 2)],
            "claim_bytes_len": len(claim),
            "signature_digest_input0_channel_c0_stream_claim": hashlib.sha256(
                first_input + channel_hash + payload
            ).hexdigest(),
        }
    }


def simple_tx(prev_hash, prev_nout, outputs):
    raw = struct.pack("<I", 1) + varint(1)
    raw += prev_hash + struct.pack("<I", prev_nout) + varint(0) + struct.pack("<I", 0xFFFFFFFF)
    raw += varint(len(outputs))
    for value, script in outputs:
        raw += struct.pack("<Q", value) + varint(len(script)) + script
    return raw + struct.pack("<I", 0)


def signed(pb):
    """A channel @chan and a stream in it, signed with python-ecdsa."""
    key = ecdsa.SigningKey.from_secret_exponent(0x1D2C3B4A59687766554433221100FFEEDDCCBBAA99887766554433221100ABCD, curve=ecdsa.SECP256k1)
    vk = key.get_verifying_key()
    p2pkh = b"\x76\xa9\x14" + h(20, 0x33) + b"\x88\xac"
    channel = pb.Claim()
    channel.channel.public_key = vk.to_string("compressed")
    channel_script = b"\xb5" + push(b"@chan") + push(b"\x00" + channel.SerializeToString()) + b"\x6d\x75" + p2pkh
    channel_raw = simple_tx(h(32, 0xD0), 0, [(1_000_000, channel_script), (50_000, p2pkh)])
    channel_hash = claim_hash(sha256d(channel_raw), 0)

    stream = pb.Claim()
    stream.stream.source.sd_hash = h(48, 0x5D)
    stream.stream.source.name = "signed.txt"
    stream.stream.source.size = 42
    stream.title = "Signed"
    payload = stream.SerializeToString()
    first_input = sha256d(channel_raw) + struct.pack("<I", 1)
    digest = hashlib.sha256(first_input + channel_hash + payload).digest()
    sig = key.sign_digest_deterministic(digest, hashfunc=hashlib.sha256, sigencode=sigencode_string)
    n = ecdsa.SECP256k1.order
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    low, high = min(s, n - s), max(s, n - s)
    low_sig = sig[:32] + low.to_bytes(32, "big")
    high_sig = sig[:32] + high.to_bytes(32, "big")
    assert vk.verify_digest(high_sig, digest, sigdecode=ecdsa.util.sigdecode_string)
    claim = b"\x01" + channel_hash + high_sig + payload
    stream_script = b"\xb5" + push(b"signed") + push(claim) + b"\x6d\x75" + p2pkh
    stream_raw = simple_tx(sha256d(channel_raw), 1, [(1_000_000, stream_script)])
    write("signed_channel_tx.bin", channel_raw)
    write("signed_stream_tx.bin", stream_raw)
    return {
        "signed_stream_tx.bin": {
            "channel_txid": sha256d(channel_raw)[::-1].hex(),
            "channel_claim_id": channel_hash[::-1].hex(),
            "stream_txid": sha256d(stream_raw)[::-1].hex(),
            "digest": digest.hex(),
            "public_key_compressed": vk.to_string("compressed").hex(),
            "public_key_der": vk.to_der().hex(),
            "signature_in_tx_high_s": high_sig.hex(),
            "signature_low_s": low_sig.hex(),
        }
    }


def main():
    claim_pb2, result_pb2 = compile_protos()
    claims(claim_pb2)
    outputs(result_pb2)
    manifest = transaction(claim_pb2)
    manifest.update(signed(claim_pb2))
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
