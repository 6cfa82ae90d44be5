#!/usr/bin/python3
"""ztgate pipeline cases for signatures over message bodies and responses: request and
response bodies streamed across TCP segments and chunks, response status and header lines,
and the verdicts they bring, under tests/pipeline/signatures/body.conf and body.rules (and
the shipped rules/signatures/leaks-cards.rules).

Usage: body_cases.py ZTGATE CASE   (meson registers one test per case)
"""
import json
import os
import shutil
import sys
import tempfile

import cases
from cases import V4, case, events_of, request, tcp_of
from pipeline import TcpSession, describe

HERE = os.path.dirname(os.path.abspath(__file__))
SIGNATURES = os.path.join(HERE, 'signatures')
SHIPPED_RULES = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'rules', 'signatures')
SERVICE = 'body-api'


def staged_policy(tmp):
    """body.conf beside body.rules and the shipped leaks-cards.rules (a policy names its rule
    files below its own directory): the policy's path."""
    for src in (os.path.join(SIGNATURES, 'body.conf'), os.path.join(SIGNATURES, 'body.rules'),
                os.path.join(SHIPPED_RULES, 'leaks-cards.rules')):
        shutil.copy(src, tmp)
    return os.path.join(tmp, 'body.conf')


# ---- messages cut into segments and chunks -----------------------------------------------

