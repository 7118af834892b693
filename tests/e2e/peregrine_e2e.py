"""Harness for Peregrine's end-to-end suite (Python 3 standard library only).

Each test case starts the real ``peregrine`` binary (path in $PEREGRINE) on a ``net_tap`` wire
device, waits for ``peregrine: ready`` on its stdout, moves the wire TAP into a network
namespace of its own with 198.18.0.0/15 addresses, and talks to the engine from sockets that
live in that namespace (created after ``setns``; the original namespace is restored at once).
Counters come from the engine's DPDK telemetry socket, read directly (SOCK_SEQPACKET).

Everything a case creates has a unique name (file prefix, wire TAP, exception TAP, namespace,
subnet), so cases never see each other, nor other users of the machine. Teardown sends SIGTERM,
asserts exit code 0 and that both TAPs are gone, deletes the namespace and the runtime
directory; a cleanup that runs even when the test failed kills whatever is left.
"""

import contextlib
import ctypes
import ipaddress
import itertools
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_EXE = os.path.join(HERE, '..', '..', 'build', 'src', 'peregrine')
RUNTIME_DIR = '/var/run/dpdk'
ROUTER_PORT = 7100
READY_LINE = 'peregrine: ready'

# ---------------------------------------------------------------------------------------------
# Router protocol (shared/specs/router-protocol.md; Client ID little-endian per NOTES.md)

REGISTER = 0x00
REGISTER_RESPONSE = 0x01
MESSAGE = 0x02
UNKNOWN_RECIPIENT = 0x03
HEARTBEAT = 0x04
HEARTBEAT_RESPONSE = 0x05
MAX_PAYLOAD = 1400


def pkt_register(cid):
    return bytes([REGISTER]) + struct.pack('<I', cid)


def pkt_message(cid, payload=b''):
    return bytes([MESSAGE]) + struct.pack('<I', cid) + payload


def pkt_unknown(cid):
    return bytes([UNKNOWN_RECIPIENT]) + struct.pack('<I', cid)


PKT_HEARTBEAT = bytes([HEARTBEAT])
PKT_REGISTER_RESPONSE = bytes([REGISTER_RESPONSE])
PKT_HEARTBEAT_RESPONSE = bytes([HEARTBEAT_RESPONSE])


# ---------------------------------------------------------------------------------------------
# Environment

def exe_path():
    return os.path.abspath(os.environ.get('PEREGRINE') or DEFAULT_EXE)


def skip_reason():
    """Why this machine cannot run the suite, or None. Meson treats exit code 77 as a skip."""
    if os.geteuid() != 0:
        return 'needs root (network namespaces and TAP devices)'
    if not os.path.exists('/dev/net/tun'):
        return '/dev/net/tun is missing (modprobe tun)'
    if shutil.which('ip') is None:
        return 'iproute2 (ip) is not installed'
    if not os.access(exe_path(), os.X_OK):
        return 'peregrine binary not found at %s (set $PEREGRINE)' % exe_path()
    return None


def main():
    """unittest.main() for a test file, with a skip exit code when the machine cannot run it."""
    why = skip_reason()
    if why:
        print('SKIP: ' + why)
        sys.exit(77)
    unittest.main(verbosity=2)


