"""Phase-transition data: minimal polynomial-method rank against ``B/√log n`` (K4, K6).

Paper labels ``thm:inference_linear`` (below) and ``thm:forward_efficiency_threshold`` (the
SETH threshold, which this data *illustrates* and cannot test). Convention: Alman–Song's
``β = 1/s`` (docs/theory.md §3), so ``R = β·s·B² = B²``; with ``B = c·√log n`` this is
``R = c²·ln n``. The target is ``δ_F = 1/n`` in max norm with ``‖V‖_max <= 1``, i.e. a
relative error ``ε = 4δ/(4 + δ²)`` (the error lemma solved for ``ε``). Both come from
:mod:`core.kernels.regime` (``R`` from :class:`~core.kernels.regime.KernelRegime`, ``ln(1/ε)``
from :func:`~core.kernels.regime.error_target` in log space).

The degree is the smallest Taylor degree whose Lagrange bound ``e^R R^{g+1}/(g+1)!`` meets
``ε`` — a sufficient degree (the bound is within a factor ``e^R`` of the true error), so
the rank ``C(s+g, g)`` reported is the rank the polynomial method *needs* with Taylor
polynomials (:func:`~core.kernels.polynomial.taylor_degree`). Everything is computed in log
space, so ``n`` may be astronomically large.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InvalidArgument
from ..validation import check_int, check_real
from .polynomial import taylor_degree
from .regime import KernelRegime, error_target

__all__ = [
    "PhaseRow",
    "crossing_ratio",
    "log_rank_over_n",
    "phase_transition_table",
]

PAPER_REF = "thm:forward_efficiency_threshold"


def _log_comb(a: int, b: int) -> float:
    return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)


@dataclass(frozen=True)
class PhaseRow:
    """One point: ``n = 2^log2_n``, ``B = c·√ln n``, degree ``g``, rank ``C(s+g, g)``."""

    log2_n: float
    c: float
    B: float
    radius: float
    degree: int
    rank: int
    log_rank_over_n: float

    @property
    def rank_exceeds_n(self) -> bool:
        return self.log_rank_over_n >= 0.0


def log_rank_over_n(log2_n: float, B: float, s: int) -> tuple[int, int, float]:
    """``(g, r, ln(r/n))`` at ``n = 2^log2_n`` for ``δ_F = 1/n`` and norm ``B`` (``β = 1/s``)."""
    log2_n = check_real("log2_n", log2_n, low=1.0)
    B = check_real("B", B, low=0.0)
    s = check_int("s", s, minimum=1)
    log_n = log2_n * math.log(2.0)
    radius = KernelRegime(s=s, beta=1.0 / s, B=B).radius
    g = taylor_degree(radius, error_target(log_inv_delta=log_n).log_inv_eps)
    log_r = _log_comb(s + g, g)
    rank = math.comb(s + g, g) if log_r < 700 else -1
    return g, rank, log_r - log_n


def phase_transition_table(log2_ns: Sequence[int], ratios: Sequence[float], *,
                           s: int = 8) -> list[PhaseRow]:
    """Rows for every ``n = 2^k`` in ``log2_ns`` and ``c = B/√ln n`` in ``ratios``."""
    for name, values in (("log2_ns", log2_ns), ("ratios", ratios)):
        if len(values) == 0:
            raise InvalidArgument(f"{name}={values!r}: expected at least one value")
    rows = []
    for k in log2_ns:
        root = math.sqrt(k * math.log(2.0))
        for c in ratios:
            c = check_real("ratio", c, low=0.0)
            B = c * root
            g, rank, lr = log_rank_over_n(float(k), B, s)
            rows.append(PhaseRow(log2_n=float(k), c=c, B=B,
                                 radius=KernelRegime(s=s, beta=1.0 / s, B=B).radius, degree=g,
                                 rank=rank, log_rank_over_n=lr))
    return rows


def crossing_ratio(rows: Sequence[PhaseRow], log2_n: float) -> float | None:
    """Smallest ``c`` among ``rows`` at ``n = 2^log2_n`` whose rank reaches ``n`` (``None``
    when none does; rows with no row at that ``n`` are refused rather than read as "no
    crossing")."""
    if not any(row.log2_n == log2_n for row in rows):
        raise InvalidArgument(f"log2_n={log2_n!r}: no row of the {len(rows)} given is at "
                              "this n")
    hits = [row.c for row in rows if row.log2_n == log2_n and row.rank_exceeds_n]
    return min(hits) if hits else None

