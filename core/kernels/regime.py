"""The kernel's norm regime and the error lemma, each quantity derived once (docs/theory.md §3).

Paper label ``thm:inference_linear``. A regime is the head dimension ``s``, the score scale
``β``, the norm promise ``B = max(‖Q‖_max, ‖K‖_max)``, a target max-norm error ``δ_F`` in
units of ``‖V‖_max`` and the sequence length ``n = L_p + L``. From it:

    R = β·s·B²                 every score β·kᵀq lies in [−R, R]        (score_radius)
    ε = 4t/(4 + t²),           the relative error of p ≈ exp that the     (eps_for_error)
      t = δ_F/‖V‖_max          error lemma 2ε/(1+√(1−ε²))·‖V‖_max turns into δ_F
    B / √ln n                  the phase-transition coordinate           (KernelRegime.ratio)

Every module that needs one of these (the plan, the regime audits, prompt tuning,
strategies, claims, the phase data, the benchmark) calls the function here.

Error lemma (docs/theory.md §3, K3): entrywise relative error ``ε < 1`` in the unnormalised
matrix gives at most ``2ε/(1+√(1−ε²))·‖V‖_max`` (about ``ε·‖V‖_max``) in the normalised
output, exact arithmetic, any number of keys; two keys attain it, so the constant is tight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import InvalidArgument
from ..validation import check_int, check_real

__all__ = [
    "ErrorTarget",
    "KernelRegime",
    "eps_for_error",
    "error_target",
    "lemma_bound",
    "score_radius",
]

PAPER_REF = "thm:inference_linear"

#: ``δ`` below ``e^{-700}`` is handled in log space (``exp`` underflows past ~``e^{-745}``).
_LOG_INV_DELTA_FLOAT_LIMIT = 700.0


def score_radius(s: int, B: float, beta: float) -> float:
    """``R = β·s·B²`` rounded up by a few ulps, so ``|β kᵀq| <= R`` whenever entries ``<= B``."""
    s = check_int("s", s, minimum=1)
    B = check_real("B", B, low=0.0)
    beta = check_real("beta", beta, low=0.0, low_open=True)
    r = beta * s * B * B
    return r * (1 + 8 * 2.0**-52) if r > 0 else 0.0


#: Relative slack that makes the float evaluation of the lemma an upper bound (a handful of
#: correctly rounded operations, each within ``2^-53``).
_LEMMA_ROUNDING = 1.0 + 16 * 2.0**-53


def lemma_bound(eps: float, v_max: float) -> float:
    """``2ε/(1+√(1−ε²))·‖V‖_max``: the max-norm output error from relative error ``ε``
    (``ε < 1``), the tight constant of the error lemma, rounded up."""
    e = check_real("eps", eps, low=0.0, high=1.0, high_open=True)
    v = check_real("v_max", v_max, low=0.0)
    return 2.0 * e / (1.0 + math.sqrt((1.0 - e) * (1.0 + e))) * v * _LEMMA_ROUNDING


class ErrorTarget(NamedTuple):
    """The relative error ``ε`` for a max-norm target, and ``ln(1/ε)``.

    ``eps`` underflows to ``0.0`` when ``δ < e^{-700}`` (astronomically large ``n`` in the
    phase data); ``log_inv_eps`` is finite for every ``δ > 0``.
    """

    eps: float
    log_inv_eps: float


def error_target(delta: float | None = None, v_max: float = 1.0, *,
                 log_inv_delta: float | None = None) -> ErrorTarget:
    """The error lemma solved for ``ε``: the largest ``ε`` (to rounding) with
    :func:`lemma_bound` ``<= δ``, i.e. ``ε = 4t/(4 + t²)`` with ``t = δ/v_max`` (from
    ``2ε − t = t√(1−ε²)``; every ``ε < 1`` meets ``t >= 2``).

    Give ``delta`` or, for ``δ`` too small for a float, ``log_inv_delta = ln(1/δ)``. Below
    ``δ = e^{-700}`` the correction ``ln(1 + t²/4)`` to ``ln(1/ε) = ln(1/δ) + ln v_max`` is
    under ``1e-600`` and vanishes in float64, so that form is exact there.
    """
    v = check_real("v_max", v_max, low=0.0, low_open=True)
    if (delta is None) == (log_inv_delta is None):
        raise InvalidArgument(f"delta={delta!r}, log_inv_delta={log_inv_delta!r}: give "
                              "exactly one")
    if log_inv_delta is not None:
        big = check_real("log_inv_delta", log_inv_delta, low=0.0, low_open=True)
        if big > _LOG_INV_DELTA_FLOAT_LIMIT:
            return ErrorTarget(eps=0.0, log_inv_eps=big + math.log(v))
        delta = math.exp(-big)
    d = check_real("delta", delta, low=0.0, low_open=True)
    t = d / v
    e = min(4.0 * t / (4.0 + t * t), math.nextafter(1.0, 0.0)) if t < 2.0 else \
        math.nextafter(1.0, 0.0)
    while lemma_bound(e, v) > d:
        e = math.nextafter(e, 0.0)
    return ErrorTarget(eps=e, log_inv_eps=-math.log(e))


def eps_for_error(delta: float, v_max: float) -> float:
    """``ε`` of :func:`error_target` for a max-norm target ``delta`` (``4t/(4 + t²)``,
    ``t = δ/v_max``)."""
    return error_target(delta, v_max).eps


@dataclass(frozen=True)
class KernelRegime:
    """One regime of the polynomial-method kernel (docs/theory.md §3).

    Attributes:
        s: head dimension (``Q, K`` are ``(s, ·)``).
        beta: score scale ``β`` (scores ``β kᵀq``).
        B: norm promise ``max(‖Q‖_max, ‖K‖_max) <= B``.
        delta_F: target max-norm error of the attention output, or ``None``.
        v_max: ``‖V‖_max`` the target is measured against (``δ_F`` is in its units).
        n: sequence length ``L_p + L``, or ``None``.
    """

    s: int
    beta: float
    B: float
    delta_F: float | None = None
    v_max: float = 1.0
    n: int | None = None

    def __post_init__(self) -> None:
        check_int("s", self.s, minimum=1)
        check_real("beta", self.beta, low=0.0, low_open=True)
        check_real("B", self.B, low=0.0)
        check_real("v_max", self.v_max, low=0.0, low_open=True)
        if self.delta_F is not None:
            check_real("delta_F", self.delta_F, low=0.0, low_open=True)
        if self.n is not None:
            check_int("n", self.n, minimum=1)

    @property
    def radius(self) -> float:
        """``R = β·s·B²`` (rounded up): the bound on every score."""
        return score_radius(self.s, self.B, self.beta)

    @property
    def eps(self) -> float:
        """The relative error of ``p ≈ exp`` that meets ``δ_F`` through the error lemma."""
        if self.delta_F is None:
            raise InvalidArgument("delta_F=None: this regime has no target error")
        return eps_for_error(self.delta_F, self.v_max)

    @property
    def sqrt_log_n(self) -> float:
        """``√(ln n)`` (natural log; ``0`` for ``n = 1``)."""
        if self.n is None:
            raise InvalidArgument("n=None: this regime has no sequence length")
        return math.sqrt(math.log(self.n))

    @property
    def ratio(self) -> float:
        """``B / √ln n``, the phase-transition coordinate (``inf`` for ``n = 1``)."""
        root = self.sqrt_log_n
        return self.B / root if root > 0 else math.inf

    def B_within(self, radius_max: float) -> float:
        """``B`` lowered, if needed, so that ``β·s·B² <= radius_max``."""
        r = check_real("radius_max", radius_max, low=0.0, low_open=True)
        return min(self.B, math.sqrt(r / (self.beta * self.s)))

    def beta_within(self, radius_max: float) -> float:
        """``β`` lowered, if needed, so that ``β·s·B² <= radius_max`` (``β`` itself when
        ``B = 0``): how strategies keep drawn inputs inside a float64 kernel's regime."""
        r = check_real("radius_max", radius_max, low=0.0, low_open=True)
        if self.B == 0:
            return self.beta
        return min(self.beta, r / (self.s * self.B * self.B))
