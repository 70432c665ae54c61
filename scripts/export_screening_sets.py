"""Write the labelled reference files that the screening figures are measured on, for ours and ASReview alike.

Usage: python scripts/export_screening_sets.py [--out build/screening]

Writes, from the team-written annotation tables:

- ``devtest_abstracts.csv`` / ``.ris``: the dev-test abstracts (data/annotations/devtest), never used to
  train or tune any model: the honest test set for the shipped prior;
- ``corpus_abstracts.csv``: the corpus abstracts (data/annotations/corpus). The shipped model was trained
  on them, so simulations on this file need a cross-fitted prior (scripts/compare_asreview.py makes one).

CSV columns: ``record_id, segment_id, doc_id, title, abstract, relevance, included`` (ASReview reads
``title``/``abstract``/``included``; ``samverdi screen simulate`` reads ``relevance``). The RIS file carries
ASReview's ``ASReview_relevant``/``ASReview_irrelevant`` notes (borderline counts as relevant there).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from samverdi_nlp.annotations import read_annotations
from samverdi_nlp.codebook import load_codebook
from samverdi_nlp.model import select_training_rows
from samverdi_nlp.reports.screening import write_decisions_ris
from samverdi_nlp.screening.rule import ScreeningRule

REPO = Path(__file__).resolve().parent.parent


def abstracts(folder: Path) -> pd.DataFrame:
    """One row per abstract of the annotation tables in ``folder`` (adjudicated codes where there are several coders)."""
    codebook = load_codebook()
    frame = select_training_rows(read_annotations(folder, codebook))
    frame = frame[frame["source_kind"] == "abstract"].sort_values("segment_id").reset_index(drop=True)
    rule = ScreeningRule.from_codebook(codebook)
    out = pd.DataFrame({
        "record_id": range(1, len(frame) + 1),
        "segment_id": frame["segment_id"],
        "doc_id": frame["doc_id"],
        "lang": frame["lang"],
        "title": frame["title"],
        "abstract": frame["text"],
        "relevance": frame["relevance"],
    })
    out["included"] = [rule.to_asreview(label) for label in out["relevance"]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "screening")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, folder in (("devtest", REPO / "data" / "annotations" / "devtest"), ("corpus", REPO / "data" / "annotations" / "corpus")):
        table = abstracts(folder)
        path = args.out / f"{name}_abstracts.csv"
        table.to_csv(path, index=False)
        if name == "devtest":
            write_decisions_ris(table.assign(authors="", year="", journal="", doi="", reason="", reviewer=""),
                                args.out / f"{name}_abstracts.ris", overwrite=True)
        counts = table["relevance"].value_counts().to_dict()
        print(f"{path}: {len(table)} abstracts, {counts}")


if __name__ == "__main__":
    main()
