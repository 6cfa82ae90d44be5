#!/usr/bin/python3
"""ztgate pipeline case for the shipped signature ruleset: the evidence of
tests/signatures/ in real HTTP traffic through ztgate (net_pcap in and out).

Every positive sample of every loaded rule goes in each field its rule names,
one connection per sample and field, and must be blocked by one event naming
that rule: a 403 ("deny", reason "signature") for the request's fields, RST
both ways ("reset", reason "response_signature") for the response's. A near
miss (negative/<id>.txt) must not report its rule; every benign line, in every
field some rule names, and every benign file whole as a request and as a
response body, must pass without an event and reach the other side unchanged.
The policy (signatures/ruleset.conf) puts every set in block_sets, so a match
of any rule blocks whatever the rule's own action; ztgatectl compiles it once
into a bundle that every ztgate run loads.

A sample travels as the field value ztgate presents to the rules: query and
argument values percent-encoded so that the one decode gives the sample back,
a request body framed by Content-Length, a response body after a plain GET.
Where HTTP/1.1 changes it on the way the case sends it all the same and says
what ztgate sees (the canonical path: dot segments, backslashes and slash runs
resolved; a header value without its surrounding whitespace; a sample that is
no "Name: value" line as the value of X-Sample). What cannot travel at all
(CR, LF, NUL or another control byte in a header; NUL or overlong UTF-8 in a
path, which the normaliser refuses before the rules see it) is skipped and
counted.

Usage: ruleset_cases.py ZTGATE signatures-ruleset --ztgatectl ZTGATECTL
"""
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

import cases
from cases import events_of
from pipeline import TcpSession

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RULES_DIR = os.path.join(ROOT, 'rules', 'signatures')
CORPUS_DIR = os.path.join(ROOT, 'tests', 'signatures')
RULESET_POLICY = os.path.join(HERE, 'signatures', 'ruleset.conf')

SERVER = '198.51.100.20'
# Clients of the policy's "clients" segment (192.0.2.0/24): a connection is (address, port), so an
# event names its sample.
FIRST_PORT, PORTS_PER_ADDRESS = 10000, 50000
# Connections per ztgate run: well inside the flow table (65536), the event ring (8192), the stream
# chunks that hold unacknowledged request bytes (8192) and RUN_TIMEOUT.
CONNECTIONS_PER_RUN = 1500
MSS = 1400
# Longest request line the parser takes (--http-limit start-line); longest canonical path and most
# query arguments the normaliser takes (http_normalize.h).
START_LINE_MAX = 8192
PATH_MAX = 4096
QUERY_PARAMS_MAX = 64

# The fields of control/signatures.h, in its order.
FIELDS = ('method', 'path', 'query_raw', 'query', 'arg_names', 'arg_values', 'header', 'headers', 'cookies',
          'request_body', 'response_status', 'response_headers', 'response_body')
RESPONSE_FIELDS = ('response_status', 'response_headers', 'response_body')

ALNUM = b'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
TCHAR = frozenset(ALNUM + b"!#$%&'*+-.^_`|~")
# Left as they are when a value is percent-encoded: what may stand in a path, and in a query (never
# & = + ; which split it or decode to something else: a whole query is one argument name too).
PATH_SAFE = frozenset(ALNUM + b"-._~!$&'()*+,=:@/")
ARG_SAFE = frozenset(ALNUM + b"-._~!$'()*,:@/?")
# Request and response headers that frame or redirect the message: a sample with such a name goes
# as the value of X-Sample instead.
FRAMING_HEADERS = frozenset([b'host', b'content-length', b'transfer-encoding', b'connection', b'upgrade',
                             b'expect', b'te', b'trailer', b'keep-alive', b'proxy-connection',
                             b'http2-settings'])


# ---- the evidence: sample files and the rules they are for ----------------------------------

