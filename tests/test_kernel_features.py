"""Unit tests of the exact-rank monomial features (core.kernels.features, K2/K4)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

from core.errors import ConstructionTooLarge
from core.kernels import MonomialFeatures, exp_polynomial, feature_rank, loose_rank


@pytest.mark.parametrize(("s", "g"), [(1, 0), (1, 5), (2, 3), (4, 4), (8, 4), (8, 5), (3, 7)])
def test_tables_have_exact_rank_and_valid_exponents(s: int, g: int) -> None:
    f = MonomialFeatures.build(s, g)
    assert (f.s, f.g) == (s, g)
    assert f.rank == math.comb(s + g, g) == feature_rank(s, g)
    assert len({tuple(row) for row in f.exponents}) == f.rank
    assert (f.exponents >= 0).all() and (f.degrees <= g).all()
    for j in range(g + 1):
        assert int((f.degrees == j).sum()) == math.comb(s + j - 1, j)
        assert int(f.multinomials[f.degrees == j].sum()) == s**j   # multinomial theorem


def test_rank_is_far_below_the_loose_bound() -> None:
    assert feature_rank(8, 4) == 495
    assert loose_rank(8, 4) == 735_471


@pytest.mark.parametrize(("s", "g"), [(1, 3), (3, 4), (5, 2)])
def test_monomials_match_direct_powers_in_both_paths(s: int, g: int) -> None:
    f = MonomialFeatures.build(s, g)
    X = torch.randn(s, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(s))
    direct = torch.prod(X.T[:, None, :] ** torch.as_tensor(f.exponents)[None], dim=-1).T
    f.monomials(torch.full_like(X, 7.0))      # leave other values in the allocator's blocks
    fast = f.monomials(X)
    functional = f.monomials(X.clone().requires_grad_(True))
    u = 2.0**-53
    assert torch.allclose(fast, direct, rtol=4 * g * u, atol=0)
    assert torch.equal(fast, functional.detach())


@pytest.mark.parametrize("method", ["taylor", "chebyshev"])
def test_factorisation_equals_polynomial_of_scores(method: str) -> None:
    s, g, beta = 3, 6, 0.4
    poly = exp_polynomial(method, g, 2.0)
    f = MonomialFeatures.build(s, g)
    rng = np.random.default_rng(3)
    Q, K = rng.uniform(-1, 1, (s, 5)), rng.uniform(-1, 1, (s, 7))
    w = torch.as_tensor(f.query_weights(poly.coefficients, beta))
    U1 = f.monomials(torch.as_tensor(Q)) * w[:, None]
    U2 = f.monomials(torch.as_tensor(K))
    got = (U1.T @ U2).numpy()
    with mpmath.workdps(40):
        truth = np.array([[float(mpmath.polyval(
            [mpmath.mpf(c) for c in poly.coefficients[::-1]],
            mpmath.mpf(beta) * mpmath.fsum(mpmath.mpf(Q[t, i]) * mpmath.mpf(K[t, j])
                                           for t in range(s))))
            for j in range(7)] for i in range(5)])
    N = f.rank + 2 * g + 4
    allowed = N * 2.0**-53 * (U1.abs().T @ U2.abs()).numpy()
    assert (np.abs(got - truth) <= allowed).all()


def test_too_large_tables_refused_before_allocating() -> None:
    with pytest.raises(ConstructionTooLarge) as info:
        MonomialFeatures.build(64, 20, memory_limit=2**30)
    assert info.value.required > info.value.limit
    assert isinstance(info.value.nearest, int) and info.value.nearest < 20
    assert "s=64, g=20" in str(info.value)


@pytest.mark.parametrize(("s", "g"), [(4, 3), (8, 5), (2, 9)])
def test_memory_guard_is_exact_at_its_limit(s: int, g: int) -> None:
    """Tables of ``r·(s+4)`` float64/int64 entries: a limit of exactly that many bytes is
    enough, one byte less is refused, and the degree offered instead is the largest whose
    tables fit (found here by counting down)."""
    need = feature_rank(s, g) * (s + 4) * 8
    assert MonomialFeatures.build(s, g, memory_limit=need).rank == feature_rank(s, g)
    with pytest.raises(ConstructionTooLarge) as info:
        MonomialFeatures.build(s, g, memory_limit=need - 1)
    fits = max(k for k in range(g) if feature_rank(s, k) * (s + 4) * 8 <= need - 1)
    assert (info.value.required, info.value.limit, info.value.nearest) == (need, need - 1, fits)
    with pytest.raises(ConstructionTooLarge) as info:
        MonomialFeatures.build(s, g, memory_limit=1)       # not even degree 0 fits
    assert info.value.nearest == 0
    below = feature_rank(s, g - 1) * (s + 4) * 8            # exactly degree g−1's tables
    with pytest.raises(ConstructionTooLarge) as info:
        MonomialFeatures.build(s, g, memory_limit=below)
    assert info.value.nearest == g - 1


@pytest.mark.parametrize("grad", [False, True], ids=["in-place", "functional"])
def test_monomials_keep_the_input_dtype_whatever_the_default_dtype(grad: bool) -> None:
    """"In the dtype of X", on both paths, even when torch's default dtype is float64:
    float32 tokens give float32 monomials, within float32's rounding of at most ``g``
    products (relative ``γ_g``) of the float64 monomials of the same tokens."""
    s, g = 3, 4
    f = MonomialFeatures.build(s, g)
    X = torch.rand(s, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    X32 = X.float().requires_grad_(grad)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        got = f.monomials(X32)
    finally:
        torch.set_default_dtype(before)
    assert got.dtype == torch.float32
    exact = f.monomials(X32.detach().double())
    u32 = 2.0**-24
    assert torch.allclose(got.detach().double(), exact, rtol=g * u32 / (1 - g * u32), atol=0)


def test_monomials_are_built_on_the_device_of_the_tokens() -> None:
    """Both the in-place and the autograd path allocate on ``X``'s device (``meta`` stands
    in for an accelerator on this CPU-only machine): a buffer left on the CPU would fail to
    mix with ``X``."""
    f = MonomialFeatures.build(2, 3)
    X = torch.zeros(2, 5, dtype=torch.float64, device="meta")
    assert f.monomials(X).device.type == "meta"
    assert f.monomials(X.clone().requires_grad_(True)).device.type == "meta"
    assert f.monomials(X).shape == (f.rank, 5)
