#!/usr/bin/env python3
"""Hand-made frames (AF_PACKET in the namespace): checksums, bad headers and L2/L3 corner cases
reach the right drop counter or the kernel, and never get a router reply."""

import socket
import struct

from peregrine_e2e import (EngineTestCase, PKT_HEARTBEAT, main, pkt_message, pkt_register, pkt_unknown,
                           in_netns)

ETH_P_ALL = 0x0003
ROUTER_PORT = 7100


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(':'))


class Frame:
    """Ethernet + IPv4 + UDP with every field overridable."""

    def __init__(self, eng, src_port, payload, **kw):
        self.eng = eng
        self.f = dict(dst_mac=eng.port_mac, src_mac=eng.ns_mac, ethertype=0x0800, version=4, ihl=5, options=b'',
                      ttl=64, frag=0, proto=17, src_ip=eng.client_ips[0], dst_ip=eng.ip, ip_csum=None,
                      src_port=src_port, dst_port=ROUTER_PORT, udp_len=None, udp_csum=None, payload=payload,
                      truncate=None)
        self.f.update(kw)

    def bytes(self):
        f = self.f
        payload = f['payload']
        udp_len = f['udp_len'] if f['udp_len'] is not None else 8 + len(payload)
        src = socket.inet_aton(f['src_ip'])
        dst = socket.inet_aton(f['dst_ip'])
        udp = struct.pack('!HHHH', f['src_port'], f['dst_port'], udp_len, 0) + payload
        if f['udp_csum'] is None:
            pseudo = src + dst + struct.pack('!BBH', 0, 17, len(udp))
            c = csum(pseudo + udp) or 0xffff
        else:
            c = f['udp_csum']
        udp = udp[:6] + struct.pack('!H', c) + udp[8:]
        ihl = f['ihl']
        tot = ihl * 4 + len(udp)
        ip = struct.pack('!BBHHHBBH4s4s', (f['version'] << 4) | ihl, 0, tot, 0x1234, f['frag'], f['ttl'],
                         f['proto'], 0, src, dst) + f['options']
        ip_c = csum(ip) if f['ip_csum'] is None else f['ip_csum']
        ip = ip[:10] + struct.pack('!H', ip_c) + ip[12:]
        eth = mac_bytes(f['dst_mac']) + mac_bytes(f['src_mac']) + struct.pack('!H', f['ethertype'])
        frame = eth + ip + udp
        return frame[:f['truncate']] if f['truncate'] is not None else frame


