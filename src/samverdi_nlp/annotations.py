"""Annotation tables ⇄ one canonical pandas DataFrame, and their validation.

The format (documented in the README): one row per (segment, coder).

- ``text`` is required; ``segment_id`` (alias ``id``) is derived from a hash of
  the text when missing; ``coder`` comes from ``--coder`` or the file name when
  missing; optional ``doc_id``, ``lang``, ``source_kind`` (abstract, plan,
  report, other), ``title``, ``note``.
- one column per codebook dimension; several labels separated by ``;``
  (``,`` and ``|`` are accepted too); JSONL may use lists.

Files: ``.csv`` (``,`` or ``;`` delimited, UTF-8 with or without BOM),
``.tsv``, ``.xlsx`` and ``.jsonl``.

In the canonical frame a multi-label cell is a tuple of label ids in codebook
order (``()`` = coded, no label) and a single-label cell a label id; ``None``
means the table does not code that dimension for that row. All other
canonical columns are strings (``""`` when absent). Columns the format does not
know are kept, after the canonical ones.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from samverdi_nlp.codebook import Codebook
from samverdi_nlp.errors import AnnotationError, SamverdiError
from samverdi_nlp.io_utils import decode_text, write_rows

META_COLUMNS = ("segment_id", "doc_id", "coder", "lang", "source_kind", "title", "text", "note")
SOURCE_KINDS = ("abstract", "plan", "report", "other")
TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx", ".jsonl", ".json")
COLUMN_ALIASES = {"id": "segment_id", "segment": "segment_id", "language": "lang", "kind": "source_kind"}
LABEL_SEPARATORS = re.compile(r"[;,|]")


@dataclass(frozen=True, order=True)
class Problem:
    """One finding of :func:`validate`, printed linter style."""

    path: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.row}" if self.row else self.path
        return f"{where}: {self.column}: {self.message}" if self.column else f"{where}: {self.message}"


def normalise_text(text: str) -> str:
    """Text as used for matching: NFC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def text_segment_id(text: str) -> str:
    """Stable id for a segment that has none: ``t`` + 12 hex digits of its normalised text."""
    return "t" + hashlib.sha1(normalise_text(text).encode("utf-8")).hexdigest()[:12]


# --------------------------------------------------------------------------- reading raw rows


