"""Agreement reports (dicts from :func:`samverdi_nlp.agreement.agreement_report`) → text, JSON, CSV, HTML.

Formatting only: every number shown was computed by :mod:`samverdi_nlp.agreement`.
The HTML page is self-contained (inline CSS and SVG, no scripts, nothing
fetched from the network).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from samverdi_nlp.codebook import Codebook
from samverdi_nlp.errors import OutputError
from samverdi_nlp.io_utils import write_rows

NAMES = {
    "percent_agreement": "agreement",
    "alpha": "α",
    "kappa": "κ",
    "fleiss_kappa": "Fleiss κ",
    "ac1": "AC1",
    "exact_match": "exact match",
    "mean_label_kappa": "mean label κ",
}
KRIPPENDORFF_LINES = (0.667, 0.800)
DISAGREEMENT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".xlsx")


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _ci(interval: Sequence[float] | None) -> str:
    return "" if not interval else f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def _with_ci(entry: dict[str, Any], key: str) -> str:
    """Value and interval; ``*`` marks an interval from only the resamples where the statistic is defined."""
    if key not in entry:
        return ""
    text = _num(entry[key])
    interval = entry.get("ci", {}).get(key)
    partial = "*" if f"{key}_ci" in entry.get("reasons", {}) else ""
    return f"{text} {_ci(interval)}{partial}" if interval else text


PARTIAL_NOTE = "* interval from only the resamples where the statistic is defined (a rare label: read it with care)"


def _align(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return lines


def _kind(entry: dict[str, Any]) -> str:
    return "multi-label" if entry["multi_label"] else "single-label"


def _dimension_keys(entry: dict[str, Any]) -> list[str]:
    keys = ["alpha", "percent_agreement", "exact_match"] if entry["multi_label"] else ["alpha", "kappa", "fleiss_kappa", "ac1", "percent_agreement"]
    return [k for k in keys if k in entry]


def _pair_keys(entry: dict[str, Any]) -> list[str]:
    return ["percent_agreement", "alpha", "exact_match", "mean_label_kappa"] if entry["multi_label"] else ["percent_agreement", "alpha", "kappa", "ac1"]


def _summary(entry: dict[str, Any]) -> str:
    counts = ", ".join(f"{c} {n}" for c, n in entry["n_coded"].items())
    if len(entry["coders"]) < 2:
        return f"One coder ({counts} segments): coder–coder statistics need two coders or more."
    text = (f"{entry['n_segments']} segments coded by two coders or more ({entry['n_shared']} by all "
            f"{len(entry['coders'])} coders); left out: {entry['n_single']} coded by one coder only. Segments per coder: {counts}.")
    if entry.get("n_matched_by_text"):
        text += f" {entry['n_matched_by_text']} segments were matched by their text because their ids differ."
    return text


def _undefined_notes(entry: dict[str, Any]) -> list[str]:
    notes = [f"{NAMES.get(k, k)}: {why}" for k, why in entry["reasons"].items() if not k.endswith("_ci")]
    for label, lab in entry["labels"].items():
        reasons = {why for k, why in lab["reasons"].items() if not k.endswith("_ci")}
        notes += [f"{label}: {why}" for why in sorted(reasons)]
    return notes


def _title(entry_id: str, codebook: Codebook | None) -> str:
    if codebook is None:
        return entry_id
    try:
        dim = codebook.dimension(entry_id)
    except Exception:  # a report made with another codebook still prints
        return entry_id
    return f"{entry_id} ({dim.name_en} / {dim.name_nb})"


def _label_name(dim_id: str, label: str, codebook: Codebook | None) -> str:
    if codebook is None:
        return label
    try:
        name = codebook.dimension(dim_id).label(label).name_en
    except Exception:  # a report made with another codebook still prints
        return label
    return label if name == label else f"{label} ({name})"


def _pairs_rows(pairs: list[dict[str, Any]], entry: dict[str, Any], *, with_kind: bool) -> list[list[str]]:
    keys = _pair_keys(entry)
    header = ["pair", *(["kind"] if with_kind else []), "n", *(NAMES[k] for k in keys)]
    rows = [header]
    for pair in pairs:
        rows.append([" – ".join(pair["coders"]), *([pair["kind"]] if with_kind else []), str(pair["n_segments"]),
                     *(_with_ci(pair, k) for k in keys)])
    return rows


def agreement_table(report: dict[str, dict[str, Any]], codebook: Codebook | None = None) -> str:
    """The report as plain text for the terminal: one block per dimension."""
    out: list[str] = []
    for dim_id, entry in report.items():
        level = entry.get("bootstrap", {}).get("level", 0.95)
        out.append(f"{_title(dim_id, codebook)}: {_kind(entry)}, coders {', '.join(entry['coders'])}")
        out.append(f"  {_summary(entry)}")
        out.append(f"  {entry['reading']}")
        if entry["n_segments"] == 0:
            out += [*_model_lines(entry), ""]
            continue
        rows = [["statistic", "value", f"{level:.0%} CI"]]
        for key in _dimension_keys(entry):
            label = "α (MASI)" if key == "alpha" and entry["multi_label"] else NAMES[key]
            if key == "kappa":
                label = f"κ ({entry['kappa_kind']})"
            rows.append([label, _num(entry[key]), _ci(entry["ci"].get(key))])
        out += _align(rows) + [""]
        kappa = f"κ ({entry['kappa_kind']})"
        rows = [["label", "present", "α", kappa, "AC1", "agreement"]]
        for label, lab in entry["labels"].items():
            rows.append([label, str(lab["n_present"]), _with_ci(lab, "alpha"), _with_ci(lab, "kappa"), _with_ci(lab, "ac1"),
                         _num(lab["percent_agreement"])])
        out += _align(rows) + [""]
        if entry["pairs"]:
            out += _align(_pairs_rows(entry["pairs"], entry, with_kind=False)) + [""]
        if entry.get("model"):
            out += [*_model_lines(entry), ""]
        notes = _undefined_notes(entry)
        if notes:
            out.append("  Undefined: " + "; ".join(notes))
        if _has_partial(entry):
            out.append(f"  {PARTIAL_NOTE}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _model_lines(entry: dict[str, Any]) -> list[str]:
    model = entry.get("model")
    if not model:
        return []
    lines = [f"  Model {model['name']!r} as a coder, on the same {model['n_segments']} segments:"]
    if model["pairs"]:
        lines += _align(_pairs_rows(model["pairs"], entry, with_kind=True))
    return [*lines, f"  → {model['reading']}"]


def _has_partial(entry: dict[str, Any]) -> bool:
    blocks = [entry, *entry["labels"].values(), *entry["pairs"], *(entry.get("model") or {}).get("pairs", [])]
    return any(k.endswith("_ci") for block in blocks for k in block.get("reasons", {}))


def agreement_json(report: dict[str, dict[str, Any]]) -> str:
    """The report as JSON (the documented shape; ``null`` where a statistic is undefined)."""
    return json.dumps(report, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


CSV_COLUMNS = ("dimension", "scope", "label", "coders", "statistic", "value", "ci_low", "ci_high", "n_segments", "reason")


def _csv_rows(dim_id: str, scope: str, label: str, coders: str, entry: dict[str, Any], keys: Sequence[str], n: int) -> list[dict[str, Any]]:
    rows = []
    for key in keys:
        if key not in entry:
            continue
        interval = entry.get("ci", {}).get(key) or [None, None]
        rows.append({"dimension": dim_id, "scope": scope, "label": label, "coders": coders, "statistic": key,
                     "value": entry[key], "ci_low": interval[0], "ci_high": interval[1], "n_segments": n,
                     "reason": entry.get("reasons", {}).get(key, "")})
    return rows


def agreement_rows(report: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The report as long ("tidy") rows: one per dimension/label/pair and statistic."""
    rows: list[dict[str, Any]] = []
    label_keys = ("percent_agreement", "alpha", "kappa", "fleiss_kappa", "ac1")
    for dim_id, entry in report.items():
        n = entry["n_segments"]
        rows += _csv_rows(dim_id, "dimension", "", ", ".join(entry["coders"]), entry, _dimension_keys(entry), n)
        for label, lab in entry["labels"].items():
            rows += _csv_rows(dim_id, "label", label, ", ".join(entry["coders"]), lab, label_keys, n)
        for pair in entry["pairs"]:
            rows += _csv_rows(dim_id, "pair", "", " – ".join(pair["coders"]), pair, _pair_keys(entry), pair["n_segments"])
        for pair in (entry.get("model") or {}).get("pairs", []):
            rows += _csv_rows(dim_id, pair["kind"], "", " – ".join(pair["coders"]), pair, _pair_keys(entry), pair["n_segments"])
    return rows


