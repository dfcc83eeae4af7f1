"""Kernel plans: a certified polynomial for a norm regime (docs/theory.md §3, K1 and K3).

Paper label ``thm:inference_linear``. A :class:`KernelPlan` fixes the head dimension ``s``,
the norm promise ``B`` (``‖Q‖_max, ‖K‖_max <= B``), the score scale ``β`` and the target
relative error ``ε``; then every score lies in ``[−R, R]`` with ``R = β·s·B²`` (rounded up
here), and the plan carries a degree-``g`` polynomial together with a *certificate* that
``sup_{|x|<=R} |p(x)e^{−x} − 1| <= ε``. A plan cannot be constructed without a certified
certificate for exactly its coefficients, so the kernel never uses an uncertified
polynomial.

The certifier defaults to :func:`core.kernels.certify.certify_polynomial` (ball arithmetic);
another callable with the same signature may be passed (tests inject refusing or
inconclusive certifiers). Whatever it returns is checked against the
:class:`CertificateLike` protocol before a plan exists.

The regime's quantities (``R``, ``ε`` from ``δ_F``, the error lemma) are derived once, in
:mod:`core.kernels.regime`; :func:`plan_for` plans a :class:`~core.kernels.regime.KernelRegime`.

Instance radius: inputs often admit a smaller score radius than the norm promise (every
``|β qᵀk| <= β·max‖q‖₂·max‖k‖₂ <= β·s·B²``, :func:`core.kernels.fast_attention.instance_radius`).
:meth:`KernelPlan.at_radius` certifies the same family at such a radius, which may allow a
lower degree; the plan then records it as ``score_bound`` and every guarantee holds on
``[−score_bound, score_bound]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from ..errors import HarnessError, InvalidArgument
from ..validation import check_int, check_real
from .certify import certify_polynomial
from .features import feature_rank
from .polynomial import (
    METHODS,
    ExpPolynomial,
    aggarwal_alman_degree,
    candidate_degree,
    exp_polynomial,
    taylor_degree,
)
from .regime import KernelRegime, lemma_bound, score_radius

__all__ = [
    "CertificateLike",
    "Certifier",
    "KernelPlan",
    "plan_for",
    "plan_kernel",
    "plans_built",
]

PAPER_REF = "thm:inference_linear"


class CertificateLike(Protocol):
    """What the kernel needs from a certificate (:class:`core.kernels.certify.Certificate`)."""

    verdict: str
    degree: int
    radius: float
    eps: float
    sup_upper: float
    coefficients: tuple[float, ...]


Certifier = Callable[[ExpPolynomial, float], Any]


@dataclass(frozen=True)
class KernelPlan:
    """A certified polynomial for the regime ``(s, B, β, ε)``.

    Attributes:
        s, B, beta, eps: the regime and the target relative error.
        polynomial: the degree-``g`` polynomial on ``[−R, R]``.
        certificate: proves ``sup |p e^{−x} − 1| <= certificate.sup_upper <= eps``.
        refutation: certificate of degree ``g−1`` refuted (minimality within the family),
            or ``None`` when ``g = 0``.
        score_bound: the score radius the polynomial is certified on when it is below
            ``β·s·B²`` (an instance radius, :meth:`at_radius`); ``None`` for ``β·s·B²``.
    """

    s: int
    B: float
    beta: float
    eps: float
    polynomial: ExpPolynomial
    certificate: Any
    refutation: Any = None
    score_bound: float | None = None
    paper_ref: str = PAPER_REF

    def __post_init__(self) -> None:
        cert, poly = self.certificate, self.polynomial
        if self.score_bound is not None and not (
                0.0 <= self.score_bound <= score_radius(self.s, self.B, self.beta)):
            raise InvalidArgument(
                f"score_bound={self.score_bound!r}: expected a radius in [0, β·s·B² = "
                f"{score_radius(self.s, self.B, self.beta)!r}]")
        if getattr(cert, "verdict", None) != "certified":
            raise InvalidArgument(
                f"certificate verdict={getattr(cert, 'verdict', None)!r}: a KernelPlan needs "
                "a certified polynomial")
        if getattr(cert, "derivative", False):
            raise InvalidArgument("certificate is about the derivative p', not p: a KernelPlan "
                                  "needs sup |p e^{-x} - 1|")
        if tuple(cert.coefficients) != tuple(poly.coefficients) or cert.degree != poly.degree:
            raise InvalidArgument("certificate was issued for different coefficients than "
                                  "the plan's polynomial")
        if not (cert.radius >= self.radius and cert.sup_upper <= self.eps < 1.0):
            raise InvalidArgument(
                f"certificate covers radius={cert.radius!r} with sup<={cert.sup_upper!r}; the "
                f"plan needs radius>={self.radius!r} and eps={self.eps!r}")

    @property
    def radius(self) -> float:
        """``R``: ``β·s·B²`` (rounded up), or the smaller certified ``score_bound``."""
        if self.score_bound is not None:
            return self.score_bound
        return score_radius(self.s, self.B, self.beta)

    def at_radius(self, radius: float) -> KernelPlan:
        """The minimal certified plan of the same family, ``s``, ``B``, ``β`` and ``ε`` on
        ``[−radius, radius]`` (default certifier, cached), or ``self`` when ``radius`` is
        not below this plan's radius. ``radius`` must bound every score it will be used
        for (e.g. :func:`core.kernels.fast_attention.instance_radius`)."""
        radius = check_real("radius", radius, low=0.0)
        if radius >= self.radius:
            return self
        try:
            return _plan_cached(self.s, self.B, self.beta, self.eps, certify_polynomial,
                                self.method, self.degree, radius)
        except HarnessError:                # nothing certified below this plan's degree
            return self

    @property
    def regime(self) -> KernelRegime:
        """The plan's ``(s, β, B)`` as a :class:`~core.kernels.regime.KernelRegime`."""
        return KernelRegime(s=self.s, beta=self.beta, B=self.B)

    @property
    def method(self) -> str:
        return self.polynomial.method

    @property
    def degree(self) -> int:
        return self.polynomial.degree

    @property
    def rank(self) -> int:
        """``r = C(s+g, g)``."""
        return feature_rank(self.s, self.degree)

    @property
    def certified_eps(self) -> float:
        """The certified ``sup |p e^{−x} − 1|`` (``<= eps``); the kernel's bound uses it."""
        return float(self.certificate.sup_upper)

    def error_bound(self, v_max: float) -> float:
        """``2ε/(1+√(1−ε²))·‖V‖_max`` (:func:`~core.kernels.regime.lemma_bound`) with the
        certified ``ε``, for exact arithmetic."""
        return lemma_bound(self.certified_eps, v_max)

    def summary(self) -> dict[str, Any]:
        """JSON-able description, incl. the textbook Taylor degree and Aggarwal–Alman."""
        r, e = self.radius, self.eps
        return {
            "s": self.s, "B": self.B, "beta": self.beta, "radius": r, "eps": e,
            "score_bound": self.score_bound,
            "method": self.method, "degree": self.degree, "rank": self.rank,
            "certified_eps": self.certified_eps,
            "degree_minus_one_refuted": self.refutation is not None,
            "taylor_remainder_degree": taylor_degree(r, -math.log(e)),
            "aggarwal_alman_order": aggarwal_alman_degree(r, e),
            "paper_ref": self.paper_ref,
        }


