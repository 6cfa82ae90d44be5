#!/usr/bin/python3
"""ztgate pipeline cases for behaviour: baselines, abuse signals, risk and quarantine. Requests are
paced in real time into ztgate through a named pipe (net_pcap reads them as they come), so windows,
baselines and the time from a threshold to a quarantine are those of a running appliance.

Usage: behaviour_cases.py ZTGATE CASE --ztgatectl ZTGATECTL   (meson registers one test per case)
"""
import contextlib
import datetime
import hashlib
import json
import os
import sys
import tempfile
import time

import cases
from capture_cases import running_on_pipes, wait_for
from cases import case, request, udp
from pipeline import TcpSession, control

SERVER = '198.51.100.20'
API_KEY = 'ztgk_' + os.urandom(24).hex()
# Keys of eight more integrations (svc-1 .. svc-8), for one source presenting many identities.
MORE_KEYS = ['ztgk_' + os.urandom(24).hex() for _ in range(8)]
# The policy of every case: one anonymous route with an object id, one that needs the API key.
POLICY = '''version = 1; name = "behaviour"; mode = "enforce";
defaults = { action = "deny"; non_http = "drop"; unknown_host = "deny"; };
segments = ( { name = "clients"; addresses = [ "192.0.2.0/24" ]; },
             { name = "servers"; addresses = [ "198.51.100.0/24" ]; } );
api_keys = (
  { id = "batch"; sha256 = "%(sha256)s"; subject = "svc-batch"; scopes = [ "orders:read" ]; }%(more_keys)s
);
behaviour = { %(behaviour)s };
services = (
  { name = "orders"; hosts = [ "api.example" ]; addresses = [ "198.51.100.20/32" ]; ports = [ 80 ];
    segment = "servers";
    authentication = { api_key_header = "X-API-Key"; };
    routes = (
      { name = "get-order"; methods = [ "GET" ]; path = "/api/v1/orders/{id}"; action = "allow"; anonymous = true; },
      { name = "export"; methods = [ "GET" ]; path = "/api/v1/export"; action = "allow";
        require = { scopes = [ "orders:read" ]; }; }
    );
  }
);
access = ( { from = "clients"; to = [ "orders" ]; } );
'''


def write_policy(tmp, behaviour, name='policy.conf'):
    path = os.path.join(tmp, name)
    with open(path, 'w') as f:
        more = ''.join(',\n  { id = "svc-%d"; sha256 = "%s"; subject = "svc-%d"; scopes = [ "orders:read" ]; }' %
                       (i + 1, hashlib.sha256(k.encode()).hexdigest(), i + 1) for i, k in enumerate(MORE_KEYS))
        f.write(POLICY % {'sha256': hashlib.sha256(API_KEY.encode()).hexdigest(), 'behaviour': behaviour,
                          'more_keys': more})
    return path


class Caller:
    """One client address with one keep-alive connection: each call sends the next request on it
    and the server's answer (the pipeline has no server; ztgate drops an answer to a refused request
    with the rest of its connection)."""

    def __init__(self, feed, addr, sport=40000):
        self.feed, self.addr = feed, addr
        self.session = TcpSession(addr, SERVER, sport=sport)
        self.sent = 0
        feed.send(self.session.handshake())

    def get(self, path, headers=(), status=b'200 OK', body=b'ok'):
        self.feed.send([self.session.c('PA', request('GET', path, headers=headers)),
                        self.session.s('PA', b'HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s' % (status, len(body), body))])
        self.sent += 1


def pace(callers, seconds):
    """callers: [(Caller, requests per second, path of the n-th request)]; each is sent at its own
    pace for `seconds` of real time."""
    start = time.monotonic()
    next_at = [start] * len(callers)
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            return
        for i, (caller, rate, path) in enumerate(callers):
            while now >= next_at[i]:
                caller.get(path(caller.sent))
                next_at[i] += 1 / rate
        time.sleep(0.0005)


def event_time(e):
    return datetime.datetime.strptime(e['timestamp'], '%Y-%m-%dT%H:%M:%S.%fZ').replace(
        tzinfo=datetime.timezone.utc).timestamp()


