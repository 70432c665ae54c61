"""Reference exports and tables: RIS, BibTeX, Web of Science, Scopus/ASReview CSV, any table with text.

Every reader yields :class:`Record` objects in file order and reports records
it had to skip (malformed, or with neither title nor abstract) through a
:class:`ReaderWarning` that lists them by record number, so one bad record
never costs a whole export. Tables keep their ``id``/``segment_id`` column.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from samverdi_nlp.annotations import read_raw_rows
from samverdi_nlp.errors import ReaderError, SamverdiError
from samverdi_nlp.readers.base import OffsetCounter, ReaderWarning, Record, WarningHandler, clean_inline
from samverdi_nlp.readers.text import decode_document_text

# Exports write this (or similar) where the database has no abstract.
_NO_ABSTRACT = re.compile(r"^\[?\s*(no abstract( available)?|abstract not available|ingen sammendrag)\s*\.?\]?$", re.I)
_DOI = re.compile(r"10\.\d{4,9}/\S+", re.I)
_YEAR = re.compile(r"(1[5-9]\d\d|20\d\d)")
_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  ?-(?: (.*)|\s*)$")
_WOS_TAG = re.compile(r"^([A-Z][A-Z0-9]) (.*)$")
_BIB_ENTRY = re.compile(r"^[ \t]*@[ \t]*(\w+)[ \t]*[{(][ \t]*([^,\s]*)", re.M)

# Column names (lower-cased, spaces as underscores) each field is known by in exports and tables.
TEXT_COLUMNS = ("text", "tekst", "content", "body", "passage", "paragraph", "sentence")
TITLE_COLUMNS = ("title", "ti", "primary_title", "article_title", "document_title", "tittel", "titel", "titre")
ABSTRACT_COLUMNS = ("abstract", "ab", "abstract_note", "notes_abstract", "summary", "sammendrag", "resumé", "resume", "abstrakt", "sammanfattning", "n2")
AUTHOR_COLUMNS = ("authors", "author", "au", "author_full_names", "af", "first_authors", "forfattere", "forfatter", "creators")
YEAR_COLUMNS = ("year", "py", "publication_year", "pubyear", "date", "år", "publication_date")
DOI_COLUMNS = ("doi", "di")
JOURNAL_COLUMNS = ("journal", "source_title", "so", "secondary_title", "journal_name", "publication_title", "journal_title", "container_title", "tidsskrift")
ID_COLUMNS = ("segment_id", "id", "record_id", "eid", "ut", "ut_(unique_wos_id)", "accession_number", "key")


def _warn(handler: WarningHandler | None, warning: ReaderWarning) -> None:
    if handler is None:
        warnings.warn(warning, stacklevel=3)
    else:
        handler(warning)


def _report_skipped(path: Path, skipped: list[tuple[int, str]], fmt: str, handler: WarningHandler | None, unit: str = "record") -> None:
    if not skipped:
        return
    shown = "; ".join(f"{unit} {number} ({why})" for number, why in skipped[:10])
    more = f"; and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    _warn(handler, ReaderWarning(f"skipped {len(skipped)} malformed {unit}(s) (format {fmt}): {shown}{more}; fix them in the source and run again", path=path))


def normalise_doi(value: str) -> str:
    """A DOI as used for matching: bare, lower-case, without resolver prefix.

    >>> normalise_doi("https://doi.org/10.1080/14719037.2021.1234567")
    '10.1080/14719037.2021.1234567'
    >>> normalise_doi("doi:10.1111/PADM.12345.")
    '10.1111/padm.12345'
    """
    match = _DOI.search(value or "")
    return match.group(0).rstrip(".,;").lower() if match else ""


def _year(value: Any) -> str:
    match = _YEAR.search(str(value or ""))
    return match.group(1) if match else ""


def _abstract(value: Any) -> str:
    text = clean_inline(str(value or ""))
    return "" if _NO_ABSTRACT.match(text) else text


def _first(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return clean_inline(str(value[0])) if value else ""
    return clean_inline(str(value or ""))


def make_record(number: int, offsets: OffsetCounter, **fields: Any) -> Record:
    """A reference record with cleaned fields; ``start`` placed in the file's extracted text."""
    title = clean_inline(fields.get("title", ""))
    abstract = _abstract(fields.get("abstract", ""))
    text = fields.get("text", "")
    if not text:
        text = f"{title}\n\n{abstract}" if title and abstract else (title or abstract)
    return Record(
        number=number,
        text=text,
        title=title,
        abstract=abstract,
        authors=fields.get("authors", ""),
        year=_year(fields.get("year", "")),
        doi=normalise_doi(fields.get("doi", "")),
        journal=clean_inline(fields.get("journal", "")),
        record_id=clean_inline(str(fields.get("record_id", "") or "")),
        doc_id=clean_inline(str(fields.get("doc_id", "") or "")),
        lang=clean_inline(str(fields.get("lang", "") or "")).lower(),
        source_kind=clean_inline(str(fields.get("source_kind", "") or "")).lower(),
        start=offsets.place(text),
    )


