"""One small exception hierarchy.

Every error the tool raises on purpose is a :class:`SamverdiError`; the CLI
prints its message on one line and exits with a non-zero code, without a
traceback. Messages name the file (where there is one) and say what to do.
"""

from __future__ import annotations

from pathlib import Path


class SamverdiError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is the whole message."""

    exit_code: int = 2

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.message = message
        super().__init__(f"{path}: {message}" if path is not None else message)


class CodebookError(SamverdiError):
    """The codebook file is missing, malformed or inconsistent."""


class AnnotationError(SamverdiError):
    """An annotation table cannot be read or does not fit the codebook."""


class ReaderError(SamverdiError):
    """A document or reference file cannot be read (corrupt, encrypted, scanned, empty...)."""


class ModelError(SamverdiError):
    """A model directory is missing, tampered with, foreign, or made for another codebook."""


class AgreementError(SamverdiError):
    """Agreement cannot be computed from the given tables."""


class ScreeningError(SamverdiError):
    """A screening project cannot be opened or updated."""


class OutputError(SamverdiError):
    """An output file cannot be written (or would overwrite something it must not)."""
