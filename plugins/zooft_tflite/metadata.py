"""Standard TFLite model metadata (``TFLITE_METADATA``), written without tflite-support.

MediaPipe Tasks, the TFLite Task Library and Android Studio's model binding read a model's
normalization, image properties, labels and tokenizer from a ``ModelMetadata`` flatbuffer
(file identifier ``M001``, public schema ``metadata_schema.fbs`` of the TFLite Support project)
stored in the model's ``metadata`` vector under the name ``TFLITE_METADATA``, and the files it
names (labels, vocabularies) from a zip archive appended to the model, as the Support library's
``MetadataPopulator`` packs them. This module writes both with the ``flatbuffers`` package: the
field order below follows schema version :data:`SCHEMA_VERSION` (fields are numbered by their
declaration order; later versions only append). tflite-support itself is not used: it pins
``numpy < 2``.

The input is a **spec**: plain JSON-ready dicts, so a task plugin can fill one in the export
metadata without importing this plugin (``metadata["tflite_metadata"]``, see
docs/plugins.md). Every key is optional except ``inputs`` / ``outputs``::

    {
      "name": "flowers", "description": "…", "version": "1", "author": "…", "license": "…",
      "associated_files": [FILE, …],                  # model-level files
      "subgraph_name": "…", "subgraph_description": "…",
      "inputs":  [TENSOR, …],                         # one per model input
      "outputs": [TENSOR, …],                         # one per model output
      "input_process_units":  [UNIT, …],              # e.g. a BERT tokenizer (subgraph level)
      "output_process_units": [UNIT, …],
      "input_tensor_groups":  [{"name": "…", "tensor_names": ["…", …]}, …],
      "output_tensor_groups": [{"name": "…", "tensor_names": ["…", …]}, …],
    }
    TENSOR = {
      "name": "image",                                # the name clients see (MediaPipe's
                                                      # ObjectDetector finds outputs by it)
      "signature_key": "image",                       # the serving signature's name for the
                                                      # tensor: orders the list like the model
      "description": "…", "dimension_names": ["…", …],
      "content": {"kind": "image", "color_space": "RGB", "width": 224, "height": 224}
               | {"kind": "feature"}
               | {"kind": "bounding_box", "type": "BOUNDARIES", "coordinate_type": "RATIO",
                  "index": [1, 0, 3, 2]},
               # any content may add "range": [min, max] (Content.range, e.g. [2, 2])
      "process_units": [UNIT, …],
      "stats": {"min": [0.0], "max": [255.0]},
      "associated_files": [FILE, …],
    }
    UNIT = {"normalization": {"mean": [0.0], "std": [1.0]}}
         | {"score_calibration": {"score_transformation": "IDENTITY", "default_score": 0.0}}
         | {"score_thresholding": {"global_score_threshold": 0.5}}
         | {"bert_tokenizer": {"vocab_file": [FILE]}}
         | {"sentence_piece_tokenizer": {"sentence_piece_model": [FILE], "vocab_file": [FILE]}}
         | {"regex_tokenizer": {"pattern": "…", "vocab_file": [FILE]}}
    FILE = {"name": "labels.txt", "description": "…", "type": "TENSOR_AXIS_LABELS", "locale": "en"}
      # type: UNKNOWN, DESCRIPTIONS, TENSOR_AXIS_LABELS, TENSOR_VALUE_LABELS,
      #       TENSOR_AXIS_SCORE_CALIBRATION, VOCABULARY

Public functions: :func:`build` (spec -> metadata flatbuffer), :func:`populate` (model +
spec + file contents -> model with metadata and packed files), :func:`read` (model -> spec, for
checks and tests), :func:`packed_files`, :func:`associated_files` and :func:`min_parser_version`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

import zooft

SCHEMA_VERSION = "1.2.1"  # metadata_schema.fbs version whose fields this module writes
METADATA_NAME = "TFLITE_METADATA"
FILE_IDENTIFIER = b"M001"

# enums of the schema, by name
FILE_TYPES = {"UNKNOWN": 0, "DESCRIPTIONS": 1, "TENSOR_AXIS_LABELS": 2, "TENSOR_VALUE_LABELS": 3,
              "TENSOR_AXIS_SCORE_CALIBRATION": 4, "VOCABULARY": 5}
COLOR_SPACES = {"UNKNOWN": 0, "RGB": 1, "GRAYSCALE": 2}
BOX_TYPES = {"UNKNOWN": 0, "BOUNDARIES": 1, "UPPER_LEFT": 2, "CENTER": 3}
COORDINATE_TYPES = {"RATIO": 0, "PIXEL": 1}
SCORE_TRANSFORMS = {"IDENTITY": 0, "LOG": 1, "INVERSE_LOGISTIC": 2}
# union member ids (0 is NONE)
CONTENT_KINDS = {"feature": 1, "image": 2, "bounding_box": 3}
UNIT_KINDS = {"normalization": 1, "score_calibration": 2, "score_thresholding": 3, "bert_tokenizer": 4,
              "sentence_piece_tokenizer": 5, "regex_tokenizer": 6}

_MODEL_KEYS = {"name", "description", "version", "author", "license", "associated_files", "subgraph_name",
               "subgraph_description", "inputs", "outputs", "input_process_units", "output_process_units",
               "input_tensor_groups", "output_tensor_groups", "min_parser_version"}
_TENSOR_KEYS = {"name", "signature_key", "description", "dimension_names", "content", "process_units", "stats",
                "associated_files"}


def _bad(what: str) -> zooft.ExportError:
    return zooft.ExportError(f"invalid TFLite metadata spec: {what}",
                             hint="see the spec format in docs/plugins.md (TFLite metadata)")


def _enum(table: dict[str, int], value: Any, what: str) -> int:
    if value not in table:
        raise _bad(f"{what}={value!r}; allowed: {', '.join(table)}")
    return table[value]


def _check_keys(doc: Any, allowed: set[str], what: str) -> None:
    if not isinstance(doc, Mapping):
        raise _bad(f"{what} must be a mapping, got {type(doc).__name__}")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise _bad(f"unknown key(s) {', '.join(map(repr, unknown))} in {what}; known: {', '.join(sorted(allowed))}")


# -- writing ------------------------------------------------------------------------------------


class _Writer:
    """Bottom-up flatbuffer construction: children first, then the table that points at them."""

    def __init__(self) -> None:
        import flatbuffers

        self.b = flatbuffers.Builder(1024)

    def string(self, value: str | None) -> int | None:
        return None if value is None else self.b.CreateString(str(value))

    def offsets(self, items: list[int] | None) -> int | None:
        if items is None:
            return None
        self.b.StartVector(4, len(items), 4)
        for item in reversed(items):
            self.b.PrependUOffsetTRelative(item)
        return self.b.EndVector()

    def numbers(self, values: Any, dtype: Any) -> int | None:
        return None if values is None else self.b.CreateNumpyVector(np.asarray(values, dtype=dtype).reshape(-1))

    def strings(self, values: list[str] | None) -> int | None:
        return None if values is None else self.offsets([self.b.CreateString(str(v)) for v in values])

    def table(self, slots: int, fields: list[tuple[int, str, Any]]) -> int:
        """A table with ``slots`` fields; ``fields`` = (slot, kind, value), None values omitted."""
        b = self.b
        b.StartObject(slots)
        for slot, kind, value in fields:
            if value is None:
                continue
            if kind == "offset":
                b.PrependUOffsetTRelativeSlot(slot, value, 0)
            elif kind == "byte":  # the schema's enums are `byte`
                b.PrependInt8Slot(slot, int(value), 0)
            elif kind == "utype":  # a union's type field is `ubyte`
                b.PrependUint8Slot(slot, int(value), 0)
            elif kind == "uint":
                b.PrependUint32Slot(slot, int(value), 0)
            elif kind == "int":
                b.PrependInt32Slot(slot, int(value), 0)
            elif kind == "float":
                b.PrependFloat32Slot(slot, float(value), 0.0)
            else:  # pragma: no cover - a programming error in this module
                raise ValueError(kind)
        return b.EndObject()

    # AssociatedFile: name 0, description 1, type 2, locale 3
    def files(self, docs: Any, what: str) -> int | None:
        if docs is None:
            return None
        if not isinstance(docs, list):
            raise _bad(f"{what} must be a list of files")
        made = []
        for doc in docs:
            _check_keys(doc, {"name", "description", "type", "locale"}, f"{what} entry")
            if not doc.get("name"):
                raise _bad(f"a file in {what} has no name")
            fields = [(0, "offset", self.string(doc["name"])), (1, "offset", self.string(doc.get("description"))),
                      (3, "offset", self.string(doc.get("locale")))]
            kind = _enum(FILE_TYPES, doc.get("type", "UNKNOWN"), f"{what} type")
            made.append(self.table(4, [*fields, (2, "byte", kind)]))
        return self.offsets(made)

    # Content: content_properties_type 0, content_properties 1, range 2
    def content(self, doc: Any, what: str) -> int:
        kind = doc.get("kind") if isinstance(doc, Mapping) else None
        code = _enum(CONTENT_KINDS, kind, f"{what} content kind")
        if kind == "image":
            _check_keys(doc, {"kind", "color_space", "width", "height", "range"}, f"{what} content")
            size = None
            if doc.get("width") is not None or doc.get("height") is not None:  # ImageSize: width 0, height 1
                size = self.table(2, [(0, "uint", doc.get("width")), (1, "uint", doc.get("height"))])
            space = _enum(COLOR_SPACES, doc.get("color_space", "RGB"), f"{what} color_space")
            props = self.table(2, [(0, "byte", space), (1, "offset", size)])  # ImageProperties
        elif kind == "bounding_box":
            _check_keys(doc, {"kind", "type", "coordinate_type", "index", "range"}, f"{what} content")
            index = self.numbers(doc.get("index"), np.uint32)
            box = _enum(BOX_TYPES, doc.get("type", "BOUNDARIES"), f"{what} box type")
            coords = _enum(COORDINATE_TYPES, doc.get("coordinate_type", "RATIO"), f"{what} coordinate_type")
            props = self.table(3, [(0, "offset", index), (1, "byte", box), (2, "byte", coords)])
        else:
            _check_keys(doc, {"kind", "range"}, f"{what} content")
            props = self.table(0, [])  # FeatureProperties has no fields
        value_range = None
        if doc.get("range") is not None:
            low, high = doc["range"]
            value_range = self.table(2, [(0, "int", low), (1, "int", high)])  # ValueRange: min 0, max 1
        return self.table(3, [(0, "utype", code), (1, "offset", props), (2, "offset", value_range)])

    # ProcessUnit: options_type 0, options 1
    def units(self, docs: Any, what: str) -> int | None:
        if docs is None:
            return None
        made = []
        for doc in docs:
            if not isinstance(doc, Mapping) or len(doc) != 1:
                raise _bad(f"each {what} entry is a one-key mapping like {{'normalization': {{...}}}}, got {doc!r}")
            (kind, opts), = doc.items()
            code = _enum(UNIT_KINDS, kind, f"{what} kind")
            where = f"{what} {kind}"
            if kind == "normalization":
                _check_keys(opts, {"mean", "std"}, where)
                value = self.table(2, [(0, "offset", self.numbers(opts.get("mean"), np.float32)),
                                       (1, "offset", self.numbers(opts.get("std"), np.float32))])
            elif kind == "score_calibration":
                _check_keys(opts, {"score_transformation", "default_score"}, where)
                transform = _enum(SCORE_TRANSFORMS, opts.get("score_transformation", "IDENTITY"), where)
                value = self.table(2, [(0, "byte", transform), (1, "float", opts.get("default_score"))])
            elif kind == "score_thresholding":
                _check_keys(opts, {"global_score_threshold"}, where)
                value = self.table(1, [(0, "float", opts.get("global_score_threshold"))])
            elif kind == "bert_tokenizer":
                _check_keys(opts, {"vocab_file"}, where)
                value = self.table(1, [(0, "offset", self.files(opts.get("vocab_file"), where))])
            elif kind == "sentence_piece_tokenizer":
                _check_keys(opts, {"sentence_piece_model", "vocab_file"}, where)
                value = self.table(2, [(0, "offset", self.files(opts.get("sentence_piece_model"), where)),
                                       (1, "offset", self.files(opts.get("vocab_file"), where))])
            else:  # regex_tokenizer: pattern 0, vocab_file 1
                _check_keys(opts, {"pattern", "vocab_file"}, where)
                value = self.table(2, [(0, "offset", self.string(opts.get("pattern"))),
                                       (1, "offset", self.files(opts.get("vocab_file"), where))])
            made.append(self.table(2, [(0, "utype", code), (1, "offset", value)]))
        return self.offsets(made)

    # TensorMetadata: name 0, description 1, dimension_names 2, content 3, process_units 4,
    # stats 5, associated_files 6
    def tensor(self, doc: Any, what: str) -> int:
        _check_keys(doc, _TENSOR_KEYS, what)
        what = f"{what} {doc.get('name', '')!r}".rstrip(" '")
        content = self.content(doc["content"], what) if doc.get("content") is not None else None
        stats = None
        if doc.get("stats") is not None:
            _check_keys(doc["stats"], {"min", "max"}, f"{what} stats")
            stats = self.table(2, [(0, "offset", self.numbers(doc["stats"].get("max"), np.float32)),
                                   (1, "offset", self.numbers(doc["stats"].get("min"), np.float32))])
        return self.table(7, [
            (0, "offset", self.string(doc.get("name"))),
            (1, "offset", self.string(doc.get("description"))),
            (2, "offset", self.strings(doc.get("dimension_names"))),
            (3, "offset", content),
            (4, "offset", self.units(doc.get("process_units"), f"{what} process_units")),
            (5, "offset", stats),
            (6, "offset", self.files(doc.get("associated_files"), f"{what} associated_files")),
        ])

    def groups(self, docs: Any, what: str) -> int | None:  # TensorGroup: name 0, tensor_names 1
        if docs is None:
            return None
        made = []
        for doc in docs:
            _check_keys(doc, {"name", "tensor_names"}, what)
            made.append(self.table(2, [(0, "offset", self.string(doc.get("name"))),
                                       (1, "offset", self.strings(doc.get("tensor_names")))]))
        return self.offsets(made)

    def model(self, spec: Mapping[str, Any]) -> bytes:
        # SubGraphMetadata: name 0, description 1, input_tensor_metadata 2, output_tensor_metadata 3,
        # associated_files 4, input_process_units 5, output_process_units 6, input_tensor_groups 7,
        # output_tensor_groups 8
        inputs = self.offsets([self.tensor(t, f"input {i}") for i, t in enumerate(spec["inputs"])])
        outputs = self.offsets([self.tensor(t, f"output {i}") for i, t in enumerate(spec["outputs"])])
        subgraph = self.table(9, [
            (0, "offset", self.string(spec.get("subgraph_name"))),
            (1, "offset", self.string(spec.get("subgraph_description"))),
            (2, "offset", inputs),
            (3, "offset", outputs),
            (5, "offset", self.units(spec.get("input_process_units"), "input_process_units")),
            (6, "offset", self.units(spec.get("output_process_units"), "output_process_units")),
            (7, "offset", self.groups(spec.get("input_tensor_groups"), "input_tensor_groups")),
            (8, "offset", self.groups(spec.get("output_tensor_groups"), "output_tensor_groups")),
        ])
        # ModelMetadata: name 0, description 1, version 2, subgraph_metadata 3, author 4, license 5,
        # associated_files 6, min_parser_version 7
        root = self.table(8, [
            (0, "offset", self.string(spec.get("name"))),
            (1, "offset", self.string(spec.get("description"))),
            (2, "offset", self.string(spec.get("version"))),
            (3, "offset", self.offsets([subgraph])),
            (4, "offset", self.string(spec.get("author"))),
            (5, "offset", self.string(spec.get("license"))),
            (6, "offset", self.files(spec.get("associated_files"), "associated_files")),
            (7, "offset", self.string(spec.get("min_parser_version") or min_parser_version(spec))),
        ])
        self.b.Finish(root, file_identifier=FILE_IDENTIFIER)
        return bytes(self.b.Output())


def associated_files(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every AssociatedFile the spec names (model, tensors, process units), in order."""
    found: list[dict[str, Any]] = list(spec.get("associated_files") or [])

    def from_units(units: Any) -> None:
        for unit in units or []:
            for opts in unit.values():
                for key in ("vocab_file", "sentence_piece_model"):
                    found.extend(opts.get(key) or [])

    for tensor in [*(spec.get("inputs") or []), *(spec.get("outputs") or [])]:
        found.extend(tensor.get("associated_files") or [])
        from_units(tensor.get("process_units"))
    from_units(spec.get("input_process_units"))
    from_units(spec.get("output_process_units"))
    return found


