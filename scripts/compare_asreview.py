"""Side by side with ASReview: `asreview simulate` and our simulation on the same labelled data and seed records.

Usage: python scripts/compare_asreview.py [--runs 5] [--model models/default] [--out build/screening]
                                          [--borderline relevant|exclude] [--datasets devtest corpus]

ASReview LAB 3.x is installed at run time into its own virtual environment (it pins pandas < 3), under
``$SAMVERDI_CACHE/asreview-venv`` (default ``~/.cache/samverdi-nlp/asreview-venv``); it is never a project
dependency. ASReview prints only loss and NDCG, so WSS and recall are computed here from the labelling order
in its results database (``results.db`` inside the ``.asreview`` file), with the same functions as ours.

Data (written by scripts/export_screening_sets.py):

- **devtest**: the dev-test abstracts, never used for training. Our prior is the relevance head of
  ``--model`` (default models/default; if that does not exist yet, the relevance head is trained here the
  same way on data/annotations/corpus).
- **corpus**: the corpus abstracts with a **cross-fitted** prior: 5 folds grouped by document, each fold
  scored by a relevance head trained on the other four, so no record is scored by a model that saw it.

Each run draws one relevant and one irrelevant seed record (``--runs`` seeds); ASReview (default model
``elas_u4``) and ours start from exactly those records (``--prior-idx``). Ours is also shown with no seed
records (the prior alone picks the first record), with the prior and no learning, and with no prior (the
learner alone). Seed records count as screened for both. Prints a table and writes
``compare_asreview.json`` and recall-curve PNGs into ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samverdi_nlp.annotations import read_annotations
from samverdi_nlp.codebook import load_codebook
from samverdi_nlp.model import CodingModel, ModelConfig, load_model, segment_text, select_training_rows
from samverdi_nlp.reports.screening import plot_recall_curves
from samverdi_nlp.screening.ranker import ScreeningFeatures
from samverdi_nlp.screening.rule import ScreeningRule
from samverdi_nlp.screening.simulate import choose_seeds, replay, replay_summary, screening_metrics

REPO = Path(__file__).resolve().parent.parent
ASREVIEW_SPEC = "asreview>=3,<4"


def asreview_venv() -> Path:
    """The ASReview virtual environment, made and filled on first use."""
    root = Path(os.environ.get("SAMVERDI_CACHE") or Path.home() / ".cache" / "samverdi-nlp")
    venv = root / "asreview-venv"
    exe = venv / "bin" / "asreview"
    if not exe.exists():
        print(f"installing {ASREVIEW_SPEC} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", ASREVIEW_SPEC], check=True)
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"using {version} from {venv}", flush=True)
    return exe


def run_asreview(exe: Path, data: Path, seed_rows: list[int], seed: int, workdir: Path) -> list[int]:
    """Row indices (0-based, file order) in the order ASReview's simulation labelled them."""
    project = workdir / f"run-{seed}.asreview"
    project.unlink(missing_ok=True)
    subprocess.run([str(exe), "simulate", str(data), "--prior-idx", *map(str, seed_rows), "--seed", str(seed),
                    "--n-stop", "-1", "-o", str(project)], check=True, capture_output=True, text=True)
    with zipfile.ZipFile(project) as archive, tempfile.TemporaryDirectory() as tmp:
        archive.extract("results.db", tmp)
        with sqlite3.connect(Path(tmp) / "results.db") as db:
            columns = [row[1] for row in db.execute("PRAGMA table_info(record)")]
            row_column = "dataset_row" if "dataset_row" in columns else "record_id"
            to_row = dict(db.execute(f"SELECT record_id, {row_column} FROM record").fetchall())
            order = [to_row[r] for (r,) in db.execute("SELECT record_id FROM results ORDER BY rowid")]
    return [int(i) for i in order]


def relevance_codebook():
    codebook = load_codebook()
    return dataclasses.replace(codebook, dimensions=tuple(d for d in codebook.dimensions if d.id == "relevance"))


