"""Language id accuracy and lemma coverage on the labelled corpus; prints the figures for docs/documents.md.

Usage: python scripts/eval_language.py [--corpus data/annotations/corpus] [--extra tests/fixtures/language/written_sv_nn.jsonl]

The labelled set is every segment of the corpus (its ``lang`` field, written
by the corpus writers) plus a few Swedish and nynorsk texts written for this
test. Accuracy is reported for lingua alone (high- and low-accuracy mode),
for samverdi's detector on each segment alone, and with the document's
language as fallback (how ``samverdi segment`` runs it).
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

from samverdi_nlp.language import (
    LANGUAGES,
    _iso,
    detect_languages,
    document_language,
    lemma_known,
    lemmas,
    stop_words,
    words,
)


def load(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append({"lang": row["lang"], "text": row["text"], "doc": row.get("doc_id") or f"{path.name}:{len(rows)}"})
    return rows


def confusion(gold: list[str], predicted: list[str]) -> str:
    counts = collections.Counter(zip(gold, predicted))
    header = "gold\\pred " + " ".join(f"{lang:>5}" for lang in LANGUAGES)
    lines = [header]
    for g in LANGUAGES:
        if any(counts[(g, p)] for p in LANGUAGES):
            lines.append(f"{g:>9} " + " ".join(f"{counts[(g, p)]:>5}" for p in LANGUAGES))
    return "\n".join(lines)


def report(name: str, gold: list[str], predicted: list[str], seconds: float) -> None:
    correct = sum(g == p for g, p in zip(gold, predicted))
    pairs = collections.Counter((g, p) for g, p in zip(gold, predicted) if g != p)
    print(f"\n## {name}: accuracy {correct / len(gold):.4f} ({correct}/{len(gold)}), {len(gold) / seconds:,.0f} texts/s")
    print(f"   nb->nn {pairs[('nb', 'nn')]}, nn->nb {pairs[('nn', 'nb')]}, nb<->da {pairs[('nb', 'da')] + pairs[('da', 'nb')]}, "
          f"nn<->da {pairs[('nn', 'da')] + pairs[('da', 'nn')]}, sv errors {sum(v for (g, _), v in pairs.items() if g == 'sv')}")
    print(confusion(gold, predicted))


def evaluate(rows: list[dict], title: str) -> None:
    from lingua import Language, LanguageDetectorBuilder

    gold = [r["lang"] for r in rows]
    texts = [r["text"] for r in rows]
    print(f"\n# {title}: {len(rows)} texts, {dict(collections.Counter(gold))}; under 5 words: {sum(len(words(t)) < 5 for t in texts)}")
    languages = [Language.ENGLISH, Language.BOKMAL, Language.NYNORSK, Language.DANISH, Language.SWEDISH]
    iso = _iso()
    for label, builder in (
        ("lingua alone, high accuracy", LanguageDetectorBuilder.from_languages(*languages)),
        ("lingua alone, low accuracy", LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode()),
    ):
        detector = builder.build()
        detector.detect_languages_in_parallel_of(texts[:20])  # load the models before timing
        start = time.perf_counter()
        predicted = [iso.get(x, "none") if x else "none" for x in detector.detect_languages_in_parallel_of(texts)]
        report(label, gold, predicted, time.perf_counter() - start)

    start = time.perf_counter()
    alone = detect_languages(texts)
    report("samverdi, each segment alone", gold, alone, time.perf_counter() - start)

    by_doc: dict[str, list[int]] = collections.defaultdict(list)
    for i, row in enumerate(rows):
        by_doc[row["doc"]].append(i)
    start = time.perf_counter()
    with_fallback = [""] * len(rows)
    for indices in by_doc.values():
        doc_lang = document_language(texts[i] for i in indices)
        for i, lang in zip(indices, detect_languages([texts[i] for i in indices], fallback=doc_lang)):
            with_fallback[i] = lang
    report(f"samverdi, document language as fallback ({len(by_doc)} documents)", gold, with_fallback, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=Path("data/annotations/corpus"))
    parser.add_argument("--extra", type=Path, default=Path("tests/fixtures/language/written_sv_nn.jsonl"))
    parser.add_argument("--heldout", type=Path, default=Path("data/annotations/devtest"),
                        help="Labelled texts not looked at while writing the bokmål/nynorsk marker lists.")
    args = parser.parse_args()
    rows = load(sorted(args.corpus.glob("*.jsonl")) + ([args.extra] if args.extra.exists() else []))
    evaluate(rows, "labelled set: corpus + written Swedish/nynorsk texts")
    heldout = sorted(args.heldout.glob("*.jsonl")) if args.heldout.exists() else []
    if heldout:
        evaluate(load(heldout), f"held-out set: {args.heldout}")
    gold = [r["lang"] for r in rows]
    texts = [r["text"] for r in rows]

    print("\n# lemma coverage: share of alphabetic tokens whose form the lemmatizer knows")
    from spacy.lookups import load_lookups

    for lang in LANGUAGES:
        sample = [t for t, g in zip(texts, gold) if g == lang]
        if not sample:
            continue
        tokens = [w for t in sample for w in words(t)]
        content = [w for w in tokens if w not in stop_words(lang)]
        known = sum(lemma_known(w, lang) for w in tokens) / len(tokens)
        known_content = sum(lemma_known(w, lang) for w in content) / len(content)
        stock = ""
        try:
            table = load_lookups("nb" if lang == "nn" else lang, ["lemma_lookup"]).get_table("lemma_lookup")
            stock_lemmas = set(table.values())
            stock_share = sum(w in table or w in stock_lemmas for w in content) / len(content)
            stock = f"; spaCy's stock lookup table: {stock_share:.1%} of content words"
        except (ValueError, KeyError):
            pass
        print(f"  {lang}: {len(tokens):,} tokens, known {known:.1%} (content words {known_content:.1%}){stock}")

    print("\n# lemmas() speed")
    for lang in LANGUAGES:
        sample = [t for t, g in zip(texts, gold) if g == lang] or texts
        lemmas(sample[0], lang)  # load tables
        repeated = (sample * (2000 // len(sample) + 1))[:2000]
        start = time.perf_counter()
        for text in repeated:
            lemmas(text, lang)
        seconds = time.perf_counter() - start
        chars = sum(map(len, repeated)) / len(repeated)
        print(f"  {lang}: {len(repeated) / seconds:,.0f} segments/s (mean {chars:.0f} characters) on one core")


if __name__ == "__main__":
    main()
