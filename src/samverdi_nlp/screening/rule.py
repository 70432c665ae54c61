"""The screening rule: which labels of the codebook's ``relevance`` dimension count as relevant.

The codebook is data, so the labels are read from it, never named here. The
issue's rule maps codebook order onto screening roles: the first label is
*relevant* (include), the last is *irrelevant* (exclude), and any label in
between (borderline) counts as relevant unless ``borderline="exclude"``.
ASReview's 0/1 labels map to the last and the first label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samverdi_nlp.codebook import Codebook
from samverdi_nlp.errors import ScreeningError

RELEVANCE = "relevance"
BORDERLINE_CHOICES = ("relevant", "exclude")


@dataclass(frozen=True)
class ScreeningRule:
    """Relevance labels in codebook order and the subset that counts as relevant.

    >>> from samverdi_nlp.codebook import load_codebook
    >>> rule = ScreeningRule.from_codebook(load_codebook())
    >>> rule.labels, sorted(rule.relevant)
    (('include', 'borderline', 'exclude'), ['borderline', 'include'])
    >>> ScreeningRule.from_codebook(load_codebook(), borderline="exclude").is_relevant("borderline")
    False
    """

    labels: tuple[str, ...]
    relevant: frozenset[str]
    borderline: str = "relevant"

    @classmethod
    def from_codebook(cls, codebook: Codebook, borderline: str = "relevant") -> ScreeningRule:
        if borderline not in BORDERLINE_CHOICES:
            raise ScreeningError(f"borderline must be one of {', '.join(BORDERLINE_CHOICES)}, not {borderline!r}")
        dims = {d.id: d for d in codebook.dimensions}
        dim = dims.get(RELEVANCE)
        if dim is None or dim.multi_label or len(dim.labels) < 2:
            raise ScreeningError(
                f"the codebook {codebook.name!r} has no single-label '{RELEVANCE}' dimension with two or more labels; "
                "screening needs one (first label = relevant, last = irrelevant): use a model trained with such a codebook"
            )
        labels = dim.label_ids
        relevant = {labels[0]} | (set(labels[1:-1]) if borderline == "relevant" else set())
        return cls(labels=labels, relevant=frozenset(relevant), borderline=borderline)

    @property
    def positive(self) -> str:
        """The label an ASReview ``1`` maps to."""
        return self.labels[0]

    @property
    def negative(self) -> str:
        """The label an ASReview ``0`` maps to."""
        return self.labels[-1]

    def is_relevant(self, label: str) -> bool:
        return label in self.relevant

    def check_label(self, label: str, *, where: str = "") -> str:
        """``label`` if it is a relevance label, else an error listing the valid ones."""
        clean = str(label).strip().lower()
        if clean not in self.labels:
            prefix = f"{where}: " if where else ""
            raise ScreeningError(f"{prefix}unknown decision {label!r}; choose one of: {', '.join(self.labels)}")
        return clean

    def relevant_columns(self) -> np.ndarray:
        """Boolean mask over the labels (codebook order) that count as relevant."""
        return np.array([label in self.relevant for label in self.labels])

    def prior_from_proba(self, proba: np.ndarray) -> np.ndarray:
        """P(relevant) from the model's relevance probabilities (n, n_labels): the relevant columns summed."""
        proba = np.asarray(proba, dtype=float)
        if proba.ndim != 2 or proba.shape[1] != len(self.labels):
            raise ScreeningError(f"relevance probabilities have shape {proba.shape}; expected (n, {len(self.labels)})")
        return np.clip(proba[:, self.relevant_columns()].sum(axis=1), 0.0, 1.0)

    def to_asreview(self, label: str | None) -> int | None:
        """ASReview's label: 1 relevant, 0 irrelevant, None not screened."""
        if label is None:
            return None
        return 1 if self.is_relevant(label) else 0
