"""Pictures: ``style`` (one colour and label per method, axes helpers), ``capacity`` (data counts,
training curves, the capacity gap), ``topology`` (notebooks 02-03), ``analysis`` (notebooks 04 and 06,
the ablation), ``maps`` (2-D UMAP/PCA maps of embedding spaces and their alignment) and ``seeds``
(curves with error bars and paired differences over seeds).

Each ``plot_*`` function only draws what the library computed. Every one of them returns the
matplotlib Figure it drew, and a chart on one axes takes ``ax`` (draw there; default: a new figure,
see :func:`~.style.get_ax`): their docstrings leave both out and list only what is particular. ``from htd_tutorial import plots``
then ``plots.plot_capacity_gap(...)`` works as before the split: the names of ``style`` and
``capacity`` are read from here.
"""
from .capacity import *  # noqa: F401,F403
from .capacity import __all__ as _capacity_all
from .style import *  # noqa: F401,F403
from .style import __all__ as _style_all

__all__ = [*_style_all, *_capacity_all]
