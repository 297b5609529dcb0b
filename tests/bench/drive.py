#!/usr/bin/python3
"""Side-by-side benchmark of pichatd and its peers (run through tests/bench/run).

Starts every server on 127.0.0.1 on free ports, drives it with loadgen,
stops it by PID, and prints a markdown report (medians of REPS runs; every
ratio is taken within one run, then its median is quoted). Nothing here
talks to any address but 127.0.0.1.
"""
import argparse
import os
import resource
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
ap.add_argument('--only', default='echo,idle,chat,udp,startup,web,tls,cluster')
ap.add_argument('--placement', choices=('split', 'shared'), default='split',
                help='split (the default): the load generator on one core, every server on '
                     'another; shared: wherever the kernel puts them')
ap.add_argument('--plots', metavar='DIR',
                help='draw the curves (gnuplot, PNG) into DIR')
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
NULL = os.path.join(B, 'tests/bench/null_server')
PY = '/usr/bin/python3'
WORK = tempfile.mkdtemp(prefix='pichat-bench-')
T0 = time.monotonic()
BUDGET = 1800           # seconds: the whole run must stay under 31 minutes
PLAN = args.only.split(',')

# Fair placement: on a 2-core machine the generator and the server compete
# for the same cores unless each has its own. Every server (and every
# process or thread it starts) runs on SERVER_CPU, the generator on GEN_CPU.
CPUS = sorted(os.sched_getaffinity(0))
if args.placement == 'split' and len(CPUS) >= 2:
    GEN_CPU, SERVER_CPU = CPUS[0], CPUS[-1]
else:
    GEN_CPU = SERVER_CPU = None
NULL_NAME = 'null (generator limit)'


def pin(cpu):
    """A preexec_fn that puts the child on cpu (None: leaves it alone)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def log(msg):
    print('[%5.1fs] %s' % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


def freeport():
    return int(subprocess.check_output([LOADGEN, 'freeport']).decode())


def loadgen(*a, timeout=90, cpu='gen'):
    """Run loadgen (on the generator's core); its key=value line as a dict
    ({} on failure), with the server's CPU per operation added when it was
    measured (-P): srv_us_op, and gen_load, the generator's own CPU time
    over the window's length (near 1: it was the bottleneck)."""
    cmd = [LOADGEN] + [str(x) for x in a]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout,
                           preexec_fn=pin(GEN_CPU if cpu == 'gen' else SERVER_CPU))
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
    ops = d.get('rt') or d.get('delivered') or d.get('replies')
    if ops and d.get('srv_cpu_ms', -1) >= 0:
        d['srv_us_op'] = d['srv_cpu_ms'] * 1000 / ops
    if d.get('cpu_wall_ms'):
        d['gen_load'] = d['gen_cpu_ms'] / d['cpu_wall_ms']
    return d


class Server:
    """One server process, started on free ports, stopped by its PID."""

    def __init__(self, name, argv, port, ready_port=None, cwd=None, env=None):
        self.name, self.port = name, port
        self.logf = open(os.path.join(WORK, name + '.log'), 'ab')
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf, cwd=cwd or WORK,
                                  env=env, start_new_session=True,
                                  preexec_fn=pin(SERVER_CPU))
        self.pid = self.p.pid
        try:
            wait_port(ready_port or port)
        except RuntimeError:
            self.stop()
            with open(os.path.join(WORK, name + '.log'), 'rb') as f:
                log('%s did not start; its log ends: %s' % (
                    name, f.read()[-500:].decode(errors='replace').strip().replace('\n', ' | ')))
            raise

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
max_clients = 20000
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


def start_null_echo():
    port = freeport()
    return Server(NULL_NAME, [NULL, 'echo', str(port)], port)


def start_null_chat():
    port = freeport()
    return Server(NULL_NAME, [NULL, 'chat', str(port)], port)


def start_null_udp():
    port = freeport()
    return UdpServer(NULL_NAME, [NULL, 'udp', str(port)], port)


def start_py_echo():
    port = freeport()
    return Server('python-thread', [PY, os.path.join(HERE, 'py_echo.py'), str(port)], port)


