"""Segmentation: provenance, layout repair, no text lost, the stream's error handling, and `samverdi segment`."""

from __future__ import annotations

import collections
import hashlib
import json
import random
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from document_factory import PLAN_PAGES, plan_pdf, strategy_docx, text_pdf
from samverdi_nlp.cli import app
from samverdi_nlp.errors import OutputError, ReaderError
from samverdi_nlp.readers import extracted_text
from samverdi_nlp.segments import (
    MAX_CHARS,
    SEGMENT_COLUMNS,
    Segment,
    guess_source_kind,
    iter_segments,
    join_lines,
    segments_frame,
    write_segments,
)

FIXTURES = Path(__file__).parent / "fixtures" / "readers"
WORD = re.compile(r"\w+")
runner = CliRunner()


def words(text: str) -> list[str]:
    return WORD.findall(text)


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan_pdf(tmp_path_factory.mktemp("plan") / "kommuneplan.pdf", hyphenate="samskaping")


# --------------------------------------------------------------------------- line joining


@pytest.mark.parametrize(
    ("raw", "joined"),
    [
        ("sam-\nskaping", "samskaping"),
        ("helse-\nog omsorg", "helse- og omsorg"),
        ("Nord-\nNorge", "Nord-Norge"),
        ("NAV-\nkontoret", "NAV-kontoret"),
        ("2024-\n2036", "2024- 2036"),
        ("sam\u00ad\nskaping", "samskaping"),
        ("lang   linje\nmed  mellomrom", "lang linje med mellomrom"),
        ("Vi vil:\n- bygge\n- prøve", "Vi vil:\n- bygge\n- prøve"),
        ("co-\nproduction and co-\ncreation", "coproduction and cocreation"),
    ],
)
def test_join_lines(raw: str, joined: str) -> None:
    assert join_lines(raw) == joined


# --------------------------------------------------------------------------- PDF provenance


def test_pdf_segments_carry_provenance(plan: Path) -> None:
    segments = list(iter_segments([plan]))
    doc_id = hashlib.sha256(plan.read_bytes()).hexdigest()[:12]
    assert [s.segment_id for s in segments] == [f"{doc_id}-{n:04d}" for n in range(1, len(segments) + 1)]
    assert {s.doc_id for s in segments} == {doc_id}
    assert [s.page for s in segments] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    assert [s.section for s in segments[::2]] == [page["heading"] for page in PLAN_PAGES]
    assert {s.lang for s in segments} == {"nb"}
    assert {s.source_kind for s in segments} == {"plan"}  # "kommuneplan" in the file name
    assert all(s.source == str(plan) and s.format == "pdf" for s in segments)


def test_pdf_running_headers_footers_and_page_numbers_are_dropped(plan: Path) -> None:
    text = "\n".join(s.text for s in iter_segments([plan]))
    for furniture in ("Kommuneplan for Fjellvik 2024–2036", "Samfunnsdelen – høringsutkast", "Side 1 av", "Side 6 av 6"):
        assert furniture not in text


def test_pdf_hyphenation_is_undone(plan: Path) -> None:
    first = next(iter_segments([plan]))
    assert "Kommuneplanen samskaping beskriver" in first.text
    assert "-" not in first.text.split("\n")[1][:40]


def test_pdf_offsets_and_pages_locate_each_segment(plan: Path) -> None:
    extracted = extracted_text(plan)
    pages = extracted.split("\f")
    for segment in iter_segments([plan]):
        raw = extracted[segment.start : segment.end]
        assert join_lines(raw).replace("\n", " ") == segment.text.replace("\n", " ")
        assert extracted.count("\f", 0, segment.start) + 1 == segment.page
        assert raw in pages[segment.page - 1]


def test_paragraph_across_a_page_break_is_one_segment(tmp_path: Path) -> None:
    path = text_pdf(tmp_path / "rapport.pdf", [
        ["Første avsnitt handler om hvordan kommunen samarbeider med frivillige lag og foreninger i alle bydelene.",
         "Dette avsnittet fortsetter over sideskiftet fordi det handler om hvordan ungdomsrådet og eldrerådet skal"],
        ["involveres tidlig i planarbeidet, før saken går til politisk behandling.", "Et nytt avsnitt begynner her."],
    ], header="Planstrategi 2024")
    segments = list(iter_segments([path]))
    assert [s.text[:20] for s in segments] == ["Første avsnitt handl", "Dette avsnittet fort", "Et nytt avsnitt begy"]
    assert "eldrerådet skal involveres tidlig" in segments[1].text
    assert segments[1].page == 1 and segments[2].page == 2
    assert "Planstrategi" not in " ".join(s.text for s in segments)
    assert segments[0].source_kind == "report"


