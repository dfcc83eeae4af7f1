"""Token separation for memorisation (docs/theory.md §2, claim M; paper label ``thm:PT_memo``).

The paper's hypothesis on a dataset ``X`` of shape ``(N, d, L)`` is *token separation*: the
tokens (columns ``X[i][:, j]`` over all sequences ``i`` and positions ``j``) are pairwise at
least ``δ`` apart in max norm, or equal (a token may recur across sequences and positions).
This module measures ``δ``, picks the grid a memorising τ needs for it, and draws random
separated datasets (uniform tokens, thinned):

* :func:`grid_for_separation`: the smallest power of two ``K`` with cell width ``1/K ≤ δ``
  (``δ > 1`` for ``K = 1``). Tokens ``≥ 1/K`` apart and off the strips lie in distinct
  cells: cells are ``[b/K, (b+1)/K)`` except the closed top one, whose only pair of points
  ``1/K`` apart, ``((K−1)/K, 1)``, has ``(K−1)/K`` on a strip.
* :func:`strip_width`: the width ``η(K) = 2^-32/K`` of the FF_pre ramps around each interior
  boundary ``b/K``. Inside ``|x − b/K| < η/2`` the quantiser is not constant; a continuous τ
  fixed before the data cannot avoid such strips, so they are part of the hypothesis. Per
  coordinate they cover ``(K−1)·η < 2^-32``; ``η ≥ 2^-40`` keeps FF_pre's knots exact in
  float64 for every ``K ≤ 2^8``.
* :func:`measure_separation`: the smallest max-norm distance between distinct tokens, exact.
* :func:`random_separated_inputs`: uniform tokens thinned to separation ``δ``, then ``N``
  distinct sequences of the kept tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InvalidArgument, NonFiniteError
from ..validation import check_int

__all__ = [
    "MAX_GRID",
    "STRIP_LOG2",
    "Separation",
    "as_separation",
    "grid_for_separation",
    "max_tokens",
    "measure_separation",
    "random_separated_inputs",
    "strip_width",
    "thin_tokens",
]

#: Strips cover less than ``2^-STRIP_LOG2`` of each coordinate's range: ``η(K) = 2^-32/K``.
STRIP_LOG2 = 32
#: Largest grid the planner builds (``sizes._MAX_LOG2_K``); ``η(2^8) = 2^-40`` is its floor.
MAX_GRID = 1 << 8
# Every strip of every K <= 2^8 lies within 2^-34 = η(2)/2 of a multiple of 2^-8.
_ANY_STRIP = 2.0 ** -(STRIP_LOG2 + 2)


def strip_width(K: int) -> Fraction:
    """``η(K) = 2^-32/K`` for ``K ≥ 2`` (``1/4`` for ``K = 1``, which has no interior boundary)."""
    K = check_int("K", K, minimum=1, maximum=MAX_GRID)
    if K & (K - 1):
        raise InvalidArgument(f"K={K}: expected a power of two in 1..{MAX_GRID}")
    return Fraction(1, 4) if K == 1 else Fraction(1, K << STRIP_LOG2)


def as_separation(delta: object) -> Fraction:
    """``delta`` (int, float or Fraction, finite, ``> 0``) as an exact Fraction."""
    if isinstance(delta, bool) or not isinstance(delta, (int, float, Fraction)):
        raise InvalidArgument(f"delta={delta!r}: expected a real number > 0 (or None: "
                              "measured from the data)")
    if isinstance(delta, float) and not np.isfinite(delta):
        raise NonFiniteError(f"delta={delta!r}: must be finite (or None: measured)")
    value = Fraction(delta)
    if value <= 0:
        raise InvalidArgument(f"delta={delta!r}: must be > 0")
    return value


def grid_for_separation(delta: Fraction | float | None) -> int:
    """Smallest power of two ``K`` with ``1/K ≤ δ`` (``K = 1`` needs ``δ > 1``).

    ``None`` stands for ``δ = ∞`` (at most one distinct token). The result may exceed
    :data:`MAX_GRID`; the planner refuses such grids.
    """
    if delta is None:
        return 1
    delta = as_separation(delta)
    if delta > 1:
        return 1
    K = 2
    while Fraction(1, K) > delta:
        K *= 2
    return K


def max_tokens(delta: Fraction | float | None, d: int) -> int:
    """Most pairwise ``δ``-separated off-strip tokens in ``[0,1]^d``: ``min(⌊1/δ⌋+1, K)^d``.

    ``⌊1/δ⌋+1`` per axis by pigeonhole (intervals of width ``< δ``); ``K`` because such
    tokens lie in distinct cells of the grid :func:`grid_for_separation` (module docstring).
    """
    d = check_int("d", d, minimum=1)
    if delta is None:
        return 1
    delta = as_separation(delta)
    per_axis = min(int(1 / delta) + 1, grid_for_separation(delta))
    return per_axis**d


@dataclass(frozen=True)
class Separation:
    """Separation of a dataset's tokens.

    Attributes:
        delta: the smallest max-norm distance between distinct tokens, exact; ``None``
            (``δ = ∞``) when there is one distinct token.
        pair: ``((i, j), (i2, j2))`` sequence and position of a closest pair (first
            occurrences), ``None`` with ``delta``.
        values: the two tokens' values (``d`` floats each), ``None`` with ``delta``.
        tokens: the number of distinct tokens.
    """

    delta: Fraction | None
    pair: tuple[tuple[int, int], tuple[int, int]] | None
    values: tuple[tuple[float, ...], tuple[float, ...]] | None
    tokens: int

    def describe(self) -> str:
        """``X[i][:, j]=(..) (sequence i, position j) and ... are D apart in max norm``."""
        if self.pair is None or self.values is None or self.delta is None:
            return f"one distinct token ({self.tokens})"
        (i, j), (i2, j2) = self.pair
        a, b = (", ".join(f"{v!r}" for v in vals) for vals in self.values)
        return (f"tokens X[{i}][:, {j}]=({a}) (sequence i={i}, position j={j}) and "
                f"X[{i2}][:, {j2}]=({b}) (sequence i={i2}, position j={j2}) are "
                f"{float(self.delta):.6g} apart in max norm")


def measure_separation(X: np.ndarray) -> Separation:
    """The closest pair of distinct tokens of ``X`` (shape ``(N, d, L)``, finite), exactly.

    Float64 differences of values in ``[0,1]`` carry a relative error ``≤ 2^-53``, so every
    pair within ``(1 + 2^-50)`` of the float minimum is re-measured in Fractions.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise InvalidArgument(f"X has shape {X.shape}: expected (N, d, L)")
    n, d, L = X.shape
    flat = X.transpose(0, 2, 1).reshape(n * L, d)              # row i*L + j = X[i][:, j]
    uniq, first = np.unique(flat, axis=0, return_index=True)
    if len(uniq) < 2:
        return Separation(delta=None, pair=None, values=None, tokens=len(uniq))
    dist = np.max(np.abs(uniq[:, None, :] - uniq[None, :, :]), axis=2)
    np.fill_diagonal(dist, np.inf)
    low = float(dist.min())
    best: tuple[Fraction, int, int] | None = None
    for a, b in np.argwhere(dist <= low * (1 + 2.0**-50)):
        if a >= b:
            continue
        exact = _exact_distance(uniq[a], uniq[b])
        lo, hi = sorted((int(first[a]), int(first[b])))
        key = (exact, lo, hi)
        if best is None or key < best:
            best = key
    assert best is not None
    exact, ra, rb = best
    return Separation(delta=exact, pair=(divmod(ra, L), divmod(rb, L)),
                      values=(tuple(float(v) for v in flat[ra]),
                              tuple(float(v) for v in flat[rb])),
                      tokens=len(uniq))


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_int("seed", seed, minimum=0))


