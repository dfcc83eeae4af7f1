"""Pure-mpmath twin of :class:`core.model.PromptTunedTransformer` at any precision.

The twin evaluates docs/theory.md §1 from the same :class:`~core.weights.TransformerWeights`
with every operation in ``mpmath`` at ``dps`` decimal digits. It is written independently
of the torch code (plain loops, its own softmax) so that a bug in one is not mirrored in the
other. Oracle discipline (SciPy's mpmath tests): everything runs inside
``mpmath.workdps(dps)``; global precision is never changed.

Matrices are lists of rows of ``mpf``; tokens are columns, as everywhere in ptlimits.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import mpmath
import numpy as np

from .errors import InvalidArgument
from .validation import check_int
from .weights import FeedForwardWeights, TransformerWeights, as_float64_matrix

__all__ = ["MpMatrix", "mp_attention", "mp_forward", "to_float64", "to_mp"]

MpMatrix = list[list[mpmath.mpf]]


def to_mp(array: np.ndarray | Sequence[Sequence[float]]) -> MpMatrix:
    """Exact conversion of a float64 matrix to mpf (binary floats convert exactly)."""
    return [[mpmath.mpf(float(x)) for x in row] for row in np.asarray(array, dtype=np.float64)]


def to_float64(matrix: MpMatrix) -> np.ndarray:
    """Round an mpf matrix to float64 with ``float(mpf)`` (correctly rounded; no strings)."""
    return np.array([[float(x) for x in row] for row in matrix], dtype=np.float64)


def _matmul(a: MpMatrix, b: MpMatrix) -> MpMatrix:
    cols = list(zip(*b, strict=True))
    return [[mpmath.fsum(x * y for x, y in zip(row, col, strict=True)) for col in cols]
            for row in a]


def _add(a: MpMatrix, b: MpMatrix) -> MpMatrix:
    return [[x + y for x, y in zip(ra, rb, strict=True)] for ra, rb in zip(a, b, strict=True)]


def _columns(a: MpMatrix, start: int, stop: int) -> MpMatrix:
    return [row[start:stop] for row in a]


def _feed_forward(z: MpMatrix, layer: FeedForwardWeights) -> MpMatrix:
    w1, w2 = to_mp(layer.w1), to_mp(layer.w2)
    b1 = [mpmath.mpf(float(x)) for x in layer.b1]
    b2 = [mpmath.mpf(float(x)) for x in layer.b2]
    pre = _matmul(w1, z)
    hidden = [[max(x + b, mpmath.mpf(0)) for x in row] for row, b in zip(pre, b1, strict=True)]
    lifted = _matmul(w2, hidden)
    return [[zi + yi + b for zi, yi in zip(zrow, yrow, strict=True)]
            for zrow, yrow, b in zip(z, lifted, b2, strict=True)]


def mp_attention(q: MpMatrix, k: MpMatrix, v: MpMatrix, beta: mpmath.mpf) -> MpMatrix:
    """``V · softmax_col(β KᵀQ)`` in the current mpmath precision.

    ``q``: ``(s, m)``, ``k``: ``(s, n)``, ``v``: ``(d_v, n)``; returns ``(d_v, m)``.
    Each query column gets a distribution over the ``n`` keys.
    """
    n, m = len(k[0]), len(q[0])
    out_cols = []
    for j in range(m):
        logits = [beta * mpmath.fsum(k[r][i] * q[r][j] for r in range(len(q)))
                  for i in range(n)]
        top = max(logits)
        weights = [mpmath.exp(x - top) for x in logits]
        total = mpmath.fsum(weights)
        out_cols.append([mpmath.fsum(row[i] * weights[i] for i in range(n)) / total
                         for row in v])
    return [list(row) for row in zip(*out_cols, strict=True)]


def _exact_rows(P: object) -> list[list[Fraction]] | None:
    """``P`` as rows of Fractions when it is given that way, else ``None``."""
    if isinstance(P, np.ndarray) or not isinstance(P, Sequence) or not P:
        return None
    rows = [list(r) for r in P]
    if rows and rows[0] and all(isinstance(v, Fraction) for r in rows for v in r):
        return rows
    return None


def mp_forward(weights: TransformerWeights, X: np.ndarray, P: np.ndarray, *, dps: int,
               full: bool = False) -> MpMatrix:
    """τ_P(X) at ``dps`` decimal digits; ``X``: ``(d, L)``, ``P``: ``(d, L_p)``.

    ``P`` is float64, or exact (rows of :class:`~fractions.Fraction`: a prompt whose packed
    digits float64 cannot hold), rounded once to ``dps`` digits on entry.
    Returns the readout ``(d, L)`` or, with ``full``, all ``(d, L_p + L)`` columns.
    """
    dps = check_int("dps", dps, minimum=15, maximum=10_000)
    X = as_float64_matrix("X", X, rows=weights.d)
    exact = _exact_rows(P)
    if exact is None:
        P = as_float64_matrix("P", P, rows=weights.d)
    elif len(exact) != weights.d or len({len(r) for r in exact}) != 1:
        raise InvalidArgument(f"P: expected {weights.d} rows of equal length")
    lp = len(exact[0]) if exact is not None else P.shape[1]
    if weights.pos is not None and weights.pos.shape[1] != lp + X.shape[1]:
        raise InvalidArgument(
            f"X has {X.shape[1]} and P {lp} columns: the positional encoding needs "
            f"L + L_p = {weights.pos.shape[1]}")
    with mpmath.workdps(dps):
        if exact is None:
            z = to_mp(np.concatenate([P, X], axis=1))
        else:
            z = [[mpmath.mpf(v.numerator) / v.denominator for v in row] + x_row
                 for row, x_row in zip(exact, to_mp(X), strict=True)]
        if weights.pos is not None:
            z = _add(z, to_mp(weights.pos))
        for layer in weights.ff_pre:
            z = _feed_forward(z, layer)
        queries = z if full else _columns(z, lp, len(z[0]))
        q = _matmul(to_mp(weights.w_q), queries)
        k = _matmul(to_mp(weights.w_k), z)
        v = _matmul(to_mp(weights.w_o), _matmul(to_mp(weights.w_v), z))
        out = _add(queries, mp_attention(q, k, v, mpmath.mpf(weights.beta)))
        for layer in weights.ff_post:
            out = _feed_forward(out, layer)
        return out
