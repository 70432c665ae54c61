"""PDF files: the text layer, page by page, cleaned of running headers, footers and page numbers.

The extracted text of a PDF is its pages' text (as pypdf extracts it) joined
by form feeds (``\\f``), like ``pdftotext`` output; block offsets point into
it. Pages are read one at a time and only a small window of them is held, so
memory stays bounded for long plans.

Layout cues come from pypdf's text visitor: each line's baseline height and
font size. A larger vertical gap than the page's usual line spacing, a change
of font size, a bullet, or a short line closing a sentence end a paragraph;
short lines set larger or in bold are headings. Lines near the top or bottom
of a page that repeat (digits ignored) on nearby pages are furniture.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from samverdi_nlp.errors import ReaderError
from samverdi_nlp.readers.base import PAGE_SEPARATOR, Block, ReaderWarning, WarningHandler, looks_like_heading

# How many lines at the top and at the bottom of a page may be furniture.
FURNITURE_ZONE = 3
# Pages on each side compared when deciding whether a line repeats.
FURNITURE_WINDOW = 4
OCR_HINT = "run OCR first, e.g. `ocrmypdf in.pdf out.pdf`, and give the OCR'd file"

_PAGE_NUMBER = re.compile(r"^[\W_]*(?:(?:side|page|s\.|p\.|sida|seite)\s*)?(?:\d{1,4}|[ivxlc]{1,7})(?:\s*(?:av|of|/|af|-)\s*\d{1,4})?[\W_]*$", re.I)
_DIGITS = re.compile(r"\d+")
_BULLET = re.compile(r"^(?:[•●○▪■◦‣∙·\-–—*]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+\S")


@dataclass(slots=True)
class Line:
    """One line of a page's extracted text, with the layout cues the visitor saw for it."""

    text: str
    start: int  # offset in the page's text
    y: float | None = None
    size: float | None = None
    bold: bool = False

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(slots=True)
class Page:
    number: int  # 1-based
    text: str
    offset: int  # offset of the page's text in the document's extracted text
    lines: list[Line] = field(default_factory=list)
    has_images: bool = False


