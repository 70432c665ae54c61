"""Inter-coder agreement: reliability statistics, disagreements and adjudication.

Pure functions: nothing here reads files or prints. Two layers.

**Statistics on a units × coders table.** Rows are segments, columns are
coders, ``None`` (or NaN) marks a segment a coder did not code. This is the
orientation of an annotation table, and the *transpose* of the
``krippendorff`` package's coders × units. :func:`percent_agreement`,
:func:`cohen_kappa`, :func:`fleiss_kappa`, :func:`krippendorff_alpha` (nominal
or MASI distance, any number of coders, missing data), :func:`gwet_ac1`,
:func:`exact_match` and :func:`bootstrap_ci` return an :class:`Estimate`.
When a statistic is undefined (0/0: no variation, no shared segment) its
``value`` is ``None`` and ``reason`` says why. It is never NaN and never an
exception.

**Annotation frames → reports.** :func:`agreement_report` returns the
documented JSON-ready dict (docs/agreement.md). :func:`disagreements` lists
the segments to adjudicate. :func:`adjudicate` prefills final codes by
majority. :func:`add_model_coder` adds a model's predictions as one more
coder.

Every statistic is computed from weighted per-segment category counts. The
point estimate gives each segment weight 1. A bootstrap resample gives each
segment the number of times it was drawn. Both run through the same code, and
all statistics of a dimension share the same resamples.

>>> units = [["a", "a"], ["b", "b"], ["a", "b"], ["b", None]]
>>> percent_agreement(units).value
0.6666666666666666
>>> krippendorff_alpha([["a", "a"], ["a", "a"]])
Estimate(value=None, reason='no variation: all coders gave the same value', n_units=2)
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from samverdi_nlp.annotations import META_COLUMNS, normalise_text, text_segment_id
from samverdi_nlp.codebook import Codebook, Dimension
from samverdi_nlp.errors import AgreementError, ModelError

ADJUDICATED_CODER = "adjudicated"
KRIPPENDORFF_RELIABLE = 0.800
KRIPPENDORFF_TENTATIVE = 0.667
# Upper bounds of the Landis & Koch (1977) bands; below 0 is "poor".
LANDIS_KOCH_BANDS = ((0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"), (1.00, "almost perfect"))
DEFAULT_N_BOOT = 1000
# A bootstrap interval needs at least this share of resamples where the statistic is defined.
MIN_DEFINED_RESAMPLES = 0.5
# Bootstrap weights are drawn in blocks of about this many cells to bound memory.
_BOOT_BLOCK_CELLS = 2_000_000
_EPS = 1e-12

Units = Sequence[Sequence[Any]] | pd.DataFrame | np.ndarray
Distance = str | Callable[[Any, Any], float]


@dataclass(frozen=True)
class Estimate:
    """A statistic's value, or ``None`` with the ``reason`` it is undefined; ``n_units`` segments used."""

    value: float | None
    reason: str = ""
    n_units: int = 0


@dataclass(frozen=True)
class Interval:
    """A bootstrap confidence interval, or ``None`` bounds with a ``reason``."""

    low: float | None
    high: float | None
    level: float
    n_defined: int
    n_boot: int
    reason: str = ""


# --------------------------------------------------------------------------- values and distances


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _category(value: Any) -> Hashable | None:
    """A cell as a hashable category: label collections become frozensets."""
    if _is_missing(value):
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_set(value: Any) -> frozenset:
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(value)
    return frozenset({value})


def nominal_distance(a: Any, b: Any) -> float:
    """0 for equal values, 1 otherwise.

    >>> nominal_distance("culture", "culture"), nominal_distance("culture", "process")
    (0.0, 1.0)
    """
    return 0.0 if _category(a) == _category(b) else 1.0


def masi_distance(a: Any, b: Any) -> float:
    """MASI distance between two label sets (Passonneau 2006): ``1 - J * M``.

    ``J`` is the Jaccard overlap and ``M`` is 1 for identical sets, 2/3 when
    one set contains the other, 1/3 for some overlap and 0 for none. Two empty
    sets are identical, so their distance is 0. NLTK divides by zero there.

    >>> masi_distance({"a", "b"}, {"a", "b"}), masi_distance(set(), set())
    (0.0, 0.0)
    >>> round(masi_distance({"a", "b"}, {"a", "b", "c", "d"}), 4)  # NLTK's documented value
    0.6667
    >>> masi_distance({"a"}, {"b"}), masi_distance(set(), {"a"})
    (1.0, 1.0)
    """
    first, second = _as_set(a), _as_set(b)
    if first == second:
        return 0.0
    shared = len(first & second)
    if shared == min(len(first), len(second)):
        monotonicity = 2 / 3
    elif shared:
        monotonicity = 1 / 3
    else:
        return 1.0
    return 1.0 - shared / len(first | second) * monotonicity


_DISTANCES: dict[str, Callable[[Any, Any], float]] = {"nominal": nominal_distance, "masi": masi_distance}


def _distance_function(distance: Distance) -> Callable[[Any, Any], float]:
    if callable(distance):
        return distance
    if distance not in _DISTANCES:
        raise ValueError(f"unknown distance {distance!r}; choose one of {', '.join(_DISTANCES)} or pass a function")
    return _DISTANCES[distance]


# --------------------------------------------------------------------------- encoding


@dataclass(frozen=True)
class _Coded:
    """Units × coders as category indices (-1 = missing) plus units × categories counts."""

    codes: np.ndarray
    categories: tuple[Hashable, ...]

    @property
    def counts(self) -> np.ndarray:
        counts = np.zeros((self.codes.shape[0], len(self.categories)))
        for column in self.codes.T:
            rows = np.nonzero(column >= 0)[0]
            counts[rows, column[rows]] += 1
        return counts

    def distances(self, distance: Distance) -> np.ndarray:
        measure = _distance_function(distance)
        size = len(self.categories)
        return np.array([[measure(a, b) for b in self.categories] for a in self.categories], dtype=float).reshape(size, size)


def _rows(units: Units) -> tuple[list[list[Any]], int]:
    """Rows of cells and the number of coders (kept when there are no rows)."""
    if isinstance(units, pd.DataFrame):
        return units.astype(object).to_numpy().tolist(), units.shape[1]
    if isinstance(units, np.ndarray):
        return units.tolist(), (units.shape[1] if units.ndim == 2 else 0)
    rows = [list(row) for row in units]
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        raise ValueError(f"every unit (row) needs one cell per coder; found rows of {sorted(widths)} cells")
    return rows, (widths.pop() if widths else 0)


def _sets(units: Units) -> list[list[frozenset | None]]:
    rows, _ = _rows(units)
    return [[None if _is_missing(cell) else _as_set(cell) for cell in row] for row in rows]


def _encode(units: Units, categories: Sequence[Any] | None = None, *, n_coders: int | None = None) -> _Coded:
    rows, width = _rows(units)
    width = width if n_coders is None else n_coders
    index: dict[Hashable, int] = {}
    if categories is not None:
        for value in categories:
            index.setdefault(_category(value), len(index))
    codes = np.full((len(rows), width), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            value = _category(cell)
            if value is None:
                continue
            if value not in index:
                if categories is not None:
                    raise ValueError(f"value {cell!r} (unit {i}, coder {j}) is not one of the categories given")
                index[value] = len(index)
            codes[i, j] = index[value]
    return _Coded(codes, tuple(index))


# --------------------------------------------------------------------------- the weighted engine
# Each function takes counts (units × categories) or codes and a weight matrix
# (resamples × units) and returns one value per resample, NaN where undefined.


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, float), np.asarray(denominator, float))
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > _EPS)
    return out


