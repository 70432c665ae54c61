"""Honest evaluation: grouped, multi-label-stratified cross-validation, a held-out dev-test set,
baselines in the same table, breakdowns by language and register, transfer and a learning curve.

Everything returns plain dicts (JSON-ready); :mod:`samverdi_nlp.reports.evaluation`
formats them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

from samverdi_nlp.agreement import krippendorff_alpha
from samverdi_nlp.codebook import Codebook
from samverdi_nlp.errors import ModelError
from samverdi_nlp.model import CodingModel, ModelConfig, label_matrix, segment_text

Progress = Callable[[str], None]
Predictor = Callable[[pd.DataFrame], pd.DataFrame]


# --------------------------------------------------------------------------- folds


def grouped_folds(frame: pd.DataFrame, codebook: Codebook, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds, stratified over every label of every dimension, with each document in one fold.

    Documents (``doc_id``; a segment without one is its own document) are
    stratified on the union of their segments' labels, then unfolded to segments.
    """
    docs = frame["doc_id"].where(frame["doc_id"] != "", frame["segment_id"]).to_numpy()
    unique_docs, inverse = np.unique(docs, return_inverse=True)
    if len(unique_docs) < k:
        raise ModelError(f"only {len(unique_docs)} documents; cross-validation with k={k} needs at least {k}")
    Y = np.hstack([label_matrix(frame, codebook, d) for d in codebook.dimension_ids])
    doc_Y = np.zeros((len(unique_docs), Y.shape[1]), dtype=np.int8)
    np.maximum.at(doc_Y, inverse, Y)
    splitter = MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = []
    for _, test_docs in splitter.split(np.zeros(len(unique_docs)), doc_Y):
        test_mask = np.isin(inverse, test_docs)
        folds.append((np.flatnonzero(~test_mask), np.flatnonzero(test_mask)))
    return folds


# --------------------------------------------------------------------------- scoring


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def score_dimension(gold: Sequence[Any], pred: Sequence[Any], codebook: Codebook, dimension: str) -> dict[str, Any]:
    """Per-label precision/recall/F1/support, macro and micro F1, and Krippendorff's α (model vs gold).

    Segments whose gold cell is ``None`` (not coded) are left out.
    """
    dim = codebook.dimension(dimension)
    keep = [i for i, g in enumerate(gold) if g is not None]
    gold = [gold[i] for i in keep]
    pred = [pred[i] for i in keep]
    as_sets = (lambda v: set(v)) if dim.multi_label else (lambda v: {v})
    labels: dict[str, dict[str, float]] = {}
    tps = fps = fns = 0
    for lab in dim.label_ids:
        tp = sum(lab in as_sets(g) and lab in as_sets(p) for g, p in zip(gold, pred))
        fp = sum(lab not in as_sets(g) and lab in as_sets(p) for g, p in zip(gold, pred))
        fn = sum(lab in as_sets(g) and lab not in as_sets(p) for g, p in zip(gold, pred))
        p, r, f = _prf(tp, fp, fn)
        labels[lab] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": tp + fn}
        tps, fps, fns = tps + tp, fps + fp, fns + fn
    out: dict[str, Any] = {
        "n_segments": len(gold),
        "macro_f1": round(float(np.mean([v["f1"] for v in labels.values()])), 4),
        "micro_f1": round(_prf(tps, fps, fns)[2], 4),
        "labels": labels,
    }
    if dim.multi_label:
        out["exact_match"] = round(float(np.mean([set(g) == set(p) for g, p in zip(gold, pred)])), 4) if gold else 0.0
        alpha = krippendorff_alpha([[tuple(g), tuple(p)] for g, p in zip(gold, pred)], distance="masi").value
    else:
        out["accuracy"] = round(float(np.mean([g == p for g, p in zip(gold, pred)])), 4) if gold else 0.0
        alpha = krippendorff_alpha([[g, p] for g, p in zip(gold, pred)]).value
    out["alpha"] = None if alpha is None or not np.isfinite(alpha) else round(float(alpha), 4)
    return out


def score_frame(gold: pd.DataFrame, pred: pd.DataFrame, codebook: Codebook) -> dict[str, Any]:
    """Scores for every dimension (gold and pred aligned row by row)."""
    return {d: score_dimension(list(gold[d]), list(pred[d]), codebook, d) for d in codebook.dimension_ids}


def _summary(scores: dict[str, Any]) -> dict[str, float]:
    return {d: s["macro_f1"] for d, s in scores.items()}


# --------------------------------------------------------------------------- baselines


