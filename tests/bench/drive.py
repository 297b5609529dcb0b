#!/usr/bin/python3
"""Side-by-side benchmark of pichatd and its peers (run through tests/bench/run).

Starts every server on 127.0.0.1 on free ports, drives it with loadgen,
stops it by PID, and prints a markdown report (medians of REPS runs; every
ratio is taken within one run, then its median is quoted). Nothing here
talks to any address but 127.0.0.1.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument('--build', required=True, help='meson build directory (built with -Dbench=true)')
ap.add_argument('--out', required=True, help='results file to write')
ap.add_argument('--reps', type=int, default=3)
ap.add_argument('--secs', type=float, default=2.0, help='length of each timed run')
ap.add_argument('--only', default='echo,idle,chat,udp,startup,web,tls')
ap.add_argument('--baseline', metavar='PICHATD',
                help='an earlier pichatd, run as "pichat-before" beside the others '
                     '(echo, idle, chat, udp) to show what a change cost')
args = ap.parse_args()

HERE = os.path.dirname(os.path.abspath(__file__))
B = os.path.abspath(args.build)
LOADGEN = os.path.join(B, 'tests/bench/loadgen')
PICHATD = os.path.join(B, 'daemon/pichatd')
REF_THREAD = os.path.join(B, 'tests/bench/ref_thread')
REF_EPOLL = os.path.join(B, 'tests/bench/ref_epoll')
PY = '/usr/bin/python3'
WORK = tempfile.mkdtemp(prefix='pichat-bench-')
T0 = time.monotonic()
BUDGET = 600            # seconds: the whole run must stay under 11 minutes
PLAN = args.only.split(',')


def log(msg):
    print('[%5.1fs] %s' % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


def freeport():
    return int(subprocess.check_output([LOADGEN, 'freeport']).decode())


def loadgen(*a, timeout=90):
    """Run loadgen; its key=value line as a dict ({} on failure)."""
    cmd = [LOADGEN] + [str(x) for x in a]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log('timed out: ' + ' '.join(cmd))
        return {}
    out = p.stdout.decode().strip().splitlines()
    if p.stderr:
        log('loadgen: ' + p.stderr.decode().strip().replace('\n', ' | ')[:300])
    if not out:
        return {}
    d = {}
    for kv in out[-1].split():
        k, _, v = kv.partition('=')
        try:
            d[k] = float(v)
        except ValueError:
            d[k] = v
    return d


class Server:
    """One server process, started on free ports, stopped by its PID."""

    def __init__(self, name, argv, port, ready_port=None, cwd=None, env=None):
        self.name, self.port = name, port
        self.logf = open(os.path.join(WORK, name + '.log'), 'ab')
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf, cwd=cwd or WORK,
                                  env=env, start_new_session=True)
        self.pid = self.p.pid
        wait_port(ready_port or port)

    def stop(self):
        # xinetd's stream echo runs in children of its own, which outlive
        # it if a client is still connected: note them first, by PID.
        kids = children(self.pid)
        if self.p.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait()
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.logf.close()


def children(ppid):
    """PIDs whose parent is ppid."""
    out = []
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                with open('/proc/%s/stat' % d) as f:
                    if int(f.read().rsplit(')', 1)[1].split()[1]) == ppid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def wait_port(port, secs=10):
    import socket
    end = time.monotonic() + secs
    while time.monotonic() < end:
        s = socket.socket()
        try:
            s.connect(('127.0.0.1', port))
            s.close()
            return
        except OSError:
            time.sleep(0.02)
        finally:
            s.close()
    raise RuntimeError('nothing listens on port %d' % port)


# ---- the servers

def pichat_conf(echo, chat, web, extra=''):
    # web = None: a pichatd from before the web service, which refuses [web]
    # and rate_total (it had no limit of all sources together)
    path = os.path.join(WORK, 'pichat-%d.ini' % echo)
    text = """[server]