def _sniff_delimiter(text: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_raw_rows(path: str | Path, *, encoding: str | None = None) -> tuple[list[dict[str, Any]], list[int], str]:
    """Read a table file into rows of raw values, their row numbers in the file, and its format.

    Row numbers are what a user sees: the line in a CSV/TSV/JSONL file, the
    row in Excel (header = row 1). Raises :class:`AnnotationError` for
    unreadable files.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise AnnotationError(
            f"unsupported file type {suffix or '(none)'}; annotation tables are {', '.join(TABLE_SUFFIXES)}",
            path=p,
        )
    if not p.is_file():
        raise AnnotationError("file not found", path=p)
    if p.stat().st_size == 0:
        raise AnnotationError("file is empty (0 bytes)", path=p)
    if suffix == ".xlsx":
        return _read_xlsx(p)
    text = decode_text(p.read_bytes(), p, encoding, error=AnnotationError)
    if not text.strip():
        raise AnnotationError("file has no content", path=p)
    if suffix == ".jsonl":
        return _read_jsonl(p, text)
    if suffix == ".json":
        return _read_json(p, text)
    delimiter = _sniff_delimiter(text, suffix)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        rows, numbers = [], []
        line = 2
        for record in reader:
            if any(cell.strip() for cell in record):
                if len(record) > len(header):
                    raise AnnotationError(
                        f"line {reader.line_num}: {len(record)} cells but {len(header)} columns in the header "
                        f"(delimiter {delimiter!r}); check the quoting", path=p)
                rows.append(dict(zip(header, record)))
                numbers.append(line)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise AnnotationError(f"malformed {suffix[1:].upper()} at line {reader.line_num}: {exc}", path=p) from exc
    return rows, numbers, "tsv" if delimiter == "\t" else "csv"


def _read_jsonl(path: Path, text: str) -> tuple[list[dict[str, Any]], list[int], str]:
    rows, numbers = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AnnotationError(f"line {lineno}: not valid JSON ({exc.msg})", path=path) from exc
        if not isinstance(obj, dict):
            raise AnnotationError(f"line {lineno}: each line must be a JSON object", path=path)
        rows.append(obj)
        numbers.append(lineno)
    return rows, numbers, "jsonl"


def _labelstudio_coder(annotation: dict[str, Any]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("username") or who.get("id")
    return f"labelstudio-{who}" if isinstance(who, int) else str(who or "")


def _read_json(path: Path, text: str) -> tuple[list[dict[str, Any]], list[int], str]:
    """A JSON array of row objects, or a Label Studio export (tasks with ``annotations``).

    A Label Studio annotation becomes one row: the task's ``data`` fields, the
    annotator as ``coder``, and each ``choices`` result under its ``from_name``
    (the dimension id, as in the labelling config ``samverdi suggest`` writes).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"not valid JSON (line {exc.lineno}: {exc.msg})", path=path) from exc
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise AnnotationError("expected a JSON array of objects (rows, or Label Studio tasks)", path=path)
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    if data and all("annotations" in task and "data" in task for task in data):
        for number, task in enumerate(data, 1):
            for annotation in task.get("annotations") or []:
                if annotation.get("was_cancelled"):
                    continue
                row = {k: v for k, v in task["data"].items() if not isinstance(v, (dict, list))}
                row.setdefault("segment_id", str(task.get("id", "")))
                row["coder"] = _labelstudio_coder(annotation)
                for result in annotation.get("result") or []:
                    choices = (result.get("value") or {}).get("choices")
                    if result.get("from_name") and choices is not None:
                        row[result["from_name"]] = list(choices)
                rows.append(row)
                numbers.append(number)
        return rows, numbers, "labelstudio"
    return data, list(range(1, len(data) + 1)), "json"


def _read_xlsx(path: Path) -> tuple[list[dict[str, Any]], list[int], str]:
    import openpyxl  # imported here: only Excel users pay for it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a corrupt file
        raise AnnotationError(
            f"cannot open as an Excel .xlsx workbook ({type(exc).__name__}); is it corrupt or another format?",
            path=path,
        ) from exc
    try:
        sheet = book.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header_row = next(values, None)
        if header_row is None:
            raise AnnotationError("the first sheet is empty", path=path)
        header = ["" if h is None else str(h) for h in header_row]
        rows, numbers = [], []
        for number, record in enumerate(values, 2):
            if record is None or all(v is None or str(v).strip() == "" for v in record):
                continue
            rows.append({h: ("" if v is None else v) for h, v in zip(header, record) if h})
            numbers.append(number)
    finally:
        book.close()
    return rows, numbers, "xlsx"


# --------------------------------------------------------------------------- canonical frame


def _canonical_column(name: str) -> str:
    key = str(name).strip().lstrip("\ufeff").lower().replace(" ", "_")
    return COLUMN_ALIASES.get(key, key)


def _cell_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from spreadsheets
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_labels(value: Any) -> list[str]:
    """Split a label cell into label ids (lower-cased; order kept; blanks dropped).

    >>> parse_labels("Culture; process")
    ['culture', 'process']
    >>> parse_labels(["structure"])
    ['structure']
    >>> parse_labels("")
    []
    """
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        parts = [str(v) for v in value]
    else:
        parts = LABEL_SEPARATORS.split(_cell_str(value))
    return [p.strip().lower() for p in parts if p.strip()]


