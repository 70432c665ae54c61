"""Shared fixtures: paths to fixture folders and the packaged codebook."""

from __future__ import annotations

from pathlib import Path

import pytest

from samverdi_nlp.codebook import Codebook, load_codebook

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def codebook() -> Codebook:
    return load_codebook()


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory, codebook):
    """A quickly trained model on a sample of the shipped corpus (for tests that need any model)."""
    from samverdi_nlp.annotations import read_annotations
    from samverdi_nlp.model import CodingModel, ModelConfig, select_training_rows

    frame = select_training_rows(read_annotations(REPO / "data" / "annotations" / "corpus", codebook))
    frame = frame.sample(n=min(300, len(frame)), random_state=3)
    config = ModelConfig(calibration_folds=2, backend_params={"max_word_features": 5000, "max_char_features": 8000})
    folder = tmp_path_factory.mktemp("model") / "small"
    CodingModel(config, codebook).fit(frame).save(folder)
    return folder
