"""Unit tests of the arb certificate (core.kernels.certify, K1)."""

from __future__ import annotations

import dataclasses

import mpmath
import pytest
from flint import ctx

from core.errors import InvalidArgument
from core.kernels import ExpPolynomial, exp_polynomial
from core.kernels.certify import Certificate, certify_polynomial


def _relative_error(poly: ExpPolynomial, x: float) -> mpmath.mpf:
    with mpmath.workdps(50):
        xm = mpmath.mpf(x)
        value = mpmath.fsum(mpmath.mpf(c) * xm**k for k, c in enumerate(poly.coefficients))
        return abs(value * mpmath.exp(-xm) - 1)


@pytest.mark.parametrize("method", ["taylor", "chebyshev"])
def test_certificate_encloses_the_mpmath_supremum(method: str) -> None:
    poly = exp_polynomial(method, 6, 0.8)
    cert = certify_polynomial(poly, 1e-3)
    assert cert.verdict == "certified"
    grid = [0.8 * (2 * k / 400 - 1) for k in range(401)]
    worst = max(_relative_error(poly, x) for x in grid)
    assert worst <= cert.sup_upper
    assert cert.sup_lower <= cert.sup_upper


def test_refutation_carries_a_true_witness() -> None:
    poly = exp_polynomial("taylor", 3, 1.0)
    cert = certify_polynomial(poly, 1e-4)
    assert cert.verdict == "refuted" and cert.witness is not None
    assert _relative_error(poly, cert.witness) > 1e-4
    assert not cert.certified and not cert.covers(1.0, 1e-4)


def test_wrong_taylor_coefficient_is_refuted() -> None:
    good = exp_polynomial("taylor", 8, 1.0)
    assert certify_polynomial(good, 1e-5).certified
    coeffs = list(good.coefficients)
    coeffs[3] = 1.0 / 5.0                                    # planted: 1/5 instead of 1/3!
    bad = ExpPolynomial("taylor", 8, 1.0, tuple(coeffs))
    assert certify_polynomial(bad, 1e-5).verdict == "refuted"


def test_tiny_coefficient_error_is_caught_near_the_target() -> None:
    good = exp_polynomial("chebyshev", 7, 1.0)
    sup = certify_polynomial(good, 0.5).sup_upper
    coeffs = list(good.coefficients)
    coeffs[0] += 4 * sup                                     # shifts p(0)/1 by 4·sup
    bad = ExpPolynomial("chebyshev", 7, 1.0, tuple(coeffs))
    assert certify_polynomial(bad, 2 * sup).verdict == "refuted"


def test_zero_radius_and_precision_restored() -> None:
    before = ctx.prec
    cert = certify_polynomial(exp_polynomial("taylor", 0, 0.0), 0.5)
    assert cert.certified and cert.sup_upper <= 1e-300
    assert ctx.prec == before


def test_certificate_is_frozen_and_reportable() -> None:
    cert = certify_polynomial(exp_polynomial("taylor", 5, 0.25), 5e-7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cert.verdict = "refuted"  # type: ignore[misc]
    summary = cert.as_dict()
    assert summary["verdict"] == "certified" and summary["precision_bits"] == 128
    assert summary["enclosure"] == [cert.sup_lower, cert.sup_upper]
    assert cert.covers(0.2, 5e-7) and not cert.covers(0.3, 5e-7)
    assert isinstance(cert, Certificate)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"poly": "exp", "eps": 1e-3}, "poly"),
    ({"eps": 1.0}, "eps"),
    ({"eps": 0.0}, "eps"),
    ({"eps": 1e-3, "precision_bits": 32}, "precision_bits"),
    ({"eps": 1e-3, "initial_balls": 0}, "initial_balls"),
])
def test_bad_inputs(kwargs: dict, name: str) -> None:
    args = {"poly": exp_polynomial("taylor", 3, 0.5), **kwargs}
    with pytest.raises(InvalidArgument, match=name):
        certify_polynomial(args.pop("poly"), **args)
