"""Symmetric-monomial feature maps of exact rank ``r = C(s+g, g)`` (docs/theory.md §3, K2/K4).

Paper label ``thm:inference_linear`` (the polynomial method of Alman & Song 2023). For a
polynomial ``p(x) = Σ_{j<=g} c_j x^j`` and ``x = β kᵀq`` the multinomial theorem gives

    p(β kᵀq) = Σ_{|α| <= g} c_{|α|} β^{|α|} (|α| choose α) q^α · k^α,

a sum over the ``C(s+g, g)`` exponent vectors ``α ∈ N^s`` with ``|α| <= g``. So with

    U1(q)_α = c_{|α|} β^{|α|} (|α| choose α) q^α,      U2(k)_α = k^α,

``U1(q) · U2(k) = p(β kᵀq)`` and the score matrix has rank at most ``r = C(s+g, g)``, the
number of *symmetric* monomials — never the loose ``C(2(s+g), 2g)`` of the paper's bound
(s = 8, g = 4: 495 against 735,471).

Monomials are built level by level: every degree-``j`` monomial ``x_{i_1}⋯x_{i_j}`` with
``i_1 <= … <= i_j`` is its degree-``(j−1)`` parent times ``x_{i_j}``, one multiply each
(level 1 is ``x`` itself, copied). The kernel builds levels ``0 … g−1`` only and never forms
the top level (:meth:`MonomialFeatures.top_groups`: the degree-``g`` monomials ending in
``x_i`` are the first ``count_i`` of level ``g−1`` times ``x_i``, so the kernel multiplies
``x_i`` into the small side of the product instead).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ConstructionTooLarge
from ..validation import MEMORY_LIMIT_BYTES, check_int

__all__ = ["MonomialBlock", "MonomialFeatures", "feature_rank", "loose_rank"]

PAPER_REF = "thm:inference_linear"

#: Bytes per exponent-table entry (int64) used when sizing the tables before building.
_TABLE_ITEMSIZE = 8


def feature_rank(s: int, g: int) -> int:
    """``r = C(s+g, g)``: monomials of degree ``<= g`` in ``s`` variables."""
    s = check_int("s", s, minimum=1)
    g = check_int("g", g, minimum=0)
    return math.comb(s + g, g)


def loose_rank(s: int, g: int) -> int:
    """The paper's upper bound ``C(2(s+g), 2g)``, reported for comparison only."""
    s = check_int("s", s, minimum=1)
    g = check_int("g", g, minimum=0)
    return math.comb(2 * (s + g), 2 * g)