def read_log(path):
    """The event log: (events about traffic, the other lines: command audits and quarantine changes)."""
    with open(path) as f:
        lines = [json.loads(line) for line in f]
    return [e for e in lines if 'flow' in e], [e for e in lines if 'flow' not in e]


class Run:
    """One ztgate in its own directory under tmp (the event log and stats outlive it there)."""

    def __init__(self, tmp, name):
        self.dir = os.path.join(tmp, name)
        os.mkdir(self.dir)
        self.sock = os.path.join(self.dir, 'ztgate.sock')
        self.events = os.path.join(self.dir, 'events.json')
        self.stats = os.path.join(self.dir, 'stats.json')
        self.feed = None

    def totals(self):
        with open(self.stats) as f:
            return json.load(f)['totals']

    def settle(self):
        """Wait until ztgate has received every frame written so far, and a moment for the last burst."""
        wait_for('every frame received',
                 lambda: json.loads(control(self.sock, 'stats', '--json')[1])['totals']['rx_packets'],
                 lambda n: n >= self.feed.sent)
        time.sleep(0.1)


@contextlib.contextmanager
def appliance(zt, tmp, behaviour, name='run', state=None):
    """ztgate on a pipe with the behaviour policy, in tmp/name: yields its Run."""
    run = Run(tmp, name)
    options = ['-p', '0:1', '--policy', write_policy(run.dir, behaviour), '--control-socket', run.sock,
               '--event-log', run.events, '--stats-json', run.stats]
    if state:
        options += ['--state-dir', state]
    with running_on_pipes(zt, run.dir, options) as (feeds, _):
        run.feed = feeds[0]
        yield run


def quarantine_list(sock):
    rc, body = control(sock, 'quarantine', 'list', '--json')
    if rc != 0:
        raise AssertionError('quarantine list: exit %d: %s' % (rc, body))
    return json.loads(body)


RAMP, STEADY = '192.0.2.30', ('192.0.2.31', '192.0.2.32')
RAMP_BEHAVIOUR = '''mode = "%s"; window = 1; history = 4; factor = 10.0;
  floors = { requests = 30; errors = 0; objects = 0; bytes = 0; };
  risk = { threshold = 100.0; half_life = 60; quarantine = 60; };'''


def run_ramp(zt, mode):
    """Three anonymous callers at 5 requests/s for 4 s (their baselines), then one of them at 100
    times that for 2 s while the other two go on, and a new connection of it after. Returns what
    ztgate logged and counted."""
    with tempfile.TemporaryDirectory(prefix='ztg-behaviour-') as tmp:
        with appliance(zt, tmp, RAMP_BEHAVIOUR % mode) as run:
            ramp = Caller(run.feed, RAMP, 41000)
            steady = [Caller(run.feed, a, 42000 + i) for i, a in enumerate(STEADY)]
            order = lambda n: '/api/v1/orders/7'
            pace([(ramp, 5, order)] + [(c, 5, order) for c in steady], 4.0)
            ramp_start = time.time()
            pace([(ramp, 500, order)] + [(c, 5, order) for c in steady], 2.0)
            Caller(run.feed, RAMP, 41001)
            run.settle()
            listed = quarantine_list(run.sock)
        return read_log(run.events)[0], listed, run.totals(), ramp_start


def behaviour_events(events, action, src=None, scope=None):
    return [e for e in events if e['action'] == action and (src is None or e['flow']['src'] == src)
            and (scope is None or e['behaviour']['scope'] == scope)]


