"""Per-dimension classifiers, their thresholds, evidence, and a safe on-disk format.

Every dimension of the codebook becomes a set of binary, calibrated linear
heads over one shared feature backend (:mod:`samverdi_nlp.features`):

- multi-label dimensions: one head per label (one-vs-rest); a label is
  suggested when its calibrated probability reaches the label's threshold,
  tuned on out-of-fold predictions to maximise F1;
- single-label dimensions: one head per label, probabilities normalised to
  sum to one, the most probable label wins.

A head is ``p = sigmoid(a * (x·w + b) + c)``: the classifier's weights
(logistic regression or linear SVM) and a Platt calibration fitted on
out-of-fold scores. Because the whole model is weights, vocabularies and
numbers, it is saved as JSON + ``.npz`` and loaded with ``allow_pickle=False``:
loading a model never runs code from it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from samverdi_nlp.codebook import Codebook, load_codebook
from samverdi_nlp.errors import ModelError
from samverdi_nlp.features import BACKENDS, TOKEN, make_backend, normalise_for_features, tokenize

MODEL_FORMAT = "samverdi-model"
FORMAT_VERSION = 1
MODEL_FILES = ("features.json", "weights.npz", "codebook.toml")
ADJUDICATED_CODERS = ("adjudicated", "gold", "final")
Progress = Callable[[str], None]


@dataclass
class ModelConfig:
    """How a model is made. Written next to the model as ``config.json``."""

    backend: str = "tfidf"
    classifier: str = "logreg"  # logreg | svm
    C: float = 16.0  # chosen by grouped 3-fold CV over 1, 4, 16, 48 (docs/model.md)
    class_weight: str | None = "balanced"
    calibration_folds: int = 5
    min_threshold: float = 0.2
    max_threshold: float = 0.8
    review_margin: float = 0.1
    min_coverage: float = 0.5
    seed: int = 0
    n_jobs: int = -1  # worker processes for fitting heads (-1 = all cores); does not change the model
    backend_params: dict[str, Any] = field(default_factory=dict)

    def check(self) -> ModelConfig:
        if self.backend not in BACKENDS:
            raise ModelError(f"unknown backend {self.backend!r}; choose one of: {', '.join(BACKENDS)}")
        if self.classifier not in ("logreg", "svm"):
            raise ModelError(f"unknown classifier {self.classifier!r}; choose logreg or svm")
        if not 0 < self.min_threshold < self.max_threshold < 1:
            raise ModelError("thresholds must satisfy 0 < min_threshold < max_threshold < 1")
        if self.calibration_folds < 2:
            raise ModelError("calibration_folds must be 2 or more")
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ModelError(f"unknown config key(s): {', '.join(sorted(unknown))}; known: {', '.join(cls.__dataclass_fields__)}")
        return cls(**data).check()

    @classmethod
    def from_file(cls, path: str | Path) -> ModelConfig:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, TypeError) as exc:
            raise ModelError(f"cannot read model config ({exc})", path=path) from exc


def segment_text(title: str, text: str) -> str:
    """What a classifier reads: the title (if any) then the text."""
    title = (title or "").strip()
    return f"{title}\n{text}" if title and title not in text else text


def select_training_rows(frame: pd.DataFrame, coder: str | None = None) -> pd.DataFrame:
    """One row per segment: the codes that count for training.

    With ``coder`` given, that coder's rows. Otherwise, per segment, an
    adjudicated row (coder ``adjudicated``, ``gold`` or ``final``) when there is
    one, else the only row; a segment coded by several coders with no
    adjudicated row is an error (run ``samverdi adjudicate`` or pass --coder).
    """
    if frame.empty:
        raise ModelError("no annotated segments to train on")
    if "tie" in frame.columns:
        tied = frame[frame["tie"].astype(str).str.lower().isin(["yes", "true", "1"])]
        if len(tied):
            raise ModelError(f"{len(tied)} adjudicated row(s) (e.g. segment {tied.iloc[0]['segment_id']!r}) still have an "
                             "unresolved tie; decide them, set 'tie' to 'no', then train")
    if coder:
        chosen = frame[frame["coder"] == coder]
        if chosen.empty:
            raise ModelError(f"no rows by coder {coder!r}; coders in the data: {', '.join(sorted(frame['coder'].unique()))}")
        return chosen.drop_duplicates("segment_id").sort_values("segment_id").reset_index(drop=True)
    rank = frame["coder"].map(lambda c: 0 if c in ADJUDICATED_CODERS else 1)
    ordered = frame.assign(_rank=rank).sort_values(["segment_id", "_rank", "coder"])
    best = ordered.groupby("segment_id", sort=True).head(1)
    unresolved = ordered[ordered["_rank"] == 1].groupby("segment_id")["coder"].nunique()
    adjudicated = set(ordered.loc[ordered["_rank"] == 0, "segment_id"])
    conflict = [s for s, n in unresolved.items() if n > 1 and s not in adjudicated]
    if conflict:
        coders = sorted(frame.loc[frame["segment_id"].isin(conflict), "coder"].unique())
        raise ModelError(
            f"{len(conflict)} segment(s) (e.g. {conflict[0]!r}) are coded by several coders ({', '.join(coders)}) "
            "with no adjudicated row; run 'samverdi adjudicate' or pass --coder NAME"
        )
    return best.drop(columns="_rank").reset_index(drop=True)


def label_matrix(frame: pd.DataFrame, codebook: Codebook, dimension: str) -> np.ndarray:
    """Binary indicator matrix (segments × labels) of one dimension; rows not coded are all zero."""
    dim = codebook.dimension(dimension)
    out = np.zeros((len(frame), len(dim.labels)), dtype=np.int8)
    for i, value in enumerate(frame[dimension]):
        if value is None:
            continue
        values = value if dim.multi_label else (value,)
        for j, label in enumerate(dim.label_ids):
            out[i, j] = label in values
    return out


def data_hash(frame: pd.DataFrame, codebook: Codebook) -> str:
    """Content hash of training rows: ids, texts and codes, independent of file layout and order."""
    dims = list(codebook.dimension_ids)
    rows = sorted(
        json.dumps([r["segment_id"], r["title"], r["text"], *[list(r[d]) if isinstance(r[d], tuple) else r[d] for d in dims]],
                   ensure_ascii=False)
        for r in frame.to_dict(orient="records")
    )
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _best_threshold(y: np.ndarray, p: np.ndarray, lo: float, hi: float) -> float:
    """Threshold in [lo, hi] that maximises F1 of ``p >= t`` on out-of-fold data."""
    best_t, best_f1 = 0.5, -1.0
    for t in np.round(np.arange(lo, hi + 1e-9, 0.025), 3):
        pred = p >= t
        tp = int(np.sum(pred & (y == 1)))
        f1 = 2 * tp / max(int(pred.sum()) + int(y.sum()), 1)
        if f1 > best_f1 + 1e-12:
            best_t, best_f1 = float(t), f1
    return best_t


class CodingModel(BaseEstimator):
    """Suggests codes for every dimension of a codebook. sklearn-style: ``fit`` returns self.

    >>> model = CodingModel(ModelConfig(calibration_folds=2))
    >>> model.config.backend
    'tfidf'
    """

    def __init__(self, config: ModelConfig | None = None, codebook: Codebook | None = None) -> None:
        self.config = config or ModelConfig()
        self.codebook = codebook

    # ---------------------------------------------------------------- training

    def _classifier(self):
        cfg = self.config
        if cfg.classifier == "svm":
            return LinearSVC(C=cfg.C / 10, class_weight=cfg.class_weight, random_state=cfg.seed, max_iter=5000)
        # dual liblinear: far faster when features outnumber segments, same solution as the primal
        return LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, solver="liblinear", dual=True,
                                  random_state=cfg.seed, max_iter=2000)

    def _fit_head(self, X, y: np.ndarray) -> tuple[np.ndarray, float, float, float, float]:
        """Weights, bias, Platt (a, c) and F1-optimal threshold of one binary label."""
        cfg = self.config
        n_pos = int(y.sum())
        n_neg = len(y) - n_pos
        if n_pos == 0 or n_neg == 0:  # constant label: no weights, prior probability
            prior = (n_pos + 0.5) / (len(y) + 1.0)
            return np.zeros(X.shape[1], dtype=np.float32), float(np.log(prior / (1 - prior))), 1.0, 0.0, 0.5
        folds = min(cfg.calibration_folds, n_pos, n_neg)
        oof = np.zeros(len(y))
        if folds >= 2:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=cfg.seed)
            for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
                clf = self._classifier().fit(X[train_idx], y[train_idx])
                oof[test_idx] = clf.decision_function(X[test_idx])
            platt = LogisticRegression(C=100.0, solver="lbfgs").fit(oof.reshape(-1, 1), y)
            a, c = float(platt.coef_[0, 0]), float(platt.intercept_[0])
            threshold = _best_threshold(y, _sigmoid(a * oof + c), cfg.min_threshold, cfg.max_threshold)
        else:
            a, c, threshold = 1.0, 0.0, 0.5
        clf = self._classifier().fit(X, y)
        return clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0]), a, c, threshold

    def fit(self, frame: pd.DataFrame, progress: Progress | None = None) -> CodingModel:
        """Fit on a canonical annotation frame with one row per segment (see :func:`select_training_rows`)."""
        self.config.check()
        codebook = self.codebook or load_codebook()
        frame = frame.sort_values("segment_id").reset_index(drop=True)
        texts = [segment_text(t, x) for t, x in zip(frame["title"], frame["text"])]
        if len(texts) < 10:
            raise ModelError(f"only {len(texts)} segments; training needs at least 10")
        if progress:
            progress(f"featurising {len(texts)} segments ({self.config.backend})")
        self.features_ = make_backend(self.config.backend, self.config.backend_params)
        X = self.features_.fit_transform(texts)
        self.heads_: dict[str, dict[str, np.ndarray]] = {}
        for dim in codebook.dimensions:
            coded = frame[dim.id].notna().to_numpy()
            if not coded.any():
                raise ModelError(f"no segment is coded on dimension {dim.id!r}; the codebook needs it coded to train")
            Y = label_matrix(frame, codebook, dim.id)
            Xd = X[np.flatnonzero(coded)]
            # heads are fitted side by side in worker processes (liblinear seeds one C-level RNG per process,
            # so threads would make dual coordinate descent nondeterministic); the result does not depend on n_jobs.
            parts = Parallel(n_jobs=self.config.n_jobs, prefer="processes")(
                delayed(self._fit_head)(Xd, Y[coded, j]) for j in range(len(dim.labels)))
            if progress:
                progress(f"trained {dim.id} ({len(dim.labels)} labels, {int(coded.sum())} segments)")
            self.heads_[dim.id] = {
                "W": np.vstack([p[0] for p in parts]),
                "b": np.array([p[1] for p in parts]),
                "a": np.array([p[2] for p in parts]),
                "c": np.array([p[3] for p in parts]),
                "threshold": np.array([p[4] for p in parts]),
                "support": Y[coded].sum(axis=0).astype(np.int64),
            }
        self.codebook_ = codebook
        self.profile_ = {
            "n_segments": len(frame),
            "lang": {k: int(v) for k, v in frame["lang"].replace("", "unknown").value_counts().items()},
            "source_kind": {k: int(v) for k, v in frame["source_kind"].replace("", "unknown").value_counts().items()},
        }
        self.data_sha256_ = data_hash(frame, codebook)
        return self

    # ---------------------------------------------------------------- prediction

    def _features(self, texts: Sequence[str]):
        check_is_fitted(self, ["features_", "heads_"])
        return self.features_.transform(list(texts))

    def _proba(self, X, dim_id: str) -> np.ndarray:
        h = self.heads_[dim_id]
        scores = np.asarray(X @ h["W"].T) + h["b"]
        p = _sigmoid(h["a"] * scores + h["c"])
        if not self.codebook_.dimension(dim_id).multi_label:
            p = p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)
        return p

    def predict_proba(self, texts: Sequence[str], features: Any = None) -> dict[str, np.ndarray]:
        """Calibrated probabilities per dimension: arrays of shape (n_texts, n_labels).

        ``features`` (from ``features_.transform(texts)``) saves transforming twice
        when the caller also wants evidence.
        """
        X = self._features(texts) if features is None else features
        return {dim.id: self._proba(X, dim.id) for dim in self.codebook_.dimensions}

    def decide(self, proba: dict[str, np.ndarray], threshold: float | None = None) -> dict[str, list[Any]]:
        """Turn probabilities into codes: label tuples (multi-label) or one label (single-label)."""
        out: dict[str, list[Any]] = {}
        for dim in self.codebook_.dimensions:
            p = proba[dim.id]
            if dim.multi_label:
                t = self.heads_[dim.id]["threshold"] if threshold is None else np.full(p.shape[1], threshold)
                out[dim.id] = [tuple(lab for lab, on in zip(dim.label_ids, row >= t) if on) for row in p]
            else:
                out[dim.id] = [dim.label_ids[int(i)] for i in p.argmax(axis=1)]
        return out

    def needs_review(self, proba: dict[str, np.ndarray], texts: Sequence[str], langs: Sequence[str] | None = None) -> np.ndarray:
        """True where a coder should look: scores near a threshold, an unsure single label, or unfamiliar text."""
        margin = self.config.review_margin
        flag = np.zeros(len(texts), dtype=bool)
        for dim in self.codebook_.dimensions:
            p = proba[dim.id]
            if dim.multi_label:
                flag |= (np.abs(p - self.heads_[dim.id]["threshold"]) < margin).any(axis=1)
            elif p.shape[1] > 1:
                top2 = np.sort(p, axis=1)[:, -2:]
                flag |= (top2[:, 1] - top2[:, 0]) < 2 * margin
        if hasattr(self.features_, "coverage"):
            flag |= self.features_.coverage(list(texts)) < self.config.min_coverage
        if langs is not None:
            known = set(self.profile_["lang"])
            flag |= np.array([bool(lang) and lang not in known for lang in langs])
        return flag

    def predict(self, texts: Sequence[str] | pd.DataFrame, threshold: float | None = None) -> pd.DataFrame:
        """Codes for each text: one column per dimension in the canonical annotation cell format."""
        if isinstance(texts, pd.DataFrame):
            texts = [segment_text(t, x) for t, x in zip(texts.get("title", [""] * len(texts)), texts["text"])]
        texts = list(texts)
        codes = self.decide(self.predict_proba(texts), threshold)
        return pd.DataFrame({"text": texts, **codes})

    # ---------------------------------------------------------------- evidence

    def evidence(self, text: str, dimension: str, label: str, k: int = 5) -> list[tuple[str, float]]:
        """Words of ``text`` that pushed ``label``'s score up most, with their contribution.

        Contributions come from the model's own weights: each word n-gram's
        ``x·w`` goes to its words; each character n-gram's to the words that
        contain it. Only the TF-IDF part of a backend can be traced to words.
        """
        return self._evidence_rows([text], [[(dimension, label)]], k, with_scores=True)[0].get(dimension, {}).get(label, [])

    def evidence_batch(self, texts: Sequence[str], codes: dict[str, list[Any]], k: int = 5,
                       features: Any = None) -> list[dict[str, dict[str, list[str]]]]:
        """For each text, ``{dimension: {label: [words...]}}`` for the labels suggested in ``codes``."""
        wanted = []
        for i in range(len(texts)):
            pairs = []
            for dim in self.codebook_.dimensions:
                value = codes[dim.id][i]
                pairs += [(dim.id, lab) for lab in (value if dim.multi_label else (value,))]
            wanted.append(pairs)
        return self._evidence_rows(texts, wanted, k, with_scores=False, features=features)

    def _evidence_rows(self, texts: Sequence[str], wanted: list[list[tuple[str, str]]], k: int, *, with_scores: bool,
                       features: Any = None) -> list[dict[str, Any]]:
        tfidf = getattr(self.features_, "tfidf", self.features_)
        if not hasattr(tfidf, "word_"):
            return [{} for _ in texts]
        word_vocab, char_vocab = tfidf.word_.vocabulary_, tfidf.char_.vocabulary_
        n_word = len(word_vocab)
        if features is None:
            X = tfidf.transform(list(texts)).tocsr()
        else:  # the TF-IDF columns come first in every backend that has them
            X = features.tocsr()[:, : n_word + len(char_vocab)]
        out = []
        for i, text in enumerate(texts):
            cols, vals = X.indices[X.indptr[i]:X.indptr[i + 1]], X.data[X.indptr[i]:X.indptr[i + 1]]
            words, credit = _feature_credit(text, cols, tfidf, word_vocab)
            labels = [(dim_id, label, self.codebook_.dimension(dim_id).label_ids.index(label)) for dim_id, label in wanted[i]]
            result: dict[str, dict[str, Any]] = {}
            if labels:
                # x·w of every feature of the segment, for every wanted label; only what raised the score counts
                contrib = np.vstack([vals * self.heads_[d]["W"][j, cols] * self.heads_[d]["a"][j] for d, _, j in labels])
                scores = np.asarray((credit.T @ np.clip(contrib, 0, None).T).T) if words else np.zeros((len(labels), 0))
                surface = _surface_forms(text)
                for (dim_id, label, _), row in zip(labels, scores):
                    best = [int(t) for t in np.argsort(-row, kind="stable")[:k] if row[t] > 0]
                    found = [(surface.get(words[t], words[t]), round(float(row[t]), 4)) for t in best]
                    result.setdefault(dim_id, {})[label] = found if with_scores else [w for w, _ in found]
            out.append(result)
        return out

    # ---------------------------------------------------------------- saving

    def save(self, folder: str | Path, *, evaluation: dict[str, Any] | None = None, overwrite: bool = False) -> Path:
        """Write the model as JSON + .npz files and ``meta.json`` with their hashes."""
        check_is_fitted(self, ["features_", "heads_"])
        out = Path(folder)
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise ModelError("model folder exists and is not empty; choose another --out or pass --force", path=out)
        out.mkdir(parents=True, exist_ok=True)
        lists, arrays = self.features_.to_state()
        for dim_id, head in self.heads_.items():
            for key, value in head.items():
                arrays[f"head/{dim_id}/{key}"] = value
        payload = {
            "features.json": json.dumps({"backend": self.config.backend, "state": lists}, ensure_ascii=False).encode("utf-8"),
            "codebook.toml": _codebook_toml(self.codebook_),
        }
        tmp = out / ".weights.npz.tmp"
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        payload["weights.npz"] = tmp.read_bytes()
        tmp.unlink()
        for name, data in payload.items():
            _write_bytes(out / name, data)
        (out / "config.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n", encoding="utf-8")
        meta = {
            "format": MODEL_FORMAT,
            "format_version": FORMAT_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "codebook_name": self.codebook_.name,
            "codebook_sha256": self.codebook_.sha256,
            "data_sha256": self.data_sha256_,
            "config": asdict(self.config),
            "seed": self.config.seed,
            "training_profile": self.profile_,
            "library_versions": _versions(),
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in payload.items()},
            "evaluation": evaluation or {},
        }
        _write_bytes(out / "meta.json", (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
        return out


_CHAR_COLUMNS: dict[tuple[int, str], np.ndarray] = {}


def _char_columns(word: str, tfidf: Any) -> np.ndarray:
    """Character n-gram columns of `` word `` in a vectorizer's vocabulary (cached: words repeat across segments)."""
    key = (id(tfidf.char_.vocabulary_), word)
    found = _CHAR_COLUMNS.get(key)
    if found is None:
        if len(_CHAR_COLUMNS) > 500_000:  # bound the cache
            _CHAR_COLUMNS.clear()
        vocab, padded = tfidf.char_.vocabulary_, f" {word} "
        low, high = tfidf.char_ngrams
        grams = {padded[s : s + n] for n in range(low, high + 1) for s in range(len(padded) - n + 1)}
        found = _CHAR_COLUMNS[key] = np.array(sorted(vocab[g] for g in grams if g in vocab), dtype=np.int64)
    return found


