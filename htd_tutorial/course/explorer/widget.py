"""The explorer's widget: a method selector, two sliders, the picture and the metrics (ipywidgets 7 and 8).

:class:`ExplorerWidget` only wires controls to :meth:`TopologyExplorer.compute
<htd_tutorial.course.explorer.compute.TopologyExplorer.compute>` and shows what it returns; it uses the
API common to ipywidgets 7 (Colab) and 8 (``tests/end_to_end/test_installed.py`` runs notebook 05 with 7.7.1).
The controls update on release (``continuous_update=False``).
"""
from __future__ import annotations

import dataclasses
import html
import threading
import time

from ...plots.maps import figure_png
from .compute import STAGES, ExplorerResult, TopologyExplorer
from .picture import capacity_html, metrics_html, provenance
from .settings import METHOD_CHOICES, METHOD_LABELS

__all__ = ["ExplorerWidget", "UMAP_PREPARING"]

#: Shown while UMAP is being prepared in the background and the maps are drawn with PCA meanwhile.
UMAP_PREPARING = ("UMAP is being prepared (numba compiles it once per machine: up to a minute on a cold one). "
                  "Meanwhile the maps use PCA, a linear projection that keeps the large-scale spread but not "
                  "the neighbourhoods; the picture is replaced by the UMAP one as soon as it is ready.")