def majority_baseline(train: pd.DataFrame, codebook: Codebook) -> Predictor:
    """Predicts for every segment what is most common in training: the majority class, and each
    label of a multi-label dimension only if more than half of the training segments carry it."""
    answer: dict[str, Any] = {}
    for dim in codebook.dimensions:
        Y = label_matrix(train[train[dim.id].notna()], codebook, dim.id)
        if dim.multi_label:
            answer[dim.id] = tuple(lab for lab, share in zip(dim.label_ids, Y.mean(axis=0)) if share > 0.5)
        else:
            answer[dim.id] = dim.label_ids[int(Y.sum(axis=0).argmax())]
    return lambda frame: pd.DataFrame({d: [answer[d]] * len(frame) for d in codebook.dimension_ids})


def keyword_baseline(train: pd.DataFrame, codebook: Codebook) -> Predictor:
    """The codebook's cue words: a label is suggested when one of its cues occurs in the text.

    For a single-label dimension the label with most cue hits wins; with no hit,
    the training majority.
    """
    majority = majority_baseline(train, codebook)

    def predict(frame: pd.DataFrame) -> pd.DataFrame:
        texts = [segment_text(t, x).lower() for t, x in zip(frame["title"], frame["text"])]
        fallback = majority(frame.iloc[:1]) if len(frame) else None
        out: dict[str, list[Any]] = {}
        for dim in codebook.dimensions:
            hits = [[sum(cue in text for cue in lab.cues) for lab in dim.labels] for text in texts]
            if dim.multi_label:
                out[dim.id] = [tuple(lab for lab, h in zip(dim.label_ids, row) if h) for row in hits]
            else:
                out[dim.id] = [dim.label_ids[int(np.argmax(row))] if max(row) else fallback[dim.id].iloc[0] for row in hits]
        return pd.DataFrame(out)

    return predict


def model_predictor(model: CodingModel) -> Predictor:
    return lambda frame: model.predict(frame).drop(columns="text")


# --------------------------------------------------------------------------- procedures


def breakdown(gold: pd.DataFrame, pred: pd.DataFrame, codebook: Codebook, by: str, min_size: int = 10) -> dict[str, dict[str, float]]:
    """Macro-F1 per dimension for each value of ``by`` (e.g. ``lang`` or ``source_kind``)."""
    out = {}
    values = gold[by].replace("", "unknown")
    for value in sorted(values.unique()):
        mask = (values == value).to_numpy()
        if mask.sum() >= min_size:
            out[value] = {"n": int(mask.sum()), **_summary(score_frame(gold[mask].reset_index(drop=True), pred[mask].reset_index(drop=True), codebook))}
    return out


