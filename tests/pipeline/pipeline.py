"""Pipeline test harness: pcap in, ztgate on net_pcap, pcap out.

One run feeds every input packet to port 0 (both directions of a session in
capture order: flows are tracked by canonical endpoints, not by port) and
expects whatever is forwarded on port 1, byte-identical and in order, with
nothing reflected back out of port 0. Counters come from --stats-json.

Packets are built with scapy (Debian's python3-scapy, hence /usr/bin/python3).
"""
import json
import os
import socket
import subprocess
import tempfile

from scapy.all import (DLT_EN10MB, IP, TCP, Dot1AD, Dot1Q, Ether, IPv6, Raw, RawPcapReader,
                       RawPcapWriter)

# Every case's ztgate run ends by itself this long after the last packet.
IDLE_MS = 300
# Seconds before a run that did not end is killed and the case fails.
RUN_TIMEOUT = 30

MAC_CLIENT = '02:00:00:00:00:01'
MAC_SERVER = '02:00:00:00:00:02'


class Ztgate:
    """Runs one ztgate binary; every run gets its own directory and EAL file prefix."""

    def __init__(self, exe):
        self.exe = exe
        self.runs = 0

    def arguments(self, options, vdevs=(), memory_mb=256, lcores=('-l', '0-1'), telemetry=False):
        """The command line of one run, and its EAL file prefix. telemetry=True leaves EAL's
        telemetry socket on (dpdk_telemetry.v2 in the prefix's runtime directory)."""
        self.runs += 1
        prefix = 'ztgpipe%d_%d' % (os.getpid(), self.runs)
        args = [self.exe] + list(lcores) + ['-m', str(memory_mb), '--no-pci', '--no-shconf'] + \
            ([] if telemetry else ['--no-telemetry']) + ['--file-prefix', prefix, '--log-level=lib.eal:warning']
        for vdev in vdevs:
            args += ['--vdev', vdev]
        return args + ['--'] + list(options), prefix

    def execute(self, options, vdevs=(), memory_mb=256, lcores=('-l', '0-1')):
        """Run ztgate to its end. Returns (exit code, command line and output)."""
        args, prefix = self.arguments(options, vdevs, memory_mb, lcores)
        try:
            p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            raise AssertionError('ztgate did not exit within %ds: %s\n%s' % (RUN_TIMEOUT, ' '.join(args), e.output))
        finally:
            remove_runtime_dir(prefix)
        return p.returncode, '$ %s\n%s' % (' '.join(args), p.stdout)

    def command(self, options):
        """ztgate without ports or traffic, for option checks: (exit code, output)."""
        return self.execute(options, memory_mb=32)

    def run(self, packets, *options):
        """Forward packets (bytes or scapy) through port 0 -> 1. Returns a Result."""
        with tempfile.TemporaryDirectory(prefix='ztg-pipeline-') as tmp:
            path = lambda name: os.path.join(tmp, name)
            frames = [bytes(p) for p in packets]
            with RawPcapWriter(path('in.pcap'), linktype=DLT_EN10MB) as pcap:
                for frame in frames:
                    pcap.write(frame)
            vdevs = ['net_pcap0,rx_pcap=%s,tx_pcap=%s' % (path('in.pcap'), path('out0.pcap')),
                     'net_pcap1,tx_pcap=%s' % path('out1.pcap')]
            rc, log = self.execute(['-p', '0:1', '--exit-on-idle', str(IDLE_MS),
                                    '--stats-json', path('stats.json')] + list(options), vdevs)
            if rc != 0 or not os.path.exists(path('stats.json')):
                raise AssertionError('ztgate exited %d without stats\n%s' % (rc, log))
            with open(path('stats.json')) as f:
                stats = json.load(f)
            return Result(frames, read_pcap(path('out1.pcap')), read_pcap(path('out0.pcap')), stats, log)



