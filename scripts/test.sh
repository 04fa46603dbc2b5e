#!/usr/bin/env bash
# Set up .venv with the test extras and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The TFLite Task Library (tests/integration/test_mobile_clients.py, in its own venv) needs the
# system's libusb-1.0 to import; best effort, as root with apt only (the test skips, naming it, without).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! ldconfig -p | grep -q 'libusb-1.0.so.0'; then
  (apt-get update -qq && apt-get install -y -qq libusb-1.0-0) >/dev/null 2>&1 || echo "note: libusb-1.0 not installed; Task Library tests will skip" >&2
fi
# Two workers, one test module each at a time (--dist loadfile keeps a module's shared fixtures,
# such as a trained model, in one process); pass -n 0 to run serially.
exec .venv/bin/python -m pytest -q -n 2 --dist loadfile "$@"
