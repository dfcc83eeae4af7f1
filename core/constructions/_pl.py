"""Univariate piecewise-linear (PL) feed-forward layers, built and read back exactly.

A *separable* feed-forward layer ``Z + W_2 ReLU(W_1 Z + b_1) + b_2`` (docs/theory.md §1) is one
whose every hidden unit reads one channel and writes only to that channel; channel ``c``
then maps its scalar ``y`` by a continuous PL function ``g_c`` of one variable. This module

- builds such a layer from *regions*: disjoint intervals on which ``g`` must be a given
  affine map; the gaps between regions are filled by linear interpolation, so ``g`` is exact
  on the regions (no approximation anywhere the construction is evaluated on good inputs);
- reads any separable layer back as a :class:`PLProfile` (sorted breakpoints, exact values
  there, end slopes), computed in :class:`fractions.Fraction` from the float64 weights.

Evaluating a profile costs ``O(log h)`` exact operations instead of ``O(h)`` (``h`` hidden
units), which is what makes the deep constructions checkable at all.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InvalidArgument
from ..weights import FeedForwardWeights

__all__ = ["PLProfile", "Region", "float64_words", "layer_from_channel_regions",
           "layer_from_regions", "profiles_of_layer"]


@dataclass(frozen=True)
class Region:
    """``g(y) = value_at_lo + slope·(y − lo)`` for ``y ∈ [lo, hi]`` (exact rationals)."""

    lo: Fraction
    hi: Fraction
    slope: Fraction
    value_at_lo: Fraction


def _exact(name: str, x: Fraction) -> float:
    f = float(x)
    if Fraction(f) != x:
        raise InvalidArgument(f"{name}={x}: not exactly representable in float64; the "
                              "construction needs a coarser grid or fewer digits")
    return f


def _pow2_floor(x: Fraction) -> Fraction:
    """Largest power of two ``≤ x`` (``x > 0``)."""
    # With a = p.bit_length(), b = q.bit_length() for x = p/q: 2^(a−1) ≤ p < 2^a and
    # 2^(b−1) ≤ q < 2^b, so 2^(e−1) < x < 2^(e+1) for e = a − b: 2^e or half of it.
    w = Fraction(2) ** (x.numerator.bit_length() - x.denominator.bit_length())
    return w if w <= x else w / 2


def _knots(regions: list[Region]) -> tuple[list[Fraction], list[Fraction]]:
    """Knots and values; each gap's transition is squeezed into a power-of-two width.

    A region is extended backwards (same affine map) to ``prev.hi + w``, ``w`` the largest
    power of two not above the gap, so every interpolating slope is dyadic.
    """
    xs: list[Fraction] = []
    ys: list[Fraction] = []
    for r in sorted(regions, key=lambda r: r.lo):
        if r.hi < r.lo or (xs and r.lo <= xs[-1]):
            raise InvalidArgument(f"region [{r.lo}, {r.hi}] overlaps or is empty")
        if xs:
            new_lo = xs[-1] + _pow2_floor(r.lo - xs[-1])
            r = Region(new_lo, r.hi, r.slope, r.value_at_lo + r.slope * (new_lo - r.lo))
        xs += [r.lo, r.hi] if r.hi > r.lo else [r.lo]
        ys += ([r.value_at_lo, r.value_at_lo + r.slope * (r.hi - r.lo)] if r.hi > r.lo
               else [r.value_at_lo])
    return xs, ys


def float64_words(name: str, x: Fraction) -> list[float]:
    """``x`` as a short sum of float64 words (greedy nearest), exactly; ``x`` dyadic.

    A dyadic rational whose bits span more than float64's 53 is split the way double-double
    arithmetic splits a value: each word is the nearest float64 to what remains. Raises
    :class:`InvalidArgument` when ``x`` is not dyadic or a word leaves float64's range.
    """
    words: list[float] = []
    rest = x
    while rest != 0:
        if len(words) > 64 or rest.denominator & (rest.denominator - 1):
            raise InvalidArgument(f"{name}={float(x)!r}: not a short sum of float64 words "
                                  "(not dyadic, or beyond float64's exponent range)")
        f = float(rest)
        if f == 0.0 or not math.isfinite(f):
            raise InvalidArgument(f"{name}={float(x)!r}: a word leaves float64's range")
        words.append(f)
        rest -= Fraction(f)
    return words


def _channel_units(regions: list[Region], left_slope: Fraction, right_slope: Fraction,
                   expand: bool) -> tuple[list[tuple[float, float, float]], list[float]]:
    """Hidden units ``(w1, b1, w2)`` and bias words of one channel's PL map (see below)."""
    xs, ys = _knots(regions)
    slopes = [left_slope] + [(ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k])
                             for k in range(len(xs) - 1)] + [right_slope]

    def words(name: str, v: Fraction) -> list[float]:
        return float64_words(name, v) if expand else [_exact(name, v)]

    units: list[tuple[float, float, float]] = []
    if slopes[0] != 1:
        units += [(1.0, 0.0, w) for w in words("slope", slopes[0] - 1)]
        units += [(-1.0, 0.0, w) for w in words("slope", 1 - slopes[0])]
    for k, x in enumerate(xs):
        change = slopes[k + 1] - slopes[k]
        if change != 0:
            units += [(1.0, _exact("knot", -x), w) for w in words("slope change", change)]
    return units, words("bias", ys[0] - slopes[0] * xs[0])


