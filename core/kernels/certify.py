"""Rigorous certificates for the kernel's polynomial (docs/theory.md §3, K1).

Paper label ``thm:inference_linear``.

:func:`certify_polynomial` proves, with python-flint ``arb`` ball arithmetic, that a
polynomial ``p`` with the float64 coefficients the kernel uses satisfies

    sup_{|x| <= R} |p(x) e^{−x} − 1| <= ε                                   (K1)

on the *whole* interval, not only at sample points, or finds a point where it fails.

Method (a Taylor model per ball). Cover ``[−R, R]`` by intervals ``m ± w`` with exact dyadic
ends. On each, with ``t = x − m`` and ``|t| <= w``,

    p(x) − e^x = Σ_{j<=g} (p^{(j)}(m)/j! − e^m/j!) t^j  −  e^m Σ_{j>g} t^j / j!,

where the Taylor shift ``p^{(j)}(m)/j!`` is computed exactly-in-balls by composing ``p``
with ``m + t``, and the tail obeys ``|Σ_{j>g} t^j/j!| <= w^{g+1} e^w / (g+1)!``. Because
the shifted coefficients of ``p − exp`` are small for a good approximant, the enclosure of
``f(x) = e^{−x}(p(x) − e^x)`` is tight without a huge number of balls. A ball whose
enclosure exceeds ``ε`` is bisected; a midpoint where ``|f|`` provably exceeds ``ε`` refutes
the claim. Global mpmath/flint precision is restored on exit.

Import discipline: this module imports only :mod:`core` (and python-flint).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from flint import arb, arb_poly, ctx

from ..errors import InvalidArgument
from ..validation import check_int, check_real
from .polynomial import ExpPolynomial

__all__ = ["VERDICTS", "Certificate", "DerivativeCertificate", "certify_derivative",
           "certify_polynomial"]

PAPER_REF = "thm:inference_linear"

#: Possible verdicts, strongest claim first.
VERDICTS: tuple[str, ...] = ("certified", "refuted", "inconclusive")


@dataclass(frozen=True)
class Certificate:
    """What :func:`certify_polynomial` proved about ``sup_{|x|<=R} |p(x)e^{−x} − 1|``.

    Attributes:
        method, degree, coefficients: the polynomial checked (float64 coefficients, exact).
        radius: ``R``; the interval is ``[−R, R]``.
        eps: the target ``ε``.
        precision_bits: arb working precision.
        sup_lower, sup_upper: a rigorous enclosure of the supremum: ``sup_lower`` from
            ball evaluations at points, ``sup_upper`` over the whole interval (``inf``
            unless the verdict is ``"certified"``).
        n_balls: intervals evaluated in total.
        verdict: ``"certified"`` (``sup_upper <= eps`` over the whole interval),
            ``"refuted"`` (``|f(witness)| > eps`` proved at ``witness``) or
            ``"inconclusive"`` (subdivision depth exhausted).
        witness: the refuting point, else ``None``.
    """

    method: str
    degree: int
    coefficients: tuple[float, ...]
    radius: float
    eps: float
    precision_bits: int
    sup_lower: float
    sup_upper: float
    n_balls: int
    verdict: str
    witness: float | None = None
    paper_ref: str = PAPER_REF

    @property
    def certified(self) -> bool:
        """True iff the bound holds on the whole interval."""
        return self.verdict == "certified"

    def covers(self, radius: float, eps: float) -> bool:
        """True iff this certified bound implies ``sup_{|x|<=radius} |p e^{−x} − 1| <= eps``."""
        return self.certified and radius <= self.radius and self.sup_upper <= eps

    def as_dict(self) -> dict[str, object]:
        """JSON-able summary for reports."""
        return {
            "method": self.method, "degree": self.degree, "radius": self.radius,
            "eps": self.eps, "precision_bits": self.precision_bits,
            "enclosure": [self.sup_lower, self.sup_upper], "n_balls": self.n_balls,
            "verdict": self.verdict, "witness": self.witness, "paper_ref": self.paper_ref,
        }


def _upper(x: arb) -> float:
    """A float ``>=`` every point of the ball ``|x|`` (rounded outward)."""
    return math.nextafter(float(x.abs_upper()), math.inf)


def _lower(x: arb) -> float:
    """A float ``<=`` every point of the ball ``|x|`` (rounded inward)."""
    return max(math.nextafter(float(x.abs_lower()), -math.inf), 0.0)


def _ball_enclosure(poly: arb_poly, degree: int, mid: arb, half: arb) -> tuple[arb, arb]:
    """Enclosures of ``f`` over ``mid ± half`` and of ``f(mid)``; ``f = p e^{−x} − 1``."""
    shifted = poly(arb_poly([mid, 1])).coeffs()           # p^{(j)}(mid)/j!
    shifted += [arb(0)] * (degree + 1 - len(shifted))
    e_mid = mid.exp()
    t = arb(0, 1) * half                                    # the ball [−half, half]
    diff0 = shifted[0] - e_mid
    total = diff0
    factorial, t_power, half_power = arb(1), arb(1), half
    for j in range(1, degree + 1):
        factorial *= j
        t_power *= t                                        # t^j by products: arb's pow of a
        half_power = half_power * half if j > 1 else half   # ball around 0 is NaN
        total += (shifted[j] - e_mid / factorial) * t_power
    half_power = half_power * half if degree >= 1 else half
    tail = e_mid * half_power * half.exp() / (factorial * (degree + 1))
    total += arb(0, 1) * tail
    x_ball = mid + t
    return (-x_ball).exp() * total, (-mid).exp() * diff0


@lru_cache(maxsize=4096)
def _certify_cached(method: str, degree: int, coefficients: tuple[float, ...], radius: float,
                    eps: float, precision_bits: int, initial_balls: int,
                    max_depth: int) -> Certificate:
    old_prec = ctx.prec
    ctx.prec = precision_bits
    try:
        poly = arb_poly([arb(c) for c in coefficients])
        verdict, sup_lower, sup_upper, balls, witness = _subdivide(
            poly, degree, radius, eps, initial_balls, max_depth)
        return Certificate(
            method=method, degree=degree, coefficients=coefficients, radius=radius, eps=eps,
            precision_bits=precision_bits, sup_lower=sup_lower, sup_upper=sup_upper,
            n_balls=balls, verdict=verdict, witness=witness)
    finally:
        ctx.prec = old_prec


def certify_polynomial(poly: ExpPolynomial, eps: float, *, precision_bits: int = 128,
                       initial_balls: int = 16, max_depth: int = 40) -> Certificate:
    """Certify or refute ``sup_{|x|<=R} |p(x)e^{−x} − 1| <= eps`` for ``poly`` on its radius.

    Args:
        poly: the polynomial, with the float64 coefficients the kernel uses.
        eps: target relative error, ``0 < eps < 1``.
        precision_bits: arb working precision (>= 64).
        initial_balls: equal intervals to start from; each is bisected while undecided.
        max_depth: bisection depth after which the verdict is ``"inconclusive"``.

    Returns:
        a :class:`Certificate`. Results are cached on the exact coefficients.
    """
    if not isinstance(poly, ExpPolynomial):
        raise InvalidArgument(f"poly={poly!r}: expected an ExpPolynomial")
    e = check_real("eps", eps, low=0.0, high=1.0, low_open=True, high_open=True)
    bits = check_int("precision_bits", precision_bits, minimum=64, maximum=100_000)
    balls = check_int("initial_balls", initial_balls, minimum=1, maximum=1 << 20)
    depth = check_int("max_depth", max_depth, minimum=0, maximum=200)
    return _certify_cached(poly.method, poly.degree, tuple(float(c) for c in poly.coefficients),
                           float(poly.radius), e, bits, balls, depth)


# --- the derivative p' against e^x (gradient bound of core.gradient_bound) ---------


@dataclass(frozen=True)
class DerivativeCertificate(Certificate):
    """What :func:`certify_derivative` proved about ``sup_{|x|<=R} |p'(x) e^{−x} − 1|``.

    ``p'`` is differentiated *exactly* (in arb) from the float64 coefficients of ``p`` that
    the kernel uses, so the bound is about the derivative autograd differentiates, not a
    rounded copy of it. Fields as in :class:`Certificate`; ``degree`` and ``coefficients``
    are those of ``p`` (not of ``p'``), and ``derivative`` is always ``True``. ``eps`` may
    exceed 1 (a low-degree ``p'`` can be far from ``e^x``).
    """

    derivative: bool = True

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "derivative": self.derivative}


def _subdivide(poly: arb_poly, degree: int, radius: float, eps: float, initial_balls: int,
               max_depth: int) -> tuple[str, float, float, int, float | None]:
    """Bisection of ``[−R, R]`` deciding ``sup |poly(x) e^{−x} − 1| <= eps`` (see module doc).

    Exact dyadic subdivision: each ball is bisected until its enclosure is within ``eps``,
    a point value exceeds it (refuted) or ``max_depth`` is reached (inconclusive). Returns
    ``(verdict, sup_lower, sup_upper, balls, witness)``; ``sup_upper`` is ``inf`` unless
    certified. Used for ``p`` (:func:`certify_polynomial`) and ``p'``
    (:func:`certify_derivative`).
    """
    r = arb(radius)
    stack = [(-r + 2 * r * k / initial_balls, -r + 2 * r * (k + 1) / initial_balls, 0)
             for k in range(initial_balls)]
    sup_upper, sup_lower, balls = 0.0, 0.0, 0
    verdict, witness = "certified", None
    while stack:
        lo, hi, depth = stack.pop()
        mid, half = (lo + hi) / 2, (hi - lo) / 2
        enclosure, at_mid = _ball_enclosure(poly, degree, mid, half)
        balls += 1
        sup_lower = max(sup_lower, _lower(at_mid))
        if _lower(at_mid) > eps:
            verdict, witness = "refuted", float(mid.mid())
            break
        upper = _upper(enclosure)
        if upper <= eps:
            sup_upper = max(sup_upper, upper)
        elif depth >= max_depth or radius == 0.0:
            verdict = "inconclusive"
            break
        else:
            stack += [(lo, mid, depth + 1), (mid, hi, depth + 1)]
    return verdict, sup_lower, (sup_upper if verdict == "certified" else math.inf), balls, witness


def _sampled_derivative_error(coefficients: tuple[float, ...], radius: float) -> float:
    """Float64 estimate of ``max |p'(x) e^{−x} − 1|`` on 4097 Chebyshev points and the ends."""
    x = [radius * math.cos(math.pi * k / 4096) for k in range(4097)] + [-radius, radius]
    deriv = [k * c for k, c in enumerate(coefficients)][1:]
    worst = 0.0
    for t in x:
        acc = 0.0
        for c in reversed(deriv):
            acc = acc * t + c
        worst = max(worst, abs(acc * math.exp(-t) - 1.0))
    return worst


@lru_cache(maxsize=1024)
def _certify_derivative_cached(method: str, degree: int, coefficients: tuple[float, ...],
                               radius: float, eps: float | None, precision_bits: int,
                               initial_balls: int, max_depth: int) -> DerivativeCertificate:
    old_prec = ctx.prec
    ctx.prec = precision_bits
    try:
        if degree == 0 and eps is None:    # p' ≡ 0, so |p' e^{−x} − 1| = 1 exactly
            return DerivativeCertificate(
                method=method, degree=0, coefficients=coefficients, radius=radius, eps=1.0,
                precision_bits=precision_bits, sup_lower=1.0, sup_upper=1.0, n_balls=0,
                verdict="certified")
        deriv = arb_poly([arb(c) for c in coefficients]).derivative()
        g = max(degree - 1, 0)
        if eps is None:                    # tight target: a little above the sampled sup
            sampled = _sampled_derivative_error(coefficients, radius)
            targets = [sampled * f + 1e-300 for f in (1.01, 1.1, 2.0, 4.0)]
        else:
            targets = [eps]
        result: tuple[str, float, float, int, float | None] = ("inconclusive", 0.0, math.inf,
                                                               0, None)
        target = targets[0]
        for target in targets:
            result = _subdivide(deriv, g, radius, target, initial_balls, max_depth)
            if result[0] == "certified":
                break
        verdict, sup_lower, sup_upper, balls, witness = result
        return DerivativeCertificate(
            method=method, degree=degree, coefficients=coefficients, radius=radius,
            eps=target, precision_bits=precision_bits, sup_lower=sup_lower,
            sup_upper=sup_upper, n_balls=balls, verdict=verdict, witness=witness)
    finally:
        ctx.prec = old_prec


def certify_derivative(poly: ExpPolynomial, eps: float | None = None, *,
                       precision_bits: int = 128, initial_balls: int = 16,
                       max_depth: int = 40) -> DerivativeCertificate:
    """Certify ``sup_{|x|<=R} |p'(x) e^{−x} − 1| <= eps`` for the kernel's ``p`` on its radius.

    Args:
        poly: the kernel's polynomial ``p`` (float64 coefficients); ``p'`` is formed in arb.
        eps: target ``ε' > 0`` (any size). ``None`` picks a tight one: the float64-sampled
            sup times ``1.01``, then ``1.1``, ``2``, ``4`` until one is certified (a sample
            is only a lower estimate; the certificate is the bound).
        precision_bits, initial_balls, max_depth: as for :func:`certify_polynomial`.

    Returns:
        a :class:`DerivativeCertificate` (cached on the exact coefficients). For degree 0
        (and ``eps=None``), ``p' ≡ 0`` and the sup is exactly 1: no balls are needed.
    """
    if not isinstance(poly, ExpPolynomial):
        raise InvalidArgument(f"poly={poly!r}: expected an ExpPolynomial")
    e = None if eps is None else check_real("eps", eps, low=0.0, low_open=True)
    bits = check_int("precision_bits", precision_bits, minimum=64, maximum=100_000)
    balls = check_int("initial_balls", initial_balls, minimum=1, maximum=1 << 20)
    depth = check_int("max_depth", max_depth, minimum=0, maximum=200)
    return _certify_derivative_cached(
        poly.method, poly.degree, tuple(float(c) for c in poly.coefficients),
        float(poly.radius), e, bits, balls, depth)
