#!/usr/bin/env python3
"""RUDP client for Peregrine, written from docs/protocols/rudp.md (Python standard library and
Debian's python3-cryptography; nothing of the engine's C++).

Wire format: header [version<<4|type][flags][seq:16] then, when flagged, [fragment id][fragment
number] (FRAG), [init vector:16] (ENCRYPTED), [CRC-32:32] (CHECKSUM), all big-endian; a body of
at most 988 bytes. Flags RELIABLE 0x80, CHECKSUM 0x40, COMPRESSED 0x20, ENCRYPTED 0x10, FRAG 0x08
apply to the whole message in that order: CRC-32 of the plaintext, raw deflate, AES-128-GCM (tag
at the end, nonce = salt || 0^4 || init vector || base sequence ID, associated data = the header
as fragment 0 carries it), then fragmentation (consecutive sequence IDs).

By hand (where the engine's address is reachable, e.g. `ip netns exec pgdemo ...`):
  rudp_client.py --server 198.18.99.1 send 'hello' --flags reliable,checksum,encrypted
  rudp_client.py --server 198.18.99.1 ping
Traffic generator:
  rudp_client.py --server 198.18.99.1 load --clients 8 --rate 2000 --duration 10 --size 200
    N connections send echo requests at --rate per second in total with --flags; every second
    it prints sent/echoed per second and the round-trip latency (p50/p99/max). Exit status 1 if
    more than --max-loss percent went unanswered.
"""

import argparse
import os
import selectors
import socket
import struct
import sys
import time
import zlib

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography import x509

DEFAULT, ACK, AUTH, HEARTBEAT, ERROR = range(5)
TYPE_NAMES = {DEFAULT: 'DEFAULT', ACK: 'ACK', AUTH: 'AUTH', HEARTBEAT: 'HEARTBEAT', ERROR: 'ERROR'}
RELIABLE, CHECKSUM, COMPRESSED, ENCRYPTED, FRAG = 0x80, 0x40, 0x20, 0x10, 0x08
FLAG_NAMES = {'reliable': RELIABLE, 'checksum': CHECKSUM, 'compressed': COMPRESSED,
              'encrypted': ENCRYPTED, 'frag': FRAG}
MAX_BODY = 988
MAX_DATAGRAM = 1000
TAG = 16
PING, PONG = 0, 1
HKDF_INFO = b'peregrine rudp v0'
ERROR_NAMES = {
    0x10: 'CONNECTION', 0x11: 'NO SPACE', 0x12: 'CERTIFICATE INVALID', 0x13: 'FINISH INVALID',
    0x20: 'DISCONNECT', 0x21: 'SERVER DISCONNECT', 0x22: 'CLIENT DISCONNECT',
    0x30: 'PACKET', 0x31: 'VERSION', 0x32: 'PACKET TYPE', 0x33: 'FLAGS', 0x34: 'SEQUENCE ID',
    0x35: 'FRAGMENT ID', 0x36: 'FRAGMENT NUMBER', 0x37: 'INIT VECTOR', 0x38: 'COMPRESSION',
    0x39: 'CHECKSUM'}


class RudpError(Exception):
    pass


def header_len(flags):
    return 4 + (2 if flags & FRAG else 0) + (2 if flags & ENCRYPTED else 0) + (4 if flags & CHECKSUM else 0)


def pack_header(ptype, flags, seq, frag_id=0, frag_count=0, iv=0, crc=0, version=0):
    h = bytes([(version << 4) | ptype, flags]) + struct.pack('>H', seq & 0xffff)
    if flags & FRAG:
        h += bytes([frag_id, frag_count])
    if flags & ENCRYPTED:
        h += struct.pack('>H', iv)
    if flags & CHECKSUM:
        h += struct.pack('>I', crc)
    return h


class Header:
    def __init__(self, raw):
        if len(raw) < 4:
            raise RudpError('datagram of %d bytes' % len(raw))
        self.version, self.type, self.flags = raw[0] >> 4, raw[0] & 15, raw[1]
        (self.seq,) = struct.unpack_from('>H', raw, 2)
        off = 4
        self.frag_id = self.frag_count = self.iv = self.crc = 0
        if self.flags & FRAG:
            self.frag_id, self.frag_count = raw[off], raw[off + 1]
            off += 2
        if self.flags & ENCRYPTED:
            (self.iv,) = struct.unpack_from('>H', raw, off)
            off += 2
        if self.flags & CHECKSUM:
            (self.crc,) = struct.unpack_from('>I', raw, off)
            off += 4
        if len(raw) < off:
            raise RudpError('header cut short')
        self.len = off
        self.body = raw[off:]

    def base_seq(self):
        return (self.seq - self.frag_id) & 0xffff

    def aad(self):
        return pack_header(self.type, self.flags, self.base_seq(), 0, self.frag_count, self.iv, self.crc)