@contextlib.contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs recoverable damage as warnings; the reader reports problems itself."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def open_pdf(path: Path, password: str | None = None):
    """Open a PDF with pypdf, decrypting it if needed; every failure is one clear ReaderError."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PdfReadError

    with open(path, "rb") as handle:
        head = handle.read(1024)
    if b"%PDF" not in head:
        raise ReaderError("is not a PDF (format pdf: no %PDF header); check that it was downloaded completely", path=path)
    try:
        with _quiet_pypdf():
            reader = PdfReader(str(path), strict=False)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise ReaderError(
            f"is corrupt or truncated (format pdf: {exc or type(exc).__name__}); download or export it again",
            path=path,
        ) from exc
    if reader.is_encrypted:
        try:
            with _quiet_pypdf():
                opened = reader.decrypt(password or "")
        except DependencyError as exc:
            raise ReaderError(f"uses an encryption this installation cannot open ({exc}); pip install cryptography", path=path) from exc
        except (PdfReadError, ValueError, NotImplementedError) as exc:
            raise ReaderError(f"is encrypted in a way pypdf cannot open ({exc}); save an unprotected copy", path=path) from exc
        if not opened:
            if password:
                raise ReaderError("the password given with --password does not open this encrypted PDF; check it", path=path)
            raise ReaderError("is encrypted and needs a password; pass it with --password", path=path)
    try:
        with _quiet_pypdf():
            count = len(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise ReaderError(f"is corrupt (format pdf: its page tree cannot be read: {exc}); download or export it again", path=path) from exc
    if count == 0:
        raise ReaderError("has no pages (format pdf); export it again", path=path)
    return reader


def _matrix_y(cm: list[float], tm: list[float]) -> float:
    # Baseline height on the page: the text matrix origin mapped through the current transformation matrix.
    return tm[4] * cm[1] + tm[5] * cm[3] + cm[5]


def _is_bold(font: dict | None) -> bool:
    if not font:
        return False
    name = str(font.get("/BaseFont", "")).lower()
    return any(mark in name for mark in ("bold", "black", "heavy", "semibold", "demi"))


def extract_page(reader, index: int, offset: int, path: Path) -> Page:
    """Text and layout lines of one page (``index`` is 0-based)."""
    from pypdf.errors import PdfReadError

    fragments: list[tuple[int, int, float, float, bool]] = []
    position = 0

    def visit(text: str, cm: list[float], tm: list[float], font: dict | None, size: float) -> None:
        nonlocal position
        if text:
            if text.strip():
                scale = abs(tm[3] * cm[3]) or 1.0
                fragments.append((position, position + len(text), _matrix_y(cm, tm), round(size * scale, 1), _is_bold(font)))
            position += len(text)

    try:
        with _quiet_pypdf():
            page = reader.pages[index]
            text = page.extract_text(visitor_text=visit) or ""
            has_images = _has_images(page)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError) as exc:
        raise ReaderError(
            f"page {index + 1} cannot be read (format pdf: {exc or type(exc).__name__}); the file is damaged, export it again",
            path=path,
        ) from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace(PAGE_SEPARATOR, "\n")
    if position != len(text):  # the visitor saw different text than returned: keep text, drop layout cues
        fragments = []
    return Page(index + 1, text, offset, _lines(text, fragments), has_images)


def _has_images(page) -> bool:
    try:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        return any(obj.get_object().get("/Subtype") == "/Image" for obj in xobjects.values())
    except Exception:  # noqa: BLE001 - a damaged resource dictionary only costs the OCR hint
        return False


def _lines(text: str, fragments: list[tuple[int, int, float, float, bool]]) -> list[Line]:
    lines: list[Line] = []
    position = 0
    index = 0
    for raw in text.split("\n"):
        start, end = position, position + len(raw)
        position = end + 1
        if not raw.strip():
            continue
        best: tuple[int, int, float, float, bool] | None = None
        best_overlap = 0
        while index < len(fragments) and fragments[index][1] <= start:
            index += 1
        probe = index
        while probe < len(fragments) and fragments[probe][0] < end:
            frag = fragments[probe]
            overlap = min(end, frag[1]) - max(start, frag[0])
            if overlap > best_overlap:
                best, best_overlap = frag, overlap
            probe += 1
        lead = len(raw) - len(raw.lstrip())
        stripped = raw.strip()
        if best:
            lines.append(Line(stripped, start + lead, best[2], best[3], best[4]))
        else:
            lines.append(Line(stripped, start + lead))
    return lines


def furniture_key(line: str) -> str:
    """What a running header or footer keeps from page to page: its words, digits ignored.

    >>> furniture_key("Kommuneplan 2024–2036  |  side 12")
    'kommuneplan #–# | side #'
    """
    return " ".join(_DIGITS.sub("#", line.casefold()).split())


def is_page_number(line: str) -> bool:
    """
    >>> [is_page_number(s) for s in ("12", "- 12 -", "Side 3 av 40", "xiv", "2024 var et godt år")]
    [True, True, True, True, False]
    """
    return bool(_PAGE_NUMBER.match(line.strip()))


def _zone_keys(page: Page) -> set[str]:
    lines = page.lines
    zone = lines[:FURNITURE_ZONE] + lines[-FURNITURE_ZONE:] if len(lines) > FURNITURE_ZONE else lines
    return {furniture_key(line.text) for line in zone}


def _strip_furniture(page: Page, neighbours: list[set[str]]) -> list[Line]:
    """The page's body lines: furniture peeled off from the top and the bottom."""
    # Short documents have few pages to compare with: one other page with the same line is enough there.
    needed = 1 if len(neighbours) <= 3 else 2

    def furniture(line: Line) -> bool:
        if is_page_number(line.text):
            return True
        if needed == 0:
            return False
        key = furniture_key(line.text)
        return sum(key in keys for keys in neighbours) >= needed

    lines = page.lines
    top = 0
    while top < min(FURNITURE_ZONE, len(lines)) and furniture(lines[top]):
        top += 1
    bottom = len(lines)
    while bottom > top and len(lines) - bottom < FURNITURE_ZONE and furniture(lines[bottom - 1]):
        bottom -= 1
    return lines[top:bottom]


def iter_pdf_blocks(
    path: Path,
    *,
    password: str | None = None,
    on_warning: WarningHandler | None = None,
    reader=None,
) -> Iterator[Block]:
    """Heading and paragraph blocks of a PDF, page by page, furniture removed.

    Raises :class:`ReaderError` for encrypted, damaged and image-only files
    (the last after the pages were read: no page had text).
    """
    reader = reader or open_pdf(path, password)
    count = len(reader.pages)
    window: deque[Page] = deque()
    keys: deque[set[str]] = deque()
    offset = 0
    next_index = 0
    without_text: list[int] = []
    unreadable: list[int] = []
    stats = _LayoutStats()
    any_text = False

    def load() -> None:
        nonlocal offset, next_index
        if next_index > 0:
            offset += len(PAGE_SEPARATOR)
        page = extract_page(reader, next_index, offset, path)
        offset += len(page.text)
        next_index += 1
        if _looks_unmapped(page.text):
            unreadable.append(page.number)
            page.lines = []
        window.append(page)
        keys.append(_zone_keys(page))

    while next_index < min(count, FURNITURE_WINDOW + 1):
        load()
    current = 0  # index of the page being laid out, within the window
    while window and current < len(window):
        page = window[current]
        neighbours = [k for i, k in enumerate(keys) if i != current]
        body = _strip_furniture(page, neighbours)
        if not page.lines and page.has_images:
            without_text.append(page.number)
        if body:
            any_text = True
            yield from _page_blocks(page, body, stats)
        # slide the window: read one page ahead, forget the oldest once it is out of reach
        if next_index < count:
            load()
        current += 1
        if current > FURNITURE_WINDOW:
            window.popleft()
            keys.popleft()
            current -= 1
    if not any_text:
        if unreadable:
            raise ReaderError(f"has a text layer without readable characters (fonts without a Unicode map; format pdf): {OCR_HINT}", path=path)
        raise ReaderError(f"has no text layer (scanned images only; format pdf): {OCR_HINT}", path=path)
    problems = []
    if without_text:
        problems.append(f"page(s) {_page_list(without_text)} have images but no text layer (scanned?); {OCR_HINT} to include them")
    if unreadable:
        problems.append(f"page(s) {_page_list(unreadable)} have text without a Unicode map and were skipped; {OCR_HINT} to include them")
    for problem in problems:
        _warn(on_warning, ReaderWarning(problem, path=path))


