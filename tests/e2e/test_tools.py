#!/usr/bin/env python3
"""tools/router_client.py against the real engine: by-hand subcommands and the traffic generator."""

import os
import re
import subprocess
import sys
import time

from peregrine_e2e import EngineTestCase, main

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'router_client.py')


class RouterClientToolTest(EngineTestCase):

    def tool(self, *args, timeout=60, check=True):
        eng = self.eng
        cmd = ['ip', 'netns', 'exec', eng.netns, sys.executable, TOOL, '--server', eng.ip,
               '--bind', eng.client_ips[0]] + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if check:
            self.assertEqual(p.returncode, 0, '%s exited %d:\n%s' % (' '.join(args), p.returncode, p.stdout))
        return p

    def test_register_send_listen(self):
        eng = self.eng
        p = self.tool('register', '4242')
        self.assertIn('Register Client Response', p.stdout)
        self.assertEqual(eng.client_info(4242)['registered'], 1)

        cmd = ['ip', 'netns', 'exec', eng.netns, sys.executable, TOOL, '--server', eng.ip, '--bind',
               eng.client_ips[1], 'listen', '77', '--duration', '3', '--heartbeat-interval', '0.5', '-v']
        listener = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            registered = False
            for _ in range(40):
                if eng.client_info(77)['registered']:
                    registered = True
                    break
                time.sleep(0.05)
            self.assertTrue(registered, 'listen did not register ID 77')
            p = self.tool('send', '77', 'hello tool')
            self.assertIn('no reply', p.stdout)
            p = self.tool('send', '78', 'nobody', check=False)
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn('Unknown Recipient (0x03) for ID 78', p.stdout)
            out, _ = listener.communicate(timeout=15)
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.wait()
        self.assertEqual(listener.returncode, 0, out)
        self.assertIn("Individual Message (0x02) to ID 77, 10-byte payload 'hello tool'", out)
        self.assertIn('Heartbeat Response (0x05)', out)

    def test_load_generator(self):
        p = self.tool('load', '--clients', '8', '--rate', '400', '--duration', '3', '--heartbeat-interval', '0.5',
                      '--max-loss', '0', timeout=60)
        self.assertIn('registered 8/8 clients', p.stdout)
        m = re.search(r'summary: .* (\d+) messages sent, (\d+) delivered \(0\.00% lost\)', p.stdout)
        self.assertIsNotNone(m, 'no loss-free summary line:\n' + p.stdout)
        sent = int(m.group(1))
        self.assertGreater(sent, 600, 'the generator sent too little at 400/s for 3 s:\n' + p.stdout)
        r = self.eng.router()
        self.assertEqual(r['message_forwarded'], sent, 'engine message_forwarded vs the generator')
        self.assertEqual(r['clients'], 8)
        self.assertGreater(r['heartbeat_answered'], 8)


if __name__ == '__main__':
    main()