def _rows_to_frame(
    rows: list[dict[str, Any]],
    numbers: list[int],
    path: str,
    codebook: Codebook,
    coder: str | None,
) -> tuple[pd.DataFrame, list[Problem]]:
    problems: list[Problem] = []
    renamed = [{_canonical_column(k): v for k, v in row.items()} for row in rows]
    columns = list(dict.fromkeys(k for row in renamed for k in row))
    if "text" not in columns:
        problems.append(Problem(path, 1, "text", f"missing required column 'text' (columns found: {', '.join(map(str, columns)) or 'none'})"))
        return pd.DataFrame(), problems
    dims_present = [d for d in codebook.dimension_ids if d in columns]
    if not dims_present:
        problems.append(Problem(path, 1, "", f"no codebook dimension column; expected one or more of: {', '.join(codebook.dimension_ids)}"))
    extra = [c for c in columns if c not in META_COLUMNS and c not in codebook.dimension_ids and c]
    default_coder = coder or Path(path).stem
    records = []
    for row, number in zip(renamed, numbers):
        rec: dict[str, Any] = {c: _cell_str(row.get(c)) for c in META_COLUMNS}
        if not rec["text"]:
            problems.append(Problem(path, number, "text", "empty text"))
        if not rec["segment_id"]:
            rec["segment_id"] = text_segment_id(rec["text"])
        if not rec["coder"]:
            rec["coder"] = default_coder
        if rec["source_kind"]:
            rec["source_kind"] = rec["source_kind"].lower()
            if rec["source_kind"] not in SOURCE_KINDS:
                problems.append(Problem(path, number, "source_kind", f"unknown source kind {rec['source_kind']!r}; allowed: {', '.join(SOURCE_KINDS)}"))
        for dim in codebook.dimensions:
            if dim.id not in dims_present:
                rec[dim.id] = None
                continue
            labels = parse_labels(row.get(dim.id))
            unknown = [lab for lab in labels if lab not in dim.label_ids]
            for lab in unknown:
                problems.append(Problem(path, number, dim.id, f"unknown label {lab!r}; allowed: {', '.join(dim.label_ids)}"))
            known = [lab for lab in dim.label_ids if lab in labels]
            if dim.multi_label:
                rec[dim.id] = tuple(known)
            else:
                if len(set(labels)) > 1:
                    problems.append(Problem(path, number, dim.id, f"{len(set(labels))} labels ({'; '.join(labels)}) in a single-label dimension; choose one of {', '.join(dim.label_ids)}"))
                rec[dim.id] = known[0] if known else None
        for c in extra:
            rec[c] = _cell_str(row.get(c))
        rec["_row"] = number
        records.append(rec)
    frame = pd.DataFrame.from_records(records, columns=[*META_COLUMNS, *codebook.dimension_ids, *extra, "_row"])
    return frame, problems


def _duplicate_problems(frame: pd.DataFrame, codebook: Codebook) -> list[Problem]:
    problems = []
    if frame.empty:
        return problems
    dims = list(codebook.dimension_ids)
    for (sid, coder), group in frame.groupby(["segment_id", "coder"], sort=False):
        if len(group) < 2:
            continue
        codes = {tuple(row) for row in group[dims].itertuples(index=False)}
        if len(codes) > 1:
            first = group.iloc[0]
            for _, row in group.iloc[1:].iterrows():
                problems.append(Problem(row["_file"], int(row["_row"]), "segment_id",
                                        f"segment {sid!r} coded twice by {coder!r} with different codes "
                                        f"(first at {first['_file']}:{int(first['_row'])})"))
    return problems