def cross_validate(
    frame: pd.DataFrame,
    codebook: Codebook,
    config: ModelConfig,
    *,
    k: int = 5,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Out-of-fold predictions of the model and both baselines, scored together."""
    frame = frame.sort_values("segment_id").reset_index(drop=True)
    oof = {name: [None] * len(frame) for name in ("model", "majority", "keyword")}
    oof_frames: dict[str, list[pd.DataFrame]] = {name: [] for name in oof}
    order: list[np.ndarray] = []
    for n, (train_idx, test_idx) in enumerate(grouped_folds(frame, codebook, k, config.seed), 1):
        train, test = frame.iloc[train_idx], frame.iloc[test_idx].reset_index(drop=True)
        model = CodingModel(config, codebook).fit(train)
        for name, predictor in (("model", model_predictor(model)), ("majority", majority_baseline(train, codebook)),
                                ("keyword", keyword_baseline(train, codebook))):
            oof_frames[name].append(predictor(test))
        order.append(test_idx)
        if progress:
            progress(f"fold {n}/{k} done")
    idx = np.concatenate(order)
    gold = frame.iloc[idx].reset_index(drop=True)
    result: dict[str, Any] = {"k": k, "n_segments": len(frame), "n_documents": int(frame["doc_id"].nunique())}
    for name, parts in oof_frames.items():
        pred = pd.concat(parts, ignore_index=True)
        result[name] = score_frame(gold, pred, codebook)
        if name == "model":
            result["by_lang"] = breakdown(gold, pred, codebook, "lang")
            result["by_source_kind"] = breakdown(gold, pred, codebook, "source_kind")
    return result


def holdout(train: pd.DataFrame, test: pd.DataFrame, codebook: Codebook, config: ModelConfig,
            model: CodingModel | None = None) -> dict[str, Any]:
    """Train on ``train`` (or use the given fitted model), score on ``test``, with baselines and breakdowns."""
    model = model or CodingModel(config, codebook).fit(train)
    test = test.reset_index(drop=True)
    result: dict[str, Any] = {"n_train": len(train), "n_test": len(test)}
    for name, predictor in (("model", model_predictor(model)), ("majority", majority_baseline(train, codebook)),
                            ("keyword", keyword_baseline(train, codebook))):
        pred = predictor(test)
        result[name] = score_frame(test, pred, codebook)
        if name == "model":
            result["by_lang"] = breakdown(test, pred, codebook, "lang", min_size=5)
            result["by_source_kind"] = breakdown(test, pred, codebook, "source_kind", min_size=5)
    return result


def transfer(frame: pd.DataFrame, codebook: Codebook, config: ModelConfig, by: str, min_size: int = 30) -> dict[str, dict[str, float]]:
    """Leave-one-group-out: train without a language (or register), test on it. Measures transfer."""
    out = {}
    values = frame[by].replace("", "unknown")
    for value in sorted(values.unique()):
        mask = (values == value).to_numpy()
        if mask.sum() < min_size or (~mask).sum() < min_size:
            continue
        model = CodingModel(config, codebook).fit(frame[~mask])
        test = frame[mask].reset_index(drop=True)
        out[value] = {"n": int(mask.sum()), **_summary(score_frame(test, model_predictor(model)(test), codebook))}
    return out


def learning_curve(train: pd.DataFrame, test: pd.DataFrame, codebook: Codebook, config: ModelConfig,
                   fractions: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 1.0), progress: Progress | None = None) -> list[dict[str, Any]]:
    """Macro-F1 per dimension on ``test`` after training on growing, seeded subsets of ``train``."""
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(train))
    rows = []
    for fraction in fractions:
        n = max(20, int(round(fraction * len(train))))
        subset = train.iloc[np.sort(order[:n])]
        model = CodingModel(config, codebook).fit(subset)
        rows.append({"fraction": fraction, "n_train": n, **_summary(score_frame(test.reset_index(drop=True), model_predictor(model)(test), codebook))})
        if progress:
            progress(f"learning curve: {n} segments")
    return rows


def check_disjoint(train: pd.DataFrame, test: pd.DataFrame) -> None:
    """Refuse a dev-test set that shares segments (by id or by text) with the training data."""
    shared_ids = set(train["segment_id"]) & set(test["segment_id"])
    norm = lambda s: {" ".join(t.lower().split()) for t in s}  # noqa: E731
    shared_texts = norm(train["text"]) & norm(test["text"])
    if shared_ids or shared_texts:
        example = next(iter(shared_ids or shared_texts))
        raise ModelError(f"the dev-test set shares {max(len(shared_ids), len(shared_texts))} segment(s) with the training data "
                         f"(e.g. {example[:60]!r}); a held-out evaluation needs disjoint data")


def evaluation_report(
    train: pd.DataFrame,
    codebook: Codebook,
    config: ModelConfig,
    *,
    devtest: pd.DataFrame | None = None,
    model: CodingModel | None = None,
    k: int = 5,
    with_learning_curve: bool = True,
    with_transfer: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The full evaluation: cross-validation on ``train``; dev-test scores, learning curve and transfer if asked."""
    report: dict[str, Any] = {"meta": {"config": config.backend + "/" + config.classifier, "seed": config.seed,
                                        "codebook": f"{codebook.name} ({codebook.sha256[:12]})"}}
    report["cross_validation"] = cross_validate(train, codebook, config, k=k, progress=progress)
    if devtest is not None and len(devtest):
        check_disjoint(train, devtest)
        if progress:
            progress("scoring the dev-test set")
        report["devtest"] = holdout(train, devtest, codebook, config, model=model)
        if with_learning_curve:
            report["learning_curve"] = learning_curve(train, devtest, codebook, config, progress=progress)
    if with_transfer:
        if progress:
            progress("transfer across languages and registers")
        report["transfer_lang"] = transfer(train, codebook, config, "lang")
        report["transfer_source_kind"] = transfer(train, codebook, config, "source_kind")
    return report


def evaluation_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The few figures a model's ``meta.json`` keeps: macro-F1 per dimension on the dev-test set and in CV."""
    summary: dict[str, Any] = {}
    if "devtest" in report:
        summary["devtest_n"] = report["devtest"]["n_test"]
        summary["devtest_macro_f1"] = _summary(report["devtest"]["model"])
        summary["devtest_keyword_macro_f1"] = _summary(report["devtest"]["keyword"])
    cv = report.get("cross_validation")
    if cv:
        summary["cv_folds"] = cv["k"]
        summary["cv_macro_f1"] = _summary(cv["model"])
    return summary
