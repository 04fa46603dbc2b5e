#!/usr/bin/env bash
# The main job, offline: demo data -> fine-tune the embedded model -> eval -> export.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/zooft demo "$@"