class UdpServer(Server):
    """A UDP-only server: nothing to connect to, so a short wait instead."""

    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.logf = open(os.path.join(WORK, name + '.log'), 'ab')
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf, cwd=WORK,
                                  start_new_session=True, preexec_fn=pin(SERVER_CPU))
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
                           '--max-conns', '5000'], port)


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
                ('xinetd', start_xinetd, False, ''),
                (NULL_NAME, start_null_echo, True, 'OK...')]
ECHO_N = [1, 10, 100, 1000, 5000]
BASE = 'pichat-before'


def run_echo():
    servers = {name: start() for name, start, _, _ in ECHO_SERVERS}
    try:
        for rep in range(args.reps):
            for n in ECHO_N:
                for name, _, greet, prefix in ECHO_SERVERS:
                    a = ['echo', '-p', servers[name].port, '-n', n, '-t', args.secs, '-x', prefix,
                         '-P', servers[name].pid]
                    if greet:
                        a.append('-g')
                    d = loadgen(*a)
                    rec('echo', n, name, d)
                    log('echo rep %d N=%d %s: %s rt/s p99 %s us, %s us CPU/rt, generator %s' % (
                        rep, n, name, d.get('rps'), d.get('p99_us'), fmt(d.get('srv_us_op'), 2),
                        fmt(d.get('gen_load'), 2)))
    finally:
        for s in servers.values():
            s.stop()


IDLE_SERVERS = [('pichat', start_pichat), ('ref-thread', start_ref_thread),
                ('ref-epoll', start_ref_epoll), (NULL_NAME, start_null_echo)]
# 20,000 needs as many descriptors in the generator and in the server, and
# some to spare: where the hard limit is lower, the largest count it allows.
_NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
IDLE_TOP = 20000 if _NOFILE == resource.RLIM_INFINITY or _NOFILE >= 20100 else \
    (_NOFILE - 100) // 1000 * 1000
IDLE_NS = [1000, 10000, IDLE_TOP]
IDLE_N = 10000          # the one the tables of memory are for


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
        for n in IDLE_NS:
            for name, start in IDLE_SERVERS:
                s = start()
                time.sleep(0.5)     # let it finish starting: the idle RSS
                try:
                    d = loadgen('idle', '-p', s.port, '-n', n, '-P', s.pid, '-g', '-t', 1,
                                timeout=150)
                    d['libsystemd_others'] = mapping_others(s.pid, 'libsystemd.so.0')
                finally:
                    s.stop()
                rec('idle', n, name, d)
                log('idle rep %d N=%d %s: held %s, %s KiB per client, all served in %s ms' % (
                    rep, n, name, d.get('held'), fmt(d.get('per_client_kib'), 2),
                    d.get('accept_ms')))


CHAT_WINDOW_N = [10, 100, 500, 2000]
CHAT_CASES = [  # (case, N, loadgen arguments)
    ('window N=%d' % n, n, ['-m', 'window', '-w', 64, '-t', None]) for n in CHAT_WINDOW_N
] + [
    ('paced 500/s N=500', 500, ['-m', 'paced', '-R', 500, '-t', None]),
    # 250,000 deliveries/s keep the generator's core busy, which then sets
    # the latency (see the null server's); here it has room to spare.
    ('paced 200/s N=100', 100, ['-m', 'paced', '-R', 200, '-t', None]),
    ('burst 2000 N=100', 100, ['-m', 'burst', '-l', 2000]),
]
CHAT_SERVERS = [('pichat', lambda: start_pichat(), 'pichat'),
                ('ngircd', start_ngircd, 'irc'),
                ('ncat --chat', start_ncat, 'ncat'),
                (NULL_NAME, start_null_chat, 'pichat')]


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
                a += ['-c', 8, '-P', s.pid]
                try:
                    d = loadgen(*a, timeout=150)
                finally:
                    s.stop()
                rec('chat', case, name, d)
                log('chat rep %d %s %s: %s dps p99 %s us lost %s corrupt %s, %s us CPU per '
                    'delivery, generator %s' % (
                        rep, case, name, d.get('dps'), d.get('p99_us'), d.get('lost'),
                        d.get('corrupted'), fmt(d.get('srv_us_op'), 3), fmt(d.get('gen_load'), 2)))


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
                        '-w', 64, '-t', args.secs, '-c', 8, '-P', s.pid)
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
                     '-t', args.secs, '-c', 8, '-P', s.pid]
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


