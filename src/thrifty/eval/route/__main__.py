"""``python -m thrifty.eval.route ...``: the same as ``thrifty eval route ...``."""

import sys

from thrifty.eval.route.command import main

sys.exit(main(["route", *sys.argv[1:]]))
