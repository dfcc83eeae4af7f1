"""Unit tests of degree selection (core.kernels.polynomial) and certified plans (K1)."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from core.errors import InvalidArgument
from core.kernels import (
    aggarwal_alman_degree,
    candidate_degree,
    eps_for_error,
    exp_polynomial,
    lemma_bound,
    plan_kernel,
    taylor_degree,
    taylor_log_remainder,
    taylor_remainder_bound,
)
from core.kernels.certify import certify_derivative, certify_polynomial

# docs/theory.md §6, measured minimal degrees (Taylor / Chebyshev)
NOTES_DEGREES = [
    (0.25, 1e-6, 5, 4),
    (1.0, 1e-6, 9, 7),
    (1.0, 1e-9, 12, 10),
    (4.0, 1e-6, 21, 15),
]


@pytest.mark.parametrize(("radius", "eps", "taylor", "chebyshev"), NOTES_DEGREES)
def test_certified_minimal_degrees_match_notes(radius: float, eps: float, taylor: int,
                                               chebyshev: int) -> None:
    for method, expected in (("taylor", taylor), ("chebyshev", chebyshev)):
        plan = plan_kernel(s=1, B=math.sqrt(radius), beta=1.0, eps=eps, method=method,
                           certifier=certify_polynomial)
        assert plan.degree == expected
        assert plan.certificate.certified and plan.certificate.sup_upper <= eps
        assert plan.refutation is not None and plan.refutation.verdict == "refuted"


@pytest.mark.parametrize(("radius", "eps", "taylor", "chebyshev"), NOTES_DEGREES)
def test_sampled_candidate_is_the_certified_degree(radius: float, eps: float, taylor: int,
                                                   chebyshev: int) -> None:
    """The float64-sampled starting degree already equals the certified minimal one on the
    NOTES cases (the certified search then confirms it without moving)."""
    assert candidate_degree("taylor", radius, eps) == taylor
    assert candidate_degree("chebyshev", radius, eps) == chebyshev


def test_polynomial_evaluation_and_sampled_error_against_mpmath() -> None:
    """Horner in float64 against numpy's polyval, and the sampled relative error against
    the maximum of ``|p(x)e^{-x} - 1|`` over the same Chebyshev points and the two ends,
    computed in mpmath."""
    from core.kernels.polynomial import sampled_relative_error

    poly = exp_polynomial("chebyshev", 4, 1.5)
    x = np.linspace(-1.5, 1.5, 31)
    assert np.allclose(poly(x), np.polyval(poly.coefficients[::-1], x), rtol=1e-15, atol=0)
    assert poly(2.0) == pytest.approx(np.polyval(poly.coefficients[::-1], 2.0), rel=1e-15)
    points = [1.5 * math.cos(math.pi * k / 64) for k in range(65)] + [-1.5, 1.5]
    with mpmath.workdps(40):
        worst = max(abs(mpmath.polyval([mpmath.mpf(c) for c in poly.coefficients[::-1]],
                                       mpmath.mpf(t)) * mpmath.exp(-mpmath.mpf(t)) - 1)
                    for t in points)
    assert sampled_relative_error(poly, points=65) == pytest.approx(float(worst), rel=1e-9)


def test_chebyshev_differs_from_taylor_except_at_radius_zero() -> None:
    """On ``[−R, R]`` with ``R > 0`` the Chebyshev interpolant is not the Taylor polynomial
    (and is closer in the sup norm); at ``R = 0`` both are ``Σ x^k/k!``, labelled as asked."""
    from core.kernels.polynomial import sampled_relative_error

    for R in (0.5, 1.0, 3.0):
        cheb, tay = exp_polynomial("chebyshev", 5, R), exp_polynomial("taylor", 5, R)
        assert cheb.coefficients != tay.coefficients
        assert sampled_relative_error(cheb) < sampled_relative_error(tay)
    at_zero = exp_polynomial("chebyshev", 3, 0.0)
    assert at_zero.method == "chebyshev"
    assert at_zero.coefficients == tuple(1.0 / math.factorial(k) for k in range(4))


def test_taylor_coefficients_are_inverse_factorials_correctly_rounded() -> None:
    """Every coefficient is ``1/k!`` rounded once to float64, against mpmath at 60 digits
    (``1.0/k!`` would round twice and be one ulp off at k = 23, 26, …); past 170! they
    reach subnormals, then 0."""
    top = exp_polynomial("taylor", 400, 1.0).coefficients
    with mpmath.workdps(60):
        want = [float(1 / mpmath.factorial(k)) for k in range(401)]
    assert list(top) == want
    assert top[23] != 1.0 / math.factorial(23)            # the double rounding it avoids
    assert top[171] > 0.0 and top[400] == 0.0


@pytest.mark.parametrize(("radius", "eps"), [(0.25, 1e-6), (1.0, 1e-9), (2.0, 1e-12)])
def test_taylor_remainder_bound_is_an_upper_bound(radius: float, eps: float) -> None:
    g = taylor_degree(radius, -math.log(eps))
    assert taylor_remainder_bound(g, radius) <= eps < taylor_remainder_bound(g - 1, radius)
    cert = certify_polynomial(exp_polynomial("taylor", g, radius), eps)
    # the true sup lies in [sup_lower, sup_upper] and below Lagrange's bound
    assert cert.sup_lower <= taylor_remainder_bound(g, radius)


def test_aggarwal_alman_order() -> None:
    assert aggarwal_alman_degree(0.25, 1e-6) == pytest.approx(
        math.log(1e6) / math.log(math.log(1e6) / 0.25))
    assert aggarwal_alman_degree(100.0, 1e-3) == 100.0       # the R term dominates
    assert aggarwal_alman_degree(0.0, 1e-3) == pytest.approx(math.log(1e3))


def test_eps_for_error_inverts_the_lemma() -> None:
    for delta, v in ((1e-6, 1.0), (1e-3, 7.5), (0.05, 0.1)):
        e = eps_for_error(delta, v)
        assert lemma_bound(e, v) <= delta
        assert lemma_bound(math.nextafter(e, 1.0) * (1 + 1e-12), v) > delta


def test_eps_for_error_is_the_largest_admissible_float() -> None:
    """Where the closed form ``4t/(4 + t²)`` rounds so that the (rounded-up) lemma exceeds δ
    the loop steps down to the largest float that does not; ``t >= 2`` (any ``ε < 1``
    meets it) and a huge δ/v are capped strictly below 1."""
    assert eps_for_error(2.0, 1.0) == eps_for_error(3.0, 1.0) == math.nextafter(1.0, 0.0)
    for delta, v in ((9.868625495453214e-06, 1.1125089232417402),
                     (0.8346743277609447, 0.81863217375195079)):
        t = delta / v
        closed = 4 * t / (4 + t * t)
        assert lemma_bound(closed, v) > delta            # the loop has work to do here
        e = eps_for_error(delta, v)
        assert lemma_bound(e, v) <= delta < lemma_bound(math.nextafter(e, 1.0), v)
    assert eps_for_error(1e300, 1e-300) == math.nextafter(1.0, 0.0)


BAD = [
    (candidate_degree, ("taylor", 1.0, 0.0), "eps"),
    (candidate_degree, ("taylor", 1.0, 1.0), "eps"),
    (candidate_degree, ("taylor", 1.0, 1.5), "eps"),
    (candidate_degree, ("taylor", 1.0, float("nan")), "eps"),
    (candidate_degree, ("taylor", -1.0, 1e-3), "radius"),
    (candidate_degree, ("taylor", 20.0, 1e-8), "radius"),        # float64 cancellation
    (exp_polynomial, ("fourier", 3, 1.0), "method"),
    (exp_polynomial, ("taylor", -1, 1.0), "degree"),
    (lemma_bound, (1.0, 1.0), "eps"),
    (eps_for_error, (0.0, 1.0), "delta"),
]


@pytest.mark.parametrize(("fn", "args", "name"), BAD, ids=[f"{b[0].__name__}-{b[2]}-{i}"
                                                            for i, b in enumerate(BAD)])
def test_bad_inputs_are_refused_by_name(fn: object, args: tuple, name: str) -> None:
    with pytest.raises(InvalidArgument, match=name):
        fn(*args)  # type: ignore[operator]


@pytest.mark.parametrize("eps", [0.0, -1e-3, 1.0, 2.0])
def test_plan_refuses_eps_outside_unit_interval(eps: float) -> None:
    with pytest.raises(InvalidArgument, match="eps="):
        plan_kernel(s=2, B=0.5, beta=0.5, eps=eps, certifier=certify_polynomial)


def test_plan_refuses_an_uncertified_polynomial() -> None:
    plan = plan_kernel(s=2, B=0.5, beta=0.5, eps=1e-6, certifier=certify_polynomial)
    refuted = plan.refutation
    with pytest.raises(InvalidArgument, match="certified"):
        type(plan)(s=2, B=0.5, beta=0.5, eps=1e-6, polynomial=plan.polynomial,
                   certificate=refuted)
    other = exp_polynomial("taylor", plan.degree + 1, plan.radius)
    with pytest.raises(InvalidArgument, match="different coefficients"):
        type(plan)(s=2, B=0.5, beta=0.5, eps=1e-6, polynomial=other,
                   certificate=plan.certificate)
    with pytest.raises(InvalidArgument, match="radius"):
        type(plan)(s=2, B=0.7, beta=0.5, eps=1e-6, polynomial=plan.polynomial,
                   certificate=plan.certificate)
    derivative = certify_derivative(plan.polynomial, 1.0)     # same p, a bound on p'
    with pytest.raises(InvalidArgument, match="derivative"):
        type(plan)(s=2, B=0.5, beta=0.5, eps=1.0 - 1e-9, polynomial=plan.polynomial,
                   certificate=derivative)


def test_plan_accepts_a_certificate_exactly_at_its_limits_and_nothing_past_them() -> None:
    """A certificate covering exactly the plan's radius with ``sup`` exactly ``eps`` is
    enough; an object without a verdict, one issued for other coefficients of the same
    degree, or a plan with ``eps >= 1`` is refused."""
    from types import SimpleNamespace

    plan = plan_kernel(s=2, B=0.5, beta=0.5, eps=1e-6, certifier=certify_polynomial)
    poly = plan.polynomial

    def cert(**change: object) -> SimpleNamespace:
        fields = {"verdict": "certified", "degree": poly.degree,
                  "coefficients": poly.coefficients, "radius": plan.radius,
                  "sup_upper": 1e-6, "eps": 1e-6} | change
        return SimpleNamespace(**fields)

    def make(certificate: object, eps: float = 1e-6) -> object:
        return type(plan)(s=2, B=0.5, beta=0.5, eps=eps, polynomial=poly,
                          certificate=certificate)

    make(cert())                                           # radius and sup exactly at limit
    with pytest.raises(InvalidArgument, match="verdict=None"):
        make(SimpleNamespace(degree=poly.degree))
    shifted = (poly.coefficients[0] * 2, *poly.coefficients[1:])
    with pytest.raises(InvalidArgument, match="different coefficients"):
        make(cert(coefficients=shifted))
    with pytest.raises(InvalidArgument, match="radius"):
        make(cert(radius=math.nextafter(plan.radius, 0.0)))
    with pytest.raises(InvalidArgument, match=r"eps=1\.0"):
        make(cert(sup_upper=0.5), eps=1.0)


def test_score_radius_rounds_up_and_is_zero_at_zero() -> None:
    """``R >= β·s·B²`` exactly (as rationals) however the product rounds; ``R = 0`` at B=0."""
    from core.kernels.regime import score_radius

    assert score_radius(3, 0.0, 0.7) == 0.0
    rng = np.random.default_rng(5)
    for _ in range(200):
        s, B, beta = int(rng.integers(1, 64)), float(rng.uniform(0, 3)), float(rng.uniform(0, 2))
        R = score_radius(s, B, beta)
        exact = Fraction(beta) * s * Fraction(B) ** 2
        assert exact <= Fraction(R) <= exact * (1 + Fraction(16, 2**52))


def test_plan_summary_reports_the_plan_itself() -> None:
    """The JSON summary (embedded in reports) carries the plan's own numbers, key by key."""
    from core.kernels.features import feature_rank

    plan = plan_kernel(s=3, B=0.5, beta=0.5, eps=1e-6, certifier=certify_polynomial)
    r = 0.5 * 3 * 0.25
    assert plan.summary() == {
        "s": 3, "B": 0.5, "beta": 0.5, "radius": plan.radius, "eps": 1e-6,
        "score_bound": None, "method": "chebyshev", "degree": plan.degree,
        "rank": feature_rank(3, plan.degree),
        "certified_eps": plan.certificate.sup_upper,
        "degree_minus_one_refuted": True,
        "taylor_remainder_degree": taylor_degree(plan.radius, -math.log(1e-6)),
        "aggarwal_alman_order": aggarwal_alman_degree(plan.radius, 1e-6),
        "paper_ref": "thm:inference_linear",
    }
    assert r <= plan.radius <= r * (1 + 1e-14)
    assert plan.certified_eps <= 1e-6


