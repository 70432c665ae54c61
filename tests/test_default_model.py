"""The shipped model: it loads safely, it is current, and `samverdi train` reproduces it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from samverdi_nlp.api import load_training_frame
from samverdi_nlp.codebook import load_codebook
from samverdi_nlp.model import CodingModel, ModelConfig, data_hash, load_model

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "models" / "default"
ANN = REPO / "data" / "annotations"
TRAIN_DATA = [ANN / "corpus", ANN / "double_coding"]


@pytest.fixture(scope="module")
def shipped():
    return load_model(DEFAULT)


@pytest.fixture(scope="module")
def training_rows(codebook):
    return load_training_frame(TRAIN_DATA, codebook)


def test_default_model_is_not_stale(shipped, training_rows, codebook):
    """Fails when the corpus or the codebook changed after the model was trained: retrain with
    `samverdi train --out models/default --force` and re-run `samverdi evaluate --model models/default`."""
    assert shipped.meta_["codebook_sha256"] == codebook.sha256, "codebook changed: retrain models/default"
    assert shipped.meta_["data_sha256"] == data_hash(training_rows, codebook), "training data changed: retrain models/default"


def test_default_model_has_its_evaluation(shipped, codebook):
    summary = shipped.meta_["evaluation"]
    assert set(summary["devtest_macro_f1"]) == set(codebook.dimension_ids)
    assert all(0.0 <= v <= 1.0 for v in summary["devtest_macro_f1"].values())
    config = json.loads((DEFAULT / "config.json").read_text())
    assert ModelConfig.from_dict(config) == ModelConfig.from_dict(shipped.meta_["config"])


def test_train_reproduces_the_default_model(shipped, training_rows):
    """Same data + same seed → the same predictions as the shipped model."""
    retrained = CodingModel(ModelConfig.from_dict(shipped.meta_["config"]), load_codebook()).fit(training_rows)
    devtest = load_training_frame(ANN / "devtest", load_codebook())
    texts = list(devtest["text"])
    a, b = shipped.predict_proba(texts), retrained.predict_proba(texts)
    for dim in a:
        np.testing.assert_allclose(a[dim], b[dim], atol=1e-5)
    assert (shipped.predict(texts).drop(columns="text") == retrained.predict(texts).drop(columns="text")).all().all()
