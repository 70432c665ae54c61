"""Readers: any input file -> a stream of document blocks or reference records.

:func:`sniff_format` names a file's format from its suffix *and* its first
bytes (a PDF saved as ``.txt`` is still read as a PDF; a Web of Science
``savedrecs.txt`` is recognised by its tags); :func:`open_source` opens it.
Every failure is a :class:`~samverdi_nlp.errors.ReaderError` that names the
file, the format and what to do.

========== ======================================= =========
format     files                                   family
========== ======================================= =========
pdf        ``.pdf`` (text layer)                   document
docx       ``.docx``                               document
html       ``.html`` ``.htm`` ``.xhtml``           document
text       ``.txt`` ``.text``                      document
markdown   ``.md`` ``.markdown``                   document
ris        ``.ris`` (or RIS text in ``.txt``)      references
bibtex     ``.bib`` ``.bibtex``                    references
wos        Web of Science ``savedrecs.txt``        references
table      ``.csv`` ``.tsv`` ``.xlsx`` ``.jsonl``  table or references
========== ======================================= =========
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from samverdi_nlp.errors import ReaderError
from samverdi_nlp.readers.base import (
    BLOCK_SEPARATOR,
    PAGE_SEPARATOR,
    Block,
    ReaderWarning,
    Record,
    Source,
    WarningHandler,
    check_readable,
    content_id,
)

__all__ = [
    "FORMATS",
    "Block",
    "Record",
    "ReaderWarning",
    "Source",
    "extracted_text",
    "open_source",
    "sniff_format",
]

FORMATS = ("pdf", "docx", "html", "text", "markdown", "ris", "bibtex", "wos", "table")
DOCUMENT_FORMATS = ("pdf", "docx", "html", "text", "markdown")
_SUFFIXES = {
    ".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html", ".xhtml": "html",
    ".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
    ".ris": "ris", ".bib": "bibtex", ".bibtex": "bibtex",
    ".csv": "table", ".tsv": "table", ".xlsx": "table", ".jsonl": "table",
}
_REFUSED = {
    ".doc": "is an old binary Word .doc file; open it in Word and save it as .docx",
    ".xls": "is an old binary Excel .xls file; open it in Excel and save it as .xlsx",
    ".ppt": "is a PowerPoint file; export it as PDF",
    ".pptx": "is a PowerPoint file; export it as PDF",
    ".odt": "is an OpenDocument text; save it as .docx or PDF",
    ".rtf": "is an RTF file; save it as .docx or PDF",
    ".json": "is a JSON file; write one object per line as .jsonl with a 'text' column",
    ".zip": "is a ZIP archive; unpack it and give the files inside",
}


def sniff_format(path: str | Path) -> str:
    """Name the format of ``path`` from its first bytes, falling back on the suffix.

    Raises :class:`ReaderError` for formats the tool does not read, with what to do instead.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    with open(p, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: legacy Office binary formats
        raise ReaderError(_REFUSED.get(suffix, "is an old binary Office file; save it as .docx, .xlsx or PDF"), path=p)
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _zip_format(p, suffix)
    if suffix in _REFUSED:
        raise ReaderError(_REFUSED[suffix], path=p)
    by_suffix = _SUFFIXES.get(suffix)
    if by_suffix == "table" or by_suffix in ("pdf", "docx"):
        return by_suffix  # a mismatching content gets the format's own clear error
    text = _head_text(head)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("TY  -") or stripped.startswith("TY -"):
        return "ris"
    if stripped.startswith(("FN ", "PT J", "PT B", "PT S", "PT P")) or stripped.startswith("PT\t"):
        return "wos"
    if by_suffix:
        return by_suffix
    lowered = stripped[:200].lower()
    if lowered.startswith(("<!doctype html", "<html", "<?xml")) and "<html" in text.lower():
        return "html"
    if stripped.startswith("@") and "{" in stripped[:100]:
        return "bibtex"
    if suffix:
        raise ReaderError(
            f"has an unknown file type {suffix}; supported: .pdf .docx .html .txt .md .ris .bib .csv .tsv .xlsx .jsonl "
            "(rename it if it is one of these)",
            path=p,
        )
    return "text"


def _head_text(head: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16") if not head.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-16",):
        try:
            return head.decode(encoding)
        except UnicodeDecodeError as exc:
            if exc.start > len(head) - 4:  # a character cut at the end of the sample
                return head[: exc.start].decode(encoding, "ignore")
    return head.decode("latin-1")


def _zip_format(path: Path, suffix: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        # a truncated .docx or .xlsx: let its own reader explain
        return "table" if suffix == ".xlsx" else "docx"
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "table"
    raise ReaderError(_REFUSED.get(suffix, "is a ZIP archive, not a .docx or .xlsx; unpack it or save it in a supported format"), path=path)


def open_source(
    path: str | Path,
    *,
    password: str | None = None,
    encoding: str | None = None,
    on_warning: WarningHandler | None = None,
) -> Source:
    """Open one input file: its format, family, ``doc_id`` and a lazy stream of blocks or records.

    Problems found when opening (missing, empty, encrypted, damaged) raise
    :class:`ReaderError` here; problems found while reading raise it from the
    stream. Skipped records and pages are reported to ``on_warning`` (default:
    :func:`warnings.warn`).
    """
    p = Path(path)
    check_readable(p, _SUFFIXES.get(p.suffix.lower(), "unknown"))
    fmt = sniff_format(p)
    doc_id = content_id(p)
    if fmt == "pdf":
        from samverdi_nlp.readers.pdf import iter_pdf_blocks, open_pdf

        reader = open_pdf(p, password)
        items: Iterator = iter_pdf_blocks(p, password=password, on_warning=on_warning, reader=reader)
        return Source(p, fmt, "document", doc_id, items, pages=len(reader.pages))
    if fmt == "docx":
        from samverdi_nlp.readers.docx import iter_docx_blocks, open_docx

        open_docx(p)  # fail now, not in the middle of a run's output
        return Source(p, fmt, "document", doc_id, iter_docx_blocks(p))
    if fmt == "table":
        from samverdi_nlp.readers.references import iter_table_records, read_table_rows, table_format, table_kind

        rows, _numbers, _fmt = read_table_rows(p, encoding=encoding)
        columns = list(dict.fromkeys(c for row in rows for c in row))
        family = table_kind(columns) or "table"
        return Source(p, table_format(columns), family, doc_id, iter_table_records(p, rows, _numbers, on_warning=on_warning))
    data = p.read_bytes()
    if fmt == "html":
        from samverdi_nlp.readers.html import decode_html, iter_html_blocks

        return Source(p, fmt, "document", doc_id, iter_html_blocks(decode_html(data, p, encoding), p))
    from samverdi_nlp.readers.text import decode_document_text

    text = decode_document_text(data, p, encoding=encoding, fmt=fmt)
    if not text.strip():
        raise ReaderError(f"has no text (format {fmt}: only whitespace); check that it is the right file", path=p)
    if fmt in ("text", "markdown"):
        from samverdi_nlp.readers.text import iter_text_blocks

        return Source(p, fmt, "document", doc_id, iter_text_blocks(text, markdown=fmt == "markdown"))
    from samverdi_nlp.readers import references

    reader_of = {"ris": references.iter_ris_records, "bibtex": references.iter_bibtex_records, "wos": references.iter_wos_records}
    return Source(p, fmt, "references", doc_id, reader_of[fmt](text, p, on_warning=on_warning))


def extracted_text(path: str | Path, *, password: str | None = None, encoding: str | None = None) -> str:
    """The text that segment offsets (``start``, ``end``) point into.

    PDF: the pages' text joined by form feeds. Text and Markdown: the decoded
    file with ``\\n`` newlines. Other documents: their blocks joined by blank
    lines. References and tables: each record's text joined by blank lines.
    """
    p = Path(path)
    if sniff_format(p) == "pdf":
        from samverdi_nlp.readers.pdf import iter_pdf_page_texts

        return PAGE_SEPARATOR.join(iter_pdf_page_texts(p, password=password))
    if sniff_format(p) in ("text", "markdown"):
        from samverdi_nlp.readers.text import decode_document_text

        return decode_document_text(p.read_bytes(), p, encoding=encoding)
    source = open_source(p, password=password, encoding=encoding, on_warning=lambda _w: None)
    return BLOCK_SEPARATOR.join(item.text for item in source.items)


SUPPORTED_SUFFIXES = tuple(_SUFFIXES)


def input_files(paths: list[str | Path]) -> list[Path]:
    """Expand folders into the readable files inside them (recursively, sorted); files stay as given."""
    files: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in _SUFFIXES and not f.name.startswith((".", "~$"))))
        else:
            files.append(p)
    return files
