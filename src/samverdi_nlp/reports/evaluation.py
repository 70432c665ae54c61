"""Evaluation results (dicts from :mod:`samverdi_nlp.evaluate`) → Markdown and a learning-curve plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samverdi_nlp.io_utils import atomic_output_path

SYSTEMS = ("model", "keyword", "majority")


def _dimension_table(result: dict[str, Any]) -> list[str]:
    dims = list(result["model"])
    lines = ["| dimension | model macro-F1 | model micro-F1 | α (model vs gold) | keyword macro-F1 | majority macro-F1 |",
             "|---|---|---|---|---|---|"]
    for d in dims:
        m = result["model"][d]
        alpha = "n/a" if m["alpha"] is None else f"{m['alpha']:.3f}"
        lines.append(f"| {d} | **{m['macro_f1']:.3f}** | {m['micro_f1']:.3f} | {alpha} | "
                     f"{result['keyword'][d]['macro_f1']:.3f} | {result['majority'][d]['macro_f1']:.3f} |")
    return lines


def _label_table(result: dict[str, Any]) -> list[str]:
    lines = ["| dimension | label | precision | recall | F1 | support | keyword F1 |", "|---|---|---|---|---|---|---|"]
    for d, scores in result["model"].items():
        for lab, s in scores["labels"].items():
            kw = result["keyword"][d]["labels"][lab]["f1"]
            lines.append(f"| {d} | {lab} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} | {kw:.3f} |")
    return lines


def _breakdown_table(rows: dict[str, dict[str, float]], title: str) -> list[str]:
    if not rows:
        return []
    dims = [k for k in next(iter(rows.values())) if k != "n"]
    lines = [f"| {title} | n | " + " | ".join(dims) + " |", "|---|---|" + "---|" * len(dims)]
    for key, row in rows.items():
        lines.append(f"| {key} | {row['n']} | " + " | ".join(f"{row[d]:.3f}" for d in dims) + " |")
    return lines


def evaluation_markdown(report: dict[str, Any]) -> str:
    """The whole evaluation report as Markdown."""
    out = ["# Evaluation report", ""]
    meta = report.get("meta", {})
    if meta:
        out += [f"- {k}: {v}" for k, v in meta.items()] + [""]
    if "cross_validation" in report:
        cv = report["cross_validation"]
        out += [f"## Cross-validation ({cv['k']} folds, {cv['n_segments']} segments, {cv['n_documents']} documents; "
                "a document's segments stay in one fold)", "", *_dimension_table(cv), "", "### Per label", "", *_label_table(cv), ""]
        out += ["### By language (macro-F1)", "", *_breakdown_table(cv["by_lang"], "language"), ""]
        out += ["### By register (macro-F1)", "", *_breakdown_table(cv["by_source_kind"], "register"), ""]
    if "devtest" in report:
        dt = report["devtest"]
        out += [f"## Dev-test set ({dt['n_test']} segments by other writers; never used for training or tuning)", "",
                *_dimension_table(dt), "", "### Per label", "", *_label_table(dt), ""]
        out += ["### By language (macro-F1)", "", *_breakdown_table(dt["by_lang"], "language"), ""]
        out += ["### By register (macro-F1)", "", *_breakdown_table(dt["by_source_kind"], "register"), ""]
    for key, title in (("transfer_lang", "language"), ("transfer_source_kind", "register")):
        if report.get(key):
            out += [f"## Transfer: train without a {title}, test on it (macro-F1)", "", *_breakdown_table(report[key], title), ""]
    if report.get("learning_curve"):
        rows = report["learning_curve"]
        dims = [k for k in rows[0] if k not in ("fraction", "n_train")]
        out += ["## Learning curve (macro-F1 on the dev-test set)", "", "| training segments | " + " | ".join(dims) + " |",
                "|---|" + "---|" * len(dims)]
        out += [f"| {r['n_train']} | " + " | ".join(f"{r[d]:.3f}" for d in dims) + " |" for r in rows]
        out += ["", "![learning curve](learning_curve.png)", ""]
    return "\n".join(out)


def plot_learning_curve(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Macro-F1 per dimension against training size, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = [k for k in rows[0] if k not in ("fraction", "n_train")]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    xs = [r["n_train"] for r in rows]
    for d in dims:
        ax.plot(xs, [r[d] for r in rows], marker="o", label=d)
    ax.set_xlabel("training segments")
    ax.set_ylabel("macro-F1 on the dev-test set")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Learning curve")
    fig.tight_layout()
    with atomic_output_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