@case('behaviour-ramp')
def behaviour_ramp(zt, args):
    """The caller going to 100x its baseline is flagged within the window (1 s) and quarantined within
    one second of crossing the threshold; the steady callers beside it are untouched."""
    events, listed, totals, ramp_start = run_ramp(zt, 'enforce')
    alerts = behaviour_events(events, 'alert', RAMP, 'source')
    quarantines = behaviour_events(events, 'quarantine', RAMP)
    if not alerts or alerts[0]['behaviour']['figure'] != 'requests' or alerts[0]['reason'] != 'anomaly':
        raise AssertionError('no requests anomaly for the ramping caller: %s' % alerts[:2])
    a = alerts[0]
    flagged = event_time(a) - ramp_start
    print('flagged %.3f s into the ramp: %s' % (flagged, a['behaviour']))
    # The event's baseline is rounded to 2 decimals; the crossing itself was strictly above 10x.
    if flagged > 1.0 or a['behaviour']['current'] < 30 or a['behaviour']['current'] < 10 * a['behaviour']['baseline'] - 0.1:
        raise AssertionError('flagged %.3f s into the ramp (window 1 s) with %s' % (flagged, a['behaviour']))
    # 5 requests per window learnt; a window that closed just after the ramp began may add a few more.
    if not 1.5 <= a['behaviour']['baseline'] <= 20:
        raise AssertionError('baseline %.2f for a caller at 5 requests per window' % a['behaviour']['baseline'])
    if len(quarantines) != 1 or event_time(quarantines[0]) - event_time(a) > 1.0:
        raise AssertionError('quarantine events for the ramping caller: %s' % quarantines)
    print('quarantined %.3f s after the anomaly' % (event_time(quarantines[0]) - event_time(a)))
    entries = listed['entries']
    if [(e['kind'], e['source'], e['origin']) for e in entries] != [('source', RAMP + '/32', 'automatic')]:
        raise AssertionError('quarantine list: %s' % entries)
    if entries[0]['refused'] < 1 or entries[0]['reason'] != 'risk 100 >= 100: anomaly requests':
        raise AssertionError('quarantine entry: %s' % entries[0])
    refused = [e for e in events if e['action'] == 'deny' and e['reason'] == 'quarantined']
    if not refused or any(e['flow']['src'] != RAMP for e in refused) or refused[0]['detail'] != 'source':
        raise AssertionError('requests refused as quarantined: %s' % refused[:3])
    for src in STEADY:
        touched = [e for e in events if e['flow']['src'] == src]
        if touched:
            raise AssertionError('steady caller %s touched: %s' % (src, touched[:3]))
    if totals['quarantines_automatic'] != 1 or totals['quarantined'] != len(refused) or \
            totals['drops'].get('quarantined', 0) < 1:
        raise AssertionError('counters: quarantines_automatic %d, quarantined %d for %d refusals' % (
            totals['quarantines_automatic'], totals['quarantined'], len(refused)) + '; drops %s' % totals['drops'])


@case('behaviour-monitor')
def behaviour_monitor(zt, args):
    """mode = "monitor": the same ramp is flagged and the quarantine is logged as monitor, but
    nothing is quarantined and no request refused."""
    events, listed, totals, _ = run_ramp(zt, 'monitor')
    alerts = behaviour_events(events, 'alert', RAMP, 'source')
    quarantines = behaviour_events(events, 'quarantine', RAMP)
    if not alerts or not quarantines or any(e['mode'] != 'monitor' for e in alerts + quarantines):
        raise AssertionError('monitor mode: alerts %s, quarantines %s' % (alerts[:1], quarantines[:1]))
    denied = [e for e in events if e['action'] in ('deny', 'reset', 'drop')]
    if listed['entries'] or denied or totals['quarantined'] or totals['quarantines_automatic']:
        raise AssertionError('monitor mode refused: list %s, denials %s, counters %d/%d' % (
            listed['entries'], denied[:2], totals['quarantined'], totals['quarantines_automatic']))
    # Nothing stopped the ramp: the route, all callers together, went far over its own baseline too.
    route = behaviour_events(events, 'alert', scope='route')
    if not route or route[0]['route'] != 'get-order' or route[0]['behaviour']['figure'] != 'requests':
        raise AssertionError('the route get-order going to 30x was not flagged: %s' % route[:2])


