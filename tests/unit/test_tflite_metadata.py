"""The TFLITE_METADATA writer on hand-made TFLite flatbuffers (no TensorFlow).

That MediaPipe Tasks and the TFLite Task Library accept what it writes is tested against the
real clients in tests/integration/test_mobile_clients.py; here: the spec round-trips through
the flatbuffer, tensors are ordered like the model, files are packed, bad specs fail clearly.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import pytest

import zooft
from zooft_tflite import metadata as md
from zooft_tflite.standard import image_spec, standard_metadata

# an SSD-style detector: outputs in the subgraph in this order, signature names differ
OUTPUTS = ["detection_scores", "detection_boxes", "num_detections", "detection_classes"]


def tflite_model(inputs: list[str], outputs: list[str]) -> bytes:
    """A structurally valid TFLite flatbuffer: one subgraph, named tensors, a signature."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT()
    model.version = 3
    model.buffers = [schema.BufferT()]
    sub = schema.SubGraphT()
    sub.tensors = []
    for name in [*inputs, *outputs]:
        tensor = schema.TensorT()
        tensor.name, tensor.shape, tensor.type, tensor.buffer = name, np.array([1, 4], np.int32), 0, 0
        sub.tensors.append(tensor)
    sub.inputs = list(range(len(inputs)))
    sub.outputs = list(range(len(inputs), len(inputs) + len(outputs)))
    sub.operators = []
    model.subgraphs = [sub]
    sig = schema.SignatureDefT()
    sig.signatureKey, sig.subgraphIndex = "serving_default", 0
    sig.inputs, sig.outputs = [], []
    for names, indices, target in ((inputs, sub.inputs, sig.inputs), (outputs, sub.outputs, sig.outputs)):
        for name, index in zip(names, indices):
            entry = schema.TensorMapT()
            entry.name, entry.tensorIndex = name, index
            target.append(entry)
    model.signatureDefs = [sig]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def detector_spec() -> dict[str, Any]:
    labels = [{"name": "labels.txt", "description": "labels", "type": "TENSOR_VALUE_LABELS"}]
    feature = {"kind": "feature", "range": [2, 2]}
    return {
        "name": "det", "description": "d", "version": "1", "author": "me", "license": "MIT",
        "inputs": [{"name": "image", "signature_key": "image",
                    "content": {"kind": "image", "color_space": "RGB", "width": 64, "height": 48},
                    "process_units": [{"normalization": {"mean": [127.5], "std": [127.5]}}],
                    "stats": {"min": [-1.0], "max": [1.0]}}],
        # listed in the order a task thinks in, not the model's
        "outputs": [
            {"name": "location", "signature_key": "detection_boxes", "dimension_names": ["batch", "box", "coordinate"],
             "content": {"kind": "bounding_box", "index": [1, 0, 3, 2], "type": "BOUNDARIES", "coordinate_type": "RATIO",
                         "range": [2, 2]}},
            {"name": "category", "signature_key": "detection_classes", "content": feature, "associated_files": labels},
            {"name": "score", "signature_key": "detection_scores", "content": feature,
             "process_units": [{"score_thresholding": {"global_score_threshold": 0.5}}]},
            {"name": "number of detections", "signature_key": "num_detections", "content": {"kind": "feature"}},
        ],
        "output_tensor_groups": [{"name": "detection_result", "tensor_names": ["location", "category", "score"]}],
    }


def test_detector_spec_round_trips_in_model_order_with_packed_labels() -> None:
    model = tflite_model(["image"], OUTPUTS)
    out = md.populate(model, detector_spec(), {"labels.txt": "cat\ndog\n"})
    back = md.read(out)
    assert back is not None
    assert [t["name"] for t in back["outputs"]] == ["score", "location", "number of detections", "category"]
    location = back["outputs"][1]
    assert location["content"] == {"kind": "bounding_box", "index": [1, 0, 3, 2], "type": "BOUNDARIES",
                                   "coordinate_type": "RATIO", "range": [2, 2]}
    assert location["dimension_names"] == ["batch", "box", "coordinate"]
    assert back["outputs"][3]["associated_files"] == [{"name": "labels.txt", "description": "labels", "type": "TENSOR_VALUE_LABELS"}]
    assert back["outputs"][0]["process_units"] == [{"score_thresholding": {"global_score_threshold": 0.5}}]
    image = back["inputs"][0]
    assert image["content"] == {"kind": "image", "color_space": "RGB", "width": 64, "height": 48}
    assert image["process_units"] == [{"normalization": {"mean": [127.5], "std": [127.5]}}]
    assert image["stats"] == {"min": [-1.0], "max": [1.0]}
    assert {k: back[k] for k in ("name", "description", "version", "author", "license")} == {
        "name": "det", "description": "d", "version": "1", "author": "me", "license": "MIT"}
    assert back["output_tensor_groups"][0]["tensor_names"] == ["location", "category", "score"]
    assert back["min_parser_version"] == "1.2.0"  # tensor groups
    assert md.packed_files(out) == {"labels.txt": b"cat\ndog\n"}
    # the archive is appended as the TFLite Support populator does: stored, after the flatbuffer
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        assert [i.compress_type for i in zf.infolist()] == [zipfile.ZIP_STORED]
        offset = zf.infolist()[0].header_offset  # absolute in the file, like the populator's
    assert md.read(out[:offset]) == back and md.packed_files(out[:offset]) == {}
    assert out[4:8] == b"TFL3"