def table_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories into the annotation tables they contain (recursively, sorted)."""
    files: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in TABLE_SUFFIXES and not f.name.startswith(".")))
        else:
            files.append(p)
    return files


def validate(
    paths: Sequence[str | Path],
    codebook: Codebook,
    *,
    coder: str | None = None,
    encoding: str | None = None,
) -> tuple[pd.DataFrame, list[Problem]]:
    """Read annotation tables, returning the canonical frame and *every* problem found.

    Unreadable files become one problem each; the other files are still read.
    """
    frames, problems = [], []
    files = table_files(paths)
    if not files:
        problems.append(Problem(", ".join(map(str, paths)) or "(no path)", 0, "", f"no annotation tables found ({', '.join(TABLE_SUFFIXES)})"))
    for file in files:
        try:
            rows, numbers, _fmt = read_raw_rows(file, encoding=encoding)
        except SamverdiError as exc:
            problems.append(Problem(str(file), 0, "", exc.message))
            continue
        if not rows:
            problems.append(Problem(str(file), 0, "", "no data rows (only a header)"))
            continue
        frame, found = _rows_to_frame(rows, numbers, str(file), codebook, coder)
        problems.extend(found)
        if not frame.empty:
            frame["_file"] = str(file)
            frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if frames else _empty_frame(codebook)
    problems.extend(_duplicate_problems(frame, codebook))
    return frame, sorted(set(problems))


def _empty_frame(codebook: Codebook) -> pd.DataFrame:
    return pd.DataFrame(columns=[*META_COLUMNS, *codebook.dimension_ids, "_row", "_file"])


def read_annotations(
    paths: str | Path | Sequence[str | Path],
    codebook: Codebook,
    *,
    coder: str | None = None,
    encoding: str | None = None,
    keep_source: bool = False,
) -> pd.DataFrame:
    """Load annotation tables (files or folders) into one canonical DataFrame.

    Raises :class:`AnnotationError` listing the problems when any file does
    not validate. Identical duplicate rows are dropped.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    frame, problems = validate(paths, codebook, coder=coder, encoding=encoding)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise AnnotationError(f"{len(problems)} problem(s) in the annotation tables (run 'samverdi validate'):\n  {shown}{more}")
    dims = list(codebook.dimension_ids)
    frame = frame.drop_duplicates(subset=["segment_id", "coder", *dims]).reset_index(drop=True)
    if not keep_source:
        frame = frame.drop(columns=["_row", "_file"])
    return frame


# --------------------------------------------------------------------------- writing


def _export_cell(value: Any, multi: bool, *, as_list: bool) -> Any:
    if value is None:
        return None if as_list else ""
    if multi:
        return list(value) if as_list else "; ".join(value)
    return value


def to_records(frame: pd.DataFrame, codebook: Codebook, *, as_lists: bool) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and plain rows for export: dimensions as lists (JSONL) or ``;``-joined strings."""
    internal = {"_row", "_file"}
    dims = [d for d in codebook.dimensions if d.id in frame.columns and not frame[d.id].isna().all()]
    dim_ids = {d.id for d in codebook.dimensions}
    extra = [c for c in frame.columns if c not in META_COLUMNS and c not in dim_ids and c not in internal]
    columns = [*META_COLUMNS, *(d.id for d in dims), *extra]
    records = []
    for row in frame.to_dict(orient="records"):
        rec = {c: _cell_str(row.get(c)) for c in META_COLUMNS}
        for d in dims:
            rec[d.id] = _export_cell(row.get(d.id), d.multi_label, as_list=as_lists)
        for c in extra:
            rec[c] = _cell_str(row.get(c))
        records.append(rec)
    return columns, records


def write_annotations(frame: pd.DataFrame, path: str | Path, codebook: Codebook, *, overwrite: bool = False) -> Path:
    """Write a canonical frame as .csv / .tsv / .xlsx / .jsonl, atomically.

    Refuses to replace an existing file unless ``overwrite`` is true, so a
    coder's annotations are never overwritten by accident.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise AnnotationError(f"cannot write {suffix or '(no suffix)'}; choose one of {', '.join(TABLE_SUFFIXES)}", path=p)
    columns, records = to_records(frame, codebook, as_lists=suffix == ".jsonl")
    write_rows(p, columns, records, overwrite=overwrite, sheet_name="annotations")
    return p
