"""Plain text and Markdown: decoded with a BOM/UTF-8 check, split at blank lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from samverdi_nlp.errors import ReaderError, SamverdiError
from samverdi_nlp.io_utils import decode_text
from samverdi_nlp.readers.base import Block, looks_like_heading

_MD_HEADING = re.compile(r"^(#{1,6})\s+\S")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_BLANK_RUN = re.compile(r"\n[ \t]*\n\s*")
# Lines this long were not wrapped by hand: each one is a paragraph of its own.
UNWRAPPED_LINE = 150
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_document_text(data: bytes, path: str | Path, *, encoding: str | None = None, fmt: str = "text") -> str:
    """Decode text bytes (a BOM, else UTF-8, else ``encoding``) and refuse binary data.

    Newlines are normalised to ``\\n``: offsets refer to the text after that.
    """
    if not encoding and not data.startswith((b"\xff\xfe", b"\xfe\xff")) and b"\x00" in data[:8192]:
        raise ReaderError(
            f"is not text (format {fmt}): it contains binary bytes, like an image, archive or program; "
            "if it is a document, give it its real extension (.pdf, .docx)",
            path=path,
        )
    try:
        # UTF-8 (or a BOM) first: ``encoding`` is for the files of a run that are not UTF-8.
        text = decode_text(data, path, None, error=ReaderError)
    except ReaderError:
        if not encoding:
            raise
        text = decode_text(data, path, encoding, error=ReaderError)
    except SamverdiError as exc:  # decode_text's own errors, re-typed for the reader family
        raise ReaderError(exc.message, path=path) from exc
    sample = text[:20000]
    if sample and len(_CONTROL.findall(sample)) > 0.01 * len(sample):
        raise ReaderError(
            f"is not text (format {fmt}): it is full of control characters; if it is a document, give it its real "
            "extension (.pdf, .docx)",
            path=path,
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")


def iter_text_blocks(text: str, *, markdown: bool = False) -> Iterator[Block]:
    """Paragraph and heading blocks of a plain-text or Markdown document.

    Blank lines separate paragraphs. A block whose lines are long was written
    one paragraph per line and is split at every line break. Markdown ``#``
    and underlined headings, and lone short title-like lines, become headings.

    >>> [(b.kind, b.text) for b in iter_text_blocks("# Mål\\n\\nVi skal samarbeide\\nmed alle.\\n", markdown=True)]
    [('heading', '# Mål'), ('paragraph', 'Vi skal samarbeide\\nmed alle.')]
    """
    position = 0
    for match in [*_BLANK_RUN.finditer(text), None]:
        end = match.start() if match else len(text)
        chunk = text[position:end]
        yield from _chunk_blocks(chunk, position, markdown)
        if match:
            position = match.end()


def _chunk_blocks(chunk: str, offset: int, markdown: bool) -> Iterator[Block]:
    stripped = chunk.strip()
    if not stripped:
        return
    lead = len(chunk) - len(chunk.lstrip())
    chunk_start = offset + lead
    lines = stripped.split("\n")
    starts = []
    pos = chunk_start
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    if markdown and len(lines) == 2 and _SETEXT.match(lines[1].strip()) and lines[0].strip():
        yield Block(stripped, chunk_start, kind="heading", level=1 if lines[1].strip()[0] == "=" else 2)
        return
    if len(lines) > 1 and (max(len(line) for line in lines[:-1]) > UNWRAPPED_LINE or _mixed_headings(lines, markdown)):
        for line, start in zip(lines, starts):
            if line.strip():
                lead = len(line) - len(line.lstrip())
                yield _line_block(line.strip(), start + lead, markdown)
        return
    if len(lines) == 1:
        yield _line_block(stripped, chunk_start, markdown)
        return
    yield Block(stripped, chunk_start, kind="paragraph")


def _mixed_headings(lines: list[str], markdown: bool) -> bool:
    return markdown and any(_MD_HEADING.match(line.strip()) for line in lines)


def _line_block(line: str, start: int, markdown: bool) -> Block:
    heading = _MD_HEADING.match(line) if markdown else None
    if heading:
        return Block(line, start, kind="heading", level=len(heading.group(1)))
    if looks_like_heading(line):
        return Block(line, start, kind="heading", level=0)
    return Block(line, start, kind="paragraph")
