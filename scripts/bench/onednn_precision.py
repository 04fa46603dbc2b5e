"""Which precision policies train under each oneDNN setting (not a timing).

For every ``ZOOFT_ONEDNN`` setting and precision policy, a fresh process imports zooft (which
applies the setting), builds a Keras model with one convolution, runs ``predict_on_batch`` and
one ``fit`` epoch, and reports ``trains`` or the first line of TensorFlow's error.

    .venv/bin/python scripts/bench/onednn_precision.py --no-write
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alternating import without  # noqa: E402
from onednn import ONEDNN_VARS  # noqa: E402
from results import machine_line, publish  # noqa: E402

SETTINGS = ("avx2", "off", "on")
POLICIES = ("mixed_float16", "mixed_bfloat16", "float32")
PROBE = """
import sys
import numpy as np
import zooft  # applies ZOOFT_ONEDNN before TensorFlow loads
import keras
keras.mixed_precision.set_global_policy(sys.argv[1])
inputs = keras.Input((16, 16, 3))
x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
outputs = keras.layers.Dense(2, dtype="float32")(keras.layers.GlobalAveragePooling2D()(x))
model = keras.Model(inputs, outputs)
model.compile("adam", "mse")
model.predict_on_batch(np.zeros((2, 16, 16, 3), "float32"))
model.fit(np.zeros((4, 16, 16, 3), "float32"), np.zeros((4, 2)), epochs=1, verbose=0)
print("trains")
"""


def probe(setting: str, policy: str) -> str:
    """``trains``, or the line of TensorFlow's error that says why not."""
    proc = subprocess.run([sys.executable, "-c", PROBE, policy], env={**without(ONEDNN_VARS), "ZOOFT_ONEDNN": setting},
                          capture_output=True, text=True, check=False)
    if proc.returncode == 0 and "trains" in proc.stdout:
        return "trains"
    lines = [line.strip() for line in proc.stderr.splitlines() if "message:" in line or "Error" in line]
    return "fails: " + (lines[-1][:160] if lines else f"exit {proc.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    rows = [f"| `{setting}` | " + " | ".join(probe(setting, policy) for policy in POLICIES) + " |" for setting in SETTINGS]
    section = f"""
## oneDNN setting and precision: which policies train

{machine_line()}

| `ZOOFT_ONEDNN` | {' | '.join(f'`{p}`' for p in POLICIES)} |
|---|---|---|---|
""" + "\n".join(rows) + "\n\nCommand: `.venv/bin/python scripts/bench/onednn_precision.py`\n"
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
