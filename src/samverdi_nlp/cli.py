"""The ``samverdi`` command line: thin typer wrappers over library functions.

Each command parses options, calls one library function that returns data,
and prints or writes the result. Errors the user can fix (every
:class:`~samverdi_nlp.errors.SamverdiError`) become one line on stderr and a
non-zero exit code, never a traceback. Only this module imports everything;
nothing imports it.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from samverdi_nlp import __version__
from samverdi_nlp.annotations import validate
from samverdi_nlp.codebook import Codebook, load_codebook
from samverdi_nlp.errors import SamverdiError
from samverdi_nlp.io_utils import atomic_write

app = typer.Typer(
    name="samverdi",
    help="Code texts about co-creation (samskaping) in the public sector with the SAMVERDI scheme.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])

CodebookOption = Annotated[
    Path | None,
    typer.Option("--codebook", help="Codebook TOML file (default: the packaged SAMVERDI scheme).", exists=True, dir_okay=False),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn the library's errors into one-line messages with a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SamverdiError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted; nothing was half-written", 130) from None
        except MemoryError:
            raise fail("out of memory; split the input into smaller files", 3) from None

    return wrapper  # type: ignore[return-value]


def _codebook(path: Path | None) -> Codebook:
    return load_codebook(path)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"samverdi {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version_callback, is_eager=True)
    ] = False,
) -> None:
    """Code texts about co-creation (samskaping) in the public sector with the SAMVERDI scheme."""


# --------------------------------------------------------------------------- codebook


class CodebookFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def codebook_markdown(cb: Codebook) -> str:
    """The codebook as Markdown: one section and one table per dimension."""
    lines = [f"# Codebook {cb.name} {cb.version}".rstrip(), ""]
    for dim in cb.dimensions:
        kind = "multi-label" if dim.multi_label else "single-label"
        lines += [f"## `{dim.id}` — {dim.name_en} / {dim.name_nb} ({kind})", "", dim.definition, ""]
        lines += ["| label | English | Norwegian | definition | cues |", "|---|---|---|---|---|"]
        for lab in dim.labels:
            cues = ", ".join(lab.cues)
            lines.append(f"| `{lab.id}` | {lab.name_en} | {lab.name_nb} | {lab.definition} | {cues} |")
        lines.append("")
    return "\n".join(lines)


def codebook_table(cb: Codebook) -> str:
    """The codebook as a plain-text table for the terminal."""
    rows = [("dimension", "label", "English", "Norwegian")]
    for dim in cb.dimensions:
        kind = "multi" if dim.multi_label else "single"
        for i, lab in enumerate(dim.labels):
            rows.append((f"{dim.id} ({kind})" if i == 0 else "", lab.id, lab.name_en, lab.name_nb))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


@app.command("codebook")
@handle_errors
def codebook_cli(
    codebook: CodebookOption = None,
    format: Annotated[CodebookFormat, typer.Option("--format", "-f", help="Output format.")] = CodebookFormat.table,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of the screen.")] = None,
) -> None:
    """Show the coding scheme (dimensions, labels, definitions, cues)."""
    cb = _codebook(codebook)
    if format is CodebookFormat.json:
        text = json.dumps(cb.to_dict(), ensure_ascii=False, indent=2)
    elif format is CodebookFormat.markdown:
        text = codebook_markdown(cb)
    else:
        text = codebook_table(cb)
    if out:
        with atomic_write(out) as fh:
            fh.write(text + "\n")
        typer.echo(f"wrote {out}", err=True)
    else:
        typer.echo(text)


# --------------------------------------------------------------------------- validate


@app.command("validate")
@handle_errors
def validate_cli(
    paths: Annotated[list[Path], typer.Argument(help="Annotation tables (.csv .tsv .xlsx .jsonl) or folders of them.")],
    codebook: CodebookOption = None,
    coder: Annotated[str | None, typer.Option(help="Coder name for rows without a 'coder' column (default: the file name).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of CSV/TSV/JSONL files (default: UTF-8, BOM-aware).")] = None,
) -> None:
    """Check annotation tables against the codebook; list every problem as file:row: column: message."""
    cb = _codebook(codebook)
    frame, problems = validate(paths, cb, coder=coder, encoding=encoding)
    for problem in problems:
        typer.echo(str(problem))
    n_files = frame["_file"].nunique() if "_file" in frame else 0
    summary = f"{len(frame)} rows, {frame['segment_id'].nunique() if len(frame) else 0} segments, {n_files} file(s)"
    if problems:
        typer.echo(f"{len(problems)} problem(s) found ({summary})", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {summary}", err=True)


def main() -> None:
    """Entry point of the ``samverdi`` console script."""
    try:
        app()
    except SamverdiError as exc:  # a library error outside a wrapped command
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