def _feature_credit(text: str, cols: np.ndarray, tfidf: Any, word_vocab: dict[str, int]) -> tuple[list[str], sp.csr_matrix]:
    """The segment's evidence words and a (features × words) matrix sharing each feature out over its words.

    A word n-gram belongs to its own words; a character n-gram to every word
    of the segment that contains it (as the vectorizer pads words: " word ").
    Function words and words under three letters are never evidence.
    """
    stop = _evidence_stop_words()
    sequence = tokenize(text)
    words = sorted({t for t in sequence if len(t) > 2 and t not in stop})
    index = {t: n for n, t in enumerate(words)}
    n_word = len(word_vocab)
    position = {int(c): p for p, c in enumerate(cols) if c < n_word}
    rows: list[int] = []
    owners: list[int] = []
    low, high = tfidf.word_ngrams
    for n in range(low, high + 1):
        for start in range(len(sequence) - n + 1):
            gram = sequence[start : start + n]
            p = position.get(word_vocab.get(" ".join(gram), -1))
            if p is not None:
                for t in gram:
                    if t in index:
                        rows.append(p)
                        owners.append(index[t])
    if words:  # character n-grams, vectorised: each word's cached columns looked up among the segment's columns
        char_cols = [_char_columns(word, tfidf) + n_word for word in words]
        wanted = np.concatenate(char_cols)
        word_of = np.repeat(np.arange(len(words)), [len(c) for c in char_cols])
        order = np.argsort(cols, kind="stable")
        found = np.clip(np.searchsorted(cols[order], wanted), 0, len(cols) - 1) if len(cols) else np.zeros(0, dtype=int)
        hit = cols[order][found] == wanted if len(cols) else np.zeros(0, dtype=bool)
        rows.extend(order[found[hit]].tolist())
        owners.extend(word_of[hit].tolist())
    if not rows:
        return words, sp.csr_matrix((len(cols), len(words)))
    pairs = np.unique(np.array(rows, dtype=np.int64) * max(len(words), 1) + np.array(owners, dtype=np.int64))
    rows_u, owners_u = np.divmod(pairs, max(len(words), 1))
    share = 1.0 / np.bincount(rows_u, minlength=len(cols))[rows_u]
    return words, sp.csr_matrix((share, (rows_u, owners_u)), shape=(len(cols), len(words)))


