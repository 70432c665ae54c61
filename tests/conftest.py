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
