#!/usr/bin/env python3
"""The memif peer restarted under load: a generator at full rate is killed (SIGKILL) and
started again, --restarts times (default 50), while the engine serves. The engine must survive
every one, serve the next generator, return to its mbufs in use before, and exit 0 with every
mbuf returned. Before the interrupt-thread pause (lib/engine/pause.hpp) DPDK 22.11's net_memif
crashed the engine in one of every 5 to 8 such kills (docs/security.md).

    sudo perf/memif_restarts.py [--build build] [--restarts 50]"""

import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from overload import ROOT, Rig  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--build', default=os.path.join(ROOT, 'build'))
    p.add_argument('--restarts', type=int, default=50)
    p.add_argument('--run', type=float, default=1.0, help='seconds of full-rate traffic before each kill')
    a = p.parse_args()
    rig = Rig(a)
    res = {'restarts': a.restarts, 'killed_at_full_rate': 0}
    router = ['--profile', 'router', '--clients', '1000', '--mode', 'forward', '--payload', '64']

    def body():
        rig.start_engine(inspect=False)
        base = rig.tel.query('/peregrine/stats')['mbufs_in_use']
        for k in range(a.restarts):
            g = rig.trafgen(0, 'r%d' % (k % 2), router, 60, 0, wait=False)
            # Killed once its traffic runs (the engine answers), not during its EAL start.
            end = time.time() + 15
            before = rig.tel.query('/peregrine/stats')['tx_packets']
            while time.time() < end and rig.tel.query('/peregrine/stats')['tx_packets'] == before:
                time.sleep(0.05)
            time.sleep(a.run)
            g.send_signal(signal.SIGKILL)
            g.communicate()
            if rig.engine.poll() is not None:
                rig.check(False, 'the engine died at kill %d' % (k + 1))
                break
            res['killed_at_full_rate'] += 1
        rig.check(res['killed_at_full_rate'] == a.restarts, 'survived every kill')
        last = rig.trafgen(0, 'last', router, 2, 100000)
        rig.check(last['loss'] < 0.01, 'a generator after the kills is served (loss %.4f)' % last['loss'])
        st = rig.end(base)
        res['pauses'] = {k: st[k] for k in ('intr_pauses', 'intr_pause_timeouts', 'intr_pause_max_us') if k in st}

    return rig.run(res, body)


if __name__ == '__main__':
    sys.exit(main())
