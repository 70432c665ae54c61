"""The ranking: the prior (the shipped model's relevance head) refit with the reviewer's own decisions.

The score of a record is a logistic model with the prior as an *offset*::

    logit(score) = a · logit(prior) + b + x · w

where ``x`` is the record's TF-IDF vector. With no decisions ``a = 1``,
``b = 0``, ``w = 0`` and the ranking is the prior itself, so it is useful
before the first decision. Each refit finds the maximum a posteriori
``(w, a, b)`` on the screened records: an L2 penalty keeps ``w`` near zero
(``C`` is its inverse strength) and ``prior_strength`` keeps ``a`` near 1 and
``b`` near 0, so a handful of decisions nudges the prior and many decisions
can overrule it. One decision is already informative (records like an
excluded one move down), unlike a classifier trained on the decisions alone,
which needs both classes. Without a prior (``prior_logit=None``) the model is
plain L2 logistic regression on the decisions.

The fit is a Newton trust-region method (conjugate gradient on Hessian-vector
products) on the screened rows only; scoring is one sparse
matrix-vector product, so a refit for 5,000 records takes well under a
second (``scripts/bench_screening.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from samverdi_nlp.features import tokenize

EPS = 1e-6
# Inverse strength of the L2 penalty on the reviewer-learned word weights. Simulations on the corpus
# (docs/screening.md) favour weak regularisation: with a weak prior, or none, the decisions must be able
# to take over; with a good prior the ranking barely changes.
DEFAULT_C = 100.0


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), with p clipped away from 0 and 1.

    >>> logit(np.array([0.5, 0.8])).round(3).tolist()
    [0.0, 1.386]
    """
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


class PriorRanker(BaseEstimator):
    """Prior-offset logistic ranking, sklearn style: ``fit`` returns self, learned attributes end in ``_``.

    >>> import scipy.sparse as sp
    >>> X = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    >>> prior = np.array([0.5, 0.5, 0.5, 0.5])
    >>> ranker = PriorRanker(C=10.0).fit(X[:2], np.array([1, 0]), logit(prior[:2]))
    >>> scores = ranker.predict_proba(X, logit(prior))
    >>> bool(scores[2] > 0.5 > scores[3])  # unseen records like the included one rise
    True
    >>> PriorRanker().fit(X[:0], np.array([]), logit(prior[:0])).predict_proba(X, logit(prior)).tolist()
    [0.5, 0.5, 0.5, 0.5]
    """

    def __init__(self, C: float = DEFAULT_C, prior_strength: float = 1.0, balanced: bool = True, max_iter: int = 100,
                 warm_start: bool = False) -> None:
        self.C = C
        self.prior_strength = prior_strength
        self.balanced = balanced
        self.max_iter = max_iter
        self.warm_start = warm_start

    def fit(self, X, y: np.ndarray, prior_logit: np.ndarray | None = None) -> PriorRanker:
        """Fit on the screened records: ``X`` (their rows), ``y`` (1 relevant, 0 not), their prior logits."""
        X = sp.csr_matrix(X, dtype=np.float64) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=float).ravel()
        n, d = X.shape
        previous = None
        if self.warm_start and getattr(self, "n_features_in_", None) == d:  # start from the last fit (simulations)
            previous = np.concatenate([self.coef_, [self.prior_coef_, self.intercept_]])
        offset = np.zeros(n) if prior_logit is None else np.asarray(prior_logit, dtype=float).ravel()
        has_prior = prior_logit is not None
        self.n_features_in_ = d
        self.has_prior_ = has_prior
        self.coef_ = np.zeros(d)
        self.prior_coef_, self.intercept_ = (1.0, 0.0)
        self.n_labelled_ = n
        if n == 0:
            return self
        weights = np.ones(n)
        if self.balanced:
            n_pos = y.sum()
            for value, count in ((1.0, n_pos), (0.0, n - n_pos)):
                if count:
                    weights[y == value] = n / (2.0 * count)
        sign = 2 * y - 1
        inv_c = 1.0 / self.C
        strength = self.prior_strength
        Xt = X.T.tocsr() if sp.issparse(X) else X.T

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, a, b = theta[:d], theta[d], theta[d + 1]
            margin = sign * (a * offset + b + X @ w)
            residual = -weights * sign * sigmoid(-margin)  # d loss / d z
            value = float((weights * np.logaddexp(0.0, -margin)).sum() + 0.5 * inv_c * (w @ w) + 0.5 * strength * b ** 2)
            grad = np.empty(d + 2)
            grad[:d] = Xt @ residual + inv_c * w
            grad[d + 1] = residual.sum() + strength * b
            if has_prior:
                value += 0.5 * strength * (a - 1.0) ** 2
                grad[d] = residual @ offset + strength * (a - 1.0)
            else:  # no prior: ``a`` multiplies nothing; keep it at 1
                grad[d] = a - 1.0
            return value, grad

        def hessian_times(theta: np.ndarray, vector: np.ndarray) -> np.ndarray:
            w, a, b = theta[:d], theta[d], theta[d + 1]
            p = sigmoid(a * offset + b + X @ w)
            curvature = weights * p * (1.0 - p)
            direction = curvature * (X @ vector[:d] + vector[d] * offset + vector[d + 1])
            out = np.empty(d + 2)
            out[:d] = Xt @ direction + inv_c * vector[:d]
            out[d] = direction @ offset + strength * vector[d] if has_prior else vector[d]
            out[d + 1] = direction.sum() + strength * vector[d + 1]
            return out

        if previous is not None:
            start = previous
        else:
            start = np.zeros(d + 2)
            start[d] = 1.0
        # The vectors are as long as the vocabulary but the work per step is small: BLAS threads only add
        # overhead (and stall on a busy machine), so the fit runs on one thread. A gradient norm of 1e-4
        # leaves no ranking changed in simulations (tighter tolerances cost a third more time).
        with threadpool_limits(1):
            result = minimize(objective, start, jac=True, hessp=hessian_times, method="trust-ncg",
                              options={"maxiter": self.max_iter, "gtol": 1e-4})
        self.coef_ = result.x[:d]
        self.prior_coef_ = float(result.x[d]) if has_prior else 1.0
        self.intercept_ = float(result.x[d + 1])
        return self

    def decision_function(self, X, prior_logit: np.ndarray | None = None) -> np.ndarray:
        check_is_fitted(self, ["coef_"])
        offset = 0.0 if prior_logit is None else self.prior_coef_ * np.asarray(prior_logit, dtype=float).ravel()
        return np.asarray(X @ self.coef_).ravel() + offset + self.intercept_

    def predict_proba(self, X, prior_logit: np.ndarray | None = None) -> np.ndarray:
        """P(relevant) for each row of ``X``."""
        return sigmoid(self.decision_function(X, prior_logit))


