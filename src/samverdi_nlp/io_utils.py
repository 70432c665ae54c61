"""Small file helpers shared by every module: decoding text and atomic writes."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from samverdi_nlp.errors import OutputError, SamverdiError

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def guess_legacy_encoding(data: bytes) -> str:
    """Name the 8-bit encoding undecodable bytes most likely are in.

    Bytes 0x80-0x9F are printable in cp1252 (€, ‚, smart quotes) but control
    characters in latin-1, so their presence points to a Windows export.

    >>> guess_legacy_encoding("Tromsø – «samskaping»".encode("cp1252"))
    'cp1252'
    >>> guess_legacy_encoding("Tromsø".encode("latin-1"))
    'latin-1'
    """
    if any(0x80 <= b <= 0x9F for b in data):
        return "cp1252"
    return "latin-1"


def decode_text(data: bytes, path: str | Path, encoding: str | None = None, error: type[SamverdiError] = SamverdiError) -> str:
    """Decode file bytes: a given encoding, else a BOM, else strict UTF-8.

    Undecodable bytes raise ``error`` naming the encoding they look like and
    how to fix it, never a silent mojibake.
    """
    if encoding:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise error(f"cannot decode as {encoding}: {exc}", path=path) from exc
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(name)
            except UnicodeDecodeError as exc:
                raise error(f"has a {name} byte-order mark but invalid bytes ({exc})", path=path) from exc
    if data[:200].count(b"\x00") > 10:
        raise error("looks like UTF-16 without a byte-order mark or a binary file; save it as UTF-8", path=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        guess = guess_legacy_encoding(data)
        line = data[: exc.start].count(b"\n") + 1
        raise error(
            f"line {line}: bytes are not UTF-8 (they look like {guess}); re-save the file as UTF-8 "
            f"(Excel: 'CSV UTF-8') or pass --encoding {guess}",
            path=path,
        ) from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def publish(tmp: str | Path, target: str | Path) -> None:
    """Give a finished temporary file normal permissions and rename it over ``target``.

    (``mkstemp`` creates files readable by their owner only.)
    """
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", *, overwrite: bool = True, encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside ``path`` and rename it into place at the end.

    A crash or an exception leaves the old file (or no file) and no half-written
    output. With ``overwrite=False`` an existing file is refused.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OutputError("already exists; choose another name or pass --force to replace it", path=target)
    if not target.parent.exists():
        raise OutputError(f"folder {target.parent} does not exist", path=target)
    binary = "b" in mode
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding, newline=None if binary else "") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        publish(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def atomic_output_path(path: str | Path, *, overwrite: bool = True) -> contextlib.AbstractContextManager[Path]:
    """Like :func:`atomic_write` for libraries that want a file name (openpyxl, matplotlib)."""

    @contextlib.contextmanager
    def _ctx() -> Iterator[Path]:
        target = Path(path)
        if target.exists() and not overwrite:
            raise OutputError("already exists; choose another name or pass --force to replace it", path=target)
        if not target.parent.exists():
            raise OutputError(f"folder {target.parent} does not exist", path=target)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            publish(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    return _ctx()


def xlsx_row(sheet, values: list) -> list:
    """Cells for an openpyxl write-only sheet that keep text as text.

    openpyxl stores a string starting with ``=`` as a formula; a segment or a
    note may well start with one, so such strings are written as plain text.
    Control characters that Excel cannot store are dropped.
    """
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cells = []
    for value in values:
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str) and value.startswith("="):
            cell.data_type = "s"
        cells.append(cell)
    return cells


ROW_SUFFIXES = (".csv", ".tsv", ".jsonl", ".xlsx")


def write_rows(path: str | Path, columns: list[str], rows: Iterable[dict], *, overwrite: bool = False,
               sheet_name: str = "data") -> int:
    """Stream rows (dicts) to ``.csv``, ``.tsv``, ``.jsonl`` or ``.xlsx``, atomically; return how many.

    JSONL keeps values as they are (lists stay lists); the other formats expect
    cells already flattened to strings or numbers.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in ROW_SUFFIXES:
        raise OutputError(f"cannot write {suffix or '(no suffix)'} files; choose one of {', '.join(ROW_SUFFIXES)}", path=target)
    count = 0
    if suffix == ".jsonl":
        with atomic_write(target, overwrite=overwrite) as fh:
            for row in rows:
                fh.write(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) + "\n")
                count += 1
    elif suffix == ".xlsx":
        import openpyxl  # only Excel users pay for it

        with atomic_output_path(target, overwrite=overwrite) as tmp:
            book = openpyxl.Workbook(write_only=True)
            sheet = book.create_sheet(sheet_name)
            sheet.append(xlsx_row(sheet, list(columns)))
            for row in rows:
                sheet.append(xlsx_row(sheet, [row.get(c) for c in columns]))
                count += 1
            book.save(tmp)
    else:
        with atomic_write(target, overwrite=overwrite) as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, delimiter="\t" if suffix == ".tsv" else ",",
                                    lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
                count += 1
    return count
