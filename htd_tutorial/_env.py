"""Yes/no environment variables: the one parser of every switch of the package and of its tests.

``HTD_STRICT_CLAIMS`` (a failed lesson claim stops the notebook), ``HTD_REQUIRE_DATA`` (missing data
is an error, not synthetic data or a skipped test), ``HTD_REQUIRE_BROWSER`` (a missing Chromium fails
the browser test), ``HTD_ALLOW_DOWNLOAD`` and a notebook's true/false settings (``HTD_LAB_LIVE``, read
by :func:`htd_tutorial.param`) all accept the same words, in any case and with spaces around them:
:data:`YES` and :data:`NO`. Any other value is an error naming the variable and these words, so that
a typo (``2``, ``maybe``) never quietly turns a check off.

Free of torch and of the rest of the package: ``tests/conftest.py`` reads the flags before anything
imports torch.
"""
from __future__ import annotations

import os

__all__ = ["YES", "NO", "ACCEPTED", "yes_no", "env_flag"]

#: The values that mean yes.
YES = ("1", "true", "yes", "on")
#: The values that mean no.
NO = ("0", "false", "no", "off")
#: The accepted values, as the error messages list them.
ACCEPTED = f"{', '.join(YES)} (yes) or {', '.join(NO)} (no)"


def yes_no(name: str, raw: str) -> bool:
    """``raw``, the value of the variable ``name``, as a bool; ValueError naming both and :data:`ACCEPTED`."""
    value = raw.strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError(f"{name}={raw!r} is not a yes/no value: use one of {ACCEPTED}")


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` says yes; unset or empty is no.

    Raises
    ------
    ValueError
        Any other value than :data:`YES`, :data:`NO` or an empty one, naming the variable.
    """
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return False
    return yes_no(name, raw)