def min_parser_version(spec: Mapping[str, Any]) -> str:
    """The smallest metadata parser version that understands every field ``spec`` uses.

    1.0.0, raised by the members added since (schema history): VOCABULARY files 1.0.1, subgraph
    process units and the BERT / SentencePiece tokenizers 1.1.0, tensor groups 1.2.0, the regex
    tokenizer 1.2.1. Clients refuse metadata newer than their parser, so never claim more.
    """
    version = (1, 0, 0)
    if any(f.get("type") == "VOCABULARY" for f in associated_files(spec)):
        version = max(version, (1, 0, 1))
    if spec.get("input_process_units") is not None or spec.get("output_process_units") is not None:
        version = max(version, (1, 1, 0))
    units = [u for t in [*spec.get("inputs", []), *spec.get("outputs", [])] for u in t.get("process_units") or []]
    units += [*(spec.get("input_process_units") or []), *(spec.get("output_process_units") or [])]
    kinds = {k for u in units if isinstance(u, Mapping) for k in u}
    if kinds & {"bert_tokenizer", "sentence_piece_tokenizer"}:
        version = max(version, (1, 1, 0))
    if spec.get("input_tensor_groups") is not None or spec.get("output_tensor_groups") is not None:
        version = max(version, (1, 2, 0))
    if "regex_tokenizer" in kinds:
        version = max(version, (1, 2, 1))
    return ".".join(map(str, version))


