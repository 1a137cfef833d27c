"""The evidence map's figure: one row per setting and protocol, one block per student size, three marks
per block (FTD vs Student, HTD vs Student, HTD vs FTD), coloured by the verdict of :mod:`htd_tutorial.stats`."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Patch, Rectangle

__all__ = ["VERDICT_COLOURS", "plot_evidence_map"]

#: Verdict → (fill colour, mark): green ahead, red behind, grey level, white with "?" not read.
VERDICT_COLOURS = {"positive": ("#2e7d32", "+"), "negative": ("#c62828", "−"),
                   "unclear": ("#bdbdbd", "·"), "not read": ("#ffffff", "?")}
_LABELS = {"ftd-student": "FTD vs Student", "htd-student": "HTD vs Student", "htd-ftd": "HTD vs FTD"}


def plot_evidence_map(cells: list[dict], *, names: dict[str, str] | None = None,
                      title: str = "Where the lesson holds (Recall@50, paired seeds)"):
    """Draw the map's cells (``map_cells``); returns the figure. ``names``: how the rows name each setting, in
    the order the rows take (settings it leaves out follow, by name)."""
    names = names or {}
    order = {setting: i for i, setting in enumerate(names)}
    rows = sorted({(c["setting"], c["protocol"]) for c in cells},
                  key=lambda r: (order.get(r[0], len(order)), r[0], r[1]))
    width = max(len({c["dim"] for c in cells if (c["setting"], c["protocol"]) == r}) for r in rows) if rows else 1
    fig, ax = plt.subplots(figsize=(max(7.0, 2.5 + 1.25 * width), 1.4 + 0.55 * len(rows)))
    for y, row in enumerate(rows):
        here = sorted((c for c in cells if (c["setting"], c["protocol"]) == row), key=lambda c: c["dim"])
        for x, cell in enumerate(here):
            for k, key in enumerate(_LABELS):
                colour, mark = VERDICT_COLOURS[cell["verdicts"][key]["verdict"]]
                ax.add_patch(Rectangle((x + 0.05 + 0.3 * k, y + 0.1), 0.28, 0.6, facecolor=colour,
                                       edgecolor="#616161", linewidth=0.6))
                ax.text(x + 0.19 + 0.3 * k, y + 0.4, mark, ha="center", va="center", fontsize=11,
                        color="white" if mark in "+−" else "#424242")
            ax.text(x + 0.5, y + 0.88, f"d={cell['dim']} ({cell['n_seeds']} seeds)", ha="center",
                    va="center", fontsize=7)
    ax.set_xlim(0, width)
    ax.set_ylim(len(rows), 0)
    labels = [names.get(s, s) for s, _ in rows]
    ax.set_yticks([y + 0.45 for y in range(len(rows))],
                  [f"{label[:1].upper()}{label[1:]} · {p}" for label, (_, p) in zip(labels, rows)])
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    handles = [Patch(facecolor=c, edgecolor="#616161", label=f"{m} {name}")
               for name, (c, m) in (("ahead", VERDICT_COLOURS["positive"]), ("behind", VERDICT_COLOURS["negative"]),
                                    ("level", VERDICT_COLOURS["unclear"]), ("not read", VERDICT_COLOURS["not read"]))]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize=8, frameon=False)
    ax.set_title(title + "\nin each block: " + ", ".join(_LABELS.values()), fontsize=9, pad=24)
    fig.tight_layout()
    return fig
