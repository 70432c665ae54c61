"""Model + segments → suggestions: codes, calibrated scores, evidence and a needs-review flag.

:func:`iter_suggestions` streams one plain dict per segment (the JSONL
contract, documented in docs/suggest.md) in batches, so memory stays flat
however large the input. Writing them out is :mod:`samverdi_nlp.reports.suggestions`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from samverdi_nlp.model import CodingModel, load_model, segment_text
from samverdi_nlp.segments import Segment, iter_segments

PROVENANCE = ("segment_id", "doc_id", "source", "page", "section", "start", "end", "lang", "source_kind",
              "title", "authors", "year", "doi", "journal")
DEFAULT_BATCH = 256


def _batches(items: Iterable[Segment], size: int) -> Iterator[list[Segment]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def suggest_batch(model: CodingModel, segments: Sequence[Segment], *, threshold: float | None = None,
                  evidence_k: int = 5) -> list[dict[str, Any]]:
    """Suggestions for one batch of segments (see the module docstring for the record shape)."""
    texts = [segment_text(s.title, s.text) for s in segments]
    features = model.features_.transform(texts)
    proba = model.predict_proba(texts, features=features)
    codes = model.decide(proba, threshold)
    review = model.needs_review(proba, texts, [s.lang for s in segments])
    evidence = model.evidence_batch(texts, codes, k=evidence_k, features=features) if evidence_k else [{} for _ in texts]
    records = []
    for i, seg in enumerate(segments):
        rec: dict[str, Any] = {key: getattr(seg, key) for key in PROVENANCE}
        rec["text"] = seg.text
        rec["flags"] = list(seg.flags)
        rec["codes"] = {dim.id: list(codes[dim.id][i]) if dim.multi_label else codes[dim.id][i]
                        for dim in model.codebook_.dimensions}
        rec["scores"] = {dim.id: {lab: round(float(p), 4) for lab, p in zip(dim.label_ids, proba[dim.id][i])}
                         for dim in model.codebook_.dimensions}
        rec["evidence"] = evidence[i]
        rec["needs_review"] = bool(review[i])
        records.append(rec)
    return records


def iter_suggestions(
    model: CodingModel,
    segments: Iterable[Segment],
    *,
    threshold: float | None = None,
    batch_size: int = DEFAULT_BATCH,
    evidence_k: int = 5,
    n_jobs: int = 1,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream suggestions for any iterable of segments, batch by batch, in input order.

    With ``n_jobs > 1`` batches are coded in worker processes (joblib), a few
    batches ahead of the writer, so memory stays bounded.
    """
    if n_jobs == 1:
        results: Iterable[list[dict[str, Any]]] = (
            suggest_batch(model, batch, threshold=threshold, evidence_k=evidence_k) for batch in _batches(segments, batch_size))
    else:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=n_jobs, return_as="generator", pre_dispatch="2*n_jobs")
        results = parallel(delayed(suggest_batch)(model, batch, threshold=threshold, evidence_k=evidence_k)
                           for batch in _batches(segments, batch_size))
    for records in results:
        yield from records
        if on_batch:
            on_batch(len(records))


def text_segments(texts: Sequence[str], *, lang: str = "") -> list[Segment]:
    """Wrap plain strings as segments (ids ``text-0001`` ...), for the Python API."""
    from samverdi_nlp.language import detect_language

    return [Segment(segment_id=f"text-{i:04d}", doc_id="texts", source="", text=t,
                    lang=lang or detect_language(t), source_kind="other") for i, t in enumerate(texts, 1)]


def suggestions_frame(records: Iterable[dict[str, Any]], model: CodingModel) -> pd.DataFrame:
    """Flatten suggestion records: provenance, text, one column per dimension, scores, evidence, needs_review."""
    rows = []
    for rec in records:
        row = {k: rec[k] for k in (*PROVENANCE, "text")}
        for dim in model.codebook_.dimensions:
            value = rec["codes"][dim.id]
            row[dim.id] = tuple(value) if dim.multi_label else value
            row[f"{dim.id}_scores"] = rec["scores"][dim.id]
            row[f"{dim.id}_evidence"] = rec["evidence"].get(dim.id, {})
        row["needs_review"] = rec["needs_review"]
        row["flags"] = tuple(rec["flags"])
        rows.append(row)
    return pd.DataFrame(rows)


def suggest(
    inputs: str | Path | Sequence[str | Path] | Sequence[str],
    model: CodingModel | str | Path,
    *,
    unit: str = "paragraph",
    threshold: float | None = None,
) -> pd.DataFrame:
    """Python API: suggestions for files (documents, references, tables) or a list of plain texts.

    Strings that name existing files are read as files; other strings are texts.
    """
    fitted = model if isinstance(model, CodingModel) else load_model(model)
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    items = list(inputs)
    if all(isinstance(x, Path) or Path(str(x)).exists() for x in items):
        segments: Iterable[Segment] = iter_segments(items, unit=unit)
    else:
        segments = text_segments([str(x) for x in items])
    return suggestions_frame(iter_suggestions(fitted, segments, threshold=threshold), fitted)
