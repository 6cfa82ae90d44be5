#!/usr/bin/python3
"""ztgate pipeline cases for packet capture: ztgatectl capture (the packets of denied flows, as
pcapng) while ztgate runs on net_pcap, and dpdk-dumpcap attached to a running ztgate (rte_pdump).

Usage: capture_cases.py ZTGATE CASE --ztgatectl ZTGATECTL   (meson registers one test per case)
"""
import contextlib
import fcntl
import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

from scapy.all import DLT_EN10MB, RawPcapReader, RawPcapWriter, rdpcap

import cases
from cases import POLICY, V4, case, fragment_frame, request, udp
from pipeline import TcpSession, control, remove_runtime_dir

# Seconds to wait for ztgate to start, for counters to reach what was sent, for a CLI to end.
SETTLE = 15
# The worker's rx poll blocks inside the named pipe's read while it is empty, and it reads the capture
# in force between two polls: a packet every HEARTBEAT seconds keeps the polls going, as live traffic
# would. It is allowed traffic (outside the policy), so never captured.
HEARTBEAT = 0.05
KICK = bytes(udp('192.0.2.77', '198.51.100.99', sport=9999, dport=9999, data=b'heartbeat'))


class Skip(Exception):
    """Something outside ztgate makes the case impossible here: exit 77 (meson: skipped)."""



def wait_for(what, poll, done, seconds=SETTLE):
    """poll() until done(its value): the last value."""
    deadline = time.time() + seconds
    while True:
        value = poll()
        if done(value):
            return value
        if time.time() > deadline:
            raise AssertionError('%s: still %s after %ds' % (what, value, seconds))
        time.sleep(0.05)


class PipeFeed:
    """net_pcap0's rx_pcap as a named pipe: packets reach ztgate when written, between heartbeats."""

    def __init__(self, path, proc):
        deadline = time.time() + SETTLE
        while True:
            try:    # a writer may open only once ztgate opened its end (probing net_pcap0)
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise AssertionError('ztgate never opened %s (exit %s)' % (path, proc.poll()))
                time.sleep(0.05)
        fcntl.fcntl(fd, fcntl.F_SETFL, 0)
        self.file = os.fdopen(fd, 'wb')
        self.writer = RawPcapWriter(self.file, linktype=DLT_EN10MB)
        self.lock = threading.Lock()
        self.sent = 0           # packets written so far, heartbeats included
        self.stopping = threading.Event()
        self.send([])           # the file header: ztgate's start goes on
        self.heart = threading.Thread(target=self.beat, daemon=True)
        self.heart.start()

    def send(self, frames):
        with self.lock:
            if not frames:
                self.writer._write_header(None)
            for frame in frames:
                self.writer._write_packet(bytes(frame))
            self.sent += len(frames)
            self.file.flush()

    def beat(self):
        while not self.stopping.wait(HEARTBEAT):
            self.send([KICK])

    def close(self):
        self.stopping.set()
        self.heart.join()
        self.file.close()


@contextlib.contextmanager
def running_on_pipes(zt, tmp, options, pairs=1, lcores=None):
    """ztgate on net_pcap, `pairs` port pairs: port 2i reads the pipe in<2i>.pipe (in.pipe for one
    pair), every port writes a pcap (out<port>.pcap); from its ready file to the end of the block,
    then SIGTERM, and it must exit 0. Yields (feeds, path of its log), a feed per pair."""
    path = lambda name: os.path.join(tmp, name)
    pipes = ['in.pipe'] if pairs == 1 else ['in%d.pipe' % (2 * i) for i in range(pairs)]
    vdevs = []
    for i, pipe in enumerate(pipes):
        os.mkfifo(path(pipe))
        vdevs += ['net_pcap%d,rx_pcap=%s,tx_pcap=%s' % (2 * i, path(pipe), path('out%d.pcap' % (2 * i))),
                  'net_pcap%d,tx_pcap=%s' % (2 * i + 1, path('out%d.pcap' % (2 * i + 1)))]
    argv, prefix = zt.arguments(list(options) + ['--burst', '1', '--duration', '120', '--ready-file', path('ready')],
                                vdevs, **({'lcores': lcores} if lcores else {}))
    log = open(path('ztgate.log'), 'w+')
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True)
    feeds = []
    try:
        for pipe in pipes:
            feeds.append(PipeFeed(path(pipe), proc))
        wait_for('ready file', lambda: os.path.exists(path('ready')) or proc.poll() is not None, bool)
        if proc.poll() is not None:
            raise AssertionError('ztgate exited %d before it was ready\n$ %s' % (proc.returncode, ' '.join(argv)))
        yield feeds, path('ztgate.log')
        proc.send_signal(signal.SIGTERM)
        while feeds:
            feeds.pop().close()
        proc.wait(timeout=60)
    finally:
        while feeds:
            feeds.pop().close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        remove_runtime_dir(prefix)
        log.seek(0)
        text = log.read()
        log.close()
    if proc.returncode != 0:
        raise AssertionError('ztgate exited %d\n$ %s\n%s' % (proc.returncode, ' '.join(argv), text))


