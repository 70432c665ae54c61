"""Annotation tables: every format, every problem `validate` must report, and lossless round trips."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from samverdi_nlp.annotations import read_annotations, text_segment_id, validate, write_annotations
from samverdi_nlp.cli import app
from samverdi_nlp.codebook import load_codebook
from samverdi_nlp.errors import AnnotationError, OutputError

runner = CliRunner()
ANN = Path(__file__).parent / "fixtures" / "annotations"


def test_semicolon_excel_export_with_bom(codebook):
    frame = read_annotations(ANN / "semicolon_bom_excel.csv", codebook)
    assert list(frame["segment_id"]) == ["s1", "s2"]
    first = frame.iloc[0]
    assert first["aspect"] == ("structure",) and first["relevance"] == "include"
    assert "; alle sektorer" in first["text"]  # the quoted ';' stays inside the text
    assert frame.iloc[1]["aspect"] == () and frame.iloc[1]["relevance"] == "exclude"


def test_jsonl_lists_strings_and_derived_ids(codebook):
    frame = read_annotations(ANN / "lists_and_missing_ids.jsonl", codebook)
    assert frame.iloc[0]["segment_id"] == text_segment_id(frame.iloc[0]["text"])
    assert frame.iloc[1]["aspect"] == ("structure", "process")
    assert frame.iloc[0]["principle"] == ()


def test_coder_defaults_to_option_then_file_name(codebook, tmp_path):
    path = tmp_path / "kari.csv"
    path.write_text("text,relevance\nA hearing notice.,borderline\n", encoding="utf-8")
    assert read_annotations(path, codebook).iloc[0]["coder"] == "kari"
    assert read_annotations(path, codebook, coder="ola").iloc[0]["coder"] == "ola"


def test_absent_dimension_is_not_coded(codebook, tmp_path):
    path = tmp_path / "screening.csv"
    path.write_text("id,text,relevance\nr1,Some abstract.,exclude\n", encoding="utf-8")
    frame = read_annotations(path, codebook)
    assert frame.iloc[0]["segment_id"] == "r1"
    assert frame.iloc[0]["aspect"] is None


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("unknown_label.csv", "unknown_label.csv:3: aspect: unknown label 'structur'; allowed: culture, structure, process"),
        ("cp1252_aeoeaa.csv", "look like cp1252"),
        ("two_labels_single_label_dimension.csv", ":2: relevance: 2 labels"),
        ("empty_text.csv", ":2: text: empty text"),
        ("duplicate_conflicting_codes.csv", "coded twice by 'ola' with different codes"),
        ("no_text_column.csv", "missing required column 'text'"),
        ("zero_bytes.csv", "file is empty"),
        ("not_a_table.txt", "unsupported file type .txt"),
    ],
)
def test_validate_reports_problem(codebook, fixture, expected):
    _frame, problems = validate([ANN / fixture], codebook)
    assert any(expected in str(p) for p in problems), [str(p) for p in problems]
    result = runner.invoke(app, ["validate", str(ANN / fixture)])
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output


def test_validate_reports_every_problem_at_once(codebook):
    files = [ANN / "unknown_label.csv", ANN / "empty_text.csv", ANN / "zero_bytes.csv"]
    _frame, problems = validate(files, codebook)
    assert {Path(p.path).name for p in problems} == {f.name for f in files}


def test_cp1252_reads_with_explicit_encoding(codebook):
    frame = read_annotations(ANN / "cp1252_aeoeaa.csv", codebook, encoding="cp1252")
    assert "Tromsø – æøå" in frame.iloc[0]["text"]
    result = runner.invoke(app, ["validate", "--encoding", "cp1252", str(ANN / "cp1252_aeoeaa.csv")])
    assert result.exit_code == 0


def test_read_annotations_raises_with_summary(codebook):
    with pytest.raises(AnnotationError, match="1 problem"):
        read_annotations(ANN / "unknown_label.csv", codebook)


def test_extra_dimension_needs_no_code_change(fixtures):
    cb = load_codebook(ANN / "extra_dimension_codebook.toml")
    frame = read_annotations(ANN / "extra_dimension_table.csv", cb)
    assert frame.iloc[0]["aspect"] == ("culture", "ritual")
    assert frame.iloc[1]["sector"] == ("schools",)
    result = runner.invoke(app, ["validate", "--codebook", str(ANN / "extra_dimension_codebook.toml"), str(ANN / "extra_dimension_table.csv")])
    assert result.exit_code == 0, result.output
    # the same table is invalid under the packaged codebook (unknown label 'ritual')
    assert runner.invoke(app, ["validate", str(ANN / "extra_dimension_table.csv")]).exit_code == 1


def test_never_overwrites_without_permission(codebook, tmp_path):
    frame = read_annotations(ANN / "semicolon_bom_excel.csv", codebook)
    out = tmp_path / "coded.csv"
    write_annotations(frame, out, codebook)
    before = out.read_bytes()
    with pytest.raises(OutputError, match="already exists"):
        write_annotations(frame.iloc[:1], out, codebook)
    assert out.read_bytes() == before


def test_shipped_corpus_validates():
    repo = Path(__file__).resolve().parent.parent
    result = runner.invoke(app, ["validate", str(repo / "data" / "annotations")])
    assert result.exit_code == 0, result.output[-2000:]


# --------------------------------------------------------------------------- round trips

CB = load_codebook()
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    lambda t: t.strip() == t and t.strip() != ""
)
_plain = st.text(alphabet="abcdefghijklmnopqrstuvwxyzæøå-_ 0123456789", max_size=12).map(str.strip)


def _row(dim_sets):
    return st.fixed_dictionaries(
        {
            "segment_id": st.text(alphabet="abcdef0123456789-", min_size=1, max_size=10),
            "doc_id": _plain,
            "coder": st.sampled_from(["ola", "kari", "adjudicated"]),
            "lang": st.sampled_from(["", "en", "nb", "nn", "da"]),
            "source_kind": st.sampled_from(["", "abstract", "plan", "report", "other"]),
            "title": _plain,
            "text": _text,
            "note": _plain,
            **dim_sets,
        }
    )


def _dims():
    out = {}
    for dim in CB.dimensions:
        if dim.multi_label:
            out[dim.id] = st.sets(st.sampled_from(dim.label_ids)).map(lambda s, d=dim: tuple(x for x in d.label_ids if x in s))
        else:
            out[dim.id] = st.sampled_from(dim.label_ids)
    return out


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".xlsx"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_row(_dims()), min_size=1, max_size=6, unique_by=lambda r: (r["segment_id"], r["coder"])))
def test_round_trip_is_lossless(tmp_path_factory, suffix, rows):
    frame = pd.DataFrame(rows)
    path = tmp_path_factory.mktemp("rt") / f"table{suffix}"
    write_annotations(frame, path, CB)
    back = read_annotations(path, CB)
    expected = frame.copy()
    expected["text"] = expected["text"].str.strip()
    for column in expected.columns:
        assert list(back[column]) == list(expected[column]), column
