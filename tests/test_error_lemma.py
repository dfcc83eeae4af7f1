"""The kernel's error lemma with its tight constant (docs/theory.md §3, K3).

Entrywise relative error ``ε < 1`` in the unnormalised weights moves the normalised output
by at most ``2ε/(1+√(1−ε²))·‖V‖_max`` (:func:`core.kernels.lemma_bound`), for any number of
keys. The proof reduces to a vertex of the perturbation box and then to one scalar
inequality; z3 proves that inequality and finds a counterexample to the constant just
below it. Two keys attain the bound, so a smaller constant is refuted by an instance.
"""

from __future__ import annotations

import math

import mpmath
import pytest
import z3  # z3-solver, in the test extra
from hypothesis import given, settings
from hypothesis import strategies as st

from core.kernels import lemma_bound


def _vertex_inequality(constant: object) -> object:
    """z3's verdict on: for ``0 <= ε < 1``, ``c = √(1−ε²)``, ``α ∈ [0, 1]``, ``|o| <= 1`` and
    ``0 <= U <= min(α(1−o), (1−α)(1+o))`` (the vertex case of the proof, ``‖V‖_max = 1``),
    ``D = 1 + ε(2α−1) > 0`` and ``2εU/D <= constant·ε/(1+c)``. ``unsat`` of the negation
    proves it."""
    eps, c, alpha, o, U = z3.Reals("eps c alpha o U")
    hypotheses = z3.And(eps >= 0, eps < 1, c >= 0, c * c == 1 - eps * eps,
                        alpha >= 0, alpha <= 1, o >= -1, o <= 1,
                        U >= 0, U <= alpha * (1 - o), U <= (1 - alpha) * (1 + o))
    D = 1 + eps * (2 * alpha - 1)
    claim = z3.And(D > 0, 2 * eps * U * (1 + c) <= constant * eps * D)
    solver = z3.Solver()
    solver.set("timeout", 60_000)
    solver.add(hypotheses, z3.Not(claim))
    return solver.check()


def test_z3_proves_the_scalar_core_and_refutes_a_smaller_constant() -> None:
    assert _vertex_inequality(2) == z3.unsat
    assert _vertex_inequality(z3.RealVal("1.999")) == z3.sat


def _perturbed_error(weights: list, values: list, deltas: list) -> mpmath.mpf:
    """``|Σ w(1+δ)v / Σ w(1+δ) − Σ wv / Σ w|`` in mpmath (current precision)."""
    w = [mpmath.mpf(x) for x in weights]
    v = [mpmath.mpf(x) for x in values]
    hat = [wi * (1 + mpmath.mpf(d)) for wi, d in zip(w, deltas, strict=True)]
    exact = mpmath.fsum(wi * vi for wi, vi in zip(w, v, strict=True)) / mpmath.fsum(w)
    fast = mpmath.fsum(hi * vi for hi, vi in zip(hat, v, strict=True)) / mpmath.fsum(hat)
    return abs(fast - exact)


@pytest.mark.parametrize("eps", [1e-12, 1e-6, 0.01, 0.3, 0.9, 0.999])
@pytest.mark.parametrize("v_max", [1.0, 0.125, 7.5])
def test_two_keys_attain_the_bound(eps: float, v_max: float) -> None:
    """Weights ``(1+x, 1−x)/2`` with ``x = −ε/(1+√(1−ε²))``, values ``±‖V‖_max``,
    perturbations ``(+ε, −ε)``: the error is the bound itself (so any smaller constant is
    wrong), and :func:`lemma_bound` is it rounded up by at most a few ulps (so it is tight)."""
    with mpmath.workdps(80):                    # the error cancels ~log10(1/ε) digits
        e = mpmath.mpf(eps)
        root = mpmath.sqrt(1 - e * e)
        x = -e / (1 + root)
        error = _perturbed_error([(1 + x) / 2, (1 - x) / 2], [v_max, -v_max], [e, -e])
        tight = 2 * e / (1 + root) * v_max
        assert abs(error - tight) <= mpmath.mpf(10) ** -40 * tight
        assert tight <= lemma_bound(eps, v_max) <= tight * (1 + 32 * 2.0**-53)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(1, 8),
       eps=st.floats(0.0, 0.99, allow_nan=False), v_max=st.floats(0.01, 10.0))
def test_no_perturbation_exceeds_the_bound(data: st.DataObject, n: int, eps: float,
                                           v_max: float) -> None:
    """Any positive weights, values in ``[−‖V‖_max, ‖V‖_max]`` and relative perturbations in
    ``[−ε, ε]`` (vertices included) stay within the bound, computed in mpmath."""
    unit = st.floats(0.0, 1.0, allow_nan=False)
    weights = data.draw(st.lists(st.floats(1e-6, 1e6), min_size=n, max_size=n))
    values = [v_max * (2 * u - 1) for u in data.draw(st.lists(unit, min_size=n, max_size=n))]
    corner = st.sampled_from([-1.0, 1.0])
    signs = data.draw(st.lists(st.one_of(corner, st.floats(-1.0, 1.0)), min_size=n,
                               max_size=n))
    with mpmath.workdps(40):
        deltas = [mpmath.mpf(eps) * s for s in signs]
        assert _perturbed_error(weights, values, deltas) <= lemma_bound(eps, v_max)


def test_the_old_constant_was_loose() -> None:
    """``2ε/(1−ε)`` is about twice the tight bound for small ``ε``."""
    for eps in (1e-9, 1e-6, 1e-3):
        assert 2 * eps / (1 - eps) / lemma_bound(eps, 1.0) == pytest.approx(2.0, rel=1e-2)
    assert math.isclose(lemma_bound(0.0, 1.0), 0.0)
