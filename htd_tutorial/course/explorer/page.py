"""The explorer without a kernel: one self-contained HTML page with the pictures precomputed.

``python -m htd_tutorial.course.explorer.page`` (or ``make explorer-page``) computes the explorer's result for
every setting of a grid (student dimension x K x method) with the explorer's own compute path
(:meth:`htd_tutorial.course.explorer.compute.TopologyExplorer.compute`, so the maps, colours and numbers are
the widget's) and writes them into one HTML file: the data as JSON inside the page, the pictures drawn
on a ``<canvas>`` by a few lines of inline JavaScript, two sliders (dimension, K), a method selector
the metrics table and what the dimension can hold (the capacity floors of notebook 05's Section 4.3). No server, no kernel, no network: no file or script is fetched, so it opens
from disk, offline, on a phone.

Size: the coordinates are quantised to 16 bits per axis within each map's bounds (a few hundredths
of a pixel on the canvas) and stored once per distinct map (a Student or FTD map is the same for
every K, only its colours change); the group numbers take a byte per point. The shipped grid makes
a page of well under 1 MB (:data:`MAX_PAGE_BYTES` is the limit the writer enforces).

Introduced in ``notebooks/05_explorer.ipynb`` (the committed copy is ``docs/explorer.html``).
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ...plots.maps import ITEM_MARKER, USER_MARKER, group_colors
from .compute import RAW_2D, ExplorerResult, TopologyExplorer
from .picture import capacity_html, metrics_html, result_titles
from .settings import EXPLORER_METHODS, METHOD_CHOICES, SHIPPED

__all__ = ["PAGE_DATASET", "PAGE_NOTE", "DEFAULT_PAGE_KS", "MAX_PAGE_BYTES", "PAGE_PATH", "collect_page_data",
           "render_page", "write_page", "build_explorer_page"]

#: The page's data: the synthetic data, not the notebook's MovieLens-100K. The page trains every setting
#: of its grid, 35 of them HTD runs: on the synthetic data a few seconds each (the page about 8 minutes on
#: a 2-core CPU), on MovieLens-100K minutes each (hours for the page).
PAGE_DATASET = "synthetic"
#: Said in the page's caption: why its data is not the notebook's.
PAGE_NOTE = ("Notebook 05 opens on MovieLens-100K; this page shows the synthetic data (planted groups), "
             "because MovieLens's grid would take hours to train.")
#: The K values of the page's group slider: K = 1 (no groups), the 3 planted super-groups, the 9
#: planted sub-groups, the course's K = 10 (the first setting shown), and the widget's K_max (20).
DEFAULT_PAGE_KS = (1, 2, 3, 5, 9, 10, 20)
#: Where ``make explorer-page`` writes the page (relative to the repository root).
PAGE_PATH = "docs/explorer.html"
#: The largest page the writer accepts (bytes): small enough for a phone on a slow connection.
MAX_PAGE_BYTES = 5_000_000
#: Quantisation of the coordinates: 16 bits per axis.
_LEVELS = 65535


def _quantise(xy: np.ndarray) -> dict:
    """A map as ``{"lo": [x, y], "hi": [x, y], "q": base64 of little-endian uint16 pairs}``."""
    xy = np.asarray(xy, dtype=np.float64)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.rint((xy - lo) / span * _LEVELS).astype("<u2")
    return {"lo": [float(v) for v in lo], "hi": [float(v) for v in hi],
            "q": base64.b64encode(q.tobytes()).decode("ascii")}


def dequantise(entry: dict) -> np.ndarray:
    """The coordinates of a :func:`_quantise` entry, shape (n, 2) (what the page's JavaScript computes)."""
    q = np.frombuffer(base64.b64decode(entry["q"]), dtype="<u2").reshape(-1, 2).astype(np.float64)
    lo, hi = np.asarray(entry["lo"]), np.asarray(entry["hi"])
    return lo + q / _LEVELS * np.where(hi > lo, hi - lo, 0.0)


def _hex(rgba) -> str:
    return "#" + "".join(f"{int(round(float(c) * 255)):02x}" for c in rgba[:3])


class _Table:
    """Stores each distinct value once and hands out its index."""

    def __init__(self):
        self.values: list = []
        self._index: dict[str, int] = {}

    def add(self, value, fingerprint: bytes) -> int:
        key = hashlib.sha256(fingerprint).hexdigest()
        if key not in self._index:
            self._index[key] = len(self.values)
            self.values.append(value)
        return self._index[key]


def collect_page_data(explorer: TopologyExplorer, *, dims=None, Ks=DEFAULT_PAGE_KS, methods=EXPLORER_METHODS,
                      on_result: Callable[[ExplorerResult], None] | None = None) -> dict:
    """The page's data: every setting of ``dims x Ks x methods`` computed by ``explorer``.

    Parameters
    ----------
    explorer : TopologyExplorer
        Computes each setting (with its own projection; trained runs come from its caches).
    dims : sequence of int, optional
        Student dimensions (default: the explorer's dimension slider, ``settings.dims``).
    Ks : sequence of int
        Values of the group slider (default :data:`DEFAULT_PAGE_KS`, capped at ``settings.K_max``).
    methods : sequence of str
        Methods of the selector (default all of :data:`~htd_tutorial.course.explorer.settings.EXPLORER_METHODS`).
    on_result : callable, optional
        Called with each result as it is computed (e.g. to move a progress bar).

    Returns
    -------
    dict
        JSON-ready: ``dims``, ``Ks``, ``methods`` (value and label), ``teacher`` (the teacher's map),
        ``maps`` and ``groups`` (each distinct student map and grouping once), ``palettes`` (colour of
        each group for each K), ``settings`` (one entry per setting: indices into ``maps`` and
        ``groups``, titles, axis names and the metrics table's HTML), ``capacity`` (``"dim|K"``: the
        capacity panel's HTML, :func:`~htd_tutorial.course.explorer.picture.capacity_html`) and ``about``
        (how it was made).

    Raises
    ------
    ValueError
        An empty grid, or a setting the explorer cannot show (its message).
    """
    s = explorer.settings
    dims = tuple(s.dims if dims is None else dims)
    Ks = tuple(sorted({int(k) for k in Ks if int(k) <= s.K_max}))
    methods = tuple(methods)
    if not dims or not Ks or not methods:
        raise ValueError(f"the page needs at least one dimension, K and method, got dims={dims}, Ks={Ks}, "
                         f"methods={methods} (K values above K_max={s.K_max} are left out)")
    unknown = [m for m in methods if m not in EXPLORER_METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {EXPLORER_METHODS}")
    maps, groups, settings, capacity = _Table(), _Table(), [], {}
    teacher = None
    for dim in dims:
        for K in Ks:
            for method in methods:
                result = explorer.compute(method, dim, K)
                if on_result is not None:
                    on_result(result)
                if teacher is None:
                    teacher = result
                elif not np.array_equal(result.teacher_xy, teacher.teacher_xy):
                    raise ValueError("the teacher's map changed between settings (UMAP became ready midway?); "
                                     "build the page with one projection")
                titles = result_titles(result, teacher_dim=explorer.teacher.dim)
                student_map = _quantise(result.student_xy)
                group_codes = np.asarray(result.groups, dtype=np.uint8 if K <= 255 else np.uint16)
                settings.append({
                    "method": method, "dim": int(dim), "K": int(K),
                    "map": maps.add(student_map, json.dumps(student_map, sort_keys=True).encode()),
                    "groups": groups.add(base64.b64encode(group_codes.tobytes()).decode("ascii"),
                                         group_codes.tobytes() + bytes([group_codes.itemsize])),
                    "title": titles["student"], "suptitle": titles["suptitle"],
                    "axis": result.student_projection or result.projection,
                    "metrics": metrics_html(result, k=s.k_neighbours, timing=False),
                })
            # what d dimensions can hold of a batch, beside the students of this (d, K) just computed
            capacity[f"{dim}|{K}"] = capacity_html(explorer.capacity(dim, K))
    labels = dict((value, label) for label, value in METHOD_CHOICES)
    return {
        "dims": [int(d) for d in dims], "Ks": [int(k) for k in Ks],
        "methods": [{"value": m, "label": labels[m]} for m in methods],
        "teacher": {"map": _quantise(teacher.teacher_xy), "axis": teacher.projection,
                    "title": result_titles(teacher, teacher_dim=explorer.teacher.dim)["teacher"]},
        "n_users": int((~teacher.is_item).sum()), "n_items": int(teacher.is_item.sum()),
        "markers": {"user": USER_MARKER, "item": ITEM_MARKER},
        "maps": maps.values, "groups": groups.values,
        "group_bytes": {str(k): (1 if k <= 255 else 2) for k in Ks},
        "palettes": {str(k): [_hex(c) for c in group_colors(k)] for k in Ks},
        "settings": settings,
        "capacity": capacity,
        "start": {"method": s.method if s.method in methods else methods[0],
                  "dim": s.dim if s.dim in dims else dims[0], "K": s.K if s.K in Ks else Ks[0]},
        "about": {"dataset": str(explorer.data.summary().get("dataset", "")),
                  "users": int(explorer.data.n_users), "items": int(explorer.data.n_items),
                  "teacher_dim": int(explorer.teacher.dim), "projection": teacher.projection,
                  "epochs": s.epochs, "lr": s.lr, "lam": s.lam, "mode": s.mode, "seed": s.seed,
                  "raw_2d": RAW_2D},
    }


def render_page(data: dict, *, title: str = "Topology explorer (offline)") -> str:
    """The HTML page for ``data`` (from :func:`collect_page_data`): one string, nothing fetched."""
    payload = json.dumps(data, separators=(",", ":"), sort_keys=True).replace("</", "<\\/")
    about = data["about"]
    options = "".join(f"<option value='{html.escape(m['value'])}'>{html.escape(m['label'])}</option>"
                      for m in data["methods"])
    intro = (f"The explorer of notebook 05 without a running kernel: its pictures and numbers, "
             f"computed in advance for {len(data['dims'])} student dimensions &times; {len(data['Ks'])} values "
             f"of K &times; {len(data['methods'])} methods ({len(data['settings'])} settings). "
             f"The same {data['n_users']} users (circles) and {data['n_items']} items (triangles) are drawn "
             f"in the teacher's space (d={about['teacher_dim']}, left) and in the student's space (right), "
             f"with {html.escape(about['projection'])} (a 2-D student with its own directions); "
             f"a point's colour is its HTD group at that dimension and K. Data: the course's "
             f"{html.escape(str(about['dataset']) or 'synthetic')} data ({about['users']} users, "
             f"{about['items']} items); students trained {about['epochs']} epochs, seed {about['seed']}, "
             f"one run per setting. {html.escape(about.get('note', ''))}").rstrip()
    return _TEMPLATE.replace("__TITLE__", html.escape(title)).replace("__INTRO__", intro) \
        .replace("__OPTIONS__", options).replace("__DATA__", payload).replace("__SCRIPT__", _SCRIPT) \
        .replace("__STYLE__", _STYLE)


def write_page(path: str | os.PathLike, data: dict, **render_options) -> Path:
    """Render ``data`` and write the page to ``path`` atomically; return the path.

    Raises ValueError when the page would exceed :data:`MAX_PAGE_BYTES`.
    """
    text = render_page(data, **render_options).encode("utf-8")
    if len(text) > MAX_PAGE_BYTES:
        raise ValueError(f"the page would take {len(text) / 1e6:.1f} MB, more than the {MAX_PAGE_BYTES / 1e6:.0f} MB "
                         "limit: use fewer dimensions or K values")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(text)
        os.chmod(temp, 0o644)             # readable like any page (mkstemp makes it private)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def build_explorer_page(out: str | os.PathLike = PAGE_PATH, *, dims=None, Ks=DEFAULT_PAGE_KS,
                        methods=EXPLORER_METHODS, progress: bool = True) -> Path:
    """Compute the grid on :data:`PAGE_DATASET` with the shipped settings and write the page.

    Uses the course's teacher (trained once, then cached) and the disk cache of student runs, so a
    second build only redraws. Returns the page's path.
    """
    from tqdm.auto import tqdm

    from ..common import course_teacher, load_course_data

    data = load_course_data(PAGE_DATASET, verbose=progress)
    teacher, _ = course_teacher(data, progress=progress, verbose=progress)
    explorer = TopologyExplorer(data, teacher, SHIPPED)
    n = len(tuple(SHIPPED.dims if dims is None else dims)) * len([k for k in Ks if k <= SHIPPED.K_max]) * len(methods)
    bar = tqdm(total=n, desc="explorer page", disable=not progress, unit="setting")

    def advance(result: ExplorerResult) -> None:
        bar.set_postfix_str(f"{result.method} d={result.dim} K={result.K}")
        bar.update()

    try:
        page = collect_page_data(explorer, dims=dims, Ks=Ks, methods=methods, on_result=advance)
    finally:
        bar.close()
    page["about"]["note"] = PAGE_NOTE
    return write_page(out, page)


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px;color:#222;max-width:1450px}
h1{font-size:1.4em;margin:0 0 8px}
p{line-height:1.4;font-size:0.95em;max-width:1100px}
.controls{display:flex;flex-wrap:wrap;gap:8px 24px;align-items:center;margin:10px 0}
.controls label{display:flex;align-items:center;gap:8px}
.controls input[type=range]{width:180px}
.controls output{display:inline-block;min-width:2.5em;font-weight:bold}
.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
canvas{max-width:100%;height:auto;border:0}
#status{color:#666;font-size:0.85em}
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>__STYLE__</style>
</head>
<body>
<h1>__TITLE__</h1>
<p>__INTRO__</p>
<p>How to read it: look at <em>who is next to whom</em>, not at distances or axes (the student's map is
rotated to line up with the teacher's). A student that keeps the teacher's topology keeps the colours
together. The table is the measurement; the picture only illustrates it. To train your own settings,
run <code>notebooks/05_explorer.ipynb</code>.</p>
<div class="controls">
<label>Method <select id="method">__OPTIONS__</select></label>
<label>Student dimension <input type="range" id="dim" min="0" step="1"> <output id="dim-value"></output></label>
<label>Groups K <input type="range" id="K" min="0" step="1"> <output id="K-value"></output></label>
</div>
<div class="row">
<canvas id="maps" width="1000" height="460" role="img" aria-label="teacher and student maps"></canvas>
<div><div id="metrics"></div><div id="capacity"></div></div>
</div>
<div id="status"></div>
<script type="application/json" id="explorer-data">__DATA__</script>
<script>__SCRIPT__</script>
</body>
</html>
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("explorer-data").textContent);
  var method = document.getElementById("method"), dim = document.getElementById("dim"),
      K = document.getElementById("K"), canvas = document.getElementById("maps");
  dim.max = data.dims.length - 1; K.max = data.Ks.length - 1;
  var index = {};
  data.settings.forEach(function (s) { index[s.method + "|" + s.dim + "|" + s.K] = s; });
  function bytes(b64) {
    var raw = atob(b64), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function coords(entry) {
    var b = bytes(entry.q), view = new DataView(b.buffer), n = b.length / 4, xy = new Float64Array(2 * n);
    for (var i = 0; i < n; i++) for (var a = 0; a < 2; a++) {
      var span = entry.hi[a] > entry.lo[a] ? entry.hi[a] - entry.lo[a] : 0;
      xy[2 * i + a] = entry.lo[a] + view.getUint16(4 * i + 2 * a, true) / 65535 * span;
    }
    return xy;
  }
  function groups(b64, width) {
    var b = bytes(b64);
    if (width === 1) return b;
    var view = new DataView(b.buffer), out = new Uint16Array(b.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = view.getUint16(2 * i, true);
    return out;
  }
  var teacherXY = coords(data.teacher.map), nUsers = data.n_users;
  function panel(ctx, box, xy, grp, palette, title, axis, legend) {
    var n = xy.length / 2, x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (var i = 0; i < n; i++) {
      x0 = Math.min(x0, xy[2 * i]); x1 = Math.max(x1, xy[2 * i]);
      y0 = Math.min(y0, xy[2 * i + 1]); y1 = Math.max(y1, xy[2 * i + 1]);
    }
    var mx = (x1 - x0 || 1) * 0.05, my = (y1 - y0 || 1) * 0.05;
    x0 -= mx; x1 += mx; y0 -= my; y1 += my;
    // equal aspect, like matplotlib's set_aspect("equal", adjustable="datalim")
    var sx = box.w / (x1 - x0), sy = box.h / (y1 - y0), s = Math.min(sx, sy);
    var cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    function px(x) { return box.x + box.w / 2 + (x - cx) * s; }
    function py(y) { return box.y + box.h / 2 - (y - cy) * s; }
    ctx.strokeStyle = "#333"; ctx.lineWidth = 0.8; ctx.strokeRect(box.x, box.y, box.w, box.h);
    ctx.save(); ctx.beginPath(); ctx.rect(box.x, box.y, box.w, box.h); ctx.clip();
    ctx.globalAlpha = 0.8;
    for (var pass = 0; pass < 2; pass++) for (var j = 0; j < n; j++) {
      var isItem = j >= nUsers;
      if ((pass === 1) !== isItem) continue;
      ctx.fillStyle = palette[grp[j]];
      var u = px(xy[2 * j]), v = py(xy[2 * j + 1]);
      ctx.beginPath();
      if (isItem) { ctx.moveTo(u, v - 3.4); ctx.lineTo(u + 3.0, v + 1.8); ctx.lineTo(u - 3.0, v + 1.8); ctx.closePath(); }
      else ctx.arc(u, v, 2.6, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.restore(); ctx.globalAlpha = 1;
    ctx.fillStyle = "#222"; ctx.textAlign = "center"; ctx.font = "14px sans-serif";
    ctx.fillText(title, box.x + box.w / 2, box.y - 8);
    ctx.font = "11px sans-serif";
    ctx.fillText(axis + " 1", box.x + box.w / 2, box.y + box.h + 16);
    ctx.save(); ctx.translate(box.x - 8, box.y + box.h / 2); ctx.rotate(-Math.PI / 2);
    ctx.fillText(axis + " 2", 0, 0); ctx.restore();
    if (legend) {
      var lx = box.x + box.w - 62, ly = box.y + box.h - 44;
      ctx.fillStyle = "rgba(255,255,255,0.7)"; ctx.fillRect(lx, ly, 56, 38);
      ctx.strokeStyle = "#ccc"; ctx.strokeRect(lx, ly, 56, 38);
      ctx.fillStyle = "#595959";
      ctx.beginPath(); ctx.arc(lx + 12, ly + 12, 3.2, 0, 2 * Math.PI); ctx.fill();
      ctx.beginPath(); ctx.moveTo(lx + 12, ly + 22); ctx.lineTo(lx + 15.5, ly + 28.5); ctx.lineTo(lx + 8.5, ly + 28.5);
      ctx.closePath(); ctx.fill();
      ctx.fillStyle = "#222"; ctx.textAlign = "left"; ctx.font = "11px sans-serif";
      ctx.fillText("user", lx + 22, ly + 16); ctx.fillText("item", lx + 22, ly + 30);
    }
  }
  function draw() {
    var d = data.dims[+dim.value], k = data.Ks[+K.value], m = method.value;
    document.getElementById("dim-value").textContent = d;
    document.getElementById("K-value").textContent = k;
    var s = index[m + "|" + d + "|" + k];
    var ctx = canvas.getContext("2d");
    var ratio = window.devicePixelRatio || 1, W = 1000, H = 460;
    if (canvas.width !== W * ratio) { canvas.width = W * ratio; canvas.height = H * ratio; canvas.style.width = W + "px"; }
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    if (!s) { ctx.fillStyle = "#b00020"; ctx.fillText("not computed: " + m + " d=" + d + " K=" + k, 20, 40); return; }
    var palette = data.palettes[String(k)], grp = groups(data.groups[s.groups], data.group_bytes[String(k)]);
    ctx.fillStyle = "#222"; ctx.textAlign = "center"; ctx.font = "13px sans-serif";
    ctx.fillText(s.suptitle, W / 2, 20);
    panel(ctx, {x: 40, y: 62, w: 430, h: 360}, teacherXY, grp, palette, data.teacher.title, data.teacher.axis, true);
    panel(ctx, {x: 545, y: 62, w: 430, h: 360}, coords(data.maps[s.map]), grp, palette, s.title, s.axis, false);
    document.getElementById("metrics").innerHTML = s.metrics;
    document.getElementById("capacity").innerHTML = data.capacity[s.dim + "|" + s.K] || "";
    document.getElementById("status").textContent = m + " d=" + d + " K=" + k;
    canvas.setAttribute("data-setting", m + " d=" + d + " K=" + k);
  }
  function start(values, wanted) {
    var i = values.indexOf(wanted); return i < 0 ? 0 : i;
  }
  dim.value = start(data.dims, data.start.dim);
  K.value = start(data.Ks, data.start.K);
  method.value = data.start.method;
  [dim, K, method].forEach(function (c) { c.addEventListener("input", draw); c.addEventListener("change", draw); });
  draw();
})();
"""


def main(argv: list[str] | None = None) -> int:
    """``python -m htd_tutorial.course.explorer.page [--out FILE] [--dims ...] [--ks ...]``: write the page.

    Bad arguments exit with status 2 (argparse); a grid the explorer cannot show returns 2 with one line.
    """
    import argparse
    import sys

    def positive_int(text: str) -> int:
        if not text.strip().isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
        return int(text)

    def html_file(text: str) -> str:
        path = Path(text).expanduser()
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{path} is a folder; give the path of the HTML file to write")
        return text

    parser = argparse.ArgumentParser(prog="python -m htd_tutorial.course.explorer.page",
                                     description="Write the kernel-free explorer: one offline HTML page.")
    parser.add_argument("--out", type=html_file, default=PAGE_PATH, help=f"the HTML file (default: {PAGE_PATH})")
    parser.add_argument("--dims", type=positive_int, nargs="+", default=None,
                        help="student dimensions (default: the explorer's slider, 2 4 8 16 32)")
    parser.add_argument("--ks", type=positive_int, nargs="+", default=list(DEFAULT_PAGE_KS),
                        help=f"values of K (default: {' '.join(map(str, DEFAULT_PAGE_KS))})")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        path = build_explorer_page(args.out, dims=args.dims, Ks=tuple(args.ks), progress=not args.no_progress)
    except ValueError as exc:
        print(f"{parser.prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
