"""Benchmark screening: ranking refit for 5,000 records and import of a 10,000-record RIS file.

Usage: python scripts/bench_screening.py [--records 5000] [--ris-records 10000] [--decisions 200 1000] [--model DIR]

Records are synthetic but made of team-written text: each one joins a title and three or four sentences
drawn from different corpus abstracts, so vocabulary and lengths are realistic and no two records are equal.

Figures, each with a baseline measured in the same run:

- **refit**: our refit (prior-offset logistic ranking on the decisions, scoring every record) against
  scikit-learn's ``LogisticRegression(solver="liblinear")`` fitted on the same decisions and features and
  scoring every record (a standard active-learning refit). Also the whole project refit as ``samverdi
  screen label`` runs it: decisions read from SQLite, cached features, fit, 5,000 scores written.
- **import**: ``screen init``'s import of a 10,000-record RIS file (RIS parsing, segments, language
  detection, deduplication, SQLite) against parsing the same file with ``rispy`` alone (the floor); with
  ``--model``, also the prior scoring of every record.

The issue's targets: a refit in under 1 s for 5,000 records on 2 cores; a 10,000-record RIS in seconds.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import rispy
from sklearn.linear_model import LogisticRegression

from samverdi_nlp.annotations import read_annotations
from samverdi_nlp.codebook import load_codebook
from samverdi_nlp.reports.screening import _plain_ris_writer
from samverdi_nlp.screening.project import ScreeningProject, reference_rows
from samverdi_nlp.screening.ranker import PriorRanker, ScreeningFeatures, logit
from samverdi_nlp.screening.store import ScreeningStore

REPO = Path(__file__).resolve().parent.parent
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def synthetic_records(n: int, seed: int = 0) -> list[dict[str, str]]:
    frame = read_annotations(REPO / "data" / "annotations" / "corpus", load_codebook())
    frame = frame[frame["source_kind"] == "abstract"].drop_duplicates("segment_id")
    titles = [t for t in frame["title"] if t]
    sentences = [s for text in frame["text"] for s in SENTENCE.split(text) if len(s) > 40]
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        body = " ".join(sentences[j] for j in rng.choice(len(sentences), rng.integers(3, 5), replace=False))
        records.append({"title": f"{titles[rng.integers(len(titles))]} ({i})", "abstract": body,
                        "authors": ["Nordmann, K.", f"Author{i}, A."], "year": str(2011 + i % 13), "doi": f"10.5555/bench.{i}"})
    return records


def timed(func, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_refit(records: list[dict[str, str]], decisions: list[int], seed: int = 0) -> None:
    texts = [f"{r['title']}\n\n{r['abstract']}" for r in records]
    started = time.perf_counter()
    features = ScreeningFeatures().fit_transform(texts)
    print(f"features: {len(texts)} records x {features.shape[1]} terms in {time.perf_counter() - started:.2f} s (once per project, cached)")
    rng = np.random.default_rng(seed)
    prior = rng.beta(0.6, 1.4, len(texts))
    relevant = rng.random(len(texts)) < prior  # decisions that agree with the prior only on average
    prior_logit = logit(prior)
    for n in decisions:
        rows = rng.choice(len(texts), n, replace=False)
        ours, _ = timed(lambda rows=rows: PriorRanker().fit(features[rows], relevant[rows].astype(int), prior_logit[rows])
                        .predict_proba(features, prior_logit))
        base, _ = timed(lambda rows=rows: LogisticRegression(solver="liblinear", class_weight="balanced")
                        .fit(features[rows], relevant[rows]).predict_proba(features)[:, 1])
        print(f"refit on {n:5d} decisions, scoring {len(texts)} records: ours {ours:.3f} s, "
              f"liblinear baseline {base:.3f} s (ratio {ours / base:.2f})")


def bench_project_refit(records: list[dict[str, str]], n_decisions: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [{"segment_id": f"r{i}", "title": r["title"], "text": f"{r['title']}\n\n{r['abstract']}", "prior": None}
                for i, r in enumerate(records)]
        started = time.perf_counter()
        project, _ = ScreeningProject.init(Path(tmp) / "p", rows, model_folder=None)
        created = time.perf_counter() - started
        with project:
            ids = project.store.record_ids()[:n_decisions]
            project.store.decide_many(((int(i), "include" if i % 4 == 0 else "exclude", "bench", "") for i in ids), origin="bench")
        with ScreeningProject.open(Path(tmp) / "p") as reopened:
            started = time.perf_counter()
            ranking = reopened.refit(force=True)
            whole = time.perf_counter() - started
        print(f"project refit as 'screen label' runs it ({len(records)} records, {n_decisions} decisions): {whole:.3f} s "
              f"(fit + score {ranking.seconds:.3f} s; features read from the project's cache, built once by init, "
              f"which took {created:.2f} s)")


def bench_import(records: list[dict[str, str]], model: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ris = Path(tmp) / "hits.ris"
        entries = [{"type_of_reference": "JOUR", "id": f"R{i}", **r} for i, r in enumerate(records)]
        entries += entries[:50]  # re-exported duplicates
        ris.write_text(rispy.dumps(entries, implementation=_plain_ris_writer()), encoding="utf-8")
        size = ris.stat().st_size / 1e6
        floor, parsed = timed(lambda: rispy.loads(ris.read_text(encoding="utf-8")), repeat=1)
        started = time.perf_counter()
        rows = reference_rows([ris])
        read = time.perf_counter() - started
        started = time.perf_counter()
        with ScreeningStore.create(Path(tmp) / "p", {"prior": "none"}) as store:
            summary = store.add_records(rows)
        stored = time.perf_counter() - started
        print(f"import of a {len(entries)}-record RIS ({size:.1f} MB): read + segments + language {read:.2f} s, "
              f"deduplicate + store {stored:.2f} s ({summary.added} added, {summary.duplicates} duplicates); "
              f"rispy alone {floor:.2f} s for {len(parsed)} records (ratio {(read + stored) / floor:.1f})")
        if model is not None:
            from samverdi_nlp.model import load_model
            from samverdi_nlp.screening.project import _priors
            from samverdi_nlp.screening.rule import ScreeningRule

            fitted = load_model(model)
            started = time.perf_counter()
            _priors(fitted, ScreeningRule.from_codebook(fitted.codebook_), [r["text"] for r in rows])
            print(f"prior scoring of {len(rows)} records with {model}: {time.perf_counter() - started:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--ris-records", type=int, default=10000)
    parser.add_argument("--decisions", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--model", type=Path, default=None, help="Also time the prior scoring at import with this model.")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores")
    records = synthetic_records(max(args.records, args.ris_records))
    bench_refit(records[: args.records], args.decisions)
    bench_project_refit(records[: args.records], max(args.decisions))
    bench_import(records[: args.ris_records], args.model)


if __name__ == "__main__":
    main()