bind = 127.0.0.1
max_clients = 10000
max_clients_per_ip = 0
[echo]
port = %d
[udp]
port = %d
; the load comes from one address: lift the per-source limit (100/s)
; and the limit of all sources together (1000/s)
rate_per_source = 0
rate_total = 0
[chat]
port = %d
; the benchmark's only change to the chat defaults: flood control is
; lifted so that one sender may send 500 lines/s and bursts of 2,000
lines_per_sec = 100000
burst = 100000
%s
%s""" % (echo, echo, chat, '' if web is None else '[web]\nport = %d' % web, extra)
    if web is None:
        text = text.replace('rate_total = 0\n', '')
    with open(path, 'w') as f:
        f.write(text)
    return path


def start_pichat(binary=PICHATD, web=True):
    echo, chat, web = freeport(), freeport(), freeport() if web else None
    conf = pichat_conf(echo, chat, web)
    s = Server('pichat', [binary, '--foreground', '-c', conf], echo)
    wait_port(chat)
    if web:
        wait_port(web)
    s.chat_port = chat
    s.web_port = web
    return s


def start_baseline():
    return start_pichat(args.baseline, web=False)


def start_ref_thread():
    port = freeport()
    return Server('ref-thread', [REF_THREAD, str(port), '64'], port)


def start_ref_epoll():
    port = freeport()
    return Server('ref-epoll', [REF_EPOLL, str(port)], port)


def start_py_echo():
    port = freeport()
    return Server('python-thread', [PY, os.path.join(HERE, 'py_echo.py'), str(port)], port)


class UdpServer(Server):
    """A UDP-only server: nothing to connect to, so a short wait instead."""

    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.logf = open(os.path.join(WORK, name + '.log'), 'ab')
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf, cwd=WORK,
                                  start_new_session=True)
        self.pid = self.p.pid
        time.sleep(0.3)


def start_py_udp():
    port = freeport()
    return UdpServer('python-udp', [PY, os.path.join(HERE, 'py_udp.py'), str(port)], port)


def xinetd_conf(port):
    path = os.path.join(WORK, 'xinetd-%d.conf' % port)
    with open(path, 'w') as f:
        f.write("""defaults
{
        instances = UNLIMITED
        per_source = UNLIMITED
        cps = 1000000 1
}
service echo
{
        id = echo-stream
        type = INTERNAL UNLISTED
        socket_type = stream
        protocol = tcp
        wait = no
        user = root
        bind = 127.0.0.1
        port = %d
}
service echo
{
        id = echo-dgram
        type = INTERNAL UNLISTED
        socket_type = dgram
        protocol = udp
        wait = yes
        user = root
        bind = 127.0.0.1
        port = %d
}
""" % (port, port))
    return path


def start_xinetd():
    port = freeport()
    return Server('xinetd', ['/usr/sbin/xinetd', '-dontfork', '-f', xinetd_conf(port),
                             '-pidfile', os.path.join(WORK, 'xinetd-%d.pid' % port)], port)


def ngircd_conf(port):
    path = os.path.join(WORK, 'ngircd-%d.conf' % port)
    with open(path, 'w') as f:
        f.write("""[Global]
