"""A screening project on disk: the store, the prior model, the cached features and the ranking, together.

Layout of a project folder::

    screening.sqlite     records, decisions (with reviewer, time, reason), rankings  (store.py)
    codebook.toml        the codebook the project's decisions follow
    model/               a copy of the prior model (absent with --prior none), so the project is self-contained
    features.npz         cache: the records' TF-IDF matrix, rebuilt when the records change

Everything here returns data; nothing prints.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from samverdi_nlp.codebook import Codebook, load_codebook
from samverdi_nlp.errors import ModelError, ReaderError, ScreeningError
from samverdi_nlp.io_utils import atomic_output_path, atomic_write
from samverdi_nlp.screening.queries import DEFAULT_QUERY, QUERY_STRATEGIES, get_query_strategy
from samverdi_nlp.screening.ranker import DEFAULT_C, PriorRanker, ScreeningFeatures, logit, top_contributions
from samverdi_nlp.screening.rule import ScreeningRule
from samverdi_nlp.screening.stopping import StoppingRule, advise, estimate_remaining, recent_rate_bound
from samverdi_nlp.screening.store import ScreeningStore

MODEL_DIR = "model"
CODEBOOK_FILE = "codebook.toml"
FEATURES_FILE = "features.npz"
PRIOR_BATCH = 512
# Decisions the recent-rate bound looks back over (and needs before it is shown).
RATE_WINDOW = 50


@dataclass(frozen=True)
class ProjectSettings:
    """How the project ranks; written into the database at ``init``."""

    prior: str = "model"  # model | none
    query: str = DEFAULT_QUERY
    refit_every: int = 1
    borderline: str = "relevant"
    C: float = DEFAULT_C
    prior_strength: float = 1.0
    codebook_sha256: str = ""
    model_sha256: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectSettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def check(self) -> ProjectSettings:
        if self.query not in QUERY_STRATEGIES:
            raise ScreeningError(f"unknown query strategy {self.query!r}; choose one of: {', '.join(QUERY_STRATEGIES)}")
        if self.refit_every < 1:
            raise ScreeningError("--refit-every must be 1 or more")
        if self.prior not in ("model", "none"):
            raise ScreeningError(f"prior must be 'model' or 'none', not {self.prior!r}")
        return self


def model_fingerprint(folder: Path) -> str:
    """SHA-256 of a model folder's ``meta.json`` (which holds the hashes of all its files)."""
    return hashlib.sha256((Path(folder) / "meta.json").read_bytes()).hexdigest()


def reference_rows(paths: Sequence[str | Path], *, encoding: str | None = None,
                   on_error: Callable[[ReaderError], None] | None = None,
                   on_warning: Callable[[Any], None] | None = None) -> list[dict[str, Any]]:
    """Records to screen from reference exports or tables, one per reference (read by :mod:`samverdi_nlp.segments`)."""
    from samverdi_nlp.segments import iter_segments

    rows = []
    for segment in iter_segments(paths, unit="paragraph", encoding=encoding, on_error=on_error, on_warning=on_warning):
        rows.append({
            "segment_id": segment.segment_id, "source": segment.source, "source_id": segment.segment_id,
            "title": segment.title, "text": segment.text, "authors": segment.authors, "year": segment.year,
            "doi": segment.doi, "journal": segment.journal, "lang": segment.lang, "source_kind": segment.source_kind,
            "flags": ";".join(f for f in segment.flags if not f.startswith("duplicate_of:")),
        })
    return rows


def model_text(title: str, text: str) -> str:
    from samverdi_nlp.model import segment_text

    return segment_text(title, text)


def abstract_of(title: str, text: str) -> str:
    """The record's text without the title it starts with (references are stored as title, blank line, abstract).

    >>> abstract_of("A title", "A title\\n\\nThe abstract.")
    'The abstract.'
    """
    if title and text.startswith(title):
        return text[len(title):].strip()
    return text


@dataclass
class Ranking:
    """A fitted ranking over all records of a project."""

    record_ids: np.ndarray
    scores: np.ndarray
    prior: np.ndarray | None
    ranker: PriorRanker
    decision_version: int
    n_decisions: int
    seconds: float


