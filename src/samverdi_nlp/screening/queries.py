"""Query strategies: which unscreened records to show next, given the current scores.

Each strategy is a small named object with one method,
``query(scores, labelled_mask, n) -> indices``, in the style of ASReview's
queriers and small-text's query strategies. A strategy keeps no state between
calls: whatever varies from call to call (for example the random draw of
:class:`RandomQuery`) is derived from its parameters and from the
``labelled_mask`` it is given, so the same inputs always give the same
indices. Ties are broken by index, so a ranking never depends on hash order.

>>> import numpy as np
>>> scores = np.array([0.2, 0.9, 0.55, 0.7, 0.1])
>>> labelled = np.array([False, True, False, False, False])
>>> MostRelevantQuery().query(scores, labelled, 2).tolist()
[3, 2]
>>> UncertaintyQuery().query(scores, labelled, 2).tolist()
[2, 3]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from samverdi_nlp.errors import ScreeningError


class QueryStrategy(Protocol):
    """What every strategy offers: a ``name`` and a stateless ``query``."""

    name: str

    def query(self, scores: np.ndarray, labelled_mask: np.ndarray, n: int) -> np.ndarray:
        """Indices of up to ``n`` unlabelled records, the first to show first."""
        ...


def _candidates(scores: np.ndarray, labelled_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=float)
    labelled_mask = np.asarray(labelled_mask, dtype=bool)
    if scores.shape != labelled_mask.shape:
        raise ValueError(f"scores {scores.shape} and labelled_mask {labelled_mask.shape} differ in shape")
    open_idx = np.flatnonzero(~labelled_mask)
    return open_idx, scores[open_idx]


def _top(open_idx: np.ndarray, key: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` open indices with the smallest ``key``, ties by index (a stable sort)."""
    order = np.argsort(key, kind="stable")
    return open_idx[order[: max(n, 0)]]


@dataclass(frozen=True)
class MostRelevantQuery:
    """Highest score first (ASReview's ``max``): finds the relevant records soonest. The default."""

    name: str = "max"

    def query(self, scores: np.ndarray, labelled_mask: np.ndarray, n: int) -> np.ndarray:
        open_idx, open_scores = _candidates(scores, labelled_mask)
        return _top(open_idx, -open_scores, n)


@dataclass(frozen=True)
class UncertaintyQuery:
    """Scores closest to ``boundary`` first: teaches the ranker most, finds relevant records later."""

    name: str = "uncertainty"
    boundary: float = 0.5

    def query(self, scores: np.ndarray, labelled_mask: np.ndarray, n: int) -> np.ndarray:
        open_idx, open_scores = _candidates(scores, labelled_mask)
        return _top(open_idx, np.abs(open_scores - self.boundary), n)


@dataclass(frozen=True)
class RandomQuery:
    """Random order (a baseline for simulations). The draw depends on ``seed`` and on which records are labelled."""

    name: str = "random"
    seed: int = 0

    def query(self, scores: np.ndarray, labelled_mask: np.ndarray, n: int) -> np.ndarray:
        open_idx, _ = _candidates(scores, labelled_mask)
        rng = np.random.default_rng([self.seed, int(np.asarray(labelled_mask).sum())])
        return rng.permutation(open_idx)[: max(n, 0)]


@dataclass(frozen=True)
class MixedQuery:
    """Mostly most-relevant, with every ``every``-th record from uncertainty (ASReview's ``max_uncertainty`` idea).

    Which pick is which follows from how many records are already labelled, so
    the strategy needs no counter of its own.

    >>> import numpy as np
    >>> scores = np.array([0.95, 0.9, 0.5, 0.1])
    >>> MixedQuery(every=2).query(scores, np.zeros(4, bool), 3).tolist()
    [0, 2, 1]
    """

    name: str = "mixed"
    every: int = 5

    def query(self, scores: np.ndarray, labelled_mask: np.ndarray, n: int) -> np.ndarray:
        if self.every < 1:
            raise ValueError("every must be 1 or more")
        open_idx, open_scores = _candidates(scores, labelled_mask)
        by_score = list(_top(open_idx, -open_scores, len(open_idx)))
        by_doubt = list(_top(open_idx, np.abs(open_scores - 0.5), len(open_idx)))
        n_done = int(np.asarray(labelled_mask).sum())
        picked: list[int] = []
        taken: set[int] = set()
        for position in range(min(n, len(open_idx))):
            source = by_doubt if (n_done + position + 1) % self.every == 0 else by_score
            while source[0] in taken:
                source.pop(0)
            picked.append(int(source[0]))
            taken.add(int(source[0]))
        return np.asarray(picked, dtype=np.intp)


QUERY_STRATEGIES: dict[str, type] = {
    "max": MostRelevantQuery,
    "uncertainty": UncertaintyQuery,
    "mixed": MixedQuery,
    "random": RandomQuery,
}
DEFAULT_QUERY = "max"


def get_query_strategy(name: str, *, seed: int = 0) -> QueryStrategy:
    """The strategy called ``name``; an unknown name is an error that lists the known ones.

    >>> get_query_strategy("uncertainty").name
    'uncertainty'
    """
    if name not in QUERY_STRATEGIES:
        raise ScreeningError(f"unknown query strategy {name!r}; choose one of: {', '.join(QUERY_STRATEGIES)}")
    if name == "random":
        return RandomQuery(seed=seed)
    return QUERY_STRATEGIES[name]()
