"""`samverdi evaluate`: grouped stratified folds, baselines in the same table, dev-test, learning curve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from samverdi_nlp.annotations import read_annotations, write_annotations
from samverdi_nlp.cli import app
from samverdi_nlp.errors import ModelError
from samverdi_nlp.evaluate import check_disjoint, grouped_folds, keyword_baseline, score_dimension
from samverdi_nlp.model import select_training_rows

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(codebook):
    return select_training_rows(read_annotations(REPO / "data" / "annotations" / "corpus", codebook))


def test_folds_keep_documents_together_and_cover_everything(corpus, codebook):
    frame = corpus.sample(n=400, random_state=0).reset_index(drop=True)
    folds = grouped_folds(frame, codebook, k=4, seed=0)
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen) == list(range(len(frame)))
    for train, test in folds:
        assert not set(frame.iloc[train]["doc_id"]) & set(frame.iloc[test]["doc_id"])


def test_scores_match_hand_computed_values(codebook):
    gold = [("culture",), ("culture", "process"), (), ("structure",)]
    pred = [("culture",), ("process",), ("process",), ("structure",)]
    s = score_dimension(gold, pred, codebook, "aspect")
    assert s["labels"]["culture"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert s["labels"]["process"]["precision"] == 0.5 and s["labels"]["process"]["recall"] == 1.0
    assert s["micro_f1"] == round(2 * 3 / (4 + 4), 4)
    assert s["exact_match"] == 0.5
    single = score_dimension(["include", "exclude", None], ["include", "include", "exclude"], codebook, "relevance")
    assert single["n_segments"] == 2 and single["accuracy"] == 0.5


def test_keyword_baseline_uses_codebook_cues(corpus, codebook):
    predict = keyword_baseline(corpus, codebook)
    frame = corpus.iloc[:1].assign(text="Ordføreren og kommunestyret", title="")
    assert "political" in predict(frame).iloc[0]["level"]


def test_devtest_overlapping_training_is_refused(corpus):
    with pytest.raises(ModelError, match="shares"):
        check_disjoint(corpus.iloc[:50], corpus.iloc[40:60])


def test_evaluate_cli_writes_markdown_json_and_plot(corpus, codebook, tmp_path):
    train = corpus.sample(n=200, random_state=2)
    devtest = read_annotations(REPO / "data" / "annotations" / "devtest", codebook).sample(n=60, random_state=2)
    write_annotations(train, tmp_path / "train.jsonl", codebook)
    write_annotations(devtest, tmp_path / "devtest.jsonl", codebook)
    (tmp_path / "cfg.json").write_text(json.dumps({"calibration_folds": 2, "backend_params": {"max_char_features": 5000}}))
    out = tmp_path / "eval"
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path / "train.jsonl"), "--devtest", str(tmp_path / "devtest.jsonl"),
                                 "--config", str(tmp_path / "cfg.json"), "--folds", "3", "--out-dir", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "evaluation.json").read_text())
    for part in ("cross_validation", "devtest"):
        for system in ("model", "keyword", "majority"):
            assert set(report[part][system]) == set(codebook.dimension_ids)
    assert report["devtest"]["n_test"] == 60 and len(report["learning_curve"]) == 5
    md = (out / "evaluation.md").read_text()
    assert "keyword macro-F1" in md and "By language" in md
    assert (out / "learning_curve.png").stat().st_size > 5000