def run(cmd, check=True, timeout=30, **kw):
    """Runs a command (a list), returns CompletedProcess with text output."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise RuntimeError('%s -> exit %d\nstdout: %s\nstderr: %s' %
                           (' '.join(cmd), p.returncode, p.stdout.strip(), p.stderr.strip()))
    return p


def iface_exists(name, netns=None):
    if netns is None:
        return os.path.exists('/sys/class/net/' + name)
    return run(['ip', '-n', netns, 'link', 'show', 'dev', name], check=False).returncode == 0


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def in_netns(name):
    """Runs the body in network namespace `name` (this thread only), then switches back.

    Sockets created inside stay in that namespace for their whole life."""
    with open('/proc/thread-self/ns/net', 'rb') as orig, open('/var/run/netns/' + name, 'rb') as ns:
        if _libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, 'setns(%s): %s' % (name, os.strerror(e)))
        try:
            yield
        finally:
            if _libc.setns(orig.fileno(), CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                # Carrying on in the wrong namespace would make every later result a lie.
                os.write(2, ('FATAL: cannot return to the original netns: %s\n' % os.strerror(e)).encode())
                os._exit(3)


# ---------------------------------------------------------------------------------------------
# Telemetry

class Telemetry:
    """Client of the DPDK telemetry v2 socket: banner on connect, then one JSON reply per command."""

    def __init__(self, prefix):
        self.path = os.path.join(RUNTIME_DIR, prefix, 'dpdk_telemetry.v2')
        self.sock = None
        self.banner = None

    def connect(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(5.0)
            try:
                s.connect(self.path)
                self.banner = json.loads(s.recv(16384).decode())
                self.sock = s
                return self.banner
            except (OSError, ValueError):
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def query(self, cmd):
        """Returns the JSON value of the reply to cmd (e.g. '/peregrine/router/client,5')."""
        for attempt in (0, 1):
            if self.sock is None:
                self.connect()
            try:
                self.sock.send(cmd.encode())
                raw = self.sock.recv(1 << 20)
                if not raw:
                    raise ConnectionError('telemetry socket closed')
                reply = json.loads(raw.decode())
                if not isinstance(reply, dict) or len(reply) != 1:
                    raise ValueError('unexpected telemetry reply to %s: %r' % (cmd, reply))
                return next(iter(reply.values()))
            except (OSError, ConnectionError):
                self.close()
                if attempt:
                    raise

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


# ---------------------------------------------------------------------------------------------
# Router client over a socket in the namespace

class RouterClient:
    def __init__(self, sock, server):
        self.sock = sock
        self.server = server
        self.addr = sock.getsockname()
        self.strays = []  # datagrams from anyone but the router

    def send(self, data):
        self.sock.sendto(data, self.server)

    def recv(self, timeout=2.0):
        """Next datagram from the router, or None after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            if src == self.server:
                return data
            self.strays.append((src, data))

    def drain(self, wait=0.0):
        """Everything that arrives within `wait` seconds (or is already queued)."""
        out = []
        while True:
            d = self.recv(wait if wait > 0 else 0.001)
            if d is None:
                return out
            out.append(d)

    def request(self, data, timeout=2.0):
        self.send(data)
        return self.recv(timeout)

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# One engine on a TAP wire, with its namespace

_seq = itertools.count()


def _pick_subnet(tag_num):
    """A /24 in 198.18.0.0/15 that no route in the root namespace uses yet.

    Indexes 0-63 are left to people running the engine by hand (the README uses 198.18.0.0/24)."""
    used = run(['ip', '-4', 'route', 'show'], check=False).stdout
    for k in range(448):
        idx = 64 + (tag_num + k * 7) % 448
        net = ipaddress.ip_network('198.18.0.0/15')[idx * 256]
        cidr = '%s/24' % net
        if cidr not in used:
            return ipaddress.ip_network(cidr)
    raise RuntimeError('no free /24 in 198.18.0.0/15')


