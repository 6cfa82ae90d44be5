#!/usr/bin/python3
"""ztgate pipeline case for ztgatectl top: requests replayed once through ztgate on net_pcap with
a control socket, then top's view against what was sent.

Usage: top_cases.py ZTGATE CASE --ztgatectl ZTGATECTL   (meson registers one test per case)
"""
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import DLT_EN10MB, RawPcapWriter

import cases
from cases import V4, case, one_request, request
from pipeline import remove_runtime_dir

API_KEY = 'ztgk_' + os.urandom(24).hex()

# One service whose routes give every verdict; API keys make an identity without a token to mint.
POLICY = '''version = 1; name = "top"; mode = "enforce";
defaults = { action = "deny"; non_http = "drop"; unknown_host = "deny"; };
segments = ( { name = "clients"; addresses = [ "192.0.2.0/25" ]; },
             { name = "servers"; addresses = [ "198.51.100.0/24" ]; } );
api_keys = ( { id = "batch"; sha256 = "%s"; subject = "svc-batch"; scopes = [ "orders:read" ]; } );
services = (
  { name = "orders-api"; hosts = [ "api.example" ]; addresses = [ "198.51.100.20/32" ]; ports = [ 80 ];
    segment = "servers";
    authentication = { api_key_header = "X-API-Key"; };
    routes = (
      { name = "get-order"; methods = [ "GET" ]; path = "/api/v1/orders/{id}"; action = "allow"; anonymous = true; },
      { name = "write-order"; methods = [ "PUT" ]; path = "/api/v1/orders/{id}"; action = "allow";
        require = { scopes = [ "orders:write" ]; }; },
      { name = "admin"; methods = [ "ANY" ]; path = "/admin/*"; action = "reset"; },
      { name = "beta"; methods = [ "GET" ]; path = "/beta/{feature}"; action = "deny"; mode = "monitor"; }
    );
  }
);
access = ( { from = "clients"; to = [ "orders-api" ]; } );
''' % hashlib.sha256(API_KEY.encode()).hexdigest()

# (requests, verdict, reason): one connection each.
SENT = [
    ([request('GET', '/api/v1/orders/%d' % n) for n in range(6)], 'allow', None),
    ([request('GET', '/api/v1/unknown/%d' % n) for n in range(3)], 'deny', 'no_route'),
    ([request('PUT', '/api/v1/orders/%d' % n, body=b'{}', headers=[('X-API-Key', API_KEY)]) for n in range(2)],
     'deny', 'scope_missing'),
    ([request('GET', '/admin/users')] * 2, 'reset', 'route_action'),
    ([request('GET', '/beta/new-checkout')], 'monitored', None),
]


class Ctl:
    """ztgatectl against one socket; calls counts the invocations that reach ztgate, which audits each."""

    def __init__(self, exe, sock):
        self.exe, self.sock, self.calls = exe, sock, 0

    def run(self, *argv, reaches=True):
        self.calls += reaches
        return subprocess.run([self.exe, '--socket', self.sock] + list(argv), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=30)

    def top(self):
        p = self.run('top', '--once', '--json')
        if p.returncode != 0:
            raise AssertionError('top --once --json: exit %d\n%s%s' % (p.returncode, p.stdout, p.stderr))
        return json.loads(p.stdout)


def expect(what, got, want):
    if got != want:
        raise AssertionError('%s: %r, expected %r' % (what, got, want))


def check_view(view):
    """The totals of every verdict, service, reason and identity against SENT."""
    totals = {}
    for requests, verdict, _ in SENT:
        totals[verdict] = totals.get(verdict, 0) + len(requests)
    for verdict in ('allow', 'deny', 'reset', 'drop', 'monitored'):
        expect('verdicts.%s.total' % verdict, view['verdicts'][verdict]['total'], totals.get(verdict, 0))
    sent = sum(totals.values())
    expect('requests.total', view['requests']['total'], sent)
    expect('services', [(s['service'], s['total']) for s in view['services']['top']], [('orders-api', sent)])
    reasons = {(r['reason'], r['verdict']): r['total'] for r in view['reasons']['top']}
    for requests, verdict, reason in SENT:
        if reason is not None:
            expect('reason %s/%s' % (reason, verdict), reasons.get((reason, verdict)), len(requests))
    # Only the denied requests with an API key carry an identity; every stop is a logged event.
    ids = view['identities']
    expect('identities.tracked', ids['tracked'], 1)
    expect('identities.top', [(i['issuer'], i['subject'], i['total']) for i in ids['top']], [('api-key', 'svc-batch', 2)])
    if 'denies' not in ids['source'] or ids['events']['total'] < totals['deny'] + totals['reset']:
        raise AssertionError('identities: %s' % ids)


