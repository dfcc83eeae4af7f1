"""Rigorous enclosure of τ_P(X) when the softmax is not uniform (route A, docs/universality.md).

``exp`` of a nonzero rational is irrational, so the softmax is enclosed in arb balls
(python-flint) at a chosen precision; everything before it is exact and everything after
it is carried as exact rational intervals:

1. ``[P, X] + E`` and the FF_pre layers exactly (:class:`~.evaluate.ExactProgram`'s layers);
2. scores ``β (W_K z_j)ᵀ(W_Q z_i)`` exactly; ``w_j = exp(s_j − max s)`` as arb balls; the
   output ``z_i + W_O W_V Σ_j w_j z_j / Σ_j w_j`` as balls, turned into rational intervals
   (the balls' exact endpoints);
3. every separable FF_post layer maps an interval to the exact image of its PL profile
   (:meth:`~._pl.PLProfile.image`: ends and breakpoints inside).

Shapes: ``X`` is ``d×L``, ``P`` is ``d×L_p`` (rationals); intervals are ``(lo, hi)`` pairs of
``d×L`` rational matrices.
"""

from __future__ import annotations

from fractions import Fraction

from ..errors import InvalidArgument
from ..weights import TransformerWeights
from ._pl import PLProfile
from .evaluate import RatMatrix, _Dense, compile_post, rational_matrix, value_mix

__all__ = ["Interval", "attention_enclosure", "enclose_forward", "post_image", "to_fraction"]

Interval = tuple[Fraction, Fraction]


def to_fraction(a: object) -> Fraction:
    """The exact value of an arb midpoint/endpoint (a dyadic number)."""
    man, exp = a.man_exp()  # type: ignore[attr-defined]
    return Fraction(int(man)) * (Fraction(2) ** int(exp))


def _columns(weights: TransformerWeights, X: RatMatrix, P: RatMatrix) -> list[list[Fraction]]:
    """FF_pre applied exactly to every column of ``[P, X] + E``."""
    d = weights.d
    cols = [[P[c][j] for c in range(d)] for j in range(len(P[0]))] + \
        [[X[c][j] for c in range(d)] for j in range(len(X[0]))]
    if weights.pos is not None:
        pos = rational_matrix(weights.pos)
        if len(pos[0]) != len(cols):
            raise InvalidArgument(f"L_p + L = {len(cols)}: the positional encoding fixes "
                                  f"n = {len(pos[0])}")
        cols = [[v + pos[c][j] for c, v in enumerate(col)] for j, col in enumerate(cols)]
    for layer in weights.ff_pre:
        dense = _Dense.of(layer)
        cols = [dense.apply(col) for col in cols]
    return cols


def attention_enclosure(weights: TransformerWeights, X: RatMatrix, P: RatMatrix, *,
                        prec: int) -> list[list[Interval]]:
    """Intervals of the attention output (residual included) at every input position.

    Returns ``out[j][c]`` for input position ``j`` and channel ``c``. ``prec``: arb bits.
    """
    from flint import arb, ctx, fmpq

    def ball(q: Fraction) -> arb:
        return arb(fmpq(q.numerator, q.denominator))

    cols = _columns(weights, X, P)
    lp = len(P[0])
    wq, wk = rational_matrix(weights.w_q), rational_matrix(weights.w_k)
    beta = Fraction(float(weights.beta))
    mix = value_mix(weights)
    keys = [[sum((row[c] * col[c] for c in range(weights.d)), Fraction(0)) for row in wk]
            for col in cols]
    old = ctx.prec
    ctx.prec = prec
    try:
        out = []
        for col in cols[lp:]:
            q = [sum((row[c] * col[c] for c in range(weights.d)), Fraction(0)) for row in wq]
            scores = [beta * sum((a * b for a, b in zip(k, q, strict=True)), Fraction(0))
                      for k in keys]
            top = max(scores)
            w = [(ball(s - top)).exp() for s in scores]
            z = sum(w, arb(0))
            mean = [sum((wi * ball(cj[c]) for wi, cj in zip(w, cols, strict=True)), arb(0)) / z
                    for c in range(weights.d)]
            res = []
            for r in range(weights.d):
                y = ball(col[r]) + sum((ball(mix[r][c]) * mean[c] for c in range(weights.d)
                                        if mix[r][c] != 0), arb(0))
                res.append((to_fraction(y.lower()), to_fraction(y.upper())))
            out.append(res)
    finally:
        ctx.prec = old
    return out


def post_image(post: list[list[PLProfile] | _Dense], channel: int, iv: Interval) -> Interval:
    """Exact image of one channel's interval through separable FF_post layers."""
    lo, hi = iv
    for layer in post:
        if isinstance(layer, _Dense):
            raise InvalidArgument("interval evaluation needs separable FF_post layers")
        lo, hi = layer[channel].image(lo, hi)
    return lo, hi


_POST: dict[str, list[list[PLProfile] | _Dense]] = {}


def enclose_forward(weights: TransformerWeights, X: RatMatrix, P: RatMatrix, *,
                    prec: int) -> tuple[RatMatrix, RatMatrix]:
    """``(lo, hi)`` with ``lo ≤ τ_P(X) ≤ hi`` entrywise (module docstring); ``d×L`` each."""
    att = attention_enclosure(weights, X, P, prec=prec)
    key = weights.digest()
    if key not in _POST:
        if len(_POST) > 8:
            _POST.clear()
        _POST[key] = compile_post(weights)
    post = _POST[key]
    d, L = weights.d, len(att)
    lo = [[Fraction(0)] * L for _ in range(d)]
    hi = [[Fraction(0)] * L for _ in range(d)]
    for j in range(L):
        for c in range(d):
            lo[c][j], hi[c][j] = post_image(post, c, att[j][c])
    return lo, hi