def layer_from_channel_regions(regions: list[list[Region]], *, left_slope: Fraction,
                               right_slope: Fraction, expand: bool = False,
                               ) -> FeedForwardWeights:
    """A separable layer whose channel ``c`` applies the PL map of ``regions[c]``.

    Each map equals its regions' affine maps on them, interpolates linearly between regions
    and continues with ``left_slope``/``right_slope`` outside. Units per channel: one per
    knot, plus two (``ReLU(y)``, ``ReLU(−y)``) when the left slope differs from the
    residual's 1. Knots must be float64 numbers; slopes and the bias must too, unless
    ``expand``: then each is a sum of float64 words (:func:`float64_words`) carried by
    several units at the same knot, and the bias's extra words by pairs of units that add
    a constant to the right of a knot placed one below the first.
    """
    per_channel = []
    for regs in regions:
        units, bias = _channel_units(regs, left_slope, right_slope, expand)
        if len(bias) > 1:
            # the words beyond the first: w·(ReLU(y − a) − ReLU(y − a − 1)) = w for y ≥ a + 1
            a = math.floor(min(r.lo for r in regs)) - 2.0
            for w in bias[1:]:
                units += [(1.0, -a, w), (1.0, -(a + 1.0), -w)]
        per_channel.append((units, bias[0] if bias else 0.0))
    d = len(regions)
    h = sum(len(u) for u, _ in per_channel)
    w1 = np.zeros((h, d))
    b1 = np.zeros(h)
    w2 = np.zeros((d, h))
    row = 0
    for c, (units, _) in enumerate(per_channel):
        for a, b, w in units:
            w1[row, c] = a
            b1[row] = b
            w2[c, row] = w
            row += 1
    b2 = np.array([bias for _, bias in per_channel], dtype=np.float64)
    return FeedForwardWeights(w1=w1, b1=b1, w2=w2, b2=b2)


def layer_from_regions(d: int, regions: list[Region], *, left_slope: Fraction,
                       right_slope: Fraction) -> FeedForwardWeights:
    """A separable layer applying the same PL ``g`` to each of ``d`` channels, every weight
    exactly a float64 (see :func:`layer_from_channel_regions`)."""
    return layer_from_channel_regions([regions] * d, left_slope=left_slope,
                                      right_slope=right_slope)