@dataclass(frozen=True)
class MonomialFeatures:
    """The exponent tables for degree ``<= g`` monomials in ``s`` variables.

    Attributes:
        s: number of variables (head dimension).
        g: maximal degree.
        prefix_counts: per level ``j >= 1`` and variable ``i``, how many level-``(j−1)``
            monomials have largest variable ``<= i``. Levels are grouped by largest variable,
            so the monomials ending in ``x_i`` are the first ``prefix_counts[j][i]`` of the
            previous level times ``x_i``: contiguous slices, no gather.
        exponents: ``(r, s)`` int array of exponent vectors ``α`` (level order).
        multinomials: ``(r,)`` float64 array of ``|α|! / Π α_i!``.
        degrees: ``(r,)`` int array of ``|α|``.
    """

    s: int
    g: int
    prefix_counts: tuple[tuple[int, ...], ...] = field(repr=False)
    exponents: np.ndarray = field(repr=False)
    multinomials: np.ndarray = field(repr=False)
    degrees: np.ndarray = field(repr=False)

    @property
    def rank(self) -> int:
        """``r = C(s+g, g)``."""
        return int(self.exponents.shape[0])

    @classmethod
    def build(cls, s: int, g: int, *, memory_limit: int = MEMORY_LIMIT_BYTES
              ) -> MonomialFeatures:
        """Build the tables, refusing (before allocating) if they would exceed the limit.

        Raises:
            ConstructionTooLarge: ``r·(s+4)`` table entries exceed ``memory_limit`` bytes;
                ``nearest`` is the largest degree that fits.
        """
        r = feature_rank(s, g)
        need = r * (s + 4) * _TABLE_ITEMSIZE
        if need > memory_limit:
            fits = g
            while fits > 0 and feature_rank(s, fits) * (s + 4) * _TABLE_ITEMSIZE > memory_limit:
                fits -= 1
            raise ConstructionTooLarge(
                f"monomial tables for s={s}, g={g} (rank r={r}) need {need / 2**20:.1f} MiB, "
                f"over memory_limit={memory_limit / 2**20:.1f} MiB; degree g={fits} fits",
                required=need, limit=memory_limit, nearest=fits)
        level_exps = [np.zeros((1, s), dtype=np.int64)]
        level_last = [np.array([0])]                        # largest variable index used
        prefix_counts = []
        for _ in range(g):
            prev_exps, prev_last = level_exps[-1], level_last[-1]
            prefix_counts.append(tuple(int(np.sum(prev_last <= i)) for i in range(s)))
            par = np.concatenate([np.flatnonzero(prev_last <= i) for i in range(s)])
            var = np.concatenate([np.full(int(np.sum(prev_last <= i)), i) for i in range(s)])
            exps = prev_exps[par].copy()
            exps[np.arange(len(par)), var] += 1
            level_exps.append(exps)
            level_last.append(var)
        exponents = np.concatenate(level_exps)
        degrees = exponents.sum(axis=1)
        multinomials = np.array(
            [float(math.factorial(int(d)) // math.prod(math.factorial(int(a)) for a in row))
             for d, row in zip(degrees, exponents, strict=True)], dtype=np.float64)
        return cls(s=s, g=g, prefix_counts=tuple(prefix_counts), exponents=exponents,
                   multinomials=multinomials, degrees=degrees)

    def query_weights(self, coefficients: tuple[float, ...], beta: float) -> np.ndarray:
        """``(r,)`` float64 weights ``c_{|α|} β^{|α|} (|α| choose α)`` of ``U1``."""
        c = np.asarray(coefficients, dtype=np.float64)
        return c[self.degrees] * beta ** self.degrees.astype(np.float64) * self.multinomials

    def level_start(self, j: int) -> int:
        """First row of level ``j`` (``C(s+j−1, j−1)`` rows precede it; ``0`` for ``j = 0``)."""
        return 0 if j == 0 else feature_rank(self.s, j - 1)

    def query_sides(self, parts: Sequence[torch.Tensor], weights: torch.Tensor
                    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The key pass's partial sums ``S`` ``(d_v+1, r)`` (one per thread) added in their
        fixed order, times the query weights ``(r,)``, split for the query pass:
        ``(S_low, S_top)`` — the columns of levels ``0 … g−1`` and one block per top
        group (:meth:`top_groups`), each contiguous."""
        S = parts[0]
        for part in parts[1:]:
            S = S + part                                            # fixed order
        S = S * weights                                             # fold U1's weights in
        low_rows = self.level_start(self.g) if self.g else self.rank
        return (S[:, :low_rows].contiguous(),
                [S[:, row:row + count].contiguous() for _, row, count in self.top_groups()])

    def top_groups(self) -> tuple[tuple[int, int, int], ...]:
        """The degree-``g`` rows grouped by their largest variable: ``(i, first_row,
        count)`` per variable ``i``, where rows ``first_row … first_row + count`` are the
        first ``count`` rows of level ``g−1`` times ``x_i``. Empty for ``g = 0``."""
        if self.g == 0:
            return ()
        out, row = [], self.level_start(self.g)
        for i, count in enumerate(self.prefix_counts[-1]):
            out.append((i, row, count))
            row += count
        return tuple(out)

    def monomials(self, X: torch.Tensor, degree: int | None = None) -> torch.Tensor:
        """All monomials ``x^α`` with ``|α| <= degree`` (default ``g``) of the columns
        (tokens) of ``X``.

        Args:
            X: ``(s, c)`` tensor, one token per column.
            degree: highest level built, ``0 … g``.

        Returns:
            ``(C(s+degree, degree), c)`` tensor in the dtype and on the device of ``X``,
            rows in level order (the first rows of the full table). When autograd is
            recording through ``X`` the rows are built functionally; otherwise they are
            written in place into one preallocated buffer.
        """
        top = self.g if degree is None else degree
        if torch.is_grad_enabled() and X.requires_grad:
            return self._monomials_functional(X)[:self.level_start(top + 1)]
        return MonomialBlock(self, top, X.shape[1], X.dtype, X.device).fill(X)

    def _monomials_functional(self, X: torch.Tensor) -> torch.Tensor:
        level = torch.ones(1, X.shape[1], dtype=X.dtype, device=X.device)
        levels = [level]
        for counts in self.prefix_counts:
            level = torch.cat([level[:count] * X[i] for i, count in enumerate(counts)])
            levels.append(level)
        return torch.cat(levels)


#: A fill plan: the buffer's first columns, its level-1 rows, and the product views.
_FillPlan = tuple[torch.Tensor, "torch.Tensor | None", list[tuple[torch.Tensor, ...]]]


class MonomialBlock:
    """A preallocated ``(C(s+degree, degree), cols)`` buffer for the monomials of degree
    ``<= degree`` of up to ``cols`` token columns, with the views of every product fixed
    once per width: :meth:`fill` costs one copy (level 1) and one ``mul`` per level and
    variable into the buffer, and allocates nothing. The kernel keeps one per thread and
    fills it for every block of both passes.
    """

    def __init__(self, features: MonomialFeatures, degree: int, cols: int,
                 dtype: torch.dtype, device: torch.device | str):
        self.features = features
        self.degree = degree
        self.buffer = torch.empty(features.level_start(degree + 1), cols, dtype=dtype,
                                  device=device)
        self.buffer[0] = 1
        self._plans: dict[int, _FillPlan] = {}

    def _plan(self, width: int) -> _FillPlan:
        """``(first width columns, level-1 rows, [(destination, parent rows, variable
        row), …])``; each level's rows ending in ``x_i`` are the first
        ``prefix_counts[j][i]`` parents times level 1's row ``i``."""
        out = self.buffer[:, :width]
        if self.degree == 0:
            return out, None, []
        s = self.features.s
        steps = []
        prev, start = 1, 1 + s
        for counts in self.features.prefix_counts[1:self.degree]:
            row = start
            for i, count in enumerate(counts):
                steps.append((out[row:row + count], out[prev:prev + count], out[1 + i]))
                row += count
            prev, start = start, row
        return out, out[1:1 + s], steps

    def fill(self, X: torch.Tensor) -> torch.Tensor:
        """The monomials of the columns of ``X`` ``(s, c)``, ``c <= cols``: a
        ``(C(s+degree, degree), c)`` view of the buffer, valid until the next fill."""
        width = X.shape[1]
        plan = self._plans.get(width)
        if plan is None:
            plan = self._plans[width] = self._plan(width)
        out, level_one, steps = plan
        if level_one is not None:
            level_one.copy_(X)
        for destination, parents, variable in steps:
            torch.mul(parents, variable, out=destination)
        return out
