#!/usr/bin/python3
"""ztgate pipeline cases: each builds a pcap, runs ztgate on net_pcap and checks
the output pcap packet by packet and the counters.

Usage: cases.py ZTGATE CASE [--trafgen ZTG_TRAFGEN]   (meson registers one test per case)
"""
import argparse
import json
import os
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


def request(method, path, host='api.example', body=b''):
    head = '%s %s HTTP/1.1\r\nHost: %s\r\n' % (method, path, host)
    if body:
        head += 'Content-Length: %d\r\n' % len(body)
    return head.encode() + b'\r\n' + body


def one_request(client, server, raw, sport, dport=80):
    """A connection carrying one request: the packets, and the request's segment."""
    t = TcpSession(client, server, sport=sport, dport=dport)
    return t.handshake() + [t.c('PA', raw)]


def policy_events(r):
    return {(e['flow']['src_port']): e for e in events_of(r)}


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
    events = policy_events(r)
    for sport, raw, want in cases:
        e = events.get(sport)
        if want is None:
            if e is not None:
                r.fail('%r: expected no event, got %s' % (raw, e))
            continue
        action, reason, route, mode = want
        got = (e['action'], e['reason'], e['route'], e['mode']) if e else None
        if got != (action, reason, route, mode):
            r.fail('%r: expected event %s, got %s' % (raw, want, e))
        if reason != 'unknown_host' and e['service'] != 'orders-api' or e['segment'] != 'clients':
            r.fail('%r: event places the request wrongly: %s' % (raw, e))
    r.expect_totals(policy_allowed=4, policy_denied=4, policy_monitored=1, verdicts_deny=3, verdicts_reset=1)
    r.expect_drops({'policy_denied': 4})
    # Every allowed or monitored request reached the server: 9 connections x 3 handshake packets + 5.
    forwarded_payloads = [bytes(tcp_of(f).payload) for f in r.forwarded if tcp_of(f).payload]
    for sport, raw, want in cases:
        if (want is None or want[3] == 'monitor') != (raw in forwarded_payloads):
            r.fail('%r: forwarded %s, expected %s' % (raw, raw in forwarded_payloads,
                                                      want is None or want[3] == 'monitor'))


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
            ['-p', '0:1', '--policy', allow, '--control-socket', sock, '--duration', '4',
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
