"""Input checks that several public entry points of the library share: one rule and one message each.

The library validates at its boundary (``RunConfig``, ``make_distiller`` and the distillers, the
topology metrics, ``make_model``, ``train``) and hands typed values inward. A rule used in more than
one of those places lives here, so that the same input is accepted or refused everywhere (a NumPy
integer is an integer; a bool is not).
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["positive_int", "embedding_table"]


def positive_int(name: str, value) -> int:
    """``value`` as an ``int`` if it is a whole number >= 1 (Python or NumPy, not bool); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def embedding_table(name: str, table, *, non_empty: bool = False, floating: bool = False) -> torch.Tensor:
    """``table`` (tensor or NumPy array) as a detached 2-D tensor of at least one column; ValueError otherwise.

    ``non_empty`` also refuses a table without rows, ``floating`` one of integers. Dtype, device and
    the check for NaN/inf are the caller's (their messages say what the table is for).
    """
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