Name = bench.pichat.test
Info = pichat benchmark
Listen = 127.0.0.1
Ports = %d
MotdPhrase = bench
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 16
; flood penalty off, as pichat's flood control is lifted for the test
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
""" % port)
    return path


def start_ngircd():
    port = freeport()
    return Server('ngircd', ['/usr/sbin/ngircd', '--nodaemon', '-f', ngircd_conf(port)], port)


def start_ncat():
    port = freeport()
    return Server('ncat', ['/usr/bin/ncat', '-l', '127.0.0.1', str(port), '--chat',
                           '--max-conns', '2000'], port)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---- the measurements

R = {}          # (section, case, server) -> list of result dicts, one per rep


def rec(section, case, server, d):
    R.setdefault((section, case, server), []).append(d)


def med(section, case, server, key):
    return median([d.get(key) for d in R.get((section, case, server), []) if d.get(key) is not None])


def ratio_med(section, case, a, b, key):
    """Median over runs of a/b, each ratio taken within one run."""
    ra, rb = R.get((section, case, a), []), R.get((section, case, b), [])
    rs = [x[key] / y[key] for x, y in zip(ra, rb) if x.get(key) and y.get(key)]
    return median(rs), rs


ECHO_SERVERS = [('pichat', start_pichat, True, 'OK...'),
                ('ref-thread', start_ref_thread, True, 'OK...'),
                ('ref-epoll', start_ref_epoll, True, 'OK...'),
                ('python-thread', start_py_echo, True, 'OK...'),
                ('xinetd', start_xinetd, False, '')]
ECHO_N = [1, 10, 100, 1000]
BASE = 'pichat-before'


def run_echo():
    servers = {name: start() for name, start, _, _ in ECHO_SERVERS}
    try:
        for rep in range(args.reps):
            for n in ECHO_N:
                for name, _, greet, prefix in ECHO_SERVERS:
                    a = ['echo', '-p', servers[name].port, '-n', n, '-t', args.secs, '-x', prefix]
                    if greet:
                        a.append('-g')
                    d = loadgen(*a)
                    rec('echo', n, name, d)
                    log('echo rep %d N=%d %s: %s rt/s p99 %s us' % (rep, n, name, d.get('rps'),
                                                                   d.get('p99_us')))
    finally:
        for s in servers.values():
            s.stop()


IDLE_SERVERS = [('pichat', start_pichat), ('ref-thread', start_ref_thread),
                ('ref-epoll', start_ref_epoll)]
IDLE_N = 10000


def mapping_others(pid, lib):
    """How many other processes map lib now: a library's clean pages are
    private to a process only while no other one maps them."""
    n = 0
    for p in os.listdir('/proc'):
        if not p.isdigit() or int(p) == pid:
            continue
        try:
            with open('/proc/%s/maps' % p) as f:
                n += any(lib in line for line in f)
        except OSError:
            pass
    return n


def run_idle():
    for rep in range(args.reps):
        for name, start in IDLE_SERVERS:
            s = start()
            time.sleep(0.5)     # let it finish starting: the idle RSS
            try:
                d = loadgen('idle', '-p', s.port, '-n', IDLE_N, '-P', s.pid, '-g', '-t', 1)
                d['libsystemd_others'] = mapping_others(s.pid, 'libsystemd.so.0')
            finally:
                s.stop()
            rec('idle', IDLE_N, name, d)
            log('idle rep %d %s: %s' % (rep, name, d))


CHAT_CASES = [  # (case, N, loadgen arguments)
    ('window N=100', 100, ['-m', 'window', '-w', 64, '-t', None]),
    ('window N=500', 500, ['-m', 'window', '-w', 64, '-t', None]),
    ('paced 500/s N=500', 500, ['-m', 'paced', '-R', 500, '-t', None]),
    ('burst 2000 N=100', 100, ['-m', 'burst', '-l', 2000]),
]
CHAT_SERVERS = [('pichat', lambda: start_pichat(), 'pichat'),
                ('ngircd', start_ngircd, 'irc'),
                ('ncat --chat', start_ncat, 'ncat')]


def run_chat():
    for rep in range(args.reps):
        for case, n, extra in CHAT_CASES:
            for name, start, proto in CHAT_SERVERS:
                s = start()
                port = getattr(s, 'chat_port', s.port)
                a = ['chat', '-p', port, '-n', n, '-k', 1, '-r', proto]
                a += [args.secs if x is None else x for x in extra]
                # Connect 8 at a time: ngircd and ncat listen with short
                # backlogs (and ncat quits when a connect races it).
                a += ['-c', 8]
                try:
                    d = loadgen(*a)
                finally:
                    s.stop()
                rec('chat', case, name, d)
                log('chat rep %d %s %s: %s dps p99 %s us lost %s corrupt %s' % (
                    rep, case, name, d.get('dps'), d.get('p99_us'), d.get('lost'),
                    d.get('corrupted')))


WEB_MEMBERS = 100       # of each kind, in one room with one sender
WEB_IDLE_N = 1000       # idle chat members, telnet or WebSocket


def run_web():
    """Browsers beside telnet users: one sender into a room of 100 telnet and
    100 WebSocket members (the same lines, the same moment), and the RSS of
    1,000 idle chat members of either kind, each kind in a pichatd of its
    own (the order alternates between runs)."""
    for rep in range(args.reps):
        s = start_pichat()
        try:
            d = loadgen('chat', '-p', s.chat_port, '-n', 2 * WEB_MEMBERS + 1, '-k', 1,
                        '-r', 'pichat', '-W', WEB_MEMBERS, '-q', s.web_port, '-m', 'window',
                        '-w', 64, '-t', args.secs, '-c', 8)
        finally:
            s.stop()
        rec('web', 'fan-out', 'pichat', d)
        log('web rep %d fan-out: telnet %s dps p99 %s us, websocket %s dps p99 %s us, lost %s' % (
            rep, d.get('tcp_dps'), d.get('tcp_p99_us'), d.get('ws_dps'), d.get('ws_p99_us'),
            d.get('lost')))
        for kind in (('telnet', 'websocket') if rep % 2 == 0 else ('websocket', 'telnet')):
            s = start_pichat()
            time.sleep(0.5)
            try:
                a = ['idle', '-p', s.chat_port, '-n', WEB_IDLE_N, '-P', s.pid, '-g', '-t', 1]
                if kind == 'websocket':
                    a += ['-W', WEB_IDLE_N, '-q', s.web_port]
                d = loadgen(*a, timeout=120)
            finally:
                s.stop()
            rec('web', 'idle', kind, d)
            log('web rep %d idle %s: %s' % (rep, kind, d))


TLS_MEMBERS = 100       # one sender into a room of this many, plain or TLS
TLS_IDLE_N = 1000       # idle chat members, plain or TLS
PKI = os.path.join(WORK, 'pki')


def start_pichat_tls():
    """pichatd with [chat] tls_port beside its plain port, serving the test
    PKI's certbot-like pair (tests/tls/make-certs); the same daemon, the
    same configuration, for the plain and the TLS measurements."""
    if not os.path.isdir(PKI):
        subprocess.check_call([os.path.join(HERE, '..', 'tls', 'make-certs'), PKI])
    echo, chat, web, tls = freeport(), freeport(), freeport(), freeport()
    conf = pichat_conf(echo, chat, web, '[chat]\ntls_port = %d\n[tls]\ncertfile = %s\n'
                       'keyfile = %s\n' % (tls, os.path.join(PKI, 'fullchain.pem'),
                                           os.path.join(PKI, 'privkey.pem')))
    s = Server('pichat', [PICHATD, '--foreground', '-c', conf], echo)
    wait_port(chat)
    wait_port(tls)
    s.chat_port, s.tls_port = chat, tls
    return s


def run_tls():
    """TLS beside plain: one sender into a room of 100 members, plain or
    TLS, each in a pichatd of its own with the same configuration (the
    order alternates between runs); and the RSS of 1,000 idle chat members
    of either kind. The TLS clients check the certificate (loadgen -T)."""
    ca = os.path.join(PKI, 'ca.pem')
    for rep in range(args.reps):
        for kind in (('plain', 'tls') if rep % 2 == 0 else ('tls', 'plain')):
            s = start_pichat_tls()
            try:
                a = ['chat', '-p', s.tls_port if kind == 'tls' else s.chat_port,
                     '-n', TLS_MEMBERS + 1, '-k', 1, '-r', 'pichat', '-m', 'window', '-w', 64,
                     '-t', args.secs, '-c', 8]
                d = loadgen(*(a + (['-T', ca] if kind == 'tls' else [])))
            finally:
                s.stop()
            rec('tls', 'fan-out', kind, d)
            log('tls rep %d fan-out %s: %s dps p99 %s us lost %s corrupt %s' % (
                rep, kind, d.get('dps'), d.get('p99_us'), d.get('lost'), d.get('corrupted')))
        for kind in (('plain', 'tls') if rep % 2 == 0 else ('tls', 'plain')):
            s = start_pichat_tls()
            time.sleep(0.5)
            try:
                a = ['idle', '-p', s.tls_port if kind == 'tls' else s.chat_port,
                     '-n', TLS_IDLE_N, '-P', s.pid, '-g', '-t', 1]
                d = loadgen(*(a + (['-T', ca] if kind == 'tls' else [])), timeout=120)
            finally:
                s.stop()
            rec('tls', 'idle', kind, d)
            log('tls rep %d idle %s: %s' % (rep, kind, d))


UDP_SERVERS = [('pichat', start_pichat, 'OK...'), ('python-udp', start_py_udp, 'OK...'),
               ('xinetd', start_xinetd, '')]
if args.baseline:
    ECHO_SERVERS.insert(1, (BASE, start_baseline, True, 'OK...'))
    IDLE_SERVERS.insert(1, (BASE, start_baseline))
    CHAT_SERVERS.insert(1, (BASE, start_baseline, 'pichat'))
    UDP_SERVERS.insert(1, (BASE, start_baseline, 'OK...'))


def run_udp():
    servers = {name: start() for name, start, _ in UDP_SERVERS}
    try:
        for rep in range(args.reps):
            for name, _, prefix in UDP_SERVERS:
                d = loadgen('udp', '-p', servers[name].port, '-n', 8, '-w', 4, '-t', args.secs,
                            '-x', prefix)
                rec('udp', '8x4', name, d)
                log('udp rep %d %s: %s' % (rep, name, d))
    finally:
        for s in servers.values():
            s.stop()


def run_startup():
    for rep in range(args.reps):
        port = freeport()
        chat = freeport()
        cmds = [
            ('pichat', [PICHATD, '--foreground', '-c', pichat_conf(port, chat, freeport())], True),
            ('ref-thread', [REF_THREAD, port], False),
            ('ref-epoll', [REF_EPOLL, port], False),
            ('python-thread', [PY, os.path.join(HERE, 'py_echo.py'), port], False),
            ('xinetd', ['/usr/sbin/xinetd', '-dontfork', '-f', xinetd_conf(port), '-pidfile',
                        os.path.join(WORK, 'x.pid')], False),
            ('ngircd', ['/usr/sbin/ngircd', '--nodaemon', '-f', ngircd_conf(port)], False),
        ]
        for name, cmd, notify in cmds:
            a = ['startup', '-p', port] + (['-N'] if notify else []) + ['--'] + cmd
            d = loadgen(*a)
            rec('startup', '', name, d)
            log('startup rep %d %s: %s' % (rep, name, d))
            time.sleep(0.2)


# ---- the report

def fmt(v, digits=0):
    if v is None:
        return 'n/a'
    if digits == 0:
        return '{:,.0f}'.format(v)
    return '{:,.{}f}'.format(v, digits)


def verdict(ok):
    return 'met' if ok else '**missed**'


def report():
    L = []
    targets = []
    L.append('All figures: medians of %d runs; a ratio is taken within each run, then its '
             'median is quoted (the runs\' ratios in brackets).' % args.reps)
    if 'echo' in PLAN:
        L.append('\n### Echo round trips (N clients, one request in flight each, %g s)\n' % args.secs)
        L.append('| server | ' + ' | '.join('N=%d rt/s (p99 µs)' % n for n in ECHO_N) + ' |')
        L.append('|---|' + '---|' * len(ECHO_N))
        for name, *_ in ECHO_SERVERS:
            L.append('| %s | ' % name + ' | '.join('%s (%s)' % (
                fmt(med('echo', n, name, 'rps')), fmt(med('echo', n, name, 'p99_us')))
                for n in ECHO_N) + ' |')
        for ref in ('ref-thread', 'ref-epoll') + ((BASE,) if args.baseline else ()):
            cells = []
            for n in ECHO_N:
                m, rs = ratio_med('echo', n, 'pichat', ref, 'rps')
                cells.append('%s× [%s]' % (fmt(m, 2), ', '.join('%.2f' % r for r in rs)))
            L.append('| pichat / %s | ' % ref + ' | '.join(cells) + ' |')
        for n in ECHO_N:
            m, _ = ratio_med('echo', n, 'pichat', 'ref-thread', 'rps')
            targets.append(('echo N=%d: pichat ≥ 1.0× ref-thread' % n, '%s×' % fmt(m, 2),
                            m is not None and m >= 1.0))
        m, _ = ratio_med('echo', 100, 'pichat', 'ref-epoll', 'rps')
        targets.append(('echo N=100: pichat ≥ 0.65× ref-epoll', '%s×' % fmt(m, 2),
                        m is not None and m >= 0.65))
        a, b = med('echo', 1000, 'pichat', 'p99_us'), med('echo', 1000, 'ref-thread', 'p99_us')
        targets.append(('echo N=1000: pichat p99 ≤ ref-thread p99', '%s µs vs %s µs' % (
            fmt(a), fmt(b)), a is not None and b is not None and a <= b))
    if 'idle' in PLAN:
        L.append('\n### Idle clients held (%d, each greeted)\n' % IDLE_N)
        L.append('| server | held | all served in ms | RSS no clients KiB | RSS held KiB | '
                 'KiB per client | threads |')
        L.append('|---|---|---|---|---|---|---|')
        for name, _ in IDLE_SERVERS:
            L.append('| %s | %s | %s | %s | %s | %s | %s |' % (
                name, fmt(med('idle', IDLE_N, name, 'held')),
                fmt(med('idle', IDLE_N, name, 'accept_ms')),
                fmt(med('idle', IDLE_N, name, 'rss0_kib')),
                fmt(med('idle', IDLE_N, name, 'rss_kib')),
                fmt(med('idle', IDLE_N, name, 'per_client_kib'), 2),
                fmt(med('idle', IDLE_N, name, 'threads'))))
        # RSS counts every shared library page in full in every process
        # that maps it; private memory (Private_Clean + Private_Dirty) is
        # what the process costs on its own, PSS its fair share.
        L.append('\nMemory of the same runs, from `/proc/PID/smaps_rollup` (KiB; private = '
                 'Private_Clean + Private_Dirty; other processes mapping libsystemd.so.0 '
                 'meanwhile: %s):\n' % fmt(med('idle', IDLE_N, 'pichat', 'libsystemd_others')))
        L.append('| server | RSS idle | private idle | of it dirty | PSS idle | RSS per client | '
                 'private per client | PSS per client |')
        L.append('|---|---|---|---|---|---|---|---|')
        for name, _ in IDLE_SERVERS:
            L.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
                name, fmt(med('idle', IDLE_N, name, 'rss0_kib')),
                fmt(med('idle', IDLE_N, name, 'private0_kib')),
                fmt(med('idle', IDLE_N, name, 'private_dirty0_kib')),
                fmt(med('idle', IDLE_N, name, 'pss0_kib')),
                fmt(med('idle', IDLE_N, name, 'per_client_kib'), 2),
                fmt(med('idle', IDLE_N, name, 'per_client_private_kib'), 2),
                fmt(med('idle', IDLE_N, name, 'per_client_pss_kib'), 2)))
        pc = med('idle', IDLE_N, 'pichat', 'per_client_kib')
        held = med('idle', IDLE_N, 'pichat', 'held')
        acc = med('idle', IDLE_N, 'pichat', 'accept_ms')
        targets.append(('idle: %d held, ≤ 10 KiB RSS per client' % IDLE_N,
                        '%s held, %s KiB' % (fmt(held), fmt(pc, 2)),
                        held == IDLE_N and pc is not None and pc <= 10))
        targets.append(('idle: all %d served in ≤ 2 s' % IDLE_N, '%s ms' % fmt(acc),
                        acc is not None and acc <= 2000))
        # RSS counts libsystemd's shared pages in full: reported, not a target.
        priv0 = med('idle', IDLE_N, 'pichat', 'private0_kib')
        targets.append(('idle: private memory with no clients ≤ 1 MiB', '%s KiB' % fmt(priv0),
                        priv0 is not None and priv0 <= 1024))
    if 'chat' in PLAN:
        L.append('\n### Chat fan-out (1 sender, room of N: every line goes to N-1 members)\n')
        L.append('| case | server | deliveries/s | p50 µs | p99 µs | lost | corrupted | '
                 'out of order |')
        L.append('|---|---|---|---|---|---|---|---|')
        for case, *_ in CHAT_CASES:
            for name, *_ in CHAT_SERVERS:
                rs = R.get(('chat', case, name), [])
                tot = lambda k: fmt(sum(d.get(k, 0) for d in rs)) if rs and all(rs) else 'n/a'
                L.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
                    case, name, fmt(med('chat', case, name, 'dps')),
                    fmt(med('chat', case, name, 'p50_us')), fmt(med('chat', case, name, 'p99_us')),
                    tot('lost'), tot('corrupted'), tot('disorder')))
        L.append('\n(lost, corrupted and out of order: summed over the %d runs)' % args.reps)
        if args.baseline:
            for case, *_ in CHAT_CASES:
                for key in ('dps', 'p99_us'):
                    m, rs = ratio_med('chat', case, 'pichat', BASE, key)
                    L.append('\npichat / %s, %s %s: %s× [%s]' % (
                        BASE, case, key, fmt(m, 2), ', '.join('%.2f' % r for r in rs)))
        for case in ('window N=100', 'window N=500'):
            m, rs = ratio_med('chat', case, 'pichat', 'ngircd', 'dps')
            targets.append(('chat %s: deliveries/s ≥ ngircd' % case, '%s× [%s]' % (
                fmt(m, 2), ', '.join('%.2f' % r for r in rs)), m is not None and m >= 1.0))
        m, rs = ratio_med('chat', 'paced 500/s N=500', 'pichat', 'ngircd', 'p99_us')
        targets.append(('chat paced 500/s N=500: p99 ≤ ½ ngircd', '%s× [%s]' % (
            fmt(m, 2), ', '.join('%.2f' % r for r in rs)), m is not None and m <= 0.5))
        rs = R.get(('chat', 'burst 2000 N=100', 'pichat'), [])
        bad = sum(d.get('lost', 1) + d.get('corrupted', 1) for d in rs) if rs else None
        targets.append(('chat burst 2000 N=100: 0 lost, 0 corrupted',
                        '%s lost+corrupted in %d runs' % (fmt(bad), len(rs)),
                        bad == 0 and all(rs)))
    if 'web' in PLAN:
        L.append('\n### Browsers beside telnet users (one room, one sender, window 64)\n')
        L.append('| members | deliveries/s | p50 µs | p99 µs |')
        L.append('|---|---|---|---|')
        for kind, pre in (('%d telnet' % WEB_MEMBERS, 'tcp'), ('%d WebSocket' % WEB_MEMBERS, 'ws')):
            L.append('| %s | %s | %s | %s |' % (
                kind, fmt(med('web', 'fan-out', 'pichat', pre + '_dps')),
                fmt(med('web', 'fan-out', 'pichat', pre + '_p50_us')),
                fmt(med('web', 'fan-out', 'pichat', pre + '_p99_us'))))
        rs = R.get(('web', 'fan-out', 'pichat'), [])
        lost = sum(d.get('lost', 1) + d.get('corrupted', 1) for d in rs) if rs else None
        p99 = [d['ws_p99_us'] / d['tcp_p99_us'] for d in rs if d.get('ws_p99_us') and d.get('tcp_p99_us')]
        L.append('\n(WebSocket p99 / telnet p99 within each run: %s; lost+corrupted over %d runs: %s)'
                 % (', '.join('%.2f' % r for r in p99), len(rs), fmt(lost)))
        targets.append(('web: every line reaches both kinds, 0 lost, 0 corrupted',
                        '%s lost+corrupted' % fmt(lost), lost == 0 and all(rs)))
        L.append('\n| %d idle chat members | RSS KiB | per member KiB | private per member KiB '
                 '| PSS per member KiB | threads |' % WEB_IDLE_N)
        L.append('|---|---|---|---|---|---|')
        for kind in ('telnet', 'websocket'):
            L.append('| %s | %s | %s | %s | %s | %s |' % (
                kind, fmt(med('web', 'idle', kind, 'rss_kib')),
                fmt(med('web', 'idle', kind, 'per_client_kib'), 2),
                fmt(med('web', 'idle', kind, 'per_client_private_kib'), 2),
                fmt(med('web', 'idle', kind, 'per_client_pss_kib'), 2),
                fmt(med('web', 'idle', kind, 'threads'))))
        diffs = [w['per_client_kib'] - t['per_client_kib'] for t, w in
                 zip(R.get(('web', 'idle', 'telnet'), []), R.get(('web', 'idle', 'websocket'), []))
                 if t.get('per_client_kib') is not None and w.get('per_client_kib') is not None]
        m = median(diffs)
        targets.append(('web: RSS per idle WebSocket member within 2 KiB of a telnet one',
                        '+%s KiB [%s]' % (fmt(m, 2), ', '.join('%.2f' % x for x in diffs)),
                        m is not None and m <= 2.0))
    if 'tls' in PLAN:
        L.append('\n### TLS beside plain (one sender, room of %d, window 64; each in a pichatd '
                 'of its own)\n' % TLS_MEMBERS)
        L.append('| members | deliveries/s | p50 µs | p99 µs | lost | corrupted |')
        L.append('|---|---|---|---|---|---|')
        for kind in ('plain', 'tls'):
            rs = R.get(('tls', 'fan-out', kind), [])
            tot = lambda k: fmt(sum(d.get(k, 0) for d in rs)) if rs and all(rs) else 'n/a'
            L.append('| %s | %s | %s | %s | %s | %s |' % (
                kind, fmt(med('tls', 'fan-out', kind, 'dps')),
                fmt(med('tls', 'fan-out', kind, 'p50_us')),
                fmt(med('tls', 'fan-out', kind, 'p99_us')), tot('lost'), tot('corrupted')))
        m, rs = ratio_med('tls', 'fan-out', 'tls', 'plain', 'dps')
        targets.append(('tls: fan-out ≥ 0.6× plain', '%s× [%s]' % (
            fmt(m, 2), ', '.join('%.2f' % r for r in rs)), m is not None and m >= 0.6))
        L.append('\n| %d idle chat members | held | all served in ms | RSS KiB | per member KiB | '
                 'threads |' % TLS_IDLE_N)
        L.append('|---|---|---|---|---|---|')
        for kind in ('plain', 'tls'):
            L.append('| %s | %s | %s | %s | %s | %s |' % (
                kind, fmt(med('tls', 'idle', kind, 'held')),
                fmt(med('tls', 'idle', kind, 'accept_ms')),
                fmt(med('tls', 'idle', kind, 'rss_kib')),
                fmt(med('tls', 'idle', kind, 'per_client_kib'), 2),
                fmt(med('tls', 'idle', kind, 'threads'))))
        pc = med('tls', 'idle', 'tls', 'per_client_kib')
        held = med('tls', 'idle', 'tls', 'held')
        targets.append(('tls: RSS per idle TLS member ≤ 40 KiB', '%s KiB (%s held)' % (
            fmt(pc, 2), fmt(held)), pc is not None and pc <= 40 and held == TLS_IDLE_N))
    if 'udp' in PLAN:
        L.append('\n### UDP echo (8 sockets × 4 in flight, %g s)\n' % args.secs)
        L.append('| server | replies/s | lost | p99 µs |')
        L.append('|---|---|---|---|')
        for name, *_ in UDP_SERVERS:
            rs = R.get(('udp', '8x4', name), [])
            L.append('| %s | %s | %s | %s |' % (
                name, fmt(med('udp', '8x4', name, 'rps')),
                fmt(sum(d.get('lost', 0) for d in rs)) if rs else 'n/a',
                fmt(med('udp', '8x4', name, 'p99_us'))))
        if args.baseline:
            m, rs = ratio_med('udp', '8x4', 'pichat', BASE, 'rps')
            L.append('\npichat / %s replies/s: %s× [%s]' % (
                BASE, fmt(m, 2), ', '.join('%.2f' % r for r in rs)))
        m, rs = ratio_med('udp', '8x4', 'pichat', 'python-udp', 'rps')
        lost = sum(d.get('lost', 1) for d in R.get(('udp', '8x4', 'pichat'), [])) or 0
        targets.append(('udp: ≥ 2× python, 0 lost', '%s× [%s], %d lost' % (
            fmt(m, 2), ', '.join('%.2f' % r for r in rs), lost),
            m is not None and m >= 2 and lost == 0))
    if 'startup' in PLAN:
        L.append('\n### Start-up (exec to READY=1, and to the first connection answered)\n')
        L.append('| server | READY=1 ms | first answer ms |')
        L.append('|---|---|---|')
        for name in ('pichat', 'ref-thread', 'ref-epoll', 'python-thread', 'xinetd', 'ngircd'):
            r = med('startup', '', name, 'ready_ms')
            L.append('| %s | %s | %s |' % (name, fmt(r, 1) if r and r > 0 else '—',
                                          fmt(med('startup', '', name, 'served_ms'), 1)))
    L.append('\n### Targets\n')
    L.append('| target | measured | |')
    L.append('|---|---|---|')
    for t, v, ok in targets:
        L.append('| %s | %s | %s |' % (t, v, verdict(ok)))
    return '\n'.join(L) + '\n'


def main():
    steps = {'echo': run_echo, 'idle': run_idle, 'chat': run_chat, 'udp': run_udp,
             'startup': run_startup, 'web': run_web, 'tls': run_tls}
    try:
        for s in PLAN:
            if time.monotonic() - T0 > BUDGET:
                log('time budget used up: skipping %s' % s)
                continue
            log('--- %s' % s)
            steps[s]()
    finally:
        text = report()
        head = '## pichat benchmark, %s\n\n' % time.strftime('%Y-%m-%d %H:%M')
        with open(args.out, 'w') as f:
            f.write(head + text)
        print(head + text)
        log('results written to %s (total %.0f s)' % (args.out, time.monotonic() - T0))
        shutil.rmtree(WORK, ignore_errors=True)


main()
