"""The ``detect`` task: SSD/SSDLite on a backbone's feature maps, COCO mAP, exports with NMS.

Keras and TensorFlow are imported inside methods only (``zooft_detect.plugin`` stays light).
The optional task hooks (``make_dataset``, ``export_model``, ``export_inputs``, ``parity``) and
``predict_files`` (pixel boxes for ``zooft predict``) are implemented here; the maths lives in
the numpy modules (:mod:`.boxes`, :mod:`.anchors`, :mod:`.postprocess`, :mod:`.cocoeval`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import zooft

from .boxes import CROWD, DIFFICULT, OBJECT, NMSConfig
from .options import parse_augment, resolve_options

#: Export formats that keep NMS inside the graph; TFLite builtins have no combined NMS kernel
#: (seen with TensorFlow 2.21's converter), so TFLite exports raw boxes and scores and NMS
#: runs host-side.
NMS_IN_GRAPH = ("savedmodel", "onnx")


def _nms_settings(source: Mapping[str, Any] | None) -> NMSConfig:
    """NMS settings from an export's metadata (``postprocess``) or a run's config."""
    source = source or {}
    if isinstance(source.get("postprocess"), Mapping):
        return NMSConfig.from_dict(dict(source["postprocess"]))
    return resolve_options(source).nms()


def _resize_mode(source: Mapping[str, Any] | None) -> str:
    source = source or {}
    if isinstance(source.get("postprocess"), Mapping):
        return str(source["postprocess"].get("resize", "plain"))
    return str(resolve_options(source)["resize"])


class DetectTask:
    """Object detection: boxes + classes per image."""

    name = "detect"

    # -- model ---------------------------------------------------------------------------
    def build_model(self, backbone: zooft.Backbone, classes: list[str], config: dict[str, Any]) -> Any:
        """Raw image -> backbone maps -> SSD head: outputs ``offsets``, ``boxes`` (decoded), ``logits``."""
        from .head import build_detector

        if not classes:
            raise zooft.DataError("detection needs at least one object class", hint="check the data's categories")
        return build_detector(backbone, classes, resolve_options(config))

    def compile_args(self, classes: list[str], config: dict[str, Any]) -> dict[str, Any]:
        """Losses per output: box loss on ``offsets``, class loss on ``logits`` (none on ``boxes``)."""
        from . import losses

        options = resolve_options(config)
        if options["box_loss"] == "giou":
            size = config.get("image_size")
            if not size:
                raise zooft.ConfigError("box_loss=giou needs the run's image_size")
            box_loss = losses.giou_loss_fn(options.anchors((int(size[0]), int(size[1]))))
        else:
            box_loss = losses.smooth_l1_loss
        if options["class_loss"] == "focal":
            class_loss = losses.focal_loss_fn()
        else:
            class_loss = losses.hard_negative_loss_fn(options["neg_pos_ratio"])
        return {"loss": {"offsets": box_loss, "logits": class_loss}}

    # -- data ----------------------------------------------------------------------------
    def target(self, example: zooft.Example, num_classes: int) -> dict[str, np.ndarray]:
        """``{"boxes": (M, 4) pixel xyxy, "labels": (M,)}`` of one example."""
        found = self.targets([example], num_classes)
        return {k: v[0] for k, v in found.items()}

    def targets(self, examples: list[zooft.Example], num_classes: int) -> dict[str, np.ndarray]:
        """Objects of every example, padded to the largest count: ``boxes (n, M, 4)`` pixel
        ``[x0, y0, x1, y1]``, ``labels (n, M)`` (-1 = padding) and ``kinds (n, M)``
        (:data:`.boxes.OBJECT`, ``CROWD`` from ``target["iscrowd"]``, ``DIFFICULT`` from
        ``target["difficult"]``)."""
        per = []
        for ex in examples:
            target = ex.target or {}
            boxes = np.asarray(target.get("boxes") or [], dtype=np.float32).reshape(-1, 4)
            labels = np.asarray(target.get("labels") or [], dtype=np.int64).reshape(-1)
            kinds = np.full(len(labels), OBJECT, np.int32)
            for key, kind in (("difficult", DIFFICULT), ("iscrowd", CROWD)):
                flags = np.asarray(target.get(key) or np.zeros(len(labels)), dtype=bool).reshape(-1)
                if len(flags) != len(labels):
                    raise zooft.DataError(f"{ex.source}: {len(labels)} labels but {len(flags)} {key} flags")
                kinds[flags] = kind
            if len(boxes) != len(labels):
                raise zooft.DataError(f"{ex.source}: {len(boxes)} boxes but {len(labels)} labels")
            if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
                raise zooft.DataError(f"{ex.source}: class index outside 0..{num_classes - 1}: {labels.tolist()}")
            per.append((boxes, labels, kinds))
        m = max([1, *(len(lbl) for _, lbl, _ in per)])
        boxes_out = np.zeros((len(per), m, 4), np.float32)
        labels_out = np.full((len(per), m), -1, np.int32)
        kinds_out = np.zeros((len(per), m), np.int32)
        for i, (boxes, labels, kinds) in enumerate(per):
            boxes_out[i, : len(labels)] = boxes
            labels_out[i, : len(labels)] = labels
            kinds_out[i, : len(labels)] = kinds
        return {"boxes": boxes_out, "labels": labels_out, "kinds": kinds_out}

    def class_weights(self, data: zooft.LabeledData, mode: str | None) -> None:
        """Not supported for detection (the class loss balances with hard negatives / focal)."""
        if mode not in (None, "none"):
            raise zooft.ConfigError(f"--class-weight {mode} is not supported by 'detect'", hint="leave --class-weight out")
        return None

    def make_dataset(
        self, examples: list[zooft.Example], targets: Any, *, config: dict[str, Any], image_size: Sequence[int],
        batch_size: int, training: bool, shuffle_seed: int | None, cache: str | None = None,
    ) -> Any:
        """The detection pipeline (:mod:`.pipeline`): box-aware augmentation and anchor matching."""
        from .pipeline import make_detection_dataset

        options = resolve_options(config)
        targets = targets if targets is not None else self.targets(examples, 1 << 30)
        size = (int(image_size[0]), int(image_size[1]))
        return make_detection_dataset(
            [ex.source for ex in examples], targets["boxes"], targets["labels"],
            anchors=options.anchors(size), matching=options.matching(), resize=options["resize"],
            batch_size=batch_size, training=training,
            augments=parse_augment(config.get("augment", "default")) if training else (),
            shuffle_seed=shuffle_seed, cache=cache, kinds=targets.get("kinds"),
            ignore_difficult=options["difficult"] == "ignore",
        )

    # -- evaluation and prediction -------------------------------------------------------
    def evaluate(self, model: Any, dataset: Any, classes: list[str], config: dict[str, Any]) -> dict[str, Any]:
        """COCO metrics (pycocotools) on a dataset from :meth:`make_dataset`: ``map``, ``map_50``,
        ``map_75``, ``per_class``, ``pr_curves``; detections post-processed exactly as predict does."""
        from .cocoeval import ImageRecord, coco_metrics
        from .pipeline import letterbox_params
        from .postprocess import detections, to_original

        options = resolve_options(config)
        settings, resize = options.nms(), options["resize"]
        size = tuple(model.inputs[0].shape[1:3])
        records = []
        for batch in dataset:
            images, truth = batch[0], batch[1]["boxes"].numpy()
            # model.predict, as 'zooft predict' runs it (its results do not depend on the batch size,
            # while an eager call differs by ~1e-6): eval and predict --json then score identically
            outputs = model.predict(images, verbose=0)
            for found, rows in zip(detections(outputs, settings), truth):
                width, height = float(rows[0, 5]), float(rows[0, 6])
                params = letterbox_params(width, height, size, resize)
                objects = rows[rows[:, 4] >= 0]
                records.append(ImageRecord(
                    width=width, height=height, gt_boxes=objects[:, :4] * [width, height, width, height],
                    gt_labels=objects[:, 4].astype(np.int64), boxes=to_original(found["boxes"], width, height, params),
                    scores=found["scores"], classes=found["classes"], gt_kinds=objects[:, 7].astype(np.int64),
                ))
        if not records:
            raise zooft.DataError("cannot evaluate on an empty dataset", hint="check the validation/test split")
        return {**coco_metrics(records, classes), "samples": len(records), "postprocess": settings.to_dict()}

    def postprocess(self, outputs: Any, classes: list[str], top_k: int = 1, settings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Detections per image, boxes normalised to the model input (no original sizes known here;
        ``zooft predict`` uses :meth:`predict_files` for pixel boxes)."""
        from .postprocess import as_json, detections

        if not isinstance(outputs, Mapping):
            raise zooft.DataError("detection outputs must be a dict of arrays (boxes, scores/logits …)")
        found = detections(outputs, _nms_settings(settings))
        return [{"detections": as_json(f, classes, 1.0, 1.0, (1.0, 1.0, 0.0, 0.0))} for f in found]

    def predict_files(
        self, run_model: Any, files: Sequence[str], *, classes: list[str], input_size: Sequence[int],
        settings: Mapping[str, Any], draw_dir: str | Path | None = None,
    ) -> list[dict[str, Any]]:
        """``zooft predict`` for detection: one row per file with pixel boxes, labels and scores.

        ``run_model(images) -> {name: array}`` runs the run's Keras model or an artifact;
        ``settings`` is the run's config or the artifact's metadata (NMS settings, resize mode).
        With ``draw_dir``, a copy of each image with its boxes drawn is written there.
        """
        from .pipeline import letterbox_params, load_images
        from .postprocess import as_json, detections

        nms, resize = _nms_settings(settings), _resize_mode(settings)
        images, sizes = load_images(files, input_size, resize)
        found = detections(run_model(images), nms)
        rows = []
        for path, f, (width, height) in zip(files, found, sizes):
            params = letterbox_params(float(width), float(height), input_size, resize)
            rows.append({"file": str(path), "width": int(width), "height": int(height),
                         "detections": as_json(f, classes, float(width), float(height), params)})
        if draw_dir is not None:
            from .draw import draw_detections

            post = settings.get("postprocess")
            threshold = float(post.get("draw_threshold", 0.3)) if isinstance(post, Mapping) else float(
                resolve_options(settings)["draw_threshold"])
            for row in rows:
                row["drawn"] = str(draw_detections(row, Path(draw_dir), threshold))
        return rows

    # -- export hooks --------------------------------------------------------------------
    def export_model(self, model: Any, format: str, metadata: dict[str, Any]) -> Any:  # noqa: A002
        """NMS in the graph for SavedModel and ONNX; for TFLite the ``TFLite_Detection_PostProcess``
        op (exporter option ``postprocess=op``, the default) or decoded boxes + class probabilities
        (``postprocess=raw``, host-side NMS).

        Adds ``postprocess`` (NMS settings, resize mode, output form, box format) to ``metadata``;
        with the op also ``tflite_custom_ops`` and ``tflite_metadata`` (the standard metadata
        on-device clients read, docs/plugins.md).
        """
        import keras

        from .head import anchor_config_of, postprocess_of

        settings = postprocess_of(model)
        nms = NMSConfig.from_dict(settings)
        if format == "tflite" and (metadata.get("options") or {}).get("postprocess", "op") == "op":
            from .tflite_op import OP_NAME, client_metadata, op_export_model

            num_classes, anchors = int(model.output["logits"].shape[-1]) - 1, anchor_config_of(model)
            export, attrs = op_export_model(model, anchors, nms, num_classes)
            metadata["tflite_metadata"] = client_metadata(anchors.image_size, num_classes, attrs)
            metadata["postprocess"] = {
                **settings, "outputs": "op", "op": attrs,
                "box_format": "ymin,xmin,ymax,xmax normalised to the model input (detection_boxes, clipped to 0-1)",
                "host_side": None,
            }
            metadata["tflite_custom_ops"] = [OP_NAME]
            return export
        boxes, logits = model.output["boxes"], model.output["logits"]
        scores = keras.layers.Softmax(axis=-1, name="softmax", dtype="float32")(logits)[..., 1:]
        in_graph = format in NMS_IN_GRAPH and nms.mode == "per_class"
        if in_graph:
            from .layers import nms_layer

            outputs = nms_layer(nms.to_dict())(boxes, scores)
        else:
            outputs = {"boxes": boxes, "scores": scores}
        metadata["postprocess"] = {
            **settings,
            "outputs": "nms" if in_graph else "raw",
            "box_format": "x0,y0,x1,y1 normalised to the model input",
            "host_side": None if in_graph else "zooft_detect.boxes.postprocess: per-class greedy NMS (docs/detection.md)",
        }
        return keras.Model(model.inputs, outputs, name=f"zooft_detector_{format}")

    def export_inputs(self, raw: Any, metadata: dict[str, Any]) -> Any:
        """Images go in unchanged (float32 0–255 at the input size)."""
        return raw

    def parity(
        self, reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray], *, classes: list[str],
        quantize: str | None = None, targets: Any = None, **_: Any,
    ) -> tuple[dict[str, Any], dict[str, float]]:
        """Compare detections (see :mod:`.parity`)."""
        from .parity import detection_parity

        return detection_parity(reference, candidate, classes=classes, quantize=quantize, targets=targets)