def plan_kernel(*, s: int, B: float, beta: float, eps: float,
                certifier: Certifier = certify_polynomial,
                method: str = "chebyshev", max_degree: int = 200) -> KernelPlan:
    """The minimal certified degree of ``method`` for the regime, as a :class:`KernelPlan`.

    Starting from the float64-sampled candidate degree, degrees are certified upward until
    one is certified; the degree below it is certified to fail (so the degree is minimal in
    its family) or is itself certified, in which case the search moves down. Plans are
    cached on their arguments.

    Raises:
        InvalidArgument: ``eps`` not in ``(0, 1)``, ``B < 0``, ``beta <= 0``, unknown method.
        HarnessError: no degree ``<= max_degree`` could be certified.
    """
    # s, B and β are checked by score_radius, eps by candidate_degree (same names, same
    # messages), before any certifier runs.
    max_degree = check_int("max_degree", max_degree, minimum=0)
    if method not in METHODS:
        raise InvalidArgument(f"method={method!r}: expected one of {METHODS}")
    if not callable(certifier):
        raise InvalidArgument(f"certifier={certifier!r}: expected a callable")
    return _plan_cached(s, B, beta, eps, certifier, method, max_degree, None)


def plan_for(regime: KernelRegime, *, certifier: Certifier = certify_polynomial,
             method: str = "chebyshev", max_degree: int = 200) -> KernelPlan:
    """:func:`plan_kernel` for ``regime`` (its ``s``, ``B``, ``β`` and ``ε`` from ``δ_F``)."""
    if not isinstance(regime, KernelRegime):
        raise InvalidArgument(f"regime={regime!r}: expected a KernelRegime")
    return plan_kernel(s=regime.s, B=regime.B, beta=regime.beta, eps=regime.eps,
                       certifier=certifier, method=method, max_degree=max_degree)


#: Every plan this process built with the default certifier, by its arguments (so the Coq
#: proofs of "every polynomial the kernel uses" can be listed: core.proofs.plan_goal).
_BUILT: dict[tuple[Any, ...], KernelPlan] = {}


def plans_built() -> tuple[KernelPlan, ...]:
    """The plans built so far in this process with the ball-arithmetic certifier."""
    return tuple(_BUILT.values())


@lru_cache(maxsize=256)
def _plan_cached(s: int, B: float, beta: float, eps: float, certifier: Certifier,
                 method: str, max_degree: int, score_bound: float | None) -> KernelPlan:
    radius = score_radius(s, B, beta) if score_bound is None else score_bound

    def certify(g: int) -> tuple[ExpPolynomial, Any]:
        poly = exp_polynomial(method, g, radius)
        return poly, certifier(poly, eps)

    g = min(candidate_degree(method, radius, eps), max_degree)
    while g > 0 and certify(g - 1)[1].verdict == "certified":
        g -= 1                                   # the sampled candidate was not minimal
    while True:
        poly, cert = certify(g)
        if cert.verdict == "certified":
            break
        if g >= max_degree:
            raise HarnessError(
                f"no {method} degree <= max_degree={max_degree} certified for radius={radius!r}"
                f", eps={eps!r} (last verdict {cert.verdict!r})")
        g += 1
    refutation = certify(g - 1)[1] if g > 0 else None
    if refutation is not None and refutation.verdict != "refuted":
        refutation = None                        # inconclusive: minimality not proved
    plan = KernelPlan(s=s, B=B, beta=beta, eps=eps, polynomial=poly, certificate=cert,
                      refutation=refutation, score_bound=score_bound)
    if certifier is certify_polynomial:
        _BUILT[(s, B, beta, eps, method, max_degree, score_bound)] = plan
    return plan