def unescape(text):
    """The bytes of an "esc:" line: C escapes \\\\ \\n \\r \\t \\0 \\xHH, anything else as written."""
    simple = {ord('n'): b'\n', ord('r'): b'\r', ord('t'): b'\t', ord('0'): b'\0', ord('\\'): b'\\'}
    out, i = bytearray(), 0
    while i < len(text):
        if text[i] != ord('\\') or i + 1 >= len(text):
            out.append(text[i])
            i += 1
        elif text[i + 1] in simple:
            out += simple[text[i + 1]]
            i += 2
        elif text[i + 1] == ord('x') and re.match(rb'[0-9a-fA-F]{2}$', text[i + 2:i + 4]):
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            out += text[i:i + 2]
            i += 2
    return bytes(out)


def samples(path):
    """[(line number, sample)] of a sample file as tests/signatures/README.md describes it; [] when
    there is no such file."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path, 'rb') as f:
        for number, line in enumerate(f.read().split(b'\n'), 1):
            line = line[:-1] if line.endswith(b'\r') else line
            if not line or line.startswith(b'##'):
                continue
            out.append((number, unescape(line[4:]) if line.startswith(b'esc:') else line))
    return out


def rule_files():
    """{set name: rule file name} of rules/signatures/."""
    out = {}
    for name in sorted(os.listdir(RULES_DIR)):
        if name.endswith('.rules'):
            with open(os.path.join(RULES_DIR, name)) as f:
                m = re.search(r'^name\s*=\s*"([^"]+)"', f.read(), re.M)
            if m is None:
                raise AssertionError('%s: no set name' % name)
            out[m.group(1)] = name
    return out


def rules_of(file_name):
    """[(rule id, [(field, header name or None)])] of one rule file, in file order."""
    with open(os.path.join(RULES_DIR, file_name)) as f:
        text = '\n'.join(line for line in f.read().split('\n') if not line.lstrip().startswith('#'))
    starts = list(re.finditer(r'\{\s*id\s*=\s*(\d+)\s*;', text))
    out = []
    for k, m in enumerate(starts):
        body = text[m.end():starts[k + 1].start() if k + 1 < len(starts) else len(text)]
        fields = re.search(r'\bfields\s*=\s*\[([^\]]*)\]', body)
        header = re.search(r'\bheader\s*=\s*"([^"]*)"', body)
        names = re.findall(r'"([a-z_]+)"', fields.group(1)) if fields else []
        if not names or set(names) - set(FIELDS):
            raise AssertionError('%s: rule %s: cannot read its fields' % (file_name, m.group(1)))
        out.append((int(m.group(1)), [(n, header.group(1) if n == 'header' and header else None) for n in names]))
    return out


# ---- how a value travels in each field ---------------------------------------------------------

class Carrier:
    """One connection's traffic for a value in a field: the request, the response (None when the
    request carries it), and what ztgate presents to the rules when that is not the value itself."""

    def __init__(self, request, response=None, seen=None):
        self.request, self.response, self.seen = request, response, seen


class Skip(Exception):
    """The value cannot travel in that field: why."""


def encode(value, safe):
    return b''.join(bytes([b]) if b in safe else b'%%%02X' % b for b in value)


def header_value(value):
    """What ztgate presents of a header value: the value without the whitespace around it, or None
    when that is the value itself. Skip for bytes the parser refuses in a field value (RFC 9110 5.5
    allows VCHAR, SP, HTAB and obs-text)."""
    bad = [b for b in value if not (b == 9 or 0x20 <= b < 0x7f or b >= 0x80)]
    if bad:
        raise Skip('a header cannot hold byte 0x%02x' % bad[0])
    return None if value.strip(b' \t') == value else value.strip(b' \t')


def request_head(method, target, lines=(), body=b''):
    if len(method) + len(target) + 10 > START_LINE_MAX:
        raise Skip('longer than the request line limit')
    head = [method + b' ' + target + b' HTTP/1.1', b'Host: api.example'] + list(lines)
    if body:
        head.append(b'Content-Length: %d' % len(body))
    return b'\r\n'.join(head) + b'\r\n\r\n' + body


def response_to(status=b'200', lines=(), body=b''):
    return (b'HTTP/1.1 ' + status + b' OK\r\n' + b''.join(line + b'\r\n' for line in lines) +
            b'Content-Length: %d\r\n\r\n' % len(body) + body)


def header_line(value):
    """A header line for a sample: the sample itself when it reads "Name: value" (a token, a colon
    and whitespace), else the sample as the value of X-Sample. (line, what the rules see instead of
    the sample or "X-Sample: " and the sample, or None)."""
    m = re.match(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]", value)
    if m is None or m.group(1).lower() in FRAMING_HEADERS:
        seen = header_value(value)
        return b'X-Sample: ' + value, None if seen is None else b'X-Sample: ' + seen
    rest = value[m.end():]
    header_value(rest)  # Skip for bytes no header holds
    seen = m.group(1) + b': ' + rest.strip(b' \t')
    return value, None if seen == value else seen


PLAIN_GET = request_head(b'GET', b'/r')


def carry(field, header, value):
    """The Carrier for value in field (header: the named header of the "header" field), or Skip."""
    if field == 'method':
        if not all(b in TCHAR for b in value) or value == b'CONNECT':
            raise Skip('not a method token')
        return Carrier(request_head(value, b'/m'))
    if field == 'path':
        if b'\0' in value:
            raise Skip('NUL in a path is refused (path_nul_byte)')
        if re.search(rb'[\xc0\xc1][\x80-\xbf]|\xe0[\x80-\x9f]|\xf0[\x80-\x8f]', value):
            raise Skip('overlong UTF-8 in a path is refused (path_overlong_utf8)')
        path = value if value.startswith(b'/') else b'/' + value
        seen = canonical_path(path)
        if len(seen) > PATH_MAX:
            raise Skip('longer than a canonical path may be')
        return Carrier(request_head(b'GET', encode(path, PATH_SAFE)), seen=None if seen == path else seen)
    if field == 'query_raw':
        if any(b <= 0x20 or b == 0x7f or b == ord('#') for b in value):
            raise Skip('a request-target cannot hold it raw')
        if len([pair for pair in value.split(b'&') if pair]) > QUERY_PARAMS_MAX:
            raise Skip('more arguments than a query may have')
        return Carrier(request_head(b'GET', b'/q?' + value))
    if field == 'query':
        return Carrier(request_head(b'GET', b'/q?' + encode(value, ARG_SAFE)))
    if field == 'arg_names':
        return Carrier(request_head(b'GET', b'/q?' + encode(value, ARG_SAFE) + b'=1'))
    if field == 'arg_values':
        return Carrier(request_head(b'GET', b'/q?a=' + encode(value, ARG_SAFE)))
    if field in ('header', 'cookies'):
        name = b'Cookie' if field == 'cookies' else header.encode()
        if name.lower() in FRAMING_HEADERS:
            raise Skip('header %s frames the message' % name.decode())
        return Carrier(request_head(b'GET', b'/h', [name + b': ' + value]), seen=header_value(value))
    if field == 'headers':
        line, seen = header_line(value)
        return Carrier(request_head(b'GET', b'/h', [line]), seen=seen)
    if field == 'request_body':
        return Carrier(request_head(b'POST', b'/b', [b'Content-Type: application/octet-stream'], value))
    if field == 'response_status':
        if not re.match(rb'[2-5]\d\d$', value):
            raise Skip('not a final status code')
        return Carrier(PLAIN_GET, response_to(status=value))
    if field == 'response_headers':
        line, seen = header_line(value)
        return Carrier(PLAIN_GET, response_to(lines=[line]), seen=seen)
    if field == 'response_body':
        return Carrier(PLAIN_GET, response_to(body=value))
    raise AssertionError('no carrier for field %s' % field)


def canonical_path(path):
    """The path as ztgate matches it (http_normalize.h): backslashes as '/', runs of '/' merged,
    "." and ".." segments removed, clamped at the root, a trailing slash kept."""
    segments = re.sub(rb'/+', b'/', path.replace(b'\\', b'/')).split(b'/')[1:]
    out = []
    for k, segment in enumerate(segments):
        if segment in (b'.', b'..'):
            if segment == b'..' and out:
                out.pop()
            if k == len(segments) - 1:
                out.append(b'')
        else:
            out.append(segment)
    return b'/' + b'/'.join(out)


# ---- running them through ztgate ---------------------------------------------------------------

def endpoint(n):
    """The client (address, port) of connection n."""
    return '192.0.2.%d' % (1 + n // PORTS_PER_ADDRESS), FIRST_PORT + n % PORTS_PER_ADDRESS


def connection(carrier, n):
    """Packets of connection n: handshake, the request in segments of MSS bytes, then the response
    (if any) the same way. Returns (packets, the segments carrying the value, every data segment)."""
    client, sport = endpoint(n)
    t = TcpSession(client, SERVER, sport=sport)
    handshake = t.handshake()
    request = [t.c('PA', carrier.request[i:i + MSS]) for i in range(0, len(carrier.request), MSS)]
    response = [t.s('PA', carrier.response[i:i + MSS]) for i in range(0, len(carrier.response or b''), MSS)]
    return handshake + request + response, response or request, request + response


Probe = collections.namedtuple('Probe', 'kind rule field header where value carrier')
# kind: 'positive' (blocked naming rule), 'negative' (never names rule), 'benign' (passes, no event).


def describe(p):
    def text(value):
        return '"%s"' % value[:120].decode('latin-1').encode('unicode_escape').decode()
    seen = '' if p.carrier.seen is None else ' (ztgate sees %s)' % text(p.carrier.seen)
    field = p.field + ('(%s)' % p.header if p.header else '')
    return '%s %s, %s in %s: %s%s' % (p.kind, p.rule or '', p.where, field, text(p.value), seen)


def judge(p, events, forwarded, carrying, data):
    """What is wrong with one probe's outcome, or None."""
    response = p.field in RESPONSE_FIELDS
    got = ', '.join('%s/%s %s' % (e['action'], e['reason'], e.get('rules', [])) for e in events) or 'no event'
    if p.kind == 'positive':
        want = ('reset', 'response_signature') if response else ('deny', 'signature')
        if len(events) != 1 or (events[0]['action'], events[0]['reason']) != want or \
                p.rule not in events[0].get('rules', []):
            return 'expected one %s/%s event naming %d, got %s' % (want + (p.rule, got))
        if carrying[-1] in forwarded:
            return 'blocked (%s) but its last segment was forwarded' % got
    elif p.kind == 'negative':
        if any(p.rule in e.get('rules', []) for e in events):
            return 'near miss reported its rule: %s' % got
    elif events:
        return 'expected no event, got %s' % got
    elif any(frame not in forwarded for frame in data):
        return 'no event, but not every segment was forwarded unchanged'
    return None


