"""The best constant predictor's d_p, bounded below (core/constructions/baseline.py): never
above the truth, tight enough to tell a vacuous certificate from one that is not."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from core.constructions import baseline
from core.constructions.baseline import best_constant_lower
from core.lipschitz import FAMILIES, make_target


def _quadrature_upper(f, c: float, p: int, points: int = 200_000) -> float:
    """An upper bound of ``∫_0^1 |f − c|^p`` at (d, L) = (1, 1): the midpoint rule plus its
    error ``p·C/(4·points)`` (the integrand is ``p·C``-Lipschitz, values ≤ 1) and 2^-40 for
    float64 values."""
    x = (np.arange(points) + 0.5) / points
    vals = np.abs(f.values(x.reshape(-1, 1, 1)).ravel() - c) ** p
    return float(np.mean(vals)) + p * f.C / (4 * points) + 2.0**-40


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("p", [1, 2])
def test_the_lower_bound_never_exceeds_the_best_constant(family: str, p: int) -> None:
    f = make_target(family, 1, 1, 2.0, 3, grid=8)
    b = best_constant_lower(f, p, grid=64)
    c = b.constants[0][0]
    assert Fraction(b.dp_lower) ** p <= b.power_lower
    assert b.dp_lower ** p <= _quadrature_upper(f, c, p)
    # and it is not vacuous itself: within a factor 2 of what the quadrature finds
    assert b.dp_lower ** p >= 0.5 * (_quadrature_upper(f, c, p) - 2.0 / 200_000) or \
        family == "relu_mlp"


def test_finer_grids_only_tighten(monkeypatch: pytest.MonkeyPatch) -> None:
    f = make_target("mcshane", 1, 1, 4.0, 1)
    coarse, fine = (best_constant_lower(f, 2, grid=g).power_lower for g in (8, 256))
    assert 0 < coarse <= fine


def test_planted_lipschitz_term_dropped_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted bug: ``g(a) = a^p·h^n`` (the cell's value taken as constant, the Lipschitz
    spread ignored). On a coarse grid the 'bound' then exceeds the true best constant."""
    f = make_target("sawtooth", 1, 1, 2.0, 0, grid=8)
    assert best_constant_lower(f, 2, grid=3).dp_lower > 0
    monkeypatch.setattr(baseline, "_g_exact", lambda a, C, h, n, p: a**p * h**n)
    monkeypatch.setattr(baseline, "_g_floats", lambda a, C, h, n, p: a**p * h**n)
    b = best_constant_lower(f, 2, grid=3)
    assert b.dp_lower ** 2 > _quadrature_upper(f, b.constants[0][0], 2)


def test_grid_too_fine_is_refused() -> None:
    f = make_target("mcshane", 2, 2, 1.0, 0)
    with pytest.raises(Exception, match=r"grid=8: 8\^4 cells exceed max_cells=1024"):
        best_constant_lower(f, 2, grid=8)


# --- the demonstration claim (universal_certified_beats_best_constant) ------------------------


def _demo(family: str, **change):
    from properties.claims_universal import measure_beats_best_constant
    from properties.strategies_universal import DEMO_CONFIGS, UniversalInstance

    d, L, C, eps, p, form = DEMO_CONFIGS[0]
    args = {"seed": 0, "family": family, "d": d, "L": L, "C": C, "eps": eps, "p": p,
            "form": form, **change}
    return measure_beats_best_constant(UniversalInstance(**args))


@pytest.mark.parametrize("family", FAMILIES)
def test_the_demonstration_fails_where_a_constant_meets_eps(family: str) -> None:
    """At ``K = 2`` (``ε = 0.3``, ``p = 2``) every family is certified, yet a constant does at
    least as well: the claim's measurement must say so, not pass."""
    out = _demo(family, eps=0.3, p=2)
    assert out.detail["certified_below_eps"]
    assert not out.holds, out.detail


def test_a_grid_tied_sawtooth_defeats_the_demonstration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted: teeth of width ``1/K`` (every cell sees the whole tooth) leave the best
    constant within ``Cδ/2`` everywhere, below ε; the demonstration must then fail."""
    import core.lipschitz as lipschitz

    assert _demo("sawtooth").holds
    monkeypatch.setattr(lipschitz, "tooth_width", lambda grid, C: Fraction(1, grid))
    assert not _demo("sawtooth").holds


def test_the_demonstration_compares_eps_not_the_certificate() -> None:
    """At ``ε = 0.36`` (``p = 8``, ``K = 2``) τ_P's certified ``d_p`` (0.329) is below the
    ReLU MLP's best-constant bound (0.340), but ε is not: a constant may still meet ε, so
    the demonstration must fail."""
    out = _demo("relu_mlp", eps=0.36)
    assert out.detail["certified_dp"] < out.detail["best_constant_dp_lower"] < 0.36
    assert not out.holds
