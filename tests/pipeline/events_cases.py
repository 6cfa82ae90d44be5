#!/usr/bin/python3
"""ztgate pipeline cases for the audit events (dataplane/audit_log.h): the event log as a file (one line
per denied request, rotation), sampled allowed requests, the options, and an output that takes nothing
(a FIFO nobody reads) while the workers, the control socket and /metrics go on.

Usage: events_cases.py ZTGATE CASE   (meson registers one test per case)
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error

from scapy.all import DLT_EN10MB, RawPcapWriter

import cases
from cases import POLICY, V4, case, expect_rejected, one_request, request
from metrics_cases import free_loopback_port, scrape
from pipeline import control, remove_runtime_dir

# (request, action, reason) the pipeline policy (policy.conf) gives; reason None: allowed.
DENIED = [
    (request('GET', '/api/v1/unknown'), 'deny', 'no_route'),
    (request('DELETE', '/api/v1/orders/42'), 'deny', 'method_not_allowed'),
    (request('GET', '/admin/users'), 'reset', 'route_action'),
    (request('GET', '/api/v1/orders/42', host='evil.example'), 'deny', 'unknown_host'),
]
ALLOWED = [
    (request('GET', '/api/v1/orders/7'), '/api/v1/orders/7'),
    (request('POST', '/api/v1/orders', body=b'{"item":1}'), '/api/v1/orders'),
    (request('GET', '/static/css/site.css'), '/static/css/site.css'),
]


def traffic(denied_each, allowed_each, first_sport=44000):
    """One connection per request, interleaved: every DENIED request denied_each times, every ALLOWED
    one allowed_each times. Returns (packets, {sport: (action, reason)}, {sport: path})."""
    packets, denied, allowed, sport = [], {}, {}, first_sport
    for n in range(max(denied_each, allowed_each)):
        for raw, action, reason in DENIED if n < denied_each else []:
            packets += one_request(*V4, raw, sport)
            denied[sport] = (action, reason)
            sport += 1
        for raw, path in ALLOWED if n < allowed_each else []:
            packets += one_request(*V4, raw, sport)
            allowed[sport] = path
            sport += 1
    return packets, denied, allowed


def read_lines(path):
    """The JSON objects of a file, one a line; a line that is not whole JSON fails."""
    with open(path) as f:
        text = f.read()
    if text and not text.endswith('\n'):
        raise AssertionError('%s does not end with a newline: a line was cut' % path)
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            out.append(json.loads(line))
        except ValueError as e:
            raise AssertionError('%s:%d: not a JSON line (%s): %r' % (path, n, e, line[:200]))
    return out


def requests_of(lines):
    """Event lines (not command audits) by source port; a port seen twice fails."""
    by_port = {}
    for e in lines:
        if 'audit' in e:
            continue
        port = e['flow']['src_port']
        if port in by_port:
            raise AssertionError('two events for source port %d:\n%s\n%s' % (port, by_port[port], e))
        by_port[port] = e
    return by_port


def expect_denied(r, events, denied):
    wrong = {p: (want, (events[p]['action'], events[p]['reason']) if p in events else None)
             for p, want in denied.items() if p not in events or (events[p]['action'], events[p]['reason']) != want}
    if wrong:
        r.fail('denied requests without their one right event (port: expected, got): %s' % wrong)


@case('events-file')
def events_file(zt, args):
    """--event-log FILE: exactly one line per denied request with its action and reason, none for
    an allowed request (--event-sample-allowed is 0 by default), none on stdout. Then rotation:
    with --event-log-max-bytes 4K --event-log-keep 2 the newest lines are in FILE, FILE.1, FILE.2,
    whole, none past 4 KiB, in order; older ones are gone, and no FILE.3."""
    packets, denied, allowed = traffic(3, 2)
    with tempfile.TemporaryDirectory(prefix='ztg-events-') as tmp:
        log = os.path.join(tmp, 'events.json')
        r = zt.run(packets, '--policy', POLICY, '--event-log', log)
        events = requests_of(read_lines(log))
        expect_denied(r, events, denied)
        extra = sorted(set(events) - set(denied))
        if extra:
            r.fail('events for requests not denied: %s' % [events[p] for p in extra])
        if cases.events_of(r):
            r.fail('events on stdout although --event-log is given: %s' % cases.events_of(r)[:2])
        r.expect_totals(policy_denied=len(denied), policy_allowed=len(allowed), events_dropped=0)
        for e in events.values():
            if not e.get('request_id', '').startswith('ztg-') or set(e['bytes']) != {'from_client', 'from_server'}:
                r.fail('event lacks its request id or byte counts: %s' % e)

        packets, denied, _ = traffic(12, 0, first_sport=45000)
        r = zt.run(packets, '--policy', POLICY, '--event-log', log, '--event-log-max-bytes', '4K',
                   '--event-log-keep', '2')
        files = [log + '.2', log + '.1', log]
        missing = [f for f in files if not os.path.exists(f)]
        if missing or os.path.exists(log + '.3'):
            r.fail('expected %s and no .3; missing %s, in the directory: %s' % (files, missing, os.listdir(tmp)))
        kept = []
        for f in files:
            if os.path.getsize(f) > 4096:
                r.fail('%s holds %d bytes, past --event-log-max-bytes 4K' % (f, os.path.getsize(f)))
            kept += [e['flow']['src_port'] for e in read_lines(f) if 'audit' not in e]
        ports = sorted(denied)
        if kept != ports[len(ports) - len(kept):] or len(kept) >= len(ports):
            r.fail('the rotated files do not hold the newest denied requests in order: %s of %s' % (kept, ports))
    print('ok events-file: %d denied requests, one line each; rotation kept the newest %d of %d'
          % (len(DENIED) * 3, len(kept), len(ports)))


@case('events-sample-allowed')
def events_sample_allowed(zt, args):
    """--event-sample-allowed 1: one "allow" line per allowed request, with its method and path,
    besides the denied requests' lines (needs the sampling in session.c)."""
    packets, denied, allowed = traffic(2, 3)
    with tempfile.TemporaryDirectory(prefix='ztg-events-') as tmp:
        log = os.path.join(tmp, 'events.json')
        r = zt.run(packets, '--policy', POLICY, '--event-log', log, '--event-sample-allowed', '1')
        events = requests_of(read_lines(log))
    expect_denied(r, events, denied)
    wrong = {p: events.get(p) for p, path in allowed.items()
             if p not in events or (events[p]['action'], events[p].get('path')) != ('allow', path)}
    if wrong:
        r.fail('allowed requests without their one "allow" event (port: got): %s' % wrong)
    extra = sorted(set(events) - set(denied) - set(allowed))
    if extra:
        r.fail('events for no request sent: %s' % [events[p] for p in extra])
    r.expect_totals(events_dropped=0)
    print('ok events-sample-allowed: %d allow and %d deny lines' % (len(allowed), len(denied)))


