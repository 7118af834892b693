#!/usr/bin/env python3
"""Malformed router datagrams: no reply, the engine stays up, and the matching drop counter moves."""

import struct

from peregrine_e2e import (EngineTestCase, MAX_PAYLOAD, PKT_HEARTBEAT, main, pkt_message, pkt_register,
                           pkt_unknown)

CID = 0x01020304

# (name, datagrams, drop counter, how much it must move)
CASES = [
    ('empty datagram', [b''], 'router_empty'),
    ('truncated register (1-4 bytes)', [pkt_register(CID)[:n] for n in range(1, 5)], 'router_bad_len'),
    ('long register (6 bytes)', [pkt_register(CID) + b'\x00'], 'router_bad_len'),
    ('heartbeat with 2 bytes', [PKT_HEARTBEAT + b'\x00'], 'router_bad_len'),
    ('truncated message (1-4 bytes)', [pkt_message(CID)[:n] for n in range(1, 5)], 'router_bad_len'),
    ('unknown type 0x09', [b'\x09', b'\x09' + struct.pack('<I', CID)], 'router_unknown_type'),
    ('unknown types 0x06, 0x80, 0xff', [b'\x06', b'\x80hello', b'\xff' * 20], 'router_unknown_type'),
    ('router-only types 0x01/0x03/0x05', [b'\x01', pkt_unknown(CID), b'\x05'], 'router_reply_type'),
    ('router-only types at other lengths', [b'\x01' + bytes(9), b'\x03', b'\x05' * 5], 'router_reply_type'),
    ('oversized message (1450-byte payload)', [pkt_message(CID, b'x' * 1450)], 'router_too_long'),
    ('message one byte over the limit', [pkt_message(CID, b'y' * (MAX_PAYLOAD + 1))], 'router_too_long'),
]


class MalformedTest(EngineTestCase):

    def setUp(self):
        super().setUp()
        # A registered client sends the bad datagrams: any reply would come to it, and it
        # can prove after each one that the engine still answers.
        self.c = self.eng.client()
        self.register(self.c, CID)

    def check(self, name, datagrams, counter):
        before = self.eng.drops()
        rx_before = self.eng.stats()['rx_packets']
        for d in datagrams:
            self.c.send(d)
        # Same flow, same queue: a reply to a bad datagram would arrive before this one's.
        self.c.send(PKT_HEARTBEAT)
        first = self.c.recv()
        self.assertEqual(first, b'\x05', '%s: expected only the Heartbeat Response, got %r first' % (name, first))
        self.assert_silent(self.c, 0.3, 'to %s' % name)
        after = self.eng.drops()
        delta = self.drop_delta(before, after)
        self.assertEqual(delta, {counter: len(datagrams)},
                         '%s: drop counters that moved (expected only %s += %d)' % (name, counter, len(datagrams)))
        self.assertGreaterEqual(self.eng.stats()['rx_packets'] - rx_before, len(datagrams) + 1,
                                '%s: the engine did not receive the datagrams' % name)
        self.assertTrue(self.eng.alive(), 'engine died after %s' % name)

    def test_each_kind(self):
        for name, datagrams, counter in CASES:
            with self.subTest(name):
                self.check(name, datagrams, counter)
        # Nothing of the above registered anything or changed the registration.
        r = self.eng.router()
        self.assertEqual(r['clients'], 1, 'clients after the malformed datagrams')
        self.assertEqual(r['register_rx'], 1, 'register_rx after the malformed datagrams')
        self.assertEqual(r['message_forwarded'] + r['unknown_recipient'], 0, 'messages handled')

    def test_largest_valid_message_still_works(self):
        # The boundary beside router_too_long: exactly MAX_PAYLOAD bytes is forwarded.
        b = self.eng.client(self.eng.client_ips[1])
        self.register(b, 9)
        sent = pkt_message(9, bytes(i & 0xff for i in range(MAX_PAYLOAD)))
        self.c.send(sent)
        self.assertEqual(b.recv(), sent, 'message with a %d-byte payload' % MAX_PAYLOAD)
        self.assertEqual(self.eng.drops()['router_too_long'], 0)

    def test_burst_of_garbage(self):
        # Many bad datagrams back to back, mixed kinds, then normal traffic.
        garbage = []
        for name, datagrams, counter in CASES:
            garbage += datagrams
        before = self.eng.drops()
        for _ in range(20):
            for d in garbage:
                self.c.send(d)
        self.c.send(PKT_HEARTBEAT)
        self.assertEqual(self.c.recv(), b'\x05', 'heartbeat after a burst of garbage')
        self.assert_silent(self.c, 0.3, 'to the garbage burst')
        after = self.eng.drops()
        total = sum(self.drop_delta(before, after).values())
        self.assertEqual(total, 20 * len(garbage), 'router drops after the garbage burst')


if __name__ == '__main__':
    main()