# --------------------------------------------------------------------------- merging and splitting


def test_long_paragraph_is_split_at_sentence_boundaries(tmp_path: Path) -> None:
    sentences = [f"Tiltak nummer {n} handler om samarbeid med lag og foreninger i bydel {n}, og det følges opp hvert år." for n in range(1, 45)]
    path = tmp_path / "lang.txt"
    path.write_text(" ".join(sentences) + "\n", encoding="utf-8")
    segments = list(iter_segments([path]))
    assert len(segments) > 1
    assert all(len(s.text) <= MAX_CHARS and s.text.endswith("år.") for s in segments)
    assert " ".join(s.text for s in segments) == " ".join(sentences)
    extracted = extracted_text(path)
    assert all(extracted[s.start : s.end] == s.text for s in segments)


def test_short_fragments_join_the_next_paragraph(tmp_path: Path) -> None:
    path = tmp_path / "plan.txt"
    path.write_text("Mål for 2025:\n\nKommunen skal ha faste møteplasser med frivillige i alle bydeler.\n\n"
                    "Et annet avsnitt som står alene fordi det er langt nok til å være et eget segment.\n", encoding="utf-8")
    segments = list(iter_segments([path]))
    assert [s.text for s in segments] == [
        "Mål for 2025:\nKommunen skal ha faste møteplasser med frivillige i alle bydeler.",
        "Et annet avsnitt som står alene fordi det er langt nok til å være et eget segment.",
    ]


def test_sentence_unit_splits_paragraphs_and_references(plan: Path) -> None:
    paragraphs = list(iter_segments([plan]))
    sentences = list(iter_segments([plan], unit="sentence"))
    assert len(sentences) > len(paragraphs)
    assert sentences[0].segment_id == paragraphs[0].segment_id + ".1"
    assert all(re.fullmatch(r"[0-9a-f]{12}-\d{4}\.\d+", s.segment_id) for s in sentences)
    assert " ".join(s.text for s in sentences).split() == " ".join(s.text for s in paragraphs).split()
    references = list(iter_segments([FIXTURES / "ris_missing_abstract.ris"], unit="sentence"))
    assert [s.segment_id[-6:] for s in references[:3]] == ["0001.1", "0001.2", "0001.3"]
    assert references[0].text == "Frivillige som medskapere i kommunal eldreomsorg"


@pytest.mark.parametrize(("name", "sample", "kind"), [
    ("planstrategi.pdf", "", "plan"), ("x.docx", "Evalueringsrapport 2023", "report"), ("notat.txt", "Møtereferat", "report"),
    ("side.html", "Velkommen til biblioteket", "other"),
])
def test_guess_source_kind(name: str, sample: str, kind: str) -> None:
    assert guess_source_kind(Path(name), sample) == kind


def test_source_kind_option_overrides_the_guess(plan: Path) -> None:
    assert {s.source_kind for s in iter_segments([plan], source_kind="report")} == {"report"}
    with pytest.raises(ValueError, match="source_kind must be one of"):
        list(iter_segments([plan], source_kind="book"))
    with pytest.raises(ValueError, match="unit must be one of"):
        list(iter_segments([plan], unit="page"))


# --------------------------------------------------------------------------- no text lost