def deflate(data):
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def inflate(data, limit):
    d = zlib.decompressobj(-15)
    out = d.decompress(data, limit)
    if d.unconsumed_tail or not d.eof or d.unused_data:
        raise RudpError('bad deflate stream')
    return out


def nonce(salt, counter):
    return salt + b'\0\0\0\0' + struct.pack('>I', counter & 0xffffffff)


def derive(shared, client_pub, server_pub):
    k = HKDF(hashes.SHA256(), 104, client_pub + server_pub, HKDF_INFO).derive(shared)
    return {'c2s_key': k[0:16], 's2c_key': k[16:32], 'c2s_salt': k[32:36], 's2c_salt': k[36:40],
            'c_fin': k[40:72], 's_fin': k[72:104]}


def mac(key, data):
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def sha256(*parts):
    h = hashes.Hash(hashes.SHA256())
    for p in parts:
        h.update(p)
    return h.finalize()


def sign(key, th):
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(th)
    return key.sign(th, ec.ECDSA(hashes.SHA256()))


def verify(cert, sig, th):
    pub = cert.public_key()
    if isinstance(pub, ed25519.Ed25519PublicKey):
        pub.verify(sig, th)
    else:
        pub.verify(sig, th, ec.ECDSA(hashes.SHA256()))


class Message:
    """A received message, its flags undone."""
    def __init__(self, h, body):
        self.type, self.flags, self.seq, self.body = h.type, h.flags, h.seq, body
        self.ack_id = self.ack_bits = self.code = self.beat = None
        self.data = body
        if h.type == ACK and len(body) >= 4:
            self.ack_id, self.ack_bits = struct.unpack_from('>HH', body)
            self.data = body[4:]
        elif h.type == HEARTBEAT and body:
            self.beat, self.data = body[0], body[1:]
        elif h.type == ERROR and body:
            self.code, self.data = body[0], body[1:]

    def __repr__(self):
        s = '%s seq %d flags 0x%02x' % (TYPE_NAMES.get(self.type, self.type), self.seq, self.flags)
        if self.code is not None:
            s += ' %d/%d %s' % (self.code >> 4, self.code & 15, ERROR_NAMES.get(self.code, '?'))
        if self.ack_id is not None:
            s += ' ack %d bits 0x%04x' % (self.ack_id, self.ack_bits)
        return s + ' (%d bytes)' % len(self.data)