def agreement_csv(report: dict[str, dict[str, Any]]) -> str:
    """The report as CSV in long format (see :func:`agreement_rows`); empty cells where undefined."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in agreement_rows(report):
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()


# --------------------------------------------------------------------------- HTML


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;color:#1a1a1a;line-height:1.4}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.5rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8rem 0}th,td{padding:.25rem .6rem;border-bottom:1px solid #e2e2e2;text-align:right}td{white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
.ci{color:#666;font-size:.85em}.reading{background:#f7f7fb;border-left:4px solid #6b6bb3;padding:.4rem .8rem}
.note{color:#555;font-size:.9em}.undef{color:#999}
"""


def _cell(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    if value is None:
        why = entry.get("reasons", {}).get(key, "undefined")
        return f'<td class="undef" title="{html.escape(why)}">—</td>'
    interval = entry.get("ci", {}).get(key)
    partial = entry.get("reasons", {}).get(f"{key}_ci")
    mark = f'<span title="{html.escape(partial)}">*</span>' if partial else ""
    ci = f' <span class="ci">{html.escape(_ci(interval))}{mark}</span>' if interval else ""
    return f"<td>{value:.3f}{ci}</td>"


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(f"<tr>{''.join(row)}</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def alpha_chart(rows: Sequence[tuple[str, float | None, Sequence[float] | None]], *, title: str = "Krippendorff's α") -> str:
    """A small inline SVG: one dot per row with its interval, and the 0.667 / 0.800 thresholds.

    >>> svg = alpha_chart([("all labels", 0.74, (0.61, 0.85)), ("rare", None, None)])
    >>> svg.startswith("<svg") and "0.667" in svg and "undefined" in svg
    True
    """
    left, right, row_height, top = 170, 20, 22, 28
    width = 560
    values = [v for _, v, _ in rows if v is not None] + [c[0] for _, _, c in rows if c]
    low = max(-1.0, math.floor(min([0.0, *values]) * 10) / 10)
    span = 1.0 - low

    def x(value: float) -> float:
        return left + (value - low) / span * (width - left - right)

    height = top + row_height * len(rows) + 24
    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{html.escape(title)}" font-family="sans-serif" font-size="12">',
             f"<title>{html.escape(title)}</title>"]
    bottom = top + row_height * len(rows)
    tick = math.ceil(low / 0.2 - 1e-9) * 0.2
    while tick <= 1.0001:
        parts.append(f'<line x1="{x(tick):.1f}" y1="{top - 6}" x2="{x(tick):.1f}" y2="{bottom}" stroke="#eee"/>')
        parts.append(f'<text x="{x(tick):.1f}" y="{bottom + 16}" text-anchor="middle" fill="#555">{tick:.1f}</text>')
        tick = round(tick + 0.2, 10)
    for threshold in KRIPPENDORFF_LINES:
        parts.append(f'<line x1="{x(threshold):.1f}" y1="{top - 10}" x2="{x(threshold):.1f}" y2="{bottom}" stroke="#b33" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{x(threshold):.1f}" y="{top - 14}" text-anchor="middle" fill="#b33">{threshold:.3f}</text>')
    for i, (name, value, interval) in enumerate(rows):
        y = top + row_height * i + row_height / 2
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{html.escape(name)}</text>')
        if value is None:
            parts.append(f'<text x="{left + 4}" y="{y + 4:.1f}" fill="#999">undefined</text>')
            continue
        if interval:
            parts.append(f'<line x1="{x(interval[0]):.1f}" y1="{y:.1f}" x2="{x(interval[1]):.1f}" y2="{y:.1f}" stroke="#446" stroke-width="2"/>')
        tip = f"{name}: α = {value:.3f}" + (f" {_ci(interval)}" if interval else "")
        parts.append(f'<circle cx="{x(value):.1f}" cy="{y:.1f}" r="4.5" fill="#446"><title>{html.escape(tip)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def agreement_html(report: dict[str, dict[str, Any]], codebook: Codebook | None = None, *, title: str = "Inter-coder agreement") -> str:
    """A self-contained HTML page: per dimension the statistics, the per-label table with intervals and an α chart."""
    sections = []
    for dim_id, entry in report.items():
        level = entry.get("bootstrap", {}).get("level", 0.95)
        boot = entry.get("bootstrap", {})
        parts = [f"<h2>{html.escape(_title(dim_id, codebook))} <small>({_kind(entry)})</small></h2>",
                 f"<p>{html.escape(_summary(entry))}</p>", f'<p class="reading">{html.escape(entry["reading"])}</p>']
        if entry["n_segments"] == 0:
            parts += _html_model(entry)
            sections.append("\n".join(parts))
            continue
        keys = _dimension_keys(entry)
        header = [NAMES[k] if k != "alpha" or not entry["multi_label"] else "α (MASI)" for k in keys]
        parts.append(_html_table(header, [[_cell(entry, k) for k in keys]]))
        kappa = f"κ ({entry['kappa_kind']})"
        rows = []
        for label, lab in entry["labels"].items():
            rows.append([f"<td>{html.escape(_label_name(dim_id, label, codebook))}</td>", f"<td>{lab['n_present']}</td>",
                         f"<td>{lab['prevalence']:.1%}</td>", _cell(lab, "alpha"), _cell(lab, "kappa"), _cell(lab, "ac1"),
                         _cell(lab, "percent_agreement")])
        parts.append("<h3>Per label (present / absent)</h3>")
        parts.append(_html_table(["label", "segments with it", "share of codes", "α", kappa, "AC1", "agreement"], rows))
        chart_rows = [("whole dimension", entry["alpha"], entry["ci"].get("alpha"))]
        chart_rows += [(label, lab["alpha"], lab["ci"].get("alpha")) for label, lab in entry["labels"].items()]
        parts.append(alpha_chart(chart_rows, title=f"Krippendorff's α for {dim_id}, with {level:.0%} intervals"))
        pair_keys = _pair_keys(entry)
        if entry["pairs"]:
            parts.append("<h3>Coder pairs</h3>")
            parts.append(_html_table(["pair", "n", *(NAMES[k] for k in pair_keys)],
                                     [[f"<td>{html.escape(' – '.join(p['coders']))}</td>", f"<td>{p['n_segments']}</td>",
                                       *(_cell(p, k) for k in pair_keys)] for p in entry["pairs"]]))
        parts += _html_model(entry)
        notes = _undefined_notes(entry)
        if notes:
            parts.append(f'<p class="note">Undefined: {html.escape("; ".join(notes))}</p>')
        if _has_partial(entry):
            parts.append(f'<p class="note">{html.escape(PARTIAL_NOTE)}</p>')
        if boot:
            parts.append(f'<p class="note">Intervals: percentile bootstrap over segments, {boot.get("n_boot")} resamples, '
                         f'seed {boot.get("seed")}. Thresholds: Krippendorff 0.667 (tentative) and 0.800 (reliable); '
                         "κ and AC1 bands after Landis &amp; Koch.</p>")
        sections.append("\n".join(parts))
    body = "\n".join(sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")


def _html_model(entry: dict[str, Any]) -> list[str]:
    model = entry.get("model")
    if not model:
        return []
    pair_keys = _pair_keys(entry)
    return [
        f"<h3>Is the model as reliable as a second coder? ({model['n_segments']} segments)</h3>",
        _html_table(["pair", "kind", "n", *(NAMES[k] for k in pair_keys)],
                    [[f"<td>{html.escape(' – '.join(p['coders']))}</td>", f"<td>{html.escape(p['kind'])}</td>",
                      f"<td>{p['n_segments']}</td>", *(_cell(p, k) for k in pair_keys)] for p in model["pairs"]]),
        f'<p class="reading">{html.escape(model["reading"])}</p>',
    ]


FORMATTERS = {"json": agreement_json, "csv": agreement_csv}


def format_report(report: dict[str, dict[str, Any]], format: str, codebook: Codebook | None = None) -> str:
    """The report in one of ``table``, ``json``, ``csv`` or ``html``."""
    if format == "table":
        return agreement_table(report, codebook)
    if format == "html":
        return agreement_html(report, codebook)
    if format in FORMATTERS:
        return FORMATTERS[format](report)
    raise ValueError(f"unknown format {format!r}; choose table, json, csv or html")


# --------------------------------------------------------------------------- disagreements


def _side_by_side(value: Any, *, as_list: bool) -> Any:
    """A code cell for people: ``a; b``, ``(none)`` for an empty label set, empty when not coded."""
    if value is None or (isinstance(value, float) and value != value):
        return None if as_list else ""
    if isinstance(value, tuple):
        return list(value) if as_list else ("; ".join(value) if value else "(none)")
    return value


def write_disagreements(frame: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the table of :func:`samverdi_nlp.agreement.disagreements` as .csv, .tsv, .jsonl or .xlsx, atomically."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in DISAGREEMENT_SUFFIXES:
        raise OutputError(f"cannot write {suffix or '(no suffix)'}; choose one of {', '.join(DISAGREEMENT_SUFFIXES)}", path=target)
    columns = list(frame.columns)
    records = [{c: _side_by_side(v, as_list=suffix == ".jsonl") for c, v in row.items()} for row in frame.to_dict(orient="records")]
    write_rows(target, columns, records, overwrite=overwrite, sheet_name="disagreements")
    return target
