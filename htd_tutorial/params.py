"""Notebook settings that a lecturer can change without editing code.

Each notebook's ``parameters`` cell reads its settings with :func:`param`: the value comes from
the environment variable ``HTD_<NAME>`` when it is set, else from the shipped default. A bad
value stops the notebook right there with a message naming the setting and what is allowed.
"""
from __future__ import annotations

import os

from ._env import ACCEPTED, yes_no

__all__ = ["param"]


def param(name: str, default, *, value_type: type | None = None, choices=None, low=None, high=None):
    """Read setting ``name`` from ``$HTD_<NAME>`` (or use ``default``) and validate it.

    Parameters
    ----------
    name : str
        Setting name, e.g. ``"epochs"`` (environment variable ``HTD_EPOCHS``).
    default
        Shipped value (what CI runs and what the notebook's assertions are checked against).
    value_type : type, optional
        ``int``, ``float``, ``str`` or ``bool``; default: the type of ``default``.
    choices : iterable, optional
        Allowed values.
    low, high : number, optional
        Inclusive bounds for numbers.

    Returns
    -------
    The validated value.

    Raises
    ------
    ValueError
        Naming the setting, the bad value and the allowed values.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    value_type = value_type or type(default)
    env = f"HTD_{name.upper()}"
    raw = os.environ.get(env)
    source = f"environment variable {env}={raw!r}" if raw is not None else f"setting {name}={default!r}"
    allowed = _describe(value_type, choices, low, high)
    value = default
    if raw is not None:
        try:
            if value_type is bool:
                value = yes_no(env, raw)
            else:
                value = value_type(raw.strip())
        except ValueError:
            raise ValueError(f"{source} is not valid: expected {allowed}") from None
    if value_type in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"{source} is not valid: expected {allowed}")
    if choices is not None and value not in tuple(choices):
        raise ValueError(f"{source} is not valid: expected {allowed}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{source} is not valid: expected {allowed}")
    return value


def _describe(value_type: type, choices, low, high) -> str:
    if choices is not None:
        return "one of " + ", ".join(repr(c) for c in choices)
    names = {int: "an integer", float: "a number", str: "a string", bool: f"yes or no: one of {ACCEPTED}"}
    text = names.get(value_type, value_type.__name__)
    if low is not None and high is not None:
        return f"{text} from {low} to {high}"
    if low is not None:
        return f"{text} >= {low}"
    if high is not None:
        return f"{text} <= {high}"
    return text