CLUSTER_NODES = 3
CLUSTER_MEMBERS = 100   # per node; one node alone holds all of them
CLUSTER_PACED = 200     # lines/s for the latency case
MOSQUITTO = '/usr/sbin/mosquitto'


def start_mosquitto():
    port = freeport()
    conf = os.path.join(WORK, 'mosquitto-%d.conf' % port)
    with open(conf, 'w') as f:
        f.write('listener %d 127.0.0.1\nset_tcp_nodelay true\npersistence false\n'
                'allow_anonymous true\n'
                'log_dest stderr\nlog_type error\nlog_type warning\n' % port)
    os.chmod(WORK, 0o755)       # mosquitto started as root reads it as user mosquitto
    os.chmod(conf, 0o644)
    return Server('mosquitto', [MOSQUITTO, '-c', conf], port)


def start_node(i, broker):
    """pichatd as cluster node n<i> on broker's port, chat only; the peer
    rate limit lifted as flood control is for the chat tests."""
    echo, chat = freeport(), freeport()
    conf = pichat_conf(echo, chat, freeport(), '[cluster]\nenabled = yes\nbroker = 127.0.0.1:%d\n'
                       'node = n%d\npeer_lines_per_sec = 100000\n' % (broker.port, i))
    s = Server('pichat-n%d' % i, [PICHATD, '--foreground', '-c', conf], echo)
    wait_port(chat)
    s.chat_port = chat
    log_path = os.path.join(WORK, s.name + '.log')
    end = time.monotonic() + 10
    while time.monotonic() < end:
        with open(log_path, 'rb') as f:
            if b'connected to the broker' in f.read():
                break
        time.sleep(0.05)
    else:
        raise RuntimeError('%s: not in the cluster after 10 s' % s.name)
    return s


def run_cluster():
    """Rooms shared through mosquitto: one sender into a room of 3 × 100
    members, one node each third (the sender on the first), beside one
    pichatd holding all 300; window 64 for throughput, paced for latency.
    The CPU is every node's and the broker's together."""
    if not os.access(MOSQUITTO, os.X_OK):
        log('no %s: cluster skipped' % MOSQUITTO)
        return
    n = CLUSTER_NODES * CLUSTER_MEMBERS
    cases = (('window', ['-m', 'window', '-w', 64, '-t', args.secs]),
             ('paced %d/s' % CLUSTER_PACED, ['-m', 'paced', '-R', CLUSTER_PACED, '-t', args.secs]))
    for rep in range(args.reps):
        for case, extra in cases:
            s = start_pichat()
            try:
                d = loadgen('chat', '-p', s.chat_port, '-n', n, '-k', 1, '-r', 'pichat', '-c', 8,
                            '-P', s.pid, *extra, timeout=150)
            finally:
                s.stop()
            rec('cluster', case, 'one node', d)
            log('cluster rep %d %s one node: %s dps p99 %s us, %s us CPU/delivery' % (
                rep, case, d.get('dps'), d.get('p99_us'), fmt(d.get('srv_us_op'), 3)))
            broker = start_mosquitto()
            nodes = []
            try:
                for i in range(CLUSTER_NODES):
                    nodes.append(start_node(i + 1, broker))
                time.sleep(0.5)
                d = loadgen('chat', '-p', ','.join(str(x.chat_port) for x in nodes), '-n', n,
                            '-k', 1, '-r', 'pichat', '-c', 8,
                            '-P', ','.join(str(x.pid) for x in nodes + [broker]), *extra,
                            timeout=150)
            finally:
                for x in nodes + [broker]:
                    x.stop()
            rec('cluster', case, '%d nodes' % CLUSTER_NODES, d)
            log('cluster rep %d %s %d nodes: %s dps, far p99 %s us, lost %s, %s us CPU/delivery'
                % (rep, case, CLUSTER_NODES, d.get('dps'), d.get('far_p99_us'), d.get('lost'),
                   fmt(d.get('srv_us_op'), 3)))