_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzæøå", min_size=2, max_size=12)
_SENTENCES = st.lists(_WORDS, min_size=3, max_size=25).map(lambda ws: " ".join(ws).capitalize() + ".")
_PARAGRAPHS = st.lists(st.lists(_SENTENCES, min_size=1, max_size=6).map(" ".join), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paragraphs=_PARAGRAPHS, wrap=st.integers(min_value=30, max_value=100))
def test_no_text_lost_from_plain_text(tmp_path: Path, paragraphs: list[str], wrap: int) -> None:
    import textwrap

    path = tmp_path / "doc.txt"
    path.write_text("\n\n".join(textwrap.fill(p, wrap, break_on_hyphens=False) for p in paragraphs) + "\n", encoding="utf-8")
    segments = list(iter_segments([path], on_warning=lambda w: None))
    assert collections.Counter(words(" ".join(s.text for s in segments))) == collections.Counter(words(" ".join(paragraphs)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_text_lost_from_a_generated_pdf(tmp_path: Path, seed: int) -> None:
    """Every word of the PDF's extraction except the running header and page numbers is in a segment."""
    rng = random.Random(seed)
    vocabulary = [w for page in PLAN_PAGES for p in page["paragraphs"] for w in words(p.lower())]
    pages = [
        [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(8, 70))).capitalize() + "." for _ in range(rng.randint(1, 5))]
        for _ in range(rng.randint(2, 9))
    ]
    path = text_pdf(tmp_path / "doc.pdf", pages, header="Temaplan for frivillighet")
    segments = list(iter_segments([path]))
    furniture = {"Temaplan", "for", "frivillighet"} | {str(n) for n in range(1, 10)}
    extracted = collections.Counter(w for w in words(extracted_text(path)) if w not in furniture)
    segmented = collections.Counter(w for w in words(" ".join(s.text for s in segments)) if w not in furniture)
    assert segmented == extracted
    body = collections.Counter(w for page in pages for p in page for w in words(p) if w not in furniture)
    assert segmented == body


# --------------------------------------------------------------------------- the stream


def test_failing_files_are_reported_and_the_others_go_through(plan: Path) -> None:
    errors: list[ReaderError] = []
    segments = list(iter_segments([FIXTURES / "encrypted.pdf", plan, FIXTURES / "zero_bytes.txt", FIXTURES / "utf16_bom.txt"],
                                  on_error=errors.append))
    assert [e.path.name for e in errors] == ["encrypted.pdf", "zero_bytes.txt"]
    assert {s.source for s in segments} == {str(plan), str(FIXTURES / "utf16_bom.txt")}


def test_failing_file_raises_without_handler(plan: Path) -> None:
    stream = iter_segments([plan, FIXTURES / "truncated.pdf"])
    assert next(stream).source == str(plan)
    with pytest.raises(ReaderError, match="truncated.pdf"):
        list(stream)


def test_segments_are_deterministic(plan: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(plan.read_bytes())
    first = [(s.segment_id, s.text, s.start, s.end, s.lang) for s in iter_segments([plan])]
    again = [(s.segment_id, s.text, s.start, s.end, s.lang) for s in iter_segments([copy])]
    assert first == again  # the id comes from the content, not the file name


def test_progress_reaches_one_for_every_file(plan: Path) -> None:
    seen: dict[str, float] = {}
    list(iter_segments([plan, FIXTURES / "scopus_export.csv"], on_progress=lambda path, done: seen.__setitem__(path.name, done)))
    assert seen == {"kommuneplan.pdf": 1.0, "scopus_export.csv": 1.0}


def test_segments_frame_has_one_column_per_field(plan: Path) -> None:
    frame = segments_frame(iter_segments([plan, FIXTURES / "ris_missing_abstract.ris"]))
    assert tuple(frame.columns) == SEGMENT_COLUMNS
    assert frame["page"].iloc[0] == 1 and frame["page"].iloc[-1] is None
    assert frame["flags"].iloc[-1] == ("missing_abstract",)
    assert segments_frame([]).empty


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".xlsx"])
def test_write_segments_round_trip(tmp_path: Path, suffix: str) -> None:
    segments = list(iter_segments([FIXTURES / "ris_missing_abstract.ris", FIXTURES / "page_with_nav.html"]))
    target = tmp_path / f"segments{suffix}"
    assert write_segments(segments, target) == len(segments)
    if suffix == ".jsonl":
        back = pd.DataFrame([json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()])
        assert back["flags"].iloc[1] == ["missing_abstract"]
    else:
        back = pd.read_csv(target, keep_default_na=False) if suffix == ".csv" else pd.read_excel(target, keep_default_na=False)
        assert back["flags"].iloc[1] == "missing_abstract"
    assert list(back.columns) == list(SEGMENT_COLUMNS)
    assert list(back["text"]) == [s.text for s in segments]
    assert list(back["segment_id"].astype(str)) == [s.segment_id for s in segments]