def _warn(handler: WarningHandler | None, warning: ReaderWarning) -> None:
    if handler is None:
        warnings.warn(warning, stacklevel=3)
    else:
        handler(warning)


def _page_list(numbers: list[int], limit: int = 12) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")


def _looks_unmapped(text: str) -> bool:
    letters = [c for c in text if not c.isspace()]
    if len(letters) < 20:
        return False
    odd = sum(1 for c in letters if "\ue000" <= c <= "\uf8ff" or c == "\ufffd" or (ord(c) < 32))
    return odd > 0.3 * len(letters)


@dataclass
class _LayoutStats:
    """What a document's pages have in common, gathered as pages go by (bounded: counters of rounded values)."""

    sizes: Counter[float] = field(default_factory=Counter)
    gaps: Counter[float] = field(default_factory=Counter)
    lengths: Counter[int] = field(default_factory=Counter)

    def add(self, body: list[Line]) -> None:
        for prev, line in zip(body, body[1:]):
            if prev.y is not None and line.y is not None and prev.size and prev.size == line.size and prev.y - line.y > 0.6 * prev.size:
                self.gaps[round(prev.y - line.y, 1)] += 1
        for line in body:
            if line.size:
                self.sizes[line.size] += len(line.text)
            self.lengths[len(line.text)] += 1

    def body_size(self) -> float | None:
        return self.sizes.most_common(1)[0][0] if self.sizes else None

    def spacing(self) -> float | None:
        # The usual line spacing is the most common gap, ties to the smaller (paragraph gaps are rarer).
        if not self.gaps:
            return None
        top = max(self.gaps.values())
        return min(gap for gap, count in self.gaps.items() if count == top)

    def full_line(self) -> int:
        """The length of a full line: 90th percentile of line lengths so far."""
        total = sum(self.lengths.values())
        seen = 0
        for length in sorted(self.lengths):
            seen += self.lengths[length]
            if seen >= 0.9 * total:
                return length
        return 0


def _page_blocks(page: Page, body: list[Line], stats: _LayoutStats) -> Iterator[Block]:
    stats.add(body)
    body_size, spacing, full_line = stats.body_size(), stats.spacing(), stats.full_line()
    group: list[Line] = []
    for line in body:
        if group and _breaks(group[-1], line, spacing, full_line):
            yield _block(page, group, body_size)
            group = []
        group.append(line)
    if group:
        yield _block(page, group, body_size)


def _is_heading_line(line: Line, body_size: float | None) -> bool:
    if len(line.text) > 120 or line.text.rstrip()[-1:] in ".,;":
        return False
    if line.size and body_size:
        return line.size >= body_size * 1.15 or (line.bold and line.size >= body_size * 0.95 and len(line.text) < 90)
    return False


def _breaks(prev: Line, line: Line, spacing: float | None, full_line: int) -> bool:
    if _BULLET.match(line.text):
        return True
    if prev.y is not None and line.y is not None:
        if line.y > prev.y + 1:  # moved up the page: a new column or a text box
            return True
        if prev.size and line.size and abs(prev.size - line.size) > 0.6:
            return True
        if prev.bold != line.bold and (len(prev.text) < 90 or len(line.text) < 90):
            return True
        if spacing and prev.y - line.y > 1.4 * spacing:
            return True
    ends_sentence = prev.text.rstrip()[-1:] in ".!?:»\"”)"
    return ends_sentence and full_line > 0 and len(prev.text) < 0.7 * full_line


def _block(page: Page, group: list[Line], body_size: float | None) -> Block:
    start = group[0].start
    end = group[-1].end
    text = page.text[start:end]
    if all(_is_heading_line(line, body_size) for line in group) and len(group) <= 3:
        return Block(text, page.offset + start, page=page.number, kind="heading", level=0)
    if len(group) == 1 and group[0].y is None and looks_like_heading(group[0].text):
        return Block(text, page.offset + start, page=page.number, kind="heading", level=0)
    return Block(text, page.offset + start, page=page.number, kind="paragraph")


def iter_pdf_page_texts(path: Path, *, password: str | None = None) -> Iterator[str]:
    """Each page's raw extracted text, in order: the pieces of the PDF's extracted text."""
    reader = open_pdf(path, password)
    for index in range(len(reader.pages)):
        yield extract_page(reader, index, 0, path).text