# --------------------------------------------------------------------------- RIS


def iter_ris_records(text: str, path: Path, *, on_warning: WarningHandler | None = None) -> Iterator[Record]:
    """Records of a RIS export (``TY  -`` ... ``ER  -``), parsed with rispy one record at a time.

    A record that does not start with ``TY``, is cut off before ``ER``, or has
    neither title nor abstract is skipped and listed by its number.
    """
    import rispy

    offsets = OffsetCounter()
    skipped: list[tuple[int, str]] = []
    number = 0
    emitted = 0
    for chunk, first_line, problem in _ris_chunks(text):
        number += 1
        if problem:
            skipped.append((number, f"line {first_line}: {problem}"))
            continue
        try:
            entries = rispy.loads(chunk)
        except Exception as exc:  # noqa: BLE001 - rispy raises bare exceptions for broken records
            skipped.append((number, f"line {first_line}: {exc}"))
            continue
        if not entries:
            skipped.append((number, f"line {first_line}: no fields"))
            continue
        entry = entries[0]
        title = _first(entry.get("title") or entry.get("primary_title") or entry.get("translated_title") or entry.get("short_title"))
        abstract = _first(entry.get("abstract") or entry.get("notes_abstract"))
        if not title and not _abstract(abstract):
            skipped.append((number, f"line {first_line}: neither title (TI) nor abstract (AB)"))
            continue
        authors = entry.get("authors") or entry.get("first_authors") or []
        journal = _first(
            entry.get("secondary_title") or entry.get("journal_name") or entry.get("alternate_title3")
            or entry.get("alternate_title1") or entry.get("alternate_title2")
        )
        doi = _first(entry.get("doi")) or next((u for u in entry.get("urls", []) if _DOI.search(u)), "")
        year = _first(entry.get("year") or entry.get("publication_year") or entry.get("date"))
        emitted += 1
        yield make_record(number, offsets, title=title, abstract=abstract, authors="; ".join(map(clean_inline, authors)),
                          year=year, doi=doi, journal=journal, record_id=_first(entry.get("id")))
    if number == 0:
        raise ReaderError("has no RIS records (format ris: no 'TY  -' line); is it an export in another format?", path=path)
    _report_skipped(path, skipped, "ris", on_warning)
    if emitted == 0:
        raise ReaderError(f"has no readable RIS records (format ris: all {number} were malformed); re-export it", path=path)


def _ris_chunks(text: str) -> Iterator[tuple[str, int, str]]:
    """Split RIS text into (record text, first line number, problem or '')."""
    lines: list[str] = []
    first = 0
    stray = 0
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r").lstrip("\ufeff")
        match = _RIS_TAG.match(line)
        tag = match.group(1) if match else None
        if tag == "TY":
            if lines:
                yield "\n".join(lines), first, "record has no 'ER  -' end line (cut off?)"
            if stray:
                yield "", stray, "text outside a record (no 'TY  -' before it)"
                stray = 0
            lines, first = [line], lineno
        elif tag == "ER":
            if lines:
                lines.append(line)
                yield "\n".join(lines), first, ""
                lines = []
            elif not stray:
                yield "", lineno, "'ER  -' without a record before it"
        elif lines:
            lines.append(line)
        elif line.strip() and not stray:
            stray = lineno
    if lines:
        yield "\n".join(lines), first, "record has no 'ER  -' end line (file cut off?)"
    if stray:
        yield "", stray, "text outside a record (no 'TY  -' before it)"


