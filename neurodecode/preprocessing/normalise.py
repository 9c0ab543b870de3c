"""Normalisation steps: exponential moving standardisation and Euclidean alignment."""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .base import RawStep, WindowStep

__all__ = ["ExponentialMovingStandardize", "EuclideanAlignment"]


class ExponentialMovingStandardize(RawStep):
    """braindecode's exponential moving standardisation, per channel, in time order.

    The data are scaled by ``scale`` first (``1e6``: volts to µV) so that
    ``eps`` acts on the usual scale of EEG. The output is unitless. With
    ``init_block_size=None`` it uses past samples only.
    """

    name = "exp_moving_standardize"
    libraries = ("braindecode", "numpy")

    def __init__(self, factor_new: float = 1e-3, init_block_size: int | None = None,
                 eps: float = 1e-4, scale: float = 1e6):
        self.factor_new = factor_new
        self.init_block_size = init_block_size
        self.eps = eps
        self.scale = scale
        if not 0 < factor_new <= 1:
            raise ConfigError(f"exp_moving_standardize: factor_new must be in (0, 1], got {factor_new!r}")

    @property
    def is_causal(self) -> bool:
        return self.init_block_size is None

    def apply(self, raw):
        from braindecode.preprocessing import exponential_moving_standardize

        raw.apply_function(
            lambda x: exponential_moving_standardize(x * self.scale, self.factor_new,
                                                     self.init_block_size, self.eps),
            picks="data", channel_wise=False)
        return raw

    def streaming_stage(self, info):
        """braindecode's ratio of first-order filters, with their state carried over."""
        from .base import data_channels
        from .stages import Rows

        rows = data_channels(info)
        return Rows(rows, _MovingStandardizer(self, len(rows))), info


class _MovingStandardizer:
    """:func:`braindecode.preprocessing.exponential_moving_standardize` chunk by chunk."""

    def __init__(self, step, n_channels: int):
        self.scale, self.eps, self.a = step.scale, step.eps, 1.0 - step.factor_new
        self.zn = np.zeros((n_channels, 1))
        self.zsq = np.zeros((n_channels, 1))
        self.zd = np.zeros(1)

    def __call__(self, x):
        from scipy.signal import lfilter

        x = x * self.scale
        den = [1.0, -self.a]
        d, self.zd = lfilter([1.0], den, np.ones(x.shape[1]), zi=self.zd)
        n, self.zn = lfilter([1.0], den, x, axis=1, zi=self.zn)
        demeaned = x - n / d
        sq, self.zsq = lfilter([1.0], den, demeaned * demeaned, axis=1, zi=self.zsq)
        return demeaned / np.maximum(self.eps, np.sqrt(sq / d))


class EuclideanAlignment(WindowStep):
    """Re-centre the trial covariances of each group (subject, session) on the identity.

    Composes MOABB's :class:`moabb.datasets.preprocessing.EuclideanAlignment`
    (He & Wu 2020), fitted separately on every group of windows that share
    the values of ``by`` in the metadata. With ``estimator="scm"`` the mean
    covariance of each group is the identity.
    """

    name = "euclidean_alignment"
    libraries = ("moabb", "pyriemann", "numpy", "scipy")

    def __init__(self, estimator: str = "scm", by: list = ("subject", "session")):
        self.estimator = estimator
        self.by = by

    def apply(self, X, metadata):
        from ..moabb_api import EuclideanAlignment as MoabbEA

        missing = [c for c in self.by if c not in metadata.columns]
        if missing:
            raise ConfigError(f"euclidean_alignment: metadata has no column {missing}")
        out = np.empty(X.shape, dtype=np.float32)
        for _, idx in metadata.groupby(list(self.by), sort=False).indices.items():
            out[idx] = MoabbEA(estimator=self.estimator).fit_transform(np.asarray(X[idx]))
        return out, metadata