def build(spec: Mapping[str, Any]) -> bytes:
    """The ``ModelMetadata`` flatbuffer (identifier ``M001``) for ``spec``.

    Raises :class:`zooft.ExportError` naming the offending key for a malformed spec.
    """
    _check_keys(spec, _MODEL_KEYS, "the metadata spec")
    for key in ("inputs", "outputs"):
        if not isinstance(spec.get(key), list) or not spec[key]:
            raise _bad(f"{key!r} must be a non-empty list of tensor specs (one per model {key[:-1]})")
    return _Writer().model(spec)


# -- placing it in a model ------------------------------------------------------------------------


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # the same generated TFLite schema ships inside TensorFlow
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def _order(tensors: list[dict[str, Any]], indices: list[int], names: dict[str, int] | None, what: str) -> list[dict[str, Any]]:
    """``tensors`` in the subgraph's order: by ``signature_key`` when the specs give one."""
    if len(tensors) != len(indices):
        raise _bad(f"{len(tensors)} {what} tensor spec(s) for a model with {len(indices)} {what}(s)")
    keys = [t.get("signature_key") for t in tensors]
    if all(k is None for k in keys):
        return list(tensors)
    if any(k is None for k in keys) or names is None:
        raise _bad(f"give every {what} tensor spec a signature_key, or none (the model has no signature to match)")
    missing = [k for k in keys if k not in names]
    if missing:
        raise _bad(f"{what} signature_key(s) {missing} not in the model's signature ({', '.join(sorted(names))})")
    by_index = {names[k]: t for k, t in zip(keys, tensors)}
    if len(by_index) != len(tensors):
        raise _bad(f"two {what} tensor specs name the same signature_key")
    return [by_index[i] for i in indices]


