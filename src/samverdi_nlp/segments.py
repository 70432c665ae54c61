"""Documents and references -> segments, the codebook's unit, each with its provenance.

:func:`iter_segments` streams :class:`Segment` objects file by file:

- **Documents** (PDF, DOCX, HTML, text) become paragraphs. Lines broken by
  the layout are rejoined, end-of-line hyphenation is undone ("sam-\\nskaping"
  -> "samskaping", but "helse-\\nog omsorg" keeps its hyphen), a heading is
  put in front of the paragraph that follows it and names the ``section``,
  fragments shorter than :data:`MIN_CHARS` are merged with the next
  paragraph, consecutive table rows form one segment, and paragraphs longer
  than :data:`MAX_CHARS` are split at sentence boundaries.
- **References** (RIS, BibTeX, Web of Science) become one segment each:
  title, blank line, abstract. Missing abstracts are kept and flagged; a
  reference whose DOI or normalised title was seen before in the run is
  flagged ``duplicate_of:<segment_id>``.
- **Table rows** (a ``text`` column, or ``title``/``abstract`` columns) are
  one segment each, never split, and keep their ``id``/``segment_id``.

``unit="sentence"`` splits document paragraphs and references further into
sentences (``<doc_id>-<paragraph>.<sentence>``). ``start``/``end`` are
offsets into the file's extracted text
(:func:`samverdi_nlp.readers.extracted_text`): ``extracted[start:end]`` is
the raw material of the segment, before lines were rejoined.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from samverdi_nlp.annotations import SOURCE_KINDS, normalise_text
from samverdi_nlp.errors import ReaderError
from samverdi_nlp.language import LANGUAGES, detect_languages, document_language, sentence_spans
from samverdi_nlp.readers import Block, ReaderWarning, Record, Source, open_source
from samverdi_nlp.readers.base import normalise_chars

UNITS = ("paragraph", "sentence")
# Paragraphs shorter than this are fragments (a caption, "Mål:", a list's lead-in) and join the next one.
MIN_CHARS = 40
# Paragraphs longer than this are split at sentence boundaries into pieces of about TARGET_CHARS.
MAX_CHARS = 2000
TARGET_CHARS = 1000
# Segments whose language is detected together, and the text sample that decides a document's language.
BATCH = 256
LANGUAGE_SAMPLE = 4000

_TERMINAL = ".!?:;»\"”)"
_BULLET = re.compile(r"^(?:[•●○▪■◦‣∙·\-–—*]|\(?\d{1,2}[.)]|\(?[a-zæøå][.)])\s+\S")
_NON_SPACE = re.compile(r"[^ \t\u00a0]+")
_KEEP_HYPHEN_BEFORE = frozenset("og eller samt and or och und et enn som til".split())
_MD_HEADING_MARK = re.compile(r"^#{1,6}\s+|\s+#+\s*$")
_SETEXT_LINE = re.compile(r"\n[=-]+\s*$")
_PLAN_WORDS = re.compile(r"\b(?:\w*plan\w*|strategi\w*|strategy|strategies|handlingsprogram\w*|planprogram\w*)\b", re.I)
_REPORT_WORDS = re.compile(r"\b(?:rapport\w*|report\w*|evaluering\w*|evaluation\w*|utredning\w*|årsmelding\w*|årsrapport\w*|forskningsrapport\w*|notat)\b", re.I)
_TITLE_KEY = re.compile(r"[^\w]+")


@dataclass(frozen=True, slots=True)
class Segment:
    """One unit to code, and where it came from."""

    segment_id: str
    doc_id: str
    source: str
    text: str
    lang: str
    source_kind: str
    page: int | None = None
    section: str = ""
    start: int = 0
    end: int = 0
    title: str = ""
    authors: str = ""
    year: str = ""
    doi: str = ""
    journal: str = ""
    flags: tuple[str, ...] = ()
    format: str = ""


SEGMENT_COLUMNS = tuple(f.name for f in fields(Segment))


# --------------------------------------------------------------------------- line joining


@dataclass(slots=True)
class _Piece:
    """Text made from raw extracted text, with anchors mapping its positions back to raw offsets."""

    text: str
    anchors: list[tuple[int, int, int | None]]  # (position in text, raw offset, page)
    end: int  # raw offset just past the material
    kind: str = "paragraph"
    section: str = ""
    heading: str = ""

    def raw_at(self, position: int) -> tuple[int, int | None]:
        index = bisect.bisect_right(self.anchors, (position, float("inf"))) - 1
        text_pos, raw, page = self.anchors[max(index, 0)]
        return raw + (position - text_pos), page

    def append(self, other: _Piece, separator: str) -> None:
        shift = len(self.text) + len(separator)
        self.text = self.text + separator + other.text
        self.anchors.extend((pos + shift, raw, page) for pos, raw, page in other.anchors)
        self.end = other.end


def join_lines(text: str) -> str:
    """Rejoin lines broken by layout, undoing end-of-line hyphenation; bullets keep their line.

    >>> join_lines("Kommunen vil styrke sam-\\nskaping med helse-\\nog omsorgstjenesten og NAV-\\nkontoret.")
    'Kommunen vil styrke samskaping med helse- og omsorgstjenesten og NAV-kontoret.'
    >>> join_lines("Vi vil:\\n• bygge møteplasser\\n• prøve ut nye\\ntjenester")
    'Vi vil:\\n• bygge møteplasser\\n• prøve ut nye tjenester'
    """
    return _join(text, 0, None).text


def _join(text: str, raw_start: int, page: int | None) -> _Piece:
    """Join the lines of raw ``text`` (at ``raw_start`` in the extracted text) into one piece.

    Runs of spaces (justified PDF lines) collapse to one; an anchor is kept
    wherever the joined text's positions drift from the raw ones, so offsets
    stay exact at every word.
    """
    out: list[str] = []
    anchors: list[tuple[int, int, int | None]] = []
    length = 0
    position = 0
    for raw_line in text.split("\n"):
        line_start = position
        position += len(raw_line) + 1
        words = list(_NON_SPACE.finditer(raw_line))
        if not words:
            continue
        line = " ".join(m.group(0) for m in words)
        separator = ""
        if out:
            previous = out[-1]
            if _BULLET.match(line):
                separator = "\n"
            elif previous.endswith("\u00ad"):
                out[-1] = previous[:-1]
                length -= 1
            elif previous.endswith("-") and len(previous) > 1 and previous[-2].isalpha():
                word_before = previous.rsplit(None, 1)[-1][:-1]
                next_word = line.split(None, 1)[0].lower()
                if next_word in _KEEP_HYPHEN_BEFORE:
                    separator = " "  # "helse- og omsorg": a suspended compound, not a hyphenation
                elif line[0].islower() and not (word_before.isupper() and len(word_before) > 1):
                    out[-1] = previous[:-1]  # "sam-" + "skaping"
                    length -= 1
                # else: "Nord-" + "Norge", "NAV-" + "kontoret": a real hyphen, joined without a space
            else:
                separator = " "
        if separator:
            out.append(separator)
            length += len(separator)
        drift = None
        column = 0
        for match in words:
            offset = length + column
            raw = raw_start + line_start + match.start()
            if raw - offset != drift:
                anchors.append((offset, raw, page))
                drift = raw - offset
            column += len(match.group(0)) + 1
        out.append(line)
        length += len(line)
    return _Piece("".join(out), anchors or [(0, raw_start, page)], raw_start + len(text.rstrip()))


def _heading_text(block: Block) -> str:
    text = _SETEXT_LINE.sub("", block.text)
    text = _MD_HEADING_MARK.sub("", text.strip())
    return " ".join(text.split())


# --------------------------------------------------------------------------- documents -> pieces


def _document_pieces(blocks: Iterable[Block], *, layout: bool) -> Iterator[_Piece]:
    """Paragraph pieces of a document: headings prefixed, layout breaks and fragments merged.

    ``layout`` (PDF, plain text) allows joining a paragraph that ends without
    punctuation with a next one that starts in lower case (a break caused by
    a page or column change).
    """
    section = ""
    heading: _Piece | None = None
    pending: _Piece | None = None
    for block in blocks:
        if block.kind == "heading":
            title = _heading_text(block)
            if not title:
                continue
            if pending is not None:
                yield pending
                pending = None
            if heading is not None:  # two headings in a row: the first one has no text of its own
                heading.append(_Piece(title, [(0, block.start, block.page)], block.end), "\n")
            else:
                heading = _Piece(title, [(0, block.start, block.page)], block.end, kind="heading")
            section = title
            continue
        piece = _join(normalise_chars(block.text), block.start, block.page)
        if not piece.text:
            continue
        piece.kind = block.kind
        piece.section = section
        if heading is not None:
            heading.append(piece, "\n")
            heading.kind = block.kind
            heading.section = section
            piece, heading = heading, None
            if pending is not None:
                yield pending
                pending = None
        separator = _continues(pending, piece, layout) if pending is not None else None
        if pending is not None and separator is not None:
            pending.append(piece, separator)
            continue
        if pending is not None:
            yield pending
        pending = piece
    if pending is not None:
        yield pending
    if heading is not None:  # a closing heading with nothing under it is still text
        yield heading


def _continues(pending: _Piece, piece: _Piece, layout: bool) -> str | None:
    """The separator to join ``piece`` to ``pending`` with, or None when it starts a segment of its own."""
    if pending.kind == "table" and piece.kind == "table":
        return "\n" if len(pending.text) + len(piece.text) < TARGET_CHARS else None
    if pending.kind == "table" or piece.kind == "table":
        return None
    if layout and pending.text[-1:] not in _TERMINAL and piece.text[:1].islower():
        # a sentence broken by a page or column change
        return " " if len(pending.text) + len(piece.text) < MAX_CHARS * 2 else None
    if len(pending.text) < MIN_CHARS and len(pending.text) + len(piece.text) < MAX_CHARS:
        return "\n"  # a fragment ("Mål for 2025:") leads into the next paragraph
    return None


def _split_long(piece: _Piece, lang: str) -> list[tuple[int, int]]:
    """Spans of ``piece.text``: itself, or sentence-aligned chunks of about TARGET_CHARS."""
    if len(piece.text) <= MAX_CHARS:
        return [(0, len(piece.text))]
    if piece.kind == "table":
        units = []
        position = 0
        for row in piece.text.split("\n"):
            units.append((position, position + len(row)))
            position += len(row) + 1
    else:
        units = sentence_spans(piece.text, lang) or [(0, len(piece.text))]
    chunks: list[tuple[int, int]] = []
    start, end = units[0]
    for unit_start, unit_end in units[1:]:
        if unit_end - start > TARGET_CHARS and end > start:
            chunks.append((start, end))
            start = unit_start
        end = unit_end
    chunks.append((start, end))
    return chunks


def sentences(text: str, lang: str) -> list[tuple[int, int]]:
    """Sentence spans of a segment's text: each line (heading, list item, table row, title) apart, then spaCy's sentences.

    >>> text = "Mål\\nVi vil samarbeide. Det gir resultater."
    >>> [text[s:e] for s, e in sentences(text, "nb")]
    ['Mål', 'Vi vil samarbeide.', 'Det gir resultater.']
    """
    spans: list[tuple[int, int]] = []
    position = 0
    for line in text.split("\n"):
        if line.strip():
            spans.extend((position + s, position + e) for s, e in sentence_spans(line, lang))
        position += len(line) + 1
    return spans


def guess_source_kind(path: Path, sample: str) -> str:
    """``plan`` or ``report`` from words in the file name and first text, else ``other``.

    >>> guess_source_kind(Path("kommuneplan_samfunnsdel.pdf"), "")
    'plan'
    >>> guess_source_kind(Path("x.pdf"), "Evaluering av samskapingsprosjektet. Rapport 2023:4")
    'report'
    """
    name = path.stem.replace("_", " ").replace("-", " ")
    for text in (name, sample[:600]):
        if _PLAN_WORDS.search(text):
            return "plan"
        if _REPORT_WORDS.search(text):
            return "report"
    return "other"


# --------------------------------------------------------------------------- the stream


def _check_options(unit: str, source_kind: str | None) -> None:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
    if source_kind is not None and source_kind not in SOURCE_KINDS:
        raise ValueError(f"source_kind must be one of {', '.join(SOURCE_KINDS)}, not {source_kind!r}")


def _title_key(title: str) -> str:
    key = _TITLE_KEY.sub(" ", normalise_text(title)).strip()
    return key if len(key) >= 20 else ""


class _Duplicates:
    """Remembers the DOIs and titles of references seen in one run."""

    def __init__(self) -> None:
        self.by_doi: dict[str, str] = {}
        self.by_title: dict[str, str] = {}

    def check(self, record: Record, segment_id: str) -> str:
        title_key = _title_key(record.title)
        first = (self.by_doi.get(record.doi) if record.doi else None) or (self.by_title.get(title_key) if title_key else None)
        if record.doi:
            self.by_doi.setdefault(record.doi, segment_id)
        if title_key:
            self.by_title.setdefault(title_key, segment_id)
        return first or ""


def iter_segments(
    paths: Iterable[str | Path],
    *,
    unit: str = "paragraph",
    password: str | None = None,
    source_kind: str | None = None,
    encoding: str | None = None,
    on_error: Callable[[ReaderError], None] | None = None,
    on_warning: Callable[[ReaderWarning], None] | None = None,
    on_progress: Callable[[Path, float], None] | None = None,
) -> Iterator[Segment]:
    """Stream the segments of every file in ``paths``, file by file.

    A file that cannot be read raises :class:`ReaderError`, unless
    ``on_error`` is given: then it is called with the error and the other
    files go on. ``on_warning`` receives records or pages that were skipped
    (default: :func:`warnings.warn`); ``on_progress`` receives
    ``(path, fraction of that file done)``. ``source_kind`` overrides the
    kind guessed for documents and references; ``encoding`` is the text
    encoding of text, HTML, reference and CSV files that are not UTF-8.
    """
    _check_options(unit, source_kind)
    duplicates = _Duplicates()
    for path in paths:
        path = Path(path)
        try:
            source = open_source(path, password=password, encoding=encoding, on_warning=on_warning)
            yield from _source_segments(source, unit, source_kind, duplicates, on_progress)
        except ReaderError as exc:
            if on_error is None:
                raise
            on_error(exc)
        except RecursionError as exc:  # deeply nested HTML or PDF objects
            error = ReaderError("is nested too deeply to read; save it in a simpler form (e.g. print to PDF)", path=path)
            if on_error is None:
                raise error from exc
            on_error(error)
        if on_progress is not None:
            on_progress(path, 1.0)


def _source_segments(
    source: Source,
    unit: str,
    source_kind: str | None,
    duplicates: _Duplicates,
    on_progress: Callable[[Path, float], None] | None,
) -> Iterator[Segment]:
    if source.family == "document":
        yield from _document_segments(source, unit, source_kind, on_progress)
    else:
        yield from _record_segments(source, unit, source_kind, duplicates)


def _document_segments(
    source: Source,
    unit: str,
    source_kind: str | None,
    on_progress: Callable[[Path, float], None] | None,
) -> Iterator[Segment]:
    pieces = _document_pieces(source.items, layout=source.format in ("pdf", "text", "markdown"))  # type: ignore[arg-type]
    head: list[_Piece] = []
    size = 0
    for piece in pieces:
        head.append(piece)
        size += len(piece.text)
        if size >= LANGUAGE_SAMPLE:
            break
    if not head:
        raise ReaderError(f"has no text to segment (format {source.format}); check that it is the right file", path=source.path)
    doc_lang = document_language(p.text for p in head)
    kind = source_kind or guess_source_kind(source.path, " ".join(p.text for p in head[:5]))
    batch: list[tuple[str, _Piece, int, int]] = []
    ordinal = 0
    for piece in itertools.chain(head, pieces):
        for start, end in _split_long(piece, doc_lang):
            ordinal += 1
            batch.append((f"{ordinal:04d}", piece, start, end))
        if len(batch) >= BATCH:
            yield from _piece_batch(source, batch, doc_lang, kind, unit)
            batch.clear()
            if on_progress and source.pages:
                page = piece.raw_at(0)[1]
                on_progress(source.path, min(1.0, (page or 0) / source.pages))
    yield from _piece_batch(source, batch, doc_lang, kind, unit)


def _piece_batch(
    source: Source,
    batch: list[tuple[str, _Piece, int, int]],
    doc_lang: str,
    kind: str,
    unit: str,
) -> Iterator[Segment]:
    texts = [piece.text[start:end] for _, piece, start, end in batch]
    languages = detect_languages(texts, fallback=doc_lang)
    for (ordinal, piece, start, end), text, lang in zip(batch, texts, languages):
        raw_start, page = piece.raw_at(start)
        raw_end = piece.end if end == len(piece.text) else piece.raw_at(end)[0]
        common = {
            "doc_id": source.doc_id, "source": str(source.path), "lang": lang, "source_kind": kind,
            "section": piece.section, "flags": ("table",) if piece.kind == "table" else (), "format": source.format,
        }
        base_id = f"{source.doc_id}-{ordinal}"
        if unit == "paragraph":
            yield Segment(segment_id=base_id, text=text.strip(), page=page, start=raw_start, end=raw_end, **common)
            continue
        for number, (s_start, s_end) in enumerate(sentences(text, lang), 1):
            s_raw_start, s_page = piece.raw_at(start + s_start)
            s_raw_end = raw_end if start + s_end >= end else piece.raw_at(start + s_end)[0]
            yield Segment(segment_id=f"{base_id}.{number}", text=text[s_start:s_end].strip(), page=s_page,
                          start=s_raw_start, end=s_raw_end, **common)


def _record_segments(source: Source, unit: str, source_kind: str | None, duplicates: _Duplicates) -> Iterator[Segment]:
    records: Iterator[Record] = source.items  # type: ignore[assignment]
    head: list[Record] = []
    for record in records:
        head.append(record)
        if len(head) >= 20:
            break
    if not head:
        raise ReaderError(f"has no records with text (format {source.format}); check the export", path=source.path)
    file_lang = document_language(r.text for r in head)

    batch: list[Record] = []
    ordinal = 0
    for record in itertools.chain(head, records):
        batch.append(record)
        if len(batch) >= BATCH:
            yield from _record_batch(source, batch, file_lang, unit, source_kind, duplicates, ordinal)
            ordinal += len(batch)
            batch.clear()
    yield from _record_batch(source, batch, file_lang, unit, source_kind, duplicates, ordinal)


def _record_batch(
    source: Source,
    batch: list[Record],
    file_lang: str,
    unit: str,
    source_kind: str | None,
    duplicates: _Duplicates,
    ordinal: int,
) -> Iterator[Segment]:
    table = source.family == "table"  # rows with ready-made text, e.g. an annotation table
    given = [r.lang if r.lang in LANGUAGES else "" for r in batch]
    todo = [i for i, lang in enumerate(given) if not lang]
    found = detect_languages([batch[i].text for i in todo], fallback=file_lang) if todo else []
    for i, lang in zip(todo, found):
        given[i] = lang
    for offset, (record, lang) in enumerate(zip(batch, given), 1):
        number = ordinal + offset
        base_id = record.record_id or f"{source.doc_id}-{number:04d}"
        if record.source_kind in SOURCE_KINDS and source_kind is None:
            kind = record.source_kind
        else:
            kind = source_kind or ("other" if table else "abstract")
        flags: list[str] = []
        if not table:  # a reference, from an export or a title/abstract table
            if not record.abstract:
                flags.append("missing_abstract")
            if not record.title:
                flags.append("missing_title")
            first = duplicates.check(record, base_id)
            if first:
                flags.append(f"duplicate_of:{first}")
        common = {
            "doc_id": record.doc_id or source.doc_id, "source": str(source.path), "lang": lang, "source_kind": kind,
            "title": record.title, "authors": record.authors, "year": record.year, "doi": record.doi,
            "journal": record.journal, "format": source.format, "section": "",
        }
        end = record.start + len(record.text)
        if unit == "paragraph" or source.format not in ("ris", "bibtex", "wos"):  # table rows stay whole
            yield Segment(segment_id=base_id, text=record.text, start=record.start, end=end, flags=tuple(flags), **common)
            continue
        for s_number, (s_start, s_end) in enumerate(sentences(record.text, lang), 1):
            yield Segment(segment_id=f"{base_id}.{s_number}", text=record.text[s_start:s_end].strip(),
                          start=record.start + s_start, end=record.start + s_end, flags=tuple(flags), **common)


def segments_frame(segments: Iterable[Segment]) -> pd.DataFrame:
    """One row per segment, the :class:`Segment` fields as columns (``flags`` as tuples).

    >>> segments_frame([Segment("d1-0001", "d1", "a.txt", "Tekst.", "nb", "other")]).loc[0, ["segment_id", "page"]].tolist()
    ['d1-0001', None]
    """
    rows = [asdict(segment) for segment in segments]
    frame = pd.DataFrame.from_records(rows, columns=list(SEGMENT_COLUMNS))
    frame["page"] = frame["page"].astype(object).where(frame["page"].notna(), None)
    return frame


SEGMENT_SUFFIXES = (".csv", ".jsonl", ".xlsx")
XLSX_CELL_LIMIT = 32_767


def _flat(segment: Segment, *, as_list: bool) -> dict:
    row = asdict(segment)
    row["flags"] = list(segment.flags) if as_list else ";".join(segment.flags)
    if not as_list and row["page"] is None:
        row["page"] = ""
    return row


def write_segments(segments: Iterable[Segment], path: str | Path, *, overwrite: bool = False) -> int:
    """Stream segments to ``.csv``, ``.jsonl`` or ``.xlsx`` atomically; return how many were written.

    Nothing is written when there are no segments. An existing file is
    refused unless ``overwrite`` (it may hold a coder's work).
    """
    from samverdi_nlp.errors import OutputError
    from samverdi_nlp.io_utils import write_rows

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in SEGMENT_SUFFIXES:
        raise OutputError(f"cannot write {suffix or '(no suffix)'} files; choose one of {', '.join(SEGMENT_SUFFIXES)}", path=target)
    stream = iter(segments)
    first = next(stream, None)
    if first is None:
        return 0
    stream = itertools.chain([first], stream)

    def rows() -> Iterator[dict]:
        for segment in stream:
            if suffix == ".xlsx" and len(segment.text) > XLSX_CELL_LIMIT:
                raise OutputError(f"segment {segment.segment_id} is longer than an Excel cell holds ({XLSX_CELL_LIMIT:,} characters); "
                                  "write .csv or .jsonl instead", path=target)
            yield _flat(segment, as_list=suffix == ".jsonl")

    count = write_rows(target, list(SEGMENT_COLUMNS), rows(), overwrite=overwrite, sheet_name="segments")
    return count
