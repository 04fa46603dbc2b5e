"""The baseline: the Keras transfer-learning guide's recipe, written by hand as users do.

keras.io/guides/transfer_learning: ``image_dataset_from_directory``, a frozen base called with
``training=False``, GlobalAveragePooling → Dropout → Dense, ``fit``; then unfreeze the base,
recompile with a 10× lower learning rate and ``fit`` again. Same backbone and weights as the
zooft run it is compared with. Prints one JSON line with accuracy and wall time.

Where it differs from zooft by default (the guide's choices): once ``base.trainable = True``
the BatchNorm layers' γ/β train too (their moving statistics stay frozen, since the base is
called with ``training=False``), and the fine-tuning rate is constant. zooft keeps BatchNorm
wholly frozen and decays the fine-tuning rate with a cosine to 0. ``--freeze-bn`` and
``--cosine`` align the recipe with zooft on those two points. Images are decoded every epoch
(``image_dataset_from_directory``'s default); ``--cache`` keeps them as the guide's
``.cache()`` does.
"""

from __future__ import annotations

import argparse
import json
import time

START = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", help="folder with train/ val/ test/ class sub-folders")
    parser.add_argument("--weights", required=True, help="MobileNetV2 α=0.35 backbone .weights.h5")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fine-tune-epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--fine-tune-lr", type=float, default=None, help="default: lr / 10, as in the guide")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--freeze-bn", action="store_true", help="keep BatchNorm γ/β frozen while fine-tuning (as zooft)")
    parser.add_argument("--cosine", action="store_true", help="decay the fine-tuning rate to 0 by a cosine (as zooft)")
    parser.add_argument("--cache", action="store_true", help="keep the decoded batches in memory (the guide's .cache())")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    size = (args.image_size, args.image_size)

    def load(split: str, shuffle: bool) -> tf.data.Dataset:
        ds = keras.utils.image_dataset_from_directory(
            f"{args.data}/{split}", image_size=size, batch_size=args.batch_size,
            label_mode="categorical", shuffle=shuffle, seed=args.seed, verbose=False,
        )
        ds = ds.prefetch(tf.data.AUTOTUNE)
        # the guide's order: batch, prefetch, then cache (a cached training set keeps its first
        # epoch's order)
        return ds.cache() if args.cache else ds

    train_ds, val_ds, test_ds = load("train", True), load("val", False), load("test", False)
    num_classes = train_ds.element_spec[1].shape[-1]

    base = keras.applications.MobileNetV2(
        input_shape=(*size, 3), alpha=0.35, include_top=False, weights=args.weights
    )
    base.trainable = False
    inputs = keras.Input((*size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)

    model.compile(keras.optimizers.Adam(args.lr), "categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_ds, epochs=args.epochs, validation_data=val_ds, verbose=0)
    if args.fine_tune_epochs:
        base.trainable = True
        if args.freeze_bn:
            for layer in base.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
        fine_tune_lr = args.fine_tune_lr or args.lr / 10
        if args.cosine:
            fine_tune_lr = keras.optimizers.schedules.CosineDecay(fine_tune_lr, args.fine_tune_epochs * len(train_ds))
        model.compile(keras.optimizers.Adam(fine_tune_lr), "categorical_crossentropy", metrics=["accuracy"])
        model.fit(
            train_ds, epochs=args.epochs + args.fine_tune_epochs, initial_epoch=args.epochs,
            validation_data=val_ds, verbose=0,
        )
    _, accuracy = model.evaluate(test_ds, verbose=0)
    print(json.dumps({"accuracy": float(accuracy), "seconds": time.perf_counter() - START}))


if __name__ == "__main__":
    main()
