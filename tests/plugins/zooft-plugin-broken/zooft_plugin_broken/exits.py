"""Calls ``sys.exit()`` at import."""

import sys

sys.exit("zooft-plugin-broken: exiting at import")
