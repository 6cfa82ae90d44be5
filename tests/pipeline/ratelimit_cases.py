#!/usr/bin/python3
"""ztgate pipeline cases for rate limits: requests paced in real time into ztgate through a named
pipe (net_pcap reads it as they come), the admitted rate against the configured one.

Usage: ratelimit_cases.py ZTGATE CASE --ztgatectl ZTGATECTL   (meson registers one test per case)
"""
import json
import os
import sys
import tempfile
import time

from scapy.all import RawPcapReader

import cases
from capture_cases import running_on_pipes
from cases import POLICY, case, request
from metrics_cases import free_loopback_port, scrape
from pipeline import TcpSession, control

SERVER = '198.51.100.20'
FAST, SLOW = '192.0.2.10', '192.0.2.11'
# The limit of get-order, per client address (rate-limit-accuracy, -workers); rate-limit-rates tries others.
RATE, BURST = 40, 4
LIMIT = '''
      rate_limits = (
        { name = "per-client"; per = "source"; rate = %d; period = "second"; burst = %d; action = "deny"; }
      );'''


def limited_policy(tmp, rate, burst):
    """policy.conf with the per-client limit on get-order."""
    with open(POLICY) as f:
        text = f.read()
    route = 'path = "/api/v1/orders/{id}"; action = "allow"; anonymous = true;'
    if text.count(route) != 1:
        raise AssertionError('policy.conf changed: no single get-order route to limit')
    path = os.path.join(tmp, 'policy.conf')
    with open(path, 'w') as f:
        f.write(text.replace(route, route + LIMIT % (rate, burst)))
    return path


def connection(client, sport, n):
    """One GET of order n on its own connection: the handshake and the request (no close: the
    answer, a 429 or the server's, is not what is measured)."""
    t = TcpSession(client, SERVER, sport=sport)
    return t.handshake() + [t.c('PA', request('GET', '/api/v1/orders/%d' % n))]


def labelled(totals_json, verdict, reason):
    return sum(q['count'] for q in totals_json['requests']
               if q['route'] == 'get-order' and q['verdict'] == verdict and q['reason'] == reason)


def run_paced(zt, pairs=1, lcores=None, seconds=4.0, rate=RATE, burst=BURST):
    """A client sends 2.5 times the limit for `seconds`, another a quarter of it, both to get-order,
    limited per client address; the fast client's connections go round the port pairs (each pair
    its own worker when lcores gives them). Returns what ztgate counted and sent back."""
    fast_rate, slow_rate = 2.5 * rate, rate / 4
    with tempfile.TemporaryDirectory(prefix='ztg-ratelimit-') as tmp:
        sock = os.path.join(tmp, 'ztgate.sock')
        events = os.path.join(tmp, 'events.json')
        pairs_option = ','.join('%d:%d' % (2 * i, 2 * i + 1) for i in range(pairs))
        port = free_loopback_port()
        options = ['-p', pairs_option, '--policy', limited_policy(tmp, rate, burst), '--control-socket', sock,
                   '--event-log', events, '--metrics', '127.0.0.1:%d' % port]
        sent = {FAST: 0, SLOW: 0}
        with running_on_pipes(zt, tmp, options, pairs, lcores) as (feeds, _):
            start = time.monotonic()
            next_at = {FAST: start, SLOW: start}
            gap = {FAST: 1 / fast_rate, SLOW: 1 / slow_rate}
            while time.monotonic() - start < seconds:
                now = time.monotonic()
                for client in (FAST, SLOW):
                    if now >= next_at[client]:
                        sport = (20000 if client == FAST else 40000) + sent[client]
                        feeds[sent[client] % len(feeds)].send(connection(client, sport, sent[client]))
                        sent[client] += 1
                        next_at[client] += gap[client]
                time.sleep(0.001)
            elapsed = time.monotonic() - start
            deadline = time.time() + 10
            while True:
                rc, body = control(sock, 'stats', '--json')
                stats = json.loads(body) if rc == 0 else None
                if stats and stats['totals']['http_requests'] >= sent[FAST] + sent[SLOW]:
                    break
                if time.time() > deadline:
                    raise AssertionError('ztgate saw %s requests of %d' %
                                         (stats and stats['totals']['http_requests'], sent[FAST] + sent[SLOW]))
                time.sleep(0.1)
            samples = scrape('http://127.0.0.1:%d/metrics' % port)
            rc, body = control(sock, 'policy', '--json')
            routes = {r['name']: r for svc in json.loads(body)['services'] for r in svc['routes']}
            shown = routes['get-order']['rate_limits']
            if rc != 0 or shown != [{'name': 'per-client', 'per': 'source', 'rate': rate, 'period_seconds': 1,
                                     'burst': burst, 'action': 'deny', 'monitor': False, 'from_service': False}]:
                raise AssertionError('ztgatectl policy --json shows get-order limited by %s' % shown)
        limited = [e for e in (json.loads(line) for line in open(events)) if e.get('reason') == 'rate_limited']
        answers = [bytes(data) for i in range(pairs)
                   for data, _ in RawPcapReader(os.path.join(tmp, 'out%d.pcap' % (2 * i))) if b'HTTP/1.1 429' in data]
    page = {k: samples.get((k, '')) for k in ('ztgate_rate_buckets', 'ztgate_rate_unplaced_total')}
    if page != {'ztgate_rate_buckets': 65536, 'ztgate_rate_unplaced_total': 0}:
        raise AssertionError('/metrics: rate table %s, expected 65536 buckets and nothing unplaced' % page)
    on_page = sum(v for (name, labels), v in samples.items()
                  if name == 'ztgate_requests_total' and 'reason="rate_limited"' in labels)
    if on_page != labelled(stats, 'deny', 'rate_limited'):
        raise AssertionError('/metrics: %s rate_limited requests, --stats-json %d' %
                             (on_page, labelled(stats, 'deny', 'rate_limited')))
    return stats, limited, answers, sent, elapsed