def test_write_segments_refuses_to_overwrite_and_writes_nothing_for_no_segments(tmp_path: Path) -> None:
    target = tmp_path / "coded.csv"
    target.write_text("segment_id,text,aspect\nx,y,culture\n", encoding="utf-8")
    with pytest.raises(OutputError, match="already exists"):
        write_segments([Segment("a-0001", "a", "f.txt", "Tekst.", "nb", "other")], target)
    assert "culture" in target.read_text(encoding="utf-8")
    empty = tmp_path / "empty.csv"
    assert write_segments([], empty) == 0 and not empty.exists()


# --------------------------------------------------------------------------- the CLI


def test_cli_segment_writes_and_summarises(plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "segments.csv"
    result = runner.invoke(app, ["segment", str(plan), str(FIXTURES / "duplicate_references.ris"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 16 segment(s) from 2 file(s)" in result.stderr
    frame = pd.read_csv(out, keep_default_na=False)
    assert len(frame) == 16 and frame["flags"].str.startswith("duplicate_of:").sum() == 2


def test_cli_segment_reports_failing_files_and_continues(plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "segments.jsonl"
    inputs = [FIXTURES / "encrypted.pdf", plan, FIXTURES / "image_only.pdf", FIXTURES / "ris_malformed_record.ris"]
    result = runner.invoke(app, ["segment", *map(str, inputs), "-o", str(out)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert f"error: {FIXTURES / 'encrypted.pdf'}: is encrypted and needs a password; pass it with --password" in lines
    assert any(line.startswith(f"error: {FIXTURES / 'image_only.pdf'}: has no text layer") and "ocrmypdf" in line for line in lines)
    assert any(line.startswith("warning: ") and "record 2" in line for line in lines)
    assert "2 of 4 file(s) failed" in result.stderr
    assert "Traceback" not in result.output
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {row["format"] for row in written} == {"pdf", "ris"}


def test_cli_segment_password_and_sentence_unit(tmp_path: Path) -> None:
    out = tmp_path / "s.xlsx"
    result = runner.invoke(app, ["segment", str(FIXTURES / "encrypted.pdf"), "--password", "fjellvik", "--unit", "sentence", "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    frame = pd.read_excel(out)
    assert frame["segment_id"].iloc[0].endswith("-0001.1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--unit", "page"], "Invalid value for '--unit'"),
        (["--source-kind", "book"], "Invalid value for '--source-kind'"),
    ],
)
def test_cli_segment_usage_errors_exit_2(plan: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["segment", str(plan), "-o", str(tmp_path / "x.csv"), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_cli_segment_refuses_bad_output(plan: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["segment", str(plan), "-o", str(tmp_path / "x.docx")])
    assert result.exit_code == 2 and "choose an output ending in .csv, .jsonl, .xlsx" in result.stderr
    existing = tmp_path / "coded.csv"
    existing.write_text("segment_id,text,aspect\n", encoding="utf-8")
    result = runner.invoke(app, ["segment", str(plan), "-o", str(existing)])
    assert result.exit_code == 2 and "already exists" in result.stderr and "--force" in result.stderr
    assert existing.read_text(encoding="utf-8") == "segment_id,text,aspect\n"
    result = runner.invoke(app, ["segment", str(plan), "-o", str(existing), "--force"])
    assert result.exit_code == 0 and "Fjellvik" in existing.read_text(encoding="utf-8")


def test_cli_segment_with_nothing_readable_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    result = runner.invoke(app, ["segment", str(FIXTURES / "zero_bytes.txt"), "-o", str(out)])
    assert result.exit_code == 1
    assert "nothing written" in result.stderr and not out.exists()


def test_cli_segment_shows_progress_for_large_inputs(plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import samverdi_nlp.cli as cli

    monkeypatch.setattr(cli, "LARGE_INPUT_BYTES", 1)
    result = runner.invoke(app, ["segment", str(plan), "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 0
    assert "segmenting" in result.stderr


def test_cli_segment_reads_folders(tmp_path: Path) -> None:
    folder = tmp_path / "inn"
    folder.mkdir()
    strategy_docx(folder / "strategi.docx")
    (folder / "notater.md").write_text("# Notat\n\nKommunen vil prøve ut innbyggerpanel i to bydeler neste år.\n", encoding="utf-8")
    result = runner.invoke(app, ["segment", str(folder), "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 0 and "from 2 file(s)" in result.stderr
