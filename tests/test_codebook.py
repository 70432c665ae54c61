"""The codebook is data: loading, validation errors, and a scheme with an extra dimension."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from samverdi_nlp.cli import app
from samverdi_nlp.codebook import load_codebook
from samverdi_nlp.errors import CodebookError

runner = CliRunner()


def test_packaged_codebook_matches_the_scheme(codebook):
    assert codebook.dimension_ids == ("aspect", "level", "factor", "principle", "relevance")
    assert codebook.single_label_ids == ("relevance",)
    assert codebook.dimension("level").label_ids == ("political", "strategic", "tactical", "operational", "general", "micro")
    for dim in codebook.dimensions:
        for label in dim.labels:
            assert label.name_en and label.name_nb and label.definition


def test_hash_is_stable_and_content_based(codebook, fixtures):
    assert load_codebook().sha256 == codebook.sha256
    assert load_codebook(fixtures / "annotations" / "extra_dimension_codebook.toml").sha256 != codebook.sha256


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name = 'x'", "no [[dimensions]]"),
        ("[[dimensions]]\nid = 'a'\nlabels = []", "no labels"),
        ("[[dimensions]]\nid = 'text'\n[[dimensions.labels]]\nid = 'x'", "must be lower-case"),
        ("[[dimensions]]\nid = 'a'\n[[dimensions.labels]]\nid = 'x'\n[[dimensions.labels]]\nid = 'x'", "defined twice"),
        ("[[dimensions]]\nid = 'a'\nmulti_label = false\n[[dimensions.labels]]\nid = 'x'", "two labels or more"),
        ("this is [not toml", "not valid TOML"),
    ],
)
def test_bad_codebooks_give_clear_errors(tmp_path: Path, content: str, message: str):
    path = tmp_path / "cb.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CodebookError, match=re.escape(message)) as info:
        load_codebook(path)
    assert str(path) in str(info.value)


def test_unknown_dimension_names_the_valid_ones(codebook):
    with pytest.raises(CodebookError, match="aspect, level"):
        codebook.dimension("sector")


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_codebook_command_formats(fmt):
    result = runner.invoke(app, ["codebook", "--format", fmt])
    assert result.exit_code == 0, result.output
    assert "co_strategy" in result.output
    if fmt == "json":
        data = json.loads(result.output)
        assert [d["id"] for d in data["dimensions"]][-1] == "relevance"


def test_codebook_command_with_extra_dimension(fixtures):
    path = fixtures / "annotations" / "extra_dimension_codebook.toml"
    result = runner.invoke(app, ["codebook", "--codebook", str(path), "--format", "markdown"])
    assert result.exit_code == 0
    assert "`sector`" in result.output and "`ritual`" in result.output


def test_codebook_command_missing_file_fails_cleanly(tmp_path):
    result = runner.invoke(app, ["codebook", "--codebook", str(tmp_path / "nope.toml")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
