"""SSD losses (TensorFlow): box regression on positives, classification with hard negatives or focal.

Both are normalised by the number of positive anchors in the *batch* (SSD's ``1/N``): each
returns per-image values ``sum_i / N * batch`` so that Keras's mean over the batch gives
``sum / N``. Targets come from :func:`zooft_detect.boxes.encode_targets`.
"""

from __future__ import annotations

from typing import Any

from .anchors import AnchorConfig, make_anchors


def _normaliser(positives: Any) -> Any:
    import tensorflow as tf

    batch = tf.cast(tf.shape(positives)[0], tf.float32)
    return tf.maximum(tf.reduce_sum(positives), 1.0) / batch


def smooth_l1_loss(y_true: Any, y_pred: Any) -> Any:
    """Huber (delta 1) on SSD offsets of positive anchors; ``y_true`` is ``(n, A, 5)`` with the
    positive flag in column 4."""
    import tensorflow as tf

    y_true = tf.cast(y_true, tf.float32)
    positive = y_true[..., 4]
    diff = tf.abs(y_true[..., :4] - tf.cast(y_pred, tf.float32))
    huber = tf.where(diff < 1.0, 0.5 * diff * diff, diff - 0.5)
    per_image = tf.reduce_sum(tf.reduce_sum(huber, -1) * positive, -1)
    return per_image / _normaliser(positive)


def giou_loss_fn(anchor_config: AnchorConfig) -> Any:
    """``1 - GIoU`` between decoded predicted and matched boxes of positive anchors."""
    import tensorflow as tf

    from .layers import decode_tf

    anchors = make_anchors(anchor_config)
    variances = anchor_config.variances

    def giou_loss(y_true: Any, y_pred: Any) -> Any:
        y_true = tf.cast(y_true, tf.float32)
        positive = y_true[..., 4]
        a = tf.constant(anchors)
        truth = decode_tf(y_true[..., :4], a, variances)
        pred = decode_tf(tf.cast(y_pred, tf.float32), a, variances)
        lt, rb = tf.maximum(truth[..., :2], pred[..., :2]), tf.minimum(truth[..., 2:], pred[..., 2:])
        inter = tf.reduce_prod(tf.maximum(rb - lt, 0.0), -1)
        area_t = tf.reduce_prod(tf.maximum(truth[..., 2:] - truth[..., :2], 0.0), -1)
        area_p = tf.reduce_prod(tf.maximum(pred[..., 2:] - pred[..., :2], 0.0), -1)
        union = area_t + area_p - inter
        hull = tf.reduce_prod(
            tf.maximum(tf.maximum(truth[..., 2:], pred[..., 2:]) - tf.minimum(truth[..., :2], pred[..., :2]), 0.0), -1
        )
        giou = inter / tf.maximum(union, 1e-9) - (hull - union) / tf.maximum(hull, 1e-9)
        per_image = tf.reduce_sum((1.0 - giou) * positive, -1)
        return per_image / _normaliser(positive)

    return giou_loss


def hard_negative_loss_fn(neg_pos_ratio: float) -> Any:
    """Softmax cross-entropy over positives plus the ``neg_pos_ratio`` x hardest negatives per image.

    ``y_true``: ``(n, A)`` int labels (0 background, c+1 objects, -1 ignored). An image without
    objects still trains on a few negatives (as many as one positive would allow), so empty
    images teach "nothing here".
    """
    import tensorflow as tf

    def class_loss(y_true: Any, y_pred: Any) -> Any:
        labels = tf.cast(tf.reshape(y_true, tf.shape(y_pred)[:2]), tf.int32)
        logits = tf.cast(y_pred, tf.float32)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(labels, 0), logits=logits)
        positive = tf.cast(labels > 0, tf.float32)
        negative = tf.cast(labels == 0, tf.float32)
        n_pos = tf.reduce_sum(positive, -1)
        n_neg = tf.minimum(tf.maximum(n_pos, 1.0) * neg_pos_ratio, tf.reduce_sum(negative, -1))
        neg_ce = ce * negative - (1.0 - negative)  # non-negatives sort last
        rank = tf.argsort(tf.argsort(neg_ce, axis=-1, direction="DESCENDING", stable=True), axis=-1, stable=True)
        hard = tf.cast(tf.cast(rank, tf.float32) < n_neg[:, None], tf.float32) * negative
        per_image = tf.reduce_sum(ce * (positive + hard), -1)
        return per_image / _normaliser(positive)

    return class_loss


def focal_loss_fn(gamma: float = 2.0, alpha: float = 0.25) -> Any:
    """Softmax focal loss over every non-ignored anchor (RetinaNet's ``(1 - p_t)^gamma`` factor)."""
    import tensorflow as tf

    def focal_loss(y_true: Any, y_pred: Any) -> Any:
        labels = tf.cast(tf.reshape(y_true, tf.shape(y_pred)[:2]), tf.int32)
        logits = tf.cast(y_pred, tf.float32)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(labels, 0), logits=logits)
        p_t = tf.exp(-ce)
        positive = tf.cast(labels > 0, tf.float32)
        valid = tf.cast(labels >= 0, tf.float32)
        weight = (alpha * positive + (1.0 - alpha) * (1.0 - positive)) * tf.pow(1.0 - p_t, gamma)
        per_image = tf.reduce_sum(weight * ce * valid, -1)
        return per_image / _normaliser(positive)

    return focal_loss