@functools.lru_cache(maxsize=1)
def _evidence_stop_words() -> frozenset[str]:
    """Function words of every supported language: never shown as evidence (they carry no meaning for a coder)."""
    from samverdi_nlp.language import LANGUAGES, stop_words

    return frozenset().union(*(stop_words(lang) for lang in LANGUAGES))


def _surface_forms(text: str) -> dict[str, str]:
    """Normalised token → how it is written in the text (first occurrence)."""
    out: dict[str, str] = {}
    for match in TOKEN.finditer(text):  # the tokenizer's own pattern, so keys match its tokens
        out.setdefault(normalise_for_features(match.group()), match.group())
    return out


def _codebook_toml(codebook: Codebook) -> bytes:
    if codebook.source and Path(codebook.source).is_file():
        return Path(codebook.source).read_bytes()
    from importlib import resources

    return resources.files("samverdi_nlp").joinpath("codebook.toml").read_bytes()


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _versions() -> dict[str, str]:
    import scipy
    import sklearn

    from samverdi_nlp import __version__

    return {"samverdi-nlp": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__, "pandas": pd.__version__}


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The ``meta.json`` of a model folder, checked to be ours."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError("model folder not found; train one with 'samverdi train' or use models/default", path=folder)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise ModelError("not a samverdi model folder (no meta.json)", path=folder)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError("meta.json is not valid JSON; the model is damaged: retrain it", path=meta_path) from exc
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise ModelError("not a samverdi model (meta.json has another format); use a folder written by 'samverdi train'", path=folder)
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"model format version {meta.get('format_version')} is not supported (this tool reads {FORMAT_VERSION}); retrain it", path=folder)
    return meta