def pieces(data, cuts):
    """data cut at the ascending offsets `cuts`."""
    edges = [0] + sorted(set(c for c in cuts if 0 < c < len(data))) + [len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


def every(start, end, step):
    """Cut offsets from start to end, step apart: a run of segments of `step` bytes."""
    return list(range(start, end, step))


def through(parts, offset):
    """The leading parts up to the one holding byte `offset`: a connection whose match completes
    there ends with that packet, which is dropped."""
    end = 0
    for i, part in enumerate(parts):
        end += len(part)
        if offset < end:
            return parts[:i + 1]
    raise ValueError('offset %d past the message (%d bytes)' % (offset, end))


def chunked(body, sizes):
    """body in chunks of the given sizes, cycled; chunks with an odd number get an extension.
    Returns the encoding and, for each body byte, its offset in it."""
    out, where, i, k = b'', [], 0, 0
    while i < len(body):
        n = min(sizes[k % len(sizes)], len(body) - i)
        out += b'%x%s\r\n' % (n, b';n=%d' % k if k % 2 else b'')
        where += range(len(out), len(out) + n)
        out += body[i:i + n] + b'\r\n'
        i, k = i + n, k + 1
    return out + b'0\r\n\r\n', where


def last_byte(data, needle):
    """Offset of the last byte of needle in data: where a match ending with it completes."""
    return data.index(needle) + len(needle) - 1


def body_bytes(messages):
    """The body bytes of consecutive messages with Content-Length."""
    total = 0
    while messages:
        n = body_length(messages)
        total, messages = total + n, messages[head_length(messages) + n:]
    return total


def head_length(message):
    return message.index(b'\r\n\r\n') + 4


def body_length(message):
    """The Content-Length of the message message starts with."""
    head = message[:head_length(message)]
    return int(head.split(b'Content-Length: ')[1].split(b'\r\n')[0])


def response(body, status='200 OK', headers=(('Content-Type', 'application/json'),)):
    head = 'HTTP/1.1 %s\r\n' % status + ''.join('%s: %s\r\n' % h for h in headers)
    return (head + 'Content-Length: %d\r\n\r\n' % len(body)).encode() + body


def chunked_response(encoded):
    return b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' + encoded


def filler(n, tag='item'):
    """n bytes of ordinary JSON members, none of which any rule matches."""
    out = b''
    k = 0
    while len(out) < n:
        out += b'"%s%d":{"sku":"ZTG-%04d","qty":%d,"price":"19.90"},' % (tag.encode(), k, k, k % 7 + 1)
        k += 1
    return out[:n - 1] + b' '


def luhn_ok(digits):
    total = 0
    for i, c in enumerate(reversed(digits)):
        n = int(c) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


# ---- connections and what must become of them ----------------------------------------------

class Conn:
    """One connection of a run: its packets in the order sent, and its fate.

    verdict 'pass': every packet forwarded, nothing sent back. 'deny': the last packet (the
    client's, completing a request match) dropped, a RST to the server in its place, a 403 to
    the client. 'reset': the last packet (the server's, completing a response match) dropped,
    a RST to the client in its place and one to the server. event: (action, reason, rules,
    score, route, path) of its one event, or None for none.
    """

    def __init__(self, label, sport, packets, verdict='pass', event=None):
        self.label, self.sport, self.packets, self.verdict, self.event = label, sport, packets, verdict, event

    def name(self):
        return '%s (sport %d)' % (self.label, self.sport)

    def check(self, forwarded, reflected, events):
        """Problems found with what ztgate did to this connection, as text."""
        problems = self.check_frames(forwarded, reflected)
        problems += self.check_events(events, reflected)
        return ['%s: %s' % (self.name(), p) for p in problems]

    def check_frames(self, forwarded, reflected):
        if self.verdict == 'pass':
            out = frames_differ('forwarded', self.packets, forwarded)
            if reflected:
                out.append('%d packet(s) sent back to the sender, expected none; first: %s' %
                           (len(reflected), describe(reflected[0])))
            return out
        last, before = self.packets[-1], self.packets[:-1]
        out = frames_differ('forwarded before the packet completing the match', before, forwarded[:len(before)])
        if last in forwarded:
            out.append('the packet completing the match (the last of %d sent) was forwarded' % len(self.packets))
        injected = forwarded[len(before):]
        sender = tcp_of(last)
        if len(injected) != 1:
            out.append('expected 1 RST after the %d packets forwarded, got %d: %s' %
                       (len(before), len(injected), [describe(f) for f in injected]))
        else:
            out += rst_problems('to the receiver', injected[0], sender.dport, sender.seq)
        if len(reflected) != 1:
            out.append('expected 1 packet back to the sender (%s), got %d: %s' %
                       ('a 403' if self.verdict == 'deny' else 'a RST', len(reflected),
                        [describe(f) for f in reflected]))
        elif self.verdict == 'deny':
            back = tcp_of(reflected[0])
            payload = bytes(back.payload)
            if not payload.startswith(b'HTTP/1.1 403 Forbidden\r\n'):
                out.append('expected a 403 back to the client, got %s %r' % (back.summary(), payload[:40]))
            elif (back.dport, back.seq) != (self.sport, sender.ack) or back.ack < sender.seq + len(sender.payload):
                out.append('403 numbers wrong: %s (expected dport %d seq %d ack >= %d)' %
                           (back.summary(), self.sport, sender.ack, sender.seq + len(sender.payload)))
        else:
            out += rst_problems('back to the server', reflected[0], 80, sender.ack)
        return out

    def check_events(self, events, reflected):
        if self.event is None:
            return ['expected no event, got %d: %s' % (len(events), events)] if events else []
        if len(events) != 1:
            return ['expected one event %s, got %d: %s' % (self.event, len(events), events)]
        e = events[0]
        action, reason, rules, score, route, path = self.event
        got = (e['action'], e['reason'], sorted(e.get('rules', [])), e.get('score'), e.get('route'))
        want = (action, reason, sorted(rules), score, route)
        out = []
        if got != want:
            out.append('event (action, reason, rules, score, route): expected %s, got %s\n    %s' %
                       (want, got, json.dumps(e)))
        # Not every verdict names the request's path; one that does names this one.
        if e.get('path', path) != path:
            out.append('event names path %r, expected %r' % (e['path'], path))
        if e.get('service') != SERVICE or e.get('segment') != 'clients':
            out.append('event places the request wrongly (service %r, segment %r)' %
                       (e.get('service'), e.get('segment')))
        if self.verdict == 'deny' and len(reflected) == 1:
            body = bytes(tcp_of(reflected[0]).payload).partition(b'\r\n\r\n')[2]
            try:
                denial = json.loads(body)
            except ValueError:
                denial = {}
            if (denial.get('reason'), denial.get('request_id')) != (e['reason'], e.get('request_id')):
                out.append('the 403 says %r, the event reason %s request %s' % (body, e['reason'], e.get('request_id')))
        return out


def frames_differ(what, want, got):
    for i, (w, g) in enumerate(zip(want, got)):
        if w != g:
            return ['%s: packet %d differs\n    expected: %s\n    got:      %s' % (what, i, describe(w), describe(g))]
    if len(want) != len(got):
        extra = want[len(got):] or got[len(want):]
        return ['%s: expected %d packets, got %d; first %s: %s' %
                (what, len(want), len(got), 'missing' if len(want) > len(got) else 'unexpected', describe(extra[0]))]
    return []


def rst_problems(where, frame, dport, seq):
    t = tcp_of(frame)
    if 'R' not in str(t.flags) or t.dport != dport or t.seq != seq:
        return ['expected a RST %s (dport %d, seq %d), got %s' % (where, dport, seq, t.summary())]
    return []


def client_port(frame):
    t = tcp_of(frame)
    return t.sport if t.dport == 80 else t.dport


def connection(sport, client_parts, server_parts=(), order=None):
    """Handshake, then the client's parts, then the server's, each one segment; order: the
    indexes of those segments in the order sent (default as built)."""
    t = TcpSession(*V4, sport=sport)
    head = t.handshake()
    segments = [t.c('PA', p) for p in client_parts] + [t.s('PA', p) for p in server_parts]
    return head + ([segments[i] for i in order] if order else segments)


def judge(r, conns, totals, ranges=None):
    """Every connection's frames and events as expected, no event of anything else, and the
    counters: totals exactly, ranges {name: (low, high)} inclusive. Every problem at once."""
    events = {}
    for e in events_of(r):
        events.setdefault(e['flow']['src_port'], []).append(e)
    problems = []
    for c in conns:
        problems += c.check([f for f in r.forwarded if client_port(f) == c.sport],
                            [f for f in r.reflected if client_port(f) == c.sport], events.pop(c.sport, []))
    for port, evs in sorted(events.items()):
        problems.append('events of no connection of this run (sport %d): %s' % (port, evs))
    for name, want in sorted(totals.items()):
        if r.totals.get(name) != want:
            problems.append('counter %s: expected %d, got %s' % (name, want, r.totals.get(name)))
    # Each request counted once under its final verdict, a body block included (not also as allowed).
    requests = r.stats['requests']
    counted = sum(q['count'] for q in requests)
    denied = sum(q['count'] for q in requests if q['verdict'] == 'deny')
    if counted != r.totals['http_requests'] or denied != r.totals['verdicts_deny']:
        problems.append('labelled requests: %d counted, %d denied; http_requests %d, verdicts_deny %d: %s' %
                        (counted, denied, r.totals['http_requests'], r.totals['verdicts_deny'], requests))
    for name, (low, high) in sorted((ranges or {}).items()):
        got = r.totals.get(name)
        if got is None or not low <= got <= high:
            problems.append('counter %s: expected %d..%d, got %s' % (name, low, high, got))
    if problems:
        drops = {k: v for k, v in r.totals['drops'].items() if v}
        r.fail('%d problem(s) with %d connections (drops %s):\n  %s' %
               (len(problems), len(conns), drops, '\n  '.join(problems)))
    print('ok: %d connections (%s)' % (len(conns), ', '.join(sorted(set(c.verdict for c in conns)))))


def blocked_totals(conns):
    """The counters every run with these connections shows whatever else it does."""
    deny = sum(c.verdict == 'deny' for c in conns)
    reset = sum(c.verdict == 'reset' for c in conns)
    return {'signature_blocked': deny, 'signature_response_blocked': reset, 'verdicts_deny': deny,
            'verdicts_reset': reset, 'injected_packets': 2 * (deny + reset), 'dropped': deny + reset}


# ---- request bodies ------------------------------------------------------------------------

UPLOAD = '/api/v1/upload'
ATTACK = b'1 UNION  SELECT password FROM users'
ATTACK_BODY = b'{"customer":"e2e","note":"' + ATTACK + b' WHERE 1=1","qty":2}'
BENIGN_BODY = b'{"customer":"e2e","note":"the union of selected passwords from users is empty","qty":2}'
PHP_BODY = b'{"snippet":"<?php eval(base64_decode($_POST[\'x\'])); ?>","lang":"php"}'
SIGNATURE = ('deny', 'signature', [900101], 0)


def upload(path, body, headers=()):
    """A POST of body with Content-Length: (the request, offset of the body in it)."""
    raw = request('POST', path, body=body, headers=headers)
    return raw, len(raw) - len(body)


def upload_chunked(path, body, sizes):
    """A chunked POST of body: (the request, offset of each body byte in it)."""
    head = request('POST', path, headers=[('Transfer-Encoding', 'chunked')])
    encoded, where = chunked(body, sizes)
    return head + encoded, [len(head) + w for w in where]


def denied_upload(label, sport, raw, cuts, complete_at, event, order=None, route='upload', path=UPLOAD):
    """A request cut at `cuts`, sent up to the segment holding byte complete_at (the one
    completing the match), which is denied."""
    parts = through(pieces(raw, cuts), complete_at)
    return Conn(label, sport, connection(sport, parts, order=order), 'deny', event + (route, path))


@case('signatures-body-split')
def signatures_body_split(zt, args):
    """Request bodies against body.rules: an attack split across 2, 3 and 1-byte TCP segments,
    across chunks of 1 to 7 bytes (in one segment, and in 5-byte segments that cut the chunk
    framing too), and arriving out of order, each denied at the packet completing it (403 to the
    client, RST to the server, rule 900101); scores of the head and the body add up; a route
    scanning 64 bytes still catches what lies inside them; the second of two pipelined requests
    is denied under its own route. Then what passes, with exact
    counters: benign bodies (plain and chunked), a score below the threshold, attacks past (or
    across) the 64-byte depth, an alert rule's match (a signature_alert event) and an attack
    on a monitor route (reported only, block_sets or not); and on a route with depth 0 an
    attack passes unscanned; two pipelined requests scoring 3 each (scores are per request)."""
    raw, at = upload(UPLOAD, ATTACK_BODY)
    end = at + last_byte(ATTACK_BODY, ATTACK)
    first = at + ATTACK_BODY.index(ATTACK)
    craw, cwhere = upload_chunked(UPLOAD, ATTACK_BODY, [1, 2, 3, 4, 5, 6, 7])
    chead = head_length(craw)
    cend = cwhere[last_byte(ATTACK_BODY, ATTACK)]
    scored_head, sat = upload(UPLOAD, b'{"file":"/etc/shadow","mode":"read"}', headers=[('X-Scan-Mode', 'aggressive')])
    scored, sbt = upload(UPLOAD, b'{"file":"../../etc/shadow"}')
    shallow, shat = upload('/api/v1/shallow', ATTACK_BODY)
    benign = upload(UPLOAD, BENIGN_BODY)[0]
    blocked = [
        denied_upload('two segments', 43000, raw, [first + 8], end, SIGNATURE),
        denied_upload('three segments', 43001, raw, [first + 4, first + 20], end, SIGNATURE),
        denied_upload('one byte a segment', 43002, raw, every(at, len(raw), 1), end, SIGNATURE),
        denied_upload('chunks of 1..7 bytes in one segment', 43003, craw, [chead], cend, SIGNATURE),
        denied_upload('chunks of 1..7 bytes in 5-byte segments', 43004, craw, every(chead, len(craw), 5), cend,
                      SIGNATURE),
        # Sent 1, 3, 2: segment 3 (the attack's end) is held and forwarded, segment 2 fills the
        # gap, the attack is read whole and segment 2 is the one denied.
        denied_upload('out of order', 43005, raw, [first + 8, first + 24], end, SIGNATURE, order=[0, 2, 1]),
        denied_upload('head score 3 + body score 3', 43006, scored_head, [sat + 12], len(scored_head) - 1,
                      ('deny', 'anomaly_score', [900104, 900102], 6)),
        denied_upload('two body scores of 3', 43007, scored, [sbt + 14], sbt + last_byte(scored[sbt:], b'/etc/shadow'),
                      ('deny', 'anomaly_score', [900103, 900102], 6)),
        denied_upload('inside a 64-byte depth', 43008, shallow, [shat + 30], shat + last_byte(ATTACK_BODY, ATTACK),
                      SIGNATURE, route='shallow', path='/api/v1/shallow'),
        denied_upload('second of two pipelined requests', 43009, benign + shallow, [len(benign) + shat + 30],
                      len(benign) + shat + last_byte(ATTACK_BODY, ATTACK), SIGNATURE, route='shallow',
                      path='/api/v1/shallow'),
    ]
    assert last_byte(ATTACK_BODY, ATTACK) < 64
    with tempfile.TemporaryDirectory(prefix='ztg-body-') as tmp:
        policy = staged_policy(tmp)
        packets = [p for c in blocked for p in c.packets]
        r = zt.run(packets, '--policy', policy)
        # Scanned at least through each match's last byte, at most every body byte sent (the
        # shallow route: 64).
        attack_end = last_byte(ATTACK_BODY, ATTACK) + 1
        low = (8 * attack_end + len(BENIGN_BODY) + last_byte(scored_head[sat:], b'/etc/shadow') + 1 +
               last_byte(scored[sbt:], b'/etc/shadow') + 1)
        high = 6 * len(ATTACK_BODY) + 64 + len(BENIGN_BODY) + 64 + (len(scored_head) - sat) + (len(scored) - sbt)
        judge(r, blocked, dict(blocked_totals(blocked), policy_denied=len(blocked), signature_alerts=0,
                               stream_buffered=1), {'signature_body_bytes': (low, high)})

        past = filler(80) + ATTACK      # starts after the 64 bytes scanned
        across = filler(50) + ATTACK    # starts inside them, ends after
        sent = [('benign', upload(UPLOAD, BENIGN_BODY)[0], len(BENIGN_BODY)),
                ('benign, chunked', upload_chunked(UPLOAD, BENIGN_BODY, [7, 3, 1])[0], len(BENIGN_BODY)),
                ('score 3 < 5', upload(UPLOAD, b'{"file":"/etc/shadow"}')[0], 22),
                ('past the 64-byte depth', upload('/api/v1/shallow', past)[0], 64),
                ('across the 64-byte depth', upload('/api/v1/shallow', across)[0], 64),
                ('an alert rule', upload(UPLOAD, PHP_BODY)[0], len(PHP_BODY)),
                ('a monitor route', upload('/api/v1/watch/1', ATTACK_BODY)[0], len(ATTACK_BODY)),
                ('two pipelined requests scoring 3 each', 2 * upload(UPLOAD, b'{"file":"/etc/shadow"}')[0], 44)]
        events = {'an alert rule': ('pass', 'signature_alert', [900105], 0, 'upload', UPLOAD),
                  'a monitor route': ('pass', 'signature_alert', [900101], 0, 'watch', '/api/v1/watch/1')}
        # Each request in two segments, its last 20 bytes in the second.
        passing = [Conn(label, 43100 + k, connection(43100 + k, pieces(req, [len(req) - 20])), event=events.get(label))
                   for k, (label, req, _) in enumerate(sent)]
        r = zt.run([p for c in passing for p in c.packets], '--policy', policy)
        judge(r, passing, dict(blocked_totals([]), policy_allowed=len(passing) + 1, signature_alerts=2,
                               signature_depth_reached=2, signature_body_bytes=sum(n for _, _, n in sent)))

        unscanned = Conn('depth 0', 43200, connection(43200, [upload('/api/v1/unscanned', ATTACK_BODY)[0]]))
        r = zt.run(unscanned.packets, '--policy', policy)
        judge(r, [unscanned], dict(blocked_totals([]), signature_body_bytes=0))


# ---- responses -----------------------------------------------------------------------------

SECRET = b'SECRET-0123456789ABCDEF'
TRACEBACK = b'Traceback (most recent call last)'
SOURCE_LINE = b'  File "/srv/app/views.py", line 42, in get'


def get(path):
    return request('GET', path)


def reset_response(label, sport, path, raw, cuts, complete_at, rules, score=0, route='download',
                   reason='response_signature', requests=None):
    """A GET of path (or the requests given, in one segment), answered with raw cut at `cuts`,
    sent up to the segment holding byte complete_at, which is dropped: RSTs both ways."""
    parts = through(pieces(raw, cuts), complete_at)
    return Conn(label, sport, connection(sport, [requests or get(path)], parts), 'reset',
                ('reset', reason, rules, score, route, path))


def passing_response(label, sport, path, raw, cuts, event=None, requests=None, scanned=None):
    """A GET of path (or the requests given) answered with raw (one response or several) cut at
    `cuts`: all of it passes. event: (action, reason, rules, score, route) of its event.
    scanned: the body bytes its route scans, a number or a (low, high) range (default: every
    body byte of raw)."""
    c = Conn(label, sport, connection(sport, [requests or get(path)], pieces(raw, cuts)), 'pass',
             event and event + (path,))
    scanned = body_bytes(raw) if scanned is None else scanned
    c.scanned = scanned if isinstance(scanned, tuple) else (scanned, scanned)
    return c


@case('signatures-response')
def signatures_response(zt, args):
    """Responses against body.rules. Blocked, each at the packet completing the match with RSTs
    to both sides, after earlier segments were forwarded: a secret in a later segment of a
    plain and of a chunked body; a response_status and a response_headers rule (the header
    line split across segments); two scored rules reaching 5; an alert and a score rule under
    block_sets; the second of two pipelined responses, the event naming the second request's
    route. Passing whole, with exact counters: an alert-only route's secret (one
    response_signature_alert event), a monitor rule under block_sets, the reverse pipelined
    pair, a set not in block_sets, a secret past response_body_depth, a route without
    signatures, a score below the threshold, a clean response, block_sets on a monitor route."""
    body = filler(600) + b'"token":"' + SECRET + b'",' + filler(300, 'tail') + b'}'
    raw = response(b'{' + body)
    secret_at = raw.index(SECRET)
    encoded, where = chunked(b'{' + body, [7, 6, 5, 4, 3, 2, 1])
    craw = chunked_response(encoded)
    coffset = len(craw) - len(encoded)
    csecret_end = coffset + where[last_byte(b'{' + body, SECRET)]
    status = response(b'{"retry":true}', '503 Service Unavailable')
    header = response(b'{}', headers=[('Content-Type', 'application/json'), ('X-Debug-Token', '7f3a9c')])
    trace = response(TRACEBACK + b'\n' + SOURCE_LINE + b'\nValueError: bad id\n',
                     headers=[('Content-Type', 'text/plain')])
    lone_trace = response(TRACEBACK + b'\n', headers=[('Content-Type', 'text/plain')])
    pipelined = get('/api/v1/report/1') + get('/api/v1/download/2')
    first = response(b'{"report":1}')
    second = response(b'{"download":2,' + filler(200) + b'"key":"' + SECRET + b'"}')
    both = first + second
    blocked = [
        reset_response('secret in a later segment', 44000, '/api/v1/download/1', raw,
                       [200, 400, 600, secret_at + 10], secret_at + len(SECRET) - 1, [900110]),
        reset_response('secret across chunks of 1..7 bytes', 44001, '/api/v1/download/2', craw,
                       every(97, len(craw), 97), csecret_end, [900110]),
        reset_response('status 503', 44002, '/api/v1/download/3', status, [], 11, [900111]),
        reset_response('header line split across segments', 44003, '/api/v1/download/4', header,
                       [header.index(b'X-Debug-') + 8], header.index(b'\r\n\r\n'), [900112]),
        reset_response('two scores reaching 5', 44004, '/api/v1/report/5', trace, [trace.index(b'  File')],
                       last_byte(trace, b'line 4'), [900113, 900114], 6, 'report', 'response_anomaly_score'),
        # Blocks at once whatever the threshold; the event's score is still what matched.
        reset_response('a score rule under block_sets', 44005, '/api/v1/download/6', lone_trace, [],
                       last_byte(lone_trace, TRACEBACK), [900113], 3),
        reset_response('second pipelined response', 44006, '/api/v1/download/2', both,
                       [len(first), len(first) + 120], last_byte(both, SECRET), [900110], requests=pipelined),
    ]
    report_last = get('/api/v1/download/3') + get('/api/v1/report/4')
    alert = ('pass', 'response_signature_alert', [900110], 0)
    clipped = response(filler(200) + b'"key":"' + SECRET + b'"}')
    passing = [
        passing_response('alert-only route', 44100, '/api/v1/report/1', raw, [200, 400, 600, secret_at + 10],
                         alert + ('report',)),
        passing_response('monitor rule under block_sets', 44101, '/api/v1/download/2',
                         response(filler(100) + b'"flag":"INTERNAL-ONLY"}'), [60],
                         ('pass', 'response_signature_alert', [900115], 0, 'download')),
        passing_response('pipelined, the second response leaks on an alert-only route', 44102, '/api/v1/report/4',
                         response(b'{"download":3}') + response(b'{"key":"' + SECRET + b'"}'), [50],
                         alert + ('report',), requests=report_last),
        passing_response('a set not in block_sets', 44103, '/api/v1/cards/5', raw, [300], alert + ('cards',)),
        passing_response('past response_body_depth', 44104, '/api/v1/clipped/6', clipped, [100], scanned=128),
        # sets = [ ]: whether its bodies go through the (empty) scan is the implementation's choice.
        passing_response('no signatures on the route', 44105, '/plain', raw, [300], scanned=(0, body_bytes(raw))),
        passing_response('score 3 < 5', 44106, '/api/v1/report/7', lone_trace, []),
        passing_response('clean', 44107, '/api/v1/download/8', response(filler(900) + b'}'), [300, 600]),
        passing_response('block_sets on a monitor route', 44108, '/api/v1/watch/2', raw,
                         [200, 400, 600, secret_at + 10], alert + ('watch',)),
    ]
    with tempfile.TemporaryDirectory(prefix='ztg-body-') as tmp:
        policy = staged_policy(tmp)
        r = zt.run([p for c in blocked for p in c.packets], '--policy', policy)
        judge(r, blocked, dict(blocked_totals(blocked), signature_alerts=0, policy_allowed=len(blocked) + 1))
        r = zt.run([p for c in passing for p in c.packets], '--policy', policy)
        judge(r, passing, dict(blocked_totals([]), signature_alerts=5, signature_depth_reached=1),
              {'signature_body_bytes': tuple(sum(c.scanned[k] for c in passing) for k in (0, 1))})


# ---- payment card numbers: the shipped leaks-cards.rules and its Luhn validator ---------------

CARD = b'4111 1111 1111 1111'
CARD_RULE = [200101]


def card_response(number, head=2000):
    """JSON with `head` bytes of ordinary members, then the number as a card: (response, the
    offset of the byte completing the card rule's match, the closing quote after the digits)."""
    raw = response(b'{' + filler(head) + b'"payment":{"card":"' + number + b'","exp":"12/29"}}')
    return raw, raw.index(number) + len(number)


@case('signatures-cards')
def signatures_cards(zt, args):
    """The shipped leaks-cards.rules (rule 200101, Luhn-checked, an alert made to block by the
    cards route's block_sets): a Luhn-valid card number in a response that started clean is cut
    off at the packet holding the byte after its last digit (the rule's closing boundary),
    whether the number is split mid-digits, ends a segment, comes one byte a segment, lies
    across chunks or has no separators. Luhn-invalid 16-digit numbers pass, as does a valid one
    on a route without the set."""
    assert luhn_ok('4111111111111111') and luhn_ok('5500000000000004')
    assert not luhn_ok('4111111111111112') and not luhn_ok('4000123412341235')
    raw, end = card_response(CARD)
    number_at = raw.index(CARD)
    plain, plain_end = card_response(b'5500000000000004')
    data = b'{' + filler(1500) + b'"card":"' + CARD + b'"}'
    encoded, where = chunked(data, [1, 2, 3, 4, 5, 6, 7])
    craw = chunked_response(encoded)
    cend = len(craw) - len(encoded) + where[data.index(CARD) + len(CARD)]
    blocked = [
        reset_response('split mid-number', 45000, '/api/v1/cards/1', raw, [700, 1400, number_at + 7], end,
                       CARD_RULE, route='cards'),
        reset_response('digits end a segment, the boundary starts the next', 45001, '/api/v1/cards/2', raw,
                       [700, 1400, end], end, CARD_RULE, route='cards'),
        reset_response('one byte a segment', 45002, '/api/v1/cards/3', raw, [700, 1400] + every(number_at, end + 2, 1),
                       end, CARD_RULE, route='cards'),
        reset_response('across chunks of 1..7 bytes', 45003, '/api/v1/cards/4', craw, every(500, len(craw), 500), cend,
                       CARD_RULE, route='cards'),
        reset_response('no separators', 45004, '/api/v1/cards/5', plain, [900, plain_end - 5], plain_end,
                       CARD_RULE, route='cards'),
    ]
    invalid, _ = card_response(b'4111 1111 1111 1112')
    order, _ = card_response(b'4000123412341235')
    passing = [
        passing_response('Luhn-invalid, separated', 45100, '/api/v1/cards/6', invalid,
                         [700, 1400, invalid.index(b'4111') + 7]),
        passing_response('Luhn-invalid, 16 digits', 45101, '/api/v1/cards/7', order, [700, 1400]),
        passing_response('valid, on a route without leaks-cards', 45102, '/api/v1/report/8', raw, [700, 1400]),
    ]
    with tempfile.TemporaryDirectory(prefix='ztg-body-') as tmp:
        policy = staged_policy(tmp)
        r = zt.run([p for c in blocked for p in c.packets], '--policy', policy)
        judge(r, blocked, dict(blocked_totals(blocked), signature_alerts=0))
        r = zt.run([p for c in passing for p in c.packets], '--policy', policy)
        judge(r, passing, dict(blocked_totals([]), signature_alerts=0))


if __name__ == '__main__':
    sys.exit(cases.main())
