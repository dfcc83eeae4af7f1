"""Polynomial approximations of ``exp`` with relative error ``ε`` on ``[−R, R]``.

docs/theory.md §3, K1 (paper label ``thm:inference_linear``; Alman & Song 2023, Aggarwal &
Alman 2022). Every score of the polynomial method is ``x = β kᵀq`` with ``|x| <= R``,
``R = β·s·B²``. A polynomial ``p`` of degree ``g`` is good for the kernel when

    sup_{|x| <= R} |p(x) e^{−x} − 1| <= ε.

Two families:

- ``"taylor"``: ``p(x) = Σ_{k<=g} x^k / k!``, all coefficients positive. Lagrange's remainder
  gives the rigorous relative bound ``e^R R^{g+1} / (g+1)!`` (for ``x > 0`` the relative
  error is at most ``R^{g+1}/(g+1)!``; for ``x < 0`` multiply by ``e^{|x|} <= e^R``).
- ``"chebyshev"``: the interpolant of ``e^x`` at the ``g+1`` Chebyshev points of the first
  kind on ``[−R, R]``, converted to the monomial basis in ``x`` in mpmath (the change of
  basis cancels digits) and rounded once to float64.

Coefficients are stored as float64 numbers: the certificate (``core.kernels.certify``) checks
exactly these numbers, so the polynomial the kernel uses is the polynomial certified.
The degree chosen here from dense float64 sampling is only a *candidate*; the kernel plan
(:mod:`core.kernels.plan`) uses a degree only after a certifier has proved it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import mpmath
import numpy as np

from ..errors import InvalidArgument
from ..validation import check_int, check_real

__all__ = [
    "METHODS",
    "ExpPolynomial",
    "aggarwal_alman_degree",
    "candidate_degree",
    "exp_polynomial",
    "float64_cancellation",
    "sampled_relative_error",
    "taylor_degree",
    "taylor_log_remainder",
    "taylor_remainder_bound",
]

PAPER_REF = "thm:inference_linear"

#: Polynomial families the kernel knows.
METHODS: tuple[str, ...] = ("taylor", "chebyshev")

#: Largest degree any routine here will build (far beyond any kernel that fits in memory).
MAX_DEGREE = 400


@dataclass(frozen=True)
class ExpPolynomial:
    """``p(x) = Σ_k coefficients[k] x^k`` approximating ``e^x`` on ``[−radius, radius]``.

    Attributes:
        method: ``"taylor"`` or ``"chebyshev"``.
        degree: ``g``; ``len(coefficients) == g + 1``.
        radius: ``R``; the interval is ``[−R, R]``.
        coefficients: float64 monomial coefficients, constant term first.
    """

    method: str
    degree: int
    radius: float
    coefficients: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidArgument(f"method={self.method!r}: expected one of {METHODS}")
        if len(self.coefficients) != self.degree + 1:
            raise InvalidArgument(
                f"coefficients has {len(self.coefficients)} entries: degree={self.degree} "
                f"needs {self.degree + 1}")

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        """``p(x)`` by Horner's rule in float64 (for sampling, not for certification)."""
        acc = np.zeros_like(np.asarray(x, dtype=np.float64))
        for c in reversed(self.coefficients):
            acc = acc * x + c
        return acc


def _check_radius_eps(radius: object, eps: object) -> tuple[float, float]:
    r = check_real("radius", radius, low=0.0)
    e = check_real("eps", eps, low=0.0, high=1.0, low_open=True, high_open=True)
    return r, e


def _inverse_factorial(k: int) -> float:
    """``1/k!`` correctly rounded to float64 from the exact rational (``1.0/k!`` rounds
    ``k!`` first and is one ulp off for 43 of ``k <= 170``); past ``170!`` it reaches
    subnormals and then 0."""
    return float(Fraction(1, math.factorial(k)))


def exp_polynomial(method: str, degree: int, radius: float) -> ExpPolynomial:
    """The degree-``g`` member of ``method``'s family on ``[−radius, radius]``."""
    if method not in METHODS:
        raise InvalidArgument(f"method={method!r}: expected one of {METHODS}")
    g = check_int("degree", degree, minimum=0, maximum=MAX_DEGREE)
    r = check_real("radius", radius, low=0.0)
    if method == "taylor" or r == 0.0:
        coeffs = [_inverse_factorial(k) for k in range(g + 1)]
        return ExpPolynomial(method, g, r, tuple(coeffs))   # every interpolant of e^x at 0
    monomial = _chebyshev_monomials(g, r)
    if not all(math.isfinite(c) for c in monomial):
        raise InvalidArgument(f"degree={degree!r}, radius={radius!r}: monomial coefficients "
                              "of the Chebyshev interpolant overflow float64")
    return ExpPolynomial(method, g, r, monomial)


