#!/usr/bin/python3
"""Regenerate the seed corpora of the fuzz targets (tests/fuzz/corpus/).

    /usr/bin/python3 tests/fuzz/make_corpus.py

Debian's python3 has scapy (python3-scapy); the seeds are committed, so the
build never runs this. Decode seeds are Ethernet frames; HTTP seeds carry the
five steering bytes fuzz_http.c documents, then request bytes, then response
bytes. Files named regress_* are inputs that once broke a target, kept as they
were found (minimised); this script leaves them alone.
"""
import os
import struct
import sys

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1AD, Dot1Q, Ether, ICMPv6EchoRequest,
                       ICMPv6ND_NS, IPOption_NOP, IPOption_RR, IPv6, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrSegmentRouting, Raw)

HERE = os.path.dirname(os.path.abspath(__file__))
MACS = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
A4, B4 = "192.0.2.10", "198.51.100.20"
A6, B6 = "2001:db8::10", "2001:db8:1::20"
GET = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: seed\r\n\r\n"
TCP_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]


def decode_seeds():
    eth = Ether(**MACS)
    return {
        "tcp4_syn": eth / IP(src=A4, dst=B4) / TCP(sport=40000, dport=80, flags="S", seq=1,
                                                   options=TCP_OPTS),
        "tcp4_http_get": eth / IP(src=A4, dst=B4) / TCP(sport=40000, dport=80, flags="PA",
                                                        seq=2, ack=7) / GET,
        # 54 bytes plus the link padding a NIC adds up to 60
        "tcp4_fin_padded": bytes(eth / IP(src=A4, dst=B4) / TCP(sport=40000, dport=80, flags="FA"))
                           + b"\x00" * 6,
        "tcp4_ip_options": eth / IP(src=A4, dst=B4, options=[IPOption_NOP(), IPOption_RR()])
                           / TCP(sport=1024, dport=443, flags="A"),
        "tcp6_ext_headers": eth / IPv6(src=A6, dst=B6) / IPv6ExtHdrHopByHop()
                            / IPv6ExtHdrDestOpt() / TCP(sport=40000, dport=8080, flags="PA") / GET,
        "tcp6_segment_routing": eth / IPv6(src=A6, dst=B6)
                                / IPv6ExtHdrSegmentRouting(addresses=[B6], segleft=0)
                                / TCP(sport=40000, dport=80, flags="SA", options=TCP_OPTS),
        "tcp6_first_fragment": eth / IPv6(src=A6, dst=B6)
                               / IPv6ExtHdrFragment(m=1, offset=0, id=7)
                               / TCP(sport=40000, dport=80, flags="PA") / (b"x" * 60),
        "ipv4_later_fragment": eth / IP(src=A4, dst=B4, proto=6, flags="MF", frag=3)
                               / Raw(b"y" * 24),
        "vlan_udp4": eth / Dot1Q(vlan=100, prio=5) / IP(src=A4, dst=B4)
                     / UDP(sport=5353, dport=53) / (b"\x12\x34\x01\x00" + b"\x00" * 8),
        "qinq_tcp6": eth / Dot1AD(vlan=10) / Dot1Q(vlan=20) / IPv6(src=A6, dst=B6)
                     / TCP(sport=40000, dport=80, flags="PA", seq=5, ack=9) / GET,
        "qinq_icmp6_echo": eth / Dot1AD(vlan=10) / Dot1Q(vlan=20) / IPv6(src=A6, dst=B6)
                           / ICMPv6EchoRequest(id=77, data=b"ping"),
        "icmp6_neighbor_solicit": eth / IPv6(src="fe80::1", dst="ff02::1:ff00:20", hlim=255)
                                  / ICMPv6ND_NS(tgt=B6),
        "icmp4_echo": eth / IP(src=A4, dst=B4) / ICMP(id=9, seq=1) / b"ping",
        "arp_request": Ether(src=MACS["src"], dst="ff:ff:ff:ff:ff:ff")
                       / ARP(psrc=A4, pdst="192.0.2.1", hwsrc=MACS["src"]),
        "lldp_other_ethertype": Ether(src=MACS["src"], dst="01:80:c2:00:00:0e", type=0x88cc)
                                / Raw(b"\x02\x07\x04" + b"\x00" * 30),
    }


def http_seed(request, response, req_cut=0x80, resp_cut=0x80, mode=0):
    return struct.pack("<HBBB", len(request), req_cut, resp_cut, mode) + request + response


SMALL, INTERLEAVE, CLOSE, BYTEWISE, STOP, TIGHT = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def http_seeds():
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
    return {
        "get_200": http_seed(GET, ok),
        "get_bytewise": http_seed(GET, ok, mode=BYTEWISE),
        "post_chunked": http_seed(
            b"POST /api/items HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: application/json\r\n\r\n"
            b"7;ext=1\r\n{\"a\":1}\r\n3\r\n,{}\r\n0\r\nX-Trailer: t\r\n\r\n",
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4\r\nmade\r\n0\r\n\r\n", req_cut=0x60, resp_cut=0x30),
        "pipelined": http_seed(
            b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"
            b"GET /c HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\"\r\nConnection: close\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
            b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", req_cut=0x40, resp_cut=0xc0),
        "pipelined_interleaved": http_seed(
            b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            mode=INTERLEAVE),
        "response_until_close": http_seed(
            b"GET /old HTTP/1.0\r\nHost: h\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>body until close</html>",
            mode=CLOSE),
        "expect_continue": http_seed(
            b"PUT /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
            b"data",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        "websocket_upgrade": http_seed(
            b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02hi"),
        "connect_tunnel": http_seed(
            b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n\x16\x03\x01",
            b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03"),
        "smuggle_cl_te": http_seed(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\nG", b""),
        "many_headers_small_limits": http_seed(
            b"GET /" + b"p" * 40 + b" HTTP/1.1\r\nHost: h\r\n"
            + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * (i * 7)) for i in range(10)) + b"\r\n",
            b"", mode=SMALL),
        "stop_at_fourth_event": http_seed(
            b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n"
            b"Host: h\r\n\r\n", ok + ok, req_cut=0x83, mode=STOP),
        "split_heads_tight_pool": http_seed(GET, ok, req_cut=0x40, resp_cut=0x40, mode=TIGHT),
        "absolute_form_and_bad_bytes": http_seed(
            b"GET http://example.test/a?b=c HTTP/1.1\r\nHost: example.test\r\n"
            b"X-Fold: a\r\n b\r\nX-Bare: c\nX-Nul: d\x00\r\n\r\n", b""),
    }


def write(dirname, seeds):
    path = os.path.join(HERE, "corpus", dirname)
    os.makedirs(path, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(path, name), "wb") as f:
            f.write(bytes(data))
    print(f"{path}: {len(seeds)} seeds")


def main():
    write("decode", decode_seeds())
    write("http", http_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