@case('behaviour-enumeration')
def behaviour_enumeration(zt, args):
    """A caller reading one order at a time, then walking order ids: the distinct objects of its
    window go far over its baseline and it is flagged, while its request rate alone is not."""
    behaviour = '''window = 1; history = 4; factor = 10.0;
      floors = { requests = 100000; errors = 0; objects = 30; bytes = 0; };
      risk = { threshold = 1000.0; };'''
    walker = '192.0.2.33'
    with tempfile.TemporaryDirectory(prefix='ztg-behaviour-') as tmp:
        with appliance(zt, tmp, behaviour) as run:
            c = Caller(run.feed, walker, 43000)
            pace([(c, 10, lambda n: '/api/v1/orders/1')], 4.0)
            pace([(c, 200, lambda n: '/api/v1/orders/%d' % (1000 + n))], 1.5)
            run.settle()
            listed = quarantine_list(run.sock)
        found = behaviour_events(read_log(run.events)[0], 'alert', walker, 'source')
    if not found or {e['behaviour']['figure'] for e in found} != {'objects'}:
        raise AssertionError('enumeration: alerts %s' % found)
    b = found[0]['behaviour']
    print('enumeration flagged: %s' % b)
    # The walk may start late in a window, whose few ids then count in the next window's baseline.
    if b['current'] < 30 or b['current'] <= 10 * b['baseline'] or not found[0]['path'].startswith('/api/v1/orders/'):
        raise AssertionError('enumeration alert: %s' % found[0])
    if listed['entries']:
        raise AssertionError('enumeration below the risk threshold quarantined: %s' % listed['entries'])


@case('behaviour-stuffing')
def behaviour_stuffing(zt, args):
    """Failed API keys from one source, one connection each: at the 20th failure within a window
    the stuffing signal quarantines the source and its next connections are dropped, while another
    source with the right key goes on."""
    # An hour's window: the burst stays in one (a previous window's count is weighed as if spread evenly).
    behaviour = '''window = 3600; signals = { auth_failures = 20; token_sources = 0; source_identities = 0; };
      risk = { threshold = 100.0; weights = { auth_failures = 100.0; }; };'''
    stuffer, good = '192.0.2.34', '192.0.2.35'
    with tempfile.TemporaryDirectory(prefix='ztg-behaviour-') as tmp:
        with appliance(zt, tmp, behaviour) as run:
            fine = Caller(run.feed, good, 44900)
            for n in range(25):
                Caller(run.feed, stuffer, 44000 + n).get('/api/v1/export',
                                                         headers=[('X-API-Key', 'ztgk_' + os.urandom(24).hex())])
                fine.get('/api/v1/export', headers=[('X-API-Key', API_KEY)])
                run.settle()
            listed = quarantine_list(run.sock)
        logged, _ = read_log(run.events)
        totals = run.totals()
    failures = [e for e in logged if e['flow']['src'] == stuffer and e['reason'] == 'api_key_unknown']
    signal = behaviour_events(logged, 'alert', stuffer, 'source')
    quarantine = behaviour_events(logged, 'quarantine', stuffer)
    if len(failures) != 20 or len(signal) != 1 or signal[0]['reason'] != 'auth_failures':
        raise AssertionError('%d api_key_unknown denials, signals %s' % (len(failures), signal))
    if signal[0]['behaviour']['current'] != 20 or signal[0]['behaviour']['judged_by'] != 'limit':
        raise AssertionError('stuffing signal figures: %s' % signal[0]['behaviour'])
    if len(quarantine) != 1 or [(e['source'], e['reason']) for e in listed['entries']] != \
            [(stuffer + '/32', 'risk 100 >= 100: auth_failures')]:
        raise AssertionError('quarantine: events %s, list %s' % (quarantine, listed['entries']))
    # Connections 21 to 25 never open: their SYNs meet the quarantine.
    if totals['drops'].get('quarantined', 0) < 5 or listed['entries'][0]['refused'] < 5:
        raise AssertionError('the stuffer\'s later connections: drops %s, entry %s' % (totals['drops'], listed['entries']))
    if [e for e in logged if e['flow']['src'] == good]:
        raise AssertionError('the good source was touched: %s' % [e for e in logged if e['flow']['src'] == good][:3])
    if totals['policy_allowed'] != 25:
        raise AssertionError('%d requests allowed, expected the good source\'s 25' % totals['policy_allowed'])


