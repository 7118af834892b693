#!/usr/bin/env python3
"""Converts the OWASP ModSecurity Core Rule Set (Debian's modsecurity-crs, Apache-2.0) into an
--inspect-rules file: every `@rx` regular expression of its rules, and every phrase of its
`.data` phrase lists (`@pmFromFile`) as a caseless literal. Interleaved (regex, phrases, regex,
...) so that any first N lines are a mix. Used to make tests/data/crs-inspect.rules, the rule set
no one here wrote that perf/bench_inspect measures (docs/inspection.md):

    apt-get install modsecurity-crs
    tools/inspect/crs_to_rules.py > /tmp/crs-all.rules
    build/perf/bench_inspect --filter-rules /tmp/crs-all.rules tests/data/crs-inspect.rules

(--filter-rules keeps the rules that compile in Hyperscan, PCRE2 and RE2 alike: CRS is written
for PCRE, and lookarounds and backreferences are in neither of the other two.)"""

import argparse
import glob
import os
import re
import sys

RX = re.compile(r'"@rx ((?:[^"\\]|\\.)*)"')
ID = re.compile(r'\bid:(\d+)')


def regexes(rules_dir):
    out = []
    for path in sorted(glob.glob(os.path.join(rules_dir, '*.conf'))):
        text = open(path, encoding='utf-8', errors='replace').read()
        # A rule is SecRule ... up to its id: (chained rules share the first one's id).
        last_id = 0
        for line in text.replace('\\\n', ' ').splitlines():
            m = ID.search(line)
            if m:
                last_id = int(m.group(1))
            for k, rx in enumerate(RX.findall(line)):
                rx = rx.replace('\\"', '"')
                if rx and '\n' not in rx and '\0' not in rx:
                    rid = int(ID.search(line).group(1)) if ID.search(line) else last_id
                    out.append((rid * 10 + k, rx))
    return out


def phrases(rules_dir):
    out = []
    for path in sorted(glob.glob(os.path.join(rules_dir, '*.data'))):
        for line in open(path, encoding='utf-8', errors='replace'):
            p = line.strip()
            if p and not p.startswith('#'):
                out.append(p)
    return out


def literal(p):
    return ''.join('\\' + c if c in '\\^$.|?*+()[]{}/' else c for c in p)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--rules-dir', default='/usr/share/modsecurity-crs/rules')
    a = ap.parse_args()
    rx, ph = regexes(a.rules_dir), phrases(a.rules_dir)
    if not rx or not ph:
        sys.exit('no CRS rules under %s (apt-get install modsecurity-crs)' % a.rules_dir)
    seen = set()
    lines = []
    pi = 0
    per = max(1, len(ph) // len(rx))
    for rid, r in rx:
        while rid in seen:
            rid += 1
        seen.add(rid)
        lines.append('%d:/%s/' % (rid, r))
        for p in ph[pi:pi + per]:
            lines.append('%d:/%s/i' % (90000000 + pi, literal(p)))
            pi += 1
    for p in ph[pi:]:
        lines.append('%d:/%s/i' % (90000000 + pi, literal(p)))
        pi += 1
    print('# OWASP ModSecurity Core Rule Set %s, converted by tools/inspect/crs_to_rules.py' %
          os.path.basename(os.path.dirname(os.path.normpath(a.rules_dir))))
    print('# Apache License 2.0: see tests/data/crs-inspect.LICENSE')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
