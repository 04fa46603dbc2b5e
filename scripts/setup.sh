#!/usr/bin/env bash
# Create .venv and install zooft (editable) with the extras the demo and the tests need.
# Re-running is cheap: the install is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.zooft-install-stamp
want="$(sha256sum pyproject.toml | cut -d' ' -f1) ${ZOOFT_EXTRAS:=report,tflite,onnx,hub,bert,detect,test,bench}"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing zooft[$ZOOFT_EXTRAS] into .venv (first time: a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[$ZOOFT_EXTRAS]"
  echo "$want" > "$stamp"
fi
