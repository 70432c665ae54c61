"""Corpus report: counts, balance checks, diversity and template detection.

Usage:
    python scripts/corpus_report.py [--out data/annotations/CORPUS_REPORT.md] [--ngram 10]

Reads the author-coded corpus (data/annotations/corpus), the dev-test set
(data/annotations/devtest) and the training codes that count (adjudicated
where double-coded) and prints, as Markdown:

- segments per language and register; per label × language × register;
- the minimums of the corpus issue, each marked ok / SHORT;
- every 10-word sequence shared by two segments (there should be none);
- type/token ratio per language (on equal-size samples, so comparable) and the
  most over-used 3-word phrases per label (log-odds against the rest of the
  corpus), so templates show up.
"""

from __future__ import annotations

import argparse
import collections
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from samverdi_nlp.annotations import read_annotations
from samverdi_nlp.codebook import load_codebook
from samverdi_nlp.model import select_training_rows

REPO = Path(__file__).resolve().parent.parent
WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def markdown_table(table: pd.DataFrame) -> str:
    cols = [str(c) for c in table.columns]
    lines = ["| | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    lines += [f"| {idx} | " + " | ".join(str(v) for v in row) + " |" for idx, row in zip(table.index, table.to_numpy())]
    return "\n".join(lines)


def counts_table(frame: pd.DataFrame, codebook, by: list[str]) -> str:
    lines = []
    keys = sorted(frame[by[0]].unique()) if len(by) == 1 else sorted(frame.groupby(by).groups)
    header = "| dimension | label | " + " | ".join("/".join(k) if isinstance(k, tuple) else str(k) for k in keys) + " | total |"
    lines += [header, "|---|---|" + "---|" * (len(keys) + 1)]
    groups = {k: g for k, g in frame.groupby(by[0] if len(by) == 1 else by)}
    for dim in codebook.dimensions:
        for lab in dim.label_ids:
            def has(cell, lab=lab, multi=dim.multi_label):
                return cell is not None and (lab in cell if multi else cell == lab)
            row = [int(groups[k][dim.id].map(has).sum()) for k in keys]
            lines.append(f"| {dim.id} | {lab} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    return "\n".join(lines)


def minimums(frame: pd.DataFrame, codebook) -> list[tuple[str, int, int]]:
    """(check, found, required) for the corpus issue's minimums."""
    lang = frame["lang"]
    norwegian = lang.isin(["nb", "nn"])
    checks = [("segments", len(frame), 1500), ("English", int((lang == "en").sum()), 600),
              ("Norwegian (nb+nn)", int(norwegian.sum()), 600), ("nynorsk", int((lang == "nn").sum()), 80),
              ("Danish", int((lang == "da").sum()), 200)]
    for dim in codebook.dimensions:
        for lab in dim.label_ids:
            def has(cell, lab=lab, multi=dim.multi_label):
                return cell is not None and (lab in cell if multi else cell == lab)
            pos = frame[dim.id].map(has)
            if dim.multi_label:
                checks += [(f"{dim.id}={lab} en", int(pos[lang == "en"].sum()), 40),
                           (f"{dim.id}={lab} no", int(pos[norwegian].sum()), 40),
                           (f"{dim.id}={lab} da", int(pos[lang == "da"].sum()), 12)]
            else:
                checks += [(f"{dim.id}={lab} en", int(pos[lang == "en"].sum()), 100),
                           (f"{dim.id}={lab} no", int(pos[norwegian].sum()), 60)]
    if "factor" in codebook.dimension_ids:
        no_factor = frame["factor"].map(lambda c: c is not None and len(c) == 0)
        checks.append(("% with no factor (x100)", int(round(100 * no_factor.mean())), 30))
    if "relevance" in codebook.dimension_ids:
        checks.append(("out of scope (exclude)", int((frame["relevance"] == "exclude").sum()), 300))
    return checks


def shared_ngrams(frame: pd.DataFrame, n: int) -> list[tuple[str, str, str]]:
    seen: dict[tuple[str, ...], str] = {}
    shared = []
    for sid, text in zip(frame["segment_id"], frame["text"]):
        for gram in {tuple(w[i : i + n]) for w in [words(text)] for i in range(len(w) - n + 1)}:
            other = seen.setdefault(gram, sid)
            if other != sid:
                shared.append((other, sid, " ".join(gram)))
    return shared


def type_token(frame: pd.DataFrame, sample: int = 5000, seed: int = 0) -> dict[str, float]:
    """Type/token ratio on a random sample of ``sample`` tokens per language (comparable across sizes)."""
    rng = np.random.default_rng(seed)
    out = {}
    for lang, group in frame.groupby("lang"):
        tokens = [w for t in group["text"] for w in words(t)]
        if len(tokens) >= sample:
            start = int(rng.integers(0, len(tokens) - sample + 1))
            chunk = tokens[start : start + sample]
            out[lang] = round(len(set(chunk)) / sample, 3)
    return out


def overused_phrases(frame: pd.DataFrame, codebook, top: int = 5, min_count: int = 6) -> dict[str, list[tuple[str, int]]]:
    """Per label, the 3-word phrases most over-represented among its segments (smoothed log-odds)."""
    def trigrams(text):
        w = words(text)
        return {" ".join(w[i : i + 3]) for i in range(len(w) - 2)}
    grams = [trigrams(t) for t in frame["text"]]
    total = collections.Counter(g for gs in grams for g in gs)
    out = {}
    for dim in codebook.dimensions:
        for lab in dim.label_ids:
            mask = frame[dim.id].map(lambda c, lab=lab, multi=dim.multi_label: c is not None and (lab in c if multi else c == lab))
            inside = collections.Counter(g for gs, m in zip(grams, mask) if m for g in gs)
            n_in, n_out = max(int(mask.sum()), 1), max(int((~mask).sum()), 1)
            scored = []
            for g, c in inside.items():
                if c < min_count:
                    continue
                rest = total[g] - c
                scored.append((math.log((c + 0.5) / n_in) - math.log((rest + 0.5) / n_out), g, c))
            out[f"{dim.id}={lab}"] = [(g, c) for _, g, c in sorted(scored, reverse=True)[:top]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown here instead of stdout")
    parser.add_argument("--ngram", type=int, default=10)
    args = parser.parse_args()
    cb = load_codebook()
    ann = REPO / "data" / "annotations"
    train_paths = [p for p in (ann / "corpus", ann / "double_coding") if p.exists()]
    train = select_training_rows(read_annotations(train_paths, cb))
    has_devtest = (ann / "devtest").exists() and any((ann / "devtest").glob("*.jsonl"))
    devtest = select_training_rows(read_annotations(ann / "devtest", cb)) if has_devtest else train.iloc[:0]
    out = ["# Corpus report", "", "Generated by `python scripts/corpus_report.py`; training codes are the adjudicated ones where a segment was double-coded.", ""]
    for name, frame in (("Training corpus", train), ("Dev-test set", devtest)):
        if frame.empty:
            continue
        out += [f"## {name}: {len(frame)} segments, {frame['doc_id'].nunique()} documents", ""]
        out += ["### Segments per language × register", "", markdown_table(pd.crosstab(frame["lang"], frame["source_kind"], margins=True)), ""]
        lengths = frame["text"].map(lambda t: len(words(t)))
        out += [f"Words per segment: min {lengths.min()}, median {int(lengths.median())}, max {lengths.max()}; "
                f"under 30 words: {(lengths < 30).mean():.0%}, over 120: {(lengths > 120).mean():.0%}.", ""]
        out += ["### Labels per language", "", counts_table(frame, cb, ["lang"]), ""]
        out += ["### Labels per register", "", counts_table(frame, cb, ["source_kind"]), ""]
    out += ["## Minimums of the corpus issue (training corpus)", "", "| check | found | required | |", "|---|---|---|---|"]
    for check, found, required in minimums(train, cb):
        out.append(f"| {check} | {found} | {required} | {'ok' if found >= required else 'SHORT'} |")
    both = pd.concat([train, devtest], ignore_index=True)
    shared = shared_ngrams(both, args.ngram)
    out += ["", f"## Shared {args.ngram}-word sequences (training + dev-test): {len(shared)}", ""]
    out += [f"- {a} ~ {b}: {g}" for a, b, g in shared[:50]]
    out += ["", "## Type/token ratio per language (5,000-token samples)", ""]
    out += [f"- {lang}: {ttr}" for lang, ttr in type_token(train).items()]
    out += ["", "## Most over-used 3-word phrases per label (log-odds vs the rest; count ≥ 6)", ""]
    for label, phrases in overused_phrases(train, cb).items():
        out.append(f"- **{label}**: " + "; ".join(f"“{g}” ({c})" for g, c in phrases))
    text = "\n".join(out) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