@case('behaviour-token-sources')
def behaviour_token_sources(zt, args):
    """One API key used from more addresses within a window than the limit (5): the identity is
    quarantined, refused from every address, and `quarantine del` lets it back from the next request."""
    # An hour's window: the burst stays in one (a previous window's count is weighed as if spread evenly).
    behaviour = '''window = 3600; signals = { auth_failures = 0; token_sources = 5; source_identities = 0; };
      risk = { threshold = 100.0; };'''
    key = [('X-API-Key', API_KEY)]
    with tempfile.TemporaryDirectory(prefix='ztg-behaviour-') as tmp:
        with appliance(zt, tmp, behaviour) as run:
            for i in range(8):
                Caller(run.feed, '192.0.2.%d' % (60 + i), 45000 + i).get('/api/v1/export', headers=key)
                run.settle()
            listed = quarantine_list(run.sock)
            rc, out = control(run.sock, 'quarantine', 'del', 'identity', 'api-key', 'svc-batch')
            if rc != 0:
                raise AssertionError('quarantine del: exit %d: %s' % (rc, out))
            Caller(run.feed, '192.0.2.70', 45100).get('/api/v1/export', headers=key)
            run.settle()
            after = quarantine_list(run.sock)
        logged, _ = read_log(run.events)
        totals = run.totals()
    signal = [e for e in logged if e['action'] == 'alert' and e['reason'] == 'token_sources']
    if len(signal) != 1 or signal[0]['behaviour']['current'] < 5 or signal[0]['identity']['subject'] != 'svc-batch':
        raise AssertionError('token_sources signal: %s' % signal)
    entries = [(e['kind'], e.get('issuer'), e.get('subject')) for e in listed['entries']]
    if entries != [('identity', 'api-key', 'svc-batch')]:
        raise AssertionError('quarantine list: %s' % listed['entries'])
    # Distinct sources are estimated (linear counting): the 5th address crosses, or the 6th when two collide.
    refused = [int(e['flow']['src'].split('.')[-1]) - 60 for e in logged if e['reason'] == 'quarantined']
    first = signal[0]['flow']['src']
    print('the signal came with %s; refused: %s' % (first, refused))
    if first not in ('192.0.2.64', '192.0.2.65') or refused != list(range(int(first.split('.')[-1]) - 60, 8)):
        raise AssertionError('refused as quarantined: %s (signal from %s)' % (refused, first))
    if any(e['detail'] != 'identity' for e in logged if e['reason'] == 'quarantined'):
        raise AssertionError('quarantined for something else than the identity')
    if after['entries'] or totals['policy_allowed'] != refused[0] + 1:
        raise AssertionError('after del: %s, %d allowed' % (after['entries'], totals['policy_allowed']))


@case('behaviour-source-identities')
def behaviour_source_identities(zt, args):
    """One address presenting one valid API key after another (limit 5 identities a window): the
    source is quarantined and its next connections dropped, while another address using one of those
    keys goes on."""
    # An hour's window: the burst stays in one (a previous window's count is weighed as if spread evenly).
    behaviour = '''window = 3600; signals = { auth_failures = 0; token_sources = 0; source_identities = 5; };
      risk = { threshold = 100.0; };'''
    spray, other = '192.0.2.37', '192.0.2.38'
    with tempfile.TemporaryDirectory(prefix='ztg-behaviour-') as tmp:
        with appliance(zt, tmp, behaviour) as run:
            for i, k in enumerate(MORE_KEYS):
                Caller(run.feed, spray, 48000 + i).get('/api/v1/export', headers=[('X-API-Key', k)])
                run.settle()
            Caller(run.feed, other, 48100).get('/api/v1/export', headers=[('X-API-Key', MORE_KEYS[0])])
            run.settle()
            listed = quarantine_list(run.sock)
        logged, _ = read_log(run.events)
        totals = run.totals()
    signal = [e for e in logged if e['action'] == 'alert' and e['reason'] == 'source_identities']
    print('signals: %s' % [(s['flow']['src_port'], s['behaviour']) for s in signal])
    if len(signal) != 1 or signal[0]['flow']['src'] != spray or signal[0]['behaviour']['scope'] != 'source' or \
            signal[0]['behaviour']['current'] < 5:
        raise AssertionError('source_identities signal: %s' % signal)
    if [(e['kind'], e['source'], e['origin']) for e in listed['entries']] != [('source', spray + '/32', 'automatic')]:
        raise AssertionError('quarantine list: %s' % listed['entries'])
    # The request that crossed is refused (5th identity, or 6th when two share a sketch bit); the
    # connections after it never open.
    crossed = signal[0]['flow']['src_port'] - 48000
    refused = [e['flow']['src_port'] - 48000 for e in logged if e['reason'] == 'quarantined']
    if crossed not in (4, 5) or refused != [crossed] or totals['drops'].get('quarantined', 0) < 7 - crossed:
        raise AssertionError('crossed at %d, refused %s, drops %s' % (crossed, refused, totals['drops']))
    if [e for e in logged if e['flow']['src'] == other] or totals['policy_allowed'] != crossed + 1:
        raise AssertionError('%d allowed: the %d before the crossing and the other address\'s' % (
            totals['policy_allowed'], crossed))