def test_populate_replaces_existing_metadata_and_keeps_other_entries() -> None:
    model = md.set_metadata_buffers(tflite_model(["image"], OUTPUTS), {"zooft_metadata": b"{}"})
    once = md.populate(model, detector_spec(), {"labels.txt": "a\n"})
    twice = md.populate(once, {**detector_spec(), "name": "second"}, {"labels.txt": "b\n"})
    from ai_edge_litert import schema_py_generated as schema

    parsed = schema.Model.GetRootAs(twice, 0)
    names = [parsed.Metadata(i).Name().decode() for i in range(parsed.MetadataLength())]
    assert sorted(names) == ["TFLITE_METADATA", "zooft_metadata"]
    assert md.read(twice)["name"] == "second" and md.packed_files(twice) == {"labels.txt": b"b\n"}


def test_bert_tokenizer_spec_sets_parser_version_and_packs_the_vocabulary() -> None:
    inputs = ["ids", "mask", "segment_ids"]
    spec = {
        "inputs": [{"name": n, "signature_key": n, "content": {"kind": "feature"}} for n in inputs],
        "outputs": [{"name": "score", "content": {"kind": "feature"},
                     "associated_files": [{"name": "labels.txt", "type": "TENSOR_AXIS_LABELS"}]}],
        "input_process_units": [{"bert_tokenizer": {"vocab_file": [{"name": "vocab.txt", "type": "VOCABULARY"}]}}],
    }
    assert md.min_parser_version(spec) == "1.1.0"
    out = md.populate(tflite_model(inputs, ["probabilities"]), spec, {"labels.txt": "x\n", "vocab.txt": "[PAD]\n"})
    back = md.read(out)
    assert back["input_process_units"] == [{"bert_tokenizer": {"vocab_file": [{"name": "vocab.txt", "type": "VOCABULARY"}]}}]
    assert back["min_parser_version"] == "1.1.0" and sorted(md.packed_files(out)) == ["labels.txt", "vocab.txt"]


def test_plain_image_spec_needs_only_parser_1_0_0() -> None:
    spec = image_spec({"input_size": [32, 40], "input_range": [0, 255], "run": "r", "task": "classify"}, ["a", "b"],
                      {"inputs": {"image": {"shape": [1, 32, 40, 3]}}, "outputs": {"probabilities": {"shape": [1, 2]}}})
    assert spec is not None and md.min_parser_version(spec) == "1.0.0"
    assert spec["inputs"][0]["content"] == {"kind": "image", "color_space": "RGB", "width": 40, "height": 32}
    assert spec["outputs"][0]["associated_files"][0]["type"] == "TENSOR_AXIS_LABELS"


@pytest.mark.parametrize(
    ("change", "files", "message"),
    [
        (lambda s: s.update(colour="red"), {"labels.txt": ""}, r"unknown key\(s\) 'colour' in the metadata spec"),
        (lambda s: s["outputs"].pop(), {"labels.txt": ""}, r"3 output tensor spec\(s\) for a model with 4 output"),
        (lambda s: s["outputs"][0].update(signature_key="boxes"), {"labels.txt": ""}, r"signature_key\(s\) \['boxes'\] not in"),
        (lambda s: s["outputs"][0]["content"].update(type="OVAL"), {"labels.txt": ""}, r"box type='OVAL'; allowed"),
        (lambda s: None, {}, r"files named in the metadata \['labels.txt'\] differ from the files given \[\]"),
        (lambda s: s["inputs"][0].update(process_units=[{"normalise": {}}]), {"labels.txt": ""}, r"kind='normalise'"),
    ],
)
def test_bad_specs_fail_with_the_offending_key(change: Any, files: dict[str, str], message: str) -> None:
    spec = detector_spec()
    change(spec)
    with pytest.raises(zooft.ExportError, match=message):
        md.populate(tflite_model(["image"], OUTPUTS), spec, files)


def test_task_spec_takes_run_fields_and_labels_from_the_exporter() -> None:
    metadata: dict[str, Any] = {"run": "flowers", "license": "Apache-2.0", "task": "detect",
                                "tflite_metadata": {"spec": detector_spec() | {"name": None}, "files": {}}}
    metadata["tflite_metadata"]["spec"].pop("name")
    spec, files = standard_metadata(metadata, ["cat", "dog"], {})
    assert "tflite_metadata" not in metadata  # popped: zooft's JSON does not repeat it
    assert spec["name"] == "flowers" and spec["license"] == "MIT"  # the task's own value wins
    assert files == {"labels.txt": "cat\ndog\n"}
