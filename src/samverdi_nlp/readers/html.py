"""HTML pages: the visible body text as headings, paragraphs, list items and table rows.

Navigation, scripts, forms, headers and footers are page furniture and are
dropped. The extracted text is the blocks joined by blank lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from samverdi_nlp.errors import ReaderError
from samverdi_nlp.readers.base import Block, OffsetCounter, clean_inline
from samverdi_nlp.readers.text import decode_document_text

_DROP = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "button", "svg", "iframe", "head")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = {"p", "li", "dd", "dt", "blockquote", "pre", "figcaption", "caption", "address", "summary", "td", "th"}
_CONTAINERS = {"div", "section", "article", "main", "body", "ul", "ol", "dl", "figure", "details", "table", "tbody", "thead", "tfoot", "tr", "center"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.I)


def decode_html(data: bytes, path: str | Path, encoding: str | None = None) -> str:
    """Decode an HTML file: a given encoding, a BOM or UTF-8, else the charset it declares."""
    declared = _META_CHARSET.search(data[:4096])
    try:
        return decode_document_text(data, path, encoding=encoding, fmt="html")
    except ReaderError:
        if not declared:
            raise
    name = declared.group(1).decode("ascii", "replace")
    try:
        return decode_document_text(data, path, encoding=name, fmt="html")
    except ReaderError as exc:
        raise ReaderError(f"declares charset {name} but does not decode with it; re-save it as UTF-8", path=path) from exc


def iter_html_blocks(html: str, path: str | Path = "") -> Iterator[Block]:
    """Blocks of an HTML page in reading order.

    >>> page = "<html><body><nav>Meny</nav><h2>Mål</h2><p>Vi <b>samskaper</b> med innbyggerne.</p></body></html>"
    >>> [(b.kind, b.text) for b in iter_html_blocks(page)]
    [('heading', 'Mål'), ('paragraph', 'Vi samskaper med innbyggerne.')]
    """
    from bs4 import BeautifulSoup  # imported here: only HTML input pays for it

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    root = soup.body or soup
    offsets = OffsetCounter()
    for kind, level, text in _walk(root):
        text = "\n".join(filter(None, (clean_inline(line) for line in text.split("\n")))) if kind == "paragraph" else clean_inline(text)
        if text:
            yield Block(text, offsets.place(text), kind=kind, level=level)


def _walk(node) -> Iterator[tuple[str, int, str]]:
    from bs4 import NavigableString, Tag
    from bs4.element import Comment, Doctype, ProcessingInstruction

    loose: list[str] = []
    for child in node.children:
        if isinstance(child, (Comment, Doctype, ProcessingInstruction)):
            continue
        if isinstance(child, NavigableString):
            loose.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name.lower()
        if name in _HEADINGS or name in _BLOCKS or name == "tr" or name in _CONTAINERS or name in ("ul", "ol"):
            if "".join(loose).strip():
                yield "paragraph", 0, "".join(loose)
            loose = []
        if name in _HEADINGS:
            yield "heading", _HEADINGS[name], child.get_text()
        elif name in ("ul", "ol") and not child.find(["table", "p", "div", "ul", "ol"]):
            # a simple list is one paragraph, one item per line, as it would be printed
            items = [clean_inline(item.get_text()) for item in child.find_all("li")]
            marks = ("- " if name == "ul" else f"{n}. " for n in range(1, len(items) + 1))
            text = "\n".join(mark + item for mark, item in zip(marks, items) if item)
            if text:
                yield "paragraph", 0, text
        elif name == "tr":
            cells = [clean_inline(c.get_text()) for c in child.find_all(["td", "th"], recursive=False)]
            row = " | ".join(c for c in cells if c)
            if row:
                yield "table", 0, row
        elif name in _BLOCKS and not child.find(list(_HEADINGS) + ["p", "li", "table", "div"]):
            yield "paragraph", 0, child.get_text()
        elif name in _BLOCKS or name in _CONTAINERS:
            yield from _walk(child)
        else:  # inline element (a, b, em, span...): part of the running text
            loose.append(child.get_text())
    if "".join(loose).strip():
        yield "paragraph", 0, "".join(loose)
