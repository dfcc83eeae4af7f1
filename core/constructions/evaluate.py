"""Exact (rational) evaluation of constructed transformers, and guarded float64 evaluation.

The universal construction packs whole tables into single reals (docs/theory.md §2, U), so a
float64 forward pass is meaningless once an encoding needs more than 53 bits. This module
evaluates the *same* :class:`~core.weights.TransformerWeights` exactly in
:class:`fractions.Fraction` (every float64 weight is a dyadic rational, so this is the
true real-arithmetic value of τ_P(X)):

- FF_pre layers and attention are evaluated directly from the weights; attention must be
  uniform (``W_K = 0`` or ``W_Q = 0``: every softmax weight is exactly ``1/n``), since
  ``exp`` of a nonzero rational is irrational;
- separable FF_post layers go through their exact :class:`~._pl.PLProfile` (``O(log h)``
  per layer), others through the generic exact formula.

Shapes: ``X`` is ``d×L``, ``P`` is ``d×L_p``; tokens are columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InvalidArgument
from ..weights import FeedForwardWeights, TransformerWeights
from ._pl import PLProfile, profiles_of_layer

__all__ = [
    "ExactProgram",
    "Float64Untrusted",
    "RatMatrix",
    "compile_exact",
    "compile_post",
    "exact_forward",
    "rational_matrix",
    "value_mix",
]

RatMatrix = list[list[Fraction]]


class Float64Untrusted(InvalidArgument):
    """A float64 evaluation was asked of an encoding that needs more bits than float64 has."""


def rational_matrix(a: np.ndarray | Sequence[Sequence[float]]) -> RatMatrix:
    """Exact rationals of a float64 matrix (binary floats convert exactly)."""
    return [[Fraction(float(v)) for v in row] for row in np.asarray(a, dtype=np.float64)]


@dataclass
class _Dense:
    """Nonzero weights of one FF layer as exact rationals (generic path)."""

    rows: list[list[tuple[int, Fraction]]]     # unit -> [(channel, w1)]
    b1: list[Fraction]
    cols: list[list[tuple[int, Fraction]]]     # channel -> [(unit, w2)]
    b2: list[Fraction]

    @classmethod
    def of(cls, layer: FeedForwardWeights) -> _Dense:
        rows = [[(int(c), Fraction(float(layer.w1[u, c]))) for c in np.flatnonzero(layer.w1[u])]
                for u in range(layer.hidden)]
        cols = [[(int(u), Fraction(float(layer.w2[c, u]))) for u in np.flatnonzero(layer.w2[c])]
                for c in range(layer.d)]
        return cls(rows=rows, b1=[Fraction(float(b)) for b in layer.b1], cols=cols,
                   b2=[Fraction(float(b)) for b in layer.b2])

    def apply(self, col: list[Fraction]) -> list[Fraction]:
        h = [max(Fraction(0), b + sum((w * col[c] for c, w in row), Fraction(0)))
             for row, b in zip(self.rows, self.b1, strict=True)]
        return [col[c] + self.b2[c] + sum((w * h[u] for u, w in self.cols[c]), Fraction(0))
                for c in range(len(col))]


@dataclass
class ExactProgram:
    """A compiled exact evaluator of one τ (see module docstring)."""

    d: int
    pos: RatMatrix | None
    pre: list[_Dense]
    mix: RatMatrix                    # W_O W_V, exact
    post: list[list[PLProfile] | _Dense]

    def forward(self, X: RatMatrix, P: RatMatrix, *, full: bool = False) -> RatMatrix:
        """τ_P(X) exactly; ``X``: ``d×L``, ``P``: ``d×L_p`` (rationals); returns ``d×L``."""
        d = self.d
        prompt = _token_columns("P", P, d, at_least=0)
        lp = len(prompt)
        cols = prompt + _token_columns("X", X, d, at_least=1)
        n = len(cols)
        if self.pos is not None:
            if len(self.pos[0]) != n:
                raise InvalidArgument(
                    f"L_p + L = {n}: the positional encoding fixes n = {len(self.pos[0])}")
            cols = [[v + self.pos[c][j] for c, v in enumerate(col)]
                    for j, col in enumerate(cols)]
        for layer in self.pre:
            cols = [layer.apply(col) for col in cols]
        total = [sum((col[c] for col in cols), Fraction(0)) / n for c in range(d)]
        shift = [sum((self.mix[r][c] * total[c] for c in range(d)), Fraction(0))
                 for r in range(d)]
        queries = cols if full else cols[lp:]
        out = [[v + shift[c] for c, v in enumerate(col)] for col in queries]
        for post in self.post:
            if isinstance(post, _Dense):
                out = [post.apply(col) for col in out]
            else:
                out = [[post[c](v) for c, v in enumerate(col)] for col in out]
        return [[col[c] for col in out] for c in range(d)]


def _token_columns(name: str, M: RatMatrix, d: int, *, at_least: int) -> RatMatrix:
    """The token columns of a ``d×k`` rational matrix ``M`` (rows of equal length,
    ``k >= at_least``); anything else is refused by ``name``."""
    lengths = [len(row) for row in M]
    if len(lengths) != d or any(k != lengths[0] for k in lengths) or lengths[0] < at_least:
        raise InvalidArgument(
            f"{name} has row lengths {lengths}: expected {d} rows of one length k >= "
            f"{at_least} (a d×k matrix of rationals)")
    return [[M[c][j] for c in range(d)] for j in range(lengths[0])]


def value_mix(weights: TransformerWeights) -> RatMatrix:
    """``W_O W_V`` exactly, ``d×d``."""
    wo, wv = rational_matrix(weights.w_o), rational_matrix(weights.w_v)
    return [[sum((wo[r][k] * wv[k][c] for k in range(weights.s)), Fraction(0))
             for c in range(weights.d)] for r in range(weights.d)]


def compile_post(weights: TransformerWeights) -> list[list[PLProfile] | _Dense]:
    """FF_post layers: exact PL profiles for separable layers (shared when repeated),
    the generic exact formula otherwise."""
    post: list[list[PLProfile] | _Dense] = []
    profile_cache: dict[bytes, list[PLProfile]] = {}
    for layer in weights.ff_post:
        key_layer = b"".join(a.tobytes() for a in layer.arrays())
        if key_layer not in profile_cache:
            try:
                profile_cache[key_layer] = profiles_of_layer(layer)
            except InvalidArgument:
                post.append(_Dense.of(layer))
                continue
        post.append(profile_cache[key_layer])
    return post


_CACHE: dict[str, ExactProgram] = {}


def compile_exact(weights: TransformerWeights) -> ExactProgram:
    """Compile (and cache by weight digest) the exact evaluator of ``weights``."""
    if not isinstance(weights, TransformerWeights):
        raise InvalidArgument(f"weights={type(weights).__name__}: expected TransformerWeights")
    key = weights.digest()
    if key in _CACHE:
        return _CACHE[key]
    if np.any(weights.w_k) and np.any(weights.w_q):
        raise InvalidArgument(
            "exact evaluation needs uniform attention (W_K = 0 or W_Q = 0): softmax of "
            "nonzero rational scores is irrational")
    program = ExactProgram(
        d=weights.d, pos=None if weights.pos is None else rational_matrix(weights.pos),
        pre=[_Dense.of(layer) for layer in weights.ff_pre], mix=value_mix(weights),
        post=compile_post(weights))
    if len(_CACHE) > 32:
        _CACHE.clear()
    _CACHE[key] = program
    return program


def exact_forward(weights: TransformerWeights, X: RatMatrix | np.ndarray,
                  P: RatMatrix | np.ndarray, *, full: bool = False) -> RatMatrix:
    """τ_P(X) in exact rational arithmetic (float64 arrays are converted exactly)."""
    Xr = rational_matrix(X) if isinstance(X, np.ndarray) else X
    Pr = rational_matrix(P) if isinstance(P, np.ndarray) else P
    return compile_exact(weights).forward(Xr, Pr, full=full)
