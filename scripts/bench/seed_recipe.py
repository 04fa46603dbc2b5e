"""The seed recipe users still copy: ``ImageDataGenerator.flow_from_directory`` + tf.keras.

Runs only under ``TF_USE_LEGACY_KERAS=1`` with tf_keras installed (``pip install zooft[bench]``):
``ImageDataGenerator`` is gone from Keras 3. The benchmarks start it as a subprocess with that
variable set; it never runs inside zooft. Two modes, each printing one JSON line:

- ``--pipeline-only``: images/s of ``flow_from_directory`` over the train split (``--epochs``
  passes, the same resize and batch size as zooft's pipeline), no model;
- default: the TF1-era transfer-learning script: MobileNetV2 α=0.35 frozen with a
  GlobalAveragePooling → Dropout → Dense head, ``fit`` on the generator, then unfreeze and
  ``fit`` again at a lower rate; test accuracy and wall time. Backbone weights come from an
  ``.npz`` of ``get_weights()`` (Keras 3 ``.weights.h5`` files do not load into tf_keras).
"""

from __future__ import annotations

import argparse
import json
import os
import time

START = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", help="folder with train/ val/ test/ class sub-folders")
    parser.add_argument("--weights-npz", help="backbone weights as an .npz of get_weights() arrays")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fine-tune-epochs", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--fine-tune-lr", type=float, default=None)
    parser.add_argument("--pipeline-only", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise SystemExit("run with TF_USE_LEGACY_KERAS=1 (ImageDataGenerator needs tf_keras)")

    import numpy as np
    import tensorflow as tf
    from tensorflow.keras.applications import MobileNetV2
    from tensorflow.keras.applications.mobilenet_v2 import preprocess_input
    from tensorflow.keras.preprocessing.image import ImageDataGenerator

    tf.keras.utils.set_random_seed(args.seed)
    size = (args.image_size, args.image_size)
    gen = ImageDataGenerator(preprocessing_function=preprocess_input)

    def flow(split: str, shuffle: bool):  # type: ignore[no-untyped-def]
        return gen.flow_from_directory(
            f"{args.data}/{split}", target_size=size, batch_size=args.batch_size,
            class_mode="categorical", shuffle=shuffle, seed=args.seed,
        )

    start = time.perf_counter()  # the directory scan counts, as zooft's pipeline set-up does
    train = flow("train", True)
    if args.pipeline_only:
        n = 0
        for _ in range(args.epochs):
            for i in range(len(train)):
                n += len(train[i][0])
            train.on_epoch_end()
        print(json.dumps({"images": n, "images_per_second": n / (time.perf_counter() - start)}))
        return
    val, test = flow("val", False), flow("test", False)
    base = MobileNetV2(input_shape=(*size, 3), alpha=0.35, include_top=False, weights=None)
    with np.load(args.weights_npz) as saved:
        base.set_weights([saved[k] for k in sorted(saved.files)])
    base.trainable = False
    model = tf.keras.Sequential([
        base,
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(train.num_classes, activation="softmax"),
    ])
    model.compile(tf.keras.optimizers.Adam(args.lr), "categorical_crossentropy", metrics=["accuracy"])
    model.fit(train, epochs=args.epochs, validation_data=val, verbose=0)
    if args.fine_tune_epochs:
        base.trainable = True
        for layer in base.layers:  # the usual advice: keep BatchNorm frozen
            if isinstance(layer, tf.keras.layers.BatchNormalization):
                layer.trainable = False
        model.compile(tf.keras.optimizers.Adam(args.fine_tune_lr or args.lr / 10), "categorical_crossentropy", metrics=["accuracy"])
        model.fit(train, epochs=args.epochs + args.fine_tune_epochs, initial_epoch=args.epochs, validation_data=val, verbose=0)
    _, accuracy = model.evaluate(test, verbose=0)
    print(json.dumps({"accuracy": float(accuracy), "seconds": time.perf_counter() - START}))


if __name__ == "__main__":
    main()