def set_metadata_buffers(flatbuffer: bytes, entries: Mapping[str, bytes]) -> bytes:
    """``flatbuffer`` with each ``{name: bytes}`` stored as a model metadata entry (replacing an
    entry of the same name). Anything appended after the flatbuffer (a zip of files) is dropped."""
    schema = _schema()
    import flatbuffers

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(flatbuffer, 0))
    if any(b.offset for b in model.buffers or []):  # >2 GB models keep tensors after the flatbuffer
        raise zooft.ExportError("cannot add metadata to a TFLite model with external buffers (> 2 GB)")
    kept = [m for m in (model.metadata or []) if m.name.decode() not in entries]
    for name, data in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data, dtype=np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name, len(model.buffers) - 1
        kept.append(entry)
    model.metadata = kept
    builder = flatbuffers.Builder(len(flatbuffer) + sum(len(d) for d in entries.values()) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def populate(flatbuffer: bytes, spec: Mapping[str, Any], files: Mapping[str, bytes | str]) -> bytes:
    """The model ``flatbuffer`` with ``spec`` as its ``TFLITE_METADATA`` and ``files`` packed.

    ``files`` maps each associated file name in ``spec`` to its contents (``str`` is written as
    UTF-8); a file named in the spec but not given, or given but not named, is an error (clients
    look files up by the name in the metadata). Tensor specs are ordered to match the model's
    inputs and outputs by ``signature_key`` when they carry one. The files are appended as an
    uncompressed zip archive after the flatbuffer (what the TFLite Support populator does; the
    runtime ignores trailing bytes).
    """
    schema = _schema()
    model = schema.Model.GetRootAs(flatbuffer, 0)
    if model.SubgraphsLength() < 1:
        raise zooft.ExportError("the TFLite model has no subgraph")
    subgraph = model.Subgraphs(0)
    inputs = [int(i) for i in subgraph.InputsAsNumpy()] if subgraph.InputsLength() else []
    outputs = [int(i) for i in subgraph.OutputsAsNumpy()] if subgraph.OutputsLength() else []
    in_names = out_names = None
    if model.SignatureDefsLength():
        sig = model.SignatureDefs(0)
        in_names = {sig.Inputs(i).Name().decode(): sig.Inputs(i).TensorIndex() for i in range(sig.InputsLength())}
        out_names = {sig.Outputs(i).Name().decode(): sig.Outputs(i).TensorIndex() for i in range(sig.OutputsLength())}
    spec = dict(spec)
    _check_keys(spec, _MODEL_KEYS, "the metadata spec")
    spec["inputs"] = _order(list(spec.get("inputs") or []), inputs, in_names, "input")
    spec["outputs"] = _order(list(spec.get("outputs") or []), outputs, out_names, "output")
    named = {f["name"] for f in associated_files(spec)}
    if named != set(files):
        raise _bad(f"files named in the metadata {sorted(named)} differ from the files given {sorted(files)}")
    packed = set_metadata_buffers(flatbuffer, {METADATA_NAME: build(spec)})
    archive = io.BytesIO(packed)
    archive.seek(0, io.SEEK_END)
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_STORED) as zf:  # "a" on a non-zip appends
        for name in sorted(files):
            content = files[name]
            zf.writestr(name, content.encode("utf-8") if isinstance(content, str) else bytes(content))
    return archive.getvalue()


