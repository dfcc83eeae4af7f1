"""The kernel's two backends (core.kernels.native, the torch ops of core.kernels.fast_attention):
the same products on the same blocks, so they agree within both calls' rounding bounds at
every degree shape (g = 0, 1, 2, ≥ 3), dtype, chunk remainder, thread count and readout; the
native loops' normaliser range (NaN included) and the backend option's refusals."""

from __future__ import annotations

import math
import os

import pytest
import torch

from core.attention import exact_attention
from core.errors import InvalidArgument, NonFiniteError
from core.kernels import native, plan_kernel, polynomial_attention_with_info
from core.kernels.certify import certify_polynomial
from core.kernels.fast_attention import BACKENDS, native_chunk, rerun_native_passes


def _require_native() -> None:
    """Skip where the native backend did not build, saying why, except on CI (CI=true),
    which installs a compiler and ninja: there a failed build is a failure."""
    if not native.available():
        reason = f"native backend unavailable: {native.unavailable_reason()}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def _inputs(s: int, n: int, m: int, B: float, dtype: torch.dtype, seed: int = 0
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    Q = (torch.rand(s, m, generator=gen, dtype=torch.float64) * 2 - 1) * B
    K = (torch.rand(s, n, generator=gen, dtype=torch.float64) * 2 - 1) * B
    V = torch.rand(3, n, generator=gen, dtype=torch.float64) * 2 - 1
    return Q.to(dtype), K.to(dtype), V.to(dtype)


# (s, B, beta, eps) giving degrees 0, 1, 2 and above (checked in the test).
SHAPES = [(3, 0.05, 0.1, 0.2), (3, 0.3, 0.5, 0.05), (4, 0.3, 0.5, 3e-3), (4, 0.6, 0.5, 1e-8)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=["g0", "g1", "g2", "g_high"])
@pytest.mark.parametrize("options", [{}, {"chunk": 7, "threads": 3}, {"chunk": 5, "last": 9},
                                     {"chunk": 1}], ids=["default", "threads", "last", "one"])
def test_native_and_torch_agree_within_both_rounding_bounds(
        shape: tuple[int, float, float, float], dtype: torch.dtype,
        options: dict[str, int]) -> None:
    """Both backends compute the same exact-arithmetic quantity, each within its call's
    rigorous rounding bound, so they differ by at most the sum of the two; and both are
    within ``bound + rounding`` of exact attention (float64 reference)."""
    _require_native()
    s, B, beta, eps = shape
    plan = plan_kernel(s=s, B=B, beta=beta, eps=eps, certifier=certify_polynomial)
    expected_degree = {0.2: 0, 0.05: 1, 3e-3: 2}.get(eps)
    assert (expected_degree is None and plan.degree >= 3) or plan.degree == expected_degree
    Q, K, V = _inputs(s, 61, 23, B, dtype)                  # 61, 23: remainders everywhere
    ours, info_n = polynomial_attention_with_info(Q, K, V, plan, backend="native", **options)
    theirs, info_t = polynomial_attention_with_info(Q, K, V, plan, backend="torch", **options)
    assert (info_n.backend, info_t.backend) == ("native", "torch")
    if "chunk" in options:
        assert info_n.chunk == info_t.chunk == options["chunk"]
    if "threads" in options:
        assert info_n.threads == info_t.threads == options["threads"]
    assert ours.shape == theirs.shape and ours.dtype == dtype
    difference = float((ours.double() - theirs.double()).abs().max())
    assert difference <= info_n.rounding_bound + info_t.rounding_bound
    columns = Q.shape[1] - ours.shape[1]
    exact = exact_attention(Q.double()[:, columns:], K.double(), V.double(), beta)
    error = float((ours.double() - exact).abs().max())
    assert error <= info_n.bound + info_n.rounding_bound + 1e-13


def test_auto_picks_native_on_the_cpu_and_torch_under_autograd() -> None:
    _require_native()
    plan = plan_kernel(s=4, B=0.6, beta=0.5, eps=1e-8, certifier=certify_polynomial)
    Q, K, V = _inputs(4, 40, 40, 0.6, torch.float64)
    _, info = polynomial_attention_with_info(Q, K, V, plan)
    rows = math.comb(4 + plan.degree - 1, plan.degree - 1)
    assert info.backend == "native" and info.chunk == min(native_chunk(rows, 8), 40)
    assert info.threads == min(torch.get_num_threads(), 1)     # one block: one part
    Qg = Q.clone().requires_grad_(True)
    out, info = polynomial_attention_with_info(Qg, K, V, plan)
    assert info.backend == "torch" and out.requires_grad
    with pytest.raises(InvalidArgument, match="backend='native': autograd is recording"):
        polynomial_attention_with_info(Qg, K, V, plan, backend="native")


def test_backend_option_is_validated() -> None:
    plan = plan_kernel(s=4, B=0.6, beta=0.5, eps=1e-8, certifier=certify_polynomial)
    Q, K, V = _inputs(4, 10, 10, 0.6, torch.float64)
    with pytest.raises(InvalidArgument, match=r"^backend='fast': expected one of"):
        polynomial_attention_with_info(Q, K, V, plan, backend="fast")
    assert BACKENDS == ("auto", "native", "torch")


