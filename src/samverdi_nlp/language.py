"""Language identification and spaCy text pipelines for en, nb, nn, da and sv. Offline.

Language id uses lingua restricted to the five languages the tool codes. Two
things lingua alone gets wrong on municipal Norwegian are corrected here:

- **Bokmål vs nynorsk.** lingua often calls plain bokmål nynorsk (on our
  labelled set it did so for one bokmål segment in seven, with confidence
  near 1). When lingua's answer is either Norwegian standard, the segment's
  *marker words*, function words and endings that exist in only one of the
  two written standards (``ikke``/``ikkje``, ``fra``/``frå``, ``-lig``/``-leg``
  ...), decide; lingua decides only when the markers tie.
- **Short texts** (fewer than :data:`MIN_WORDS` words: headings, table
  cells, "Vedtatt 12. juni") carry too little signal and take the
  document's language (``fallback``); a longer one moves to another
  Scandinavian language than its document's only when lingua is at least
  :data:`SWITCH_CONFIDENCE` sure.

Text pipelines are blank spaCy pipelines (tokenizer, sentencizer, stop
words) with a lookup lemmatizer whose tables come from
``spacy-lookups-data``: English, Danish and Swedish as shipped; for bokmål
the full Norsk Ordbank form list (``nb_lemma_exc``, 560,000 forms) turned
into a lookup table, since the stock ``nb`` lookup table has about 1,600
forms; nynorsk uses that table plus nynorsk inflection rules and a list of
nynorsk function-word forms (no nynorsk lexicon ships with spaCy).
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

LANGUAGES = ("en", "nb", "nn", "da", "sv")
# Fewer words than this and a segment takes its document's language.
MIN_WORDS = 5
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")

_NB_MARKERS = frozenset(
    "ikke jeg hva hvordan hvorfor hvem hvor hvilke hvilken hvilket fra bare noe noen mye være vært selv sammen mens "
    "disse hos uten hele mer flere kommer gjør sier ble de dem deres en et hverandre siden mulig mulige tjenester "
    "tjenestene innbyggere innbyggerne virksomhet virksomheter bærekraftig egen eget egne helhetlig helhetlige "
    "gjennomføres videre innen følge følger holde holdes legges sendes hver hvert hvis ønsker ønske bygge komme uke".split()
)
_NN_MARKERS = frozenset(
    "ikkje eg kva korleis kvifor kven kvar kvart frå berre noko nokon nokre mykje vere vore sjølv saman medan desse "
    "hjå utan heile meir fleire kjem gjer seier vart dei deira ein eit kvarandre sidan mogleg moglege tenester "
    "tenestene innbyggjarar innbyggjarane verksemd verksemder berekraftig eigen eige eigne heilskapleg heilskaplege "
    "gjennomførast vidare òg dykk difor me innan følgje følgjer halde haldast leggjast kvar viss ønskjer ønskje "
    "byggje kome veke".split()
)
# Adjective endings: bokmål -lig/-lige, nynorsk -leg/-lege (vanlig/vanleg, mulig/mogleg),
# and passive verbs in -ere: bokmål -eres, nynorsk -erast (justeres/justerast).
_NB_ENDING = re.compile(r"...(?:lig(?:e|ere|st|ste)?|eres)$")
_NN_ENDING = re.compile(r"...(?:leg(?:e|are|ast|aste)?|erast)$")


_SCANDINAVIAN = frozenset({"nb", "nn", "da", "sv"})
# lingua must be this sure to move a segment to another Scandinavian language than its document's.
SWITCH_CONFIDENCE = 0.9


def _confidences(text: str) -> dict[str, float]:
    iso = _iso()
    return {iso[v.language]: v.value for v in _detector().compute_language_confidence_values(text) if v.value > 0}


@functools.lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    languages = [Language.ENGLISH, Language.BOKMAL, Language.NYNORSK, Language.DANISH, Language.SWEDISH]
    return LanguageDetectorBuilder.from_languages(*languages).build()


@functools.lru_cache(maxsize=1)
def _iso() -> dict[Any, str]:
    from lingua import Language

    return {Language.ENGLISH: "en", Language.BOKMAL: "nb", Language.NYNORSK: "nn", Language.DANISH: "da", Language.SWEDISH: "sv"}


def words(text: str) -> list[str]:
    """Lower-cased alphabetic words (hyphenated compounds kept whole).

    >>> words("Samskaping i 2024: NAV-kontor og frivillige.")
    ['samskaping', 'i', 'nav-kontor', 'og', 'frivillige']
    """
    return [w.lower() for w in _WORD.findall(text)]


def norwegian_standard(tokens: Sequence[str]) -> str | None:
    """``"nb"`` or ``"nn"`` by marker words and endings, ``None`` when they tie.

    >>> norwegian_standard(words("Kommunen vil ikke gjøre dette uten innbyggerne."))
    'nb'
    >>> norwegian_standard(words("Kommunen vil ikkje gjere dette utan innbyggjarane."))
    'nn'
    >>> norwegian_standard(words("Planen skal vedtas i kommunestyret.")) is None
    True
    """
    score = 0
    for token in tokens:
        if token in _NB_MARKERS or _NB_ENDING.match(token):
            score -= 1
        elif token in _NN_MARKERS or _NN_ENDING.match(token):
            score += 1
    if score == 0:
        return None
    return "nn" if score > 0 else "nb"


@functools.lru_cache(maxsize=1)
def _english_only_words() -> tuple[frozenset[str], frozenset[str]]:
    """English stop words that are not Scandinavian words, and Scandinavian stop words that are not English."""
    import spacy.util

    english = {w.lower() for w in spacy.util.get_lang_class("en").Defaults.stop_words}
    nordic = {w.lower() for lang in ("nb", "da", "sv") for w in spacy.util.get_lang_class(lang).Defaults.stop_words} | NN_STOP_WORDS
    return frozenset(english - nordic), frozenset(nordic - english)


def _clearly_english(tokens: list[str]) -> bool:
    """Many English-only function words and next to no Scandinavian ones: English without asking lingua.

    English abstracts are most of a reference export, and lingua takes about a
    millisecond a text; on the labelled set this shortcut never disagreed with the gold label.
    """
    english, nordic = _english_only_words()
    hits = sum(token in english for token in tokens)
    if hits < 8:
        return False
    return sum(token in nordic for token in tokens) * 10 <= hits


def _decide(tokens: list[str], confidences: dict[str, float], fallback: str | None) -> str:
    """The answer from lingua's confidences, the Norwegian markers and the document's language."""
    if not confidences:
        return fallback or "en"
    answer = max(confidences, key=lambda lang: confidences[lang])
    if answer in ("nb", "nn"):
        standard = norwegian_standard(tokens)
        if standard:
            return standard
        # Without markers the document's own standard is the better guess than lingua's.
        if fallback in ("nb", "nn"):
            return fallback
    if fallback in _SCANDINAVIAN and answer in _SCANDINAVIAN and answer != fallback and confidences[answer] < SWITCH_CONFIDENCE:
        # A Norwegian paragraph full of Danish-looking names and references is still Norwegian.
        return fallback
    return answer


def _check_fallback(fallback: str | None) -> None:
    if fallback is not None and fallback not in LANGUAGES:
        raise ValueError(f"fallback language {fallback!r} is not one of {', '.join(LANGUAGES)}")


def detect_language(text: str, *, fallback: str | None = None) -> str:
    """The language of ``text``: one of ``en``, ``nb``, ``nn``, ``da``, ``sv``.

    Texts with fewer than :data:`MIN_WORDS` words return ``fallback`` (the
    document's language) when one is given. A text without letters returns
    ``fallback`` or ``"en"``.

    >>> detect_language("Kommunen skal samarbeide tett med frivillige lag og foreninger om nye tjenester.")
    'nb'
    >>> detect_language("Kommunen skal samarbeide tett med frivillige lag og foreininger om nye tenester.")
    'nn'
    >>> detect_language("Kommunen vil samarbejde tæt med frivillige foreninger om nye løsninger i lokalsamfundet.")
    'da'
    >>> detect_language("Vedtatt 2024", fallback="nb")
    'nb'
    """
    _check_fallback(fallback)
    tokens = words(text)
    if fallback and len(tokens) < MIN_WORDS:
        return fallback
    if _clearly_english(tokens):
        return "en"
    return _decide(tokens, _confidences(text) if tokens else {}, fallback)


def detect_languages(texts: Iterable[str], *, fallback: str | None = None) -> list[str]:
    """:func:`detect_language` for many texts at once (lingua runs them in parallel).

    >>> detect_languages(["The municipality works with volunteers on new services.", "Ok"], fallback="nb")
    ['en', 'nb']
    """
    _check_fallback(fallback)
    texts = list(texts)
    tokens = [words(t) for t in texts]
    english = {i for i, tok in enumerate(tokens) if len(tok) >= MIN_WORDS and _clearly_english(tok)}
    todo = [i for i, tok in enumerate(tokens) if tok and not (fallback and len(tok) < MIN_WORDS) and i not in english]
    found = _detector().compute_language_confidence_values_in_parallel([texts[i] for i in todo]) if todo else []
    iso = _iso()
    answers: list[dict[str, float]] = [{} for _ in texts]
    for i, values in zip(todo, found):
        answers[i] = {iso[v.language]: v.value for v in values if v.value > 0}
    result = []
    for i, tok in enumerate(tokens):
        if i in english:
            result.append("en")
        elif fallback and len(tok) < MIN_WORDS:
            result.append(fallback)
        else:
            result.append(_decide(tok, answers[i], fallback))
    return result


def document_language(texts: Iterable[str], *, max_chars: int = 5000) -> str:
    """The language of a document from its first ``max_chars`` characters of text.

    >>> document_language(["Plan for samskaping", "Kommunen skal samarbeide med innbyggerne om tjenestene."])
    'nb'
    """
    sample: list[str] = []
    size = 0
    for text in texts:
        sample.append(text)
        size += len(text)
        if size >= max_chars:
            break
    return detect_language("\n".join(sample))


# --------------------------------------------------------------------------- lemma tables

# Nynorsk function words and common irregular forms -> nynorsk lemma.
_NN_FORMS = {
    "er": "vere", "var": "vere", "vore": "vere", "vere": "vere", "vert": "verte", "vart": "verte", "vorte": "verte",
    "blir": "bli", "blei": "bli", "blitt": "bli", "har": "ha", "hadde": "ha", "hatt": "ha", "kan": "kunne",
    "kunne": "kunne", "skal": "skulle", "skulle": "skulle", "vil": "ville", "ville": "ville", "må": "måtte",
    "måtte": "måtte", "bør": "burde", "burde": "burde", "gjer": "gjere", "gjorde": "gjere", "gjort": "gjere",
    "gjere": "gjere", "seier": "seie", "sa": "seie", "sagt": "seie", "kjem": "kome", "kom": "kome", "kome": "kome",
    "komme": "kome", "går": "gå", "gjekk": "gå", "gått": "gå", "får": "få", "fekk": "få", "fått": "få",
    "ser": "sjå", "såg": "sjå", "sett": "sjå", "sjå": "sjå", "tek": "ta", "tok": "ta", "teke": "ta", "gjev": "gje",
    "gav": "gje", "gjeve": "gje", "ein": "ein", "eit": "ein", "ei": "ein", "dei": "dei", "deira": "dei",
    "desse": "denne", "dette": "denne", "denne": "denne", "eg": "eg", "meg": "eg", "me": "me", "oss": "me",
    "ikkje": "ikkje", "kva": "kva", "korleis": "korleis", "kvifor": "kvifor", "kven": "kven", "kvar": "kvar",
    "frå": "frå", "berre": "berre", "noko": "nokon", "nokon": "nokon", "nokre": "nokon", "mykje": "mykje",
    "meir": "mykje", "mest": "mykje", "fleire": "mange", "flest": "mange", "sjølv": "sjølv", "saman": "saman",
    "medan": "medan", "hjå": "hjå", "utan": "utan", "heile": "heil", "heilt": "heil", "eigen": "eigen",
    "eige": "eigen", "eigne": "eigen", "kvarandre": "kvarandre", "sidan": "sidan", "òg": "òg",
}
# Nynorsk inflection endings, longest first: (ending, replacement). Applied only when the result is a known lemma.
_NN_RULES = (
    ("ingane", "ing"), ("ingar", "ing"), ("inga", "ing"), ("arane", "ar"), ("arar", "ar"), ("aren", "ar"),
    ("ande", "e"), ("aste", ""), ("ane", "e"), ("ane", ""), ("ene", "e"), ("ene", ""), ("ast", "e"), ("ast", ""), ("ar", ""), ("ar", "e"),
    ("er", ""), ("er", "e"), ("en", ""), ("et", ""), ("te", "e"), ("de", "e"), ("a", ""), ("a", "e"), ("e", ""),
    ("leg", "lig"), ("lege", "lig"),
)


def _lookups_table(name: str) -> dict[str, Any]:
    path = resources.files("spacy_lookups_data") / "data" / f"{name}.json.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _lowercase_table(table: dict[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for form, lemma in table.items():
        key = form.lower()
        # a lower-case form's own entry wins over a capitalised one (names, sentence starts)
        if key not in lowered or form == key:
            lowered[key] = lemma.lower()
    return lowered


def _norwegian_table() -> dict[str, str]:
    """Norsk Ordbank (bokmål) forms -> lemma, one lemma per form.

    A form listed under several parts of speech takes, in order: itself when
    it is one of its lemmas (``bor`` stays ``bor``), else the noun, verb,
    adjective and adverb reading.
    """
    exceptions = _lookups_table("nb_lemma_exc")
    candidates: dict[str, list[str]] = {}
    for pos in ("noun", "verb", "adj", "adv"):
        for form, lemmas in exceptions.get(pos, {}).items():
            candidates.setdefault(form.lower(), []).extend(lemma.lower() for lemma in lemmas)
    table = _lowercase_table(_lookups_table("nb_lemma_lookup"))
    for form, lemmas in candidates.items():
        table[form] = form if form in lemmas else lemmas[0]
    return table


@functools.cache
def lemma_table(lang: str) -> dict[str, str]:
    """Lower-cased form -> lemma for ``lang`` (loaded once per process, about a second for the large ones)."""
    _check_language(lang)
    if lang in ("nb", "nn"):
        return _norwegian_table()
    name = {"en": "en_lemma_lookup", "da": "da_lemma_lookup", "sv": "sv_lemma_lookup"}[lang]
    return _lowercase_table(_lookups_table(name))


@functools.cache
def _known_lemmas(lang: str) -> frozenset[str]:
    return frozenset(lemma_table(lang).values())


def lemmatize_word(word: str, lang: str) -> str:
    """The lemma of one word (lower-cased); unknown words are returned lower-cased.

    >>> lemmatize_word("Kommunene", "nb"), lemmatize_word("kommunane", "nn"), lemmatize_word("councils", "en")
    ('kommune', 'kommune', 'council')
    """
    key = word.lower()
    if key in stop_words(lang):  # function words keep their form (the Danish table maps "med" to "mede")
        return _NN_FORMS.get(key, key) if lang == "nn" else key
    if lang == "nn":
        if key in _NN_FORMS:
            return _NN_FORMS[key]
        table = lemma_table("nb")
        if key in table:
            return table[key]
        return _nynorsk_rules(key)
    return lemma_table(lang).get(key, key)


@functools.lru_cache(maxsize=100_000)
def _nynorsk_rules(word: str) -> str:
    known = _known_lemmas("nb")
    table = lemma_table("nb")
    for ending, replacement in _NN_RULES:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            stem = word[: len(word) - len(ending)] + replacement
            if stem in known:
                return stem
            if stem in table:
                return table[stem]
    return word


def lemma_known(word: str, lang: str) -> bool:
    """Whether the lemmatizer knows ``word`` (its coverage): a listed form, a lemma itself, or reached by a rule.

    >>> lemma_known("kommunene", "nb"), lemma_known("xyzzy", "nb")
    (True, False)
    """
    key = word.lower()
    if lang == "nn":
        return key in _NN_FORMS or key in lemma_table("nb") or key in _known_lemmas("nb") or _nynorsk_rules(key) != key
    return key in lemma_table(lang) or key in _known_lemmas(lang)


# --------------------------------------------------------------------------- spaCy pipelines

# spaCy ships no nynorsk stop words: the nynorsk forms of the bokmål list's function words.
NN_STOP_WORDS = frozenset(
    "og i å det som på er til av med for at ein eit ei den dei dette denne desse har vere var vore ikkje eg me vi "
    "du han ho oss dykk seg sin si sitt sine deira hans hennar kva korleis kvifor kven kvar når der her så men "
    "eller om frå ved etter under over mellom mot utan berre òg også kan skal vil må bør blir vert vart blei "
    "har hadde meir mest mykje nokon noko nokre alle alt kvar kvart sjølv slik sidan fordi då no enn som".split()
)


def _check_language(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")


def _lemmatizer_factory(nlp: Any, name: str, lang: str) -> Any:
    def lemmatize(doc: Any) -> Any:
        for token in doc:
            token.lemma_ = lemmatize_word(token.text, lang) if token.is_alpha else token.lower_
        return doc

    return lemmatize


@functools.cache
def get_nlp(lang: str) -> Any:
    """A cached blank spaCy pipeline for ``lang``: tokenizer, sentencizer, stop words, lookup lemmatizer.

    >>> doc = get_nlp("nb")("Kommunene samarbeider med innbyggerne. Dette er nytt.")
    >>> [s.text for s in doc.sents]
    ['Kommunene samarbeider med innbyggerne.', 'Dette er nytt.']
    >>> [t.lemma_ for t in doc][:4]
    ['kommune', 'samarbeide', 'med', 'innbygger']
    """
    import spacy
    from spacy.language import Language

    _check_language(lang)
    factory = "samverdi_lookup_lemmatizer"
    if not Language.has_factory(factory):
        Language.factory(factory, default_config={"lang": "en"})(_lemmatizer_factory)
    nlp = spacy.blank(lang)
    nlp.add_pipe("sentencizer")
    nlp.add_pipe(factory, config={"lang": lang})
    if lang == "nn":
        from spacy.attrs import IS_STOP

        nlp.vocab.lex_attr_getters[IS_STOP] = _is_nynorsk_stop_word  # words not seen yet
        for word in NN_STOP_WORDS:  # words the vocabulary already holds
            for form in (word, word.capitalize(), word.upper()):
                nlp.vocab[form].is_stop = True
    return nlp


def _is_nynorsk_stop_word(string: str) -> bool:
    return string.lower() in NN_STOP_WORDS


def lemmas(text: str, lang: str) -> list[str]:
    """Lower-cased lemmas of the alphabetic tokens of ``text``.

    Uses only the tokenizer and the lookup table (no pipeline components),
    so it is fast enough for feature extraction.

    >>> lemmas("Innbyggerne deltok i 3 verksteder om samskaping.", "nb")
    ['innbygger', 'delta', 'i', 'verksted', 'om', 'samskaping']
    >>> lemmas("Kommunerne samarbejder med borgerne.", "da")
    ['kommune', 'samarbejde', 'med', 'borger']
    """
    tokenizer = get_nlp(lang).tokenizer
    return [lemmatize_word(token.text, lang) for token in tokenizer(text) if token.is_alpha]


def sentence_spans(text: str, lang: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (spaCy's sentencizer after the language's tokenizer).

    >>> sentence_spans("Dette er f.eks. en plan. Den gjelder fra 2025.", "nb")
    [(0, 24), (25, 46)]
    """
    nlp = get_nlp(lang)
    doc = nlp.get_pipe("sentencizer")(nlp.make_doc(text))
    spans = []
    for sent in doc.sents:
        start = sent.start_char
        end = sent.end_char
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


@functools.cache
def stop_words(lang: str) -> frozenset[str]:
    """The stop words of ``lang``'s pipeline (spaCy's lists; nynorsk: :data:`NN_STOP_WORDS`)."""
    import spacy.util

    _check_language(lang)
    if lang == "nn":
        return NN_STOP_WORDS
    return frozenset(w.lower() for w in spacy.util.get_lang_class(lang).Defaults.stop_words)
