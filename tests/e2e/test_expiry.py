#!/usr/bin/env python3
"""Registration expiry with --heartbeat-timeout 2: the silent client goes, the heartbeating one stays."""

import time

from peregrine_e2e import EngineTestCase, PKT_HEARTBEAT, main, pkt_message, pkt_unknown

TIMEOUT_S = 2
STALE, LIVE = 0xA1, 0xB2


class ExpiryTest(EngineTestCase):
    ENGINE_ARGS = {'hb_timeout': TIMEOUT_S}

    def test_silent_client_expires_heartbeating_client_stays(self):
        eng = self.eng
        stale = eng.client(eng.client_ips[0])
        live = eng.client(eng.client_ips[1])
        sender = eng.client(eng.client_ips[2])
        self.assertEqual(eng.router()['heartbeat_timeout_s'], TIMEOUT_S)
        self.register(stale, STALE)
        self.register(live, LIVE)
        t0 = time.monotonic()
        self.assertEqual(eng.router()['clients'], 2)

        gone_at = None
        beats = 0
        while time.monotonic() - t0 < 6.0:
            self.heartbeat_ok(live, '(keep-alive %d)' % beats)
            beats += 1
            # The silent client keeps sending (to itself): messages do not refresh a registration.
            probe = pkt_message(STALE, b'self %d' % beats)
            reply = stale.request(probe)
            elapsed = time.monotonic() - t0
            registered = eng.client_info(STALE)['registered']
            if elapsed < TIMEOUT_S - 0.5:
                self.assertEqual(registered, 1, 'silent client expired after only %.1f s' % elapsed)
                self.assertEqual(reply, probe, 'message to itself while registered (%.1f s)' % elapsed)
            if gone_at is None:
                self.assertIn(reply, (probe, pkt_unknown(STALE)), 'reply to the silent client at %.1f s' % elapsed)
                if reply == pkt_unknown(STALE):
                    gone_at = elapsed
                    self.assertEqual(registered, 0, 'Unknown Recipient but telemetry still shows the registration')
            else:
                self.assertEqual(reply, pkt_unknown(STALE), 'expired client came back at %.1f s' % elapsed)
            if gone_at is not None and elapsed > 4.2:
                break
            time.sleep(0.4)
        self.assertIsNotNone(gone_at, 'silent client still registered 6 s after its last Register (timeout %d s)' % TIMEOUT_S)
        self.assertGreaterEqual(gone_at, TIMEOUT_S - 0.5, 'silent client expired early, at %.1f s' % gone_at)
        self.assertLessEqual(gone_at, 4.5, 'silent client expired only after %.1f s' % gone_at)

        # The expired ID is unknown now; the heartbeating one still gets messages.
        self.assertEqual(sender.request(pkt_message(STALE, b'late')), pkt_unknown(STALE),
                         'message to the expired client: expected Unknown Recipient')
        self.assert_silent(stale, 0.2, 'at the expired client')
        sent = pkt_message(LIVE, b'still here?')
        sender.send(sent)
        self.assertEqual(live.recv(), sent, 'message to the heartbeating client after %.1f s' % (time.monotonic() - t0))
        self.assertEqual(eng.client_info(LIVE)['registered'], 1)

        # The expired endpoint's Heartbeat is no longer answered.
        stale.send(PKT_HEARTBEAT)
        self.assert_silent(stale, 0.5, 'to a Heartbeat from the expired endpoint')

        r = eng.router()
        self.assertEqual(r['clients'], 1, 'telemetry clients after expiry')
        self.assertEqual(r['expired'], 1, 'telemetry expired counter')
        self.assertGreaterEqual(eng.drops()['router_hb_unregistered'], 1)

        # Registering again brings it back.
        self.register(stale, STALE)
        self.assertEqual(eng.router()['clients'], 2)


if __name__ == '__main__':
    main()
