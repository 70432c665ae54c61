"""Suggestion records → files: JSONL (the contract), CSV/XLSX coding sheets, HTML report, Label Studio.

Every writer streams: records arrive batch by batch and go to a temporary file
beside the target, renamed into place only when all is written, so a crash
never leaves half a file. Writers format; they compute nothing but counts.
"""

from __future__ import annotations

import csv
import html
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from samverdi_nlp.codebook import Codebook
from samverdi_nlp.errors import OutputError
from samverdi_nlp.io_utils import atomic_output_path, atomic_write, publish, xlsx_row

FORMATS = ("csv", "xlsx", "jsonl", "html", "labelstudio")
SHEET_META = ("segment_id", "doc_id", "coder", "lang", "source_kind", "title", "text", "note")
SHEET_EXTRA = ("needs_review", "source", "page", "section", "start", "end", "flags")


def format_from_path(path: str | Path, fmt: str | None) -> str:
    """The output format: given, or from the suffix (.csv .xlsx .jsonl .html; .json = Label Studio)."""
    if fmt:
        if fmt not in FORMATS:
            raise OutputError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    by_suffix = {".csv": "csv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".html": "html", ".htm": "html", ".json": "labelstudio"}
    if suffix not in by_suffix:
        raise OutputError(f"cannot tell the format from {suffix or 'no suffix'}; use .csv .xlsx .jsonl .html or .json, or pass --format", path=path)
    return by_suffix[suffix]


def sheet_columns(codebook: Codebook) -> list[str]:
    dims = [d.id for d in codebook.dimensions]
    return [*SHEET_META, *dims, *SHEET_EXTRA, *(f"{d}_scores" for d in dims), *(f"{d}_evidence" for d in dims)]


def sheet_row(rec: dict[str, Any], codebook: Codebook) -> dict[str, Any]:
    """One record as a coding-sheet row: label columns hold the suggestions (``;``-separated);
    ``coder`` is left empty for the person who checks them."""
    row: dict[str, Any] = {c: rec.get(c, "") for c in SHEET_META}
    row["coder"] = ""
    for dim in codebook.dimensions:
        value = rec["codes"][dim.id]
        row[dim.id] = "; ".join(value) if dim.multi_label else value
        row[f"{dim.id}_scores"] = "; ".join(f"{lab}={p:.2f}" for lab, p in rec["scores"][dim.id].items())
        row[f"{dim.id}_evidence"] = " | ".join(f"{lab}: {', '.join(words)}" for lab, words in rec["evidence"].get(dim.id, {}).items())
    row["needs_review"] = "yes" if rec["needs_review"] else ""
    for key in ("source", "section", "start", "end"):
        row[key] = rec.get(key, "")
    row["page"] = "" if rec.get("page") is None else rec["page"]
    row["flags"] = "; ".join(rec.get("flags", []))
    return row


class _Writer:
    def __init__(self, path: Path, codebook: Codebook, overwrite: bool) -> None:
        self.path, self.codebook = Path(path), codebook
        if self.path.exists() and not overwrite:
            raise OutputError("already exists; choose another --out or pass --force", path=self.path)
        if not self.path.parent.exists():
            raise OutputError(f"folder {self.path.parent} does not exist", path=self.path)
        self.count = 0

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """Drop everything written so far (the target is untouched)."""


class _TextStreamWriter(_Writer):
    """Writes to a temporary text file beside the target, renamed at close."""

    def __init__(self, path: Path, codebook: Codebook, overwrite: bool) -> None:
        super().__init__(path, codebook, overwrite)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self.fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self.start()

    def start(self) -> None:
        pass

    def finish(self) -> None:
        pass

    def close(self) -> None:
        self.finish()
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        publish(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


class JsonlWriter(_TextStreamWriter):
    def write(self, records: Iterable[dict[str, Any]]) -> None:
        for rec in records:
            self.fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            self.count += 1


class CsvWriter(_TextStreamWriter):
    def start(self) -> None:
        self.writer = csv.DictWriter(self.fh, fieldnames=sheet_columns(self.codebook), lineterminator="\n")
        self.writer.writeheader()

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        for rec in records:
            self.writer.writerow(sheet_row(rec, self.codebook))
            self.count += 1


class XlsxWriter(_Writer):
    def __init__(self, path: Path, codebook: Codebook, overwrite: bool) -> None:
        super().__init__(path, codebook, overwrite)
        import openpyxl

        self.book = openpyxl.Workbook(write_only=True)
        self.sheet = self.book.create_sheet("suggestions")
        self.columns = sheet_columns(codebook)
        self.sheet.append(self.columns)

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        for rec in records:
            row = sheet_row(rec, self.codebook)
            self.sheet.append(xlsx_row(self.sheet, [row[c] for c in self.columns]))
            self.count += 1

    def close(self) -> None:
        with atomic_output_path(self.path) as tmp:
            self.book.save(tmp)


class LabelStudioWriter(_TextStreamWriter):
    """Label Studio tasks with the model's ``predictions``; the labelling config goes beside it."""

    def start(self) -> None:
        self.fh.write("[\n")

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        for rec in records:
            result = []
            for dim in self.codebook.dimensions:
                value = rec["codes"][dim.id]
                choices = list(value) if dim.multi_label else [value]
                if choices:
                    result.append({"from_name": dim.id, "to_name": "text", "type": "choices", "value": {"choices": choices}})
            task = {
                "data": {k: rec.get(k, "") for k in ("text", "segment_id", "doc_id", "lang", "source_kind", "title", "page", "section")},
                "predictions": [{"model_version": "samverdi", "score": 0.0 if rec["needs_review"] else 1.0, "result": result}],
            }
            self.fh.write(("" if self.count == 0 else ",\n") + json.dumps(task, ensure_ascii=False))
            self.count += 1

    def finish(self) -> None:
        self.fh.write("\n]\n")

    def close(self) -> None:
        super().close()
        config = self.path.with_name(self.path.stem + ".label_config.xml")
        with atomic_write(config) as fh:
            fh.write(labelstudio_config(self.codebook))


def labelstudio_config(codebook: Codebook) -> str:
    """The Label Studio labelling interface for a codebook: one Choices block per dimension."""
    lines = ["<View>", '  <Header value="$title"/>', '  <Text name="text" value="$text"/>']
    for dim in codebook.dimensions:
        mode = "multiple" if dim.multi_label else "single"
        required = "" if dim.multi_label else ' required="true"'
        lines.append(f'  <Header value="{html.escape(dim.name_en)}"/>')
        lines.append(f'  <Choices name="{dim.id}" toName="text" choice="{mode}" showInline="true"{required}>')
        lines += [f'    <Choice value="{lab.id}" hint="{html.escape(lab.definition, quote=True)}"/>' for lab in dim.labels]
        lines.append("  </Choices>")
    lines.append("</View>")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- HTML report

_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
            "#1f78b4", "#b2df8a", "#fb9a99", "#cab2d6")

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#12355b;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.85;font-size:13px}
main{padding:16px 24px;max-width:1200px}
.doc{background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px 16px;margin:0 0 18px}
.doc h2{font-size:17px;margin:0 0 6px}.muted{color:#666;font-size:13px}
.filters{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 24px;z-index:2;font-size:13px}
.filters select,.filters label{margin-right:14px}
.seg{border-top:1px solid #eee;padding:8px 0}
.seg .meta{font-size:12px;color:#666}.seg .text{white-space:pre-line}
.chip{display:inline-block;border-radius:10px;padding:1px 8px;margin:2px 3px 2px 0;font-size:12px;color:#fff}
.review{display:inline-block;background:#fff3cd;color:#7a5b00;border:1px solid #e6c76a;border-radius:10px;padding:0 7px;font-size:12px}
mark{background:#fff1a8;padding:0 1px;border-radius:2px}
.ev{font-size:12px;color:#555}
svg text{font:11px system-ui,sans-serif}
"""

_JS = """
function applyFilters(){var code=document.getElementById('f-code').value;var rev=document.getElementById('f-review').checked;
document.querySelectorAll('.seg').forEach(function(s){var ok=(!code||s.dataset.codes.split(' ').indexOf(code)>=0)&&(!rev||s.dataset.review==='1');
s.style.display=ok?'':'none';});}
"""


def _highlight(text: str, words: Iterable[str]) -> str:
    """Escape ``text`` and wrap whole-word occurrences of ``words`` in <mark>."""
    import re

    words = sorted({w for w in words if w}, key=len, reverse=True)
    if not words:
        return html.escape(text)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out += [html.escape(text[last:m.start()]), "<mark>", html.escape(m.group()), "</mark>"]
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _bars_svg(shares: list[tuple[str, float, str]], width: int = 520) -> str:
    """Horizontal bar chart (share of segments per code) as inline SVG."""
    row_h, label_w = 16, 190
    height = row_h * len(shares) + 6
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="share of segments per code">']
    for i, (label, share, colour) in enumerate(shares):
        y = i * row_h + 3
        bar = max(1.0, share * (width - label_w - 50))
        parts.append(f'<text x="0" y="{y + 11}">{html.escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{bar:.1f}" height="12" fill="{colour}" rx="2"/>')
        parts.append(f'<text x="{label_w + bar + 4:.1f}" y="{y + 11}">{share:.0%}</text>')
    parts.append("</svg>")
    return "".join(parts)


class HtmlWriter(_Writer):
    """A single self-contained HTML file (inline CSS, SVG and a few lines of JS; no CDN)."""

    def __init__(self, path: Path, codebook: Codebook, overwrite: bool, title: str = "samverdi suggestions") -> None:
        super().__init__(path, codebook, overwrite)
        self.title = title
        fd, self.body_tmp = tempfile.mkstemp(prefix=f".{self.path.name}.body.", suffix=".tmp", dir=self.path.parent)
        self.body = os.fdopen(fd, "w", encoding="utf-8")
        self.docs: dict[str, dict[str, Any]] = {}
        self.current_doc: str | None = None
        self.colours = {dim.id: _PALETTE[i % len(_PALETTE)] for i, dim in enumerate(codebook.dimensions)}

    def _open_doc(self, rec: dict[str, Any]) -> None:
        if self.current_doc is not None:
            self.body.write("</section>\n")
        doc = rec["doc_id"]
        self.current_doc = doc
        name = Path(rec.get("source") or "").name or doc
        self.docs[doc] = {"name": name, "n": 0, "review": 0, "codes": Counter(), "anchor": f"doc-{len(self.docs) + 1}"}
        self.body.write(f'<section class="doc" id="{self.docs[doc]["anchor"]}"><h2>{html.escape(name)}</h2>'
                        f'<div class="muted">document {html.escape(doc)}</div><!--SUMMARY:{html.escape(doc)}-->\n')

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        for rec in records:
            if rec["doc_id"] != self.current_doc:
                self._open_doc(rec)
            stats = self.docs[rec["doc_id"]]
            stats["n"] += 1
            stats["review"] += rec["needs_review"]
            chips, codes, words = [], [], []
            for dim in self.codebook.dimensions:
                value = rec["codes"][dim.id]
                for lab in (value if dim.multi_label else [value]):
                    key = f"{dim.id}:{lab}"
                    stats["codes"][key] += 1
                    codes.append(key)
                    p = rec["scores"][dim.id][lab]
                    ev = rec["evidence"].get(dim.id, {}).get(lab, [])
                    words += ev[:3]
                    tip = html.escape(f"{dim.name_en}: {lab} (p={p:.2f}); evidence: {', '.join(ev) or '—'}", quote=True)
                    chips.append(f'<span class="chip" style="background:{self.colours[dim.id]}" title="{tip}">{html.escape(key)}</span>')
            where = []
            if rec.get("page") is not None:
                where.append(f"p. {rec['page']}")
            if rec.get("section"):
                where.append(html.escape(str(rec["section"])))
            where.append(html.escape(rec["segment_id"]))
            where.append(html.escape(rec.get("lang") or "?"))
            review = '<span class="review">needs review</span> ' if rec["needs_review"] else ""
            self.body.write(
                f'<div class="seg" data-codes="{html.escape(" ".join(codes), quote=True)}" data-review="{int(rec["needs_review"])}">'
                f'<div class="meta">{review}{" · ".join(where)}</div>'
                f'<div class="text">{_highlight(rec["text"], words)}</div><div>{"".join(chips)}</div></div>\n'
            )
            self.count += 1

    def _summary(self, stats: dict[str, Any]) -> str:
        shares = []
        for dim in self.codebook.dimensions:
            for lab in dim.label_ids:
                n = stats["codes"].get(f"{dim.id}:{lab}", 0)
                shares.append((f"{dim.id}: {lab}", n / max(stats["n"], 1), self.colours[dim.id]))
        return (f'<p class="muted">{stats["n"]} segments, {stats["review"]} need review. Share of segments per code:</p>'
                + _bars_svg(shares))

    def close(self) -> None:
        if self.current_doc is not None:
            self.body.write("</section>\n")
        self.body.close()
        options = "".join(f'<option value="{dim.id}:{lab}">{dim.id}: {lab}</option>'
                          for dim in self.codebook.dimensions for lab in dim.label_ids)
        total = sum(d["n"] for d in self.docs.values())
        review = sum(d["review"] for d in self.docs.values())
        toc = "".join(f'<li><a href="#{d["anchor"]}">{html.escape(d["name"])}</a> ({d["n"]} segments)</li>' for d in self.docs.values())
        summaries = {doc: self._summary(stats) for doc, stats in self.docs.items()}
        try:
            with atomic_write(self.path) as out:
                out.write(f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>'
                          f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style><script>{_JS}</script></head><body>')
                out.write(f'<header><h1>{html.escape(self.title)}</h1><p>{len(self.docs)} document(s), {total} segments, '
                          f'{review} flagged for review. Suggestions are a model\'s; check every code before you use it.</p></header>')
                out.write('<div class="filters"><label>Code <select id="f-code" onchange="applyFilters()"><option value="">all</option>'
                          f'{options}</select></label><label><input type="checkbox" id="f-review" onchange="applyFilters()"> '
                          'only segments that need review</label></div><main>')
                out.write(f'<nav><ul>{toc}</ul></nav>')
                with open(self.body_tmp, encoding="utf-8") as body:
                    for line in body:
                        if line.startswith('<section class="doc"') and "<!--SUMMARY:" in line:
                            marker_start = line.index("<!--SUMMARY:")
                            doc = html.unescape(line[marker_start + 12 : line.index("-->", marker_start)])
                            line = line[:marker_start] + summaries.get(doc, "") + line[line.index("-->", marker_start) + 3 :]
                        out.write(line)
                out.write("</main></body></html>\n")
        finally:
            os.unlink(self.body_tmp)

    def abort(self) -> None:
        self.body.close()
        if os.path.exists(self.body_tmp):
            os.unlink(self.body_tmp)


def open_writer(path: str | Path, fmt: str, codebook: Codebook, *, overwrite: bool = False) -> _Writer:
    """A streaming writer for ``fmt``; call ``write`` per batch, then ``close`` (or ``abort``)."""
    writers = {"jsonl": JsonlWriter, "csv": CsvWriter, "xlsx": XlsxWriter, "html": HtmlWriter, "labelstudio": LabelStudioWriter}
    return writers[fmt](Path(path), codebook, overwrite)