def run_probes(zt, policy, probes):
    """Every probe on its own connection, CONNECTIONS_PER_RUN to a ztgate run. [(probe, problem)]."""
    problems = []
    for first in range(0, len(probes), CONNECTIONS_PER_RUN):
        batch = probes[first:first + CONNECTIONS_PER_RUN]
        packets, built = [], []
        for n, p in enumerate(batch):
            frames, carrying, data = connection(p.carrier, n)
            packets += frames
            built.append((carrying, data))
        r = zt.run(packets, '--policy', policy)
        if r.totals.get('events_dropped'):
            r.fail('%d events dropped: connections cannot be told apart' % r.totals['events_dropped'])
        by_client = collections.defaultdict(list)
        for e in events_of(r):
            by_client[(e['flow']['src'], e['flow']['src_port'])].append(e)
        forwarded = set(r.forwarded)
        for n, (p, (carrying, data)) in enumerate(zip(batch, built)):
            problem = judge(p, by_client.pop(endpoint(n), []), forwarded, carrying, data)
            if problem:
                problems.append((p, problem))
        if by_client:
            r.fail('events of no connection of this run: %s' % list(by_client.items())[:3])
    return problems


def staged_policy(tmp):
    """signatures/ruleset.conf beside copies of rules/signatures/*.rules in tmp: its path."""
    for name in rule_files().values():
        shutil.copy(os.path.join(RULES_DIR, name), tmp)
    return shutil.copy(RULESET_POLICY, tmp)