@contextlib.contextmanager
def running_on_pipe(zt, tmp, options):
    """running_on_pipes with one pair: yields (feed, path of its log)."""
    with running_on_pipes(zt, tmp, options) as (feeds, log):
        yield feeds[0], log


def read_pcapng(path):
    """The Enhanced Packet Blocks of a pcapng file: (interface, direction, nanoseconds, data), direction
    'in', 'out' or None. Interfaces are ztgate's ports in order (rte_pcapng writes one per port)."""
    with open(path, 'rb') as f:
        data = f.read()
    blocks, at = [], 0
    while at < len(data):
        kind, length = struct.unpack_from('<II', data, at)
        if kind == 6:
            interface, high, low, captured, _ = struct.unpack_from('<IIIII', data, at + 8)
            options, direction = at + 28 + (captured + 3) // 4 * 4, None
            while options < at + length - 4:
                code, size = struct.unpack_from('<HH', data, options)
                if code == 0:
                    break
                if code == 2:   # epb_flags: the direction in the low two bits
                    direction = {1: 'in', 2: 'out'}.get(struct.unpack_from('<I', data, options + 4)[0] & 3)
                options += 4 + (size + 3) // 4 * 4
            blocks.append((interface, direction, high << 32 | low, data[at + 28:at + 28 + captured]))
        at += length
    return blocks


def stats(sock):
    rc, body = control(sock, 'stats', '--json')
    if rc != 0:
        raise AssertionError('stats exited %d: %s' % (rc, body))
    return json.loads(body)['totals']


def traffic(base):
    """One sequence from client ports base on: an allowed connection and one to a monitored route
    around four denied flows: no route (403 and RST; the client's FIN after it is answered with a
    RST), a reset route (RST both ways), a guest's SYN refused by segment, a request in two IP
    fragments denied once reassembled (403 and RST). Returns the sequence and the packets of denied
    flows in it from the verdict on."""
    a, m = TcpSession(*V4, sport=base), TcpSession(*V4, sport=base + 1)
    d, r = TcpSession(*V4, sport=base + 10), TcpSession(*V4, sport=base + 11)
    guest, f = TcpSession('192.0.2.200', V4[1], sport=base + 12), TcpSession(*V4, sport=base + 13)
    allowed = a.handshake() + a.exchange(request('GET', '/api/v1/orders/7')) + a.close()
    monitored = m.handshake() + m.exchange(request('GET', '/beta/new-checkout')) + m.close()
    d_open = d.handshake()
    deny = d.segment(0, 'PA', request('GET', '/nowhere'), advance=False)
    straggler = d.c('FA')
    r_open = r.handshake()
    reset = r.segment(0, 'PA', request('GET', '/admin/users'), advance=False)
    syn = guest.c('S')
    f_open = f.handshake()
    pieces = fragment_frame(f.segment(0, 'PA', request('GET', '/nowhere/in/pieces'), advance=False), [32], 61)
    sequence = (allowed[:3] + d_open + allowed[3:5] + [deny] + allowed[5:] + r_open + monitored[:4] +
                [reset, straggler] + monitored[4:] + [syn] + f_open + pieces)
    return sequence, [deny, straggler, reset, syn] + pieces