# --------------------------------------------------------------------------- features


class ScreeningFeatures(BaseEstimator):
    """Word 1-2-gram TF-IDF fitted on the project's own records (unsupervised, like ASReview's).

    The records to screen bring their own vocabulary (the topic of the
    review); fitting on them, with no labels, is what lets the reviewer's
    decisions move records that share words the prior model never saw.
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), min_df: int = 1, max_df: float = 0.95,
                 max_features: int | None = 200_000) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        texts = list(texts)
        max_df = self.max_df if len(texts) >= 20 else 1.0
        self.vectorizer_ = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, ngram_range=self.ngram_range,
                                           min_df=self.min_df, max_df=max_df, max_features=self.max_features,
                                           sublinear_tf=True, dtype=np.float32)
        matrix = self.vectorizer_.fit_transform(texts)
        self.vocabulary_ = np.asarray(self.vectorizer_.get_feature_names_out(), dtype=str)
        return matrix.tocsr()


def top_contributions(row, coef: np.ndarray, names: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` features of one sparse row that raise the score most: ``x_j · w_j`` largest first.

    >>> import scipy.sparse as sp
    >>> row = sp.csr_matrix(np.array([[0.5, 0.0, 1.0, 0.2]]))
    >>> top_contributions(row, np.array([2.0, 9.0, 0.1, -1.0]), ["leadership", "x", "co-creation", "firm"], k=2)
    [('leadership', 1.0), ('co-creation', 0.1)]
    """
    row = sp.csr_matrix(row)
    values = row.data * coef[row.indices]
    order = np.argsort(-values, kind="stable")
    return [(str(names[row.indices[i]]), round(float(values[i]), 4)) for i in order[:k] if values[i] > 0]
