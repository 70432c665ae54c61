"""Replaying known screening decisions to measure the workflow: WSS, recall, records screened to 95 %.

:func:`replay` screens a labelled set the way a reviewer would with the tool:
optional seed decisions first, then, after every ``refit_every`` decisions, the
ranking is refit (:class:`~samverdi_nlp.screening.ranker.PriorRanker`) and the
query strategy picks the next records, whose known labels are "decided".
:func:`screening_metrics` turns the resulting order into the figures.

Definitions (all on the full screening order, seed records included, since a
person read them too):

- ``screened_to_95``: records screened when ``ceil(0.95 · n_relevant)``
  relevant records have been found;
- ``wss_95 = (n_records − screened_to_95) / n_records − 0.05`` (Cohen et al.
  2006), ``wss_100`` likewise for the last relevant record, minus 0;
- ``recall_at_10``: share of relevant records found after screening
  ``ceil(0.10 · n_records)`` records (25 and 50 likewise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone

from samverdi_nlp.errors import ScreeningError
from samverdi_nlp.screening.queries import get_query_strategy
from samverdi_nlp.screening.ranker import PriorRanker, logit
from samverdi_nlp.screening.rule import ScreeningRule
from samverdi_nlp.screening.stopping import StoppingRule, estimate_remaining

RECALL_POINTS = (10, 25, 50)
# Column names that carry ASReview's 0/1 label, in ASReview's own order of preference.
ASREVIEW_LABEL_COLUMNS = ("asreview_label", "included", "label_included", "final_included", "included_label", "included_final")
_YES = {"1", "1.0", "yes", "y", "true", "relevant", "included"}
_NO = {"0", "0.0", "no", "n", "false", "irrelevant", "excluded"}


# --------------------------------------------------------------------------- metrics


def _ceil(x: float) -> int:
    return math.ceil(x - 1e-9)


def screened_to_recall(relevant_in_order: Sequence[bool], recall: float) -> int:
    """Records screened when ``ceil(recall · n_relevant)`` relevant records have been found.

    >>> screened_to_recall([1, 0, 1, 0, 0, 1, 0, 0], 0.95)
    6
    >>> screened_to_recall([1, 0, 1, 0, 0, 1, 0, 0], 0.5)
    3
    """
    found = np.cumsum(np.asarray(relevant_in_order, dtype=int))
    target = _ceil(recall * found[-1])
    return int(np.searchsorted(found, target) + 1)


def wss(relevant_in_order: Sequence[bool], recall: float) -> float:
    """Work saved over sampling at ``recall``: share of records not screened, minus ``1 - recall``.

    >>> round(wss([1, 0, 1, 0, 0, 1, 0, 0, 0, 0], 0.95), 4)  # 6 of 10 screened for the third relevant record
    0.35
    >>> wss([1, 0, 1, 0, 0, 1, 0, 0, 0, 0], 1.0)
    0.4
    """
    n = len(relevant_in_order)
    return (n - screened_to_recall(relevant_in_order, recall)) / n - (1.0 - recall)


def recall_at(relevant_in_order: Sequence[bool], share: float) -> float:
    """Share of the relevant records found after screening ``ceil(share · n_records)`` records.

    >>> recall_at([1, 1, 0, 0, 1, 0, 0, 0, 0, 0], 0.25)
    0.6666666666666666
    """
    labels = np.asarray(relevant_in_order, dtype=int)
    k = _ceil(share * len(labels))
    return float(labels[:k].sum() / labels.sum())


def recall_curve(relevant_in_order: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    """(records screened 0..n, recall after that many), for the plot.

    >>> [x.tolist() for x in recall_curve([1, 0, 1, 0])]
    [[0, 1, 2, 3, 4], [0.0, 0.5, 0.5, 1.0, 1.0]]
    """
    labels = np.asarray(relevant_in_order, dtype=int)
    found = np.concatenate([[0], np.cumsum(labels)])
    return np.arange(len(labels) + 1), found / max(int(labels.sum()), 1)


def screening_metrics(relevant_in_order: Sequence[bool]) -> dict[str, Any]:
    """The issue's figures for one screening order (relevant flags in the order records were screened).

    >>> m = screening_metrics([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    >>> m["n_records"], m["n_relevant"], m["screened_to_95"], m["wss_100"], m["recall_at_50"]
    (10, 3, 6, 0.4, 0.6667)
    """
    labels = np.asarray(relevant_in_order, dtype=bool)
    n_relevant = int(labels.sum())
    if len(labels) == 0 or n_relevant == 0 or n_relevant == len(labels):
        raise ScreeningError(f"a simulation needs relevant and irrelevant records; got {n_relevant} relevant of {len(labels)}")
    out: dict[str, Any] = {
        "n_records": len(labels),
        "n_relevant": n_relevant,
        "wss_95": round(wss(labels, 0.95), 4),
        "wss_100": round(wss(labels, 1.0), 4),
    }
    for point in RECALL_POINTS:
        out[f"recall_at_{point}"] = round(recall_at(labels, point / 100), 4)
    out["screened_to_95"] = screened_to_recall(labels, 0.95)
    return out


# --------------------------------------------------------------------------- replay


@dataclass
class Replay:
    """The outcome of one simulated screening."""

    order: np.ndarray  # record indices in the order they were screened
    relevant: np.ndarray  # relevant flag per record (file order)
    seed_indices: list[int]
    estimates: list[tuple[int, float]] = field(default_factory=list)  # (screened, estimated relevant left)

    @property
    def relevant_in_order(self) -> np.ndarray:
        return self.relevant[self.order]


def choose_seeds(relevant: np.ndarray, n_relevant: int, n_irrelevant: int, seed: int) -> list[int]:
    """Random seed records: ``n_relevant`` relevant then ``n_irrelevant`` irrelevant ones, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(relevant), np.flatnonzero(~relevant)
    if n_relevant > len(pos) or n_irrelevant > len(neg):
        raise ScreeningError(f"cannot draw {n_relevant} relevant and {n_irrelevant} irrelevant seed records "
                             f"from {len(pos)} relevant and {len(neg)} irrelevant")
    return [int(i) for i in rng.choice(pos, n_relevant, replace=False)] + [int(i) for i in rng.choice(neg, n_irrelevant, replace=False)]


def replay(
    relevant: Sequence[bool],
    features,
    prior: np.ndarray | None = None,
    *,
    query: str = "max",
    seed: int = 0,
    seed_indices: Sequence[int] = (),
    refit_every: int = 1,
    ranker: PriorRanker | None = None,
    estimate_every: int = 0,
) -> Replay:
    """Screen every record in the order the tool would show them, deciding each with its known label.

    ``features``: one row per record (sparse or dense); ``prior``: P(relevant)
    per record from the model, or None for no prior. ``seed_indices`` are
    screened first (the reviewer's prior knowledge). With no prior and no
    decision yet every score ties, so the first records are drawn at random
    (with ``seed``) instead of being taken in file order. ``estimate_every``
    > 0 records the estimate of relevant records left at those intervals
    (it costs one extra, unbalanced fit each time).
    """
    relevant = np.asarray(relevant, dtype=bool)
    n = len(relevant)
    if refit_every < 1:
        raise ScreeningError("refit_every must be 1 or more")
    strategy = get_query_strategy(query, seed=seed)
    tie_breaker = get_query_strategy("random", seed=seed)
    # each refit starts from the last one: one more decision moves the optimum only a little
    ranker = clone(ranker).set_params(warm_start=True) if ranker is not None else PriorRanker(warm_start=True)
    prior_logit = None if prior is None else logit(np.asarray(prior, dtype=float))
    labelled = np.zeros(n, dtype=bool)
    order: list[int] = []
    for index in seed_indices:
        if not labelled[index]:
            order.append(int(index))
            labelled[index] = True
    estimates: list[tuple[int, float]] = []
    n_relevant = int(relevant.sum())
    scores = np.full(n, 0.5) if prior is None else np.asarray(prior, dtype=float)
    while len(order) < n:
        if order:
            done = np.asarray(order)
            offsets = None if prior_logit is None else prior_logit[done]
            fitted = ranker.fit(features[done], relevant[done].astype(int), offsets)
            scores = fitted.predict_proba(features, prior_logit)
        if estimate_every and len(order) % estimate_every == 0:
            calibrated = PriorRanker(C=ranker.C, prior_strength=ranker.prior_strength, balanced=False)
            if order:
                done = np.asarray(order)
                calibrated.fit(features[done], relevant[done].astype(int), None if prior_logit is None else prior_logit[done])
            else:
                calibrated.fit(features[:0], np.zeros(0), None if prior_logit is None else prior_logit[:0])
            left = calibrated.predict_proba(features, prior_logit)[~labelled]
            estimates.append((len(order), estimate_remaining(left)))
        if not order and prior is None:
            picks = tie_breaker.query(scores, labelled, refit_every)
        else:
            picks = strategy.query(scores, labelled, refit_every)
        for index in picks:
            order.append(int(index))
            labelled[index] = True
        if int(relevant[labelled].sum()) == n_relevant and not estimate_every:
            # every relevant record is found: the rest of the order changes no figure
            rest = get_query_strategy("max").query(scores, labelled, n)
            order.extend(int(i) for i in rest)
            break
    return Replay(order=np.asarray(order, dtype=np.intp), relevant=relevant, seed_indices=[int(i) for i in seed_indices],
                  estimates=estimates)


def replay_summary(result: Replay, *, stopping: StoppingRule | None = None) -> dict[str, Any]:
    """:func:`screening_metrics` of a replay plus the stopping rule's outcome on it."""
    in_order = result.relevant_in_order
    metrics = screening_metrics(in_order)
    rule = stopping or StoppingRule()
    stop = rule.stop_index(in_order, len(in_order))
    metrics["n_seed"] = len(result.seed_indices)
    metrics["stop_at"] = stop
    metrics["recall_at_stop"] = None if stop is None else round(float(in_order[:stop].sum() / in_order.sum()), 4)
    return metrics


# --------------------------------------------------------------------------- labelled files


@dataclass
class LabelledRecords:
    """Records of a labelled file: what the classifier reads and each record's relevance label."""

    texts: list[str]
    labels: list[str]
    ids: list[str]
    label_column: str


def _label_value(raw: Any, column: str, rule: ScreeningRule) -> str | None:
    if raw is None or (isinstance(raw, float) and raw != raw):
        return None
    value = str(raw).strip().lower()
    if not value or value in ("nan", "none", "-1"):
        return None
    if column == "relevance":
        return rule.check_label(value)
    if value in _YES:
        return rule.positive
    if value in _NO:
        return rule.negative
    raise ScreeningError(f"column {column!r} has the value {raw!r}; ASReview labels are 1 (relevant) or 0 (irrelevant)")


def _pick_label_column(columns: Sequence[str]) -> str | None:
    lowered = {str(c).strip().lower(): c for c in columns}
    for name in ("relevance", *ASREVIEW_LABEL_COLUMNS):
        if name in lowered:
            return lowered[name]
    return None


def read_labelled(path: str | Path, rule: ScreeningRule, *, encoding: str | None = None) -> LabelledRecords:
    """Read a labelled reference file or table: every record's text and its relevance label.

    Tables (.csv .tsv .xlsx .jsonl) need a ``relevance`` column (codebook
    labels) or ASReview's 0/1 ``included``/``label_included`` column; RIS files
    carry ASReview's ``ASReview_relevant``/``ASReview_irrelevant`` notes.
    """
    from samverdi_nlp.model import segment_text
    from samverdi_nlp.readers import open_source

    p = Path(path)
    source = open_source(p, encoding=encoding, on_warning=lambda _w: None)
    if source.family == "document":
        raise ScreeningError(f"is a document ({source.format}), not a labelled reference file or table; give a table with "
                             "a 'relevance' or 'included' column, or an ASReview RIS export", path=p)
    records = list(source.items)
    if source.format == "ris":
        labels_by_number, column = _ris_labels(p, rule, encoding)
    else:
        labels_by_number, column = _table_labels(p, rule, encoding)
    texts, labels, ids, missing = [], [], [], []
    for record in records:
        label = labels_by_number.get(record.number)
        if label is None:
            missing.append(record.number)
            continue
        texts.append(segment_text(record.title, record.text))
        labels.append(label)
        ids.append(record.record_id or str(record.number))
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        unit = "record" if source.format == "ris" else "row"
        raise ScreeningError(f"{len(missing)} {unit}(s) have no label in {column!r} ({unit} {shown}); a simulation needs "
                             "every record labelled: label them or remove them", path=p)
    return LabelledRecords(texts=texts, labels=labels, ids=ids, label_column=column)


def _table_labels(path: Path, rule: ScreeningRule, encoding: str | None) -> tuple[dict[int, str | None], str]:
    from samverdi_nlp.readers.references import read_table_rows

    rows, numbers, _fmt = read_table_rows(path, encoding=encoding)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    column = _pick_label_column(columns)
    if column is None:
        raise ScreeningError("has no label column; add 'relevance' (" + ", ".join(rule.labels) + ") or ASReview's 0/1 "
                             f"'included'/'label_included'; columns found: {', '.join(map(str, columns))}", path=path)
    out: dict[int, str | None] = {}
    for row, number in zip(rows, numbers):
        try:
            out[number] = _label_value(row.get(column), str(column).strip().lower(), rule)
        except ScreeningError as exc:
            raise ScreeningError(f"row {number}: {exc.message}", path=path) from exc
    return out, str(column)


def _ris_labels(path: Path, rule: ScreeningRule, encoding: str | None) -> tuple[dict[int, str | None], str]:
    """ASReview's label notes (N1) per RIS record, numbered like the reader numbers records (by ``TY`` line)."""
    from samverdi_nlp.io_utils import decode_text

    text = decode_text(path.read_bytes(), path, encoding, error=ScreeningError)
    out: dict[int, str | None] = {}
    number = 0
    for line in text.splitlines():
        tag = line[:2]
        if tag == "TY" and line[2:6].strip().startswith("-"):
            number += 1
            out[number] = None
        elif number and tag in ("N1", "RN", "NO") and "ASReview_" in line:
            if "ASReview_relevant" in line:
                out[number] = rule.positive
            elif "ASReview_irrelevant" in line:
                out[number] = rule.negative
    if not any(v is not None for v in out.values()):
        raise ScreeningError("has no ASReview labels (no 'N1  - ASReview_relevant' or 'ASReview_irrelevant' notes); "
                             "export the labelled records from ASReview or samverdi, or give a table with a 'relevance' column",
                             path=path)
    return out, "N1 (ASReview notes)"


# --------------------------------------------------------------------------- a whole simulation


def simulate_labelled(
    records: LabelledRecords,
    rule: ScreeningRule,
    *,
    model: Any = None,
    query: str = "max",
    seed: int = 0,
    n_seed_relevant: int = 0,
    n_seed_irrelevant: int = 0,
    refit_every: int = 1,
    ranker: PriorRanker | None = None,
    stopping: StoppingRule | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """Simulate screening ``records`` with the prior ``model`` (or none): the figures and the relevant flags in screening order."""
    from samverdi_nlp.screening.ranker import ScreeningFeatures

    relevant = np.array([rule.is_relevant(label) for label in records.labels], dtype=bool)
    if relevant.all() or not relevant.any():
        raise ScreeningError(f"all {len(relevant)} records are {'relevant' if relevant.all() else 'irrelevant'} under the rule "
                             f"(relevant: {', '.join(sorted(rule.relevant))}); a simulation needs both")
    prior = None
    if model is not None:
        proba = model.predict_proba(records.texts)["relevance"]
        prior = rule.prior_from_proba(proba)
    features = ScreeningFeatures().fit_transform(records.texts)
    seeds = choose_seeds(relevant, n_seed_relevant, n_seed_irrelevant, seed) if n_seed_relevant or n_seed_irrelevant else []
    result = replay(relevant, features, prior, query=query, seed=seed, seed_indices=seeds, refit_every=refit_every, ranker=ranker)
    summary = replay_summary(result, stopping=stopping)
    return summary, result.relevant_in_order