def crossfitted_prior(table: pd.DataFrame, rule: ScreeningRule, cache: Path, folds: int = 5) -> np.ndarray:
    """P(relevant) for each corpus abstract from a relevance head trained on the other folds (grouped by document)."""
    labels = list(rule.labels)
    if cache.is_file():
        cached = pd.read_csv(cache, dtype={"segment_id": str})
        if cached["segment_id"].tolist() == table["segment_id"].tolist():
            return rule.prior_from_proba(cached[labels].to_numpy())
    from sklearn.model_selection import GroupKFold

    corpus = select_training_rows(read_annotations(REPO / "data" / "annotations" / "corpus", load_codebook())).reset_index(drop=True)
    fold_of_doc = {}
    for fold, (_, test) in enumerate(GroupKFold(folds).split(corpus, groups=corpus["doc_id"])):
        for doc in corpus["doc_id"].iloc[test]:
            fold_of_doc[doc] = fold
    proba = np.full((len(table), len(labels)), np.nan)
    for fold in range(folds):
        started = time.perf_counter()
        train = corpus[corpus["doc_id"].map(fold_of_doc) != fold]
        scored = table["doc_id"].map(fold_of_doc) == fold
        model = CodingModel(ModelConfig(), relevance_codebook()).fit(train)
        texts = [segment_text(t, x) for t, x in zip(table.loc[scored, "title"], table.loc[scored, "abstract"])]
        proba[scored.to_numpy()] = model.predict_proba(texts)["relevance"]
        print(f"  cross-fit fold {fold + 1}/{folds}: trained on {len(train)} segments in {time.perf_counter() - started:.0f} s", flush=True)
    assert not np.isnan(proba).any(), "a corpus abstract was in no fold"
    pd.DataFrame({"segment_id": table["segment_id"], **dict(zip(labels, proba.T))}).to_csv(cache, index=False)
    return rule.prior_from_proba(proba)


def devtest_prior(table: pd.DataFrame, rule: ScreeningRule, model_dir: Path, cache_dir: Path) -> tuple[np.ndarray, str]:
    if model_dir.is_dir():
        model = load_model(model_dir)
        source = f"{model_dir} (trained on data/annotations/corpus + double_coding)"
    else:
        cache = cache_dir / "devtest_prior_fallback.csv"
        source = f"relevance head trained here on data/annotations/corpus ({model_dir} did not exist yet)"
        labels = list(rule.labels)
        if cache.is_file():
            cached = pd.read_csv(cache, dtype={"segment_id": str})
            if cached["segment_id"].tolist() == table["segment_id"].tolist():
                return rule.prior_from_proba(cached[labels].to_numpy()), source
        print(f"{model_dir} does not exist yet: training the relevance head on the corpus", flush=True)
        corpus = select_training_rows(read_annotations(REPO / "data" / "annotations" / "corpus", load_codebook()))
        model = CodingModel(ModelConfig(), relevance_codebook()).fit(corpus)
        texts = [segment_text(t, x) for t, x in zip(table["title"], table["abstract"])]
        proba = model.predict_proba(texts)["relevance"]
        pd.DataFrame({"segment_id": table["segment_id"], **dict(zip(labels, proba.T))}).to_csv(cache, index=False)
        return rule.prior_from_proba(proba), source
    texts = [segment_text(t, x) for t, x in zip(table["title"], table["abstract"])]
    return rule.prior_from_proba(model.predict_proba(texts)["relevance"]), source


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    frame = pd.DataFrame(rows)
    out: dict[str, Any] = {"runs": len(frame)}
    for key in ("wss_95", "wss_100", "recall_at_10", "recall_at_25", "recall_at_50", "screened_to_95"):
        out[key] = round(float(frame[key].mean()), 4)
        out[f"{key}_sd"] = round(float(frame[key].std(ddof=1)), 4) if len(frame) > 1 else 0.0
    return out


