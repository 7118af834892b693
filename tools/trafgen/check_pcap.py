#!/usr/bin/env python3
"""Test of peregrine-trafgen --pcap-out/--pcap-register (meson test trafgen-pcap): writes both
files for N clients and checks them with an independent reader: classic pcap, Ethernet, every
frame IPv4/UDP to the engine with valid checksums, one Register Client per client (IDs
base..base+N-1, each from its own endpoint), and the traffic of the requested mode.

    check_pcap.py TRAFGEN_BINARY
"""
import os
import struct
import subprocess
import sys
import tempfile

N, COUNT, BASE = 1234, 3000, 1


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def frames(path):
    d = open(path, 'rb').read()
    magic, _, _, _, _, snap, link = struct.unpack('<IHHiIII', d[:24])
    assert magic == 0xa1b2c3d4 and link == 1, 'not a classic Ethernet pcap'
    off = 24
    while off < len(d):
        _, _, caplen, length = struct.unpack('<IIII', d[off:off + 16])
        assert caplen == length
        yield d[off + 16:off + 16 + caplen]
        off += 16 + caplen


def udp_payload(f):
    assert f[0:6] == bytes.fromhex('020000000001'), 'destination MAC'
    assert f[12:14] == b'\x08\x00'
    ip = f[14:34]
    assert ip[0] == 0x45 and ip[9] == 17
    assert csum(ip) == 0xffff, 'IPv4 checksum'
    tot = struct.unpack('!H', ip[2:4])[0]
    assert ip[16:20] == bytes([198, 18, 0, 1])
    udp = f[34:14 + tot]
    sport, dport, ulen, uc = struct.unpack('!HHHH', udp[:8])
    assert dport == 7100 and ulen == len(udp)
    pseudo = ip[12:20] + struct.pack('!BBH', 0, 17, ulen)
    assert uc != 0 and csum(pseudo + udp) == 0xffff, 'UDP checksum'
    assert len(f) == max(60, 14 + tot)
    return (ip[12:16], sport), udp[8:]


def main(trafgen):
    with tempfile.TemporaryDirectory() as tmp:
        reg, traffic = os.path.join(tmp, 'reg.pcap'), os.path.join(tmp, 'fwd.pcap')
        cmd = [trafgen, '-l', '0', '--no-pci', '--no-huge', '-m', '128', '--no-shconf', '--no-telemetry',
               '--log-level=*:error', '--file-prefix=tgpcap%d' % os.getpid(), '--',
               '--addr', '198.18.0.1', '--dst-mac', '02:00:00:00:00:01', '--clients', str(N),
               '--ports-per-ip', '1000', '--heartbeat-pct', '50', '--unknown-pct', '50', '--payload', '0-1400',
               '--pcap-register', reg, '--pcap-out', traffic, '--pcap-count', str(COUNT)]
        subprocess.run(cmd, check=True, timeout=60)
        ids, endpoints = set(), set()
        for f in frames(reg):
            ep, p = udp_payload(f)
            assert len(p) == 5 and p[0] == 0x00, 'Register Client'
            ids.add(struct.unpack('<I', p[1:5])[0])
            endpoints.add(ep)
        assert ids == set(range(BASE, BASE + N)), 'one registration per client ID'
        assert len(endpoints) == N, 'each client from its own endpoint'
        kinds = {'hb': 0, 'msg': 0, 'unknown': 0}
        n = 0
        for f in frames(traffic):
            ep, p = udp_payload(f)
            assert ep in endpoints, 'traffic from a registered client'
            n += 1
            if p == b'\x04':
                kinds['hb'] += 1
                continue
            assert p[0] == 0x02 and 5 <= len(p) <= 1405, 'Individual Message'
            to = struct.unpack('<I', p[1:5])[0]
            if BASE <= to < BASE + N:
                kinds['msg'] += 1
            else:
                assert BASE + N <= to < BASE + 2 * N, 'unknown IDs follow the registered ones'
                kinds['unknown'] += 1
            if len(p) >= 21:
                assert p[17:21] == b'PGTG', 'timestamp stamp magic'
        assert n == COUNT, '%d frames, expected %d' % (n, COUNT)
        for k, v in kinds.items():  # 50 % heartbeats, 25 % each kind of message
            want = COUNT / 2 if k == 'hb' else COUNT / 4
            assert abs(v - want) < COUNT * 0.05, '%s: %d of %d' % (k, v, COUNT)
        print('trafgen pcap: %d registrations, %d frames %s: OK' % (len(ids), n, kinds))


if __name__ == '__main__':
    main(sys.argv[1])
