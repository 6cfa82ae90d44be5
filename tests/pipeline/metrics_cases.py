#!/usr/bin/python3
"""ztgate pipeline case for GET /metrics (--metrics): the page scraped while ztgate runs on
net_pcap, its counters against the traffic sent, its format through promtool when installed.

Usage: metrics_cases.py ZTGATE CASE   (meson registers one test per case)
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from scapy.all import DLT_EN10MB, Ether, RawPcapWriter

import cases
from cases import V4, case, udp
from pipeline import MAC_CLIENT, MAC_SERVER, TcpSession, remove_runtime_dir

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def free_loopback_port():
    """A TCP port nothing listens on at 127.0.0.1 just now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def parse_page(text):
    """{(name, labels text): value} and {family: type} of a text-format page."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            _, _, name, kind = line.split(' ')
            if name in types:
                raise AssertionError('TYPE of %s twice' % name)
            types[name] = kind
        elif line and not line.startswith('#'):
            m = SAMPLE.match(line)
            if m is None:
                raise AssertionError('not a sample line: %r' % line)
            samples[(m.group(1), m.group(2) or '')] = float(m.group(3))
    return samples, types


def scrape(url):
    """The samples of the page at url: {(name, labels text): value}."""
    with urllib.request.urlopen(url, timeout=5) as r:
        samples, _ = parse_page(r.read().decode())
    return samples


def status_of(url, method='GET'):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, data=b'x' if method == 'POST' else None),
                                    timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@case('metrics')
def metrics(zt, args):
    """Sessions and a truncated IPv4 packet replayed once; /metrics scraped until every packet is
    counted: worker totals, drops by reason and port counters must match what was sent, gauges
    must be gauges, every family must pass promtool, other paths 404 and other methods 405."""
    frames = []
    for n in range(3):
        t = TcpSession(*V4, sport=41000 + n, dport=5432)
        frames += t.handshake() + t.exchange(b'query %d' % n, b'row %d' % n) + t.close()
    frames += [bytes(udp(*V4, sport=5000 + n)) for n in range(4)]
    truncated = bytes(Ether(src=MAC_CLIENT, dst=MAC_SERVER, type=0x0800)) + b'\x45\x00\x00'
    frames.append(truncated)
    frames = [bytes(f) for f in frames]
    sent, sent_bytes = len(frames), sum(len(f) for f in frames)
    port = free_loopback_port()
    url = 'http://127.0.0.1:%d' % port
    with tempfile.TemporaryDirectory(prefix='ztg-metrics-') as tmp:
        path = lambda name: os.path.join(tmp, name)
        with RawPcapWriter(path('in.pcap'), linktype=DLT_EN10MB) as pcap:
            for frame in frames:
                pcap.write(frame)
        argv, prefix = zt.arguments(
            ['-p', '0:1', '--duration', '60', '--metrics', '127.0.0.1:%d' % port,
             '--stats-json', path('stats.json')],
            ['net_pcap0,rx_pcap=%s,tx_pcap=%s' % (path('in.pcap'), path('out0.pcap')),
             'net_pcap1,tx_pcap=%s' % path('out1.pcap')])
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            page, samples, types, content_type, deadline = '', {}, {}, None, time.time() + 20
            while time.time() < deadline and proc.poll() is None:
                try:
                    with urllib.request.urlopen(url + '/metrics', timeout=5) as r:
                        content_type = r.headers['Content-Type']
                        page = r.read().decode()
                    samples, types = parse_page(page)
                    if samples.get(('ztgate_rx_packets_total', '')) == sent:
                        break
                except (urllib.error.URLError, ConnectionError):
                    pass
                time.sleep(0.1)
            statuses = (status_of(url + '/other'), status_of(url + '/metrics', 'POST'),
                        status_of(url + '/metrics', 'HEAD'))
            proc.send_signal(signal.SIGTERM)
            log, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                log, _ = proc.communicate()
            remove_runtime_dir(prefix)
        if proc.returncode != 0 or not os.path.exists(path('stats.json')):
            raise AssertionError('ztgate exited %d\n%s' % (proc.returncode, log))
        with open(path('stats.json')) as f:
            totals = json.load(f)['totals']
    if samples.get(('ztgate_rx_packets_total', '')) != sent:
        raise AssertionError('never saw %d packets counted; last page:\n%s\n%s' % (sent, page[:2000], log))
    if content_type != 'text/plain; version=0.0.4; charset=utf-8':
        raise AssertionError('Content-Type %r' % content_type)
    if statuses != (404, 405, 200):
        raise AssertionError('/other, POST and HEAD answered %s, expected (404, 405, 200)' % (statuses,))

    get = lambda name, labels='': samples.get((name, labels))
    # Every counter of --stats-json is on the page, under its kind, with the value it ended with
    # (nothing arrives after the replay, and the gauges have no reason to move).
    for name, value in totals.items():
        if name == 'drops':
            continue
        gauge = name in ('flows_active', 'signature_streams_active')
        metric = 'ztgate_%s' % name if gauge else 'ztgate_%s_total' % name
        if types.get(metric) != ('gauge' if gauge else 'counter'):
            raise AssertionError('%s: TYPE %s' % (metric, types.get(metric)))
        if name != 'busy_cycles' and get(metric) != value:
            raise AssertionError('%s = %s on the page, %s in --stats-json' % (metric, get(metric), value))
    for reason, value in totals['drops'].items():
        if get('ztgate_packets_dropped_total', '{reason="%s"}' % reason) != value:
            raise AssertionError('drops of %s: %s on the page, %s in --stats-json' %
                                 (reason, get('ztgate_packets_dropped_total', '{reason="%s"}' % reason), value))
    want = {('ztgate_rx_bytes_total', ''): sent_bytes,
            ('ztgate_dropped_total', ''): 1,
            ('ztgate_packets_dropped_total', '{reason="ipv4_truncated"}'): 1,
            ('ztgate_tx_packets_total', ''): sent - 1,
            ('ztgate_port_rx_packets_total', '{port="0"}'): sent,
            ('ztgate_port_rx_bytes_total', '{port="0"}'): sent_bytes,
            ('ztgate_port_rx_packets_total', '{port="1"}'): 0,
            ('ztgate_port_tx_packets_total', '{port="1"}'): sent - 1,
            ('ztgate_port_tx_bytes_total', '{port="1"}'): sent_bytes - len(truncated),
            ('ztgate_workers', ''): 1,
            ('ztgate_flows_created_total', ''): 3 + 4}
    wrong = {k: (samples.get(k), v) for k, v in want.items() if samples.get(k) != v}
    if wrong:
        raise AssertionError('(page, expected): %s' % wrong)
    # Bounded label sets only: never an identity, an address or a path.
    labels = {m.group(1) for labels in {l for _, l in samples} for m in re.finditer(r'(\w+)="', labels)}
    if labels - {'reason', 'port', 'le', 'service', 'route', 'verdict', 'rule'}:
        raise AssertionError('labels beyond the bounded sets: %s' % labels)
    # Every forwarded packet was timed once; buckets are cumulative and end at +Inf.
    buckets = sorted((float(re.search(r'le="([^"]+)"', l).group(1)), v) for (n, l), v in samples.items()
                     if n == 'ztgate_packet_latency_seconds_bucket')
    if types.get('ztgate_packet_latency_seconds') != 'histogram' or not buckets or buckets[-1][0] != float('inf'):
        raise AssertionError('latency histogram: TYPE %s, buckets %s' %
                             (types.get('ztgate_packet_latency_seconds'), buckets))
    if any(a[1] > b[1] for a, b in zip(buckets, buckets[1:])) or \
            buckets[-1][1] != get('ztgate_packet_latency_seconds_count') or buckets[-1][1] != sent - 1:
        raise AssertionError('latency histogram: buckets %s, count %s, %d packets forwarded' %
                             (buckets, get('ztgate_packet_latency_seconds_count'), sent - 1))

    promtool = shutil.which('promtool')
    if promtool is None:
        print('promtool not installed (Debian package prometheus): the page format was not checked by it')
    else:
        p = subprocess.run([promtool, 'check', 'metrics'], input=page, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        if p.returncode != 0 or p.stdout.strip():
            raise AssertionError('promtool check metrics: exit %d\n%s' % (p.returncode, p.stdout))
    print('ok metrics: %d families, %d samples; %d packets, %d bytes counted; promtool %s' %
          (len(types), len(samples), sent, sent_bytes, 'clean' if promtool else 'skipped'))


if __name__ == '__main__':
    sys.exit(cases.main())