# -- reading it back ------------------------------------------------------------------------------


class _Reader:
    """Just enough of a flatbuffer table reader to turn the metadata back into a spec."""

    def __init__(self, buf: bytearray, pos: int) -> None:
        from flatbuffers import table

        self.buf, self.t = buf, table.Table(buf, pos)

    def _off(self, slot: int) -> int:
        return self.t.Offset(4 + 2 * slot)

    def string(self, slot: int) -> str | None:
        off = self._off(slot)
        return self.t.String(off + self.t.Pos).decode("utf-8") if off else None

    def scalar(self, slot: int, flags: Any, default: Any = 0) -> Any:
        off = self._off(slot)
        return self.t.Get(flags, off + self.t.Pos) if off else default

    def sub(self, slot: int) -> _Reader | None:
        off = self._off(slot)
        return _Reader(self.buf, self.t.Indirect(off + self.t.Pos)) if off else None

    def subs(self, slot: int) -> list[_Reader] | None:
        off = self._off(slot)
        if not off:
            return None
        start = self.t.Vector(off)
        return [_Reader(self.buf, self.t.Indirect(start + 4 * i)) for i in range(self.t.VectorLen(off))]

    def numbers(self, slot: int, flags: Any) -> list[Any] | None:
        off = self._off(slot)
        if not off:
            return None
        start = self.t.Vector(off)
        return [self.t.Get(flags, start + flags.bytewidth * i) for i in range(self.t.VectorLen(off))]

    def strings(self, slot: int) -> list[str] | None:
        off = self._off(slot)
        if not off:
            return None
        start = self.t.Vector(off)
        return [self.t.String(start + 4 * i).decode("utf-8") for i in range(self.t.VectorLen(off))]