UDP_SERVERS = [('pichat', start_pichat, 'OK...'), ('python-udp', start_py_udp, 'OK...'),
               ('xinetd', start_xinetd, ''), (NULL_NAME, start_null_udp, 'OK...')]
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
                            '-x', prefix, '-P', servers[name].pid)
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
            # loadgen starts the server itself: both on the server's core
            # (loadgen only waits meanwhile).
            d = loadgen(*a, cpu='server')
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


GEN_MARK = '‡'


def gen_bound(section, case, name):
    """GEN_MARK when the generator's own core was the bottleneck (its CPU
    time ≥ 90 % of the window in the median run)."""
    g = med(section, case, name, 'gen_load')
    return GEN_MARK if g is not None and g >= 0.9 else ''


def unanswered(section, case, name):
    """', N of them never answered' when clients waited the whole window
    for a reply (a server that stops accepting: xinetd past a few hundred)."""
    u = med(section, case, name, 'unanswered')
    return ', **%s never answered**' % fmt(u) if u else ''


def ratio_text(m, rs):
    return '%s× [%s]' % (fmt(m, 2), ', '.join('%.2f' % r for r in rs))


def ratio_cell(section, case, a, b, key):
    return ratio_text(*ratio_med(section, case, a, b, key))


def plot(name, title, xlabel, top, ylabel_top, bottom, ylabel_bottom):
    """Two panels, log-log, one line per server: PLOTS/name.png (gnuplot)."""
    if not args.plots:
        return
    if not shutil.which('gnuplot'):
        log('no gnuplot: %s.png not drawn' % name)
        return
    series = []
    for panel, data in (('top', top), ('bottom', bottom)):
        for i, (server, pts) in enumerate(data):
            pts = [(x, y) for x, y in pts if y]
            path = os.path.join(WORK, 'plot-%s-%s-%d.dat' % (name, panel, i))
            with open(path, 'w') as f:
                f.write(''.join('%g %g\n' % p for p in pts))
            series.append((panel, server, path, len(pts)))

    def plots(panel):
        return ', '.join('"%s" using 1:2 with linespoints lw 2 title "%s"' % (p, srv)
                         for pl, srv, p, n in series if pl == panel and n) or 'NaN notitle'
    out = os.path.join(os.path.abspath(args.plots), name + '.png')
    script = """set terminal pngcairo size 900,900 font ",10"
set output "%s"
set multiplot layout 2,1 title "%s (medians of %d runs)"
set logscale xy
set grid
set key outside right
set xlabel "%s"
set ylabel "%s"
plot %s
set ylabel "%s"
plot %s
unset multiplot
""" % (out, title, args.reps, xlabel, ylabel_top, plots('top'), ylabel_bottom, plots('bottom'))
    r = subprocess.run(['gnuplot'], input=script.encode(), capture_output=True)
    if r.returncode:
        log('gnuplot %s: %s' % (name, r.stderr.decode().strip()[:300]))
    else:
        log('drew ' + out)


