"""Language id for en/nb/nn/da/sv, the bokmål/nynorsk correction, fallbacks, and the spaCy pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from samverdi_nlp.language import (
    LANGUAGES,
    MIN_WORDS,
    detect_language,
    detect_languages,
    document_language,
    get_nlp,
    lemma_known,
    lemmas,
    norwegian_standard,
    sentence_spans,
    stop_words,
    words,
)

WRITTEN = Path(__file__).parent / "fixtures" / "language" / "written_sv_nn.jsonl"

# Texts written for these tests, a pair per language.
SAMPLES = [
    ("en", "The municipality invited residents and local associations to redesign the library as a meeting place."),
    ("en", "Drawing on interviews with middle managers, the article shows how mandates shape co-creation."),
    ("nb", "Kommunen skal samarbeide tett med frivillige lag og foreninger om nye tilbud i nærmiljøet."),
    ("nb", "Ungdomsrådet ble ikke hørt før vedtaket, og det har svekket tilliten til kommunen."),
    ("nn", "Kommunen skal samarbeide tett med frivillige lag om nye tilbod i nærmiljøet, og ungdomane skal vere med."),
    ("nn", "Ungdomsrådet vart ikkje høyrt før vedtaket, og det har svekt tilliten til kommunen."),
    ("da", "Kommunen vil samarbejde tæt med frivillige foreninger om nye tilbud i lokalsamfundet."),
    ("da", "Borgerne blev inddraget tidligt, og forvaltningen har siden ændret sin måde at arbejde på."),
    ("sv", "Kommunen vill samarbeta nära med frivilliga föreningar om nya mötesplatser i närområdet."),
    ("sv", "Medborgarna bjöds in tidigt, och förvaltningen har sedan dess ändrat sitt arbetssätt."),
]


@pytest.mark.parametrize(("lang", "text"), SAMPLES)
def test_detect_language(lang: str, text: str) -> None:
    assert detect_language(text) == lang


def test_batch_detection_agrees_with_single_detection() -> None:
    texts = [text for _, text in SAMPLES]
    assert detect_languages(texts) == [detect_language(text) for text in texts]
    assert detect_languages(texts, fallback="nb") == [detect_language(text, fallback="nb") for text in texts]
    assert detect_languages([]) == []


@pytest.mark.parametrize("text", ["Vedtatt 12. juni 2024", "Tabell 3", "Mål", "", "2024–2036"])
def test_short_texts_take_the_document_language(text: str) -> None:
    assert len(words(text)) < MIN_WORDS
    assert detect_language(text, fallback="nn") == "nn"
    assert detect_languages([text], fallback="da") == ["da"]


def test_text_without_letters_and_no_fallback_is_english() -> None:
    assert detect_language("12 345 – 2024") == "en"


def test_unknown_fallback_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of en, nb, nn, da, sv"):
        detect_language("tekst", fallback="no")


def test_bokmaal_that_lingua_calls_nynorsk_is_corrected() -> None:
    # lingua on its own calls this bokmål notice nynorsk; the marker words "fra", "innen" settle it.
    text = "Innspill sendes innen 15. mars via skjemaet på kommunens nettside eller i posten fra kommunen."
    assert detect_language(text) == "nb"


@pytest.mark.parametrize(
    ("text", "standard"),
    [
        ("Vi vil ikke gjøre det uten dem.", "nb"),
        ("Me vil ikkje gjere det utan dei.", "nn"),
        ("Tiltaket justeres hvert år.", "nb"),
        ("Tiltaket vert justerast kvart år.", "nn"),
        ("Planen skal vedtas i kommunestyret.", None),
    ],
)
def test_norwegian_standard_markers(text: str, standard: str | None) -> None:
    assert norwegian_standard(words(text)) == standard


def test_without_markers_the_document_standard_wins() -> None:
    text = "Send forslag via skjemaet på nettsiden til kommunen."
    assert norwegian_standard(words(text)) is None
    assert detect_language(text, fallback="nb") == "nb"
    assert detect_language(text, fallback="nn") == "nn"


def test_document_language_uses_the_first_texts() -> None:
    assert document_language(["Plan", "Kommunen vil ikkje gjere dette utan innbyggjarane."]) == "nn"


def test_written_swedish_and_nynorsk_test_texts_are_recognised() -> None:
    rows = [json.loads(line) for line in WRITTEN.read_text(encoding="utf-8").splitlines() if line.strip()]
    long_rows = [r for r in rows if len(words(r["text"])) >= MIN_WORDS]
    assert {r["lang"] for r in long_rows} == {"sv", "nn"}
    assert detect_languages([r["text"] for r in long_rows]) == [r["lang"] for r in long_rows]


# --------------------------------------------------------------------------- pipelines


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("nb", "Kommunene samarbeider med innbyggerne i bydelene.", ["kommune", "samarbeide", "med", "innbygger", "i", "bydel"]),
        ("nn", "Kommunane samarbeider med innbyggjarane.", ["kommune", "samarbeide", "med", "innbyggjarane"]),
        ("da", "Kommunerne inddrager borgerne i planerne.", ["kommune", "inddrage", "borger", "i", "plan"]),
        ("sv", "Kommunerna samarbetar med föreningarna.", ["kommun", "samarbeta", "med", "förening"]),
        ("en", "The councils involved residents in 3 workshops.", ["the", "council", "involve", "resident", "in", "workshop"]),
    ],
)
def test_lemmas(lang: str, text: str, expected: list[str]) -> None:
    assert lemmas(text, lang) == expected


def test_lemmas_are_lower_case_and_alphabetic_only() -> None:
    result = lemmas("NAV-kontoret åpnet 2. januar (2025), sa Ordføreren!", "nb")
    assert all(lemma == lemma.lower() and lemma.replace("-", "").isalpha() for lemma in result)
    assert "ordfører" in result and "2025" not in result


def test_norwegian_lexicon_covers_plan_language() -> None:
    text = ("Kommunedirektøren skal legge fram en plan for hvordan tjenestene kan utvikles sammen med brukerne, "
            "frivillige organisasjoner og næringslivet i kommunen.")
    tokens = words(text)
    assert sum(lemma_known(token, "nb") for token in tokens) / len(tokens) >= 0.95


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pipelines_split_sentences_and_know_stop_words(lang: str) -> None:
    nlp = get_nlp(lang)
    assert nlp is get_nlp(lang)  # cached
    assert nlp.pipe_names == ["sentencizer", "samverdi_lookup_lemmatizer"]
    doc = nlp("Dette er en test. Og en til.")
    assert len(list(doc.sents)) == 2
    assert len(stop_words(lang)) > 50
    assert {"og", "i"} <= stop_words(lang) if lang in ("nb", "nn", "da") else True


def test_nynorsk_stop_words_are_set_on_the_vocabulary() -> None:
    doc = get_nlp("nn")("Dei vil ikkje vere med.")
    assert [token.is_stop for token in doc][:3] == [True, True, True]


def test_sentence_spans_respect_abbreviations() -> None:
    text = "Tiltakene gjelder bl.a. skoler og barnehager. De følges opp i 2025."
    assert [text[s:e] for s, e in sentence_spans(text, "nb")] == [
        "Tiltakene gjelder bl.a. skoler og barnehager.", "De følges opp i 2025."]


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language 'de' is not one of"):
        get_nlp("de")