def test_disabled_native_backend_falls_back_and_says_why(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """``PTLIMITS_NATIVE=0`` (or a failed build) makes ``auto`` run torch ops and
    ``native`` refuse with the reason."""
    plan = plan_kernel(s=4, B=0.6, beta=0.5, eps=1e-8, certifier=certify_polynomial)
    Q, K, V = _inputs(4, 10, 10, 0.6, torch.float64)
    monkeypatch.setenv("PTLIMITS_NATIVE", "0")
    native._module_or_reason.cache_clear()
    try:
        assert not native.available()
        _, info = polynomial_attention_with_info(Q, K, V, plan)
        assert info.backend == "torch"
        with pytest.raises(InvalidArgument, match=r"did not build here \(disabled by "
                                                  r"PTLIMITS_NATIVE=0\)"):
            polynomial_attention_with_info(Q, K, V, plan, backend="native")
    finally:
        native._module_or_reason.cache_clear()


@pytest.mark.parametrize("coefficient", [0.0, -1.0], ids=["zero", "negative"])
def test_native_refuses_a_non_positive_normaliser_naming_the_block(coefficient: float
                                                                   ) -> None:
    """A constant polynomial 0 or −1 (a lying certificate) gives normalisers ``<= 0``: the
    native loops' per-block range catches it and names the first bad block's column."""
    from test_kernel_attention import _lying_plan

    _require_native()
    Q, K, V = _inputs(4, 10, 10, 0.6, torch.float64)
    with pytest.raises(NonFiniteError, match="query block 0' is not positive"):
        polynomial_attention_with_info(Q, K, V, _lying_plan(coefficient), backend="native",
                                       chunk=4)


@pytest.mark.parametrize("bad", [(-1.0, 2.0), (0.5, math.inf), (math.nan, math.nan)],
                         ids=["negative", "infinite", "nan"])
def test_the_first_bad_block_of_the_native_range_is_named(
        bad: tuple[float, float], monkeypatch: pytest.MonkeyPatch) -> None:
    """Only block 1 (columns 4–7 at chunk 4) has a bad normaliser range: the refusal names
    that block's first column and its range."""
    _require_native()
    plan = plan_kernel(s=4, B=0.6, beta=0.5, eps=1e-8, certifier=certify_polynomial)
    Q, K, V = _inputs(4, 10, 10, 0.6, torch.float64)
    real = native.native_attention

    def planted(*args: object, **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
        out, den_range = real(*args, **kwargs)  # type: ignore[arg-type]
        den_range[1] = torch.tensor(bad, dtype=torch.float64)
        return out, den_range

    monkeypatch.setattr(native, "native_attention", planted)
    with pytest.raises(NonFiniteError, match=r"query block 4' is not positive and finite "
                                             rf"\(min {bad[0]!r}, max {bad[1]!r}\)"):
        polynomial_attention_with_info(Q, K, V, plan, backend="native", chunk=4)


def test_native_normaliser_range_keeps_nan() -> None:
    """A NaN among a block's normalisers makes that block's range NaN (not the min/max of
    the other columns), so the kernel's check refuses it; other blocks are untouched."""
    _require_native()
    from core.kernels.features import MonomialFeatures

    features = MonomialFeatures.build(2, 3)
    K = torch.rand(2, 8, dtype=torch.float64)
    Q = torch.rand(2, 8, dtype=torch.float64)
    Q[0, 5] = math.nan                                       # query block 1 of chunk 4
    values = torch.cat([torch.rand(1, 8, dtype=torch.float64), torch.ones(1, 8,
                                                                            dtype=torch.float64)])
    weights = torch.ones(features.rank, dtype=torch.float64)
    _, den_range = native.native_attention(Q, K, values, features, weights, 4, 1)
    assert torch.isnan(den_range[1]).all() and not torch.isnan(den_range[0]).any()
    assert bool((den_range[0] > 0).all())


def test_products_only_rerun_is_the_same_call_without_its_loops() -> None:
    """:func:`rerun_native_passes` in FULL mode reproduces the call bit for bit (same
    polynomial, chunk, threads); PRODUCTS_ONLY skips every loop (features left at 1, keys
    never read, no normaliser formed): the timing it gives is of the products alone."""
    _require_native()
    plan = plan_kernel(s=4, B=0.6, beta=0.5, eps=1e-8, certifier=certify_polynomial)
    Q, K, V = _inputs(4, 50, 50, 0.6, torch.float64)
    out, info = polynomial_attention_with_info(Q, K, V, plan, radius="instance", chunk=16,
                                               threads=2)
    assert torch.equal(rerun_native_passes(Q, K, V, plan, info, native.FULL), out)
    products = rerun_native_passes(Q, K, V, plan, info, native.PRODUCTS_ONLY)
    assert products.shape == out.shape                 # its entries are never written
    from core.kernels.fast_attention import _features

    features = _features(4, info.degree, 2**30)
    values = torch.cat([V, torch.ones(1, 50, dtype=V.dtype)])
    weights = torch.ones(features.rank, dtype=V.dtype)
    nan_keys = torch.full_like(K, math.nan)             # never read without the loops
    _, den_range = native.native_attention(Q, nan_keys, values, features, weights, 16, 2,
                                           native.PRODUCTS_ONLY)
    assert bool((den_range == 1.0).all())               # no normaliser loop ran
    _, den_range = native.native_attention(Q, nan_keys, values, features, weights, 16, 2)
    assert bool(torch.isnan(den_range).all())           # the full passes do read K
    _, torch_info = polynomial_attention_with_info(Q, K, V, plan, backend="torch")
    with pytest.raises(InvalidArgument, match=r"info\.backend='torch'"):
        rerun_native_passes(Q, K, V, plan, torch_info, native.FULL)