def bundled(ztgatectl, policy):
    """The policy validated and compiled by ztgatectl into a bundle that holds the Hyperscan
    databases, so that no ztgate run compiles the ruleset again; without ztgatectl, the policy."""
    if ztgatectl is None:
        return policy
    bundle = os.path.splitext(policy)[0] + '.bundle'
    p = subprocess.run([ztgatectl, 'compile', policy, '-o', bundle], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError('ztgatectl compile %s: exit %d\n%s' % (policy, p.returncode, p.stdout))
    return bundle


def probes_of(sets):
    """Every probe of the given sets' rules and of the benign corpus, and what could not travel:
    (probes, {(field, why): count})."""
    skipped, probes = collections.Counter(), []

    def add(kind, rule, field, header, where, value):
        try:
            probes.append(Probe(kind, rule, field, header, where, value, carry(field, header, value)))
        except Skip as why:
            skipped[(field, str(why))] += 1

    files = rule_files()
    fields_in_use = []
    for s in sets:
        for rule, fields in rules_of(files[s]):
            for kind in ('positive', 'negative'):
                for number, value in samples(os.path.join(CORPUS_DIR, kind, '%d.txt' % rule)):
                    for field, header in fields:
                        add(kind, rule, field, header, '%s/%d.txt:%d' % (kind, rule, number), value)
            fields_in_use += [f for f in fields if f not in fields_in_use]
    fields_in_use.sort(key=lambda f: FIELDS.index(f[0]))
    benign = os.path.join(CORPUS_DIR, 'benign')
    for name in sorted(os.listdir(benign)):
        for number, value in samples(os.path.join(benign, name)):
            for field, header in fields_in_use:
                add('benign', None, field, header, 'benign/%s:%d' % (name, number), value)
        with open(os.path.join(benign, name), 'rb') as f:
            whole = f.read()
        for field in ('request_body', 'response_body'):
            add('benign', None, field, None, 'benign/%s (whole file)' % name, whole)
    return probes, skipped


@cases.case('signatures-ruleset')
def signatures_ruleset(zt, args):
    """The shipped ruleset's evidence in each field its rules name, one connection per sample."""
    with tempfile.TemporaryDirectory(prefix='ztg-ruleset-') as tmp:
        policy = bundled(args.ztgatectl, staged_policy(tmp))
        probes, skipped = probes_of(sorted(rule_files()))
        problems = run_probes(zt, policy, probes)
    for field in FIELDS:
        sent = []
        for kind in ('positive', 'negative', 'benign'):
            of = [p for p in probes if (p.kind, p.field) == (kind, field)]
            rewritten = sum(p.carrier.seen is not None for p in of)
            if of:
                sent.append('%d %s' % (len(of), kind) + (' (%d rewritten)' % rewritten if rewritten else ''))
        if sent:
            print('%-16s sent %s' % (field, ', '.join(sent)))
    for (field, why), n in sorted(skipped.items()):
        print('SKIPPED %d in %s: %s' % (n, field, why))
    if problems:
        by_field = collections.Counter((p.kind, p.field) for p, _ in problems)
        raise AssertionError('%d of %d connections judged wrongly (%s):\n  %s' % (
            len(problems), len(probes), ', '.join('%s in %s: %d' % (k + (v,)) for k, v in sorted(by_field.items())),
            '\n  '.join('%s: %s' % (describe(p), why) for p, why in problems)))


if __name__ == '__main__':
    sys.exit(cases.main())
