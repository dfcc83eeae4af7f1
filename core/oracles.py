"""mpmath oracles evaluated at two precisions (docs/design.md, "Oracle discipline").

An oracle is a function ``dps -> float64 array`` that runs entirely inside
``mpmath.workdps(dps)`` and converts back with ``float(mpf)``. :func:`converged` runs it at
a working precision and again at a higher one; agreement to well below the comparison
tolerance shows the oracle has converged, and only then is its value used as the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
import torch

from .errors import ClaimViolation
from .mp_twin import mp_attention, mp_forward, to_float64, to_mp
from .weights import TransformerWeights

__all__ = [
    "PRECISIONS",
    "OracleValue",
    "attention_oracle",
    "converged",
    "model_oracle",
]

#: Working and check precisions in decimal digits.
PRECISIONS: tuple[int, int] = (30, 45)


@dataclass(frozen=True)
class OracleValue:
    """A converged oracle value: ``value`` at the higher precision and the gap between the two."""

    value: np.ndarray
    gap: float
    dps: tuple[int, int]

    @property
    def slack(self) -> float:
        """How far ``value`` may sit from the exact result in the max norm: ``float(mpf)``
        rounds each entry to float64 (``2^-53`` relative), plus the gap between the two
        precisions. A comparison with a computed error bound adds this to it."""
        scale = float(np.max(np.abs(self.value))) if self.value.size else 0.0
        return 2.0 ** -53 * scale + self.gap


def converged(oracle: Callable[[int], np.ndarray], *, dps: tuple[int, int] = PRECISIONS,
              rtol: float = 1e-20) -> OracleValue:
    """Evaluate ``oracle`` at both precisions and check they agree.

    The two results must agree to ``rtol`` relative to their max norm (far below any
    float64 tolerance), plus one ulp of each entry (each is rounded to float64, and a value
    near a rounding midpoint may round to neighbouring floats at the two precisions);
    otherwise :class:`ClaimViolation` says the oracle has not converged.
    The global mpmath precision is checked to be unchanged afterwards.
    """
    before = mpmath.mp.dps
    low, high = dps
    a, b = oracle(low), oracle(high)
    if mpmath.mp.dps != before:
        raise ClaimViolation(f"oracle changed global mpmath precision from {before} to "
                             f"{mpmath.mp.dps}; oracles must run inside mpmath.workdps")
    gap = float(np.max(np.abs(a - b))) if a.size else 0.0
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    # both results are rounded to float64 by float(mpf): a value within 10^-30 of a
    # rounding midpoint may round to neighbouring floats at the two precisions, so one ulp
    # of each entry is allowed on top of rtol
    allowed = rtol * max(scale, 1.0) + np.spacing(np.abs(b))
    if a.size and not bool(np.all(np.abs(a - b) <= allowed)):
        raise ClaimViolation(
            f"oracle not converged: results at {low} and {high} digits differ by {gap!r} "
            f"(allowed {rtol * max(scale, 1.0)!r} plus one ulp of each entry)")
    return OracleValue(value=b, gap=gap, dps=dps)


def model_oracle(weights: TransformerWeights, X: np.ndarray, P: np.ndarray, *,
                 full: bool = False) -> OracleValue:
    """τ_P(X) from the mpmath twin at two precisions; ``X``: ``(d, L)``, ``P``: ``(d, L_p)``."""
    return converged(lambda dps: to_float64(mp_forward(weights, X, P, dps=dps, full=full)))


def attention_oracle(Q: np.ndarray | torch.Tensor, K: np.ndarray | torch.Tensor,
                     V: np.ndarray | torch.Tensor, beta: float) -> OracleValue:
    """``V softmax_col(β KᵀQ)`` in mpmath at two precisions (float64 inputs, exact)."""
    q, k, v = (np.asarray(t.detach().cpu() if isinstance(t, torch.Tensor) else t, np.float64)
               for t in (Q, K, V))

    def at(dps: int) -> np.ndarray:
        with mpmath.workdps(dps):
            return to_float64(mp_attention(to_mp(q), to_mp(k), to_mp(v), mpmath.mpf(beta)))

    return converged(at)