class RawFrameTest(EngineTestCase):

    def setUp(self):
        super().setUp()
        eng = self.eng
        with in_netns(eng.netns):
            self.raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        eng.sockets.append(self.raw)
        self.raw.bind((eng.wire, 0))
        # A normally registered client: raw frames use its address and port, so any reply to
        # them comes to it, and its Heartbeats prove the engine still answers.
        self.c = eng.client(eng.client_ips[0])
        self.register(self.c, 0xC0FFEE)
        self.port = self.c.addr[1]

    def frame(self, payload, **kw):
        return Frame(self.eng, self.port, payload, **kw)

    def send_raw(self, fr):
        self.raw.send(fr.bytes())

    def sync(self, what):
        """A Heartbeat from the registered socket; the first thing back must be its response."""
        self.c.send(PKT_HEARTBEAT)
        first = self.c.recv()
        self.assertEqual(first, b'\x05', '%s: expected only the Heartbeat Response, got %r first' % (what, first))
        self.assert_silent(self.c, 0.3, 'after ' + what)

    def expect_drop(self, what, fr, counter):
        before = self.eng.drops()
        self.send_raw(fr)
        self.sync(what)
        delta = self.drop_delta(before, self.eng.drops())
        self.assertEqual(delta, {counter: 1}, '%s: drop counters that moved' % what)

    def test_valid_raw_frames_work(self):
        # Crafting sanity: a correct raw Register and one with UDP checksum 0 (none) are answered.
        before = self.eng.drops()
        self.send_raw(self.frame(pkt_register(0xC0FFEE)))
        self.assertEqual(self.c.recv(), b'\x01', 'raw Register with a correct checksum')
        self.send_raw(self.frame(pkt_register(0xC0FFEE), udp_csum=0))
        self.assertEqual(self.c.recv(), b'\x01', 'raw Register with UDP checksum 0 (none) must be accepted')
        self.assertEqual(self.drop_delta(before, self.eng.drops()), {}, 'drops from valid raw frames')

    def test_bad_udp_checksums(self):
        bad = lambda p: self.frame(p, udp_csum=0x1111)
        self.expect_drop('Register with a bad UDP checksum', bad(pkt_register(0xBAD)), 'udp_bad_cksum')
        self.assertEqual(self.eng.client_info(0xBAD)['registered'], 0, 'registered from a corrupt datagram')
        self.assertEqual(self.eng.client_info(0xC0FFEE)['registered'], 1, 'corrupt Register displaced the client')
        self.expect_drop('Heartbeat with a bad UDP checksum', bad(PKT_HEARTBEAT), 'udp_bad_cksum')
        self.expect_drop('message to an unknown ID with a bad UDP checksum', bad(pkt_message(0xBAD, b'x')),
                         'udp_bad_cksum')
        # Sanity: the same message with a good checksum gets Unknown Recipient.
        self.send_raw(self.frame(pkt_message(0xBAD, b'x')))
        self.assertEqual(self.c.recv(), pkt_unknown(0xBAD))

    def test_forwarded_message_keeps_a_bad_checksum_bad(self):
        # Forwards are not verified; the incremental checksum update must keep a corrupt datagram
        # corrupt, so the recipient's kernel drops it, while a good one arrives.
        b = self.eng.client(self.eng.client_ips[1])
        self.register(b, 0xB0B)
        fwd_before = self.eng.router()['message_forwarded']
        good = pkt_message(0xB0B, b'good payload')
        self.send_raw(self.frame(good))
        self.assertEqual(b.recv(), good, 'raw message with a good checksum')
        self.send_raw(self.frame(pkt_message(0xB0B, b'corrupt payload'), udp_csum=0x2222))
        self.assertEqual(b.drain(0.5), [], 'a corrupt datagram reached the recipient with a valid checksum')
        self.assertEqual(self.eng.router()['message_forwarded'] - fwd_before, 2, 'both messages forwarded')

    def test_bad_headers(self):
        hb = PKT_HEARTBEAT
        self.expect_drop('bad IPv4 header checksum', self.frame(hb, ip_csum=0x3333), 'ipv4_bad_cksum')
        self.expect_drop('IPv4 TTL 0', self.frame(hb, ttl=0), 'ipv4_ttl_zero')
        self.expect_drop('IP version 6 in an IPv4 ethertype', self.frame(hb, version=6), 'ipv4_bad_version')
        self.expect_drop('IPv4 header cut short', self.frame(hb, truncate=14 + 12), 'ipv4_short')
        self.expect_drop('IPv4 total length beyond the frame', self.frame(hb, truncate=14 + 20 + 8), 'ipv4_bad_len')
        self.expect_drop('UDP length longer than the IPv4 payload', self.frame(hb, udp_len=20), 'udp_bad_len')
        self.expect_drop('frame for another unicast MAC', self.frame(hb, dst_mac='02:00:5e:ff:ff:01'), 'l2_other_host')
        # (A frame shorter than an Ethernet header cannot be sent through AF_PACKET: eth_short is
        # left to the unit tests.)
        self.expect_drop('router datagram from the engine\'s own address',
                         self.frame(pkt_register(0x5E1F), src_ip=self.eng.ip), 'router_self_source')
        self.assertEqual(self.eng.client_info(0x5E1F)['registered'], 0)

    def test_router_port_corner_cases_go_to_the_kernel(self):
        before = self.eng.query('/peregrine/exceptions')
        drops_before = self.eng.drops()
        self.send_raw(self.frame(pkt_register(0x0F7), ihl=6, options=b'\x01\x01\x01\x00'))   # NOP NOP NOP EOL
        self.send_raw(self.frame(pkt_register(0x0F7), frag=0x2000))                      # MF set: first fragment
        self.send_raw(self.frame(pkt_register(0x0F7), dst_ip=self.eng.client_ips[2]))    # not our address
        self.sync('exception-path frames')
        after = self.eng.query('/peregrine/exceptions')
        delta = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        for k in ('ipv4_options', 'ipv4_fragment', 'not_our_ip'):
            self.assertEqual(delta.get(k), 1, 'exceptions %s: %r' % (k, delta))
        self.assertEqual(self.drop_delta(drops_before, self.eng.drops()), {}, 'drop counters moved')
        self.assertEqual(self.eng.client_info(0x0F7)['registered'], 0, 'the router handled a kernel-bound datagram')


if __name__ == '__main__':
    main()