@dataclass(frozen=True)
class PLProfile:
    """Channel map ``y ↦ g(y)`` of a separable layer, residual included, exactly.

    ``xs`` sorted breakpoints, ``ys = g(xs)``, ``left``/``right`` slopes beyond the ends.
    With no breakpoints ``g`` is affine: ``ys = (g(0),)`` and ``left == right`` its slope.
    """

    xs: tuple[Fraction, ...]
    ys: tuple[Fraction, ...]
    left: Fraction
    right: Fraction

    def __call__(self, y: Fraction) -> Fraction:
        xs, ys = self.xs, self.ys
        if not xs:
            return ys[0] + self.left * y
        k = bisect.bisect_right(xs, y)
        if k == 0:
            return ys[0] + self.left * (y - xs[0])
        if k == len(xs):
            return ys[-1] + self.right * (y - xs[-1])
        x0, x1 = xs[k - 1], xs[k]
        return ys[k - 1] + (ys[k] - ys[k - 1]) * (y - x0) / (x1 - x0)

    def image(self, lo: Fraction, hi: Fraction) -> tuple[Fraction, Fraction]:
        """``(min, max)`` of ``g`` over ``[lo, hi]``: its ends and the breakpoints inside."""
        a, b = bisect.bisect_right(self.xs, lo), bisect.bisect_left(self.xs, hi)
        vals = [self(lo), self(hi), *self.ys[a:b]]
        return min(vals), max(vals)

    def value_range(self) -> tuple[Fraction, Fraction] | None:
        """``(min, max)`` of ``g`` over all of ℝ, or ``None`` if unbounded."""
        if self.left != 0 or self.right != 0:
            return None
        return min(self.ys), max(self.ys)


def profiles_of_layer(layer: FeedForwardWeights) -> list[PLProfile]:
    """One :class:`PLProfile` per channel, or :class:`InvalidArgument` if not separable."""
    d = layer.d
    owner: list[list[int]] = [[] for _ in range(d)]
    for u in range(layer.hidden):
        reads = np.flatnonzero(layer.w1[u])
        writes = np.flatnonzero(layer.w2[:, u])
        if len(writes) == 0:
            continue
        if len(reads) != 1 or any(int(c) != int(reads[0]) for c in writes):
            raise InvalidArgument(
                f"hidden unit {u} reads channels {reads.tolist()} and writes "
                f"{writes.tolist()}: layer is not separable (one channel per unit)")
        owner[int(reads[0])].append(u)
    out = []
    for c in range(d):
        pieces = []   # (breakpoint, w1, b1, w2)
        const = Fraction(float(layer.b2[c]))
        for u in owner[c]:
            a, b, w = (Fraction(float(v)) for v in (layer.w1[u, c], layer.b1[u],
                                                     layer.w2[c, u]))
            pieces.append((-b / a, a, b, w))
        ordered = sorted(p[0] for p in pieces)
        xs = [x for k, x in enumerate(ordered)             # distinct breakpoints, without
              if k == 0 or x != ordered[k - 1]]            # hashing Fractions

        def slope(y: Fraction, pieces: list = pieces) -> Fraction:
            return 1 + sum((w * a for _, a, b, w in pieces if a * y + b > 0), Fraction(0))

        if not xs:            # no unit reads this channel: y ↦ y + const
            out.append(PLProfile(xs=(), ys=(const,), left=Fraction(1), right=Fraction(1)))
            continue
        far = max(abs(x) for x in xs) + 1
        out.append(PLProfile(xs=tuple(xs), ys=tuple(_values_at(xs, pieces, const)),
                             left=slope(-far), right=slope(far)))
    return out


def _values_at(xs: list[Fraction], pieces: list, const: Fraction) -> list[Fraction]:
    """``g`` at every breakpoint in ``O(h log h)`` via sorted sweeps of the active set."""
    # g(y) = y + const + Σ_u w_u ReLU(a_u y + b_u); split units by the sign of a_u (never 0:
    # profiles_of_layer keeps only units that read their channel).
    pos = sorted((p for p in pieces if p[1] > 0), key=lambda p: p[0])
    neg = sorted((p for p in pieces if p[1] < 0), key=lambda p: p[0])
    # active positive units at y: breakpoint < y; active negative units: breakpoint > y.
    ys = []
    pa = pb = Fraction(0)      # Σ w a, Σ w b over active positive units
    na = sum((p[3] * p[1] for p in neg), Fraction(0))
    nb = sum((p[3] * p[2] for p in neg), Fraction(0))
    ip = ineg = 0
    for x in xs:
        while ip < len(pos) and pos[ip][0] < x:
            pa += pos[ip][3] * pos[ip][1]
            pb += pos[ip][3] * pos[ip][2]
            ip += 1
        while ineg < len(neg) and neg[ineg][0] <= x:
            na -= neg[ineg][3] * neg[ineg][1]
            nb -= neg[ineg][3] * neg[ineg][2]
            ineg += 1
        ys.append(x + const + (pa + na) * x + pb + nb)
    return ys