def record_evaluation(folder: str | Path, summary: dict[str, Any]) -> None:
    """Store an evaluation summary in a model's ``meta.json`` (the weights' hashes are unaffected)."""
    folder = Path(folder)
    meta = read_meta(folder)
    meta["evaluation"] = summary
    _write_bytes(folder / "meta.json", (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def load_model(folder: str | Path, codebook: Codebook | None = None) -> CodingModel:
    """Load a model folder safely (JSON and ``.npz`` without pickle), checking every file's hash.

    With ``codebook`` given, it must be the codebook the model was trained on.
    """
    folder = Path(folder)
    meta = read_meta(folder)
    blobs: dict[str, bytes] = {}
    for name in MODEL_FILES:
        path = folder / name
        if not path.is_file():
            raise ModelError(f"model file {name} is missing; retrain with 'samverdi train'", path=folder)
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != meta.get("files", {}).get(name):
            raise ModelError(f"{name} does not match the hash in meta.json: the model was changed after training; retrain it", path=folder)
        blobs[name] = data
    model_codebook = _load_codebook_bytes(blobs["codebook.toml"], folder)
    if model_codebook.sha256 != meta.get("codebook_sha256"):
        raise ModelError("codebook.toml does not match meta.json; the model is damaged", path=folder)
    if codebook is not None and codebook.sha256 != model_codebook.sha256:
        raise ModelError(
            f"model was trained for another codebook ({model_codebook.name}, sha {model_codebook.sha256[:12]}) "
            f"than the one given ({codebook.name}, sha {codebook.sha256[:12]}); retrain it with that codebook",
            path=folder,
        )
    try:
        features = json.loads(blobs["features.json"].decode("utf-8"))
        import io

        with np.load(io.BytesIO(blobs["weights.npz"]), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"model files cannot be read safely ({exc}); retrain it", path=folder) from exc
    config = ModelConfig.from_dict(meta["config"])
    model = CodingModel(config, model_codebook)
    backend = BACKENDS.get(features.get("backend"))
    if backend is None:
        raise ModelError(f"unknown feature backend {features.get('backend')!r} in features.json", path=folder)
    model.features_ = backend.from_state(features["state"], arrays)
    model.heads_ = {}
    for dim in model_codebook.dimensions:
        try:
            model.heads_[dim.id] = {k: arrays[f"head/{dim.id}/{k}"] for k in ("W", "b", "a", "c", "threshold", "support")}
        except KeyError as exc:
            raise ModelError(f"weights for dimension {dim.id!r} are missing; retrain the model", path=folder) from exc
    model.codebook_ = model_codebook
    model.profile_ = meta.get("training_profile", {"lang": {}, "source_kind": {}})
    model.data_sha256_ = meta.get("data_sha256", "")
    model.meta_ = meta
    return model


def _load_codebook_bytes(data: bytes, folder: Path) -> Codebook:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "codebook.toml"
        path.write_bytes(data)
        cb = load_codebook(path)
    return Codebook(cb.name, cb.version, cb.dimensions, cb.sha256, source=str(folder / "codebook.toml"))