def report():
    L = []
    targets = []
    L.append('All figures: medians of %d runs; a ratio is taken within each run, then its '
             'median is quoted (the runs\' ratios in brackets).' % args.reps)
    if 'echo' in PLAN:
        L.append('\n### Echo round trips (N clients, one request in flight each, %g s)\n' % args.secs)
        L.append('Round trips/s (p99 µs); %s: the generator\'s own core was busy ≥ 90%% of the '
                 'window, so the figure is what the generator could drive, a lower bound for '
                 'the server. Clients never answered in the window are counted: their server\'s '
                 'figures are those of the clients it did serve.\n' % GEN_MARK)
        L.append('| server | ' + ' | '.join('N=%d' % n for n in ECHO_N) + ' |')
        L.append('|---|' + '---|' * len(ECHO_N))
        for name, *_ in ECHO_SERVERS:
            L.append('| %s | ' % name + ' | '.join('%s%s (%s)%s' % (
                fmt(med('echo', n, name, 'rps')), gen_bound('echo', n, name),
                fmt(med('echo', n, name, 'p99_us')), unanswered('echo', n, name))
                for n in ECHO_N) + ' |')
        for ref in ('ref-thread', 'ref-epoll') + ((BASE,) if args.baseline else ()):
            L.append('| pichat / %s | ' % ref + ' | '.join(
                ratio_cell('echo', n, 'pichat', ref, 'rps') for n in ECHO_N) + ' |')
        L.append('\nServer CPU per round trip, µs (user + system over the timed window / round '
                 'trips):\n')
        L.append('| server | ' + ' | '.join('N=%d' % n for n in ECHO_N) + ' |')
        L.append('|---|' + '---|' * len(ECHO_N))
        for name, *_ in ECHO_SERVERS:
            L.append('| %s | ' % name + ' | '.join(
                fmt(med('echo', n, name, 'srv_us_op'), 2) for n in ECHO_N) + ' |')
        L.append('| pichat / ref-thread | ' + ' | '.join(
            ratio_cell('echo', n, 'pichat', 'ref-thread', 'srv_us_op') for n in ECHO_N) + ' |')
        for n in ECHO_N:
            m, rs = ratio_med('echo', n, 'pichat', 'ref-thread', 'rps')
            targets.append(('echo N=%d: pichat ≥ 1.0× ref-thread' % n, ratio_text(m, rs),
                            m is not None and m >= 1.0))
        for n in ECHO_N:
            m, rs = ratio_med('echo', n, 'pichat', 'ref-thread', 'srv_us_op')
            targets.append(('echo N=%d: CPU per round trip ≤ 1.0× ref-thread' % n,
                            ratio_text(m, rs), m is not None and m <= 1.0))
        m, rs = ratio_med('echo', 100, 'pichat', 'ref-epoll', 'rps')
        targets.append(('echo N=100: pichat ≥ 0.7× ref-epoll', ratio_text(m, rs),
                        m is not None and m >= 0.7))
        plot('echo', 'Echo: round trips/s and server CPU per round trip', 'clients (N)',
             [(name, [(n, med('echo', n, name, 'rps')) for n in ECHO_N]) for name, *_ in ECHO_SERVERS],
             'round trips/s',
             [(name, [(n, med('echo', n, name, 'srv_us_op')) for n in ECHO_N])
              for name, *_ in ECHO_SERVERS if name != NULL_NAME], 'server CPU µs per round trip')
    if 'idle' in PLAN:
        L.append('\n### Idle clients held (N, each greeted)\n')
        if IDLE_TOP < 20000:
            L.append('The largest N is %d, not 20,000: the open-files hard limit here is %d, '
                     'for the generator and the server alike.\n' % (IDLE_TOP, _NOFILE))
        L.append('RSS per client, KiB (held of N; all served in ms):\n')
        L.append('| server | ' + ' | '.join('N=%d' % n for n in IDLE_NS) + ' | threads at N=%d |'
                 % IDLE_NS[-1])
        L.append('|---|' + '---|' * (len(IDLE_NS) + 1))
        for name, _ in IDLE_SERVERS:
            L.append('| %s | ' % name + ' | '.join('%s (%s; %s ms)' % (
                fmt(med('idle', n, name, 'per_client_kib'), 2), fmt(med('idle', n, name, 'held')),
                fmt(med('idle', n, name, 'accept_ms'))) for n in IDLE_NS) + ' | %s |' % fmt(
                med('idle', IDLE_NS[-1], name, 'threads')))
        # RSS counts every shared library page in full in every process
        # that maps it; private memory (Private_Clean + Private_Dirty) is
        # what the process costs on its own, PSS its fair share.
        L.append('\nMemory at N = %d, from `/proc/PID/smaps_rollup` (KiB; private = '
                 'Private_Clean + Private_Dirty; other processes mapping libsystemd.so.0 '
                 'meanwhile: %s):\n' % (IDLE_N, fmt(med('idle', IDLE_N, 'pichat',
                                                          'libsystemd_others'))))
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
        for n in IDLE_NS:
            a, b = med('idle', n, 'pichat', 'per_client_kib'), med('idle', n, 'ref-thread',
                                                                    'per_client_kib')
            held = med('idle', n, 'pichat', 'held')
            targets.append(('idle N=%d: all held, RSS per client ≤ ref-thread\'s' % n,
                            '%s held, %s KiB vs %s KiB' % (fmt(held), fmt(a, 2), fmt(b, 2)),
                            held == n and a is not None and b is not None and a <= b))
        priv0 = med('idle', IDLE_N, 'pichat', 'private0_kib')
        targets.append(('idle: private memory with no clients ≤ 1 MiB', '%s KiB' % fmt(priv0),
                        priv0 is not None and priv0 <= 1024))
        plot('idle', 'Idle clients: RSS per client and time until all are served', 'clients (N)',
             [(name, [(n, med('idle', n, name, 'per_client_kib')) for n in IDLE_NS])
              for name, _ in IDLE_SERVERS if name != NULL_NAME], 'RSS per client, KiB',
             [(name, [(n, med('idle', n, name, 'accept_ms')) for n in IDLE_NS])
              for name, _ in IDLE_SERVERS], 'all served in, ms')
    if 'chat' in PLAN:
        L.append('\n### Chat fan-out (1 sender, room of N: every line goes to N-1 members)\n')
        L.append('CPU µs per delivery: the server\'s user + system time over the timed window '
                 '/ deliveries. %s: the generator\'s core was busy ≥ 90%% of the window.\n'
                 % GEN_MARK)
        L.append('| case | server | deliveries/s | CPU µs per delivery | p50 µs | p99 µs | lost '
                 '| corrupted | out of order |')
        L.append('|---|---|---|---|---|---|---|---|---|')
        for case, *_ in CHAT_CASES:
            for name, *_ in CHAT_SERVERS:
                rs = R.get(('chat', case, name), [])
                tot = lambda k: fmt(sum(d.get(k, 0) for d in rs)) if rs and all(rs) else 'n/a'
                L.append('| %s | %s | %s%s | %s | %s | %s | %s | %s | %s |' % (
                    case, name, fmt(med('chat', case, name, 'dps')),
                    gen_bound('chat', case, name), fmt(med('chat', case, name, 'srv_us_op'), 3),
                    fmt(med('chat', case, name, 'p50_us')), fmt(med('chat', case, name, 'p99_us')),
                    tot('lost'), tot('corrupted'), tot('disorder')))
        L.append('\n(lost, corrupted and out of order: summed over the %d runs)' % args.reps)
        if args.baseline:
            for case, *_ in CHAT_CASES:
                for key in ('dps', 'p99_us'):
                    m, rs = ratio_med('chat', case, 'pichat', BASE, key)
                    L.append('\npichat / %s, %s %s: %s' % (BASE, case, key, ratio_text(m, rs)))
        for case in ('window N=100', 'window N=500'):
            m, rs = ratio_med('chat', case, 'pichat', 'ncat --chat', 'dps')
            targets.append(('chat %s: deliveries/s ≥ ncat --chat' % case, ratio_text(m, rs),
                            m is not None and m >= 1.0))
        for case in ('window N=100', 'window N=500'):
            m, rs = ratio_med('chat', case, 'pichat', 'ngircd', 'srv_us_op')
            targets.append(('chat %s: CPU per delivery ≤ 0.5× ngircd' % case,
                            ratio_text(m, rs), m is not None and m <= 0.5))
        for case in ('paced 500/s N=500', 'paced 200/s N=100'):
            m, rs = ratio_med('chat', case, 'pichat', 'ngircd', 'p99_us')
            nb = med('chat', case, NULL_NAME, 'p99_us')
            targets.append(('chat %s: p99 ≤ 0.5× ngircd' % case, '%s (the null server\'s '
                            'p99: %s µs%s)' % (ratio_text(m, rs), fmt(nb), ', generator-bound'
                                               if gen_bound('chat', case, 'pichat') else ''),
                            m is not None and m <= 0.5))
        rs = R.get(('chat', 'burst 2000 N=100', 'pichat'), [])
        bad = sum(d.get('lost', 1) + d.get('corrupted', 1) for d in rs) if rs else None
        targets.append(('chat burst 2000 N=100: 0 lost, 0 corrupted',
                        '%s lost+corrupted in %d runs' % (fmt(bad), len(rs)),
                        bad == 0 and all(rs)))
        wn = [(n, 'window N=%d' % n) for n in CHAT_WINDOW_N]
        plot('chat', 'Chat fan-out (window 64): deliveries/s and server CPU per delivery',
             'room members (N)',
             [(name, [(n, med('chat', c, name, 'dps')) for n, c in wn]) for name, *_ in CHAT_SERVERS],
             'deliveries/s',
             [(name, [(n, med('chat', c, name, 'srv_us_op')) for n, c in wn])
              for name, *_ in CHAT_SERVERS if name != NULL_NAME], 'server CPU µs per delivery')
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
        wr = [d['ws_dps'] / d['tcp_dps'] for d in rs if d.get('ws_dps') and d.get('tcp_dps')]
        targets.append(('web: WebSocket members ≥ 0.8× telnet members\' deliveries/s',
                        ratio_text(median(wr), wr), median(wr) is not None and median(wr) >= 0.8))
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
        L.append('| members | deliveries/s | CPU µs per delivery | p50 µs | p99 µs | lost | '
                 'corrupted |')
        L.append('|---|---|---|---|---|---|---|')
        for kind in ('plain', 'tls'):
            rs = R.get(('tls', 'fan-out', kind), [])
            tot = lambda k: fmt(sum(d.get(k, 0) for d in rs)) if rs and all(rs) else 'n/a'
            L.append('| %s | %s%s | %s | %s | %s | %s | %s |' % (
                kind, fmt(med('tls', 'fan-out', kind, 'dps')), gen_bound('tls', 'fan-out', kind),
                fmt(med('tls', 'fan-out', kind, 'srv_us_op'), 3),
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
        L.append('| server | replies/s | CPU µs per datagram | lost | p99 µs |')
        L.append('|---|---|---|---|---|')
        for name, *_ in UDP_SERVERS:
            rs = R.get(('udp', '8x4', name), [])
            L.append('| %s | %s%s | %s | %s | %s |' % (
                name, fmt(med('udp', '8x4', name, 'rps')), gen_bound('udp', '8x4', name),
                fmt(med('udp', '8x4', name, 'srv_us_op'), 2),
                fmt(sum(d.get('lost', 0) for d in rs)) if rs else 'n/a',
                fmt(med('udp', '8x4', name, 'p99_us'))))
        if args.baseline:
            m, rs = ratio_med('udp', '8x4', 'pichat', BASE, 'rps')
            L.append('\npichat / %s replies/s: %s' % (BASE, ratio_text(m, rs)))
        m, rs = ratio_med('udp', '8x4', 'pichat', 'python-udp', 'rps')
        lost = sum(d.get('lost', 1) for d in R.get(('udp', '8x4', 'pichat'), [])) or 0
        targets.append(('udp: ≥ 2× python\'s replies/s, 0 lost', '%s, %d lost' % (
            ratio_text(m, rs), lost), m is not None and m >= 2 and lost == 0))
        m, rs = ratio_med('udp', '8x4', 'pichat', 'python-udp', 'srv_us_op')
        targets.append(('udp: CPU per datagram ≤ 0.5× python\'s', ratio_text(m, rs),
                        m is not None and m <= 0.5))
    if 'cluster' in PLAN:
        many = '%d nodes' % CLUSTER_NODES
        L.append('\n### Rooms shared by %d nodes through mosquitto (one sender, %d × %d members)\n'
                 % (CLUSTER_NODES, CLUSTER_NODES, CLUSTER_MEMBERS))
        L.append('CPU: all nodes and the broker together. near: members on the sender\'s node; '
                 'far: on the others.\n')
        L.append('| case | setup | deliveries/s | CPU µs per delivery | p99 µs | near p99 µs | '
                 'far p50 µs | far p99 µs | lost | corrupted |')
        L.append('|---|---|---|---|---|---|---|---|---|---|')
        for case in ('window', 'paced %d/s' % CLUSTER_PACED):
            for setup in ('one node', many):
                rs = R.get(('cluster', case, setup), [])
                tot = lambda k: fmt(sum(d.get(k, 0) for d in rs)) if rs and all(rs) else 'n/a'
                L.append('| %s | %s | %s%s | %s | %s | %s | %s | %s | %s | %s |' % (
                    case, setup, fmt(med('cluster', case, setup, 'dps')),
                    gen_bound('cluster', case, setup),
                    fmt(med('cluster', case, setup, 'srv_us_op'), 3),
                    fmt(med('cluster', case, setup, 'p99_us')),
                    fmt(med('cluster', case, setup, 'near_p99_us')),
                    fmt(med('cluster', case, setup, 'far_p50_us')),
                    fmt(med('cluster', case, setup, 'far_p99_us')), tot('lost'), tot('corrupted')))
        m, rs = ratio_med('cluster', 'window', many, 'one node', 'dps')
        targets.append(('cluster: %d nodes × %d members ≥ 0.5× one node with %d' % (
            CLUSTER_NODES, CLUSTER_MEMBERS, CLUSTER_NODES * CLUSTER_MEMBERS), ratio_text(m, rs),
            m is not None and m >= 0.5))
        p = med('cluster', 'paced %d/s' % CLUSTER_PACED, many, 'far_p99_us')
        targets.append(('cluster: cross-node p99 ≤ 5 ms (paced %d lines/s)' % CLUSTER_PACED,
                        '%s µs' % fmt(p), p is not None and p <= 5000))
    if 'startup' in PLAN:
        L.append('\n### Start-up (exec to READY=1, and to the first connection answered)\n')
        L.append('| server | READY=1 ms | first answer ms |')
        L.append('|---|---|---|')
        for name in ('pichat', 'ref-thread', 'ref-epoll', 'python-thread', 'xinetd', 'ngircd'):
            r = med('startup', '', name, 'ready_ms')
            L.append('| %s | %s | %s |' % (name, fmt(r, 1) if r and r > 0 else '—',
                                          fmt(med('startup', '', name, 'served_ms'), 1)))
        r = med('startup', '', 'pichat', 'ready_ms')
        targets.append(('start-up: exec to READY=1 ≤ 20 ms', '%s ms' % fmt(r, 1),
                        r is not None and 0 < r <= 20))
    L.append('\n### Targets\n')
    L.append('| target | measured | |')
    L.append('|---|---|---|')
    for t, v, ok in targets:
        L.append('| %s | %s | %s |' % (t, v, verdict(ok)))
    return '\n'.join(L) + '\n'


def setting():
    """The command, the commit, the machine and where each side ran."""
    try:
        commit = subprocess.check_output(['git', '-C', HERE, 'describe', '--always', '--dirty'],
                                         stderr=subprocess.DEVNULL).decode().strip()
    except (OSError, subprocess.CalledProcessError):
        commit = 'unknown'
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            model = next((l.split(':', 1)[1].strip() for l in f if l.startswith('model name')), '')
    except OSError:
        pass
    where = ('the load generator on CPU %d, every server (with all its threads and children) '
             'on CPU %d (sched_setaffinity, as `taskset -c`)' % (GEN_CPU, SERVER_CPU)
             if GEN_CPU is not None else 'the generator and the servers wherever the kernel '
             'puts them (--placement shared, or one CPU only)')
    return ('`tests/bench/drive.py %s` (from tests/bench/run) at commit %s; %s, %d CPUs, Linux %s; %s.' % (
        ' '.join(sys.argv[1:]), commit, model or 'unknown CPU', os.cpu_count(),
        os.uname().release, where))


def main():
    steps = {'echo': run_echo, 'idle': run_idle, 'chat': run_chat, 'udp': run_udp,
             'startup': run_startup, 'web': run_web, 'tls': run_tls, 'cluster': run_cluster}
    try:
        for s in PLAN:
            if time.monotonic() - T0 > BUDGET:
                log('time budget used up: skipping %s' % s)
                continue
            log('--- %s' % s)
            steps[s]()
    finally:
        text = report()
        head = '## pichat benchmark, %s\n\n%s\n\n' % (time.strftime('%Y-%m-%d %H:%M'), setting())
        with open(args.out, 'w') as f:
            f.write(head + text)
        print(head + text)
        log('results written to %s (total %.0f s)' % (args.out, time.monotonic() - T0))
        shutil.rmtree(WORK, ignore_errors=True)


main()
