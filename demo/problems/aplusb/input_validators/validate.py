"""Input validator: exits 42 when the input is one line with two integers in [-10^18, 10^18]."""

import re
import sys

LIMIT = 10**18
text = sys.stdin.read()
match = re.fullmatch(r"(-?\d+) (-?\d+)\n", text)
if not match or not all(-LIMIT <= int(value) <= LIMIT for value in match.groups()):
    sys.exit(43)
sys.exit(42)
