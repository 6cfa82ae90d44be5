#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check ztg-trafgen with the Python standard library only.

usage: check_trafgen.py PATH/TO/ztg-trafgen WORKDIR

- the same seed and options give byte-identical pcaps, another seed does not;
- the --describe JSON parses and agrees with the file (packets, bytes,
  sessions, requests, responses) and the --labels CSV agrees with both;
- every frame is well-formed: IPv4 header and TCP checksums, lengths, payload
  within the MSS, non-decreasing timestamps;
- every TCP connection is complete and consistent: SYN, SYN-ACK, ACK, data
  with contiguous sequence numbers and ACKs that never run ahead of the
  peer nor go back, FIN from both sides, final ACK;
- --bearer-file puts its token in every request that carries one (all but
  the health probes'), as the only Authorization header;
- bad option values are refused with exit status 2.
"""
import csv
import json
import os
import struct
import subprocess
import sys

MSS = 1448


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def csum(data, init=0):
    if len(data) & 1:
        data += b"\0"
    s = init + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        fail("pcap shorter than its header")
    magic, vmaj, vmin, _, _, snap, link = struct.unpack("<IHHiIII", data[:24])
    if magic != 0xA1B2C3D4 or (vmaj, vmin) != (2, 4) or link != 1:
        fail("bad pcap header %x %d.%d link %d" % (magic, vmaj, vmin, link))
    off, recs = 24, []
    while off < len(data):
        if off + 16 > len(data):
            fail("truncated record header at %d" % off)
        sec, usec, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        if incl != orig or incl > snap or usec >= 1000000:
            fail("bad record header at %d" % off)
        off += 16
        recs.append((sec * 1000000 + usec, data[off:off + incl]))
        off += incl
    if off != len(data):
        fail("trailing bytes")
    return recs


def parse_frame(n, frame, vlan):
    """Return (key, direction-independent flow key, tcp fields, payload)."""
    eth_type = struct.unpack("!H", frame[12:14])[0]
    p = 14
    if eth_type == 0x8100:
        tci, eth_type = struct.unpack("!HH", frame[14:18])
        if vlan is None or (tci & 0xFFF) != vlan:
            fail("frame %d: unexpected VLAN tag %d" % (n, tci & 0xFFF))
        p = 18
    elif vlan is not None:
        fail("frame %d: VLAN tag missing" % n)
    if eth_type == 0x0800:
        ip = frame[p:p + 20]
        if ip[0] != 0x45 or ip[9] != 6:
            fail("frame %d: not IPv4/TCP without options" % n)
        if csum(ip) != 0xFFFF:
            fail("frame %d: bad IPv4 header checksum" % n)
        total = struct.unpack("!H", ip[2:4])[0]
        src, dst = ip[12:16], ip[16:20]
        tcp = frame[p + 20:p + total]
        if len(tcp) != total - 20:
            fail("frame %d: IPv4 total length exceeds frame" % n)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        mss = MSS
    elif eth_type == 0x86DD:
        ip = frame[p:p + 40]
        plen, nh = struct.unpack("!HB", ip[4:7])
        if ip[0] >> 4 != 6 or nh != 6:
            fail("frame %d: not IPv6/TCP" % n)
        src, dst = ip[8:24], ip[24:40]
        tcp = frame[p + 40:p + 40 + plen]
        if len(tcp) != plen:
            fail("frame %d: IPv6 payload length exceeds frame" % n)
        pseudo = src + dst + struct.pack("!IxxxB", len(tcp), 6)
        mss = MSS - 20
    else:
        fail("frame %d: unexpected EtherType %#x" % (n, eth_type))
    if csum(pseudo + tcp) != 0xFFFF:
        fail("frame %d: bad TCP checksum" % n)
    sport, dport, seq, ack, off_flags, win = struct.unpack("!HHIIHH", tcp[:16])
    doff = (off_flags >> 12) * 4
    flags = off_flags & 0x3F
    payload = tcp[doff:]
    if len(payload) > mss:
        fail("frame %d: payload %d beyond MSS %d" % (n, len(payload), mss))
    a, b = (src, sport), (dst, dport)
    return a, b, (seq, ack, flags, win), payload


SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04


def check_flows(recs, vlan):
    flows = {}
    last_ts = 0
    for n, (ts, frame) in enumerate(recs, 1):
        if ts < last_ts:
            fail("frame %d: timestamp goes backwards" % n)
        last_ts = ts
        a, b, (seq, ack, flags, _), payload = parse_frame(n, frame, vlan)
        if flags & RST:
            fail("frame %d: RST" % n)
        key = (a, b) if (a, b) in flows else (b, a)
        if flags == SYN:
            if (a, b) in flows and not flows[(a, b)]["closed"]:
                fail("frame %d: SYN on an open connection" % n)
            flows[(a, b)] = {"next": {a: seq + 1, b: None}, "fin": set(), "closed": False,
                             "stream": {a: bytearray(), b: bytearray()}, "client": a,
                             "last_ack": {a: None, b: None}}
            continue
        f = flows.get(key)
        if f is None or f["closed"]:
            fail("frame %d: packet of an unknown connection" % n)
        nxt = f["next"]
        if flags == SYN | ACK:
            if a == f["client"] or nxt[a] is not None or ack != nxt[b]:
                fail("frame %d: bad SYN-ACK" % n)
            nxt[a] = seq + 1
            continue
        if nxt[a] is None or nxt[b] is None:
            fail("frame %d: data before the handshake completed" % n)
        if not flags & ACK:
            fail("frame %d: ACK flag missing" % n)
        if seq != nxt[a]:
            fail("frame %d: seq %d, expected %d" % (n, seq, nxt[a]))
        if ack != nxt[b]:
            # an ACK may lag behind data still in flight, never run ahead
            if (nxt[b] - ack) % 2**32 > 2**31:
                fail("frame %d: ack %d runs ahead of peer's %d" % (n, ack, nxt[b]))
        last = f["last_ack"][a]
        if last is not None and (ack - last) % 2**32 > 2**31:
            fail("frame %d: ack %d goes back from %d" % (n, ack, last))
        f["last_ack"][a] = ack
        if a in f["fin"] and (payload or flags & FIN):
            fail("frame %d: data after FIN" % n)
        f["stream"][a] += payload
        nxt[a] = (nxt[a] + len(payload) + (1 if flags & FIN else 0)) % 2**32
        if flags & FIN:
            f["fin"].add(a)
        elif len(f["fin"]) == 2 and not payload:
            if ack != nxt[b]:
                fail("frame %d: final ACK does not cover the FIN" % n)
            f["closed"] = True
    for (a, b), f in flows.items():
        if not f["closed"]:
            fail("connection %s -> %s not closed" % (a, b))
    return flows


def count_messages(flows, heads=None):
    requests = responses = 0
    for f in flows.values():
        cli = f["client"]
        for side, stream in f["stream"].items():
            data = bytes(stream)
            pos = 0
            while pos < len(data):
                end = data.find(b"\r\n\r\n", pos)
                if end < 0:
                    fail("incomplete HTTP header in stream")
                head = data[pos:end].decode("latin-1")
                first = head.split("\r\n", 1)[0]
                length = 0
                for line in head.split("\r\n")[1:]:
                    k, _, v = line.partition(":")
                    if k.lower() == "content-length":
                        length = int(v)
                if side == cli:
                    if not first.endswith(" HTTP/1.1"):
                        fail("bad request line %r" % first)
                    requests += 1
                    if heads is not None:
                        heads.append(head)
                else:
                    if not first.startswith("HTTP/1.1 "):
                        fail("bad status line %r" % first)
                    responses += 1
                pos = end + 4 + length
            if pos != len(data):
                fail("HTTP message overruns its stream")
    return requests, responses


def auth_values(head):
    return [line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:]
            if line.lower().startswith("authorization:")]


def check_bearer(exe, work, common):
    """--bearer-file: the file's token in every request that has a token, probes without."""
    token = ("eyJhbGciOiJFUzI1NiIsImtpZCI6ImJlbmNoIiwidHlwIjoiYXQrand0In0."
             "eyJpc3MiOiJodHRwczovL2lkcC5iZW5jaC50ZXN0Iiwic3ViIjoidXNyXzAwMSJ9."
             "c2lnbmF0dXJlLW9mLXRoZS1yaWdodC1sZW5ndGgtZm9yLWVzMjU2LWF0LWxlYXN0LTY0")
    tok_file = os.path.join(work, "trafgen-bearer.txt")
    with open(tok_file, "w") as f:
        f.write(token + "\n")
    out, desc = (os.path.join(work, "trafgen-bearer." + x) for x in ("pcap", "json"))
    run(exe, ["--output", out, "--seed", "42", "--describe", desc, "--bearer-file", tok_file] + common)
    with open(desc) as f:
        d = json.load(f)
    if d["options"]["bearer_file"] != tok_file or d["options"]["bearer_bytes"] != len(token):
        fail("describe does not report --bearer-file: %r" % d["options"])
    heads = []
    req, _ = count_messages(check_flows(read_pcap(out), 100), heads)
    if req != d["requests"]:
        fail("describe says %d requests, the file has %d" % (d["requests"], req))
    with_token = probes = 0
    for h in heads:
        auth = auth_values(h)
        # the generator's health probes ask for "Accept: */*" and carry no token
        if "\r\nAccept: */*" in h:
            probes += 1
            if auth:
                fail("a health probe carries a token: %r" % auth)
        elif auth != ["Bearer " + token]:
            fail("a request carries %r, not the --bearer-file token alone:\n%s" % (auth, h))
        else:
            with_token += 1
    if with_token == 0 or with_token + probes != req:
        fail("%d of %d requests carry the --bearer-file token, %d are probes" % (with_token, req, probes))
    bad = os.path.join(work, "trafgen-bearer-bad.txt")
    for content in ("", "\n", "eyJ hbGci.x.y", "abc\r\nX-Injected: 1", "=abc", "ab=c"):
        with open(bad, "w") as f:
            f.write(content)
        run(exe, ["--output", out, "--bearer-file", bad], expect=2)
    run(exe, ["--output", out, "--bearer-file", os.path.join(work, "no-such-token")], expect=2)
    return with_token


def run(exe, args, expect=0):
    p = subprocess.run([exe] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != expect:
        fail("%s %s: exit %d, expected %d\n%s" % (exe, " ".join(args), p.returncode, expect,
                                                  p.stderr.decode()))
    return p


def main():
    exe, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    a, b, c = (os.path.join(work, "trafgen-%s.pcap" % x) for x in "abc")
    desc, labels = os.path.join(work, "trafgen-a.json"), os.path.join(work, "trafgen-a.csv")
    common = ["--sessions", "150", "--requests-per-session", "1-6", "--malicious", "0.2",
              "--ipv6", "0.3", "--vlan", "100", "--concurrency", "12"]

    run(exe, ["--output", a, "--seed", "42", "--describe", desc, "--labels", labels] + common)
    run(exe, ["--output", b, "--seed", "42"] + common)
    run(exe, ["--output", c, "--seed", "43"] + common)
    with open(a, "rb") as fa, open(b, "rb") as fb, open(c, "rb") as fc:
        da, db, dc = fa.read(), fb.read(), fc.read()
    if da != db:
        fail("same seed gave different files")
    if da == dc:
        fail("different seeds gave the same file")

    recs = read_pcap(a)
    with open(desc) as f:
        d = json.load(f)
    if d["packets"] != len(recs):
        fail("describe says %d packets, file has %d" % (d["packets"], len(recs)))
    if d["bytes"] != sum(len(fr) for _, fr in recs):
        fail("describe bytes disagree with the file")
    if d["seed"] != 42 or d["options"]["vlan"] != 100:
        fail("describe options disagree with the command line")

    flows = check_flows(recs, 100)
    if len(flows) != d["sessions"] or d["sessions"] != 150:
        fail("%d connections in the file, describe says %d" % (len(flows), d["sessions"]))
    if d["sessions_ipv6"] == 0 or d["sessions_ipv4"] == 0:
        fail("expected both IPv4 and IPv6 connections")
    req, resp = count_messages(flows)
    if req != d["requests"] or resp != d["responses"] or req != resp:
        fail("requests/responses: file %d/%d, describe %d/%d" % (req, resp, d["requests"],
                                                                   d["responses"]))
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != req:
        fail("labels has %d rows for %d requests" % (len(rows), req))
    mal = sum(1 for r in rows if r["attack"] != "none")
    if mal != d["malicious_requests"] or mal == 0:
        fail("labels say %d malicious, describe %d" % (mal, d["malicious_requests"]))
    for r in rows:
        ts, frame = recs[int(r["frame"]) - 1]
        if (r["method"] + " " + r["target"]).encode() not in frame:
            fail("labels frame %s does not start request %s" % (r["frame"], r["target"]))

    check_bearer(exe, work, common)

    # bad values are refused
    out = os.path.join(work, "trafgen-bad.pcap")
    for bad in (["--sessions", "0"], ["--sessions", "12x"], ["--malicious", "1.5"],
                ["--ipv6", "nan"], ["--vlan", "4095"], ["--mss", "abc"],
                ["--requests-per-session", "5-2"], ["--client-net", "198.18.0.0/31"],
                ["--server-addr", "198.19.0.300"], ["--client-mac", "01:00:5e:00:00:01"],
                ["--seed", "-1"], ["--body-size", "99999999999999999999"]):
        run(exe, ["--output", out] + bad, expect=2)
    run(exe, ["--sessions", "1"], expect=2)
    run(exe, ["--help"], expect=0)
    print("ok: %d packets, %d connections, %d requests (%d malicious), deterministic"
          % (len(recs), len(flows), req, mal))


if __name__ == "__main__":
    main()
