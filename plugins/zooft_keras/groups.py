"""Generic analysis of a flat functional Keras graph: layer groups and multi-scale feature maps.

Nothing here knows an architecture by name: groups come from where the graph narrows to a
single live tensor (the end of every residual or dense block), and feature maps from where the
spatial size drops. That keeps new ``keras.applications`` classes (and third-party models built
the same way) working without tables. Keras is only touched through public attributes of
operations (``.input``, ``.output``, ``.weights``), never imported at module level.
"""

from __future__ import annotations

import math
import re
from typing import Any

# "block_3", "conv4", "block2a", "stage_1": the block a layer belongs to, from its name
_KEY_RE = re.compile(r"[A-Za-z]+_?\d+[a-z]?")
# normalisation layers whose weights are statistics, not features worth a group of their own
_STAT_LAYERS = ("BatchNormalization", "Normalization")


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _flat(v)]
    return [] if value is None else [value]


def _graph(model: Any) -> tuple[list[Any], list[list[int]]]:
    """Topologically ordered operations and, for each, the indices of the operations it reads."""
    ops = list(model.operations)
    producer = {id(t): i for i, op in enumerate(ops) for t in _flat(op.output)}
    reads = []
    for op in ops:
        inputs = [] if type(op).__name__ == "InputLayer" else _flat(op.input)
        reads.append(sorted({producer[id(t)] for t in inputs if id(t) in producer}))
    return ops, reads


def _cut_points(reads: list[list[int]]) -> list[bool]:
    """``cut[i]``: after op ``i`` the only tensor still needed by later ops is op ``i``'s output.

    Model outputs are deliberately ignored: a feature map exported as an output must not make
    everything after it one block.
    """
    last_use = list(range(len(reads)))
    for j, sources in enumerate(reads):
        for i in sources:
            last_use[i] = max(last_use[i], j)
    cuts, live = [], set()
    for i in range(len(reads)):
        live = {p for p in live if last_use[p] > i}
        if last_use[i] > i:
            live.add(i)
        cuts.append(live <= {i})
    return cuts


def _counts(layers: list[Any]) -> bool:
    """True when a segment holds weights that are worth unfreezing (not only BN statistics)."""
    return any(layer.weights and type(layer).__name__ not in _STAT_LAYERS for layer in layers)


def _key(name: str) -> str | None:
    match = _KEY_RE.search(name)
    return match.group(0) if match else None


def layer_groups(model: Any) -> list[list[str]]:
    """Group ``model.layers`` from input to output into blocks for gradual unfreezing.

    1. Cut the topological order wherever a single tensor is live (block boundaries).
    2. Merge a segment into the previous one when it has no weights or only BatchNorm ones.
    3. Merge consecutive segments with the same name key (``block_3`` …), taken from the
       segment's last layer: Keras applications name their block outputs (``mixed1``,
       ``conv3_block1_out``) even where inner layers are auto-named (``conv2d_7``). A segment
       whose name has no key joins the previous group.
    4. Leading weightless layers (input, preprocessing) join the first weighted group.

    Every layer appears in exactly one group. Non-layer operations (``keras.ops`` calls in the
    graph, e.g. the BGR flip) have no weights and are left out: groups list layer names.
    """
    import keras

    ops, reads = _graph(model)
    cuts = _cut_points(reads)
    segments: list[list[Any]] = [[]]
    for op, cut in zip(ops, cuts):
        if isinstance(op, keras.layers.Layer):
            segments[-1].append(op)
        if cut and segments[-1]:
            segments.append([])
    segments = [s for s in segments if s]

    groups: list[tuple[str | None, list[Any]]] = []
    for segment in segments:
        key = _key(segment[-1].name)
        if groups and (not _counts(segment) or key is None or key == groups[-1][0]):
            groups[-1][1].extend(segment)
        else:
            groups.append((key, list(segment)))
    if len(groups) > 1 and not _counts(groups[0][1]):
        groups[1] = (groups[1][0], groups[0][1] + groups[1][1])
        groups.pop(0)
    return [[layer.name for layer in members] for _key_, members in groups]


def _spatial(op: Any) -> tuple[int, int] | None:
    outputs = _flat(op.output)
    if len(outputs) != 1 or len(outputs[0].shape) != 4:
        return None
    h, w = outputs[0].shape[1], outputs[0].shape[2]
    return (h, w) if isinstance(h, int) and isinstance(w, int) else None


def _stride_factor(op: Any, in_size: tuple[int, int] | None, out_size: tuple[int, int]) -> int | None:
    """How much ``op`` downsamples: its ``strides`` when it has one (convolutions, pooling),
    else the size ratio rounded to a power of two (nested blocks such as ConvNeXt's stem).
    ``None`` for a global summary kept 4-D (``GlobalAveragePooling2D(keepdims=True)`` in
    squeeze-and-excitation): it is not a feature map at any stride."""
    strides = getattr(op, "strides", None)
    if strides is not None:
        return int(strides[0] if isinstance(strides, (tuple, list)) else strides)
    if type(op).__name__.startswith("Global"):
        return None
    if in_size is None or out_size[0] >= in_size[0]:
        return 1
    return 2 ** max(0, round(math.log2(in_size[0] / max(out_size[0], 1))))


def feature_maps(model: Any, levels: dict[str, int]) -> dict[str, Any]:
    """Per level (``{"stride8": 8, …}``), the operation whose output is that stride's feature map.

    Each 4-D tensor's stride is propagated from the input through the layers' ``strides``
    (exact, whatever the padding), so 'valid'-padded stems (InceptionV3, Xception) whose sizes
    are not ceil(h/s) work too. A level's map is the *last* block boundary (cut point, see
    :func:`layer_groups`) at that stride whose size equals the first size seen at that stride:
    squeeze-and-excitation tensors (1×1, inside blocks) and ZeroPadding outputs (one pixel
    larger) never qualify. For 'same'-padded networks this is the last layer of size ceil(h/s).
    Levels deeper than the network goes (tiny inputs) are left out.
    """
    ops, reads = _graph(model)
    cuts = _cut_points(reads)
    stride: list[int | None] = []
    first_size: dict[int, tuple[int, int]] = {}
    last_at: dict[int, Any] = {}
    for i, op in enumerate(ops):
        size = _spatial(op)
        spatial_inputs = [j for j in reads[i] if stride[j] is not None]
        if size is None or (not spatial_inputs and type(op).__name__ != "InputLayer"):
            stride.append(None)  # vectors, and 1x1 maps rebuilt from vectors (squeeze-excitation)
            continue
        base = max((stride[j] for j in spatial_inputs), default=1)  # type: ignore[type-var]
        in_size = _spatial(ops[spatial_inputs[0]]) if spatial_inputs else None
        factor = _stride_factor(op, in_size, size) if spatial_inputs else 1
        stride.append(None if factor is None else base * factor)
        if factor is None:
            continue
        s = base * factor
        first_size.setdefault(s, size)
        if cuts[i] and first_size[s] == size:
            last_at[s] = op
    return {name: last_at[s] for name, s in levels.items() if s in last_at}