SYSLOG_SOCKET = '/dev/log'   # glibc's _PATH_LOG: where syslog(3) sends, whatever the daemon


@case('events-syslog')
def events_syslog(zt, args):
    """--event-syslog local3: every event also reaches syslog as one datagram, ident ztgate, the JSON
    object as the message, denies and resets at LOG_WARNING, sampled allows at
    LOG_INFO, each under facility local3. The test stands in for the syslog daemon on /dev/log, so it
    needs a machine where nothing else listens there (exit 77 otherwise: the datagrams would go to
    that daemon, not to the test)."""
    if os.path.exists(SYSLOG_SOCKET):
        print('SKIP: %s exists (a syslog daemon owns it); this case needs to listen there itself' % SYSLOG_SOCKET)
        sys.exit(77)
    packets, denied, allowed = traffic(2, 1)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    datagrams, done = [], threading.Event()

    def receive():
        # A unix datagram socket queues only net.unix.max_dgram_qlen (often 10) datagrams: read as they come.
        while not done.is_set():
            try:
                datagrams.append(listener.recv(65536).decode())
            except socket.timeout:
                pass

    try:
        listener.bind(SYSLOG_SOCKET)
        listener.settimeout(0.1)
        reader = threading.Thread(target=receive)
        reader.start()
        try:
            with tempfile.TemporaryDirectory(prefix='ztg-syslog-') as tmp:
                log = os.path.join(tmp, 'events.json')
                r = zt.run(packets, '--policy', POLICY, '--event-log', log, '--event-syslog', 'local3',
                           '--event-sample-allowed', '1')
                in_file = requests_of(read_lines(log))
            time.sleep(0.3)
        finally:
            done.set()
            reader.join()
    finally:
        listener.close()
        os.unlink(SYSLOG_SOCKET)
    # <PRI>TIMESTAMP ztgate[PID]: MESSAGE; PRI = facility local3 (19) * 8 + severity. EAL's own log
    # lines share the process's syslog identity: only the JSON ones are events.
    form = re.compile(r'^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d ztgate\[\d+\]: (.*)$', re.S)
    by_port, problems = {}, []
    for d in datagrams:
        m = form.match(d.rstrip('\n'))
        if m is None:
            problems.append('not a syslog line from ztgate: %r' % d[:200])
            continue
        if not m.group(2).startswith('{'):
            continue
        e = json.loads(m.group(2))
        if 'audit' in e:
            continue
        severity = {'deny': 4, 'reset': 4, 'drop': 4, 'allow': 6, 'pass': 6}[e['action']]
        if int(m.group(1)) != 19 * 8 + severity:
            problems.append('priority %s for a %s event, expected %d' % (m.group(1), e['action'], 19 * 8 + severity))
        by_port[e['flow']['src_port']] = e
    if set(by_port) != set(denied) | set(allowed):
        problems.append('syslog has events for ports %s, expected %s' % (sorted(by_port),
                                                                       sorted(set(denied) | set(allowed))))
    if by_port != in_file:
        problems.append('syslog and the file differ')
    if problems:
        r.fail('%d problem(s):\n  %s' % (len(problems), '\n  '.join(problems)))
    expect_denied(r, by_port, denied)
    print('ok: %d events through syslog (local3), the same as the file' % len(by_port))


