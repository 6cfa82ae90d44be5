#!/usr/bin/python3
"""ztgate pipeline case for DPDK telemetry: ztgate runs on net_pcap with EAL telemetry on, and
/ztgate/stats, /ztgate/flows and /ztgate/policy, asked through Debian's dpdk-telemetry.py, are
checked against the traffic sent, the control socket's status and the final --stats-json.

Usage: telemetry_cases.py ZTGATE CASE   (meson registers one test per case)
"""
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import DLT_EN10MB, RawPcapWriter

import cases
from cases import POLICY, V4, case, request
from pipeline import TcpSession, control, remove_runtime_dir

TELEMETRY_CLIENT = '/usr/bin/dpdk-telemetry.py'
# Seconds to wait for ztgate to start, and for its counters to reach what was sent.
SETTLE = 15
ALLOWED = 4   # connections whose request the policy allows: each stays open
DENIED = 1    # connections whose request it denies (no route): the flow is blocked, still tracked


def telemetry(prefix, *commands):
    """The answers of dpdk-telemetry.py -f PREFIX to commands, fed on stdin: a dict per command,
    the command's own key taken off."""
    p = subprocess.run([sys.executable, TELEMETRY_CLIENT, '-f', prefix], input='\n'.join(commands) + '\n',
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
    lines = [line for line in p.stdout.splitlines() if line.startswith('{')]
    if p.returncode != 0 or len(lines) != len(commands):
        raise AssertionError('%s -f %s exited %d for %s:\n%s' % (TELEMETRY_CLIENT, prefix, p.returncode,
                                                                 commands, p.stdout))
    answers = [json.loads(line) for line in lines]
    for command, answer in zip(commands, answers):
        if answer.get(command) is None:
            raise AssertionError('%s: no answer: %s' % (command, answer))
    return [answer[command] for command, answer in zip(commands, answers)]



def wait_for(what, poll, done):
    """poll() until done(its value), for SETTLE seconds: the last value."""
    deadline = time.time() + SETTLE
    while True:
        value = poll()
        if done(value):
            return value
        if time.time() > deadline:
            raise AssertionError('%s: still %s after %ds' % (what, value, SETTLE))
        time.sleep(0.1)


@contextlib.contextmanager
def running(zt, options, vdevs):
    """ztgate with EAL telemetry on (options get --ready-file and --duration), from its ready file
    until the block ends: then SIGTERM, and it must exit 0. Yields the EAL file prefix."""
    with tempfile.TemporaryDirectory(prefix='ztg-telemetry-run-') as tmp:
        ready = os.path.join(tmp, 'ready')
        argv, prefix = zt.arguments(list(options) + ['--ready-file', ready, '--duration', '60'], vdevs,
                                    telemetry=True)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        log = ''
        try:
            wait_for('ready file', lambda: os.path.exists(ready) or proc.poll() is not None, bool)
            if proc.poll() is not None:
                raise AssertionError('ztgate exited %d before it was ready\n$ %s\n%s' %
                                     (proc.returncode, ' '.join(argv), proc.communicate()[0]))
            yield prefix
            proc.send_signal(signal.SIGTERM)
            log = proc.communicate(timeout=60)[0]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            remove_runtime_dir(prefix)
    if proc.returncode != 0:
        raise AssertionError('ztgate exited %d\n$ %s\n%s' % (proc.returncode, ' '.join(argv), log))


def traffic():
    """ALLOWED connections with an allowed request and its response, then DENIED with a request
    no route takes; none is closed, so every flow is active when telemetry is asked."""
    packets = []
    for n in range(ALLOWED):
        t = TcpSession(*V4, sport=47000 + n)
        packets += t.handshake() + t.exchange(request('GET', '/api/v1/orders/%d' % n))
    for n in range(DENIED):
        t = TcpSession(*V4, sport=47100 + n)
        packets += t.handshake() + [t.c('PA', request('GET', '/nowhere/%d' % n))]
    return packets


def expect(what, got, want):
    wrong = {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}
    if wrong:
        raise AssertionError('%s differs (key: expected, got): %s\nall: %s' % (what, wrong, got))


def policy_run(zt, tmp, packets):
    """The run with traffic and a policy: the checks, and the figures for the report line."""
    path = lambda name: os.path.join(tmp, name)
    with RawPcapWriter(path('in.pcap'), linktype=DLT_EN10MB) as pcap:
        for frame in packets:
            pcap.write(frame)
    sock = path('ztgate.sock')
    with running(zt, ['-p', '0:1', '--policy', POLICY, '--control-socket', sock, '--event-log', path('events.json'),
                      '--stats-json', path('stats.json')],
                 ['net_pcap0,rx_pcap=%s,tx_pcap=%s' % (path('in.pcap'), path('out0.pcap')),
                  'net_pcap1,tx_pcap=%s' % path('out1.pcap')]) as prefix:
        stats = wait_for('/ztgate/stats rx_packets', lambda: telemetry(prefix, '/ztgate/stats')[0],
                         lambda s: s['rx_packets'] == len(packets) and s['flows_active'] == ALLOWED + DENIED)
        flows, policy = telemetry(prefix, '/ztgate/flows', '/ztgate/policy')
        rc, body = control(sock, 'status', '--json')
        if rc != 0:
            raise AssertionError('status exited %d: %s' % (rc, body))
        status = json.loads(body)['policy']
        rc, body = control(sock, 'apply', POLICY)
        if rc != 0:
            raise AssertionError('apply exited %d: %s' % (rc, body))
        reapplied = telemetry(prefix, '/ztgate/policy')[0]
    with open(path('stats.json')) as f:
        final = json.load(f)['totals']

    # /ztgate/stats: the traffic sent, and exactly the final --stats-json (nothing came after).
    expect('/ztgate/stats', stats, dict(mode='inspect', workers=1, rx_packets=len(packets), ipv4=len(packets),
                                        tcp=len(packets), http_requests=ALLOWED + DENIED,
                                        policy_allowed=ALLOWED, policy_denied=DENIED, flows_created=ALLOWED + DENIED))
    if stats['drops'].get('policy_denied') != DENIED:
        raise AssertionError('/ztgate/stats drops: %s' % stats['drops'])
    stats_only = {k: v for k, v in stats.items() if k not in ('mode', 'workers')}
    if stats_only != final:
        diff = {k: (stats_only.get(k), final.get(k)) for k in set(stats_only) | set(final)
                if stats_only.get(k) != final.get(k)}
        raise AssertionError('/ztgate/stats and --stats-json differ (telemetry, json): %s' % diff)

    # /ztgate/flows: every connection open, all on the one worker (lcore 1).
    expect('/ztgate/flows', flows, dict(flows_active=ALLOWED + DENIED, flows_created=ALLOWED + DENIED,
                                        flows_expired=0, per_worker_lcore={'1': ALLOWED + DENIED}))

    # /ztgate/policy: policy.conf, as the control socket's status names it; an apply moves it on.
    expect('/ztgate/policy', policy, dict(name='pipeline', mode='enforce', generation=1, source=POLICY,
                                          segments=3, services=2, routes=7, access=1, issuers=0, api_keys=0,
                                          signature_sets=0, signature_rules=0))
    expect('/ztgate/policy against status --json', policy,
           {k: status[k] for k in ('name', 'mode', 'generation', 'source', 'sha256', 'loaded_at', 'segments',
                                   'services', 'routes', 'access', 'issuers', 'api_keys')})
    if len(policy['sha256']) != 64:
        raise AssertionError('/ztgate/policy sha256: %r' % policy['sha256'])
    expect('/ztgate/policy after apply', reapplied, dict(policy, generation=2, loaded_at=reapplied['loaded_at'],
                                                         loaded_at_unix=reapplied['loaded_at_unix']))
    return stats, flows, policy


def no_policy_run(zt):
    """A run without a policy or traffic: /ztgate/policy says none."""
    with running(zt, ['-p', '0:1'], ['net_null0,no-rx=1', 'net_null1,no-rx=1']) as prefix:
        answer = telemetry(prefix, '/ztgate/policy')[0]
    expect('/ztgate/policy without a policy', answer, {'policy': 'none'})


@case('telemetry')
def telemetry_case(zt, args):
    """/ztgate/stats, /ztgate/flows and /ztgate/policy through dpdk-telemetry.py while ztgate runs."""
    with tempfile.TemporaryDirectory(prefix='ztg-telemetry-') as tmp:
        packets = traffic()
        stats, flows, policy = policy_run(zt, tmp, packets)
    no_policy_run(zt)
    print('ok telemetry: %d packets, %d flows, policy %s generation %u sha256 %s...' %
          (stats['rx_packets'], flows['flows_active'], policy['name'], policy['generation'], policy['sha256'][:12]))


if __name__ == '__main__':
    sys.exit(cases.main())