def _pair_agreement(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: the share of coder pairs that agree, and whether it has two codes or more."""
    coded = counts.sum(axis=1)
    pairable = coded >= 2
    agreement = np.zeros(len(coded))
    pairs = coded[pairable] * (coded[pairable] - 1)
    agreement[pairable] = (counts[pairable] * (counts[pairable] - 1)).sum(axis=1) / pairs
    return agreement, pairable


def _sums(weights: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    """Weighted sums over units of each per-unit vector or matrix, in one matrix product (one pass over ``weights``)."""
    blocks = [np.asarray(c, dtype=float) for c in columns]
    blocks = [b[:, None] if b.ndim == 1 else b for b in blocks]
    totals = weights @ np.hstack(blocks)
    out, start = [], 0
    for block, column in zip(blocks, columns):
        width = block.shape[1]
        out.append(totals[:, start] if np.ndim(column) == 1 else totals[:, start:start + width])
        start += width
    return out


def _w_percent_agreement(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    agreement, pairable = _pair_agreement(counts)
    agreed, n_units = _sums(weights, agreement, pairable)
    return _ratio(agreed, n_units)


def _w_alpha(counts: np.ndarray, distances: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Krippendorff's alpha from the coincidences of pairable units: 1 - (n-1) * sum(D_o) / sum(D_e)."""
    coded = counts.sum(axis=1)
    pairable = coded >= 2
    values = counts * pairable[:, None]
    observed = np.zeros(len(coded))
    inner = np.einsum("ik,kl,il->i", values[pairable], distances, values[pairable])
    observed[pairable] = inner / (coded[pairable] - 1)
    totals_by_category, disagreement = _sums(weights, values, observed)
    total = totals_by_category.sum(axis=1)
    expected = np.einsum("bk,kl,bl->b", totals_by_category, distances, totals_by_category)
    return 1.0 - _ratio((total - 1.0) * disagreement, expected)


def _w_fleiss(counts: np.ndarray, n_coders: int, weights: np.ndarray) -> np.ndarray:
    """Fleiss' kappa over the units coded by every coder."""
    if n_coders < 2:
        return np.full(weights.shape[0], np.nan)
    complete = counts.sum(axis=1) == n_coders
    per_unit = np.where(complete, ((counts**2).sum(axis=1) - n_coders) / (n_coders * (n_coders - 1)), 0.0)
    n_units, agreement, by_category = _sums(weights, complete, per_unit, counts * complete[:, None])
    observed = _ratio(agreement, n_units)
    shares = _ratio(by_category, (n_units * n_coders)[:, None])
    expected = (shares**2).sum(axis=1)
    return _ratio(observed - expected, 1.0 - expected)


def _w_ac1(counts: np.ndarray, n_categories: int, weights: np.ndarray) -> np.ndarray:
    """Gwet's AC1 (Gwet 2008; 2014, ch. 4) for any number of coders with missing codes."""
    if n_categories < 2:
        return np.full(weights.shape[0], np.nan)
    agreement, pairable = _pair_agreement(counts)
    coded = counts.sum(axis=1)
    shares = np.zeros_like(counts)
    shares[pairable] = counts[pairable] / coded[pairable, None]
    n_units, agreed, share_sums = _sums(weights, pairable, agreement, shares)
    observed = _ratio(agreed, n_units)
    prevalence = _ratio(share_sums, n_units[:, None])
    expected = (prevalence * (1.0 - prevalence)).sum(axis=1) / (n_categories - 1)
    return _ratio(observed - expected, 1.0 - expected)


def _w_cohen(first: np.ndarray, second: np.ndarray, n_categories: int, weights: np.ndarray) -> np.ndarray:
    """Cohen's kappa over the units both coders coded."""
    both = (first >= 0) & (second >= 0)
    rows = np.nonzero(both)[0]
    marginal_first = np.zeros((len(first), n_categories))
    marginal_second = np.zeros((len(first), n_categories))
    marginal_first[rows, first[rows]] = 1
    marginal_second[rows, second[rows]] = 1
    n_units, agreed, by_first, by_second = _sums(weights, both, both & (first == second), marginal_first, marginal_second)
    observed = _ratio(agreed, n_units)
    expected = (_ratio(by_first, n_units[:, None]) * _ratio(by_second, n_units[:, None])).sum(axis=1)
    return _ratio(observed - expected, 1.0 - expected)


def _resample_weights(n_units: int, n_boot: int, seed: Any) -> list[np.ndarray]:
    """Blocks of bootstrap weights: how often each unit was drawn in each resample (units drawn with replacement)."""
    rng = np.random.default_rng(seed)
    block = max(1, _BOOT_BLOCK_CELLS // max(n_units, 1))
    blocks = []
    for start in range(0, n_boot, block):
        rows = min(block, n_boot - start)
        draws = rng.integers(0, n_units, size=(rows, n_units))
        flat = (draws + (np.arange(rows) * n_units)[:, None]).ravel()
        blocks.append(np.bincount(flat, minlength=rows * n_units).reshape(rows, n_units).astype(float))
    return blocks


def _replicate(measure: Callable[[np.ndarray], dict[Any, np.ndarray]], n_units: int, n_boot: int, seed: Any) -> dict[Any, np.ndarray]:
    """Run ``measure`` on every bootstrap resample; one array of n_boot values per key."""
    if n_boot <= 0 or n_units == 0:
        return {}
    parts: dict[Any, list[np.ndarray]] = defaultdict(list)
    for weights in _resample_weights(n_units, n_boot, seed):
        for key, values in measure(weights).items():
            parts[key].append(values)
    return {key: np.concatenate(values) for key, values in parts.items()}


# --------------------------------------------------------------------------- public statistics


def _undefined_reason(coded: _Coded, statistic: str, n_categories: int | None = None) -> str:
    codes = coded.codes
    present = codes >= 0
    if statistic == "cohen_kappa":
        used_rows = present.all(axis=1)
        if not used_rows.any():
            return "no segment coded by both coders"
        if len(np.unique(codes[used_rows])) == 1:
            return "no variation: both coders gave the same value to every segment"
    elif statistic == "fleiss_kappa":
        if codes.shape[1] < 2:
            return "needs two coders or more"
        used_rows = present.all(axis=1)
        if not used_rows.any():
            return "no segment coded by every coder"
        if len(np.unique(codes[used_rows])) == 1:
            return "no variation: all coders gave the same value on the segments every coder coded"
    else:
        if statistic == "ac1" and (n_categories or 0) < 2:
            return "needs two categories or more: pass the scale's categories"
        used_rows = present.sum(axis=1) >= 2
        if not used_rows.any():
            return "no segment coded by two coders or more"
        values = codes[used_rows]
        if len(np.unique(values[values >= 0])) == 1:
            return "no variation: all coders gave the same value"
    return "undefined for these data (zero expected disagreement)"


def _estimate(values: np.ndarray, coded: _Coded, statistic: str, n_units: int, n_categories: int | None = None) -> Estimate:
    value = float(values[0])
    if math.isnan(value):
        return Estimate(None, _undefined_reason(coded, statistic, n_categories), n_units)
    return Estimate(value, "", n_units)


def _n_pairable(coded: _Coded) -> int:
    return int(((coded.codes >= 0).sum(axis=1) >= 2).sum())


def percent_agreement(units: Units) -> Estimate:
    """Share of agreeing coder pairs, averaged over segments with two codes or more.

    For two coders this is the share of shared segments coded alike. It is not
    corrected for chance.

    >>> percent_agreement([["x", "x", "y"], ["x", "x", "x"]]).value  # 1/3 and 3/3 of pairs agree
    0.6666666666666666
    """
    coded = _encode(units)
    one = np.ones((1, coded.codes.shape[0]))
    return _estimate(_w_percent_agreement(coded.counts, one), coded, "percent_agreement", _n_pairable(coded))


def exact_match(units: Units) -> Estimate:
    """Share of coder pairs giving identical label *sets* (multi-label cells), averaged over segments.

    >>> exact_match([[("a", "b"), ("b", "a")], [("a",), ("a", "b")], [(), ()]]).value
    0.6666666666666666
    """
    coded = _encode(_sets(units))
    one = np.ones((1, coded.codes.shape[0]))
    return _estimate(_w_percent_agreement(coded.counts, one), coded, "exact_match", _n_pairable(coded))


def cohen_kappa(first: Sequence[Any], second: Sequence[Any]) -> Estimate:
    """Cohen's kappa of two coders over the segments both coded (``None`` = not coded).

    Reproduces scikit-learn's documented ``cohen_kappa_score`` example:

    >>> y1 = ["negative", "positive", "negative", "neutral", "positive"]
    >>> y2 = ["negative", "positive", "negative", "neutral", "negative"]
    >>> round(cohen_kappa(y1, y2).value, 4)
    0.6875

    Where scikit-learn returns NaN (both coders always gave one same value)
    the value is ``None`` with a reason:

    >>> cohen_kappa(["a", "a"], ["a", "a"]).reason
    'no variation: both coders gave the same value to every segment'
    """
    if len(first) != len(second):
        raise ValueError(f"the two coders need one code per segment each; got {len(first)} and {len(second)}")
    coded = _encode(list(zip(first, second)))
    one = np.ones((1, coded.codes.shape[0]))
    values = _w_cohen(coded.codes[:, 0], coded.codes[:, 1], len(coded.categories), one)
    return _estimate(values, coded, "cohen_kappa", int((coded.codes >= 0).all(axis=1).sum()))


def fleiss_kappa(units: Units) -> Estimate:
    """Fleiss' kappa over the segments coded by every coder (rows with a gap are left out).

    >>> round(fleiss_kappa([["a", "a", "a"], ["a", "b", "b"], ["b", "b", "b"], ["a", "a", "b"]]).value, 4)
    0.3333
    """
    coded = _encode(units)
    one = np.ones((1, coded.codes.shape[0]))
    values = _w_fleiss(coded.counts, coded.codes.shape[1], one)
    return _estimate(values, coded, "fleiss_kappa", int((coded.codes >= 0).all(axis=1).sum()))


def krippendorff_alpha(units: Units, *, distance: Distance = "nominal") -> Estimate:
    """Krippendorff's alpha for any number of coders with missing codes.

    ``distance`` is ``"nominal"`` (the default here; the ``krippendorff``
    package defaults to interval), ``"masi"`` for label sets, or a function of
    two values. Segments with fewer than two codes carry no information and are
    left out.

    Krippendorff (2011), *Computing Krippendorff's alpha-reliability*, example C:
    four coders, twelve units, missing values, nominal alpha 0.743.

    >>> units = [
    ...     [1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
    ...     [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5], [None, None, 1, 1], [None, 3, None, None],
    ... ]
    >>> result = krippendorff_alpha(units)
    >>> round(result.value, 3), result.n_units
    (0.743, 11)
    """
    coded = _encode(_sets(units) if distance == "masi" else units)
    one = np.ones((1, coded.codes.shape[0]))
    values = _w_alpha(coded.counts, coded.distances(distance), one)
    return _estimate(values, coded, "alpha", _n_pairable(coded))


def gwet_ac1(units: Units, *, categories: Sequence[Any] | None = None) -> Estimate:
    """Gwet's AC1 for any number of coders with missing codes (segments with two codes or more).

    ``categories`` is the scale (all labels of the dimension). Without it, the
    categories seen in the data are used. AC1 stays defined when every coder
    gives the same value (it is then 1) and it does not collapse when one value
    dominates. That is the "kappa paradox": here kappa is 0.375 at 80 %
    agreement.

    >>> first = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    >>> second = [1, 1, 1, 1, 1, 1, 1, 0, 1, 0]
    >>> round(gwet_ac1(list(zip(first, second))).value, 4), round(cohen_kappa(first, second).value, 4)
    (0.7059, 0.375)
    >>> gwet_ac1([["a", "a"], ["a", "a"]], categories=["a", "b"]).value
    1.0
    """
    coded = _encode(units, categories)
    one = np.ones((1, coded.codes.shape[0]))
    n_categories = len(coded.categories)
    values = _w_ac1(coded.counts, n_categories, one)
    return _estimate(values, coded, "ac1", _n_pairable(coded), n_categories)


STATISTICS = ("percent_agreement", "exact_match", "cohen_kappa", "fleiss_kappa", "alpha", "masi_alpha", "ac1")


def _statistic_measure(units: Units, statistic: str, categories: Sequence[Any] | None) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; choose one of {', '.join(STATISTICS)}")
    if statistic in ("exact_match", "masi_alpha"):
        units = _sets(units)
    coded = _encode(units, categories if statistic == "ac1" else None)
    counts = coded.counts
    if statistic in ("percent_agreement", "exact_match"):
        return (lambda w: _w_percent_agreement(counts, w)), coded.codes.shape[0]
    if statistic == "cohen_kappa":
        if coded.codes.shape[1] != 2:
            raise ValueError(f"Cohen's kappa needs exactly two coders (columns); got {coded.codes.shape[1]}")
        first, second, n_cat = coded.codes[:, 0], coded.codes[:, 1], len(coded.categories)
        return (lambda w: _w_cohen(first, second, n_cat, w)), coded.codes.shape[0]
    if statistic == "fleiss_kappa":
        n_coders = coded.codes.shape[1]
        return (lambda w: _w_fleiss(counts, n_coders, w)), coded.codes.shape[0]
    if statistic in ("alpha", "masi_alpha"):
        distances = coded.distances("masi" if statistic == "masi_alpha" else "nominal")
        return (lambda w: _w_alpha(counts, distances, w)), coded.codes.shape[0]
    n_cat = len(coded.categories)
    return (lambda w: _w_ac1(counts, n_cat, w)), coded.codes.shape[0]


def _interval(point: float, replicates: np.ndarray | None, level: float, n_boot: int) -> Interval:
    if math.isnan(point):
        return Interval(None, None, level, 0, n_boot, "the statistic itself is undefined")
    if replicates is None or len(replicates) == 0:
        return Interval(None, None, level, 0, n_boot, "no bootstrap (n_boot = 0)")
    defined = replicates[~np.isnan(replicates)]
    if len(defined) < MIN_DEFINED_RESAMPLES * len(replicates):
        return Interval(None, None, level, len(defined), n_boot,
                        f"too little variation for a bootstrap interval: defined in only {len(defined)} of {len(replicates)} resamples")
    low, high = np.quantile(defined, [(1 - level) / 2, 1 - (1 - level) / 2])
    reason = "" if len(defined) == len(replicates) else (
        f"from the {len(defined)} of {len(replicates)} resamples where it is defined (the others had no variation)")
    return Interval(float(low), float(high), level, len(defined), n_boot, reason)


def bootstrap_ci(
    units: Units,
    statistic: str,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    level: float = 0.95,
    categories: Sequence[Any] | None = None,
) -> Interval:
    """Percentile bootstrap interval of a statistic, resampling segments (rows) with replacement.

    ``statistic`` is one of :data:`STATISTICS`. Resamples where the statistic is
    undefined are left out and counted (``n_defined``). Below half of them the
    interval is ``None`` with a reason. The same seed gives the same interval.

    >>> units = [["a", "a"], ["b", "b"], ["a", "b"], ["b", "b"], ["a", "a"], ["b", "a"], ["a", "a"], ["b", "b"]]
    >>> ci = bootstrap_ci(units, "alpha", n_boot=200, seed=1)
    >>> ci.low < krippendorff_alpha(units).value < ci.high, ci == bootstrap_ci(units, "alpha", n_boot=200, seed=1)
    (True, True)
    """
    measure, n_units = _statistic_measure(units, statistic, categories)
    point = float(measure(np.ones((1, n_units)))[0]) if n_units else math.nan
    replicates = _replicate(lambda w: {"value": measure(w)}, n_units, n_boot, seed).get("value")
    return _interval(point, replicates, level, n_boot)


# --------------------------------------------------------------------------- plain-language readings


def landis_koch(value: float) -> str:
    """Landis & Koch's (1977) band for a kappa-type coefficient.

    >>> [landis_koch(v) for v in (-0.1, 0.1, 0.3, 0.5, 0.6875, 0.9)]
    ['poor', 'slight', 'fair', 'moderate', 'substantial', 'almost perfect']
    """
    if value < 0:
        return "poor"
    for upper, band in LANDIS_KOCH_BANDS:
        if value <= upper:
            return band
    return LANDIS_KOCH_BANDS[-1][1]


def krippendorff_band(value: float) -> str:
    """Krippendorff's (2004) rule: ``reliable`` at 0.800 or more, ``tentative`` from 0.667, else ``unreliable``.

    >>> krippendorff_band(0.743), krippendorff_band(0.8), krippendorff_band(0.5)
    ('tentative', 'reliable', 'unreliable')
    """
    if value >= KRIPPENDORFF_RELIABLE:
        return "reliable"
    if value >= KRIPPENDORFF_TENTATIVE:
        return "tentative"
    return "unreliable"


_SYMBOLS = {"alpha": "α", "kappa": "κ", "fleiss_kappa": "Fleiss κ", "ac1": "AC1", "percent_agreement": "agreement", "exact_match": "exact match"}


def reading(statistic: str, value: float | None, ci: Sequence[float] | None = None, *, reason: str = "", level: float = 0.95) -> str:
    """One plain-language sentence about a statistic, its interval and its threshold.

    >>> reading("alpha", 0.743, (0.61, 0.86))
    'α = 0.743 (95% CI 0.610 to 0.860): tentative (0.667 ≤ α < 0.800), good enough only for tentative conclusions; but the interval reaches below 0.667'
    >>> reading("kappa", 0.6875)
    'κ = 0.688: substantial agreement (Landis & Koch)'
    >>> reading("alpha", None, reason="no variation: all coders gave the same value")
    'α undefined: no variation: all coders gave the same value'
    """
    symbol = _SYMBOLS.get(statistic, statistic)
    if value is None:
        return f"{symbol} undefined: {reason}" if reason else f"{symbol} undefined"
    interval = f" ({level:.0%} CI {ci[0]:.3f} to {ci[1]:.3f})" if ci else ""
    if statistic in ("percent_agreement", "exact_match"):
        return f"{symbol} {value:.1%}{interval}: share of coder pairs that agree, not corrected for chance"
    if statistic != "alpha":
        return f"{symbol} = {value:.3f}{interval}: {landis_koch(value)} agreement (Landis & Koch)"
    band = krippendorff_band(value)
    reliable, tentative = f"{KRIPPENDORFF_RELIABLE:.3f}", f"{KRIPPENDORFF_TENTATIVE:.3f}"
    if band == "reliable":
        text, floor = f"reliable (α ≥ {reliable}), good enough to draw conclusions", KRIPPENDORFF_RELIABLE
    elif band == "tentative":
        text, floor = f"tentative ({tentative} ≤ α < {reliable}), good enough only for tentative conclusions", KRIPPENDORFF_TENTATIVE
    else:
        text, floor = f"unreliable (α < {tentative}), too low to draw conclusions from", None
    sentence = f"{symbol} = {value:.3f}{interval}: {text}"
    if ci and floor is not None and ci[0] < floor:
        sentence += f"; but the interval reaches below {floor:.3f}"
    return sentence


# --------------------------------------------------------------------------- frames: matching segments


def _preferred_id(ids: Sequence[str], texts: Sequence[str]) -> str:
    """The id a text-matched unit keeps: a real id before a derived text hash, then the smallest."""
    real = sorted(i for i, t in zip(ids, texts) if i != text_segment_id(t))
    return real[0] if real else sorted(ids)[0]


def _unit_keys(frame: pd.DataFrame) -> tuple[list[str], list[bool]]:
    """Which segment each row codes: its segment_id, or, when no other coder used that id, the unit with the same text.

    A text joins rows only when it is unambiguous: at most one id under it is
    shared by several coders, and no coder has two different ids under it (a
    heading repeated in two documents stays two segments).
    """
    ids = [str(v) for v in frame["segment_id"]]
    coders = [str(v) for v in frame["coder"]]
    raw_texts = [str(v) for v in frame["text"]]
    coders_of_id: dict[str, set[str]] = defaultdict(set)
    for segment, coder in zip(ids, coders):
        coders_of_id[segment].add(coder)
    shared = {segment for segment, who in coders_of_id.items() if len(who) >= 2}
    rows_of_text: dict[str, list[int]] = defaultdict(list)
    for row, text in enumerate(raw_texts):
        key = normalise_text(text)
        if key:
            rows_of_text[key].append(row)
    keys, by_text = list(ids), [False] * len(ids)
    for rows in rows_of_text.values():
        group_ids = {ids[r] for r in rows}
        if len(group_ids) < 2 or all(ids[r] in shared for r in rows):
            continue
        shared_ids = {ids[r] for r in rows if ids[r] in shared}
        ids_of_coder: dict[str, set[str]] = defaultdict(set)
        for r in rows:
            ids_of_coder[coders[r]].add(ids[r])
        if len(shared_ids) > 1 or any(len(s) > 1 for s in ids_of_coder.values()):
            continue
        target = next(iter(shared_ids)) if shared_ids else _preferred_id([ids[r] for r in rows], [raw_texts[r] for r in rows])
        for r in rows:
            if ids[r] != target:
                keys[r] = target
                by_text[r] = True
    return keys, by_text


def _check_frame(frame: pd.DataFrame, codebook: Codebook) -> None:
    missing = [c for c in ("segment_id", "coder", "text") if c not in frame.columns]
    if missing:
        raise AgreementError(f"the annotation frame lacks column(s) {', '.join(missing)}; read it with read_annotations")
    if not any(d.id in frame.columns for d in codebook.dimensions):
        raise AgreementError(f"no codebook dimension in the tables; expected one or more of {', '.join(codebook.dimension_ids)}")


def match_segments(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where rows coding the same segment share one ``segment_id`` (text fallback, see :func:`_unit_keys`).

    >>> frame = pd.DataFrame({"segment_id": ["s1", "t1", "s2"], "coder": ["ann", "bo", "ann"],
    ...                       "text": ["Open  budget meetings.", "open budget meetings.", "Other."]})
    >>> match_segments(frame)["segment_id"].tolist()
    ['s1', 's1', 's2']
    """
    keys, _ = _unit_keys(frame)
    return frame.assign(segment_id=keys)


def _coders(frame: pd.DataFrame, coders: Sequence[str] | None, model: str | None) -> list[str]:
    present = list(dict.fromkeys(str(c) for c in frame["coder"]))
    if model is not None and model not in present:
        raise AgreementError(f"no rows by the model coder {model!r}; coders in the tables: {', '.join(sorted(present))}")
    if coders:
        unknown = [c for c in coders if c not in present]
        if unknown:
            raise AgreementError(f"unknown coder(s) {', '.join(map(repr, unknown))}; coders in the tables: {', '.join(sorted(present))}")
        chosen = list(dict.fromkeys(c for c in coders if c != model))
    else:
        chosen = sorted(c for c in present if c != model)
    return chosen


def _dimensions(frame: pd.DataFrame, codebook: Codebook, dimensions: Sequence[str] | None) -> list[Dimension]:
    if dimensions:
        return [codebook.dimension(d) for d in dict.fromkeys(dimensions)]
    return [d for d in codebook.dimensions if d.id in frame.columns and not frame[d.id].map(_is_missing).all()]


def _canonical_code(value: Any, label_ids: tuple[str, ...], dim: Dimension, unit: str, coder: str) -> Any:
    """A cell checked against the codebook; label sets in codebook order."""
    labels = [value] if isinstance(value, str) else list(value)
    if any(lab not in label_ids for lab in labels) or (not dim.multi_label and len(labels) != 1):
        raise AgreementError(
            f"segment {unit!r}, coder {coder!r}: {dim.id} code {value!r} does not fit the codebook "
            f"({'multi' if dim.multi_label else 'single'}-label; allowed: {', '.join(label_ids)})")
    return tuple(lab for lab in label_ids if lab in labels) if dim.multi_label else labels[0]


def _tables(frame: pd.DataFrame, dims: Sequence[Dimension], coders: Sequence[str]) -> tuple[dict[str, pd.DataFrame], dict[str, bool]]:
    """Per dimension a units × coders table of canonical codes (None = not coded), and which units were text-matched.

    Units keep their order of first appearance; a dimension's table has the
    units at least one of ``coders`` coded in it.
    """
    keys, by_text = _unit_keys(frame)
    units = list(dict.fromkeys(keys))
    matched_by_text: dict[str, bool] = dict.fromkeys(units, False)
    for key, flag in zip(keys, by_text):
        matched_by_text[key] |= flag
    frame_coders = [str(c) for c in frame["coder"]]
    wanted = set(coders)
    tables = {}
    for dim in dims:
        cells: dict[str, dict[str, Any]] = defaultdict(dict)
        values = frame[dim.id].tolist() if dim.id in frame.columns else [None] * len(frame)
        label_ids = dim.label_ids
        for key, coder, value in zip(keys, frame_coders, values):
            if coder not in wanted or _is_missing(value):
                continue
            value = _canonical_code(value, label_ids, dim, key, coder)
            if coder in cells[key] and cells[key][coder] != value:
                raise AgreementError(
                    f"segment {key!r} is coded twice by {coder!r} with different {dim.id} codes "
                    f"({cells[key][coder]!r} and {value!r}); rows with the same text count as one segment, "
                    "so fix the tables or make the texts distinct")
            cells[key][coder] = value
        coded_units = [u for u in units if u in cells]
        tables[dim.id] = pd.DataFrame(
            {coder: pd.Series([cells[u].get(coder) for u in coded_units], index=coded_units, dtype=object) for coder in coders},
            index=pd.Index(coded_units, name="segment_id", dtype=object),
            columns=list(coders),
        )
    return tables, matched_by_text


def reliability_data(frame: pd.DataFrame, codebook: Codebook, dimension: str, *, coders: Sequence[str] | None = None) -> pd.DataFrame:
    """One dimension as a units × coders table (index segment_id, ``None`` = not coded), after matching segments.

    This is the input the statistics functions take; transpose it for the
    ``krippendorff`` package.
    """
    _check_frame(frame, codebook)
    dim = codebook.dimension(dimension)
    tables, _ = _tables(frame, [dim], _coders(frame, coders, None))
    return tables[dim.id]


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class _View:
    """Codes of one dimension (or one of its labels) on a set of units, ready for the engine."""

    coded: _Coded
    counts: np.ndarray
    distances: np.ndarray
    n_categories: int


def _view(rows: list[list[Any]], n_coders: int, categories: Sequence[Any] | None, distance: Distance, n_categories: int | None = None) -> _View:
    coded = _encode(rows, categories, n_coders=n_coders)
    return _View(coded, coded.counts, coded.distances(distance), n_categories or len(coded.categories))


def _views(table: pd.DataFrame, dim: Dimension) -> dict[str | None, _View]:
    """The dimension-level view (key None) and one presence/absence view per label."""
    rows = table.astype(object).to_numpy().tolist()
    width = table.shape[1]
    views: dict[str | None, _View] = {}
    if dim.multi_label:
        views[None] = _view([[None if _is_missing(c) else frozenset(c) for c in row] for row in rows], width, None, "masi")
    else:
        views[None] = _view(rows, width, dim.label_ids, "nominal")
    top = views[None].coded
    flag_distances = np.array([[0.0, 1.0], [1.0, 0.0]])
    for label in dim.label_ids:
        # Category index 1 (True) where the coder's code contains the label, 0 (False) where not, -1 not coded.
        has_label = np.array([label in _as_set(c) for c in top.categories] + [False], dtype=np.int64)
        codes = np.where(top.codes >= 0, has_label[top.codes], -1)
        coded = _Coded(codes, (False, True))
        views[label] = _View(coded, coded.counts, flag_distances, 2)
    return views


def _pair_columns(n_coders: int) -> list[tuple[int, int]]:
    return list(itertools.combinations(range(n_coders), 2))


def _measure(views: dict[str | None, _View], multi_label: bool, pairs: Sequence[tuple[int, int]], weights: np.ndarray) -> dict[tuple, np.ndarray]:
    """Every statistic of one dimension, its labels and its coder pairs, for each row of ``weights``."""
    out: dict[tuple, np.ndarray] = {}
    top = views[None]
    n_coders = top.coded.codes.shape[1]
    labels = [k for k in views if k is not None]
    for label in labels:
        view = views[label]
        out[("label", label, "percent_agreement")] = _w_percent_agreement(view.counts, weights)
        out[("label", label, "alpha")] = _w_alpha(view.counts, view.distances, weights)
        out[("label", label, "ac1")] = _w_ac1(view.counts, 2, weights)
        out[("label", label, "fleiss_kappa")] = _w_fleiss(view.counts, n_coders, weights)
        out[("label", label, "kappa")] = (
            _w_cohen(view.coded.codes[:, 0], view.coded.codes[:, 1], 2, weights) if n_coders == 2
            else out[("label", label, "fleiss_kappa")])
    out[("alpha",)] = _w_alpha(top.counts, top.distances, weights)
    if multi_label:
        # Agreement on label decisions: the mean over labels (every label has the same segments).
        out[("percent_agreement",)] = np.mean([out[("label", lab, "percent_agreement")] for lab in labels], axis=0)
        out[("exact_match",)] = _w_percent_agreement(top.counts, weights)
    else:
        out[("percent_agreement",)] = _w_percent_agreement(top.counts, weights)
        out[("ac1",)] = _w_ac1(top.counts, top.n_categories, weights)
        out[("fleiss_kappa",)] = _w_fleiss(top.counts, n_coders, weights)
        out[("kappa",)] = (
            _w_cohen(top.coded.codes[:, 0], top.coded.codes[:, 1], top.n_categories, weights) if n_coders == 2
            else out[("fleiss_kappa",)])
    for index, (a, b) in enumerate(pairs):
        pair_counts = _pair_counts(top.coded.codes, a, b, len(top.coded.categories))
        out[("pair", index, "alpha")] = _w_alpha(pair_counts, top.distances, weights)
        if multi_label:
            out[("pair", index, "exact_match")] = _w_percent_agreement(pair_counts, weights)
            out[("pair", index, "percent_agreement")] = np.mean(
                [_w_percent_agreement(_pair_counts(views[lab].coded.codes, a, b, 2), weights) for lab in labels], axis=0)
            kappas = []
            for label in labels:
                codes = views[label].coded.codes
                kappas.append(_w_cohen(codes[:, a], codes[:, b], 2, weights))
                out[("pair", index, "label", label, "kappa")] = kappas[-1]
            out[("pair", index, "mean_label_kappa")] = _nanmean(np.vstack(kappas))
        else:
            out[("pair", index, "percent_agreement")] = _w_percent_agreement(pair_counts, weights)
            out[("pair", index, "kappa")] = _w_cohen(top.coded.codes[:, a], top.coded.codes[:, b], top.n_categories, weights)
            out[("pair", index, "ac1")] = _w_ac1(pair_counts, top.n_categories, weights)
    return out


def _nanmean(stacked: np.ndarray) -> np.ndarray:
    """Column means over the defined (non-NaN) values; NaN where none is defined."""
    defined = ~np.isnan(stacked)
    return _ratio(np.where(defined, stacked, 0.0).sum(axis=0), defined.sum(axis=0))


def _pair_counts(codes: np.ndarray, first: int, second: int, n_categories: int) -> np.ndarray:
    """Units × categories counts of two coders only."""
    counts = np.zeros((codes.shape[0], n_categories))
    for column in (codes[:, first], codes[:, second]):
        rows = np.nonzero(column >= 0)[0]
        counts[rows, column[rows]] += 1
    return counts


def _block(keys: Sequence[str], prefix: tuple, point: dict, boot: dict, level: float, n_boot: int, why: Callable[[str], str]) -> dict[str, Any]:
    """Values, intervals and reasons of some statistics, as plain JSON-ready data."""
    out: dict[str, Any] = {}
    intervals: dict[str, list[float] | None] = {}
    reasons: dict[str, str] = {}
    for key in keys:
        value = float(point[(*prefix, key)][0])
        interval = _interval(value, boot.get((*prefix, key)), level, n_boot)
        if math.isnan(value):
            out[key] = None
            reasons[key] = why(key)
            intervals[key] = None
            continue
        out[key] = value
        intervals[key] = None if interval.low is None else [interval.low, interval.high]
        if interval.reason and n_boot > 0:
            reasons[f"{key}_ci"] = interval.reason
    out["ci"] = intervals
    out["reasons"] = reasons
    return out


def _label_reason(view: _View, statistic: str, n_coders: int) -> str:
    codes = view.coded.codes
    used = codes[(codes >= 0).sum(axis=1) >= 2]
    used = used[used >= 0]
    true_index = view.coded.categories.index(True)
    if len(used) and statistic in ("alpha", "kappa", "fleiss_kappa"):
        if not (used == true_index).any():
            return "label never used: no coder chose it on these segments, so chance-corrected agreement is undefined"
        if (used == true_index).all():
            return "label always used: every coder chose it for every segment, so chance-corrected agreement is undefined"
    kind = "fleiss_kappa" if statistic == "kappa" and n_coders != 2 else ("cohen_kappa" if statistic == "kappa" else statistic)
    return _undefined_reason(view.coded, kind, 2)


def _dimension_seed(seed: int, dimension_id: str) -> list[int]:
    # A dimension's resamples depend on the seed and its id only, not on which other dimensions are reported.
    return [seed, zlib.crc32(dimension_id.encode("utf-8"))]


def _dimension_report(table: pd.DataFrame, dim: Dimension, coders: Sequence[str], by_text: dict[str, bool],
                      n_boot: int, seed: int, level: float) -> dict[str, Any]:
    human = table[list(coders)]
    n_codes = human.notna().sum(axis=1)
    pairable = human[n_codes >= 2]
    result: dict[str, Any] = {
        "multi_label": dim.multi_label,
        "coders": list(coders),
        "n_segments": int(len(pairable)),
        "n_shared": int((n_codes == len(coders)).sum()) if len(coders) >= 2 else 0,
        "n_single": int((n_codes == 1).sum()),
        "n_coded": {c: int(human[c].notna().sum()) for c in coders},
        "n_matched_by_text": int(sum(by_text.get(u, False) for u in pairable.index)),
        "kappa_kind": "cohen" if len(coders) == 2 else "fleiss",
    }
    views = _views(pairable, dim)
    pairs = _pair_columns(len(coders))
    point = _measure(views, dim.multi_label, pairs, np.ones((1, len(pairable))))
    boot = _replicate(lambda w: _measure(views, dim.multi_label, pairs, w), len(pairable), n_boot, _dimension_seed(seed, dim.id))
    top = views[None]
    n_coders = len(coders)

    def why_top(key: str) -> str:
        if key == "kappa":
            return _undefined_reason(top.coded, "cohen_kappa" if n_coders == 2 else "fleiss_kappa")
        return _undefined_reason(top.coded, key, top.n_categories)

    keys = ["percent_agreement", "alpha", "exact_match"] if dim.multi_label else ["percent_agreement", "alpha", "kappa", "fleiss_kappa", "ac1"]
    result.update(_block(keys, (), point, boot, level, n_boot, why_top))
    result["reading"] = reading("alpha", result["alpha"], result["ci"]["alpha"], reason=result["reasons"].get("alpha", ""), level=level)

    labels: dict[str, Any] = {}
    for label in dim.label_ids:
        view = views[label]
        codes = view.coded.codes
        chosen = codes == view.coded.categories.index(True)
        entry: dict[str, Any] = {
            "n_present": int(chosen.any(axis=1).sum()),
            "prevalence": float(chosen.sum() / max(int((codes >= 0).sum()), 1)),
        }
        entry.update(_block(["percent_agreement", "alpha", "kappa", "fleiss_kappa", "ac1"], ("label", label), point, boot,
                            level, n_boot, lambda key, v=view: _label_reason(v, key, n_coders)))
        entry["reading"] = _label_reading(entry, level)
        labels[label] = entry
    result["labels"] = labels
    result["pairs"] = _pairs_block(pairs, coders, views, dim, point, boot, level, n_boot, kind="coder-coder")
    return result


def _label_reading(entry: dict[str, Any], level: float) -> str:
    alpha = reading("alpha", entry["alpha"], entry["ci"]["alpha"], reason=entry["reasons"].get("alpha", ""), level=level)
    if entry["kappa"] is None:
        return alpha
    return f"{alpha}; κ = {entry['kappa']:.3f}, {landis_koch(entry['kappa'])} (Landis & Koch)"


def _pairs_block(pairs: Sequence[tuple[int, int]], coders: Sequence[str], views: dict[str | None, _View], dim: Dimension,
                 point: dict, boot: dict, level: float, n_boot: int, *, kind: str | Callable[[str, str], str]) -> list[dict[str, Any]]:
    top = views[None]
    out = []
    for index, (a, b) in enumerate(pairs):
        both = (top.coded.codes[:, a] >= 0) & (top.coded.codes[:, b] >= 0)
        pair_coded = _Coded(top.coded.codes[:, [a, b]], top.coded.categories)

        def why(key: str, coded: _Coded = pair_coded) -> str:
            if key in ("kappa", "mean_label_kappa"):
                return _undefined_reason(coded, "cohen_kappa")
            return _undefined_reason(coded, key, top.n_categories)

        keys = ["percent_agreement", "alpha", "exact_match", "mean_label_kappa"] if dim.multi_label else ["percent_agreement", "alpha", "kappa", "ac1"]
        entry: dict[str, Any] = {
            "coders": [coders[a], coders[b]],
            "kind": kind if isinstance(kind, str) else kind(coders[a], coders[b]),
            "n_segments": int(both.sum()),
        }
        entry.update(_block(keys, ("pair", index), point, boot, level, n_boot, why))
        if dim.multi_label:
            entry["labels"] = {
                label: {"kappa": _none_if_nan(point[("pair", index, "label", label, "kappa")][0])} for label in dim.label_ids
            }
        out.append(entry)
    return out


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _model_report(table: pd.DataFrame, dim: Dimension, coders: Sequence[str], model: str,
                  n_boot: int, seed: int, level: float) -> dict[str, Any]:
    """Model-vs-each-coder next to coder-vs-coder on the same segments."""
    human_codes = table[list(coders)].notna().sum(axis=1)
    needed = min(2, len(coders))
    same = table[(human_codes >= needed) & table[model].notna()]
    columns = [*coders, model]
    views = _views(same[columns], dim)
    pairs = _pair_columns(len(columns))
    point = _measure(views, dim.multi_label, pairs, np.ones((1, len(same))))
    # The same seed as the coder statistics: on the same segments the coder–coder rows get the same intervals.
    boot = _replicate(lambda w: _measure(views, dim.multi_label, pairs, w), len(same), n_boot, _dimension_seed(seed, dim.id))

    def kind(a: str, b: str) -> str:
        return "model-coder" if model in (a, b) else "coder-coder"

    pair_entries = _pairs_block(pairs, columns, views, dim, point, boot, level, n_boot, kind=kind)
    model_pairs = [i for i, (a, b) in enumerate(pairs) if columns[b] == model]
    coder_pairs = [i for i, (a, b) in enumerate(pairs) if columns[b] != model]
    result: dict[str, Any] = {"name": model, "n_segments": int(len(same)), "pairs": pair_entries}
    result.update(_model_gap(point, boot, model_pairs, coder_pairs, level, n_boot))
    return result


def _mean_over(values: dict[tuple, np.ndarray], pairs: Sequence[int]) -> np.ndarray:
    return _nanmean(np.vstack([values[("pair", i, "alpha")] for i in pairs]))


def _model_gap(point: dict, boot: dict, model_pairs: Sequence[int], coder_pairs: Sequence[int], level: float, n_boot: int) -> dict[str, Any]:
    """Mean model–coder alpha minus mean coder–coder alpha, with its bootstrap interval and a verdict."""
    model_alpha = _mean_over(point, model_pairs)[0] if model_pairs else math.nan
    if not coder_pairs:
        return {
            "model_alpha": _none_if_nan(model_alpha), "coder_alpha": None, "alpha_gap": None, "alpha_gap_ci": None,
            "reading": "only one coder: the model's agreement with that coder has no coder–coder agreement to compare with",
        }
    coder_alpha = _mean_over(point, coder_pairs)[0]
    gap = model_alpha - coder_alpha
    interval = None
    if boot and not math.isnan(gap):
        replicates = _mean_over(boot, model_pairs) - _mean_over(boot, coder_pairs)
        found = _interval(gap, replicates, level, n_boot)
        interval = None if found.low is None else [found.low, found.high]
    if math.isnan(gap):
        verdict = "cannot compare: alpha is undefined for the model or the coders on these segments"
    else:
        summary = f"mean α model–coder {model_alpha:.3f} vs coder–coder {coder_alpha:.3f}"
        if interval is None:
            verdict = f"{summary} (no interval for the difference)"
        elif interval[0] > 0:
            verdict = f"the model agrees with the coders better than they agree with each other ({summary})"
        elif interval[1] < 0:
            verdict = f"the model agrees with the coders less well than they agree with each other ({summary})"
        else:
            verdict = f"no clear difference: the model is about as reliable as another coder ({summary}; the {level:.0%} CI of the difference includes 0)"
    return {
        "model_alpha": _none_if_nan(model_alpha), "coder_alpha": _none_if_nan(coder_alpha),
        "alpha_gap": _none_if_nan(gap), "alpha_gap_ci": interval, "reading": verdict,
    }


def agreement_report(
    frame: pd.DataFrame,
    codebook: Codebook,
    *,
    dimensions: Sequence[str] | None = None,
    coders: Sequence[str] | None = None,
    model: str | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Agreement per dimension, in the JSON shape documented in docs/agreement.md.

    ``frame`` is a canonical annotation frame with a ``coder`` column. Segments
    match on ``segment_id`` and, failing that, on their normalised text. A
    segment coded by one coder only is counted (``n_single``) and left out. Every
    statistic of a dimension uses the same ``n_segments`` segments, except
    Fleiss' kappa, which uses the ``n_shared`` coded by all. ``model`` names a
    coder whose rows are a model's suggestions (see :func:`add_model_coder`). It
    is left out of the coder statistics and compared with each coder under
    ``"model"``. Intervals come from ``n_boot`` bootstrap resamples of segments.
    They are seeded by ``seed`` and the dimension's id, so a dimension's figures
    do not depend on which others are reported.
    """
    _check_frame(frame, codebook)
    if not 0 < level < 1:
        raise AgreementError(f"confidence level must be between 0 and 1; got {level}")
    if n_boot < 0:
        raise AgreementError(f"--n-boot must be 0 (no intervals) or more; got {n_boot}")
    chosen = _coders(frame, coders, model)
    if len(chosen) + (model is not None) < 2:
        who = ", ".join(map(repr, chosen)) or "none"
        raise AgreementError(
            f"agreement needs two coders or more; these tables have one ({who}). Give one table per coder, "
            "or one table with a 'coder' column")
    dims = _dimensions(frame, codebook, dimensions)
    if not dims:
        raise AgreementError(f"no dimension is coded in these tables; the codebook has {', '.join(codebook.dimension_ids)}")
    columns = [*chosen, model] if model is not None else chosen
    tables, by_text = _tables(frame, dims, columns)
    report: dict[str, dict[str, Any]] = {}
    for dim in dims:
        table = tables[dim.id]
        entry = _dimension_report(table, dim, chosen, by_text, n_boot, seed, level)
        entry["bootstrap"] = {"n_boot": n_boot, "seed": seed, "level": level}
        if model is not None:
            entry["model"] = _model_report(table, dim, chosen, model, n_boot, seed, level)
        report[dim.id] = entry
    comparable = sum(e["n_segments"] for e in report.values()) + sum(e.get("model", {}).get("n_segments", 0) for e in report.values())
    if comparable == 0:
        raise AgreementError(
            "no segment is coded by two coders; check that the tables code the same segments "
            "(the same segment_id, or the same text)")
    return report


# --------------------------------------------------------------------------- disagreements and adjudication


def _unit_meta(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per unit the first non-empty value of each meta column, in order of first appearance."""
    meta = [c for c in META_COLUMNS if c not in ("segment_id", "coder", "note") and c in frame.columns]
    rows = frame[meta].astype(object).where(frame[meta].notna(), "")
    rows = rows.assign(segment_id=list(keys))
    first = {}
    for record in rows.to_dict(orient="records"):
        unit = record["segment_id"]
        current = first.setdefault(unit, dict(record))
        for column in meta:
            if not current[column] and record[column]:
                current[column] = record[column]
    return pd.DataFrame.from_records(list(first.values()), columns=["segment_id", *meta])


def unique_segments(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per segment (after matching ids and texts): segment_id, doc_id, lang, source_kind, title, text.

    This is what a model codes in :func:`add_model_coder`; rows keep this order.
    """
    keys, _ = _unit_keys(frame)
    return _unit_meta(frame, keys)


def add_model_coder(frame: pd.DataFrame, predictions: pd.DataFrame, name: str = "model", *, codebook: Codebook | None = None) -> pd.DataFrame:
    """The frame plus one row per segment coded by a model, as coder ``name``.

    ``predictions`` has one column per dimension in the canonical cell format
    (tuples for multi-label, a label id for single-label). Its rows are matched
    on a ``segment_id`` column when it has one; otherwise they must follow the
    order of :func:`unique_segments`. With ``codebook`` the predicted labels are
    checked and put in codebook order.
    """
    if name in set(frame["coder"].astype(str)):
        raise AgreementError(f"a coder is already called {name!r}; give the model another name")
    segments = unique_segments(frame)
    if "segment_id" in predictions.columns:
        by_id = predictions.drop_duplicates("segment_id").set_index("segment_id")
        missing = [s for s in segments["segment_id"] if s not in by_id.index]
        if missing:
            raise ModelError(f"{len(missing)} segment(s) have no prediction (e.g. {missing[0]!r})")
        aligned = by_id.loc[segments["segment_id"]].reset_index(drop=True)
    else:
        if len(predictions) != len(segments):
            raise ModelError(f"{len(predictions)} predictions for {len(segments)} segments; predict on unique_segments(frame)")
        aligned = predictions.reset_index(drop=True)
    dim_columns = [c for c in frame.columns if c in aligned.columns and c not in META_COLUMNS]
    if codebook is not None:
        dim_columns = [d.id for d in codebook.dimensions if d.id in aligned.columns]
    if not dim_columns:
        raise ModelError("the predictions have no column of a coded dimension")
    rows = segments.copy()
    rows["coder"] = name
    rows["note"] = ""
    for column in dim_columns:
        values = aligned[column].tolist()
        if codebook is not None:
            values = [_checked_prediction(codebook.dimension(column), v) for v in values]
        rows[column] = pd.Series(values, index=rows.index, dtype=object)
    for column in frame.columns:
        if column not in rows.columns:
            rows[column] = pd.Series([None] * len(rows), index=rows.index, dtype=object) if column not in META_COLUMNS else ""
    return pd.concat([frame, rows[list(frame.columns)]], ignore_index=True)


def _checked_prediction(dim: Dimension, value: Any) -> Any:
    if _is_missing(value):
        return None
    labels = [value] if isinstance(value, str) else list(value)
    unknown = [lab for lab in labels if lab not in dim.label_ids]
    if unknown:
        raise ModelError(f"the model predicted unknown {dim.id} label(s) {', '.join(map(repr, unknown))}; "
                         f"allowed: {', '.join(dim.label_ids)}. Was it trained with another codebook?")
    if dim.multi_label:
        return tuple(lab for lab in dim.label_ids if lab in labels)
    if len(labels) != 1:
        raise ModelError(f"the model gave {len(labels)} labels in single-label dimension {dim.id}")
    return labels[0]


def disagreements(
    frame: pd.DataFrame,
    codebook: Codebook,
    *,
    dimensions: Sequence[str] | None = None,
    coders: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every segment where the coders who coded a dimension gave different codes, codes side by side.

    Columns: segment_id, doc_id, title, text, ``disagree_on`` (the dimensions
    that differ, ``; ``-separated), then ``<dimension>:<coder>`` for each
    dimension and coder, with canonical cells (``None`` = not coded). A coder
    who did not code a dimension does not count as disagreeing.
    """
    _check_frame(frame, codebook)
    chosen = _coders(frame, coders, None)
    dims = _dimensions(frame, codebook, dimensions)
    tables, _ = _tables(frame, dims, chosen)
    keys, _ = _unit_keys(frame)
    meta = _unit_meta(frame, keys).set_index("segment_id")
    differing: dict[str, list[str]] = defaultdict(list)
    for dim in dims:
        for unit, row in tables[dim.id].iterrows():
            codes = {v for v in row.tolist() if not _is_missing(v)}
            if len(codes) > 1:
                differing[unit].append(dim.id)
    units = [u for u in meta.index if u in differing]
    columns = ["segment_id", "doc_id", "title", "text", "disagree_on"] + [f"{d.id}:{c}" for d in dims for c in chosen]
    records = []
    for unit in units:
        record: dict[str, Any] = {"segment_id": unit}
        for column in ("doc_id", "title", "text"):
            record[column] = meta.at[unit, column] if column in meta.columns else ""
        record["disagree_on"] = "; ".join(differing[unit])
        for dim in dims:
            table = tables[dim.id]
            for coder in chosen:
                record[f"{dim.id}:{coder}"] = table.at[unit, coder] if unit in table.index else None
        records.append(record)
    out = pd.DataFrame.from_records(records, columns=columns)
    for column in columns[5:]:
        out[column] = pd.Series([r[column] for r in records], index=out.index, dtype=object)
    return out


def _majority_single(votes: dict[str, str], dim: Dimension) -> tuple[str | None, str]:
    counts = pd.Series(list(votes.values())).value_counts()
    top = counts[counts == counts.max()].index.tolist()
    if len(top) == 1:
        return top[0], ""
    tied = sorted(top, key=dim.label_ids.index)
    detail = " vs ".join(f"{lab} ({', '.join(c for c, v in votes.items() if v == lab)})" for lab in tied)
    return None, f"tie on {dim.id}: {detail}; left blank"


def _majority_multi(votes: dict[str, tuple[str, ...]], dim: Dimension) -> tuple[tuple[str, ...], str]:
    n = len(votes)
    chosen, tied = [], []
    for label in dim.label_ids:
        yes = [c for c, v in votes.items() if label in v]
        if 2 * len(yes) > n:
            chosen.append(label)
        elif 2 * len(yes) == n:
            tied.append(f"{label} ({', '.join(yes)} for, {', '.join(c for c in votes if c not in yes)} against)")
    note = f"tie on {dim.id}: {'; '.join(tied)}; left out" if tied else ""
    return tuple(chosen), note


def adjudicate(
    frame: pd.DataFrame,
    codebook: Codebook,
    *,
    coders: Sequence[str] | None = None,
    dimensions: Sequence[str] | None = None,
    name: str = ADJUDICATED_CODER,
) -> pd.DataFrame:
    """Prefilled final codes: per segment and dimension the majority of the coders who coded it.

    Returns a canonical annotation frame, one row per segment, coder ``name``,
    plus the extra columns ``tie`` (``yes``/``no``) and ``coders`` (who coded the
    segment). A tie is never settled by the tool. A tied single-label cell is
    left blank (``None``), and a multi-label label with as many votes for as
    against is left out. ``note`` says which codes tied and who chose what, so
    the adjudicator knows what to decide. A segment coded by one coder keeps
    that coder's codes.
    """
    _check_frame(frame, codebook)
    present = set(frame["coder"].astype(str))
    if name in present and not (coders and name not in coders):
        raise AgreementError(
            f"the tables already contain coder {name!r}; leave the adjudicated file out or pass --coders")
    chosen = _coders(frame, coders, None)
    dims = _dimensions(frame, codebook, dimensions)
    if not dims:
        raise AgreementError(f"no dimension is coded in these tables; the codebook has {', '.join(codebook.dimension_ids)}")
    tables, _ = _tables(frame, dims, chosen)
    keys, _ = _unit_keys(frame)
    wanted = frame["coder"].astype(str).isin(chosen).to_numpy()
    meta = _unit_meta(frame[wanted], [k for k, w in zip(keys, wanted) if w])
    notes_of: dict[str, list[str]] = defaultdict(list)
    for key, coder, note in zip(keys, frame["coder"].astype(str), frame.get("note", pd.Series([""] * len(frame))).fillna("")):
        if coder in chosen and str(note).strip():
            notes_of[key].append(f"{coder}: {str(note).strip()}")
    records = []
    for record in meta.to_dict(orient="records"):
        unit = record["segment_id"]
        ties, who = [], set()
        for dim in codebook.dimensions:
            if dim not in dims:
                record[dim.id] = None
                continue
            table = tables[dim.id]
            votes = {} if unit not in table.index else {c: v for c, v in table.loc[unit].items() if not _is_missing(v)}
            who.update(votes)
            if not votes:
                record[dim.id] = None
                continue
            decided, tie = _majority_multi(votes, dim) if dim.multi_label else _majority_single(votes, dim)
            record[dim.id] = decided
            if tie:
                ties.append(tie)
        record["coder"] = name
        record["note"] = " | ".join([*ties, *dict.fromkeys(notes_of.get(unit, []))])
        record["tie"] = "yes" if ties else "no"
        record["coders"] = ", ".join(c for c in chosen if c in who)
        records.append(record)
    columns = [*META_COLUMNS, *codebook.dimension_ids, "tie", "coders"]
    out = pd.DataFrame.from_records(records, columns=columns)
    for column in META_COLUMNS:
        out[column] = out[column].fillna("").astype(str)
    for dim in codebook.dimensions:  # None must stay None ("not coded"), not become NaN
        out[dim.id] = pd.Series([r[dim.id] for r in records], index=out.index, dtype=object)
    return out