# --- edges of the degree rules -----------------------------------------------------------------


def test_aggarwal_alman_order_floors_the_log_at_one() -> None:
    """``max{log(1/ε)/max(log(log(1/ε)/R), 1), R}``: below ``log(1/ε)/R = e`` the
    denominator is 1; between ``e`` and ``e²`` it is the logarithm itself (in ``(1, 2)``)."""
    assert aggarwal_alman_degree(3.0, 1e-3) == pytest.approx(math.log(1e3))   # 2.3 < e
    log_inv = math.log(1e6)                                                   # 13.8/2 = 6.9
    assert math.e < log_inv / 2.0 < math.e**2
    assert aggarwal_alman_degree(2.0, 1e-6) == pytest.approx(
        log_inv / math.log(log_inv / 2.0), rel=1e-15)


def test_candidate_degree_edges_are_inclusive() -> None:
    """"Smallest g whose sampled error is at most ε": ε equal to the sampled error of degree
    g gives g. The float64 guard refuses only ``e^{2R}u > ε/8``: ε = 8e^{2R}u is accepted,
    the next float below it refused."""
    from core.kernels.polynomial import float64_cancellation, sampled_relative_error

    for method, g in (("chebyshev", 5), ("taylor", 7)):
        errors = [sampled_relative_error(exp_polynomial(method, k, 1.0)) for k in range(g + 1)]
        assert min(errors[:g]) > errors[g]
        assert candidate_degree(method, 1.0, errors[g]) == g
    edge = 8 * float64_cancellation(3.0)                       # times 8: exact in binary
    assert candidate_degree("chebyshev", 3.0, edge) >= 1
    with pytest.raises(InvalidArgument, match=r"radius=3\.0"):
        candidate_degree("chebyshev", 3.0, math.nextafter(edge, 0.0))


