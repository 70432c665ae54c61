"""What every reader returns: blocks of document text or bibliographic records.

A reader turns one file into a stream of :class:`Block` (documents: PDF,
DOCX, HTML, text) or :class:`Record` (references and table rows). Each item
knows where it came from: ``start`` is a character offset into the file's
*extracted text*, the text :func:`samverdi_nlp.readers.extracted_text`
returns, so a coder can find a segment again in the source.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from samverdi_nlp.errors import ReaderError

BLOCK_KINDS = ("heading", "paragraph", "table")
FAMILIES = ("document", "references", "table")

# Between two blocks of a document's extracted text; PDF pages are joined by a form feed instead.
BLOCK_SEPARATOR = "\n\n"
PAGE_SEPARATOR = "\f"


@dataclass(frozen=True, slots=True)
class Block:
    """A run of document text: a heading, a paragraph (possibly still broken into layout lines) or a table.

    ``text`` is exactly ``extracted[start:start + len(text)]``.
    """

    text: str
    start: int
    page: int | None = None
    kind: str = "paragraph"
    level: int = 0

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True, slots=True)
class Record:
    """One bibliographic reference or one table row.

    ``number`` is what a user sees: the record's position in a reference file
    (1-based) or the row number in a table (header = row 1). ``text`` is set
    for table rows that carry ready-made segment text; references have
    ``title``/``abstract`` instead. ``start`` is the offset of the record's
    text in the file's extracted text.
    """

    number: int
    text: str = ""
    title: str = ""
    abstract: str = ""
    authors: str = ""
    year: str = ""
    doi: str = ""
    journal: str = ""
    record_id: str = ""
    doc_id: str = ""
    lang: str = ""
    source_kind: str = ""
    start: int = 0


class ReaderWarning(UserWarning):
    """A file was read, but part of it was skipped (malformed records, pages without text)."""

    def __init__(self, message: str, *, path: str | Path) -> None:
        self.path = Path(path)
        self.message = message
        super().__init__(f"{path}: {message}")


WarningHandler = Callable[[ReaderWarning], None]


@dataclass
class Source:
    """An opened input file: its format, family, content-derived id and a lazy stream of items."""

    path: Path
    format: str
    family: str
    doc_id: str
    items: Iterator[Block] | Iterator[Record]
    # Page count where the format has pages, so callers can show progress through a long PDF.
    pages: int | None = None


def content_id(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Stable document id: the first 12 hex digits of the SHA-256 of the file's bytes.

    Read in chunks, so a large PDF is hashed in bounded memory.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()[:12]


class OffsetCounter:
    """Hands out start offsets for blocks joined by ``separator`` into the extracted text."""

    def __init__(self, separator: str = BLOCK_SEPARATOR) -> None:
        self.separator = separator
        self.position = 0
        self.started = False

    def place(self, text: str) -> int:
        if self.started:
            self.position += len(self.separator)
        self.started = True
        start = self.position
        self.position += len(text)
        return start


_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]+")


def clean_inline(text: str) -> str:
    """NFC-normalise and collapse runs of spaces in text that belongs on one line.

    >>> clean_inline("Samskaping\\u00a0 i   kommunen ")
    'Samskaping i kommunen'
    """
    text = unicodedata.normalize("NFC", text).replace("\r", " ").replace("\n", " ")
    return _SPACES.sub(" ", text).strip()


def check_readable(path: Path, fmt: str) -> None:
    """Fail early and clearly for missing, unreadable and zero-byte files."""
    if not path.exists():
        raise ReaderError("file not found; check the path", path=path)
    if path.is_dir():
        raise ReaderError("is a folder; give the files inside it", path=path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReaderError(f"cannot be read ({exc.strerror}); check its permissions", path=path) from exc
    if size == 0:
        raise ReaderError(f"is empty (0 bytes; format {fmt}); export or copy it again", path=path)


_TERMINAL = ".!?:;,"
_HEADING_NUMBER = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[IVX]+\.|[A-Z]\.|kapittel|kapitel|chapter|del|part|vedlegg|bilag|appendix)\s", re.I)


def looks_like_heading(line: str) -> bool:
    """A lone short line without closing punctuation that starts like a title.

    Used where the format carries no styles (plain text, PDF without font cues).

    >>> looks_like_heading("3.2 Medvirkning og samskaping")
    True
    >>> looks_like_heading("Kommunen skal samarbeide med innbyggerne.")
    False
    >>> looks_like_heading("og frivillige lag")
    False
    """
    line = line.strip()
    if not line or len(line) > 100 or line[-1] in _TERMINAL or len(line.split()) > 14:
        return False
    if _HEADING_NUMBER.match(line):
        return True
    first = line[0]
    return first.isupper() or first.isdigit()


_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb06": "st"})


def normalise_chars(text: str) -> str:
    """NFC, typographic ligatures undone, soft hyphens dropped: what segment text is made of.

    >>> normalise_chars("ﬁnansiering og sam\\u00adskaping")
    'finansiering og samskaping'
    """
    return unicodedata.normalize("NFC", text.translate(_LIGATURES)).replace("\u00ad\n", "").replace("\u00ad", "")