@case('capture')
def capture(zt, args):
    """ztgatectl capture against a ztgate fed live through a pipe: the pcapng holds exactly the
    packets of the denied flows (the requests stopped, whole or in fragments, the 403s and RSTs
    injected, a straggler and its RST, a SYN refused by segment) with their ports and directions, none of allowed or
    monitored flows nor of a flow denied before the capture; --count ends a capture by itself,
    Ctrl-C stops one cleanly; the CLI's and ztgate's refusals."""
    ctl = os.path.abspath(args.ztgatectl)   # one run below is from another directory
    with tempfile.TemporaryDirectory(prefix='ztg-capture-') as tmp:
        path = lambda name: os.path.join(tmp, name)
        sock = path('ztgate.sock')
        sequence, denied = traffic(46000)
        with running_on_pipe(zt, tmp, ['-p', '0:1', '--policy', POLICY, '--control-socket', sock,
                                       '--event-log', path('events.json')]) as (feed, log):
            with open(log) as f:
                startup = f.read()
            if 'dpdk-dumpcap    = off: --no-shconf' not in startup:
                raise AssertionError('ztgate should say why dpdk-dumpcap cannot attach (--no-shconf):\n' + startup)
            # Denied before any capture: none of it may appear.
            early = TcpSession(*V4, sport=45999)
            feed.send(early.handshake() + [early.segment(0, 'PA', request('GET', '/nowhere'), advance=False)])
            wait_for('the early denial', lambda: stats(sock)['policy_denied'], lambda n: n == 1)

            # 1. Through the control socket: start, the traffic, stop.
            rc, body = control(sock, 'capture', 'start', path('denied.pcapng'))
            if rc != 0 or 'capturing the packets of denied flows into' not in body:
                raise AssertionError('capture start exited %d: %s' % (rc, body))
            rc, body = control(sock, 'capture', 'start', path('again.pcapng'))
            if rc != 1 or 'already runs' not in body or os.path.exists(path('again.pcapng')):
                raise AssertionError('a second capture start should be refused (exit 1): %d %s' % (rc, body))
            time.sleep(5 * HEARTBEAT)       # the worker has polled since: it copies from now on
            wall_start = time.time_ns()
            feed.send(sequence)
            through = feed.sent
            wait_for('the traffic received', lambda: stats(sock)['rx_packets'], lambda n: n >= through)
            rc, body = control(sock, 'capture', 'status')
            if rc != 0 or 'running for' not in body:
                raise AssertionError('capture status while running: %d %s' % (rc, body))
            # Stopping waits for the worker to finish the round it is in: every copy is written.
            rc, body = control(sock, 'capture', 'stop', '--json')
            wall_end = time.time_ns()
            if rc != 0:
                raise AssertionError('capture stop exited %d: %s' % (rc, body))
            summary = json.loads(body)
            rc, body = control(sock, 'capture', 'status')
            if rc != 1 or 'none running' not in body:
                raise AssertionError('capture status after stop: expected exit 1, got %d %s' % (rc, body))

            # 2. ztgatectl capture --count 2 ends by itself after the first two packets of a denied flow.
            cli = subprocess.Popen([ctl, '--socket', sock, 'capture', '--output', path('count.pcapng'),
                                    '--count', '2'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_for('capture --count running', lambda: control(sock, 'capture', 'status')[0], lambda rc: rc == 0)
            time.sleep(5 * HEARTBEAT)
            late = TcpSession(*V4, sport=46100)
            late_request = late.segment(0, 'PA', request('GET', '/nowhere'), advance=False)
            feed.send(late.handshake() + [late_request])
            out, err = cli.communicate(timeout=SETTLE)
            if cli.returncode != 0 or 'capture count reached: 2 packets' not in out:
                raise AssertionError('capture --count 2 exited %d\nstdout: %s\nstderr: %s' % (cli.returncode, out, err))

            # 3. Ctrl-C stops a capture that had nothing to write: a valid file without packets.
            cli = subprocess.Popen([ctl, '--socket', sock, '--json', 'capture', '--output', 'interrupted.pcapng'],
                                   cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_for('capture running', lambda: control(sock, 'capture', 'status')[0], lambda rc: rc == 0)
            cli.send_signal(signal.SIGINT)
            out, err = cli.communicate(timeout=SETTLE)
            if cli.returncode != 0 or json.loads(out)['state'] != 'stopped' or \
                    json.loads(out)['file'] != os.path.realpath(path('interrupted.pcapng')):
                raise AssertionError('capture after Ctrl-C exited %d\nstdout: %s\nstderr: %s' %
                                     (cli.returncode, out, err))

            # 4. What the CLI and ztgate refuse.
            for argv, status, needle in [
                    (['capture'], 2, '--output FILE is needed'),
                    (['capture', '--output', path('x.pcapng'), '--count', 'many'], 2, 'expected a positive number'),
                    (['capture', '--output', path('x.pcapng'), '--snaplen', '10'], 2,
                     '--snaplen 10: expected a number in 64..9216'),
                    (['capture', '--output', path('no/such/dir/x.pcapng')], 1, 'No such file or directory'),
                    (['capture', 'status'], 1, 'none running'),
                    (['capture', 'bogus'], 2, "unexpected argument 'bogus'")]:
                r = subprocess.run([ctl, '--socket', sock] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, timeout=SETTLE)
                if r.returncode != status or needle not in r.stdout + r.stderr:
                    raise AssertionError('ztgatectl %s: expected exit %d and %r, got %d\n%s%s' %
                                         (' '.join(argv), status, needle, r.returncode, r.stdout, r.stderr))
            final = stats(sock)

        blocks = read_pcapng(path('denied.pcapng'))
        scapy_view = [bytes(p) for p in rdpcap(path('denied.pcapng'))]
        reflected = [bytes(d) for d, _ in RawPcapReader(path('out0.pcap'))]
        forwarded = [bytes(d) for d, _ in RawPcapReader(path('out1.pcap'))]
        counted = [d for _, _, _, d in read_pcapng(path('count.pcapng'))]
        interrupted = read_pcapng(path('interrupted.pcapng'))

    # What ztgate injected for the flows denied during the capture: out of port 0 to clients, out of
    # port 1 to servers (there, what was not sent).
    sent = set(sequence + early.handshake() + late.handshake() + [KICK, late_request])
    ports = {tcp_port(f) for f in denied} - {None}
    want = [(0, 'in', f) for f in denied] + [(0, 'out', f) for f in reflected if tcp_port(f) in ports] + \
        [(1, 'out', f) for f in forwarded if f not in sent and tcp_port(f) in ports]
    got = [(interface, direction, data) for interface, direction, _, data in blocks]
    if sorted(got) != sorted(want):
        missing, extra = [w for w in want if w not in got], [g for g in got if g not in want]
        raise AssertionError('the capture is not exactly the denied flows\' packets: %d missing, %d extra\n'
                             'missing: %s\nextra: %s' % (len(missing), len(extra), missing[:3], extra[:3]))
    if len(want) != len(denied) + 7:
        raise AssertionError('expected %d denied packets and 7 injected frames, found %d' % (len(denied), len(want)))
    if scapy_view != [d for _, _, d in got]:
        raise AssertionError('scapy reads other packets than the blocks hold')
    # Per flow, the packet a verdict stopped it at comes before what ztgate injected for it.
    for port in ports:
        flow = [direction for _, direction, data in got if tcp_port(data) == port]
        if flow[0] != 'in':
            raise AssertionError('flow from port %d: the denied packet should come first: %s' % (port, flow))
    if any(not wall_start - 10**9 <= ns <= wall_end + 10**9 for _, _, ns, _ in blocks):
        raise AssertionError('timestamps outside the capture: %s not in [%d, %d]' %
                             ([ns for _, _, ns, _ in blocks], wall_start, wall_end))
    if (summary['state'], summary['packets'], summary['dropped']) != ('stopped', len(blocks), 0):
        raise AssertionError('capture stop summary: %s (the file holds %d packets)' % (summary, len(blocks)))
    late_deny = [f for f in reflected if tcp_port(f) == 46100]
    if counted != [late_request] + late_deny:
        raise AssertionError('capture --count 2: expected the request and its 403, got %d packets' % len(counted))
    if interrupted:
        raise AssertionError('the interrupted capture should hold no packet, holds %d' % len(interrupted))
    # The late flow's RST to its server was copied too, and not written: --count said 2.
    if (final['capture_packets'], final['capture_dropped']) != (len(blocks) + 3, 0):
        raise AssertionError('capture counters: %s' % {k: final[k] for k in ('capture_packets', 'capture_dropped')})
    print('ok capture: %d packets of the 5 flows denied (%d received, %d injected), none of the other %d sent; '
          '--count, Ctrl-C and refusals' % (len(blocks), len(denied), len(blocks) - len(denied),
                                             len(sequence) - len(denied)))


def tcp_port(frame):
    """The client's port of an untagged IPv4 TCP frame, either way (servers listen on 80); None for a
    fragment without the TCP header."""
    if struct.unpack_from('>H', frame, 20)[0] & 0x1fff:
        return None
    sport, dport = struct.unpack_from('>HH', frame, 34)
    return dport if sport == 80 else sport


DUMPCAP = '/usr/bin/dpdk-dumpcap'
HUGEPAGE_DIR = '/dev/hugepages'
HUGEPAGE_POOL = '/proc/sys/vm/nr_hugepages'
# Free 2 MiB hugepages ztgate (about 46 with its default pools) and dpdk-dumpcap's ring and pool take
# together, with room.
HUGEPAGES = 96


def meminfo(field):
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


@contextlib.contextmanager
def hugepages(pages):
    """At least `pages` free 2 MiB hugepages on /dev/hugepages for the block: what is missing is reserved
    (root only) and given back after, unless someone changed the pool meanwhile. Skip says why not."""
    if not os.path.exists(DUMPCAP):
        raise Skip('%s is not installed (Debian package dpdk-dev)' % DUMPCAP)
    if meminfo('Hugepagesize') != 2048 or not os.path.ismount(HUGEPAGE_DIR):
        raise Skip('no hugetlbfs of 2 MiB pages at %s (platform/hugepages.sh sets one up)' % HUGEPAGE_DIR)
    free, before, reserved = meminfo('HugePages_Free'), None, None
    if free < pages:
        if os.getuid() != 0:
            raise Skip('%d free 2 MiB hugepages of the %d needed, and only root may reserve more' % (free, pages))
        with open(HUGEPAGE_POOL) as f:
            before = int(f.read())
        with open(HUGEPAGE_POOL, 'w') as f:
            f.write('%d\n' % (before + pages - free))
        with open(HUGEPAGE_POOL) as f:
            reserved = int(f.read())      # what the kernel could give
    try:
        free = meminfo('HugePages_Free')
        if free < pages:
            raise Skip('only %d of the %d hugepages needed could be had (memory fragmented?)' % (free, pages))
        yield
    finally:
        if reserved is not None:
            with open(HUGEPAGE_POOL) as f:
                untouched = int(f.read()) == reserved
            if untouched:
                with open(HUGEPAGE_POOL, 'w') as f:
                    f.write('%d\n' % before)


def dpdk_runtime_dir(prefix):
    base = '/var/run' if os.getuid() == 0 else os.environ.get('XDG_RUNTIME_DIR', '/tmp')
    return os.path.join(base, 'dpdk', prefix)


@contextlib.contextmanager
def primary(zt, tmp, name, eal, options):
    """ztgate as a DPDK primary with hugepages and shared files (what a secondary process attaches to),
    from its ready file to the end of the block, then SIGTERM; it must exit 0. Removes what the EAL
    leaves: hugepage files and the runtime directory. Yields (EAL file prefix, log path)."""
    prefix = 'ztgcap%d_%s' % (os.getpid(), name)
    ready, log_path = os.path.join(tmp, name + '.ready'), os.path.join(tmp, name + '.log')
    argv = [zt.exe, '-l', '0-1', '--no-pci', '--no-telemetry', '--file-prefix', prefix,
            '--log-level=lib.eal:warning'] + eal + ['--'] + options + ['--duration', '60', '--ready-file', ready]
    log = open(log_path, 'w+')
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for('ready file', lambda: os.path.exists(ready) or proc.poll() is not None, bool)
        if proc.poll() is not None:
            raise AssertionError('ztgate exited %d before it was ready\n$ %s\n%s' %
                                 (proc.returncode, ' '.join(argv), open(log_path).read()))
        yield prefix, log_path
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        for f in glob.glob(os.path.join(HUGEPAGE_DIR, prefix + 'map_*')):
            os.unlink(f)
        shutil.rmtree(dpdk_runtime_dir(prefix), ignore_errors=True)
    if proc.returncode != 0:
        raise AssertionError('ztgate exited %d\n$ %s\n%s' % (proc.returncode, ' '.join(argv), open(log_path).read()))


def startup_line(log_path, what):
    with open(log_path) as f:
        for line in f:
            if line.startswith('  %s' % what):
                return line.strip()
    return None


@case('capture-dumpcap')
def capture_dumpcap(zt, args):
    """dpdk-dumpcap attached to a running ztgate (rte_pdump) captures port 0's packets into a pcapng:
    exactly frames sent, all inbound. ztgate says dpdk-dumpcap is on, and with --huge-unlink that it is
    off and why (--no-huge and --no-shconf: the unit test and the capture case)."""
    count = 20
    with tempfile.TemporaryDirectory(prefix='ztg-dumpcap-') as tmp, hugepages(HUGEPAGES):
        path = lambda name: os.path.join(tmp, name)
        frames = []
        for n in range(4):
            t = TcpSession(*V4, sport=47000 + n, dport=5432)
            frames += t.handshake() + t.exchange(b'query %d' % n, b'row %d' % n) + t.close()
        with RawPcapWriter(path('in.pcap'), linktype=DLT_EN10MB) as pcap:
            for frame in frames:
                pcap.write(frame)
        ports = ['--vdev', 'net_pcap0,rx_pcap=%s,infinite_rx=1' % path('in.pcap'), '--vdev', 'net_null1,no-rx=1']
        with primary(zt, tmp, 'dumpcap', ports, ['-p', '0:1']) as (prefix, log):
            said = startup_line(log, 'dpdk-dumpcap')
            if said != 'dpdk-dumpcap    = on (dpdk-dumpcap --file-prefix=%s -i PORT)' % prefix:
                raise AssertionError('ztgate should offer dpdk-dumpcap, says: %s' % said)
            dumpcap = subprocess.run([DUMPCAP, '--file-prefix=' + prefix, '-i', 'net_pcap0', '-c', str(count),
                                      '-w', path('dumpcap.pcapng')], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, timeout=60)
        if dumpcap.returncode != 0:
            raise AssertionError('dpdk-dumpcap exited %d:\n%s' % (dumpcap.returncode, dumpcap.stdout))
        blocks = read_pcapng(path('dumpcap.pcapng'))
        captured = [bytes(p) for p in rdpcap(path('dumpcap.pcapng'))]
        sent = set(frames)
        if len(captured) < count or any(f not in sent for f in captured) or \
                [d for _, _, _, d in blocks] != captured or any(d != 'in' for _, d, _, _ in blocks):
            raise AssertionError('dpdk-dumpcap -c %d should hold frames sent, inbound: %d packets, %d of them '
                                 'not sent, directions %s\n%s' % (count, len(captured),
                                                                    len([f for f in captured if f not in sent]),
                                                                    sorted({d for _, d, _, _ in blocks}, key=str),
                                                                    dumpcap.stdout))
        with primary(zt, tmp, 'unlinked', ['--huge-unlink', '--vdev', 'net_null0,no-rx=1', '--vdev',
                                           'net_null1,no-rx=1'], ['-p', '0:1']) as (prefix, log):
            said = startup_line(log, 'dpdk-dumpcap')
        if said is None or not said.startswith('dpdk-dumpcap    = off: --huge-unlink'):
            raise AssertionError('with --huge-unlink ztgate should say dpdk-dumpcap cannot attach: %s' % said)
    print('ok capture-dumpcap: dpdk-dumpcap captured %d frames sent; with --huge-unlink: %s' % (len(captured), said))


if __name__ == '__main__':
    try:
        sys.exit(cases.main())
    except Skip as e:
        print('SKIP %s' % e)
        sys.exit(77)
