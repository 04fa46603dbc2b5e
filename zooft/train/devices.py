"""Choosing the precision policy and the distribution strategy from the devices present.

The device queries are separate functions so that tests fake them: the GPU and TPU paths
are exercised on a CPU-only machine without pretending TensorFlow sees hardware it lacks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class Devices:
    """What the machine offers: compute capabilities of NVIDIA GPUs, TPU presence, workers."""

    gpu_capabilities: tuple[tuple[int, int], ...] = ()
    tpu: bool = False
    workers: int = 1


def query_devices() -> Devices:
    """Ask TensorFlow (and ``TF_CONFIG``) what is there."""
    import tensorflow as tf

    caps = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        caps.append(tuple(details.get("compute_capability", (0, 0))))
    workers = count_workers()
    # listing *logical* devices initializes TensorFlow's runtime, after which a multi-worker
    # strategy can no longer configure its collectives: ask for physical devices only then
    listing = tf.config.list_physical_devices if workers > 1 else tf.config.list_logical_devices
    tpu = bool(os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR")) or bool(listing("TPU"))
    return Devices(tuple(caps), tpu, workers)


def count_workers(tf_config: str | None = None) -> int:
    """Number of workers (chief included) that ``TF_CONFIG`` names; 1 without it."""
    raw = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not raw:
        return 1
    try:
        cluster = json.loads(raw).get("cluster", {})
    except (ValueError, AttributeError):
        raise ConfigError(f"TF_CONFIG is not valid JSON: {raw[:60]!r}", hint="see docs/distributed.md") from None
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def choose_precision(requested: str, devices: Devices) -> str:
    """``auto``: mixed_float16 on NVIDIA GPUs with compute capability ≥ 7.0 (tensor cores),
    mixed_bfloat16 on TPUs, float32 elsewhere (on CPUs bfloat16 trained 3× slower here).
    Raises :class:`zooft.ConfigError` for mixed precision on a CPU whose oneDNN kernels cannot
    run it (:func:`zooft.tfruntime.cpu_mixed_precision_problem`)."""
    if requested != "auto":
        if requested.startswith("mixed") and not devices.tpu and not devices.gpu_capabilities:
            from ..errors import ConfigError
            from ..tfruntime import cpu_mixed_precision_problem

            problem = cpu_mixed_precision_problem()
            if problem:
                raise ConfigError(f"--precision {requested} cannot train on this CPU: {problem}",
                                  hint="unset ZOOFT_ONEDNN and ONEDNN_MAX_CPU_ISA (zooft's default turns oneDNN off), "
                                       "or use --precision float32")
        return requested
    if devices.tpu:
        return "mixed_bfloat16"
    if devices.gpu_capabilities and all(cap >= (7, 0) for cap in devices.gpu_capabilities):
        return "mixed_float16"
    return "float32"


def choose_strategy(requested: str, devices: Devices) -> str:
    """``auto``: TPU on TPUs, multiworker when TF_CONFIG names several workers, mirrored for
    several GPUs, default otherwise."""
    if requested != "auto":
        return requested
    if devices.tpu:
        return "tpu"
    if devices.workers > 1:
        return "multiworker"
    if len(devices.gpu_capabilities) > 1:
        return "mirrored"
    return "default"


def make_strategy(name: str) -> Any:
    """Create the tf.distribute strategy called ``name``."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        # all GPUs; without GPUs, every logical CPU device (which is how the mirrored code
        # path is exercised on CPU-only machines: split the CPU into logical devices)
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"--strategy tpu: no TPU found ({exc})", hint="use --strategy auto on this machine") from None
        return tf.distribute.TPUStrategy(resolver)
    if name == "multiworker":
        if count_workers() < 2:
            raise ConfigError(
                "--strategy multiworker needs TF_CONFIG naming at least two workers",
                hint="set TF_CONFIG on every worker (docs/distributed.md), or use --strategy auto",
            )
        # Keras 3.15's model.fit fails under this strategy (tensorflow#72388): the session
        # trains with zooft's own loop instead (multiworker.py). Every worker blocks here until
        # all workers named in TF_CONFIG have connected.
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"unknown strategy {name!r}", hint="auto, default, mirrored, multiworker or tpu")
