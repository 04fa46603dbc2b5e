"""The training core: small functions composed by :func:`zooft.train.tune.tune`."""
