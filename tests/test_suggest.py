"""`samverdi suggest`: the JSONL contract, coding sheets that round-trip, Label Studio, HTML, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import samverdi_nlp
from samverdi_nlp.annotations import read_annotations
from samverdi_nlp.cli import app

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "fjordvik_samfunnsdel.md"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_jsonl_contract(small_model_dir, tmp_path, codebook):
    out = tmp_path / "s.jsonl"
    result = run("suggest", EXAMPLE, "--model", small_model_dir, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) >= 8
    for rec in records:
        assert {"segment_id", "doc_id", "text", "lang", "codes", "scores", "evidence", "needs_review"} <= set(rec)
        assert list(rec["codes"]) == list(codebook.dimension_ids)
        for dim in codebook.dimensions:
            assert list(rec["scores"][dim.id]) == list(dim.label_ids)
            assert all(0.0 <= p <= 1.0 for p in rec["scores"][dim.id].values())
            if dim.multi_label:
                assert isinstance(rec["codes"][dim.id], list) and set(rec["codes"][dim.id]) <= set(dim.label_ids)
            else:
                assert rec["codes"][dim.id] in dim.label_ids
            # evidence only for suggested labels, and only words of this segment
            suggested = rec["codes"][dim.id] if dim.multi_label else [rec["codes"][dim.id]]
            assert set(rec["evidence"].get(dim.id, {})) <= set(suggested)
            for words in rec["evidence"].get(dim.id, {}).values():
                assert all(w.lower() in rec["text"].lower() for w in words)
        assert isinstance(rec["needs_review"], bool)
        assert rec["lang"] == "nb"
    assert len({r["segment_id"] for r in records}) == len(records)
    assert any("Samferdsel" in r["section"] for r in records)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_coding_sheet_is_an_annotation_table(small_model_dir, tmp_path, codebook, suffix):
    sheet = tmp_path / f"sheet{suffix}"
    assert run("suggest", EXAMPLE, "--model", small_model_dir, "--out", sheet, "-q").exit_code == 0
    # a coder edits a label column and signs the sheet
    if suffix == ".csv":
        table = pd.read_csv(sheet, dtype=str, keep_default_na=False)
        table.loc[0, "relevance"] = "include"
        table["coder"] = "kari"
        table.to_csv(sheet, index=False)
    frame = read_annotations(sheet, codebook)
    assert len(frame) >= 8 and set(frame["coder"]) == ({"kari"} if suffix == ".csv" else {"sheet"})
    assert run("validate", sheet).exit_code == 0
    other = tmp_path / f"ola{suffix}"
    if suffix == ".csv":
        table.assign(coder="ola").to_csv(other, index=False)
    else:
        other.write_bytes(sheet.read_bytes())
    result = run("agreement", sheet, other, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["relevance"]["n_segments"] == len(frame)


def test_labelstudio_tasks_and_export_round_trip(small_model_dir, tmp_path, codebook):
    out = tmp_path / "tasks.json"
    assert run("suggest", EXAMPLE, "--model", small_model_dir, "--out", out, "-q").exit_code == 0
    tasks = json.loads(out.read_text(encoding="utf-8"))
    config = (tmp_path / "tasks.label_config.xml").read_text(encoding="utf-8")
    assert all(f'name="{d}"' in config for d in codebook.dimension_ids)
    assert tasks[0]["predictions"][0]["result"]
    # what Label Studio exports after a coder accepted the predictions
    export = [{"id": i, "data": t["data"], "annotations": [{"completed_by": {"email": "kari@example.org"},
               "result": t["predictions"][0]["result"]}]} for i, t in enumerate(tasks, 1)]
    exported = tmp_path / "export.json"
    exported.write_text(json.dumps(export), encoding="utf-8")
    frame = read_annotations(exported, codebook)
    assert set(frame["coder"]) == {"kari@example.org"}
    assert list(frame["segment_id"]) == [t["data"]["segment_id"] for t in tasks]
    first = tasks[0]["predictions"][0]["result"]
    rel = next(r["value"]["choices"][0] for r in first if r["from_name"] == "relevance")
    assert frame.iloc[0]["relevance"] == rel


def test_table_input_keeps_ids_and_rows(small_model_dir, tmp_path):
    table = tmp_path / "abstracts.csv"
    table.write_text("id,text\nA1,Municipal leaders and volunteers co-produce elderly care services.\n"
                     "B2,Brand communities co-create value with customers online.\n", encoding="utf-8")
    out = tmp_path / "s.jsonl"
    assert run("suggest", table, "--model", small_model_dir, "--out", out, "-q").exit_code == 0
    ids = [json.loads(line)["segment_id"] for line in out.read_text().splitlines()]
    assert ids == ["A1", "B2"]


def test_html_report_is_self_contained(small_model_dir, tmp_path):
    out = tmp_path / "r.html"
    assert run("suggest", EXAMPLE, "--model", small_model_dir, "--out", out, "-q").exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "needs review" in page.lower()
    assert "http://" not in page and "https://" not in page  # no CDN, opens offline
    assert "fjordvik_samfunnsdel.md" in page and "<mark>" in page


def test_bad_file_is_reported_and_others_go_through(small_model_dir, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a pdf")
    out = tmp_path / "s.jsonl"
    result = run("suggest", broken, EXAMPLE, "--model", small_model_dir, "--out", out, "-q")
    assert result.exit_code == 1
    assert "broken.pdf" in result.output and "Traceback" not in result.output
    assert out.exists()


def test_nothing_to_code_writes_nothing(small_model_dir, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    out = tmp_path / "s.html"
    result = run("suggest", empty, "--model", small_model_dir, "--out", out, "-q")
    assert result.exit_code == 1 and not out.exists()
    assert not list(tmp_path.glob(".*tmp"))


def test_existing_output_is_not_overwritten(small_model_dir, tmp_path):
    out = tmp_path / "s.csv"
    out.write_text("precious coder work\n")
    result = run("suggest", EXAMPLE, "--model", small_model_dir, "--out", out, "-q")
    assert result.exit_code != 0 and "--force" in result.output
    assert out.read_text() == "precious coder work\n"


def test_missing_model_is_a_clear_error(tmp_path):
    result = run("suggest", EXAMPLE, "--model", tmp_path / "nope", "--out", tmp_path / "s.csv", "-q")
    assert result.exit_code == 2 and "model folder not found" in result.output


def test_python_api(small_model_dir):
    frame = samverdi_nlp.suggest(["Bystyret vedtok en ny frivillighetsstrategi sammen med lagene."], model=small_model_dir)
    assert len(frame) == 1 and "relevance" in frame.columns and "relevance_scores" in frame.columns
    assert frame.iloc[0]["lang"] in ("nb", "nn", "da")


def test_jobs_give_the_same_output(small_model_dir, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert run("suggest", EXAMPLE, "--model", small_model_dir, "--out", a, "-q").exit_code == 0
    assert run("suggest", EXAMPLE, "--model", small_model_dir, "--out", b, "-q", "--jobs", "2").exit_code == 0
    assert a.read_text() == b.read_text()


def _chromium() -> str | None:
    import os
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not found and os.environ.get("CI"):
        pytest.fail("CI must render the HTML report: .ci/run installs Debian's chromium")
    return found


def test_html_report_renders_in_a_browser(small_model_dir, tmp_path):
    """Render the report headless, as a person would open it, and check the picture is not blank."""
    import subprocess

    from PIL import Image

    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    page, shot = tmp_path / "r.html", tmp_path / "r.png"
    assert run("suggest", EXAMPLE, "--model", small_model_dir, "--out", page, "-q").exit_code == 0
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1400", f"--screenshot={shot}",
                    page.as_uri()], check=True, capture_output=True, timeout=120)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 1400)
    colours = image.getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 200  # header, chips, bars and highlighted text, not a blank or error page


def test_suggest_with_a_codebook_that_has_an_extra_dimension(fixtures, tmp_path):
    """A team's own scheme (an extra dimension and labels) trains and suggests with no code change."""
    from samverdi_nlp.codebook import load_codebook
    from samverdi_nlp.model import CodingModel, ModelConfig

    cb_path = fixtures / "annotations" / "extra_dimension_codebook.toml"
    cb = load_codebook(cb_path)
    base = read_annotations(fixtures / "annotations" / "extra_dimension_table.csv", cb)
    frame = pd.concat([base.assign(segment_id=base["segment_id"] + f"-{i}", text=base["text"] + f" ({i})") for i in range(6)],
                      ignore_index=True)
    CodingModel(ModelConfig(calibration_folds=2, backend_params={"min_df": 1}), cb).fit(frame).save(tmp_path / "m")
    table = tmp_path / "t.csv"
    table.write_text("id,text\nz1,The school opened a new health room.\n", encoding="utf-8")
    out = tmp_path / "s.jsonl"
    result = run("suggest", table, "--model", tmp_path / "m", "--codebook", cb_path, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    rec = json.loads(out.read_text())
    assert list(rec["codes"]) == ["aspect", "sector", "relevance"]
    assert set(rec["scores"]["sector"]) == {"health", "schools", "climate"}
    wrong = run("suggest", table, "--model", tmp_path / "m", "--out", tmp_path / "x.jsonl", "-q", "--codebook",
                fixtures / "annotations" / "semicolon_bom_excel.csv")
    assert wrong.exit_code != 0


def test_agreement_with_a_codebook_that_has_an_extra_dimension(fixtures, tmp_path):
    cb_path = fixtures / "annotations" / "extra_dimension_codebook.toml"
    source = (fixtures / "annotations" / "extra_dimension_table.csv").read_text(encoding="utf-8")
    (tmp_path / "ola.csv").write_text(source.replace(",ola,", ",,"), encoding="utf-8")
    (tmp_path / "kari.csv").write_text(source.replace(",ola,", ",,").replace("schools,include", "schools;health,include"), encoding="utf-8")
    result = run("agreement", tmp_path / "ola.csv", tmp_path / "kari.csv", "--codebook", cb_path, "--format", "json", "--n-boot", "0")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"aspect", "sector", "relevance"}
    assert report["sector"]["labels"]["health"]["percent_agreement"] < 1.0
