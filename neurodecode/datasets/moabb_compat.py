"""Helpers for subclassing MOABB datasets under names MOABB does not expect."""
from __future__ import annotations

import contextlib
import logging

__all__ = ["any_class_name"]


@contextlib.contextmanager
def any_class_name():
    """Silence MOABB's warning that a dataset class name is not an abbreviation of its code.

    Wrapper datasets (local files, preprocessed views) keep the code of the
    data they hold, so that warning does not apply to them.
    """
    log = logging.getLogger("moabb.datasets.base")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)