class Engine:
    """A running peregrine with a wire TAP moved into a namespace.

    eal: EAL lcore arguments (default '-l 0-1'); app: extra application options.
    cpu_qos: leave --control-resume-latency at its default, which sets the control lcore's CPU's
    pm_qos_resume_latency_us while the engine runs. Off otherwise: engines of tests run side by
    side share CPU 0, and one killed with SIGKILL cannot put the machine's setting back."""

    def __init__(self, eal=None, app=None, static_arp=True, hb_timeout=None, cpu_qos=False):
        n = next(_seq)
        pid = os.getpid() % 100000
        self.tag = '%05d%x' % (pid, n)
        self.prefix = 'pge2e' + self.tag
        self.wire = 'pgw' + self.tag             # the wire TAP (DPDK port 0), moved into netns
        self.tap = 'pgx' + self.tag              # the exception TAP in the root netns
        self.netns = 'pge2e' + self.tag
        self.subnet = _pick_subnet(pid * 13 + n)
        hosts = list(self.subnet.hosts())
        self.ip = str(hosts[0])                  # the engine's address
        self.client_ips = [str(h) for h in hosts[1:4]]  # addresses in the namespace
        self.ns_mac = '02:00:5e:%02x:%02x:%02x' % ((pid >> 8) & 0xff, pid & 0xff, n & 0xff)
        self.server = (self.ip, ROUTER_PORT)
        self.eal = list(eal) if eal else ['-l', '0-1']
        self.app = ([] if cpu_qos else ['--control-resume-latency', 'off']) + (list(app) if app else [])
        if hb_timeout:
            self.app += ['--heartbeat-timeout', str(hb_timeout)]
        self.static_arp = static_arp
        self.logdir = tempfile.mkdtemp(prefix='pge2e-')
        self.out_path = os.path.join(self.logdir, 'stdout')
        self.err_path = os.path.join(self.logdir, 'stderr')
        self.proc = None
        self.rc = None
        self.tel = Telemetry(self.prefix)
        self.sockets = []
        self.port_mac = None
        self.listeners = []

    # -- command line, logs

    def command(self):
        return ([exe_path()] + self.eal +
                ['--no-pci', '--no-huge', '-m', '512', '--file-prefix=' + self.prefix,
                 '--vdev=net_tap0,iface=' + self.wire, '--',
                 '--addr', '0:%s/%d' % (self.ip, self.subnet.prefixlen), '--tap-name', self.tap] +
                # The default million sessions (~200 MiB) does not fit -m 512 beside the default
                # registry; a test's own --max-sessions (in app, later) wins.
                ['--max-sessions', '65536'] +
                self.app)

    def _read(self, path):
        try:
            with open(path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def stdout(self):
        return self._read(self.out_path)

    def stderr(self):
        return self._read(self.err_path)

    def context(self, lines=25):
        """The engine's command and the tail of its output, for failure messages."""
        err = self.stderr().splitlines()[-lines:]
        out = self.stdout().splitlines()[-8:]
        state = ('running (pid %d)' % self.proc.pid if self.proc and self.proc.poll() is None
                 else 'exited with %r' % (self.proc.returncode if self.proc else None))
        return ('--- engine: %s\n--- command: %s\n--- stdout tail:\n%s\n--- stderr tail:\n%s\n---' %
                (state, ' '.join(self.command()), '\n'.join(out), '\n'.join(err)))

    # -- life cycle

    def start(self, ready_timeout=30.0):
        with open(self.out_path, 'wb') as out, open(self.err_path, 'wb') as err:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         close_fds=True)
        deadline = time.monotonic() + ready_timeout
        while READY_LINE not in self.stdout():
            if self.proc.poll() is not None:
                raise RuntimeError('peregrine exited with %d before "%s"\n%s' %
                                   (self.proc.returncode, READY_LINE, self.context()))
            if time.monotonic() > deadline:
                raise RuntimeError('peregrine not ready after %.0f s\n%s' % (ready_timeout, self.context()))
            time.sleep(0.05)
        self.tel.connect()
        ports = self.tel.query('/peregrine/ports')
        self.port_mac = ports['0']['mac'].lower()
        if ports['0']['tap'] != self.tap:
            raise RuntimeError('telemetry says the exception TAP is %r, expected %r' % (ports['0']['tap'], self.tap))
        if not iface_exists(self.tap):
            raise RuntimeError('exception TAP %s missing after ready\n%s' % (self.tap, self.context()))
        self._setup_netns()

    def _setup_netns(self):
        ns, w = self.netns, self.wire
        run(['ip', 'netns', 'add', ns])
        run(['ip', 'link', 'set', 'dev', w, 'netns', ns])
        # A MAC of its own: net_tap gives the kernel side the port's MAC, which no real peer has.
        run(['ip', '-n', ns, 'link', 'set', 'dev', w, 'address', self.ns_mac])
        for ip in self.client_ips:
            run(['ip', '-n', ns, 'addr', 'add', '%s/%d' % (ip, self.subnet.prefixlen), 'dev', w])
        run(['ip', '-n', ns, 'link', 'set', 'dev', w, 'up'])
        run(['ip', '-n', ns, 'link', 'set', 'dev', 'lo', 'up'])
        if self.static_arp:
            # Router cases do not depend on the exception path answering ARP (its own case tests that).
            run(['ip', '-n', ns, 'neigh', 'replace', self.ip, 'lladdr', self.port_mac, 'dev', w, 'nud', 'permanent'])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Signals the engine and waits; returns its exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.rc = None
                return None
        self.rc = self.proc.returncode
        return self.rc

    def destroy(self):
        """Best-effort cleanup of everything this engine made; safe to call twice."""
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.close()
        self.sockets = []
        for l in self.listeners:
            with contextlib.suppress(OSError):
                l.close()
        self.listeners = []
        self.tel.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if os.path.exists('/var/run/netns/' + self.netns):
            run(['ip', 'netns', 'del', self.netns], check=False)
        shutil.rmtree(os.path.join(RUNTIME_DIR, self.prefix), ignore_errors=True)
        shutil.rmtree(self.logdir, ignore_errors=True)

    # -- traffic

    def udp_socket(self, ip=None, port=0, rcvbuf=None):
        """A UDP socket in the namespace, bound to ip (default: the first client address)."""
        with in_netns(self.netns):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.bind((ip or self.client_ips[0], port))
        self.sockets.append(s)
        return s

    def client(self, ip=None, port=0):
        return RouterClient(self.udp_socket(ip, port), self.server)

    def tcp_socket(self):
        with in_netns(self.netns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sockets.append(s)
        return s

    def ns_run(self, cmd, check=True, timeout=30):
        return run(['ip', 'netns', 'exec', self.netns] + cmd, check=check, timeout=timeout)

    # -- telemetry shortcuts

    def query(self, cmd):
        return self.tel.query(cmd)

    def stats(self):
        return self.query('/peregrine/stats')

    def drops(self):
        return self.query('/peregrine/drops')

    def router(self):
        return self.query('/peregrine/router')

    def client_info(self, cid):
        return self.query('/peregrine/router/client,%d' % cid)

    def mbufs_in_use(self):
        return self.stats()['mbufs_in_use']

    def settled_mbufs(self, settle=0.3):
        """mbufs in use once no packet is in flight: the lowest of a few reads."""
        vals = []
        end = time.monotonic() + settle
        while True:
            vals.append(self.mbufs_in_use())
            if time.monotonic() >= end:
                return min(vals)
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# Test base class

def wait_for(pred, timeout, interval=0.05):
    """Polls pred() until it returns something truthy; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


class EngineTestCase(unittest.TestCase):
    """Starts one engine per test (with the class's ENGINE_ARGS), checks mbufs and a clean exit after it."""

    ENGINE_ARGS = {}
    CHECK_LEAK = True
    LEAK_TIMEOUT = 3.0

    def setUp(self):
        self.eng = Engine(**self.ENGINE_ARGS)
        self.addCleanup(self.eng.destroy)
        self.eng.start()
        self.mbuf_baseline = self.eng.settled_mbufs()

    def tearDown(self):
        eng = self.eng
        failed = self._has_failed()
        try:
            if self.CHECK_LEAK and eng.alive():
                last = wait_for(lambda: (lambda v: v if v <= self.mbuf_baseline else None)(eng.mbufs_in_use()),
                                self.LEAK_TIMEOUT)
                if last is None:
                    self.fail('mbuf leak: %d mbufs in use %.0f s after the scenario, %d right after start' %
                              (eng.mbufs_in_use(), self.LEAK_TIMEOUT, self.mbuf_baseline))
            self.assert_clean_exit(eng)
        finally:
            if failed:
                sys.stderr.write('\n%s\n' % eng.context(40))

    def _has_failed(self):
        """Whether the test body already failed or raised (results are recorded before tearDown)."""
        result = getattr(getattr(self, '_outcome', None), 'result', None)
        if result is None:
            return False
        recorded = list(getattr(result, 'errors', [])) + list(getattr(result, 'failures', []))
        return any(t is self or getattr(t, 'test_case', None) is self for t, _ in recorded)

    def assert_clean_exit(self, eng):
        self.assertTrue(eng.alive(), 'engine died during the test')
        eng.tel.close()
        rc = eng.stop(signal.SIGTERM)
        self.assertIsNotNone(rc, 'engine did not exit within 20 s of SIGTERM (killed)')
        self.assertEqual(rc, 0, 'engine exit code after SIGTERM')
        self.assertFalse(iface_exists(eng.tap), 'exception TAP %s still exists after exit' % eng.tap)
        self.assertFalse(iface_exists(eng.wire, eng.netns), 'wire TAP %s still exists after exit' % eng.wire)

    # Every assertion failure carries the engine's output.
    def _formatMessage(self, msg, standardMsg):
        base = super()._formatMessage(msg, standardMsg)
        eng = getattr(self, 'eng', None)
        return base + ('\n' + eng.context() if eng is not None else '')

    def fail(self, msg=None):
        eng = getattr(self, 'eng', None)
        if eng is not None and '--- engine:' not in str(msg):
            msg = '%s\n%s' % (msg, eng.context())
        super().fail(msg)

    # -- router helpers

    def register(self, c, cid):
        reply = c.request(pkt_register(cid))
        self.assertEqual(reply, PKT_REGISTER_RESPONSE,
                         'Register Client %#x from %s:%d: expected 0x01' % (cid, *c.addr))
        return reply

    def heartbeat_ok(self, c, what=''):
        reply = c.request(PKT_HEARTBEAT)
        self.assertEqual(reply, PKT_HEARTBEAT_RESPONSE,
                         'Heartbeat from %s:%d %s: expected 0x05' % (*c.addr, what))

    def assert_silent(self, c, wait=0.5, what=''):
        got = c.drain(wait)
        self.assertEqual(got, [], 'expected no reply %s, got %r' % (what, got))

    def assert_port_goes_to_kernel(self, port, payload, telemetry):
        """A protocol turned off: a datagram to its port reaches a kernel socket on the engine's
        address untouched, is counted as udp_other_port, and its telemetry answers null."""
        eng = self.eng
        eng.ns_run(['ping', '-c', '1', '-W', '3', eng.ip], check=False)  # resolve ARP first
        srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        eng.listeners.append(srv)
        srv.bind((eng.ip, port))
        srv.settimeout(5)
        before = eng.query('/peregrine/exceptions')['udp_other_port']
        c = eng.udp_socket()
        c.settimeout(5)
        c.sendto(payload, (eng.ip, port))
        data, _ = srv.recvfrom(2048)
        self.assertEqual(data, payload, 'the kernel socket got the datagram untouched')
        self.assertEqual(eng.query('/peregrine/exceptions')['udp_other_port'] - before, 1)
        self.assertIsNone(eng.query(telemetry), 'the module is off: %s says so' % telemetry)

    def drop_delta(self, before, after):
        return {k: after[k] - before[k] for k in after if after[k] != before.get(k)}