# --------------------------------------------------------------------------- BibTeX


def iter_bibtex_records(text: str, path: Path, *, on_warning: WarningHandler | None = None) -> Iterator[Record]:
    """Entries of a BibTeX file (Zotero, JabRef...), LaTeX accents turned into Unicode.

    Entries bibtexparser cannot parse are skipped and listed by number and key.
    """
    import bibtexparser
    from bibtexparser.bparser import BibTexParser
    from bibtexparser.customization import convert_to_unicode

    declared = [
        (m.group(1).lower(), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in _BIB_ENTRY.finditer(text)
        if m.group(1).lower() not in ("string", "preamble", "comment")
    ]
    if not declared:
        raise ReaderError("has no BibTeX entries (format bibtex: no '@type{key,' line); is it another format?", path=path)
    parser = BibTexParser(common_strings=True, ignore_nonstandard_types=False, interpolate_strings=True)
    parser.customization = convert_to_unicode
    try:
        database = bibtexparser.loads(text, parser=parser)
    except Exception as exc:  # noqa: BLE001 - pyparsing errors have many types
        raise ReaderError(f"cannot be parsed as BibTeX ({type(exc).__name__}: {exc}); check its braces", path=path) from exc
    parsed: dict[str, list[dict]] = {}
    for entry in database.entries:
        parsed.setdefault(entry.get("ID", ""), []).append(entry)
    offsets = OffsetCounter()
    skipped: list[tuple[int, str]] = []
    for number, (_kind, key, lineno) in enumerate(declared, 1):
        candidates = parsed.get(key)
        if not candidates:
            skipped.append((number, f"line {lineno}, key {key or '(none)'}: cannot be parsed, check its braces and commas"))
            continue
        entry = candidates.pop(0)
        title = _unbrace(entry.get("title", ""))
        abstract = _unbrace(entry.get("abstract", ""))
        if not title and not _abstract(abstract):
            skipped.append((number, f"line {lineno}, key {key}: neither title nor abstract"))
            continue
        authors = "; ".join(clean_inline(_unbrace(a)) for a in re.split(r"\s+and\s+", entry.get("author", "")) if a.strip())
        yield make_record(number, offsets, title=title, abstract=abstract, authors=authors,
                          year=entry.get("year") or entry.get("date", ""), doi=entry.get("doi", "") or entry.get("url", ""),
                          journal=_unbrace(entry.get("journal") or entry.get("journaltitle") or entry.get("booktitle", "")),
                          record_id=key)
    _report_skipped(path, skipped, "bibtex", on_warning, unit="entry")
    if len(skipped) == len(declared):
        raise ReaderError(f"has no readable BibTeX entries (format bibtex: all {len(declared)} were skipped); check the export", path=path)


def _unbrace(value: str) -> str:
    return clean_inline(value.replace("{", "").replace("}", "").replace("\\&", "&").replace("--", "–"))


# --------------------------------------------------------------------------- Web of Science


def iter_wos_records(text: str, path: Path, *, on_warning: WarningHandler | None = None) -> Iterator[Record]:
    """Records of a Web of Science export: tab-delimited (``PT<TAB>AU...``) or tagged plain text (``FN``/``PT J``)."""
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    if "\t" in first_line:
        yield from _wos_tab(text.lstrip("\ufeff"), path, on_warning)
    else:
        yield from _wos_tagged(text, path, on_warning)


def _wos_fields(get) -> dict[str, str]:
    authors = get("AF") or get("AU")
    return {
        "title": get("TI"),
        "abstract": get("AB"),
        "authors": "; ".join(a.strip() for a in re.split(r";|\n", authors) if a.strip()),
        "year": get("PY") or get("EA"),
        "doi": get("DI"),
        "journal": get("SO"),
        "record_id": get("UT"),
    }


def _wos_tab(text: str, path: Path, on_warning: WarningHandler | None) -> Iterator[Record]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = [h.strip() for h in next(reader, [])]
    if "TI" not in header:
        raise ReaderError("looks like a Web of Science export but has no TI (title) column (format wos); export 'Tab-delimited' again", path=path)
    offsets = OffsetCounter()
    skipped: list[tuple[int, str]] = []
    number = 0
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        number += 1
        values = dict(zip(header, row))
        fields = _wos_fields(lambda tag, values=values: (values.get(tag) or "").strip())
        if not fields["title"] and not _abstract(fields["abstract"]):
            skipped.append((number, f"line {reader.line_num}: neither title (TI) nor abstract (AB)"))
            continue
        yield make_record(number, offsets, **fields)
    _report_skipped(path, skipped, "wos", on_warning)


def _wos_tagged(text: str, path: Path, on_warning: WarningHandler | None) -> Iterator[Record]:
    offsets = OffsetCounter()
    skipped: list[tuple[int, str]] = []
    number = 0
    fields: dict[str, list[str]] | None = None
    tag = ""
    start_line = 0
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r").lstrip("\ufeff")
        if line.startswith("   ") and fields is not None and tag:
            fields[tag].append(line.strip())
            continue
        match = _WOS_TAG.match(line) or (re.match(r"^(ER|EF)\s*$", line))
        if not match:
            continue
        tag = match.group(1)
        if tag == "PT":
            if fields is not None:
                number += 1
                skipped.append((number, f"line {start_line}: no 'ER' end line"))
            fields, start_line = {}, lineno
        elif tag == "ER" and fields is not None:
            number += 1
            record = dict(fields)
            joined = _wos_fields(lambda t, record=record: ("\n" if t in ("AU", "AF") else " ").join(record.get(t, [])).strip())
            if not joined["title"] and not _abstract(joined["abstract"]):
                skipped.append((number, f"line {start_line}: neither title (TI) nor abstract (AB)"))
            else:
                yield make_record(number, offsets, **joined)
            fields = None
        elif fields is not None and tag not in ("FN", "VR", "EF"):
            fields.setdefault(tag, []).append(match.group(2).strip() if match.lastindex and match.lastindex >= 2 else "")
    if fields is not None:
        number += 1
        skipped.append((number, f"line {start_line}: no 'ER' end line (file cut off?)"))
    if number == 0:
        raise ReaderError("has no Web of Science records (format wos: no 'PT' lines); export 'Plain text' or 'Tab-delimited' again", path=path)
    _report_skipped(path, skipped, "wos", on_warning)


# --------------------------------------------------------------------------- tables


def _column_key(name: Any) -> str:
    return "_".join(str(name).strip().lstrip("\ufeff").lower().split())


def _pick(columns: Iterable[str], names: tuple[str, ...]) -> str | None:
    keys = {_column_key(c): c for c in columns}
    for name in names:
        if name in keys:
            return keys[name]
    return None


def table_kind(columns: Iterable[str]) -> str:
    """``"table"`` for a table with a text column, ``"references"`` for title/abstract columns, else ``""``.

    >>> table_kind(["id", "Text", "aspect"]), table_kind(["Authors", "Title", "Abstract", "EID"]), table_kind(["a"])
    ('table', 'references', '')
    """
    columns = list(columns)
    if _pick(columns, TEXT_COLUMNS):
        return "table"
    if _pick(columns, TITLE_COLUMNS) or _pick(columns, ABSTRACT_COLUMNS):
        return "references"
    return ""


def table_format(columns: Iterable[str]) -> str:
    """Name the export a table looks like, for messages: ``scopus_csv``, ``asreview`` or ``table``."""
    keys = {_column_key(c) for c in columns}
    if {"eid", "source_title"} <= keys or "link" in keys and "source_title" in keys:
        return "scopus_csv"
    if keys & {"record_id", "included", "label_included", "asreview_ranking", "asreview_prior", "exported_notes_1"}:
        return "asreview"
    return "table"


def read_table_rows(path: Path, *, encoding: str | None = None) -> tuple[list[dict[str, Any]], list[int], str]:
    """Rows, their row numbers and the file format of a CSV/TSV/XLSX/JSONL table (errors as ReaderError)."""
    try:
        return read_raw_rows(path)
    except SamverdiError as exc:
        if encoding and path.suffix.lower() != ".xlsx":
            try:  # ``encoding`` is for the files of a run that are not UTF-8
                return read_raw_rows(path, encoding=encoding)
            except SamverdiError as retry:
                raise ReaderError(retry.message, path=path) from retry
        raise ReaderError(exc.message, path=path) from exc


def iter_table_records(
    path: Path,
    rows: list[dict[str, Any]],
    numbers: list[int],
    *,
    on_warning: WarningHandler | None = None,
) -> Iterator[Record]:
    """One record per row of a table with a ``text`` column or ``title``/``abstract`` columns.

    Rows are kept whole (never split) with their ``id``/``segment_id``; rows
    without any text are skipped and listed. In an annotation table the same
    segment coded by several coders appears once. ``rows`` and ``numbers``
    come from :func:`read_table_rows`.
    """
    columns = list(dict.fromkeys(c for row in rows for c in row))
    kind = table_kind(columns)
    fmt = table_format(columns)
    if not kind:
        raise ReaderError(
            f"has no text to segment (format {fmt}): expected a 'text' column or 'title'/'abstract' columns; "
            f"columns found: {', '.join(map(str, columns)) or 'none'}",
            path=path,
        )
    col = {name: _pick(columns, names) for name, names in (
        ("text", TEXT_COLUMNS), ("title", TITLE_COLUMNS), ("abstract", ABSTRACT_COLUMNS), ("authors", AUTHOR_COLUMNS),
        ("year", YEAR_COLUMNS), ("doi", DOI_COLUMNS), ("journal", JOURNAL_COLUMNS), ("record_id", ID_COLUMNS),
        ("doc_id", ("doc_id", "document_id")), ("lang", ("lang", "language")), ("source_kind", ("source_kind", "kind")),
    )}

    def cell(row: dict[str, Any], name: str) -> str:
        key = col[name]
        value = row.get(key) if key else None
        if value is None or (isinstance(value, float) and value != value):
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, (list, tuple)):
            return "; ".join(map(str, value))
        return str(value).strip()

    offsets = OffsetCounter()
    skipped: list[tuple[int, str]] = []
    seen: dict[str, tuple[str, int]] = {}
    for row, number in zip(rows, numbers):
        text = cell(row, "text") if kind == "table" else ""
        title, abstract = cell(row, "title"), cell(row, "abstract")
        if kind == "table" and not text.strip():
            skipped.append((number, "empty text"))
            continue
        if kind == "references" and not title and not _abstract(abstract):
            skipped.append((number, "neither title nor abstract"))
            continue
        record_id = cell(row, "record_id")
        if record_id and kind == "table":
            if record_id in seen:
                previous_text, previous_row = seen[record_id]
                if previous_text == text:
                    continue  # the same segment coded by another coder
                raise ReaderError(
                    f"row {number}: segment_id {record_id!r} was used for a different text at row {previous_row}; "
                    "make the ids unique", path=path)
            seen[record_id] = (text, number)
        yield make_record(number, offsets, text=text.strip(), title=title, abstract=abstract, authors=cell(row, "authors"),
                          year=cell(row, "year"), doi=cell(row, "doi"), journal=cell(row, "journal"), record_id=record_id,
                          doc_id=cell(row, "doc_id"), lang=cell(row, "lang"), source_kind=cell(row, "source_kind"))
    _report_skipped(path, skipped, fmt, on_warning, unit="row")


def decode_reference_text(data: bytes, path: Path, fmt: str, encoding: str | None = None) -> str:
    """Decode a reference export; a Windows-1252 export is named as such with the fix."""
    return decode_document_text(data, path, encoding=encoding, fmt=fmt)