@case('behaviour-errors')
def behaviour_errors(zt, args):
    """An API key whose calls the server answers 200, then 404 after 404 (a caller probing what
    exists): the error responses go over the identity's baseline, the alert names the figure, and
    since a response does not say who the caller is, the flow's next request quarantines it."""
    behaviour = '''window = 1; history = 4; factor = 10.0;
      floors = { requests = 100000; errors = 20; objects = 0; bytes = 0; };
      risk = { threshold = 100.0; };'''
    key = [('X-API-Key', API_KEY)]
    with tempfile.TemporaryDirectory(prefix='ztg-behaviour-') as tmp:
        with appliance(zt, tmp, behaviour) as run:
            c = Caller(run.feed, '192.0.2.36', 47000)
            start = time.monotonic()
            while time.monotonic() - start < 3.0:
                c.get('/api/v1/export', headers=key)
                time.sleep(0.1)
            # About 100 a second for 2.5 s: whichever way windows cut them, a whole one holds far more
            # than 10 times what a partial one before it taught the baseline.
            start = time.monotonic()
            while time.monotonic() - start < 2.5:
                c.get('/api/v1/export', headers=key, status=b'404 Not Found', body=b'no such export')
                time.sleep(0.01)
            run.settle()
            listed = quarantine_list(run.sock)
        logged, _ = read_log(run.events)
    alerts = [e for e in logged if e['action'] == 'alert' and e['behaviour']['figure'] == 'errors'
              and e['behaviour']['scope'] == 'identity']
    quarantine = [e for e in logged if e['action'] == 'quarantine']
    refused = [e for e in logged if e['reason'] == 'quarantined']
    print('alerts %s; quarantine %s' % ([a['behaviour'] for a in alerts], [q['behaviour'] for q in quarantine]))
    b = alerts[0]['behaviour'] if alerts else None
    # A window may close on the first 404s, which then count in the next window's baseline.
    if len(alerts) != 1 or b['current'] < 20 or b['current'] < 10 * b['baseline'] - 0.1:
        raise AssertionError('error responses alert: %s' % alerts)
    if len(quarantine) != 1 or quarantine[0]['behaviour']['figure'] != 'errors' or \
            quarantine[0]['identity']['subject'] != 'svc-batch':
        raise AssertionError('quarantine events: %s' % quarantine)
    if len(refused) != 1 or refused[0]['detail'] != 'identity' or event_time(refused[0]) < event_time(alerts[0]) or \
            event_time(refused[0]) - event_time(alerts[0]) > 0.5:
        raise AssertionError('the request after the 20th 404: %s' % refused)
    if [(e['kind'], e['subject'], e['reason']) for e in listed['entries']] != \
            [('identity', 'svc-batch', 'risk 100 >= 100: anomaly errors in its responses')]:
        raise AssertionError('quarantine list: %s' % listed['entries'])


