"""The cost-quality frontier of every strategy, one panel per data set, as a PNG."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

MAX_PANELS = 12


def write_plot(document: Mapping[str, object], path: Path) -> None:
    """Draw the frontiers of a :func:`~thrifty.eval.route.report.report_json` document."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = document["datasets"]
    assert isinstance(datasets, dict)
    names = list(datasets)[:MAX_PANELS]
    columns = min(3, len(names)) or 1
    rows = (len(names) + columns - 1) // columns or 1
    figure, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 4.2 * rows), squeeze=False)
    for panel, name in zip(axes.flat, names, strict=False):
        data = datasets[name]
        strongest = data["strongest_test_quality"] or 1.0
        for strategy, figures in data["strategies"].items():
            points = figures["frontier"]
            xs = [p["cost_pct"] for p in points]
            ys = [100.0 * p["quality"] / strongest for p in points]
            style = "--" if figures["kind"] == "bound" else ("-" if len(xs) > 1 else "")
            panel.plot(xs, ys, style, marker="o" if len(xs) < 3 else None, ms=3, label=strategy)
        panel.axhline(100.0, color="grey", lw=0.6)
        panel.set_title(name, fontsize=9)
        panel.set_xlabel("cost, % of always-strongest")
        panel.set_ylabel("quality, % of strongest")
        panel.set_xlim(0, 120)
        panel.legend(fontsize=6)
    for panel in list(axes.flat)[len(names) :]:
        panel.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