@lru_cache(maxsize=1024)
def _chebyshev_monomials(g: int, r: float) -> tuple[float, ...]:
    """Monomial coefficients in ``x`` of the interpolant of ``e^x`` at the ``g+1`` Chebyshev
    points of the first kind on ``[−r, r]``, each correctly rounded to float64.

    The change of basis ``Σ a_k T_k(x/r) → Σ c_m x^m`` cancels about ``g·|log10 r|`` digits
    (tiny or large ``r``) plus ``g·log10 2`` (the size of ``T_k``'s coefficients), so it is
    done in mpmath with that many extra digits; float64 ``chebfit`` + ``cheb2poly`` gave
    monomial coefficients off by orders of magnitude at ``r = 1e-10``.
    """
    extra = g * (abs(math.log10(r)) + math.log10(2.0)) + r / math.log(10.0)
    with mpmath.workdps(40 + math.ceil(extra)):
        n = g + 1
        R = mpmath.mpf(r)
        angles = [mpmath.pi * (j + mpmath.mpf(1) / 2) / n for j in range(n)]
        values = [mpmath.exp(R * mpmath.cos(t)) for t in angles]
        a = [2 * mpmath.fsum(v * mpmath.cos(k * t) for v, t in zip(values, angles, strict=True))
             / n for k in range(n)]
        a[0] /= 2
        in_y = [mpmath.mpf(0)] * n
        t_prev, t_cur = [mpmath.mpf(1)], [mpmath.mpf(0), mpmath.mpf(1)]
        for k in range(n):
            t_k = t_prev if k == 0 else t_cur
            for m, coefficient in enumerate(t_k):
                in_y[m] += a[k] * coefficient
            if k >= 1:                                   # T_{k+1} = 2y T_k − T_{k−1}
                nxt = [mpmath.mpf(0)] + [2 * c for c in t_cur]
                for m, c in enumerate(t_prev):
                    nxt[m] -= c
                t_prev, t_cur = t_cur, nxt
        return tuple(float(c / R**m) for m, c in enumerate(in_y))


def sampled_relative_error(poly: ExpPolynomial, points: int = 4097) -> float:
    """``max |p(x) e^{−x} − 1|`` over ``points`` Chebyshev-spaced samples plus both ends.

    A float64 estimate used to pick a candidate degree; it is *not* a bound (the
    certificate is).
    """
    if not isinstance(poly, ExpPolynomial):
        raise InvalidArgument(f"poly={poly!r}: expected an ExpPolynomial (see exp_polynomial)")
    check_int("points", points, minimum=2)
    r = poly.radius
    x = r * np.concatenate([np.cos(np.linspace(0.0, np.pi, points)), [-1.0, 1.0]])
    return float(np.max(np.abs(poly(x) * np.exp(-x) - 1.0)))


def float64_cancellation(radius: float) -> float:
    """``e^{2R}·u`` (``u = 2^-53``): relative accuracy float64 loses summing monomials with
    signs on ``[−R, R]`` (docs/theory.md §6, "Cancellation"). Saturates at ``e^{700}·u`` (finite,
    far above any accuracy) for ``R >= 350``."""
    return math.exp(min(2.0 * check_real("radius", radius, low=0.0), 700.0)) * 2.0**-53


def candidate_degree(method: str, radius: float, eps: float) -> int:
    """Smallest ``g`` whose sampled relative error is at most ``eps`` (a candidate only).

    Raises:
        InvalidArgument: ``e^{2R}·u > eps/8``: float64 cannot resolve relative error ``eps``
            on ``[−R, R]`` in the monomial basis (neither the sampling here nor the kernel).
    """
    r, e = _check_radius_eps(radius, eps)
    if float64_cancellation(r) > e / 8:
        raise InvalidArgument(
            f"radius={radius!r}, eps={eps!r}: float64 monomial sums on [−R, R] lose about "
            f"e^(2R)·u = {float64_cancellation(r):.3g} relative accuracy, more than eps/8; "
            "lower B (or β) or raise eps")
    for g in range(MAX_DEGREE + 1):
        if sampled_relative_error(exp_polynomial(method, g, r)) <= e:
            return g
    raise InvalidArgument(
        f"radius={radius!r}, eps={eps!r}: no {method} polynomial of degree <= {MAX_DEGREE} "
        "reaches this relative error")


def taylor_log_remainder(degree: int, radius: float) -> float:
    """``ln`` of Lagrange's bound ``e^R R^{g+1} / (g+1)!`` on the Taylor polynomial's
    relative error: ``R + (g+1) ln R − ln (g+1)!`` (``−inf`` at ``R = 0``). Finite for any
    ``g`` and ``R``, so astronomically small targets (``n = 2^16384``) are handled."""
    g = check_int("degree", degree, minimum=0)
    r = check_real("radius", radius, low=0.0)
    if r == 0.0:
        return -math.inf
    return r + (g + 1) * math.log(r) - math.lgamma(g + 2)


def taylor_remainder_bound(degree: int, radius: float) -> float:
    """Lagrange's bound ``e^R R^{g+1} / (g+1)!`` (``exp`` of :func:`taylor_log_remainder`)."""
    return math.exp(taylor_log_remainder(degree, radius))


def taylor_degree(radius: float, log_inv_eps: float) -> int:
    """Smallest ``g`` whose Lagrange bound meets ``ε = e^{−log_inv_eps}``:
    ``taylor_log_remainder(g, R) <= −log_inv_eps``. The one Taylor-degree search (the plan's
    textbook degree, the phase data, the regime audit); compared in log space."""
    r = check_real("radius", radius, low=0.0)
    target = -check_real("log_inv_eps", log_inv_eps, low=0.0, low_open=True)
    g = 0
    while taylor_log_remainder(g, r) > target:
        g += 1
        if g > 10**7:
            raise InvalidArgument(f"radius={radius!r}: degree search exceeded 10**7")
    return g


def aggarwal_alman_degree(radius: float, eps: float) -> float:
    """Aggarwal–Alman's order ``max{ log(1/ε) / log(log(1/ε)/R), R }`` (constant 1).

    The logarithm in the denominator is floored at 1: when ``log(1/ε)/R <= e`` the ``R``
    term dominates anyway. This is the *order* of the optimal degree, reported next to the
    measured minimal degree; it is not a bound with a known constant.
    """
    r, e = _check_radius_eps(radius, eps)
    log_inv = math.log(1.0 / e)
    if r == 0.0:
        return log_inv
    return max(log_inv / max(math.log(log_inv / r), 1.0), r)