def compare(name: str, table: pd.DataFrame, prior: np.ndarray, rule: ScreeningRule, runs: int, exe: Path | None,
            out: Path, borderline: str) -> dict[str, Any]:
    relevant = np.array([rule.is_relevant(label) for label in table["relevance"]])
    texts = [segment_text(t, x) for t, x in zip(table["title"], table["abstract"])]
    features = ScreeningFeatures().fit_transform(texts)
    data = out / f"{name}_asreview_input_{borderline}.csv"
    table.assign(included=relevant.astype(int))[["record_id", "title", "abstract", "included"]].to_csv(data, index=False)
    results: dict[str, list[dict[str, Any]]] = {}
    curves: dict[str, np.ndarray] = {}

    def add(method: str, in_order: np.ndarray, seconds: float) -> None:
        figures = screening_metrics(in_order)
        figures["seconds"] = round(seconds, 2)
        results.setdefault(method, []).append(figures)
        curves.setdefault(method, in_order)

    started = time.perf_counter()
    add("samverdi: prior only, no learning", relevant[np.argsort(-prior, kind="stable")], time.perf_counter() - started)
    started = time.perf_counter()
    zero = replay(relevant, features, prior)
    add("samverdi: prior + learning, 0 seeds", zero.relevant_in_order, time.perf_counter() - started)
    stop = replay_summary(zero)
    for run in range(runs):
        seeds = choose_seeds(relevant, 1, 1, seed=run)
        started = time.perf_counter()
        ours = replay(relevant, features, prior, seed=run, seed_indices=seeds)
        add("samverdi: prior + learning, 1+1 seeds", ours.relevant_in_order, time.perf_counter() - started)
        started = time.perf_counter()
        alone = replay(relevant, features, None, seed=run, seed_indices=seeds)
        add("samverdi: no prior, 1+1 seeds", alone.relevant_in_order, time.perf_counter() - started)
        if exe is not None:
            started = time.perf_counter()
            order = run_asreview(exe, data, seeds, run, out)
            assert order[:2] == seeds and sorted(order) == list(range(len(table))), "ASReview did not label every record once"
            add("ASReview elas_u4, 1+1 seeds", relevant[order], time.perf_counter() - started)
        print(f"  {name}: run {run + 1}/{runs} done", flush=True)
    summary = {method: summarise(rows) for method, rows in results.items()}
    plot_recall_curves(curves, out / f"recall_{name}_{borderline}.png",
                       title=f"{name} abstracts: {len(table)} records, {int(relevant.sum())} relevant (borderline {borderline})")
    return {"n_records": len(table), "n_relevant": int(relevant.sum()), "methods": summary,
            "stopping_rule_0_seeds": {"stop_at": stop["stop_at"], "recall_at_stop": stop["recall_at_stop"]}}


def print_table(name: str, result: dict[str, Any]) -> None:
    print(f"\n{name}: {result['n_records']} records, {result['n_relevant']} relevant")
    print(f"{'method':40s} {'runs':>4s} {'WSS@95':>14s} {'WSS@100':>14s} {'recall@10%':>14s} {'screened to 95%':>16s}")
    for method, s in result["methods"].items():
        print(f"{method:40s} {s['runs']:4d} {s['wss_95']:8.3f} ±{s['wss_95_sd']:.3f} {s['wss_100']:8.3f} ±{s['wss_100_sd']:.3f} "
              f"{s['recall_at_10']:8.3f} ±{s['recall_at_10_sd']:.3f} {s['screened_to_95']:10.1f}")
    stop = result["stopping_rule_0_seeds"]
    print(f"stopping rule (prior + learning, 0 seeds): stops after {stop['stop_at']} records at recall {stop['recall_at_stop']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="Seed draws (each: 1 relevant + 1 irrelevant seed record).")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "default", help="Prior for the dev-test set.")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "screening")
    parser.add_argument("--borderline", choices=("relevant", "exclude"), default="relevant")
    parser.add_argument("--datasets", nargs="+", choices=("devtest", "corpus"), default=["devtest", "corpus"])
    parser.add_argument("--skip-asreview", action="store_true", help="Only our figures (no virtual environment needed).")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(REPO / "scripts" / "export_screening_sets.py"), "--out", str(args.out)], check=True)
    exe = None if args.skip_asreview else asreview_venv()
    rule = ScreeningRule.from_codebook(load_codebook(), args.borderline)
    report: dict[str, Any] = {"borderline": args.borderline, "runs": args.runs}
    for name in args.datasets:
        table = pd.read_csv(args.out / f"{name}_abstracts.csv", dtype={"segment_id": str, "doc_id": str}, keep_default_na=False)
        if name == "devtest":
            prior, source = devtest_prior(table, rule, args.model, args.out)
        else:
            prior = crossfitted_prior(table, rule, args.out / "corpus_crossfit_prior.csv")
            source = "5-fold cross-fitted relevance head (grouped by document; trained on data/annotations/corpus)"
        print(f"{name}: prior = {source}", flush=True)
        report[name] = {"prior": source, **compare(name, table, prior, rule, args.runs, exe, args.out, args.borderline)}
        print_table(name, report[name])
    target = args.out / f"compare_asreview_{args.borderline}.json"
    target.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {target}")


if __name__ == "__main__":
    main()