def _exact_distance(a: np.ndarray, b: np.ndarray) -> Fraction:
    return max(abs(Fraction(float(u)) - Fraction(float(v))) for u, v in zip(a, b, strict=True))


def thin_tokens(seed: int | np.random.Generator, d: int, delta: Fraction | float,
                *, oversample: int = 4) -> np.ndarray:
    """Uniform tokens in ``[0,1]^d`` thinned to separation ``δ``: shape ``(T, d)``, ``T ≥ 1``.

    Draws ``oversample·(⌊1/δ⌋+1)^d`` uniform tokens (at least 8, at most 2^16) and keeps
    each one at least ``δ`` (max norm) from every token kept before it. A draw within
    ``2^-34`` of a multiple of ``2^-8`` in some coordinate is dropped too: that covers every
    strip of every grid ``K ≤ 2^8`` (probability at most ``2^-25`` per coordinate), so the
    kept tokens meet the whole hypothesis whatever grid ``δ`` (or the measured ``δ``) picks.
    """
    rng = _rng(seed)
    d = check_int("d", d, minimum=1, maximum=4)
    dq = as_separation(delta)
    oversample = check_int("oversample", oversample, minimum=1)
    per_axis = int(1 / dq) + 1 if dq <= 1 else 1
    draws = int(min(max(8, oversample * per_axis**d), 1 << 16))
    kept: list[np.ndarray] = []
    while not kept:                       # the first off-strip draw is always kept
        for tok in rng.uniform(0.0, 1.0, size=(draws, d)):
            scaled = tok * MAX_GRID
            if np.any(np.abs(scaled - np.rint(scaled)) < _ANY_STRIP * MAX_GRID):
                continue
            if kept:
                near = np.max(np.abs(np.asarray(kept) - tok), axis=1)
                if any(_exact_distance(kept[int(k)], tok) < dq
                       for k in np.flatnonzero(near < float(dq) * 2)):
                    continue
            kept.append(tok)
    return np.asarray(kept)


def random_separated_inputs(seed: int | np.random.Generator, N: int, d: int, L: int,
                            delta: Fraction | float) -> np.ndarray:
    """``X`` of shape ``(N', d, L)``, ``N' = min(N, T^L)``: distinct sequences of thinned tokens.

    ``T`` tokens from :func:`thin_tokens`; the sequences are ``N'`` distinct elements of the
    ``T^L`` token tuples, drawn without replacement. ``N' < N`` when thinning leaves too
    few tokens for ``N`` distinct sequences (a consistent smaller dataset, never a failure).
    """
    rng = _rng(seed)
    N = check_int("N", N, minimum=1)
    L = check_int("L", L, minimum=1, maximum=4)
    vocab = thin_tokens(rng, d, delta)
    T = len(vocab)
    n = min(N, T**L)
    codes = rng.choice(T**L, size=n, replace=False)
    X = np.empty((n, vocab.shape[1], L))
    for i, code in enumerate(codes):
        for j, t in enumerate(np.unravel_index(int(code), (T,) * L)):
            X[i, :, j] = vocab[int(t)]
    return X
