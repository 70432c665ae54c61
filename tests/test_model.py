"""Training, safe saving/loading, determinism, evidence, and errors for damaged or foreign models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from samverdi_nlp.annotations import read_annotations
from samverdi_nlp.cli import app
from samverdi_nlp.codebook import load_codebook
from samverdi_nlp.errors import ModelError
from samverdi_nlp.model import CodingModel, ModelConfig, load_model, select_training_rows

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "data" / "annotations" / "corpus"
FAST = ModelConfig(calibration_folds=2, backend_params={"max_word_features": 3000, "max_char_features": 5000})
runner = CliRunner()


@pytest.fixture(scope="module")
def small_frame(codebook) -> pd.DataFrame:
    frame = select_training_rows(read_annotations(CORPUS, codebook))
    return frame.sample(n=min(160, len(frame)), random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def small_model(small_frame, codebook) -> CodingModel:
    return CodingModel(FAST, codebook).fit(small_frame)


@pytest.fixture()
def saved(small_model, tmp_path) -> Path:
    return small_model.save(tmp_path / "m")


def test_predict_gives_codebook_shaped_codes(small_model, codebook):
    pred = small_model.predict(["Kommunestyret vedtok en samskapingsstrategi.", "Customer value co-creation in hotels."])
    assert list(pred.columns) == ["text", *codebook.dimension_ids]
    for dim in codebook.dimensions:
        for cell in pred[dim.id]:
            if dim.multi_label:
                assert isinstance(cell, tuple) and set(cell) <= set(dim.label_ids)
            else:
                assert cell in dim.label_ids
    proba = small_model.predict_proba(["x"])
    assert np.allclose(proba["relevance"].sum(axis=1), 1.0)


def test_save_load_round_trip_is_exact(small_model, saved):
    loaded = load_model(saved)
    texts = ["Ordføreren inviterte frivillige lag til et felles forum.", "Road resurfacing on the A61."]
    a, b = small_model.predict_proba(texts), loaded.predict_proba(texts)
    for dim in a:
        np.testing.assert_allclose(a[dim], b[dim], rtol=1e-6)
    assert loaded.meta_["codebook_sha256"] == load_codebook().sha256


def test_same_data_and_seed_give_identical_models(small_frame, small_model, codebook):
    """Row order and the number of worker processes do not change the model."""
    import dataclasses

    again = CodingModel(dataclasses.replace(FAST, n_jobs=1), codebook).fit(small_frame.sample(frac=1.0, random_state=7))
    texts = list(small_frame["text"][:20])
    for dim, p in small_model.predict_proba(texts).items():
        np.testing.assert_array_equal(p, again.predict_proba(texts)[dim])


def test_evidence_comes_from_the_text(small_model):
    text = "The municipal council adopted a co-creation strategy together with voluntary organisations."
    words = small_model.evidence(text, "relevance", "include", k=5)
    assert words and all(w.lower() in text.lower() for w, _ in words)
    assert all(score > 0 for _, score in words)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "weights.npz").write_bytes(b"not a zip"), "does not match the hash"),
        (lambda d: (d / "features.json").unlink(), "features.json is missing"),
        (lambda d: (d / "meta.json").write_text('{"format": "sklearn-pickle"}'), "not a samverdi model"),
        (lambda d: (d / "meta.json").write_text("{broken"), "not valid JSON"),
        (lambda d: (d / "meta.json").unlink(), "no meta.json"),
    ],
)
def test_damaged_or_foreign_models_give_clear_errors(saved, damage, message):
    damage(saved)
    with pytest.raises(ModelError, match=message):
        load_model(saved)


def test_pickle_payload_is_never_executed(saved, tmp_path):
    """A weights file replaced by a pickle (with a matching hash) is refused, not run."""
    import hashlib
    import pickle

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    arr = np.array([Evil()], dtype=object)
    path = saved / "weights.npz"
    np.savez(path, **{"head/aspect/W": arr})
    meta = json.loads((saved / "meta.json").read_text())
    meta["files"]["weights.npz"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (saved / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError):
        load_model(saved)
    assert not marker.exists()
    del pickle


def test_model_for_another_codebook_is_refused(saved, fixtures):
    other = load_codebook(fixtures / "annotations" / "extra_dimension_codebook.toml")
    with pytest.raises(ModelError, match="another codebook"):
        load_model(saved, other)


def test_extra_dimension_trains_with_no_code_change(fixtures, tmp_path):
    cb = load_codebook(fixtures / "annotations" / "extra_dimension_codebook.toml")
    base = read_annotations(fixtures / "annotations" / "extra_dimension_table.csv", cb)
    frame = pd.concat([base.assign(segment_id=base["segment_id"] + f"-{i}", text=base["text"] + f" ({i})") for i in range(6)], ignore_index=True)
    model = CodingModel(ModelConfig(calibration_folds=2, backend_params={"min_df": 1}), cb).fit(frame)
    pred = model.predict(["A new health house for the district."])
    assert "sector" in pred.columns
    model.save(tmp_path / "m")
    assert load_model(tmp_path / "m", cb).codebook_.dimension_ids == ("aspect", "sector", "relevance")


def test_train_cli_and_missing_model_message(tmp_path, small_frame, codebook):
    from samverdi_nlp.annotations import write_annotations

    table = tmp_path / "coded.jsonl"
    write_annotations(small_frame, table, codebook)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"calibration_folds": 2}))
    result = runner.invoke(app, ["train", "--data", str(table), "--out", str(tmp_path / "m"), "--config", str(cfg), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "meta.json").is_file()
    again = runner.invoke(app, ["train", "--data", str(table), "--out", str(tmp_path / "m"), "--config", str(cfg), "--quiet"])
    assert again.exit_code != 0 and "--force" in again.output
    shutil.rmtree(tmp_path / "m")
    with pytest.raises(ModelError, match="model folder not found"):
        load_model(tmp_path / "m")


def test_several_coders_without_adjudication_is_an_error(codebook):
    frame = pd.DataFrame({"segment_id": ["a", "a"], "coder": ["ola", "kari"], "text": ["t", "t"]})
    with pytest.raises(ModelError, match="adjudicate"):
        select_training_rows(frame)


def test_unresolved_ties_block_training():
    frame = pd.DataFrame({"segment_id": ["a"], "coder": ["adjudicated"], "text": ["t"], "tie": ["yes"]})
    with pytest.raises(ModelError, match="unresolved tie"):
        select_training_rows(frame)
