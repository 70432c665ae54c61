"""The Python API in a few calls: train a model from annotation tables, load one, suggest codes.

>>> from samverdi_nlp import load_codebook
>>> load_codebook().name
'SAMVERDI'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from samverdi_nlp.annotations import read_annotations
from samverdi_nlp.codebook import Codebook, load_codebook
from samverdi_nlp.model import CodingModel, ModelConfig, Progress, select_training_rows


def load_training_frame(
    data: str | Path | Sequence[str | Path] | pd.DataFrame,
    codebook: Codebook,
    coder: str | None = None,
) -> pd.DataFrame:
    """Annotation tables (or a canonical frame) → one row per segment with the codes that count."""
    frame = data if isinstance(data, pd.DataFrame) else read_annotations(data, codebook)
    return select_training_rows(frame, coder)


def train(
    data: str | Path | Sequence[str | Path] | pd.DataFrame,
    *,
    codebook: Codebook | str | Path | None = None,
    config: ModelConfig | None = None,
    coder: str | None = None,
    progress: Progress | None = None,
) -> CodingModel:
    """Train a :class:`~samverdi_nlp.model.CodingModel` on annotation tables (files, folders or a frame)."""
    cb = codebook if isinstance(codebook, Codebook) else load_codebook(codebook)
    frame = load_training_frame(data, cb, coder)
    return CodingModel(config or ModelConfig(), cb).fit(frame, progress=progress)
