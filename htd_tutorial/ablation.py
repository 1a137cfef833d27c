"""Moved to :mod:`htd_tutorial.paper.ablation`: an alias for one release, so a saved notebook still runs."""
import sys; from .paper import ablation as _moved; sys.modules[__name__] = _moved  # noqa: E702,E401
