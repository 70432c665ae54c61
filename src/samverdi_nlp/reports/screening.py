"""Screening results → terminal text, JSON-ready dicts, export files and the recall-curve PNG. Formatting only."""

from __future__ import annotations

import csv
import json
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samverdi_nlp.io_utils import atomic_output_path, atomic_write

SIMULATION_KEYS = ("n_records", "n_relevant", "wss_95", "wss_100", "recall_at_10", "recall_at_25", "recall_at_50", "screened_to_95")
DECISION_COLUMNS = ("record_id", "segment_id", "title", "abstract", "authors", "year", "journal", "doi", "included", "relevance",
                    "reason", "reviewer", "decided_at", "score", "rank")
SHEET_COLUMNS = ("id", "rank", "score", "decision", "reason", "title", "authors", "year", "journal", "doi", "abstract", "words")


def _clean(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


# --------------------------------------------------------------------------- records


def format_record(row: dict[str, Any], *, width: int = 100, abstract_chars: int | None = None) -> str:
    """One record as the reviewer sees it: id, score, title, who/when/where, the words behind the score, the abstract."""
    head = f"[{row['id']}]  score {row['score']:.3f}" + (f"  (rank {row['rank']})" if row.get("rank") else "")
    lines = [head, textwrap.fill(_clean(row.get("title")) or "(no title)", width=width, initial_indent="  ", subsequent_indent="  ")]
    byline = "; ".join(p for p in (_clean(row.get("authors")), _clean(row.get("year")), _clean(row.get("journal"))) if p)
    if byline:
        lines.append(textwrap.shorten(byline, width=width - 2, placeholder=" …").join(["  ", ""]))
    words = row.get("evidence") or []
    if words:
        lines.append("  words: " + ", ".join(words))
    abstract = _clean(row.get("abstract")) or "(no abstract)"
    if abstract_chars and len(abstract) > abstract_chars:
        abstract = abstract[:abstract_chars].rsplit(" ", 1)[0] + " …"
    lines.append(textwrap.fill(abstract, width=width, initial_indent="  ", subsequent_indent="  "))
    return "\n".join(lines)


def format_records(frame: pd.DataFrame, *, width: int = 100, abstract_chars: int | None = 600) -> str:
    """The records of ``screen next``, one block each."""
    rows = records_json(frame)
    return "\n\n".join(format_record(r, width=width, abstract_chars=abstract_chars) for r in rows) + "\n"


def records_json(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The records of ``screen next`` as plain dicts (JSON)."""
    out = []
    for record_id, row in frame.iterrows():
        out.append({
            "id": int(record_id), "rank": int(row["rank"]), "score": round(float(row["score"]), 4),
            "title": _clean(row["title"]), "authors": _clean(row["authors"]), "year": _clean(row["year"]),
            "journal": _clean(row["journal"]), "doi": _clean(row["doi"]), "abstract": _clean(row["abstract"]),
            "evidence": list(row["evidence"]), "segment_id": _clean(row["segment_id"]),
        })
    return out


# --------------------------------------------------------------------------- status


def format_status(status: dict[str, Any]) -> str:
    """``screen status`` for the terminal."""
    n = status["n_records"]
    share = status["screened"] / n if n else 0.0
    stop = status["stopping"]
    counts = ", ".join(f"{label} {count}" for label, count in status["decisions"].items())
    lines = [
        f"records           {n}" + (f"  (+{status['n_duplicates']} duplicates set aside)" if status["n_duplicates"] else ""),
        f"screened          {status['screened']} ({share:.0%}): {counts}",
        f"relevant found    {status['relevant_found']}  ({' + '.join(status['relevant_labels'])})",
        f"relevant left     about {status['estimated_relevant_left']:.1f} by the model"
        + (f"; at most about {status['recent_rate_bound']:.1f} at the recent rate" if status["recent_rate_bound"] is not None else ""),
    ]
    if status["estimated_recall"] is not None:
        lines.append(f"estimated recall  {status['estimated_recall']:.0%}")
    if stop["stop"]:
        advice = (f"you may stop: the last {stop['current_run']} decisions were irrelevant and {share:.0%} is screened "
                  f"(rule: {stop['run_needed']} in a row after at least {stop['min_screened']} screened)")
    else:
        missing = []
        if stop["screened"] < stop["min_screened"]:
            missing.append(f"screen at least {stop['min_screened']} records ({stop['min_screened'] - stop['screened']} more)")
        if stop["current_run"] < stop["run_needed"]:
            missing.append(f"{stop['run_needed']} irrelevant decisions in a row (now {stop['current_run']})")
        advice = "keep screening: the stopping rule wants " + " and ".join(missing)
    lines.append(f"stopping          {advice}")
    if status["reviewers"]:
        lines.append(f"reviewers         {', '.join(status['reviewers'])}")
    if status["ranking"]:
        r = status["ranking"]
        lines.append(f"ranking           refit on {r['n_decisions']} decisions at {r['created']} ({r['seconds']:.2f} s); "
                     f"query {status['settings']['query']}, prior {status['settings']['prior']}")
    return "\n".join(lines) + "\n"


def status_json(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "relevant_in_order"}


# --------------------------------------------------------------------------- simulation


def format_simulation(result: dict[str, Any]) -> str:
    """``screen simulate`` figures as a small table."""
    rows = [
        ("records", f"{result['n_records']}"),
        ("relevant", f"{result['n_relevant']} ({result['n_relevant'] / result['n_records']:.0%})"),
        ("seed decisions", f"{result.get('n_seed', 0)}"),
        ("WSS@95", f"{result['wss_95']:.3f}"),
        ("WSS@100", f"{result['wss_100']:.3f}"),
        ("recall after 10%", f"{result['recall_at_10']:.3f}"),
        ("recall after 25%", f"{result['recall_at_25']:.3f}"),
        ("recall after 50%", f"{result['recall_at_50']:.3f}"),
        ("screened to 95%", f"{result['screened_to_95']} of {result['n_records']} ({result['screened_to_95'] / result['n_records']:.0%})"),
    ]
    if "stop_at" in result:
        stop = "never (screen all)" if result["stop_at"] is None else f"after {result['stop_at']} records, recall {result['recall_at_stop']:.3f}"
        rows.append(("stopping rule", stop))
    setting = ", ".join(f"{k} {result[k]}" for k in ("prior", "query", "borderline", "seed") if k in result)
    width = max(len(k) for k, _ in rows)
    return (f"simulation ({setting})\n" if setting else "") + "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows) + "\n"


def simulation_json(result: dict[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2) + "\n"


def plot_recall_curves(curves: dict[str, Sequence[bool]], path: str | Path, *, title: str = "Recall curve",
                       expected_total: float | None = None, overwrite: bool = True) -> Path:
    """Recall (or relevant found) against records screened, one line per screening order, plus random order.

    ``curves`` maps a name to relevant flags in screening order. With
    ``expected_total`` (a live project) the y axis counts relevant records
    found and a dashed line shows the estimated total.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    n_max = 1
    for name, flags in curves.items():
        flags = np.asarray(flags, dtype=int)
        found = np.concatenate([[0], np.cumsum(flags)])
        n_max = max(n_max, len(flags))
        y = found if expected_total is not None else found / max(int(flags.sum()), 1)
        ax.plot(np.arange(len(found)), y, label=name, linewidth=1.6)
    if expected_total is None:
        ax.plot([0, n_max], [0, 1], linestyle=":", color="grey", label="random order (expected)")
        ax.axhline(0.95, color="grey", linewidth=0.6, linestyle="--")
        ax.set_ylabel("recall (share of relevant records found)")
        ax.set_ylim(0, 1.02)
    else:
        ax.axhline(expected_total, color="grey", linestyle="--", label=f"estimated relevant in total ({expected_total:.0f})")
        ax.set_ylabel("relevant records found")
        ax.set_xlim(0, None)
    ax.set_xlabel("records screened")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    target = Path(path)
    with atomic_output_path(target, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return target


# --------------------------------------------------------------------------- exports


def write_decisions_csv(frame: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Every record with its decision: ASReview's ``included`` (1 / 0 / empty) next to the codebook label."""
    target = Path(path)
    delimiter = "\t" if target.suffix.lower() == ".tsv" else ","
    with atomic_write(target, overwrite=overwrite) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(DECISION_COLUMNS), delimiter=delimiter, lineterminator="\n")
        writer.writeheader()
        for row in frame.to_dict(orient="records"):
            writer.writerow({c: _clean(row.get(c)) for c in DECISION_COLUMNS})
    return target


def write_decisions_ris(frame: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Every record as RIS, with ASReview's label note (``ASReview_relevant`` / ``_irrelevant`` / ``_not_seen``) in N1."""
    import rispy

    entries = []
    for row in frame.to_dict(orient="records"):
        included = _clean(row.get("included"))
        notes = [{"1": "ASReview_relevant", "0": "ASReview_irrelevant"}.get(included, "ASReview_not_seen")]
        if _clean(row.get("relevance")):
            notes.append(f"samverdi_relevance: {row['relevance']}")
        if _clean(row.get("reason")):
            notes.append(f"samverdi_reason: {row['reason']}")
        if _clean(row.get("reviewer")):
            notes.append(f"samverdi_reviewer: {row['reviewer']}")
        notes.append(f"samverdi_record: {_clean(row.get('record_id'))}")
        entry: dict[str, Any] = {"type_of_reference": "JOUR", "id": _clean(row.get("segment_id")) or _clean(row.get("record_id")),
                                 "notes": notes}
        for key, column in (("title", "title"), ("abstract", "abstract"), ("year", "year"), ("doi", "doi"),
                            ("secondary_title", "journal")):
            if _clean(row.get(column)):
                entry[key] = _clean(row.get(column))
        authors = [a.strip() for a in _clean(row.get("authors")).split(";") if a.strip()]
        if authors:
            entry["authors"] = authors
        entries.append(entry)
    with atomic_write(path, overwrite=overwrite) as fh:
        fh.write(rispy.dumps(entries, implementation=_plain_ris_writer()))
    return Path(path)


def _plain_ris_writer() -> type:
    """rispy's writer without the ``1.`` line it puts before each record (not RIS; readers see stray text)."""
    from rispy.writer import RisWriter

    class PlainRisWriter(RisWriter):
        def set_header(self, count: int) -> str:
            return ""

    return PlainRisWriter


def write_sheet(frame: pd.DataFrame, path: str | Path, labels: Sequence[str], *, overwrite: bool = False) -> Path:
    """A screening sheet for spreadsheet users: the top records, an empty ``decision`` column with a drop-down of ``labels``."""
    import openpyxl
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "screening"
    sheet.append(list(SHEET_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    rows = frame if "id" in frame.columns else frame.rename_axis("id").reset_index()
    for row in rows.to_dict(orient="records"):
        values = {**row, "words": ", ".join(row.get("evidence") or [])}
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", _clean(values.get(c))) if c not in ("id", "rank", "score") else values.get(c)
                      for c in SHEET_COLUMNS])
    column = {name: openpyxl.utils.get_column_letter(i) for i, name in enumerate(SHEET_COLUMNS, 1)}
    choice = DataValidation(type="list", formula1='"' + ",".join(labels) + '"', allow_blank=True,
                            error=f"Choose one of: {', '.join(labels)}", errorTitle="Unknown decision", showErrorMessage=True)
    sheet.add_data_validation(choice)
    if len(frame):
        choice.add(f"{column['decision']}2:{column['decision']}{len(frame) + 1}")
    widths = {"id": 7, "rank": 6, "score": 7, "decision": 12, "reason": 24, "title": 50, "authors": 24, "year": 6,
              "journal": 20, "doi": 18, "abstract": 90, "words": 30}
    for name, width in widths.items():
        sheet.column_dimensions[column[name]].width = width
    for cells in sheet.iter_rows(min_row=2, min_col=SHEET_COLUMNS.index("abstract") + 1, max_col=SHEET_COLUMNS.index("abstract") + 1):
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "B2"
    with atomic_output_path(path, overwrite=overwrite) as tmp:
        book.save(tmp)
    return Path(path)
