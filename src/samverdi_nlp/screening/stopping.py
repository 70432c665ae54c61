"""When to stop screening, and how many relevant records are probably still unscreened.

The stopping heuristic (documented in docs/screening.md) is a data-driven
rule of the kind the screening literature recommends (e.g. the SAFE
procedure): stop when **both**

1. at least ``min_share`` of the records are screened (default 10 %), and
2. the last ``run`` decisions in a row were irrelevant, where
   ``run = max(min_run, ceil(run_share · n_records))`` (default: 5 % of the
   records, at least 20).

It is a suggestion, not a guarantee: ``samverdi screen simulate`` reports
the recall at which the rule would have stopped on known data.

The estimate of relevant records left is the sum of the ranking's
probabilities over the unscreened records, from a ranker fitted without class
balancing so its probabilities stay calibrated. Because the screened records
were chosen by their scores (covariates the model sees), this estimate is
consistent when the model is well specified; it is shown next to the simple
bound *recent inclusion rate × records left* to make its uncertainty visible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StoppingRule:
    """The heuristic's parameters.

    >>> rule = StoppingRule()
    >>> rule.run_length(1300), rule.run_length(100)
    (65, 20)
    """

    min_share: float = 0.10
    run_share: float = 0.05
    min_run: int = 20

    def run_length(self, n_records: int) -> int:
        return max(self.min_run, math.ceil(self.run_share * n_records - 1e-9))

    def min_screened(self, n_records: int) -> int:
        return math.ceil(self.min_share * n_records - 1e-9)

    def stop_index(self, relevant_in_order: Sequence[bool], n_records: int) -> int | None:
        """How many records were screened when the rule first says stop (None: it never does).

        >>> StoppingRule(min_share=0.1, run_share=0.0, min_run=3).stop_index([1, 0, 1, 0, 0, 0, 0], 20)
        6
        """
        need_run = self.run_length(n_records)
        need_screened = self.min_screened(n_records)
        run = 0
        for position, relevant in enumerate(relevant_in_order, 1):
            run = 0 if relevant else run + 1
            if run >= need_run and position >= need_screened:
                return position
        return None


def trailing_irrelevant(relevant_in_order: Sequence[bool]) -> int:
    """Consecutive irrelevant decisions at the end of the sequence.

    >>> trailing_irrelevant([1, 0, 1, 0, 0])
    2
    """
    run = 0
    for relevant in reversed(list(relevant_in_order)):
        if relevant:
            break
        run += 1
    return run


@dataclass(frozen=True)
class StopAdvice:
    """Where a project stands against the stopping rule."""

    stop: bool
    screened: int
    n_records: int
    current_run: int
    run_needed: int
    min_screened: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def advise(relevant_in_order: Sequence[bool], n_records: int, rule: StoppingRule | None = None) -> StopAdvice:
    """The stopping suggestion for decisions in the order they were made.

    >>> advise([True] + [False] * 25, 200).stop
    True
    >>> advise([True] + [False] * 5, 200).stop
    False
    """
    rule = rule or StoppingRule()
    screened = len(relevant_in_order)
    run = trailing_irrelevant(relevant_in_order)
    need_run, need_screened = rule.run_length(n_records), rule.min_screened(n_records)
    done = screened >= n_records
    return StopAdvice(stop=done or (run >= need_run and screened >= need_screened), screened=screened, n_records=n_records,
                      current_run=run, run_needed=need_run, min_screened=need_screened)


def estimate_remaining(probabilities: np.ndarray) -> float:
    """Expected number of relevant records among those the probabilities belong to (the unscreened ones).

    >>> estimate_remaining(np.array([0.5, 0.25, 0.25]))
    1.0
    """
    return float(np.sum(np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)))


def recent_rate_bound(relevant_in_order: Sequence[bool], n_unscreened: int, window: int = 50) -> float:
    """Relevant share of the last ``window`` decisions times the records left: a cautious upper figure.

    Rankings put relevant records first, so the rate further down is usually lower.

    >>> recent_rate_bound([1] * 10 + [0] * 40 + [1] + [0] * 49, 1000)
    20.0
    """
    recent = list(relevant_in_order)[-window:]
    if not recent:
        return float("nan")
    return float(np.mean(recent)) * n_unscreened