class RudpClient:
    def __init__(self, sock, server, cert_pem=None, key_pem=None, server_ca=None):
        self.sock, self.server = sock, server
        self.next_seq = 0          # our full sequence number
        self.keys = None
        self.server_top = -1       # highest full sequence number seen from the server
        self.cert = x509.load_pem_x509_certificate(cert_pem) if cert_pem else None
        self.cert_key = serialization.load_pem_private_key(key_pem, None) if key_pem else None
        self.server_ca = server_ca  # an x509 CA certificate the server's must be signed by
        self.server_cert = None
        self.frags = {}            # base full seq -> {frag_id: bytes}
        self.auto_ack = True       # acknowledge every RELIABLE datagram the server sends
        self.delivered = set()     # full sequence numbers of server messages already delivered
        self.acks_sent = 0

    # ---- sending ----
    def take(self, n=1):
        s = self.next_seq
        self.next_seq += n
        return s

    def build(self, ptype, body, flags, force_compress=False, seq=None):
        """Datagrams carrying one message (several when it needs FRAG, which is then added)."""
        crc = zlib.crc32(body) if flags & CHECKSUM else 0
        plain_len = len(body)
        if flags & COMPRESSED:
            z = deflate(body)
            if len(z) < len(body) or force_compress:
                body = z
            else:
                flags &= ~COMPRESSED
        room = MAX_BODY
        total = len(body) + (TAG if flags & ENCRYPTED else 0)
        # A datagram's body, and its plaintext once inflated, hold at most 988 bytes.
        if total > room or plain_len > room or flags & FRAG:
            flags |= FRAG
            count = max(2, -(-total // room))
            if count > 255:
                raise RudpError('message of %d bytes needs %d fragments' % (len(body), count))
        else:
            count = 0
        base = self.take(max(count, 1)) if seq is None else seq
        iv = (base >> 16) & 0xffff
        if flags & ENCRYPTED:
            if not self.keys:
                raise RudpError('not connected')
            aad = pack_header(ptype, flags, base, 0, count, iv, crc)
            body = AESGCM(self.keys['c2s_key']).encrypt(nonce(self.keys['c2s_salt'], base), body, aad)
        if not count:
            return [pack_header(ptype, flags, base, 0, 0, iv, crc) + body]
        size = -(-len(body) // count)
        out = []
        for i in range(count):
            out.append(pack_header(ptype, flags, base + i, i, count, iv, crc) + body[i * size:(i + 1) * size])
        return out

    def send_raw(self, raw):
        self.sock.sendto(raw, self.server)

    def send(self, ptype, body, flags=0, **kw):
        dgrams = self.build(ptype, body, flags, **kw)
        for d in dgrams:
            self.send_raw(d)
        return dgrams

    # ---- receiving ----
    def decode(self, raw):
        """A Message, or None while fragments are missing or for a duplicate of a message already
        delivered (the server sends RELIABLE frames again until acknowledged). Raises RudpError
        when a check fails."""
        h = Header(raw)
        if h.flags & ENCRYPTED:
            full = (h.iv << 16) | h.base_seq()
        else:
            full = self.extend(h.seq) - h.frag_id
        if h.flags & RELIABLE and self.auto_ack and self.keys:
            self.send_raw(self.build(ACK, struct.pack('>HH', h.seq, 0), h.flags & ENCRYPTED)[0])
            self.acks_sent += 1
        if h.flags & RELIABLE and full in self.delivered:
            return None
        body = h.body
        if h.flags & FRAG:
            parts = self.frags.setdefault(full, {})
            parts[h.frag_id] = body
            if len(parts) < h.frag_count:
                return None
            body = b''.join(parts[i] for i in range(h.frag_count))
            del self.frags[full]
        if h.flags & ENCRYPTED:
            if not self.keys:
                raise RudpError('encrypted packet before the handshake')
            body = AESGCM(self.keys['s2c_key']).decrypt(nonce(self.keys['s2c_salt'], full), body, h.aad())
        if h.flags & COMPRESSED:
            body = inflate(body, 255 * MAX_BODY)
        if h.flags & CHECKSUM and zlib.crc32(body) != h.crc:
            raise RudpError('CRC-32 mismatch')
        self.server_top = max(self.server_top, full + max(h.frag_count, 1) - 1)
        if h.flags & RELIABLE:
            self.delivered.add(full)
        return Message(h, body)

    def extend(self, seq):
        expected = self.server_top + 1
        c = (expected & ~0xffff) | seq
        if c + 0x8000 <= expected:
            c += 0x10000
        elif c > expected + 0x8000 and c >= 0x10000:
            c -= 0x10000
        return c

    def recv_raw(self, timeout=1.0):
        self.sock.settimeout(timeout)
        end = time.monotonic() + timeout
        try:
            while True:
                data, src = self.sock.recvfrom(65535)
                if src == self.server:
                    return data
                self.sock.settimeout(max(0.001, end - time.monotonic()))
        except socket.timeout:
            return None

    def recv(self, timeout=1.0):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            raw = self.recv_raw(left)
            if raw is None:
                return None
            m = self.decode(raw)
            if m is not None:
                return m

    def drain(self, wait=0.3):
        out = []
        while True:
            m = self.recv(wait)
            if m is None:
                return out
            out.append(m)

    # ---- the handshake ----
    def auth_packet(self, pad_to=None, flags=RELIABLE, seq=None):
        """Our AUTH, padded with zeros to pad_to bytes (default: the largest datagram the flags allow)."""
        self.eph = x25519.X25519PrivateKey.generate()
        self.pub = self.eph.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        der = self.cert.public_bytes(serialization.Encoding.DER) if self.cert else b''
        body = bytes([0, 32]) + self.pub + struct.pack('>H', len(der)) + der
        hl = header_len(flags)
        if pad_to is None:
            pad_to = hl + MAX_BODY
        body += b'\0' * max(0, pad_to - hl - len(body))
        crc = zlib.crc32(body) if flags & CHECKSUM else 0
        s = self.take() if seq is None else seq
        self.auth_seq = s
        self.auth_raw = pack_header(AUTH, flags, s, crc=crc) + body
        return self.auth_raw

    def connect(self, timeout=2.0, pad_to=None, flags=RELIABLE, tamper=None, tries=3):
        """Handshake. tamper(name, bytes) -> bytes may alter 'server_auth' or 'finished' (tests)."""
        for _ in range(tries):
            self.next_seq = 0
            self.server_top = -1
            self.keys = None
            self.send_raw(self.auth_packet(pad_to, flags))
            got_auth = got_ack = None
            end = time.monotonic() + timeout
            while (got_auth is None or got_ack is None) and time.monotonic() < end:
                raw = self.recv_raw(end - time.monotonic())
                if raw is None:
                    break
                h = Header(raw)
                if h.type == AUTH:
                    got_auth = raw
                elif h.type == ACK:
                    got_ack = raw
                elif h.type == ERROR:
                    m = Message(h, h.body)
                    raise RudpError('handshake refused: ERROR %d/%d %s%s' % (
                        m.code >> 4, m.code & 15, ERROR_NAMES.get(m.code, '?'),
                        ' (needs %d bytes)' % struct.unpack('>H', m.data)[0] if len(m.data) == 2 else ''))
            if got_auth is None or got_ack is None:
                continue
            if tamper:
                got_auth = tamper('server_auth', got_auth)
            return self.finish(got_auth, got_ack, tamper)
        raise RudpError('no answer to AUTH')

    def finish(self, auth_raw, ack_raw, tamper=None):
        h = Header(auth_raw)
        if h.flags & CHECKSUM and zlib.crc32(h.body) != h.crc:
            raise RudpError('server AUTH CRC')
        if h.body[0] != 0 or h.body[1] != 32:
            raise RudpError('server AUTH key size %d' % h.body[1])
        server_pub = h.body[2:34]
        (clen,) = struct.unpack_from('>H', h.body, 34)
        der = h.body[36:36 + clen]
        shared = self.eph.exchange(x25519.X25519PublicKey.from_public_bytes(server_pub))
        self.pending_keys = derive(shared, self.pub, server_pub)
        th = sha256(self.auth_raw, auth_raw)
        a = Header(ack_raw)
        ack_id, _ = struct.unpack_from('>HH', a.body)
        if ack_id != self.auth_seq:
            raise RudpError('server ACK acknowledges %d, not our AUTH %d' % (ack_id, self.auth_seq))
        fin = a.body[4:36]
        if mac(self.pending_keys['s_fin'], th) != fin:
            raise RudpError('server finished does not verify')
        if der:
            self.server_cert = x509.load_der_x509_certificate(der)
            verify(self.server_cert, a.body[36:], th)
            if self.server_ca is not None:
                self.server_ca.public_key().verify(
                    self.server_cert.signature, self.server_cert.tbs_certificate_bytes,
                    ec.ECDSA(self.server_cert.signature_hash_algorithm))
        elif self.server_ca is not None:
            raise RudpError('the server presented no certificate')
        self.keys = self.pending_keys
        self.server_top = 1
        body = struct.pack('>HH', Header(auth_raw).seq, 0) + mac(self.keys['c_fin'], th)
        if self.cert_key:
            body += sign(self.cert_key, th)
        raw = pack_header(ACK, 0, self.take()) + body
        if tamper:
            raw = tamper('finished', raw)
        # The server confirms with an encrypted ACK of our finished; until then we send nothing
        # else, and send the finished again if the confirmation does not come.
        fin_seq = Header(raw).seq
        for _ in range(4):
            self.send_raw(raw)
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                r = self.recv_raw(end - time.monotonic())
                if r is None:
                    break
                h = Header(r)
                if h.type == ERROR and not h.flags & ENCRYPTED:
                    m = Message(h, h.body)
                    raise RudpError('finished refused: ERROR %d/%d %s' % (
                        m.code >> 4, m.code & 15, ERROR_NAMES.get(m.code, '?')))
                try:
                    m = self.decode(r)
                except Exception:
                    continue
                if m is not None and m.type == ACK and m.ack_id == fin_seq and m.flags & ENCRYPTED:
                    return th
        raise RudpError('no confirmation of our finished')

    def exchange_reliably(self, messages, flags=RELIABLE | ENCRYPTED, rto=0.1, timeout=30.0):
        """Sends every message RELIABLE, each datagram again every rto until the server ACKs it,
        and collects the echoes. Returns (echoes as a list of bytes, datagrams sent again)."""
        pending = {}  # sequence ID -> [datagram, last sent]
        for body in messages:
            for d in self.build(DEFAULT, body, flags | RELIABLE):
                self.send_raw(d)
                pending[Header(d).seq] = [d, time.monotonic()]
        echoes, resent = [], 0
        end = time.monotonic() + timeout
        while (pending or len(echoes) < len(messages)) and time.monotonic() < end:
            m = self.recv(rto / 2)
            if m is not None and m.type == ACK:
                pending.pop(m.ack_id, None)
                for i in range(16):
                    if m.ack_bits >> i & 1:
                        pending.pop((m.ack_id - 1 - i) & 0xffff, None)
            elif m is not None and m.type == DEFAULT:
                echoes.append(m.data)
            now = time.monotonic()
            for seq, p in pending.items():
                if now - p[1] >= rto:
                    self.send_raw(p[0])
                    p[1] = now
                    resent += 1
        return echoes, resent

    def close(self, flags=ENCRYPTED):
        self.send(ERROR, bytes([0x22]), flags)


def parse_flags(s):
    f = 0
    for name in filter(None, (s or '').split(',')):
        if name not in FLAG_NAMES:
            raise SystemExit('unknown flag %r (one of %s)' % (name, ', '.join(FLAG_NAMES)))
        f |= FLAG_NAMES[name]
    return f


def cmd_load(args):
    flags = parse_flags(args.flags)
    sel = selectors.DefaultSelector()
    clients = []
    for _ in range(args.clients):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((args.bind, 0))
        c = RudpClient(s, (args.server, args.port))
        c.connect()
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, c)
        clients.append(c)
    interval = 1.0 / args.rate
    payload = os.urandom(args.size)
    sent = echoed = 0
    pending = {}
    lat = []
    t0 = time.monotonic()
    next_send = t0
    next_report = t0 + 1
    i = 0
    s_sec = e_sec = 0
    while time.monotonic() - t0 < args.duration:
        now = time.monotonic()
        while next_send <= now:
            c = clients[i % len(clients)]
            i += 1
            tag = struct.pack('>Q', i)
            c.send(DEFAULT, tag + payload[8:] if len(payload) >= 8 else tag, flags)
            pending[i] = now
            sent += 1
            s_sec += 1
            next_send += interval
        for key, _ in sel.select(timeout=max(0, min(next_send, next_report) - time.monotonic())):
            c = key.data
            while True:
                try:
                    raw, src = c.sock.recvfrom(65535)
                except BlockingIOError:
                    break
                try:
                    m = c.decode(raw)
                except Exception:
                    continue
                if m is None or m.type != DEFAULT or len(m.data) < 8:
                    continue
                (n,) = struct.unpack_from('>Q', m.data)
                t = pending.pop(n, None)
                if t is not None:
                    echoed += 1
                    e_sec += 1
                    lat.append(time.monotonic() - t)
        if time.monotonic() >= next_report:
            ls = sorted(lat[-10000:]) or [0]
            print('sent %d/s echoed %d/s rtt p50 %.0f us p99 %.0f us max %.0f us' % (
                s_sec, e_sec, ls[len(ls) // 2] * 1e6, ls[int(len(ls) * 0.99)] * 1e6, ls[-1] * 1e6), flush=True)
            s_sec = e_sec = 0
            next_report += 1
    time.sleep(0.3)
    loss = 100.0 * (sent - echoed) / max(sent, 1)
    print('total sent %d echoed %d loss %.2f%%' % (sent, echoed, loss))
    return 1 if loss > args.max_loss else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--server', required=True)
    p.add_argument('--port', type=int, default=7400)
    p.add_argument('--bind', default='0.0.0.0')
    p.add_argument('--cert', help='client certificate (PEM)')
    p.add_argument('--key', help='its private key (PEM)')
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('send', help='connect, send one message, print what comes back')
    s.add_argument('message')
    s.add_argument('--flags', default='reliable,checksum,encrypted')
    sub.add_parser('ping', help='connect and PING')
    ld = sub.add_parser('load', help='echo load over several connections')
    ld.add_argument('--clients', type=int, default=4)
    ld.add_argument('--rate', type=float, default=1000)
    ld.add_argument('--duration', type=float, default=10)
    ld.add_argument('--size', type=int, default=64)
    ld.add_argument('--flags', default='checksum,encrypted')
    ld.add_argument('--max-loss', type=float, default=1.0)
    args = p.parse_args()
    if args.cmd == 'load':
        return cmd_load(args)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.bind, 0))
    cert = open(args.cert, 'rb').read() if args.cert else None
    key = open(args.key, 'rb').read() if args.key else None
    c = RudpClient(sock, (args.server, args.port), cert, key)
    c.connect()
    print('connected' + (' (server certificate %s)' % c.server_cert.subject.rfc4514_string() if c.server_cert else ''))
    if args.cmd == 'ping':
        c.send(HEARTBEAT, bytes([PING]), ENCRYPTED)
    else:
        c.send(DEFAULT, args.message.encode(), parse_flags(args.flags))
    for m in c.drain(0.5):
        print(m, m.data[:80])
    c.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