def test_float64_cancellation_is_e_to_the_2r_times_unit_roundoff() -> None:
    """``e^{2R}·u`` with ``u = 2^-53``, against mpmath."""
    from core.kernels.polynomial import float64_cancellation

    for R in (0.0, 0.5, 3.0, 10.0):
        with mpmath.workdps(30):
            expected = float(mpmath.exp(2 * mpmath.mpf(R)) * mpmath.mpf(2) ** -53)
        assert float64_cancellation(R) == pytest.approx(expected, rel=4 * 2.0**-53)
    saturated = math.exp(700.0) * 2.0**-53            # documented cap: finite, not e^{2R}
    assert float64_cancellation(350.0) == float64_cancellation(400.0) == saturated
    assert float64_cancellation(1e308) == saturated


def test_sampled_error_visits_every_chebyshev_angle() -> None:
    """With ``points = 3`` the samples are ``R·cos(0), R·cos(π/2), R·cos(π)`` = R, 0, −R:
    a quadratic equal to ``e^x`` at ±R and to 5 at 0 has sampled error exactly 4 (its
    error peaks inside, where only the middle angle looks)."""
    from core.kernels.polynomial import ExpPolynomial, sampled_relative_error

    R = 1.0
    c0 = 5.0
    c2 = (math.cosh(R) - c0) / R**2                       # p(±R) = c0 + c2 R² ± c1 R = e^{±R}
    c1 = math.sinh(R) / R
    poly = ExpPolynomial("chebyshev", 2, R, (c0, c1, c2))
    assert sampled_relative_error(poly, points=3) == pytest.approx(4.0, rel=1e-15)


