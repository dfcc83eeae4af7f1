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
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import InvalidArgument
from ..weights import FeedForwardWeights

__all__ = ["PLProfile", "Region", "layer_from_regions", "profiles_of_layer"]


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


def layer_from_regions(d: int, regions: list[Region], *, left_slope: Fraction,
                       right_slope: Fraction) -> FeedForwardWeights:
    """A separable layer applying the same PL ``g`` to each of ``d`` channels.

    ``g`` equals each region's affine map on it, interpolates linearly between regions and
    continues with ``left_slope``/``right_slope`` outside. Units per channel: one per knot,
    plus two (``ReLU(y)``, ``ReLU(−y)``) when the left slope differs from the residual's 1.
    Weights are checked to be exactly representable in float64.
    """
    xs, ys = _knots(regions)
    slopes = [left_slope] + [(ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k])
                             for k in range(len(xs) - 1)] + [right_slope]
    units: list[tuple[float, float, float]] = []   # (w1, b1, w2) for one channel
    if slopes[0] != 1:
        units.append((1.0, 0.0, _exact("slope", slopes[0] - 1)))
        units.append((-1.0, 0.0, _exact("slope", 1 - slopes[0])))
    for k, x in enumerate(xs):
        change = slopes[k + 1] - slopes[k]
        if change != 0:
            units.append((1.0, _exact("knot", -x), _exact("slope change", change)))
    bias = ys[0] - slopes[0] * xs[0]
    h = len(units)
    w1 = np.zeros((d * h, d))
    b1 = np.zeros(d * h)
    w2 = np.zeros((d, d * h))
    for c in range(d):
        for u, (a, b, w) in enumerate(units):
            w1[c * h + u, c] = a
            b1[c * h + u] = b
            w2[c, c * h + u] = w
    b2 = np.full(d, _exact("bias", bias))
    return FeedForwardWeights(w1=w1, b1=b1, w2=w2, b2=b2)


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
        xs = sorted({p[0] for p in pieces})

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
