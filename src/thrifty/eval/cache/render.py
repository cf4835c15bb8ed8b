"""The text table and the PNG plot of `thrifty eval cache`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thrifty.eval.cache.evaluate import Report

__all__ = ["render_table", "write_plot"]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "never" if value is None else f"{value:.3f}"


def render_table(summary: dict[str, Any]) -> str:
    lines = [
        f"pairs: {summary['pairs']} from {summary['pairs_file']} ({summary['model_id']})",
        f"calibrated on {summary['calibration_pairs']}, measured on "
        f"{summary['held_out_pairs']} held-out pairs",
        "",
        f"pair protocol (held-out), strategy {summary['strategy']}"
        f" (scorer fitted on {summary['fit_pairs']} calibration pairs)",
        f"{'target':>7} {'threshold':>9} {'false hits':>10} {'recall':>7} {'hits':>6}"
        f"   {'cosine thr':>10} {'false hits':>10} {'recall':>7}   {'cosine prec @ recall':>20}",
    ]
    for row in summary["targets"]:
        base = row["cosine_baseline"]
        at_recall = row["cosine_precision_at_equal_recall"]
        lines.append(
            f"{_pct(row['target_false_hit_rate']):>7} {_num(row['threshold']):>9} "
            f"{_pct(row['realised_false_hit_rate']):>10} {_pct(row['recall']):>7} "
            f"{row['hits']:>6}   {_num(base['threshold']):>10} "
            f"{_pct(base['realised_false_hit_rate']):>10} {_pct(base['recall']):>7}   "
            f"{_pct(at_recall):>20}  (precision {_pct(row['precision'])})"
        )
        guarded = row["guarded_cosine"]
        lines.append(
            f"{'':>7} guards + cosine: threshold {_num(guarded['threshold'])}, false hits "
            f"{_pct(guarded['realised_false_hit_rate'])}, recall {_pct(guarded['recall'])}"
        )
    lines += ["", "precision at equal recall (held-out; best threshold reaching the recall)"]
    for row in summary["precision_at_recall"]:
        lines.append(
            f"  recall {_pct(row['recall']):>6}: "
            + ", ".join(f"{k} {_pct(v)}" for k, v in row.items() if k != "recall")
        )
    swap = summary["swap_set"]
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(swap["kinds"].items()))
    lines += ["", f"swap set: {swap['pairs']} pairs ({kinds})"]
    for row in swap["targets"]:
        lines.append(
            f"{_pct(row['target_false_hit_rate']):>7}  precision {_pct(row['precision'])}"
            f" (twins served {row['twins_served']}); without guards "
            f"{_pct(row['precision_without_guards'])}"
            f" (twins served {row['twins_served_without_guards']})"
        )
    whole = summary["whole_cache"]
    lines += [
        "",
        f"whole-cache protocol: {whole['cached']} cached, {whole['queries']} queries "
        f"({whole['answerable_queries']} with a duplicate cached); search "
        f"{whole['search_ms_per_query']:.3f} ms a query",
    ]
    for row in whole["targets"]:
        lines.append(
            f"{_pct(row['target_false_hit_rate']):>7}  hits {row['hits']}, false hits "
            f"{_pct(row['realised_false_hit_rate'])}, recall {_pct(row['recall'])}"
        )
    for rule, noise in summary["label_noise"].items():
        lines += [
            "",
            f"label noise, rule {rule}: {noise['flagged_held_out']} held-out and "
            f"{noise['flagged_calibration']} calibration non-duplicates flagged; "
            + "; ".join(
                f">= {low}: {b['non_duplicates']} of {b['pairs']} not duplicates, "
                f"{b['flagged']} flagged"
                for low, b in noise["held_out_top_bands"].items()
            ),
            f"  noise floor: of the {noise['noise_floor']['pairs']} held-out pairs the rule"
            f" calls one question (guards passed), {noise['noise_floor']['labelled_different']}"
            f" are labelled different: {_pct(noise['noise_floor']['rate'])} (99% interval "
            + " to ".join(_pct(v) for v in noise["noise_floor"]["interval_99"])
            + ")",
        ]
        for row in noise["targets"]:
            kept = row["excluding_noise_at_labelled_threshold"]
            again = row["excluding_noise_calibrated_without_it"]
            lines.append(
                f"{_pct(row['target_false_hit_rate']):>7}  excluding flagged pairs: "
                f"false hits {_pct(kept['realised_false_hit_rate'])} at "
                f"{_num(kept['threshold'])}; calibrated without them "
                f"{_num(again['threshold'])}: false hits "
                f"{_pct(again['realised_false_hit_rate'])}, recall {_pct(again['recall'])}"
            )
    speed = summary["lookup_speed"]
    if speed:
        lines += [
            "",
            f"lookup (embedding + search, {speed['index_entries']} entries): p50 "
            f"{speed['p50_ms']:.2f} ms, p95 {speed['p95_ms']:.2f} ms, "
            f"{speed['lookups_per_s']:.0f} lookups/s",
        ]
    return "\n".join(lines)


def write_plot(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 5))
    labels = {
        "scorer": ("guards + pair scorer", "-"),
        "guarded": ("guards + cosine threshold", "-."),
        "cosine": ("cosine threshold", "--"),
    }
    for name, points in report.curves.items():
        label, style = labels[name]
        kept = [(o.recall, o.precision) for o in points if o.precision is not None]
        axes.plot([r for r, _ in kept], [p for _, p in kept], style, label=label)
    for order, row in enumerate(report.targets):
        if row["precision"] is not None:
            axes.scatter([row["recall"]], [row["precision"]], marker="o", zorder=3)
            axes.annotate(
                f"target {row['target_false_hit_rate']:.0%}",
                (row["recall"], row["precision"]),
                textcoords="offset points",
                xytext=(6, -12 - 14 * order),
            )
    axes.set_xlabel("recall (duplicates served from cache)")
    axes.set_ylabel("precision (1 - false-hit rate)")
    axes.set_title("Semantic cache, held-out pairs")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