def test_remainder_degree_is_the_smallest_including_equality_and_zero() -> None:
    """Degree 0 when ``e^R·R`` already meets ε; ε equal to the bound at degree g gives g;
    at ``R = 0`` the bound ``e^0·0^{g+1}/(g+1)!`` is 0."""
    assert taylor_degree(1e-8, -math.log(1e-3)) == 0
    assert taylor_remainder_bound(0, 0.0) == 0.0 == taylor_remainder_bound(5, 0.0)
    assert taylor_degree(0.0, 5.0) == 0
    for R, g in ((0.5, 6), (2.0, 15)):
        log_eps = taylor_log_remainder(g, R)
        assert taylor_log_remainder(g - 1, R) > log_eps
        assert taylor_degree(R, -log_eps) == g


def test_polynomial_evaluates_in_float64_whatever_the_input_dtype() -> None:
    """Horner "in float64": float32 or integer points give the float64 values at those
    points."""
    poly = exp_polynomial("chebyshev", 6, 1.0)
    x32 = np.linspace(-1, 1, 9, dtype=np.float32)
    got = poly(x32)
    assert got.dtype == np.float64
    assert np.array_equal(got, poly(x32.astype(np.float64)))
    ints = np.array([-1, 0, 1])
    assert np.array_equal(poly(ints), poly(ints.astype(np.float64)))