class ExplorerWidget:
    """Sliders and pictures around a :class:`TopologyExplorer` (ipywidgets 7 and 8).

    Build it, then show ``ui.widget`` (the last line of a notebook cell). Changing a control calls
    :meth:`update`, which computes the new setting (progress bar and status line while it works),
    then replaces the picture and the metrics. A setting that cannot be shown puts a readable
    message in the message area; the controls stay usable.

    A first picture at once, even on a cold machine: while UMAP is not ready (numba compiles it once
    per machine, up to a minute), the maps are drawn with PCA and a message says so; UMAP is prepared
    in a background thread (:meth:`TopologyExplorer.prepare_umap`), and when it is ready the picture of
    the current setting is replaced by its UMAP one.

    Parameters
    ----------
    explorer : TopologyExplorer
    compute_now : bool
        Compute and show the initial setting right away.
    dpi : int
        Resolution of the picture.
    background_umap : bool
        Draw with PCA until UMAP is ready, preparing it in the background (for an explorer whose
        projection is ``"auto"``). ``False``: wait for UMAP before the first picture.

    Attributes
    ----------
    method, dim, groups : ipywidgets controls
        The method selector, the dimension slider and the K slider.
    progress, status, image, metrics, message, capacity : ipywidgets
        Progress bar, status line, picture (PNG), metrics table, message area, and what the dimension
        can hold of one batch (:meth:`TopologyExplorer.capacity`: the floors next to the errors the
        students reached).
    widget : ipywidgets.VBox
        Everything, laid out.
    last_result : ExplorerResult or None
    last_error : str or None
        The last message shown instead of a picture (None after a success).
    renders : int
        How many pictures were drawn (cached pictures are not redrawn).
    first_picture_seconds : float or None
        Time from building the widget to its first picture (None until there is one).

    Introduced in ``notebooks/05_explorer.ipynb``.
    """

    def __init__(self, explorer: TopologyExplorer, *, compute_now: bool = True, dpi: int = 80,
                 background_umap: bool = True):
        import ipywidgets as widgets

        built = time.perf_counter()

        if not isinstance(explorer, TopologyExplorer):
            raise ValueError(f"explorer must be a TopologyExplorer, got {type(explorer).__name__}")
        self.explorer, self.dpi = explorer, int(dpi)
        s = explorer.settings
        wide = {"description_width": "initial"}
        self.method = widgets.Dropdown(options=list(METHOD_CHOICES), value=s.method, description="Method",
                                       style=wide, layout=widgets.Layout(width="260px"))
        self.dim = widgets.SelectionSlider(options=list(s.dims), value=s.dim, description="Student dimension",
                                           continuous_update=False, style=wide, layout=widgets.Layout(width="330px"))
        self.groups = widgets.IntSlider(value=s.K, min=1, max=s.K_max, step=1, description="Groups K",
                                        continuous_update=False, style=wide, layout=widgets.Layout(width="330px"))
        self.progress = widgets.IntProgress(value=0, min=0, max=len(STAGES), layout=widgets.Layout(width="200px"))
        self.status = widgets.Label(value="")
        self.image = widgets.Image(value=b"", format="png",
                                   layout=widgets.Layout(width="680px", height="auto", flex="0 0 auto"))
        self.metrics = widgets.HTML(value="", layout=widgets.Layout(flex="0 0 auto"))
        self.message = widgets.HTML(value="")
        self.capacity = widgets.HTML(value="")
        self.widget = widgets.VBox([
            widgets.HBox([self.method, self.dim, self.groups]),
            widgets.HBox([self.progress, self.status]),
            self.message,
            widgets.HBox([self.image, self.metrics], layout=widgets.Layout(flex_flow="row wrap")),
            self.capacity,
        ])
        # CSS classes: stable handles for styling and for the browser test (tests/end_to_end/test_browser.py)
        self.widget.add_class("htd-explorer")
        for name in ("method", "dim", "groups", "progress", "status", "image", "metrics", "message", "capacity"):
            getattr(self, name).add_class(f"htd-explorer-{name}")
        self.last_result: ExplorerResult | None = None
        self.last_error: str | None = None
        self.renders = 0
        self.background_umap = bool(background_umap)
        self.first_picture_seconds: float | None = None
        self._built = built
        self._pictures: dict[tuple, bytes] = {}
        self._holding = False
        self._umap_requested = False
        self._update_lock = threading.RLock()   # a slider change and UMAP's arrival never draw at once
        for control in (self.method, self.dim, self.groups):
            control.observe(self._on_change, names="value")
        if compute_now:
            self.update()

    def _on_change(self, change) -> None:
        if not self._holding:
            self.update()

    def select(self, method: str | None = None, dim: int | None = None, K: int | None = None) -> ExplorerResult | None:
        """Set several controls at once and compute once (setting them one by one computes after each).

        Arguments left as None keep their control's value. Returns what :meth:`update` returns.
        """
        self._holding = True
        try:
            for control, value in ((self.method, method), (self.dim, dim), (self.groups, K)):
                if value is not None:
                    control.value = value
        finally:
            self._holding = False
        return self.update()

    def _stage(self, step: int, text: str) -> None:
        self.progress.value = step
        self.status.value = f"Working: {text}..."

    def _show_message(self, text: str, *, error: bool) -> None:
        color = "#b00020" if error else "#8a6d00"
        self.message.value = (f"<div class='htd-explorer-message' style='color:{color};padding:4px 0'>"
                              f"{'&#9888; ' if error else ''}{text}</div>")

    def update(self) -> ExplorerResult | None:
        """Compute the controls' current setting and show it; return the result (None after a message).

        Never raises: a bad setting (ValueError) or an unexpected failure becomes a message in the
        message area, and the previous picture stays.
        """
        with self._update_lock:
            return self._update()

    def _waiting_for_umap(self) -> bool:
        return (self.background_umap and self.explorer.projection_method == "auto"
                and not self.explorer.umap_ready())

    def _on_umap_ready(self) -> None:
        """Called once UMAP is ready (in the thread that prepared it): the PCA picture gives way to UMAP's."""
        try:
            if self.last_result is not None and self.last_result.projection == "PCA":
                self.update()
        except Exception:  # noqa: BLE001 (update never raises; this is only a guard for the thread)
            pass

    def wait_for_umap(self, timeout: float | None = None) -> bool:
        """Wait until UMAP's background preparation has ended and the picture was redrawn with it.

        Returns whether it has (True at once when nothing is being prepared). Code that reads
        :attr:`last_result` right after building the widget calls this first to get the UMAP result.
        """
        thread = self.explorer._umap_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _update(self) -> ExplorerResult | None:
        setting = (self.method.value, self.dim.value, self.groups.value)
        self.progress.bar_style = ""
        started = time.perf_counter()
        fast = self._waiting_for_umap()
        try:
            result = self.explorer.compute(*setting, on_stage=self._stage, projection="pca" if fast else None)
            self._stage(len(STAGES) - 1, STAGES[-1])
            picture_key = result.key + (result.projection,)
            if picture_key not in self._pictures:
                fig = self.explorer.figure(result)
                self._pictures[picture_key] = figure_png(fig, dpi=self.dpi)
                self.renders += 1
            self.image.value = self._pictures[picture_key]
        except ValueError as exc:
            return self._fail(f"Cannot show this setting: {html.escape(str(exc))}")
        except Exception as exc:  # a widget callback must never dump a traceback on the learner
            return self._fail(f"Something went wrong ({type(exc).__name__}): {html.escape(str(exc))}. "
                              "Try another setting.")
        seconds = time.perf_counter() - started
        result = dataclasses.replace(result, seconds=seconds)      # end to end, drawing included
        self.metrics.value = metrics_html(result, k=self.explorer.settings.k_neighbours)
        if fast:
            result = dataclasses.replace(result, notice=UMAP_PREPARING)
        if result.notice:
            self._show_message(result.notice, error=False)
        else:
            self.message.value = ""
        self.progress.value = len(STAGES)
        self.progress.bar_style = "success"
        label = METHOD_LABELS[result.method]
        self.status.value = f"{label} d={result.dim}, K={result.K}: {provenance(result)} in {seconds:.1f} s"
        if fast:
            self.status.value += " (PCA until UMAP is ready)"
        self.last_result, self.last_error = result, None
        if self.first_picture_seconds is None:
            self.first_picture_seconds = time.perf_counter() - self._built
        if fast and not self._umap_requested:
            self._umap_requested = True
            self.explorer.prepare_umap(on_ready=self._on_umap_ready)
        self._show_capacity(result)
        return self.last_result

    def _show_capacity(self, result: ExplorerResult) -> None:
        """The panel under the picture: what this d can hold of a batch (after the picture, never raising)."""
        try:
            self.capacity.value = capacity_html(self.explorer.capacity(result.dim, result.K))
        except Exception as exc:  # noqa: BLE001 (the picture is shown; this panel only says what went wrong)
            self.capacity.value = (f"<div style='color:#8a6d00'>The capacity floors could not be computed "
                                   f"({type(exc).__name__}: {html.escape(str(exc))}).</div>")

    def _fail(self, text: str) -> None:
        self.last_error = text
        self._show_message(text, error=True)
        self.progress.value = 0
        self.progress.bar_style = "danger"
        self.status.value = "Could not show this setting (see the message below)."
        return None
