"""Oracle discipline: two precisions, no leaking global precision, float(mpf) conversion."""

from __future__ import annotations

import re

import mpmath
import numpy as np
import pytest

from core.errors import ClaimViolation
from core.mp_twin import mp_forward, to_float64
from core.oracles import PRECISIONS, attention_oracle, converged, model_oracle
from properties.compare import compare_arrays
from properties.strategies import ModelInstance, build_model_case
from properties.tolerances import Tol, tolerance_for


def test_model_oracle_leaves_global_precision_unchanged() -> None:
    case = build_model_case(ModelInstance(seed=7, d=2, s=2, L=3, Lp=2))
    before = mpmath.mp.dps
    value = model_oracle(case.weights, case.X, case.P)
    assert mpmath.mp.dps == before
    assert value.dps == PRECISIONS
    assert value.gap < 1e-25


def test_twin_leaves_global_precision_unchanged() -> None:
    case = build_model_case(ModelInstance(seed=8, d=1, s=1, L=2, Lp=1))
    before = mpmath.mp.dps
    mp_forward(case.weights, case.X, case.P, dps=60)
    assert mpmath.mp.dps == before


def test_converged_detects_a_leaking_oracle() -> None:
    def leaky(dps: int) -> np.ndarray:
        mpmath.mp.dps = dps
        return np.zeros(1)

    before = mpmath.mp.dps
    try:
        with pytest.raises(ClaimViolation, match="changed global mpmath precision"):
            converged(leaky)
    finally:
        mpmath.mp.dps = before


def test_converged_detects_an_unconverged_oracle() -> None:
    with pytest.raises(ClaimViolation, match="not converged"):
        converged(lambda dps: np.array([10.0 ** -(dps // 3)]))


def test_attention_oracle_uniform_scores_give_mean_of_values() -> None:
    V = np.array([[1.0, 2.0, 6.0]])
    value = attention_oracle(np.zeros((2, 2)), np.zeros((2, 3)), V, beta=1.0)
    assert np.array_equal(value.value, np.full((1, 2), 3.0))


def test_to_float64_is_correctly_rounded() -> None:
    with mpmath.workdps(50):
        third = mpmath.mpf(1) / 3
        assert to_float64([[third]])[0, 0] == 1.0 / 3.0


def test_comparison_table_reports_worst_entry() -> None:
    cmp = compare_arrays(np.array([[1.0, 2.0]]), np.array([[1.0, 2.5]]),
                         Tol(atol=0.1, rtol=0.0, source="test"))
    assert (cmp.n_checked, cmp.n_bad, cmp.worst_index) == (2, 1, (0, 1))
    assert cmp.max_abs == 0.5 and not cmp.ok
    assert "2.5" in cmp.table()
    nan_cmp = compare_arrays(np.array([np.nan]), np.array([1.0]), Tol(1.0, 0.0, "t"))
    assert not nan_cmp.ok and nan_cmp.n_bad == 1


def test_twin_refuses_shapes_that_disagree_with_the_weights() -> None:
    """X and P need ``d`` rows and, with a positional encoding, ``L_p + L`` columns in all;
    the twin names the argument instead of truncating a product."""
    from core.errors import InvalidArgument

    case = build_model_case(ModelInstance(seed=8, d=2, s=2, L=2, Lp=1, positional=True))
    assert case.weights.pos is not None and case.weights.pos.shape == (2, 3)
    bad = [(np.zeros((3, 2)), case.P, "X has shape (3, 2): expected 2 rows"),
           (case.X, np.zeros((1, 1)), "P has shape (1, 1): expected 2 rows"),
           (np.zeros((2, 3)), case.P, "X has 3 and P 1 columns: the positional encoding"),
           (case.X, np.zeros((2, 2)), "X has 2 and P 2 columns: the positional encoding")]
    for X, P, message in bad:
        with pytest.raises(InvalidArgument, match="^" + re.escape(message)):
            mp_forward(case.weights, X, P, dps=30)
    for dps in (14, 10_001):
        with pytest.raises(InvalidArgument, match=f"^dps={dps}"):
            mp_forward(case.weights, case.X, case.P, dps=dps)


def test_twin_full_output_matches_the_float64_model_on_every_column() -> None:
    """``full=True`` returns all ``L_p + L`` columns, the readout its last ``L``."""
    import torch

    from core.model import PromptTunedTransformer

    case = build_model_case(ModelInstance(seed=9, d=2, s=2, L=2, Lp=2, n_pre=1, n_post=1))
    model = PromptTunedTransformer(case.weights)
    X, P = (torch.tensor(a, dtype=torch.float64) for a in (case.X, case.P))
    for full, cols in ((True, 4), (False, 2)):
        twin = to_float64(mp_forward(case.weights, case.X, case.P, dps=40, full=full))
        want = model(X, P, full=full).detach().numpy()
        assert twin.shape == (2, cols)
        assert compare_arrays(want, twin, tolerance_for(torch.float64)).ok


def test_slack_is_the_float64_rounding_of_the_value_plus_the_precision_gap() -> None:
    case = build_model_case(ModelInstance(seed=9, d=2, s=2, L=2, Lp=1))
    value = model_oracle(case.weights, case.X, case.P)
    scale = float(np.abs(value.value).max())
    assert value.slack == 2.0 ** -53 * scale + value.gap
    assert value.slack > 0


def test_neighbouring_floats_at_the_two_precisions_are_converged() -> None:
    """A value within 10^-30 of a float64 rounding midpoint rounds to neighbouring floats at
    30 and 45 digits (seed 192 of the quick audit drew such an attention instance)."""
    half = np.spacing(0.5) / 2

    def near_midpoint(dps: int) -> np.ndarray:
        return np.array([0.5 + (0.0 if dps < 40 else 2 * half)])

    assert converged(near_midpoint).gap == np.spacing(0.5)
    with pytest.raises(ClaimViolation, match="not converged"):
        converged(lambda dps: np.array([0.5 + (0.0 if dps < 40 else 4 * half)]))


def test_the_pinned_attention_instance_near_a_midpoint_is_measured() -> None:
    from properties.registry import get_claim
    from properties.strategies import AttentionInstance

    inst = AttentionInstance(seed=180823, s=5, d_v=2, n=8, m=9, B=2.220446049250313e-16,
                             beta=0.3333333333333333, pattern="signs")
    assert get_claim("attention_matches_mp_oracle").measure(inst).holds