class ScreeningProject:
    """An open project: use :meth:`init` or :meth:`open`, then :meth:`close` (or a ``with`` block)."""

    def __init__(self, folder: Path, store: ScreeningStore) -> None:
        self.folder = folder
        self.store = store
        self.settings = ProjectSettings.from_dict(store.settings)
        self.codebook = load_codebook(folder / CODEBOOK_FILE)
        self.rule = ScreeningRule.from_codebook(self.codebook, self.settings.borderline)
        self._model = None
        self._features: tuple[sp.csr_matrix, np.ndarray] | None = None

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> ScreeningProject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ creating and opening

    @classmethod
    def init(
        cls,
        folder: str | Path,
        rows: list[dict[str, Any]],
        *,
        model_folder: str | Path | None,
        codebook: Codebook | None = None,
        query: str = DEFAULT_QUERY,
        refit_every: int = 1,
        borderline: str = "relevant",
    ) -> tuple[ScreeningProject, Any]:
        """Create a project from reference rows (:func:`reference_rows`), score them with the prior, store the first ranking."""
        folder = Path(folder)
        if not rows:
            raise ScreeningError("no references to screen were read; check the input files")
        model = None
        if model_folder is not None:
            from samverdi_nlp.model import load_model

            model = load_model(model_folder, codebook)
            codebook = model.codebook_
        codebook = codebook or load_codebook()
        rule = ScreeningRule.from_codebook(codebook, borderline)
        settings = ProjectSettings(
            prior="model" if model is not None else "none", query=query, refit_every=refit_every, borderline=borderline,
            codebook_sha256=codebook.sha256, model_sha256=model_fingerprint(Path(model_folder)) if model is not None else "",
        ).check()
        if model is not None:
            priors = _priors(model, rule, [model_text(r["title"], r["text"]) for r in rows])
            for row, p in zip(rows, priors):
                row["prior"] = float(p)
        folder_existed = folder.exists()
        store = ScreeningStore.create(folder, asdict(settings))
        try:
            _codebook_bytes = _read_codebook_bytes(codebook, Path(model_folder) if model is not None else None)
            with atomic_write(folder / CODEBOOK_FILE, "wb") as fh:
                fh.write(_codebook_bytes)
            if model is not None:
                _copy_model(Path(model_folder), folder / MODEL_DIR)
            summary = store.add_records(rows)
        except BaseException:
            store.close()
            _remove_project(folder, remove_folder=not folder_existed)
            raise
        project = cls(folder, store)
        project._model = model
        project.refit(force=True)
        return project, summary

    @classmethod
    def open(cls, folder: str | Path, codebook: Codebook | None = None) -> ScreeningProject:
        """Open an existing project; ``codebook``, when given, must be the project's."""
        folder = Path(folder)
        store = ScreeningStore.open(folder)
        try:
            if not (folder / CODEBOOK_FILE).is_file():
                raise ScreeningError(f"{CODEBOOK_FILE} is missing from the project; it cannot be used without it", path=folder)
            project = cls(folder, store)
        except BaseException:
            store.close()
            raise
        if codebook is not None and codebook.sha256 != project.codebook.sha256:
            project.close()
            raise ScreeningError(f"the project follows another codebook ({project.codebook.name}, sha {project.codebook.sha256[:12]}) "
                                 f"than --codebook ({codebook.name}, sha {codebook.sha256[:12]}); drop --codebook or use that codebook",
                                 path=folder)
        return project

    def add_references(self, rows: list[dict[str, Any]]) -> Any:
        """Add references to an existing project (deduplicated against it) and refit the ranking."""
        if self.settings.prior == "model":
            priors = _priors(self.model(), self.rule, [model_text(r["title"], r["text"]) for r in rows])
            for row, p in zip(rows, priors):
                row["prior"] = float(p)
        summary = self.store.add_records(rows)
        if summary.added:
            self.refit(force=True)
        return summary

    # ------------------------------------------------------------ model and features

    def model(self):
        """The project's prior model (its copy in the project folder), loaded once."""
        if self.settings.prior != "model":
            raise ScreeningError("this project has no prior model (it was made with --prior none)", path=self.folder)
        if self._model is None:
            from samverdi_nlp.model import load_model

            folder = self.folder / MODEL_DIR
            try:
                self._model = load_model(folder, self.codebook)
            except ModelError as exc:
                raise ScreeningError(f"the project's prior model cannot be loaded ({exc.message}); "
                                     "re-create the project with 'samverdi screen init'", path=folder) from exc
        return self._model

    def features(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """The records' TF-IDF matrix (rows in record-id order) and its vocabulary; cached on disk."""
        if self._features is not None:
            return self._features
        records = self.store.records()
        ids = records.index.to_numpy(dtype=np.int64)
        fingerprint = _fingerprint(ids, records["text"].tolist())
        cached = _load_features(self.folder / FEATURES_FILE, fingerprint)
        if cached is None:
            extractor = ScreeningFeatures()
            matrix = extractor.fit_transform([model_text(t, x) for t, x in zip(records["title"], records["text"])])
            cached = (matrix, extractor.vocabulary_)
            _save_features(self.folder / FEATURES_FILE, fingerprint, *cached)
        self._features = cached
        return cached

    # ------------------------------------------------------------ ranking

    def _ranker(self, balanced: bool = True) -> PriorRanker:
        return PriorRanker(C=self.settings.C, prior_strength=self.settings.prior_strength, balanced=balanced)

    def _labelled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(all record ids, row positions of screened records, their 0/1 relevance)."""
        ids = self.store.record_ids()
        decisions = self.store.current_decisions()
        position = {int(i): n for n, i in enumerate(ids)}
        rows = np.array([position[int(r)] for r in decisions["record"]], dtype=np.intp)
        y = np.array([int(self.rule.is_relevant(label)) for label in decisions["label"]], dtype=int)
        return ids, rows, y

    def priors(self) -> np.ndarray | None:
        if self.settings.prior != "model":
            return None
        return self.store.records()["prior"].to_numpy(dtype=float)

    def fit(self, *, balanced: bool = True) -> Ranking:
        """Fit the ranking on the current decisions (nothing is stored)."""
        start = time.perf_counter()
        version = self.store.decision_version()
        ids, rows, y = self._labelled()
        matrix, _ = self.features()
        prior = self.priors()
        prior_logit = None if prior is None else logit(prior)
        ranker = self._ranker(balanced).fit(matrix[rows], y, None if prior_logit is None else prior_logit[rows])
        scores = ranker.predict_proba(matrix, prior_logit)
        return Ranking(ids, scores, prior, ranker, version, len(rows), time.perf_counter() - start)

    def refit(self, *, force: bool = False) -> Ranking | None:
        """Refit and store the ranking when ``refit_every`` decisions have changed since the stored one (or ``force``)."""
        latest = self.store.latest_ranking()
        version = self.store.decision_version()
        if not force and latest is not None and version - int(latest["decision_version"]) < self.settings.refit_every:
            return None
        ranking = self.fit()
        self.store.save_ranking(ranking.record_ids, ranking.scores, decision_version=ranking.decision_version,
                                n_decisions=ranking.n_decisions, seconds=ranking.seconds, state=_ranker_state(ranking.ranker))
        return ranking

    def current_scores(self) -> tuple[np.ndarray, np.ndarray, PriorRanker | None]:
        """The stored ranking (refit first when it is stale): record ids, scores, and the ranker that made them."""
        fresh = self.refit()
        if fresh is not None:
            return fresh.record_ids, fresh.scores, fresh.ranker
        stored = self.store.scores()
        ids = self.store.record_ids()
        if len(stored) != len(ids):
            fresh = self.refit(force=True)
            return fresh.record_ids, fresh.scores, fresh.ranker
        latest = self.store.latest_ranking()
        return ids, stored.loc[ids, "score"].to_numpy(dtype=float), _ranker_from_state(latest["state"] if latest else None)

    def next_records(self, n: int = 10, *, query: str | None = None, skip: Iterable[int] = (), k_words: int = 6) -> pd.DataFrame:
        """The next ``n`` unscreened records by the query strategy, with scores and the words behind them."""
        ids, scores, ranker = self.current_scores()
        decided = set(self.store.current_decisions()["record"].astype(int))
        skipped = {int(i) for i in skip}
        labelled = np.array([int(i) in decided or int(i) in skipped for i in ids])
        strategy = get_query_strategy(query or self.settings.query)
        picks = strategy.query(scores, labelled, n)
        chosen = ids[picks]
        frame = self.store.records(chosen).copy()
        frame["score"] = scores[picks]
        frame["rank"] = [int((scores[~labelled] > s).sum()) + 1 for s in scores[picks]]
        frame["abstract"] = [abstract_of(t, x) for t, x in zip(frame["title"], frame["text"])]
        frame["evidence"] = self.evidence(chosen, ranker, k_words)
        return frame

    def evidence(self, record_ids: Sequence[int], ranker: PriorRanker | None, k: int = 6) -> list[list[str]]:
        """Words that raised each record's score: the prior model's, then the reviewer-learned ones."""
        records = self.store.records(record_ids)
        out: list[list[str]] = [[] for _ in record_ids]
        if self.settings.prior == "model":
            model = self.model()
            texts = [model_text(t, x) for t, x in zip(records["title"], records["text"])]
            for i, text in enumerate(texts):
                words: dict[str, float] = {}
                for label in self.rule.relevant:
                    for word, weight in model.evidence(text, "relevance", label, k):
                        words[word] = words.get(word, 0.0) + weight
                out[i] = [w for w, _ in sorted(words.items(), key=lambda kv: -kv[1])][:k]
        if ranker is not None and np.any(ranker.coef_):
            matrix, vocabulary = self.features()
            position = {int(r): n for n, r in enumerate(self.store.record_ids())}
            for i, record_id in enumerate(record_ids):
                ranked = top_contributions(matrix[position[int(record_id)]], ranker.coef_, vocabulary, 4 * k)
                learned = [w for w, _ in ranked if not set(w.split()) <= _stop_words()][:k]
                out[i] = out[i] + [f"+{w}" for w in learned if w not in out[i]][: max(2, k - len(out[i]))]
        return out

    # ------------------------------------------------------------ decisions

    def decide(self, record_id: int, label: str, reviewer: str, *, reason: str = "", origin: str = "cli") -> int:
        """Validate and durably store one decision; returns the decision id."""
        label = self.rule.check_label(label)
        if not reviewer.strip():
            raise ScreeningError("the reviewer name is empty; pass --reviewer NAME")
        return self.store.decide(int(record_id), label, reviewer.strip(), reason=reason, origin=origin)

    # ------------------------------------------------------------ status

    def status(self, stopping: StoppingRule | None = None) -> dict[str, Any]:
        """Where screening stands: counts, the stopping suggestion and the estimate of relevant records left."""
        n_records = self.store.n_records()
        decisions = self.store.current_decisions()
        relevant_in_order = [self.rule.is_relevant(label) for label in decisions["label"]]
        counts = {label: int((decisions["label"] == label).sum()) for label in self.rule.labels}
        advice = advise(relevant_in_order, n_records, stopping)
        calibrated = self.fit(balanced=False)
        decided = set(decisions["record"].astype(int))
        open_mask = np.array([int(i) not in decided for i in calibrated.record_ids])
        n_open = int(open_mask.sum())
        estimate = estimate_remaining(calibrated.scores[open_mask])
        found = int(sum(relevant_in_order))
        latest = self.store.latest_ranking()
        return {
            "n_records": n_records,
            "n_duplicates": self.store.n_duplicates(),
            "screened": len(decisions),
            "unscreened": n_open,
            "decisions": counts,
            "relevant_found": found,
            "relevant_labels": sorted(self.rule.relevant, key=self.rule.labels.index),
            "estimated_relevant_left": round(estimate, 1),
            "recent_rate_bound": None if len(relevant_in_order) < RATE_WINDOW else round(recent_rate_bound(relevant_in_order, n_open, RATE_WINDOW), 1),
            "estimated_recall": round(found / (found + estimate), 3) if found + estimate > 0 else None,
            "stopping": advice.to_dict(),
            "reviewers": sorted(decisions["reviewer"].unique().tolist()),
            "ranking": None if latest is None else {k: latest[k] for k in ("decision_version", "n_decisions", "created", "seconds")},
            "settings": asdict(self.settings),
            "relevant_in_order": [bool(r) for r in relevant_in_order],
        }


    # ------------------------------------------------------------ exports and imports

    def decisions_table(self) -> pd.DataFrame:
        """One row per record: its data, its standing decision (codebook label and ASReview 0/1) and its ranking."""
        records = self.store.records()
        decisions = self.store.current_decisions().set_index("record")
        scores = self.store.scores()
        frame = pd.DataFrame(index=records.index)
        frame["record_id"] = records.index
        for column in ("segment_id", "title", "authors", "year", "journal", "doi"):
            frame[column] = records[column]
        frame["abstract"] = [abstract_of(t, x) for t, x in zip(records["title"], records["text"])]
        frame["relevance"] = decisions["label"].reindex(records.index)
        frame["included"] = [None if pd.isna(label) else self.rule.to_asreview(label) for label in frame["relevance"]]
        frame["included"] = frame["included"].astype("Int64")
        for column in ("reason", "reviewer", "decided_at"):
            frame[column] = decisions[column].reindex(records.index)
        score = scores["score"].reindex(records.index)
        frame["score"] = score.round(4)
        frame["rank"] = score.rank(ascending=False, method="first").astype("Int64")
        return frame

    def annotation_frame(self) -> pd.DataFrame:
        """Screened records as a canonical annotation frame: the ``relevance`` dimension coded, the others not coded."""
        records = self.store.records()
        decisions = self.store.current_decisions()
        rows = []
        for _, decision in decisions.iterrows():
            record = records.loc[int(decision["record"])]
            row = {"segment_id": record["segment_id"], "doc_id": record["segment_id"], "coder": decision["reviewer"],
                   "lang": record["lang"], "source_kind": record["source_kind"] or "abstract", "title": record["title"],
                   "text": abstract_of(record["title"], record["text"]) or record["title"], "note": decision["reason"]}
            for dim in self.codebook.dimensions:
                row[dim.id] = decision["label"] if dim.id == "relevance" else None
            rows.append(row)
        columns = ["segment_id", "doc_id", "coder", "lang", "source_kind", "title", "text", "note", *self.codebook.dimension_ids]
        return pd.DataFrame(rows, columns=columns)

    def sheet_records(self, top: int, *, query: str | None = None) -> pd.DataFrame:
        """The next ``top`` records for a screening sheet (as :meth:`next_records`)."""
        return self.next_records(top, query=query)

    def read_sheet(self, path: str | Path, *, reviewer: str | None = None) -> list[tuple[int, str, str, str]]:
        """Decisions filled in a screening sheet (.xlsx or .csv): ``(record id, label, reviewer, reason)`` per filled row.

        Every problem (unknown id, unknown decision) is collected and reported
        at once, naming the rows, so nothing is imported from a sheet with errors.
        """
        from samverdi_nlp.annotations import read_raw_rows
        from samverdi_nlp.errors import SamverdiError

        p = Path(path)
        try:
            rows, numbers, _fmt = read_raw_rows(p)
        except SamverdiError as exc:
            raise ScreeningError(exc.message, path=p) from exc
        columns = {str(c).strip().lower(): c for row in rows for c in row}
        id_column = columns.get("id") or columns.get("record_id")
        label_column = columns.get("decision") or columns.get("relevance")
        if id_column is None or label_column is None:
            raise ScreeningError("needs an 'id' column and a 'decision' column (as written by 'samverdi screen export'); "
                                 f"columns found: {', '.join(map(str, columns.values()))}", path=p)
        reason_column, reviewer_column = columns.get("reason"), columns.get("reviewer")
        known = set(self.store.record_ids().tolist())
        out, problems = [], []
        for row, number in zip(rows, numbers):
            raw_label = str(row.get(label_column) or "").strip()
            if not raw_label:
                continue
            raw_id = str(row.get(id_column) or "").strip()
            try:
                record_id = int(float(raw_id))
            except ValueError:
                problems.append(f"row {number}: id {raw_id!r} is not a record number")
                continue
            if record_id not in known:
                problems.append(f"row {number}: no record {record_id} in this project")
                continue
            try:
                label = self.rule.check_label(raw_label)
            except ScreeningError as exc:
                problems.append(f"row {number}: {exc.message}")
                continue
            who = str(row.get(reviewer_column) or "").strip() if reviewer_column else ""
            reason = str(row.get(reason_column) or "").strip() if reason_column else ""
            out.append((record_id, label, who or reviewer or p.stem, reason))
        if problems:
            shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
            raise ScreeningError(f"{len(problems)} problem(s), nothing imported: {shown}", path=p)
        return out

    def import_decisions(self, decisions: list[tuple[int, str, str, str]], *, origin: str, replace: bool = False) -> dict[str, Any]:
        """Store sheet decisions in one transaction: new ones always, changed ones only with ``replace``.

        A changed decision is never replaced silently: without ``replace`` it
        is left as it is and listed in ``conflicts``.
        """
        current = self.store.current_decisions().set_index("record")["label"].to_dict()
        new, same, conflicts = [], 0, []
        for record_id, label, reviewer, reason in decisions:
            standing = current.get(record_id)
            if standing == label:
                same += 1
            elif standing is not None and not replace:
                conflicts.append({"record": record_id, "stored": standing, "sheet": label})
            else:
                new.append((record_id, label, reviewer, reason))
        stored = self.store.decide_many(new, origin=origin) if new else 0
        return {"imported": stored, "unchanged": same, "conflicts": conflicts}


# --------------------------------------------------------------------------- helpers


@functools.cache
def _stop_words() -> frozenset[str]:
    """Function words of every supported language: never shown as the words behind a score."""
    from samverdi_nlp.language import LANGUAGES, stop_words

    return frozenset().union(*(stop_words(lang) for lang in LANGUAGES))


def _priors(model, rule: ScreeningRule, texts: list[str]) -> np.ndarray:
    if "relevance" not in model.codebook_.dimension_ids:
        raise ScreeningError("the model's codebook has no 'relevance' dimension; screening needs a model trained with one")
    out = []
    for start in range(0, len(texts), PRIOR_BATCH):
        proba = model.predict_proba(texts[start:start + PRIOR_BATCH])["relevance"]
        out.append(rule.prior_from_proba(proba))
    return np.concatenate(out) if out else np.zeros(0)


def _read_codebook_bytes(codebook: Codebook, model_folder: Path | None) -> bytes:
    if model_folder is not None and (model_folder / CODEBOOK_FILE).is_file():
        return (model_folder / CODEBOOK_FILE).read_bytes()
    if codebook.source and Path(codebook.source).is_file():
        return Path(codebook.source).read_bytes()
    from importlib import resources

    return resources.files("samverdi_nlp").joinpath("codebook.toml").read_bytes()


def _copy_model(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(source, tmp)
    tmp.rename(target)


def _remove_project(folder: Path, *, remove_folder: bool) -> None:
    """Undo a failed ``init``: its files, and the folder when ``init`` made it."""
    from samverdi_nlp.screening.store import DB_NAME

    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", CODEBOOK_FILE, FEATURES_FILE):
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(folder / MODEL_DIR, ignore_errors=True)
    if remove_folder and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _fingerprint(ids: np.ndarray, texts: list[str]) -> str:
    digest = hashlib.sha256(np.asarray(ids, dtype=np.int64).tobytes())
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()


def _save_features(path: Path, fingerprint: str, matrix: sp.csr_matrix, vocabulary: np.ndarray) -> None:
    matrix = sp.csr_matrix(matrix)
    with atomic_output_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, data=matrix.data, indices=matrix.indices, indptr=matrix.indptr, shape=np.asarray(matrix.shape),
                     vocabulary=np.asarray(vocabulary, dtype=str), fingerprint=np.asarray(fingerprint))


def _load_features(path: Path, fingerprint: str) -> tuple[sp.csr_matrix, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            if str(npz["fingerprint"]) != fingerprint:
                return None
            matrix = sp.csr_matrix((npz["data"], npz["indices"], npz["indptr"]), shape=tuple(npz["shape"]))
            return matrix, npz["vocabulary"]
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is rebuilt


def _ranker_state(ranker: PriorRanker) -> bytes:
    nonzero = np.flatnonzero(ranker.coef_)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, indices=nonzero, values=ranker.coef_[nonzero], n_features=np.asarray(ranker.n_features_in_),
                        prior_coef=np.asarray(ranker.prior_coef_), intercept=np.asarray(ranker.intercept_),
                        params=np.asarray(json.dumps(ranker.get_params())))
    return buffer.getvalue()


def _ranker_from_state(state: bytes | None) -> PriorRanker | None:
    if not state:
        return None
    try:
        with np.load(io.BytesIO(state), allow_pickle=False) as npz:
            ranker = PriorRanker(**json.loads(str(npz["params"])))
            ranker.coef_ = np.zeros(int(npz["n_features"]))
            ranker.coef_[npz["indices"]] = npz["values"]
            ranker.n_features_in_ = int(npz["n_features"])
            ranker.prior_coef_ = float(npz["prior_coef"])
            ranker.intercept_ = float(npz["intercept"])
            return ranker
    except (OSError, ValueError, KeyError):
        return None
