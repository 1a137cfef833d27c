"""Authors' code vs the paper's text: one library-wide setting, and what it changes in each loss.

``mode`` (``RunConfig.mode``, ``make_distiller(mode=...)``, ``--mode`` on the command line) is not an
HTD option: it picks how *every* distillation behaves where the authors' code
(github.com/SeongKu-Kang/Topology_Distillation_KDD21) and the paper's text differ.

- ``"authors"``: as the authors' code does it (the default; the stored results use it);
- ``"clean"``: as we read the paper (see :mod:`htd_tutorial.losses.htd` for the reasons).

:data:`MODE_SWITCHES` is the whole difference, switch by switch, and :data:`USED_BY` says which
loss reads which switch. FTD (:func:`cosine_eps`), DE (:func:`tau_lag`) and HTD
(:meth:`htd_tutorial.losses.HTDOptions.preset`) all read their values from here; an HTD ablation
flips the switches one at a time (:meth:`~htd_tutorial.losses.HTDOptions.ablation`).

| switch | authors | clean | read by |
| --- | --- | --- | --- |
| ``eps`` (cosine guard) | 0 (plain cosine) | 1e-8 | FTD, HTD |
| ``tau_lag`` (temperature one epoch late) | True | False | DE, HTD |
| ``proto_grad`` (gradients through prototypes) | False | True | HTD |
| ``positive_teacher_pairs_only`` (entity level) | True | False | HTD |
| ``mask_pe`` ((P,e) leaves out a group's own members) | False | True | HTD |
| ``same_type_only`` (group level per entity type) | False | True | HTD |

FitNet and the plain student do not depend on the mode. The mode enters the cache key of a run
(:class:`htd_tutorial.config.RunConfig`); changing a value here changes what a cached run
means, so it needs a new :data:`htd_tutorial.cache.CACHE_VERSION`.
"""
from __future__ import annotations

from ._checks import one_of
from .choices import HTD_MODES

__all__ = ["MODES", "MODE_SWITCHES", "USED_BY", "CLEAN_EPS", "switches", "cosine_eps", "tau_lag"]

#: The accepted modes (the same tuple as :data:`htd_tutorial.choices.HTD_MODES`, whose name is historical).
MODES = HTD_MODES

CLEAN_EPS = 1e-8
"""Cosine guard of the clean mode (norms are clamped to at least this)."""

#: Every switch on which the two modes differ, with its value in each mode.
MODE_SWITCHES: dict[str, dict[str, object]] = {
    "authors": {"proto_grad": False, "positive_teacher_pairs_only": True, "mask_pe": False,
                "same_type_only": False, "eps": 0.0, "tau_lag": True},
    "clean": {"proto_grad": True, "positive_teacher_pairs_only": False, "mask_pe": True,
              "same_type_only": True, "eps": CLEAN_EPS, "tau_lag": False},
}

#: Which distillation methods read each switch.
USED_BY: dict[str, tuple[str, ...]] = {
    "eps": ("ftd", "htd"), "tau_lag": ("de", "htd"), "proto_grad": ("htd",),
    "positive_teacher_pairs_only": ("htd",), "mask_pe": ("htd",), "same_type_only": ("htd",),
}

assert tuple(MODE_SWITCHES) == MODES and all(set(v) == set(USED_BY) for v in MODE_SWITCHES.values())


def switches(mode: str) -> dict[str, object]:
    """All switches of ``mode`` (a copy); ValueError naming ``mode`` if it is not one of :data:`MODES`."""
    return dict(MODE_SWITCHES[one_of("mode", mode, MODES)])


def cosine_eps(mode: str) -> float:
    """The cosine guard FTD (and HTD) use in ``mode``: 0 for the authors' plain cosine, 1e-8 when clean."""
    return switches(mode)["eps"]


def tau_lag(mode: str) -> bool:
    """Whether DE's (and HTD's) Gumbel temperature runs one epoch late in ``mode`` (the authors' loop)."""
    return switches(mode)["tau_lag"]