def expect_limited(stats, limited, answers, sent, elapsed, rate=RATE, burst=BURST):
    """The fast client admitted within 10% of rate x time + burst, every other request of it
    answered 429 with Retry-After and logged as rate_limited under the limit's name; the slow
    client never limited."""
    admitted = labelled(stats, 'allow', 'allowed')
    denied = labelled(stats, 'deny', 'rate_limited')
    fast_admitted = admitted - sent[SLOW]
    expected = rate * elapsed + burst
    print('fast client: %d sent in %.2f s, %d admitted (expected %.0f), %d limited; slow client: %d sent' %
          (sent[FAST], elapsed, fast_admitted, expected, denied, sent[SLOW]))
    if abs(fast_admitted - expected) > 0.1 * expected:
        raise AssertionError('fast client admitted %d, not within 10%% of %.0f' % (fast_admitted, expected))
    if denied != sent[FAST] - fast_admitted or stats['totals']['rate_limited'] != denied:
        raise AssertionError('%d denied rate_limited, rate_limited counter %d; %d sent by the fast client' %
                             (denied, stats['totals']['rate_limited'], sent[FAST]))
    if len(answers) != denied or not all(b'\r\nRetry-After: ' in a for a in answers):
        raise AssertionError('%d answers of 429 with Retry-After toward the clients, %d denied' % (
            sum(b'\r\nRetry-After: ' in a for a in answers), denied))
    wrong = [e for e in limited if e['flow']['src'] != FAST or e['action'] != 'deny' or e['detail'] != 'per-client'
             or e['route'] != 'get-order']
    if len(limited) != denied or wrong:
        raise AssertionError('%d rate_limited events for %d denials; wrong ones: %s' % (len(limited), denied, wrong[:3]))


@case('rate-limit-accuracy')
def rate_limit_accuracy(zt, args):
    """One worker: the fast client's admitted rate within 10% of the limit, the slow one untouched."""
    expect_limited(*run_paced(zt))


@case('rate-limit-workers')
def rate_limit_workers(zt, args):
    """Two workers, each with a port pair, the fast client's connections alternating between them:
    the limit holds for the client as a whole (one table shared by the workers), not per worker."""
    stats, *rest = run_paced(zt, pairs=2, lcores=('--lcores', '0@0,1@1,2@1'))
    seen = [w['http_requests'] for w in stats['per_worker']]
    if len(seen) != 2 or min(seen) == 0:
        raise AssertionError('requests per worker %s: the traffic was not split over two workers' % seen)
    expect_limited(stats, *rest)

@case('rate-limit-rates')
def rate_limit_rates(zt, args):
    """The same accuracy at a slow limit (8/s, burst 2) and a fast one (120/s, burst 12): the fast
    client, at 2.5 times each, is admitted within 10% of rate x time + burst."""
    for rate, burst in ((8, 2), (120, 12)):
        print('limit %d/s, burst %d' % (rate, burst))
        expect_limited(*run_paced(zt, rate=rate, burst=burst), rate=rate, burst=burst)


if __name__ == '__main__':
    sys.exit(cases.main())