def _name_of(table: dict[str, int], value: int) -> str:
    return next((k for k, v in table.items() if v == value), str(value))


def _read_files(r: _Reader, slot: int) -> list[dict[str, Any]] | None:
    from flatbuffers import number_types as n

    items = r.subs(slot)
    if items is None:
        return None
    out = []
    for f in items:
        doc = {"name": f.string(0), "description": f.string(1), "type": _name_of(FILE_TYPES, f.scalar(2, n.Int8Flags)),
               "locale": f.string(3)}
        out.append({k: v for k, v in doc.items() if v is not None})
    return out


def _read_units(r: _Reader, slot: int) -> list[dict[str, Any]] | None:
    from flatbuffers import number_types as n

    items = r.subs(slot)
    if items is None:
        return None
    out = []
    for unit in items:
        kind = _name_of(UNIT_KINDS, unit.scalar(0, n.Uint8Flags))
        o = unit.sub(1)
        opts: dict[str, Any] = {}
        if o is not None and kind == "normalization":
            opts = {"mean": o.numbers(0, n.Float32Flags), "std": o.numbers(1, n.Float32Flags)}
        elif o is not None and kind == "score_calibration":
            opts = {"score_transformation": _name_of(SCORE_TRANSFORMS, o.scalar(0, n.Int8Flags)),
                    "default_score": o.scalar(1, n.Float32Flags, 0.0)}
        elif o is not None and kind == "score_thresholding":
            opts = {"global_score_threshold": o.scalar(0, n.Float32Flags, 0.0)}
        elif o is not None and kind == "bert_tokenizer":
            opts = {"vocab_file": _read_files(o, 0)}
        elif o is not None and kind == "sentence_piece_tokenizer":
            opts = {"sentence_piece_model": _read_files(o, 0), "vocab_file": _read_files(o, 1)}
        elif o is not None and kind == "regex_tokenizer":
            opts = {"pattern": o.string(0), "vocab_file": _read_files(o, 1)}
        out.append({kind: {k: v for k, v in opts.items() if v is not None}})
    return out