@case('events-options')
def events_options(zt, args):
    """The event options on the command line and in a --config file: bad values named with what is
    wrong, good ones in the effective configuration, the command line winning over the file."""
    for bad, needle in ((['--event-log-max-bytes', '100MB'], "--event-log-max-bytes: '100MB' is not a size"),
                        (['--event-log-max-bytes', '1000'], "--event-log-max-bytes: '1000' is out of range"),
                        (['--event-log-max-bytes', '-1'], "--event-log-max-bytes: '-1' is not a size"),
                        (['--event-log-keep', '-1'], '--event-log-keep:'),
                        (['--event-log-keep', '1001'], '--event-log-keep: 1001 is out of range 0..1000'),
                        (['--event-syslog', 'kern'], "--event-syslog: 'kern' is not a syslog facility"),
                        (['--event-sample-allowed', '1.5'], '--event-sample-allowed: 1.5 is out of range 0..1'),
                        (['--event-sample-allowed', '-0.1'], "--event-sample-allowed: '-0.1' is not a number"),
                        (['--event-sample-allowed', 'nan'], "--event-sample-allowed: 'nan' is not a number"),
                        (['--event-sample-allowed', 'all'], "--event-sample-allowed: 'all' is not a number")):
        expect_rejected(zt, bad, needle)
    rc, out = zt.command(['--help'])
    missing = [o for o in ('--event-log-max-bytes SIZE', '--event-log-keep N', '--event-syslog FACILITY',
                           '--event-sample-allowed RATE') if o not in out]
    if missing:
        raise AssertionError('--help lacks %s:\n%s' % (missing, out))
    packets, _, _ = traffic(1, 0)
    with tempfile.TemporaryDirectory(prefix='ztg-events-') as tmp:
        cfg, log = os.path.join(tmp, 'ztgate.cfg'), os.path.join(tmp, 'events.json')
        with open(cfg, 'w') as f:
            f.write('event_sample_allowed = 1.5;\n')
        expect_rejected(zt, ['--config', cfg], '%s:1: event_sample_allowed: 1.5 is out of range 0..1' % cfg)
        with open(cfg, 'w') as f:
            f.write('event_log_max_bytes = "64Q";\nevent_syslog = "mail";\n')
        expect_rejected(zt, ['--config', cfg], "%s:1: event_log_max_bytes: '64Q' is not a size" % cfg)
        expect_rejected(zt, ['--config', cfg], "%s:2: event_syslog: 'mail' is not a syslog facility" % cfg)
        with open(cfg, 'w') as f:
            f.write('event_log = "%s";\nevent_log_max_bytes = "8K";\nevent_log_keep = 3;\n'
                    'event_syslog = "local3";\nevent_sample_allowed = 0.25;\n' % log)
        r = zt.run(packets, '--config', cfg)
        want = 'events          = %s, rotated at 8192 bytes keeping 3, syslog local3, allowed requests sampled at 0.25' \
            % log
        if want not in r.log:
            r.fail('effective configuration lacks %r' % want)
        r = zt.run(packets, '--config', cfg, '--event-log-max-bytes', '1M', '--event-sample-allowed', '0')
        want = 'events          = %s, rotated at 1048576 bytes keeping 3, syslog local3, allowed requests ' \
            'sampled at 0\n' % log
        if want not in r.log:
            r.fail('the command line did not win over the file: no %r' % want)
        if not os.path.exists(log):
            r.fail('no event log written at %s' % log)



