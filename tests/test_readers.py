"""Readers: format sniffing, every supported format, and every kind of bad input."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from document_factory import plan_pdf, strategy_docx
from samverdi_nlp.errors import ReaderError
from samverdi_nlp.readers import ReaderWarning, extracted_text, input_files, open_source, sniff_format
from samverdi_nlp.readers.pdf import furniture_key, is_page_number
from samverdi_nlp.readers.references import normalise_doi
from samverdi_nlp.segments import iter_segments

HERE = Path(__file__).parent / "fixtures" / "readers"


def read(path: Path, **kwargs) -> tuple[list, list[ReaderWarning]]:
    """All segments of one file and the warnings it raised."""
    found: list[ReaderWarning] = []
    segments = list(iter_segments([path], on_warning=found.append, **kwargs))
    return segments, found


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("encrypted.pdf", "pdf"),
        ("image_only.pdf", "pdf"),
        ("truncated.docx", "docx"),
        ("page_with_nav.html", "html"),
        ("markdown_headings.md", "markdown"),
        ("utf16_bom.txt", "text"),
        ("ris_missing_abstract.ris", "ris"),
        ("zotero_accents.bib", "bibtex"),
        ("wos_savedrecs.txt", "wos"),
        ("wos_plaintext.txt", "wos"),
        ("scopus_export.csv", "table"),
        ("annotation_table_two_coders.csv", "table"),
    ],
)
def test_sniff_format_names_the_format(name: str, expected: str) -> None:
    assert sniff_format(HERE / name) == expected


def test_content_wins_over_suffix(tmp_path: Path) -> None:
    # A PDF someone saved as .txt and a RIS export saved as .txt are read as what they are.
    pdf_as_txt = tmp_path / "plan.txt"
    plan_pdf(tmp_path / "plan.pdf")
    shutil.copy(tmp_path / "plan.pdf", pdf_as_txt)
    ris_as_txt = tmp_path / "export.txt"
    shutil.copy(HERE / "duplicate_references.ris", ris_as_txt)
    assert sniff_format(pdf_as_txt) == "pdf"
    assert sniff_format(ris_as_txt) == "ris"
    assert read(pdf_as_txt)[0][0].format == "pdf"


def test_input_files_expands_folders_and_skips_unsupported(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.ris").write_text("TY  - JOUR\nTI  - Tittel\nER  - \n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Tekst.", encoding="utf-8")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG")
    (tmp_path / "~$lock.docx").write_bytes(b"x")
    assert [p.name for p in input_files([tmp_path])] == ["a.txt", "b.ris"]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("encrypted.pdf", ["encrypted", "needs a password", "--password"]),
        ("image_only.pdf", ["no text layer", "ocrmypdf"]),
        ("truncated.pdf", ["corrupt or truncated", "format pdf"]),
        ("truncated.docx", ["corrupt or truncated", "format docx", "save it again"]),
        ("zero_bytes.txt", ["empty (0 bytes"]),
        ("binary_as.txt", ["is not text", "binary", "real extension"]),
        ("cp1252_aeoeaa.txt", ["not UTF-8", "cp1252", "--encoding cp1252"]),
        ("old_word.doc", ["old binary Word", "save it as .docx"]),
    ],
)
def test_bad_input_gets_one_clear_message(name: str, says: list[str]) -> None:
    path = HERE / name
    with pytest.raises(ReaderError) as caught:
        list(iter_segments([path]))
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "\n" not in message
    for fragment in says:
        assert fragment in message


def test_encrypted_pdf_opens_with_its_password() -> None:
    segments, _ = read(HERE / "encrypted.pdf", password="fjellvik")
    assert "nærmiljøet" in segments[0].text
    with pytest.raises(ReaderError, match="password given with --password does not open"):
        list(iter_segments([HERE / "encrypted.pdf"], password="feil"))


def test_cp1252_text_reads_with_its_encoding() -> None:
    segments, _ = read(HERE / "cp1252_aeoeaa.txt", encoding="cp1252")
    assert [s.text for s in segments][0] == "Kommunen vil styrke samarbeidet med frivillige lag på Ørland."
    assert "Ålesund" in segments[1].text


def test_utf16_text_with_bom_keeps_aeoeaa() -> None:
    segments, _ = read(HERE / "utf16_bom.txt")
    assert "Ørland" in segments[0].text and "næringsliv får være" in segments[1].text


def test_missing_file_and_folder_are_named(tmp_path: Path) -> None:
    with pytest.raises(ReaderError, match="file not found"):
        open_source(tmp_path / "nope.pdf")
    with pytest.raises(ReaderError, match="is a folder"):
        open_source(tmp_path)


def test_whitespace_only_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text("   \n\n  \n", encoding="utf-8")
    with pytest.raises(ReaderError, match="has no text"):
        list(iter_segments([path]))


def test_pdf_without_pdf_header_is_named(tmp_path: Path) -> None:
    path = tmp_path / "download.pdf"
    path.write_text("<html>Access denied</html>", encoding="utf-8")
    with pytest.raises(ReaderError, match="not a PDF"):
        list(iter_segments([path]))


def test_zip_that_is_not_a_document_is_refused(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "plan.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hei")
    with pytest.raises(ReaderError, match="not a .docx"):
        list(iter_segments([path]))


def test_scanned_pages_inside_a_text_pdf_are_warned_about(tmp_path: Path) -> None:
    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter

    text = plan_pdf(tmp_path / "text.pdf")
    writer = PdfWriter()
    for page in PdfReader(str(text)).pages:
        writer.add_page(page)
    for page in PdfReader(str(HERE / "image_only.pdf")).pages:
        writer.add_page(page)
    mixed = tmp_path / "mixed.pdf"
    with open(mixed, "wb") as handle:
        writer.write(handle)
    del FPDF
    segments, found = read(mixed)
    assert segments
    assert len(found) == 1 and "page(s) 7" in found[0].message and "ocrmypdf" in found[0].message


# --------------------------------------------------------------------------- references


def test_ris_missing_abstracts_are_kept_and_flagged() -> None:
    segments, found = read(HERE / "ris_missing_abstract.ris")
    assert not found
    assert [("missing_abstract" in s.flags) for s in segments] == [False, True, True]
    first = segments[0]
    assert first.title == "Frivillige som medskapere i kommunal eldreomsorg"
    assert first.text.startswith(first.title + "\n\n" + "Artikkelen undersøker")
    assert "samarbeidet med frivillige i hjemmetjenesten" in first.text  # continuation lines joined
    assert (first.authors, first.year, first.doi, first.journal) == (
        "Lindqvist, Hanne; Strand, Eirik", "2022", "10.9999/tfv.2022.014", "Tidsskrift for velferdsforskning")
    assert first.lang == "nb" and first.source_kind == "abstract"
    assert segments[1].journal == "Nordic Journal of Urban Studies"  # JO when there is no T2
    assert segments[2].text == "Co-creation in Danish municipalities: a review of local experiments"


def test_ris_malformed_records_are_skipped_and_listed_by_number() -> None:
    segments, found = read(HERE / "ris_malformed_record.ris")
    assert [s.title for s in segments] == [
        "Citizen panels in climate adaptation planning",
        "Co-production of welfare services in rural municipalities",
    ]
    assert len(found) == 1
    message = found[0].message
    assert "skipped 3 malformed record(s)" in message
    for fragment in ("record 2 (line 9", "no 'TY  -' before it", "record 4 (line 20", "neither title", "record 5", "no 'ER  -' end line"):
        assert fragment in message


def test_malformed_records_warn_through_python_warnings_by_default() -> None:
    with pytest.warns(ReaderWarning, match="record 2"):
        list(iter_segments([HERE / "ris_malformed_record.ris"]))


def test_duplicate_references_flagged_by_doi_and_normalised_title() -> None:
    segments, _ = read(HERE / "duplicate_references.ris")
    first = segments[0].segment_id
    assert segments[0].flags == ()
    assert segments[1].flags == (f"duplicate_of:{first}",)  # same title, other case and punctuation
    assert segments[2].flags == (f"duplicate_of:{first}",)  # same DOI as a resolver URL in upper case
    assert segments[3].flags == ()


def test_duplicates_are_found_across_files_of_one_run(tmp_path: Path) -> None:
    copy = tmp_path / "again.ris"
    copy.write_text((HERE / "duplicate_references.ris").read_text(encoding="utf-8").split("\n\n")[-1], encoding="utf-8")
    segments = list(iter_segments([HERE / "duplicate_references.ris", copy]))
    assert segments[-1].flags == (f"duplicate_of:{segments[3].segment_id}",)


@pytest.mark.parametrize(
    ("value", "doi"),
    [("10.1234/ABC", "10.1234/abc"), ("https://doi.org/10.1080/x.y", "10.1080/x.y"), ("doi: 10.5555/a-b.", "10.5555/a-b"), ("none", "")],
)
def test_normalise_doi(value: str, doi: str) -> None:
    assert normalise_doi(value) == doi


def test_bibtex_latex_accents_and_strings_become_unicode() -> None:
    segments, found = read(HERE / "zotero_accents.bib")
    assert not found
    first, second = segments
    assert first.segment_id == "bjornstad2022"
    assert first.title == "Samskaping i Tromsø: erfaringer fra tre bydeler"
    assert first.authors == "Bjørnstad, Pål; Müller, Anne; Åsheim, Liv"
    assert first.journal == "Nordisk Politik og Administration"
    assert "prøvde ut samskaping" in first.text
    assert second.authors == "Kjær, Søren" and second.flags == ("missing_abstract",)
    assert second.journal == "Proceedings of the Nordic Public Administration Conference"


def test_bibtex_malformed_entry_is_listed_by_number_and_key() -> None:
    segments, found = read(HERE / "bib_malformed_entry.bib")
    assert [s.segment_id for s in segments] == ["good2021", "after2019"]
    assert len(found) == 1 and "entry 2 (line 8, key broken2020" in found[0].message


@pytest.mark.parametrize("name", ["wos_savedrecs.txt", "wos_plaintext.txt"])
def test_web_of_science_exports(name: str) -> None:
    segments, _ = read(HERE / name)
    assert [s.segment_id for s in segments] == ["WOS:000000000000001", "WOS:000000000000002"]
    first = segments[0]
    assert first.title == "Co-creating youth services in Norwegian municipalities"
    assert first.authors == "Haugen, Kari; Lie, Marit"
    assert (first.year, first.doi, first.format) == ("2022", "10.9999/jspp.2022.5", "wos")
    assert segments[1].flags == ("missing_abstract",)


def test_scopus_csv_keeps_eid_and_treats_placeholder_as_missing_abstract() -> None:
    segments, _ = read(HERE / "scopus_export.csv")
    assert [s.segment_id for s in segments] == ["2-s2.0-000000001", "2-s2.0-000000002"]
    assert segments[0].format == "scopus_csv" and segments[0].journal == "Local Government Studies Test"
    assert segments[1].flags == ("missing_abstract",) and "No abstract" not in segments[1].text


def test_asreview_csv_keeps_record_ids() -> None:
    segments, _ = read(HERE / "asreview_export.csv", unit="sentence")
    assert [s.segment_id for s in segments] == ["17", "23"]  # table rows are never split
    assert segments[0].format == "asreview" and segments[0].source_kind == "abstract"


def test_annotation_table_rows_are_segments_with_their_ids() -> None:
    segments, _ = read(HERE / "annotation_table_two_coders.csv", unit="sentence")
    assert [s.segment_id for s in segments] == ["nb-x-0001", "nb-x-0002"]  # two coders, one segment
    assert segments[1].text == "Ungdomsrådet skal høres i alle saker om fritidstilbud. Det skal få eget budsjett."
    assert [s.lang for s in segments] == ["nb", "nb"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".xlsx"])
def test_tables_with_aliased_columns(tmp_path: Path, suffix: str) -> None:
    import pandas as pd

    frame = pd.DataFrame({"ID": ["a1", "a2"], "Tekst": ["Kommunen samarbeider med lag og foreninger om tiltak.", "Innbyggerne deltok i verksteder om parken."]})
    path = tmp_path / f"table{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_excel(path, index=False)
    segments, _ = read(path)
    assert [(s.segment_id, s.text) for s in segments] == list(zip(frame["ID"], frame["Tekst"]))


def test_table_with_reused_id_for_other_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text("id,text\n1,Første tekst om samskaping.\n1,En annen tekst.\n", encoding="utf-8")
    with pytest.raises(ReaderError, match="row 3: segment_id '1' was used for a different text at row 2"):
        list(iter_segments([path]))


def test_table_without_text_columns_lists_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text("kommune,innbyggere\nFjellvik,4200\n", encoding="utf-8")
    with pytest.raises(ReaderError, match="expected a 'text' column .* columns found: kommune, innbyggere"):
        list(iter_segments([path]))


# --------------------------------------------------------------------------- documents


def test_html_drops_furniture_and_keeps_lists_and_tables() -> None:
    segments, _ = read(HERE / "page_with_nav.html")
    text = "\n".join(s.text for s in segments)
    for furniture in ("Forside", "Personvern", "tracking", "Fjellvik kommune\n"):
        assert furniture not in text
    assert segments[0].text.startswith("Samskaping i Fjellvik\nKommunen inviterer")
    assert "nye møteplasser i sentrum" in segments[0].text  # inline <b> kept in the sentence
    assert segments[1].text == "Slik deltar du\n- Meld deg på et verksted i biblioteket.\n- Send forslag via skjemaet på nettsiden."
    assert segments[2].text == "Tiltak | Frist\nVerksted om parken | 1. mars" and segments[2].flags == ("table",)
    assert segments[1].section == "Slik deltar du"


def test_html_declared_charset_is_used() -> None:
    segments, _ = read(HERE / "cp1252_meta_charset.html")
    assert "Røros" in segments[0].text


def test_docx_headings_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    segments, _ = read(strategy_docx(tmp_path / "strategi.docx"))
    assert [s.section for s in segments] == ["Bakgrunn", "Tiltak", "Tiltak"]
    assert segments[0].text.startswith("Strategi for frivillighet\nBakgrunn\nFrivillige lag")
    assert segments[1].text == "Tiltak\nTiltak i perioden\nFrivillighetskoordinator | 2025\nFelles utstyrsbank | 2026"
    assert segments[1].flags == ("table",) and segments[1].page is None
    assert segments[2].text.startswith("Tiltakene følges opp")


def test_markdown_headings_become_sections() -> None:
    segments, _ = read(HERE / "markdown_headings.md")
    assert [s.section for s in segments] == ["Bakgrunn", "Tiltak"]
    assert "#" not in segments[0].text
    assert "tør å slippe kontrollen." in segments[0].text  # hard-wrapped lines rejoined
    assert segments[1].text.endswith("- Et årlig verksted med innbyggerne\n- Opplæring av mellomledere i fasilitering")


@pytest.mark.parametrize("maker", ["pdf", "docx", "text"])
def test_offsets_point_into_the_extracted_text(tmp_path: Path, maker: str) -> None:
    if maker == "pdf":
        path = plan_pdf(tmp_path / "plan.pdf", hyphenate="samskaping")
    elif maker == "docx":
        path = strategy_docx(tmp_path / "s.docx")
    else:
        path = HERE / "markdown_headings.md"
    extracted = extracted_text(path)
    for segment in iter_segments([path]):
        raw_words = [word for word in extracted[segment.start : segment.end].split() if word.strip("#")]
        assert raw_words[0] == segment.text.split()[0]
        assert raw_words[-1] == segment.text.split()[-1]


def test_page_furniture_helpers() -> None:
    assert furniture_key("Side 3 av 40") == furniture_key("Side 17 av 40")
    assert is_page_number("— 7 —") and not is_page_number("7 tiltak for bedre samarbeid")


def test_warnings_are_not_printed_when_a_handler_is_given(recwarn: pytest.WarningsRecorder) -> None:
    warnings.simplefilter("always")
    list(iter_segments([HERE / "ris_malformed_record.ris"], on_warning=lambda w: None))
    assert not [w for w in recwarn if issubclass(w.category, ReaderWarning)]