def control(sock, *argv, timeout=5):
    """One control socket request (control_socket.h), answered within timeout seconds: (status, body)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock)
        s.sendall(('\n'.join(argv) + '\n\n').encode())
        data = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.decode().partition('\n')
    return int(head.split()[1]), body

def remove_runtime_dir(prefix):
    """EAL leaves an empty run directory per file prefix, even with --no-shconf."""
    base = '/var/run' if os.getuid() == 0 else os.environ.get('XDG_RUNTIME_DIR', '/tmp')
    try:
        os.rmdir(os.path.join(base, 'dpdk', prefix))
    except OSError:
        pass


def read_pcap(path):
    return [bytes(data) for data, _ in RawPcapReader(path)]


class Result:
    def __init__(self, sent, forwarded, reflected, stats, log):
        self.sent = sent
        self.forwarded = forwarded
        self.reflected = reflected
        self.stats = stats
        self.totals = stats['totals']
        self.log = log

    def fail(self, message):
        raise AssertionError('%s\n--- ztgate output ---\n%s' % (message, self.log))

    def expect_forwarded(self, expected):
        """Exactly these packets (bytes or scapy), in order, on port 1; none on port 0."""
        expected = [bytes(p) for p in expected]
        if self.reflected:
            self.fail('%d packet(s) came back out of port 0; first: %s' %
                      (len(self.reflected), describe(self.reflected[0])))
        for i, (want, got) in enumerate(zip(expected, self.forwarded)):
            if want != got:
                self.fail('forwarded packet %d differs\n  expected: %s\n  got:      %s' %
                          (i, describe(want), describe(got)))
        if len(expected) != len(self.forwarded):
            extra = expected[len(self.forwarded):] or self.forwarded[len(expected):]
            self.fail('expected %d forwarded packets, got %d; first unmatched (%s): %s' %
                      (len(expected), len(self.forwarded),
                       'missing' if len(expected) > len(self.forwarded) else 'unexpected',
                       describe(extra[0])))

    def expect_totals(self, **expected):
        """Named counters of totals equal these values."""
        wrong = {k: (v, self.totals.get(k)) for k, v in expected.items() if self.totals.get(k) != v}
        if wrong:
            self.fail('counters differ (name: expected, got): %s' % wrong)

    def expect_requests(self, expected):
        """The stats' labelled request counts are exactly `expected`:
        {(service, route, verdict, reason): count}, empty names for no service or no route."""
        got = {(q['service'], q['route'], q['verdict'], q['reason']): q['count'] for q in self.stats['requests']}
        if got != expected:
            self.fail('requests by label differ:\n  expected %s\n  got      %s' % (sorted(expected.items()),
                                                                                sorted(got.items())))

    def expect_drops(self, expected):
        """totals.drops is exactly `expected`, every other reason zero, dropped is their sum."""
        drops = self.totals['drops']
        unknown = set(expected) - set(drops)
        if unknown:
            self.fail('no such drop reason(s) in stats: %s' % sorted(unknown))
        wrong = {k: (expected.get(k, 0), v) for k, v in drops.items() if v != expected.get(k, 0)}
        if wrong:
            self.fail('drops differ (reason: expected, got): %s' % wrong)
        self.expect_totals(dropped=sum(expected.values()))

    def expect_clean_pass(self, packets):
        """Everything forwarded unchanged, nothing dropped."""
        self.expect_forwarded(packets)
        self.expect_drops({})
        self.expect_totals(rx_packets=len(packets), tx_packets=len(packets))


def describe(frame):
    return '%d bytes %s | %s' % (len(frame), Ether(frame).summary(), frame[:64].hex())


# ---- packet building ----------------------------------------------------------------------

def link(vlans=(), src=MAC_CLIENT, dst=MAC_SERVER):
    """Ethernet with VLAN tags, outer first: (100,) is 802.1Q, (10, 100) is 802.1ad + 802.1Q."""
    layer = Ether(src=src, dst=dst)
    for i, vid in enumerate(vlans):
        outer = i == 0 and len(vlans) > 1
        layer = layer / (Dot1AD(vlan=vid) if outer else Dot1Q(vlan=vid))
    return layer


def ip(src, dst, **fields):
    """IPv4 or IPv6 by the address family."""
    return IPv6(src=src, dst=dst, **fields) if ':' in src else IP(src=src, dst=dst, **fields)


class TcpSession:
    """Both directions of one TCP connection with consistent sequence numbers.

    c() and s() build the client's and the server's next segment (scapy flag
    strings) and account for SYN, FIN and data in the sequence space, so a
    test can also make segments that are wrong for the state.
    """

    def __init__(self, client, server, sport=40000, dport=80, vlans=(), isn=(1000, 5000)):
        self.ends = [(client, sport, MAC_CLIENT), (server, dport, MAC_SERVER)]
        self.vlans = vlans
        self.seq = list(isn)

    def segment(self, sender, flags, data=b'', advance=True):
        """Next segment from endpoint sender (0 client, 1 server); advance=False for one the
        device is expected to drop, which the receiver never sees either."""
        (src, sport, smac), (dst, dport, dmac) = self.ends[sender], self.ends[sender ^ 1]
        ack = self.seq[sender ^ 1] if 'A' in flags else 0
        pkt = (link(self.vlans, smac, dmac) / ip(src, dst) /
               TCP(sport=sport, dport=dport, flags=flags, seq=self.seq[sender], ack=ack, window=65535))
        if data:
            pkt = pkt / Raw(data)
        if advance:
            self.seq[sender] += len(data) + ('S' in flags) + ('F' in flags)
        return bytes(pkt)

    def c(self, flags, data=b''):
        return self.segment(0, flags, data)

    def s(self, flags, data=b''):
        return self.segment(1, flags, data)

    def handshake(self):
        return [self.c('S'), self.s('SA'), self.c('A')]

    def exchange(self, request=b'GET /api/v1/items HTTP/1.1\r\nHost: api.example\r\n\r\n',
                 response=b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world'):
        return [self.c('PA', request), self.s('A'), self.s('PA', response), self.c('A')]

    def close(self):
        return [self.c('FA'), self.s('A'), self.s('FA'), self.c('A')]

    def complete(self):
        """Handshake, one HTTP request and response, FIN both ways, last ACK: 11 packets."""
        return self.handshake() + self.exchange() + self.close()