@case('events-stalled-output')
def events_stalled_output(zt, args):
    """--event-log is a FIFO whose reader never reads: the writer thread blocks, the event ring fills and
    the workers count events_dropped while they go on forwarding and answering every denied request
    (no packet unaccounted for); the control socket and /metrics keep answering promptly; SIGTERM
    ends ztgate cleanly within the writer's stop bound, and it says it gave up on the output."""
    packets, denied, _ = traffic(4, 0, first_sport=46000)
    port = free_loopback_port()
    url = 'http://127.0.0.1:%d/metrics' % port
    with tempfile.TemporaryDirectory(prefix='ztg-events-') as tmp:
        path = lambda name: os.path.join(tmp, name)
        with RawPcapWriter(path('in.pcap'), linktype=DLT_EN10MB) as pcap:
            for frame in packets:
                pcap.write(frame)
        os.mkfifo(path('events.fifo'))
        reader = os.open(path('events.fifo'), os.O_RDONLY | os.O_NONBLOCK)   # opened, never read
        sock = path('ztgate.sock')
        argv, prefix = zt.arguments(
            ['-p', '0:1', '--policy', POLICY, '--control-socket', sock, '--metrics', '127.0.0.1:%d' % port,
             '--duration', '90', '--event-log', path('events.fifo'), '--stats-json', path('stats.json')],
            ['net_pcap0,rx_pcap=%s,infinite_rx=1,tx_pcap=/dev/null' % path('in.pcap'), 'net_null1,no-rx=1'])
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        answers, slowest = [], 0.0
        try:
            deadline = time.time() + 30
            first = {}
            while time.time() < deadline and proc.poll() is None:
                try:
                    first = scrape(url)
                    if first.get(('ztgate_events_dropped_total', ''), 0) > 0:
                        break
                except (urllib.error.URLError, ConnectionError, OSError):
                    pass
                time.sleep(0.1)
            if first.get(('ztgate_events_dropped_total', ''), 0) == 0:
                raise AssertionError('events_dropped never rose while the FIFO was not read: %s' %
                                     {k: v for k, v in first.items() if 'event' in k[0] or 'rx_packets' in k[0]})
            # The output is stuck now: everything else must still answer, and the workers go on.
            for command in (['status'], ['events', '--json'], ['inventory', '--json'], ['stats', '--json']):
                start = time.time()
                status, body = control(sock, *command)
                slowest = max(slowest, time.time() - start)
                answers.append((command[0], status))
                if status != 0:
                    raise AssertionError('%s answered %d: %s' % (command, status, body[:500]))
                if command[0] == 'events' and 'dropped' not in json.loads(body):
                    raise AssertionError('events --json: no dropped count: %s' % body[:500])
            time.sleep(0.5)
            second = scrape(url)
            for name in ('ztgate_rx_packets_total', 'ztgate_events_dropped_total', 'ztgate_verdicts_deny_total'):
                if second[(name, '')] <= first[(name, '')]:
                    raise AssertionError('%s did not move while the output was stuck: %s then %s' %
                                         (name, first[(name, '')], second[(name, '')]))
            stop = time.time()
            proc.send_signal(signal.SIGTERM)
            log, _ = proc.communicate(timeout=30)
            stop = time.time() - stop
        finally:
            if proc.poll() is None:
                proc.kill()
                log, _ = proc.communicate()
            remove_runtime_dir(prefix)
        held = b''
        while True:
            try:
                chunk = os.read(reader, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            held += chunk
        os.close(reader)
        if proc.returncode != 0 or not os.path.exists(path('stats.json')):
            raise AssertionError('ztgate exited %d\n%s' % (proc.returncode, log))
        with open(path('stats.json')) as f:
            totals = json.load(f)['totals']
    if stop > 10:
        raise AssertionError('ztgate took %.1f s to stop on a stuck event log\n%s' % (stop, log))
    if slowest > 2:
        raise AssertionError('the control socket took %.1f s to answer while the event log was stuck' % slowest)
    if 'took nothing for' not in log:
        raise AssertionError('ztgate did not say it gave up on the stuck event log:\n%s' % log[-3000:])
    if totals['rx_packets'] + totals['injected_packets'] != totals['tx_packets'] + totals['dropped']:
        raise AssertionError('packets unaccounted for: %s' % {k: totals[k] for k in
                             ('rx_packets', 'injected_packets', 'tx_packets', 'dropped')})
    if totals['verdicts_deny'] == 0 or totals['injected_packets'] < 2 * totals['verdicts_deny']:
        raise AssertionError('denied requests not answered (a 403 and a RST each): deny %d, injected %d' %
                             (totals['verdicts_deny'], totals['injected_packets']))
    if totals['events_dropped'] == 0:
        raise AssertionError('events_dropped is 0 in --stats-json')
    # What the reader would have got: whole JSON lines, but the last, which the stop may have cut.
    lines = held.decode(errors='replace').split('\n')
    for line in lines[:-1]:
        e = json.loads(line)
        if 'audit' not in e and e['flow']['src_port'] not in denied:
            raise AssertionError('a line for a request not sent: %s' % e)
    print('ok events-stalled-output: %d requests denied, %d events dropped, %d lines in the FIFO; '
          'control socket answered %s within %.2f s; stopped in %.1f s'
          % (totals['verdicts_deny'], totals['events_dropped'], len(lines) - 1, answers, slowest, stop))


if __name__ == '__main__':
    sys.exit(cases.main())