def _read_tensor(r: _Reader) -> dict[str, Any]:
    from flatbuffers import number_types as n

    doc: dict[str, Any] = {"name": r.string(0), "description": r.string(1), "dimension_names": r.strings(2)}
    content = r.sub(3)
    if content is not None:
        kind = _name_of(CONTENT_KINDS, content.scalar(0, n.Uint8Flags))
        c: dict[str, Any] = {"kind": kind}
        props = content.sub(1)
        if props is not None and kind == "image":
            c["color_space"] = _name_of(COLOR_SPACES, props.scalar(0, n.Int8Flags))
            size = props.sub(1)
            if size is not None:
                c["width"], c["height"] = size.scalar(0, n.Uint32Flags), size.scalar(1, n.Uint32Flags)
        elif props is not None and kind == "bounding_box":
            c["index"] = props.numbers(0, n.Uint32Flags)
            c["type"] = _name_of(BOX_TYPES, props.scalar(1, n.Int8Flags))
            c["coordinate_type"] = _name_of(COORDINATE_TYPES, props.scalar(2, n.Int8Flags))
        value_range = content.sub(2)
        if value_range is not None:
            c["range"] = [value_range.scalar(0, n.Int32Flags), value_range.scalar(1, n.Int32Flags)]
        doc["content"] = {k: v for k, v in c.items() if v is not None}
    doc["process_units"] = _read_units(r, 4)
    stats = r.sub(5)
    if stats is not None:
        doc["stats"] = {k: v for k, v in (("min", stats.numbers(1, n.Float32Flags)), ("max", stats.numbers(0, n.Float32Flags)))
                        if v is not None}
    doc["associated_files"] = _read_files(r, 6)
    return {k: v for k, v in doc.items() if v is not None}


