"""The best constant predictor's ``d_p``, bounded below rigorously (non-vacuity of claim U).

A certificate ``d_p(τ_P, f) < ε`` says nothing when a constant map already achieves it
(docs/theory.md §2 U, "Non-vacuity"). For ``f: [0,1]^{d×L} → [0,1]^{d×L}`` and a constant
``c``, ``d_p(c, f)^p = Σ_ij ∫ |f_ij − c_ij|^p`` separates over entries, so the best constant
is found entry by entry. On a grid of ``G^{dL}`` cells of side ``h = 1/G`` with centre
``x_k`` whose value is enclosed in ``[lo, hi]``, ``f`` is ``C``-Lipschitz, so
``|f_ij(x) − c| ≥ a − C‖x − x_k‖_max`` with ``a = dist(c, [lo, hi])``. The set
``‖x − x_k‖_max ≤ ρ`` has volume ``(2ρ)^n`` (``n = dL``), hence

    ∫_cell |f_ij − c|^p ≥ g(a) = ∫_0^r (a − Cρ)^p n 2^n ρ^{n−1} dρ,   r = min(h/2, a/C),
    g(a) = n 2^n Σ_k binom(p, k) a^{p−k} (−C)^k r^{k+n} / (k + n)             (exact),

and ``d_p(c, f)^p ≥ Σ_ij h_ij(c_ij)``, ``h_ij(c) = Σ_cells g(dist(c, I_cell,ij))``, each
``h_ij`` convex (``g`` is convex and nondecreasing in ``a``). A float search finds a
near-minimiser ``c*``; exact rationals then show ``h(c* − t) ≥ h(c*) ≤ h(c* + t)`` (so the
minimiser lies within ``t``) and bound ``min h ≥ h(c*) − t·sup |h'|`` over that bracket,
with ``|h'| ≤ Σ_cells p a^{p−1} h^n`` (``g' ≤ p a^{p−1}·vol``). The result is a rational
lower bound of ``min_c d_p(c, f)^p``: rigorous given the target's ``C`` and enclosure
(proved for our families, checked or assumed for a user's, :mod:`.assumptions`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from flint import fmpq

from ..errors import InvalidArgument
from ..validation import check_int

__all__ = ["BestConstant", "baseline_grid", "best_constant_lower", "demonstration_baseline",
           "demonstration_grid"]

#: Most cells the baseline grid may have (each enclosed once).
MAX_BASELINE_CELLS = 1 << 10

#: Bracket half-width around the float minimiser.
_T = Fraction(1, 2**24)


@dataclass(frozen=True)
class BestConstant:
    """``dp_lower ≤ min_c d_p(c, f)``; ``constants`` the near-best ``c`` (``d×L`` floats).

    Attributes:
        power_lower: rational lower bound of ``min_c d_p(c, f)^p``.
        dp_lower: a float ``≤ power_lower^{1/p}`` (checked exactly).
        grid: ``G``, cells per coordinate of the baseline grid.
    """

    power_lower: Fraction
    dp_lower: float
    constants: tuple[tuple[float, ...], ...]
    grid: int
    p: int


def baseline_grid(d: int, L: int, limit: int = MAX_BASELINE_CELLS) -> int:
    """The largest ``G`` with ``G^{dL} ≤ limit`` (at least 1)."""
    n = d * L
    g = 1
    while (g + 1) ** n <= limit:
        g += 1
    return g


def demonstration_grid(d: int, L: int) -> int:
    """The baseline grid of the non-vacuity demonstrations: the finest ``G ≤ 16`` with
    ``G^{dL} ≤ 4096`` cells (``G = 8`` at ``d·L = 4``, about 3 s per target there)."""
    return min(16, baseline_grid(d, L, 4096))


def _g_floats(a: np.ndarray, C: float, h: float, n: int, p: int) -> np.ndarray:
    """``g(a)`` of the module docstring, vectorised in float64 (for the search only)."""
    r = np.minimum(h / 2, a / C)
    total = np.zeros_like(a)
    for k in range(p + 1):
        total += math.comb(p, k) * a ** (p - k) * (-C) ** k * r ** (k + n) / (k + n)
    return np.maximum(n * 2.0**n * total, 0.0)


def _q(x: Fraction) -> fmpq:
    return fmpq(x.numerator, x.denominator)


def _g_exact(a: fmpq, C: fmpq, h: fmpq, n: int, p: int) -> fmpq:
    """``g(a)`` of the module docstring in exact rationals (python-flint ``fmpq``)."""
    if a <= 0:
        return fmpq(0)
    r = h / 2 if h / 2 <= a / C else a / C
    total = fmpq(0)
    for k in range(p + 1):
        total += math.comb(p, k) * a ** (p - k) * (-C) ** k * r ** (k + n) / (k + n)
    return n * 2**n * total


def _dist(c: fmpq, lo: fmpq, hi: fmpq) -> fmpq:
    return lo - c if c < lo else (c - hi if c > hi else fmpq(0))


def _entry_lower(lo: list[Fraction], hi: list[Fraction], p: int, C: Fraction, h: Fraction,
                 n: int) -> tuple[Fraction, float]:
    """Rigorous lower bound of ``min_c h_ij(c)`` (module docstring) and the float ``c*``."""
    flo = np.array([float(v) for v in lo])
    fhi = np.array([float(v) for v in hi])
    fC, fh = float(C), float(h)

    def objective(c: float) -> float:
        a = np.maximum(np.maximum(flo - c, c - fhi), 0.0)
        return float(np.sum(_g_floats(a, fC, fh, n, p)))

    a_, b_ = float(np.min(flo)), float(np.max(fhi))
    for _ in range(200):                          # ternary search on a convex function
        m1, m2 = a_ + (b_ - a_) / 3, b_ - (b_ - a_) / 3
        if objective(m1) <= objective(m2):
            b_ = m2
        else:
            a_ = m1
    c = fmpq(*Fraction((a_ + b_) / 2).as_integer_ratio())
    qlo, qhi = [_q(v) for v in lo], [_q(v) for v in hi]
    qC, qh, t = _q(C), _q(h), _q(_T)

    def exact(x: fmpq) -> fmpq:
        total = fmpq(0)
        for u, v in zip(qlo, qhi, strict=True):
            total += _g_exact(_dist(x, u, v), qC, qh, n, p)
        return total

    h0, left, right = exact(c), exact(c - t), exact(c + t)
    if left < h0 or right < h0:                   # not bracketed: claim nothing
        return Fraction(0), float(c)
    far = max(max(_dist(c - t, u, v), _dist(c + t, u, v)) for u, v in zip(qlo, qhi,
                                                                          strict=True))
    slope = len(lo) * p * far ** (p - 1) * qh**n if p > 1 else len(lo) * qh**n
    low = h0 - t * slope
    return (Fraction(int(low.p), int(low.q)) if low > 0 else Fraction(0)), float(c)


def best_constant_lower(target: Any, p: int, *, grid: int | None = None,
                        max_cells: int = MAX_BASELINE_CELLS) -> BestConstant:
    """A rigorous lower bound of the best constant predictor's ``d_p`` for ``target``.

    Args:
        target: a :class:`core.targets.Target` (our family or a user's).
        p: the exponent of ``d_p``, ``1..16``.
        grid: cells per coordinate (default: the finest with ``G^{dL} ≤ max_cells``).
        max_cells: most cells (each enclosed once; about 1 ms each at ``d·L = 4``); finer
            grids tighten the bound.
    """
    p = check_int("p", p, minimum=1, maximum=16)
    max_cells = check_int("max_cells", max_cells, minimum=1, maximum=1 << 20)
    d, L = target.d, target.L
    G = baseline_grid(d, L, max_cells) if grid is None else check_int("grid", grid, minimum=1)
    n = d * L
    if G**n > max_cells:
        raise InvalidArgument(f"grid={G}: {G}^{n} cells exceed max_cells={max_cells}")
    C, h = Fraction(target.C), Fraction(1, G)
    los: list[list[Fraction]] = [[] for _ in range(n)]
    his: list[list[Fraction]] = [[] for _ in range(n)]
    for q in itertools.product(range(G), repeat=n):
        Xq = [[Fraction(2 * q[j * d + i] + 1, 2 * G) for j in range(L)] for i in range(d)]
        lo, hi = target.enclose(Xq)
        for i in range(d):
            for j in range(L):
                los[i * L + j].append(lo[i][j])
                his[i * L + j].append(hi[i][j])
    total, consts = Fraction(0), []
    for k in range(n):
        low, c = _entry_lower(los[k], his[k], p, C, h, n)
        total += low
        consts.append(c)
    root = float(total) ** (1.0 / p)
    while root > 0 and Fraction(root) ** p > total:
        root = float(np.nextafter(root, 0.0))
    shaped = tuple(tuple(consts[i * L + j] for j in range(L)) for i in range(d))
    return BestConstant(power_lower=total, dp_lower=root, constants=shaped, grid=G, p=p)


def demonstration_baseline(target: Any, p: int) -> BestConstant:
    """:func:`best_constant_lower` on :func:`demonstration_grid` (the non-vacuity claim's
    and the measured table's baseline)."""
    G = demonstration_grid(target.d, target.L)
    return best_constant_lower(target, p, grid=G, max_cells=G ** (target.d * target.L))
