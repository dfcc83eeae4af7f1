"""The kernel regime record and the error lemma solved for ε (core.kernels.regime).

Every quantity of the regime is derived once there; these tests pin each derivation against
an independent computation (mpmath at 50 digits, or the formula written out)."""

from __future__ import annotations

import math

import mpmath
import pytest

from core.errors import InvalidArgument
from core.kernels import plan_kernel
from core.kernels.phase import log_rank_over_n
from core.kernels.plan import plan_for
from core.kernels.regime import (
    KernelRegime,
    eps_for_error,
    error_target,
    lemma_bound,
    score_radius,
)


@pytest.mark.parametrize("delta", [1e-300, 1e-12, 1e-6, 0.3, 0.4])
@pytest.mark.parametrize("v_max", [0.25, 1.0, 7.0])
def test_eps_is_the_largest_that_the_lemma_turns_into_delta(delta: float, v_max: float) -> None:
    """The lemma's bound at ``ε`` meets ``δ``, and ``ε`` is ``4t/(4 + t²)``, ``t = δ/v``, to
    a few ulps (so no noticeably larger ``ε`` would: ``ε·(1 + 1e-12)`` already exceeds ``δ``);
    in mpmath, ``2ε/(1+√(1−ε²))·v`` at that ``ε`` is ``δ``."""
    e = eps_for_error(delta, v_max)
    assert lemma_bound(e, v_max) <= delta < lemma_bound(min(e * (1 + 1e-12), 0.9999), v_max)
    with mpmath.workdps(50):
        t = mpmath.mpf(delta) / mpmath.mpf(v_max)
        exact = 4 * t / (4 + t * t)
        assert abs(2 * exact / (1 + mpmath.sqrt(1 - exact**2)) - t) < mpmath.mpf(10)**-40 * t
        assert abs(mpmath.mpf(e) / exact - 1) < 32 * 2.0**-53


@pytest.mark.parametrize("log_inv_delta", [0.5, 13.0, 650.0, 699.9, 700.1, 745.5, 11356.0])
def test_log_space_target_is_ln_one_over_eps_for_any_n(log_inv_delta: float) -> None:
    """``ln(1/ε) = ln((4 + δ²)/(4δ))`` with ``δ = e^{−L}`` (``v = 1``), in mpmath, on both
    sides of the float limit ``e^{−700}`` (where ``ε`` itself underflows to 0)."""
    target = error_target(log_inv_delta=log_inv_delta, v_max=1.0)
    with mpmath.workdps(50):
        big = mpmath.mpf(log_inv_delta)
        delta = mpmath.exp(-big)
        exact = mpmath.log((4 + delta**2) / (4 * delta))
        assert abs(target.log_inv_eps - exact) <= 1e-13 * exact
    if log_inv_delta <= 700:
        assert target.eps == eps_for_error(math.exp(-log_inv_delta), 1.0) > 0
    else:
        assert target.eps == 0.0


def test_error_target_needs_exactly_one_form_of_delta() -> None:
    for kwargs in ({}, {"delta": 0.1, "log_inv_delta": 2.0}):
        with pytest.raises(InvalidArgument, match="exactly one"):
            error_target(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"log_inv_delta=0\.0"):
        error_target(log_inv_delta=0.0)
    with pytest.raises(InvalidArgument, match=r"delta=0\.0"):
        error_target(0.0)


def test_regime_record_derives_radius_eps_and_ratio_once() -> None:
    regime = KernelRegime(s=8, beta=0.125, B=0.5, delta_F=1e-6, v_max=2.0, n=65536)
    assert regime.radius == score_radius(8, 0.5, 0.125) >= 0.125 * 8 * 0.25
    assert regime.eps == eps_for_error(1e-6, 2.0)
    assert regime.sqrt_log_n == math.sqrt(math.log(65536))
    assert regime.ratio == 0.5 / math.sqrt(math.log(65536))
    assert KernelRegime(s=1, beta=1.0, B=2.0, n=1).ratio == math.inf
    with pytest.raises(InvalidArgument, match="delta_F=None"):
        _ = KernelRegime(s=8, beta=0.125, B=0.5).eps
    with pytest.raises(InvalidArgument, match="n=None"):
        _ = KernelRegime(s=8, beta=0.125, B=0.5).ratio
    for bad, match in (({"s": 0}, "s=0"), ({"beta": 0.0}, "beta=0.0"), ({"B": -1.0}, "B=-1.0"),
                       ({"delta_F": 0.0}, "delta_F=0.0"), ({"n": 0}, "n=0"),
                       ({"v_max": 0.0}, "v_max=0.0")):
        with pytest.raises(InvalidArgument, match=match):
            KernelRegime(**{"s": 2, "beta": 0.5, "B": 1.0, **bad})  # type: ignore[arg-type]


@pytest.mark.parametrize(("s", "beta", "B"), [(4, 0.5, 3.0), (8, 1.0, 0.1), (2, 0.7, 0.0)])
def test_shrinking_into_a_radius_keeps_the_scores_inside_it(s: int, beta: float,
                                                            B: float) -> None:
    """``β`` (or ``B``) lowered so ``β·s·B² <= R_max`` up to rounding; unchanged when the
    regime is already inside."""
    regime = KernelRegime(s=s, beta=beta, B=B)
    for r_max in (0.5, 2.0, 100.0):
        new_beta = regime.beta_within(r_max)
        assert new_beta <= beta
        assert new_beta * s * B * B <= r_max * (1 + 4 * 2.0**-52)
        assert (new_beta == beta) == (beta * s * B * B <= r_max)
        new_B = regime.B_within(r_max)
        assert new_B <= B and beta * s * new_B**2 <= r_max * (1 + 4 * 2.0**-52)


def test_plan_for_a_regime_is_the_plan_of_its_fields() -> None:
    regime = KernelRegime(s=4, beta=0.5, B=0.5, delta_F=1e-6)
    assert plan_for(regime) is plan_kernel(s=4, B=0.5, beta=0.5, eps=regime.eps)
    with pytest.raises(InvalidArgument, match="regime="):
        plan_for("regime")  # type: ignore[arg-type]


def test_phase_data_stay_finite_far_past_float_range() -> None:
    """At ``n = 2^16384`` the target ``δ = 1/n`` is far below the smallest float; the degree
    still comes from ``ln(1/ε)`` and ``r/n`` is reported in logs."""
    g, _, lr = log_rank_over_n(16384.0, 1.0, 8)
    assert 0 < g < 10**5 and math.isfinite(lr) and lr < -1000