@case('top')
def top(zt, args):
    """Requests of every verdict replayed once; ztgatectl top --once --json until every one is
    counted: each verdict's, the service's and each reason's total as sent, the API key's
    identity; --once in text, the usage errors, and a polling run on a pipe ended by SIGINT
    (plain frames, a blank line between them, audited once)."""
    packets, sport, sent = [], 47000, sum(len(requests) for requests, _, _ in SENT)
    for requests, _, _ in SENT:
        for raw in requests:
            packets += one_request(*V4, raw, sport)
            sport += 1
    with tempfile.TemporaryDirectory(prefix='ztg-top-') as tmp:
        path = lambda name: os.path.join(tmp, name)
        with open(path('top.conf'), 'w') as f:
            f.write(POLICY)
        with RawPcapWriter(path('in.pcap'), linktype=DLT_EN10MB) as pcap:
            for frame in packets:
                pcap.write(bytes(frame))
        sock = path('ztgate.sock')
        argv, prefix = zt.arguments(
            ['-p', '0:1', '--policy', path('top.conf'), '--control-socket', sock, '--duration', '60',
             '--event-log', path('events.json')],
            ['net_pcap0,rx_pcap=%s,tx_pcap=%s' % (path('in.pcap'), path('out0.pcap')),
             'net_pcap1,tx_pcap=%s' % path('out1.pcap')])
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ctl = Ctl(args.ztgatectl, sock)
        try:
            deadline = time.time() + 20
            while not os.path.exists(sock) and proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            view = None
            # Rates need two samples a second apart; totals need the last request counted.
            while time.time() < deadline and proc.poll() is None:
                view = ctl.top()
                if view['interval_seconds'] is not None and view['requests']['total'] == sent:
                    break
                time.sleep(0.2)
            if view is None:
                raise AssertionError('no control socket at %s' % sock)
            time.sleep(1.2)                      # one more sample: the identity's events are all in
            view = ctl.top()
            text = ctl.run('top', '--once')
            usage = [ctl.run('top', '--interval', '0', reaches=False), ctl.run('top', '--frob', reaches=False)]
            poll = subprocess.Popen([args.ztgatectl, '--socket', sock, 'top', '--interval', '1'],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            ctl.calls += 1
            time.sleep(2.5)
            poll.send_signal(signal.SIGINT)
            frames, poll_err = poll.communicate(timeout=10)
            proc.send_signal(signal.SIGTERM)
            log, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                log, _ = proc.communicate()
            remove_runtime_dir(prefix)
        with open(path('events.json')) as f:
            audits = [json.loads(line)['audit'] for line in f if '"audit"' in line]
    if proc.returncode != 0:
        raise AssertionError('ztgate exited %d\n%s' % (proc.returncode, log))
    try:
        check_view(view)
    except AssertionError as e:
        raise AssertionError('%s\nview: %s\n--- ztgate ---\n%s' % (e, json.dumps(view, indent=1), log))

    if text.returncode != 0 or 'VERDICT' not in text.stdout or 'api-key' not in text.stdout or \
            'from logged events only' not in text.stdout or '\x1b' in text.stdout:
        raise AssertionError('top --once: exit %d\n%s%s' % (text.returncode, text.stdout, text.stderr))
    for p, message in zip(usage, ("top: --interval 0: expected seconds from 1 to 3600",
                                  "top: unexpected argument '--frob'")):
        if p.returncode != 2 or message not in p.stderr:
            raise AssertionError('expected exit 2 and %r, got %d: %s' % (message, p.returncode, p.stderr))
    # A pipe is no terminal: no escape codes, frames one after another, a blank line between.
    if poll.returncode != 0 or '\x1b' in frames or frames.count('REQ/S') < 6 or '\n\nrequests/s' not in frames:
        raise AssertionError('top --interval 1, ended by SIGINT: exit %d\n%s%s' % (poll.returncode, frames, poll_err))
    # The polling run's first call is audited, its --again polls are not.
    tops = [a for a in audits if a['command'] == 'top']
    if len(tops) != ctl.calls or any('--again' in a['args'] for a in tops):
        raise AssertionError('expected %d audited top calls, none with --again: %s' % (ctl.calls, tops))
    print('ok top: %d requests, %s; %d frames polled' %
          (view['requests']['total'], {k: v['total'] for k, v in view['verdicts'].items() if v['total']},
           frames.count('REQ/S') // 3))


if __name__ == '__main__':
    sys.exit(cases.main())
