"""Input checks that the public entry points of the library share: one rule and one message each.

The library validates at its boundary (the configurations of :mod:`htd_tutorial.config`, the losses'
functions, the topology metrics, ``make_model``, the data loaders) and hands typed values inward.
Every rule lives here, so that the same input is accepted or refused everywhere: a NumPy integer is
an integer, a bool is neither an integer nor a number, and a message always starts with the name of
the bad field.
"""
from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

__all__ = ["is_integer", "positive_int", "integer", "cutoffs", "finite_number", "positive_number", "flag", "one_of",
           "known", "instance_of", "replace_fields", "embedding_table"]


def is_integer(value) -> bool:
    """Whether ``value`` is a whole number in the library's sense: a Python or NumPy integer, not a bool."""
    return not isinstance(value, bool) and isinstance(value, (numbers.Integral, np.integer))


def positive_int(name: str, value) -> int:
    """``value`` as an ``int`` if it is a whole number >= 1 (Python or NumPy, not bool); ValueError otherwise."""
    if not is_integer(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def integer(name: str, value, *, low: int) -> int:
    """``value`` as an ``int`` if it is a whole number >= ``low`` (Python or NumPy, not bool); ValueError otherwise."""
    if not is_integer(value):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if int(value) < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value}")
    return int(value)


def cutoffs(ks, n_items: int) -> tuple[int, ...]:
    """``ks`` as a tuple of ints, or ValueError: a non-empty sequence of integer cut-offs in ``1..n_items``.

    The metric cut-offs of every entry point that evaluates (:func:`htd_tutorial.training.train`
    checks them before it trains, so a bad ``ks`` does not cost a whole run). Floats are rejected
    rather than truncated: ``10.5`` is not the cut-off 10.
    """
    if isinstance(ks, (str, bytes)) or not hasattr(ks, "__iter__"):
        raise ValueError(f"ks must be a non-empty sequence of integer cut-offs in 1..n_items={n_items}, got {ks!r}")
    ks = tuple(ks)
    if not ks:
        raise ValueError(f"ks must be a non-empty sequence of integer cut-offs in 1..n_items={n_items}, got ()")
    for k in ks:
        if not is_integer(k) or not 1 <= k <= n_items:
            raise ValueError(f"ks must be integer cut-offs in 1..n_items={n_items}, got {k!r} in {ks}")
    return tuple(int(k) for k in ks)


def finite_number(name: str, value, low: float | None = None, high: float | None = None) -> float:
    """``value`` as a ``float`` if it is a finite real number (not bool) in ``[low, high]``; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.integer, np.floating)) \
            or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ValueError(f"{name} must be in {bounds}, got {value!r}")
    return value


def positive_number(name: str, value, *, allow_zero: bool = False) -> float:
    """``value`` as a ``float`` if it is a real number (not bool, not NaN) > 0 (``allow_zero``: >= 0)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.integer, np.floating)) \
            or math.isnan(float(value)) or (value < 0 if allow_zero else value <= 0):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def flag(name: str, value) -> bool:
    """``value`` if it is ``True`` or ``False`` (not 0/1); ValueError otherwise."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def one_of(name: str, value, choices: tuple):
    """``value`` if it is one of ``choices``; ValueError ``"<name> must be one of (...), got ..."`` otherwise."""
    if not _among(value, choices):
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def known(what: str, value, choices: tuple):
    """``value`` if it is one of ``choices``; ValueError ``"unknown <what> ...; choose one of (...)"`` otherwise.

    The wording for a name picked from a list (a method, a model type, an optimiser).
    """
    if not _among(value, choices):
        raise ValueError(f"unknown {what} {value!r}; choose one of {choices}")
    return value


def instance_of(name: str, value, cls: type, *, optional: bool = False):
    """``value`` if it is a ``cls`` (or None when ``optional``); ValueError naming the type otherwise."""
    if not (isinstance(value, cls) or (optional and value is None)):
        raise ValueError(f"{name} must be {cls.__name__}{' or None' if optional else ''}, "
                         f"got {type(value).__name__}")
    return value


def replace_fields(obj, changes: dict, what: str):
    """A copy of the dataclass ``obj`` with ``changes``; ValueError naming any unknown field (``what``: their kind)."""
    fields = [f.name for f in dataclasses.fields(obj)]
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; they are {fields}")
    return dataclasses.replace(obj, **changes)


def _among(value, choices: tuple) -> bool:
    try:
        return value in choices
    except TypeError:       # an unhashable or incomparable value is not one of the names
        return False


def embedding_table(name: str, table, *, non_empty: bool = False, floating: bool = False):
    """``table`` (tensor or NumPy array) as a detached 2-D tensor of at least one column; ValueError otherwise.

    ``non_empty`` also refuses a table without rows, ``floating`` one of integers. Dtype, device and
    the check for NaN/inf are the caller's (their messages say what the table is for). Torch is imported
    here, not by the module: the configurations (:mod:`htd_tutorial.config`) use these checks without it.
    """
    import torch

    if isinstance(table, np.ndarray):
        table = torch.from_numpy(table)
    if not isinstance(table, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(table).__name__}")
    if table.dim() != 2 or table.shape[1] == 0 or (non_empty and table.shape[0] == 0):
        raise ValueError(f"{name} must be a {'non-empty ' if non_empty else ''}2-D table (entities x dim), "
                         f"got shape {tuple(table.shape)}")
    if floating and not table.is_floating_point():
        raise ValueError(f"{name} must hold floating-point embeddings, got dtype {table.dtype}")
    return table.detach()
