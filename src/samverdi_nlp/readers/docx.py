"""Word .docx files: body paragraphs and tables in document order.

Headings are recognised by their paragraph style (``Heading 1``, ``Overskrift
1``, ``Title``...), so sections follow the author's outline. Each table row
becomes one ``table`` block with its cells joined by `` | ``. Page headers and
footers are furniture and are skipped. DOCX has no fixed pages: ``page`` is None.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

from samverdi_nlp.errors import ReaderError
from samverdi_nlp.readers.base import Block, OffsetCounter, clean_inline

_HEADING_STYLE = re.compile(r"^(?:heading|overskrift|rubrik|otsikko|título|titre)\s*(\d)?", re.I)
_TITLE_STYLES = {"title", "tittel", "titel", "subtitle", "undertittel"}


def open_docx(path: Path):
    """Open a .docx with python-docx, turning every way it can fail into one clear ReaderError."""
    import docx  # imported here: only DOCX input pays for it

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except zipfile.BadZipFile as exc:
        raise ReaderError(
            "is not a valid .docx (format docx: the ZIP container is corrupt or truncated); open it in Word and save it again",
            path=path,
        ) from exc
    if bad is not None:
        raise ReaderError(f"is a damaged .docx (format docx: {bad} is corrupt); open it in Word and save it again", path=path)
    if "word/document.xml" not in names:
        raise ReaderError("is a ZIP file but not a Word document (format docx: no word/document.xml); save it as .docx", path=path)
    try:
        return docx.Document(str(path))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors... for broken parts
        raise ReaderError(
            f"cannot be read as a Word document (format docx: {type(exc).__name__}); open it in Word and save it again",
            path=path,
        ) from exc


def iter_docx_blocks(path: Path) -> Iterator[Block]:
    """Headings, paragraphs and table rows of a .docx in reading order."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = open_docx(path)
    offsets = OffsetCounter()
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            block = _paragraph_block(Paragraph(child, document), offsets)
            if block:
                yield block
        elif tag == "tbl":
            yield from _table_blocks(Table(child, document), offsets)
        elif tag == "sdt":  # content controls (e.g. a table of contents) wrap ordinary paragraphs
            for inner in child.iter():
                if inner.tag.rsplit("}", 1)[-1] == "p":
                    block = _paragraph_block(Paragraph(inner, document), offsets)
                    if block:
                        yield block


def _heading_level(paragraph) -> int | None:
    try:
        name = (paragraph.style.name or "") if paragraph.style is not None else ""
    except (KeyError, AttributeError):  # a style id with no definition in styles.xml
        name = ""
    if name.strip().lower() in _TITLE_STYLES:
        return 1
    match = _HEADING_STYLE.match(name.strip())
    if match:
        return int(match.group(1) or 1)
    return None


def _paragraph_block(paragraph, offsets: OffsetCounter) -> Block | None:
    # python-docx renders line breaks inside a paragraph as \n; they are layout, not structure.
    text = clean_inline(paragraph.text)
    if not text:
        return None
    level = _heading_level(paragraph)
    if level is not None:
        return Block(text, offsets.place(text), kind="heading", level=level)
    return Block(text, offsets.place(text), kind="paragraph")


def _table_blocks(table, offsets: OffsetCounter) -> Iterator[Block]:
    from docx.table import _Cell

    for row in table.rows:
        # The row's own cell elements: a horizontally merged cell is one element (row.cells would
        # repeat it per grid column); a vertically merged continuation cell is empty and drops out.
        cells = [clean_inline(_Cell(tc, table).text) for tc in row._tr.tc_lst]
        text = " | ".join(cell for cell in cells if cell)
        if text:
            yield Block(text, offsets.place(text), kind="table")