def metadata_buffer(flatbuffer: bytes) -> bytes | None:
    """The raw ``TFLITE_METADATA`` buffer of a model, or None."""
    model = _schema().Model.GetRootAs(flatbuffer, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name().decode() == METADATA_NAME:
            return model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    return None


def read(flatbuffer: bytes) -> dict[str, Any] | None:
    """The model's ``TFLITE_METADATA`` as a spec (the shape :func:`build` takes, plus
    ``min_parser_version``), or None when the model has none."""
    data = metadata_buffer(flatbuffer)
    if data is None:
        return None
    if data[4:8] != FILE_IDENTIFIER:
        raise zooft.ExportError(f"the model's {METADATA_NAME} buffer has identifier {data[4:8]!r}, not {FILE_IDENTIFIER!r}")
    from flatbuffers import encode, number_types as n

    buf = bytearray(data)
    root = _Reader(buf, encode.Get(n.UOffsetTFlags.packer_type, buf, 0))
    doc: dict[str, Any] = {"name": root.string(0), "description": root.string(1), "version": root.string(2),
                           "author": root.string(4), "license": root.string(5),
                           "associated_files": _read_files(root, 6), "min_parser_version": root.string(7)}
    subgraphs = root.subs(3) or []
    if subgraphs:
        sg = subgraphs[0]
        doc.update(subgraph_name=sg.string(0), subgraph_description=sg.string(1),
                   inputs=[_read_tensor(t) for t in sg.subs(2) or []], outputs=[_read_tensor(t) for t in sg.subs(3) or []],
                   input_process_units=_read_units(sg, 5), output_process_units=_read_units(sg, 6))
        for slot, key in ((7, "input_tensor_groups"), (8, "output_tensor_groups")):
            groups = sg.subs(slot)
            if groups is not None:
                doc[key] = [{"name": g.string(0), "tensor_names": g.strings(1)} for g in groups]
    return {k: v for k, v in doc.items() if v is not None}


def packed_files(flatbuffer: bytes) -> dict[str, bytes]:
    """The files packed after the model (name -> contents); empty when there are none."""
    try:
        with zipfile.ZipFile(io.BytesIO(flatbuffer)) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    except zipfile.BadZipFile:
        return {}
