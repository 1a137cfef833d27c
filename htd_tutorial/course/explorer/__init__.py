"""The interactive topology explorer of notebook 05: move a slider, see how a student's space keeps the teacher's.

One module a role, so that everything but the wiring is testable without a browser:

- :mod:`.settings`: what the explorer offers and accepts (:class:`ExplorerSettings`, :data:`SHIPPED`,
  the methods and datasets) and every check of a setting;
- :mod:`.compute`: :class:`TopologyExplorer` trains or loads the runs of a setting, draws its 2-D maps
  and computes the numbers shown, each cached (:class:`ExplorerResult`), and what a d-dimensional student
  can hold of a training batch (:class:`CapacityView`, :mod:`htd_tutorial.capacity`);
- :mod:`.picture`: how one result looks: the figure of its two maps, their titles, the metrics table;
- :mod:`.widget`: :class:`ExplorerWidget`, the ipywidgets controls around a :class:`TopologyExplorer`;
- :mod:`.page`: the same pictures without a kernel, one offline HTML page
  (``python -m htd_tutorial.course.explorer.page``; not imported here, so that running it as a
  command loads it once).

A cold machine: UMAP needs numba to compile it (up to a minute), so the widget's first picture is
drawn with PCA (aligned the same way) while :meth:`TopologyExplorer.prepare_umap` compiles UMAP in a
background thread, and is replaced by the UMAP picture when it is ready.
``python -m htd_tutorial.course.warm_up`` does the compiling (and trains the teachers) ahead of time.
"""
from .compute import FIT_STEPS, PCA_NOTICE, RAW_2D, CapacityView, ExplorerResult, TopologyExplorer, preload_optimiser
from .picture import capacity_html, metrics_html, plot_result, result_titles
from .settings import (DEFAULT_EXPLORER_DATASET, EXPLORER_DATASETS, EXPLORER_METHODS, METHOD_CHOICES, SHIPPED,
                       ExplorerSettings)
from .widget import UMAP_PREPARING, ExplorerWidget

__all__ = ["ExplorerSettings", "SHIPPED", "METHOD_CHOICES", "EXPLORER_METHODS", "DEFAULT_EXPLORER_DATASET",
           "EXPLORER_DATASETS", "ExplorerResult", "TopologyExplorer", "preload_optimiser", "PCA_NOTICE",
           "RAW_2D", "plot_result", "metrics_html", "result_titles", "ExplorerWidget", "UMAP_PREPARING",
           "CapacityView", "FIT_STEPS", "capacity_html"]