@case('quarantine-control')
def quarantine_control(zt, args):
    """The operator's quarantine and blocks: add, list, del from the next request; prefixes;
    errors; a policy swap keeps them; --for expires (audited); --state-dir keeps the operator's
    entries across a restart."""
    key = [('X-API-Key', API_KEY)]
    with tempfile.TemporaryDirectory(prefix='ztg-quarantine-') as tmp:
        state = os.path.join(tmp, 'state')
        with appliance(zt, tmp, 'window = 10;', 'first', state) as run:
            held = Caller(run.feed, '192.0.2.41', 46000)      # opened before its source is quarantined
            run.settle()
            for argv, want in ((['quarantine', 'add', 'source', '192.0.2.41', '--reason', 'incident 42'], 0),
                               (['quarantine', 'add', 'identity', 'api-key', 'svc-batch', '--for', '600'], 0),
                               (['block', 'add', '192.0.2.48/29'], 0),
                               (['block', 'add', '192.0.2.1/24'], 2),
                               (['quarantine', 'add', 'source', 'not-an-address'], 2),
                               (['quarantine', 'add', 'identity', 'api-key'], 2),
                               (['quarantine', 'add', 'source', '192.0.2.9', '--for', 'soon'], 2),
                               (['quarantine', 'del', 'source', '192.0.2.99'], 1),
                               (['quarantine', 'add', 'source', '192.0.2.44', '--for', '5'], 0)):
                rc, out = control(run.sock, *argv)
                print('$ ztgatectl %s -> %d: %s' % (' '.join(argv), rc, out.strip()))
                if rc != want:
                    raise AssertionError('%s: exit %d, expected %d: %s' % (argv, rc, want, out))
                if argv[:3] == ['block', 'add', '192.0.2.1/24'] and 'host bits' not in out:
                    raise AssertionError('a prefix with host bits: %s' % out)
            listed = quarantine_list(run.sock)
            rc, blocks = control(run.sock, 'block', 'list', '--json')
            held.get('/api/v1/orders/1')
            Caller(run.feed, '192.0.2.42', 46001).get('/api/v1/export', headers=key)
            Caller(run.feed, '192.0.2.50', 46002)              # inside the block: its SYN is dropped
            run.settle()
            # A policy swap keeps the quarantine: the identity is still refused after it.
            rc, out = control(run.sock, 'apply', write_policy(run.dir, 'window = 5;', 'swapped.conf'))
            if rc != 0:
                raise AssertionError('apply: %s' % out)
            Caller(run.feed, '192.0.2.42', 46003).get('/api/v1/export', headers=key)
            run.settle()
            rc, out = control(run.sock, 'quarantine', 'del', 'identity', 'api-key', 'svc-batch')
            Caller(run.feed, '192.0.2.42', 46004).get('/api/v1/export', headers=key)
            run.settle()
            wait_for('the 5 s quarantine to expire',
                     lambda: [e.get('source') for e in quarantine_list(run.sock)['entries']],
                     lambda s: '192.0.2.44/32' not in s)
        logged, others = read_log(run.events)
        totals = run.totals()
        with open(os.path.join(state, 'quarantine.json')) as f:
            persisted = f.read()
        with appliance(zt, tmp, 'window = 10;', 'second', state) as again:
            restarted = quarantine_list(again.sock)
    kinds = sorted((e['kind'], e['origin'], e.get('source') or e.get('subject')) for e in listed['entries'])
    if kinds != [('identity', 'operator', 'svc-batch'), ('source', 'block', '192.0.2.48/29'),
                 ('source', 'operator', '192.0.2.41/32'), ('source', 'operator', '192.0.2.44/32')]:
        raise AssertionError('quarantine list: %s' % kinds)
    blocks = json.loads(blocks)
    block = blocks['entries']
    if len(block) != 1 or 'software' not in (block[0]['hardware'] or '') or blocks['nic_rules'] != 0:
        raise AssertionError('block list (net_pcap has no rte_flow: software): %s' % blocks)
    refused = [(e['flow']['src'], e['detail']) for e in logged if e.get('reason') == 'quarantined']
    if refused != [('192.0.2.41', 'source'), ('192.0.2.42', 'identity'), ('192.0.2.42', 'identity')]:
        raise AssertionError('refused as quarantined: %s' % refused)
    if totals['drops'].get('quarantined') != 1 or totals['policy_allowed'] != 1:
        raise AssertionError('drops %s, %d allowed (the request after del)' % (totals['drops'], totals['policy_allowed']))
    expired = [e['quarantine'] for e in others if e.get('quarantine', {}).get('change') == 'expired']
    commands = [e['audit']['args'] for e in others if e.get('audit', {}).get('command') == 'quarantine']
    if [e['subject'] for e in expired] != ['192.0.2.44/32'] or len(commands) < 9:
        raise AssertionError('audit lines: expired %s, %d quarantine commands' % (expired, len(commands)))
    back = sorted((e['kind'], e['origin'], e.get('source') or e.get('subject')) for e in restarted['entries'])
    if back != [('source', 'block', '192.0.2.48/29'), ('source', 'operator', '192.0.2.41/32')]:
        raise AssertionError('after a restart: %s (state file: %s)' % (back, persisted))


if __name__ == '__main__':
    sys.exit(cases.main())
