"""Unit tests of the fast kernel (core.kernels.fast_attention, K3/K5): accuracy, readout,
chunking, dtypes, devices, and a table of refused inputs."""

from __future__ import annotations

import math

import pytest
import torch

from core.attention import exact_attention
from core.errors import ConstructionTooLarge, InvalidArgument, NonFiniteError
from core.kernels import (
    KernelPlan,
    plan_kernel,
    polynomial_attention,
    polynomial_attention_with_info,
)
from core.kernels.certify import certify_polynomial
from core.kernels.fast_attention import kernel_peak_bytes, rounding_allowance, widened_bytes

S, D_V, N = 4, 3, 300


def _plan(B: float = 0.6, beta: float = 0.5, eps: float = 1e-8,
          method: str = "chebyshev") -> KernelPlan:
    return plan_kernel(s=S, B=B, beta=beta, eps=eps, method=method,
                       certifier=certify_polynomial)


def _inputs(B: float = 0.6, n: int = N, m: int = N, dtype: torch.dtype = torch.float64,
            seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    Q = (torch.rand(S, m, generator=gen, dtype=torch.float64) * 2 - 1) * B
    K = (torch.rand(S, n, generator=gen, dtype=torch.float64) * 2 - 1) * B
    V = torch.rand(D_V, n, generator=gen, dtype=torch.float64) * 2 - 1
    return Q.to(dtype), K.to(dtype), V.to(dtype)


@pytest.mark.parametrize("method", ["taylor", "chebyshev"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_error_within_lemma_and_rounding_bounds(method: str, dtype: torch.dtype) -> None:
    plan = _plan(method=method, eps=1e-8 if dtype == torch.float64 else 1e-4)
    Q, K, V = _inputs(dtype=dtype)
    out, info = polynomial_attention_with_info(Q, K, V, plan)
    exact = exact_attention(Q.double(), K.double(), V.double(), plan.beta)
    error = float((out.double() - exact).abs().max())
    # the float64 reference itself is within the float64 dtype table of the truth
    assert error <= info.bound + info.rounding_bound + 1e-7 * (1 + float(exact.abs().max()))
    assert out.dtype == dtype and info.method_used == "polynomial"
    e = info.certified_eps
    assert info.bound == pytest.approx(2 * e / (1 + math.sqrt(1 - e * e)) * info.v_max,
                                       rel=1e-14)
    assert info.measured_B <= plan.B and info.rank == math.comb(S + plan.degree, plan.degree)


def test_readout_equals_last_columns_and_chunks_agree() -> None:
    plan = _plan()
    Q, K, V = _inputs()
    full = polynomial_attention(Q, K, V, plan)
    last = polynomial_attention(Q, K, V, plan, last=7)
    assert torch.allclose(last, full[:, -7:], rtol=0, atol=1e-14)
    for chunk in (1, 7, 64, 150, 10_000):              # 150: exactly two query blocks
        chunked, info = polynomial_attention_with_info(Q, K, V, plan, chunk=chunk)
        assert info.chunk == min(chunk, max(Q.shape[1], K.shape[1]))   # never wider
        assert torch.allclose(chunked, full, rtol=0, atol=1e-14)


def test_memory_limit_lowers_the_chunk() -> None:
    plan = _plan()
    Q, K, V = _inputs()
    n, m = K.shape[1], Q.shape[1]
    limit = kernel_peak_bytes(n, m, D_V, plan.rank, 10, 8)          # room for 10 columns
    out, info = polynomial_attention_with_info(Q, K, V, plan, memory_limit=limit)
    assert info.chunk == 10
    _, info = polynomial_attention_with_info(Q, K, V, plan, memory_limit=limit - 1)
    assert info.chunk == 9
    assert torch.allclose(out, polynomial_attention(Q, K, V, plan), rtol=0, atol=1e-14)


def test_out_of_regime_fallback_is_exact_and_says_so() -> None:
    plan = _plan(B=0.3)
    Q, K, V = _inputs(B=0.6)
    out, info = polynomial_attention_with_info(Q, K, V, plan, out_of_regime="exact")
    assert info.method_used == "exact" and "exceeds" in (info.reason or "")
    assert torch.equal(out, exact_attention(Q, K, V, plan.beta))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    plan = _plan()
    Q, K, V = _inputs()
    cpu = polynomial_attention(Q, K, V, plan)
    gpu = polynomial_attention(Q.cuda(), K.cuda(), V.cuda(), plan)
    assert torch.allclose(gpu.cpu(), cpu, rtol=0, atol=1e-12)


def _nan_at(t: torch.Tensor, value: float) -> torch.Tensor:
    t = t.clone()
    t[0, 0] = value
    return t


BAD_CASES = [
    ("B outside the regime", lambda Q, K, V, p: (Q * 2, K, V, p, {}), InvalidArgument,
     "B=.*exceeds"),
    ("NaN in Q", lambda Q, K, V, p: (_nan_at(Q, math.nan), K, V, p, {}), NonFiniteError, "Q"),
    ("inf in K", lambda Q, K, V, p: (Q, _nan_at(K, math.inf), V, p, {}), NonFiniteError, "K"),
    ("-inf in V", lambda Q, K, V, p: (Q, K, _nan_at(V, -math.inf), p, {}), NonFiniteError,
     "V"),
    ("rank too large", lambda Q, K, V, p: (Q, K, V, p, {"memory_limit": 1000}),
     ConstructionTooLarge, "rank r="),
    ("wrong head dim", lambda Q, K, V, p: (Q[:2], K[:2], V, p, {}), InvalidArgument, "Q="),
    ("K head dim", lambda Q, K, V, p: (Q, K[:2], V, p, {}), InvalidArgument, "^K="),
    ("V dtype", lambda Q, K, V, p: (Q, K, V.float(), p, {}), InvalidArgument, "^V="),
    ("memory_limit 0", lambda Q, K, V, p: (Q, K, V, p, {"memory_limit": 0}), InvalidArgument,
     "^memory_limit=0"),
    ("memory_limit str", lambda Q, K, V, p: (Q, K, V, p, {"memory_limit": "1"}),
     InvalidArgument, "^memory_limit="),
    ("last past m", lambda Q, K, V, p: (Q, K, V, p, {"last": 21}), InvalidArgument,
     "^last=21"),
    ("dtype mismatch", lambda Q, K, V, p: (Q, K.float(), V, p, {}), InvalidArgument, "K="),
    ("V columns", lambda Q, K, V, p: (Q, K, V[:, :5], p, {}), InvalidArgument, "V="),
    ("not a plan", lambda Q, K, V, p: (Q, K, V, "plan", {}), InvalidArgument, "plan="),
    ("chunk 0", lambda Q, K, V, p: (Q, K, V, p, {"chunk": 0}), InvalidArgument, "chunk="),
    ("last 0", lambda Q, K, V, p: (Q, K, V, p, {"last": 0}), InvalidArgument, "last="),
    ("bad fallback", lambda Q, K, V, p: (Q, K, V, p, {"out_of_regime": "ignore"}),
     InvalidArgument, "out_of_regime="),
    ("not a tensor", lambda Q, K, V, p: (Q.tolist(), K, V, p, {}), InvalidArgument, "Q="),
]


@pytest.mark.parametrize(("make", "error", "pattern"), [c[1:] for c in BAD_CASES],
                         ids=[c[0] for c in BAD_CASES])
def test_bad_inputs_raise_named_errors(make: object, error: type, pattern: str) -> None:
    plan = _plan()
    Q, K, V, p, kwargs = make(*_inputs(n=20, m=20), plan)  # type: ignore[operator]
    with pytest.raises(error, match=pattern):
        polynomial_attention_with_info(Q, K, V, p, **kwargs)


def test_chunk_is_exact_at_the_memory_limit_and_info_reports_the_plan() -> None:
    """Room for exactly one column per block: chunk 1; one byte less: refused with the
    kernel's whole peak at one column (kernel_peak_bytes). The info record carries the
    plan's own numbers; an exact fallback reports no bound, no chunk and no feature
    memory."""
    plan = _plan()
    Q, K, _ = _inputs(n=20, m=20)
    V = torch.rand(20, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    at_one = kernel_peak_bytes(20, 20, 20, plan.rank, 1, 8)
    fixed, column = at_one, 0
    _, info = polynomial_attention_with_info(Q, K, V, plan, memory_limit=fixed + column)
    assert info.chunk == 1
    assert (info.plan_B, info.radius, info.degree, info.rank) == (
        plan.B, plan.radius, plan.degree, plan.rank)
    assert info.peak_feature_bytes > 0 and info.bound > 0 and info.rounding_bound > 0
    with pytest.raises(ConstructionTooLarge) as refused:
        polynomial_attention_with_info(Q, K, V, plan, memory_limit=fixed + column - 1)
    assert (refused.value.required, refused.value.limit) == (fixed + column,
                                                              fixed + column - 1)
    _, exact_info = polynomial_attention_with_info(Q * 2, K, V, plan, out_of_regime="exact")
    assert exact_info.method_used == "exact" and exact_info.plan_B == plan.B
    assert (exact_info.bound, exact_info.rounding_bound, exact_info.chunk,
            exact_info.peak_feature_bytes) == (0.0, 0.0, 0, 0)
    assert exact_info.degree == plan.degree and exact_info.radius == plan.radius


def test_memory_limit_too_small_for_one_column_is_refused() -> None:
    plan = _plan()
    Q, K, V = _inputs(n=20, m=20)
    V1 = V[:1]
    limit = 3 * plan.rank * 8                       # the rank check passes, S + 1 column not
    with pytest.raises(ConstructionTooLarge, match="rank r=") as info:
        polynomial_attention_with_info(Q, K, V1, plan, memory_limit=limit)
    assert info.value.required > info.value.limit


def test_rounding_allowance_is_the_documented_formula_and_infinite_past_its_range() -> None:
    """``N = n + r + 2g + 6``, ``γ_N = Nu/(1 − Nu)``, ``ρ = γ_N·Σ|c_j|R^j·e^R`` and
    ``2ρ/(1 − ε − ρ)·‖V‖_max`` — recomputed here in exact rationals from the plan; ``inf``
    once ``Nu >= 1`` or ``ε + ρ >= 1``. The info record's peak memory is its formula too."""
    from fractions import Fraction

    from core.kernels.fast_attention import rounding_allowance

    plan = _plan()
    for dtype, n, v_max in ((torch.float64, 1000, 2.5), (torch.float32, 50, 1.0)):
        u = Fraction(torch.finfo(dtype).eps) / 2
        N = n + plan.rank + 2 * plan.degree + 6
        gamma = N * u / (1 - N * u)
        p_abs = sum(abs(Fraction(c)) * Fraction(plan.radius) ** j
                    for j, c in enumerate(plan.polynomial.coefficients))
        rho = gamma * p_abs * Fraction(math.exp(plan.radius))
        expected = 2 * rho / (1 - Fraction(plan.certified_eps) - rho) * Fraction(v_max)
        got = rounding_allowance(plan, n, v_max, dtype)
        assert got == pytest.approx(float(expected), rel=1e-12)
    u16 = torch.finfo(torch.bfloat16).eps / 2
    limit = math.ceil(1 / u16) - plan.rank - 2 * plan.degree - 6        # N·u = 1 exactly
    assert rounding_allowance(plan, limit, 1.0, torch.bfloat16) == math.inf
    assert math.isfinite(rounding_allowance(plan, 1, 1.0, torch.float64))
    wide = _plan(B=2.0, eps=1e-2)                      # R = 8: e^R·Σ|c|R^j is about 9e6
    n_big = 10**10                                      # N·u ≈ 1e-6 < 1, but ρ > 1
    assert (n_big + wide.rank) * 2.0**-53 < 1
    assert rounding_allowance(wide, n_big, 1.0, torch.float64) == math.inf
    assert math.isfinite(rounding_allowance(wide, 10**6, 1.0, torch.float64))
    Q, K, V = _inputs(n=30, m=30)
    _, info = polynomial_attention_with_info(Q, K, V, plan, chunk=7, backend="torch")
    w = info.threads
    assert w == 1                                       # one Python thread by default
    _, info_native = polynomial_attention_with_info(Q, K, V, plan, chunk=7, backend="auto")
    if info_native.backend == "native":                 # a part per intra-op thread
        assert info_native.threads == min(torch.get_num_threads(), -(-30 // 7))
        assert info_native.peak_feature_bytes == kernel_peak_bytes(
            0, 0, D_V, plan.rank, 7, 8, info_native.threads)
    assert info.peak_feature_bytes == ((w + 2) * (D_V + 1) * plan.rank
                                       + w * 2 * (plan.rank + D_V + 1) * 7) * 8


def test_output_dtype_follows_the_inputs_not_torchs_default_dtype() -> None:
    """float32 in, float32 out (and close to the float64 result) even when torch's default
    dtype is float64: every buffer the kernel creates takes the inputs' dtype."""
    plan = _plan(eps=1e-4)
    Q, K, V = (t.float().double() for t in _inputs(n=40, m=40))   # exact in float32
    reference = polynomial_attention(Q, K, V, plan)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        out = polynomial_attention(Q.float(), K.float(), V.float(), plan, chunk=16)
    finally:
        torch.set_default_dtype(before)
    assert out.dtype == torch.float32
    _, info = polynomial_attention_with_info(Q.float(), K.float(), V.float(), plan)
    _, info64 = polynomial_attention_with_info(Q, K, V, plan)
    allowed = info.rounding_bound + info64.rounding_bound       # both runs' rounding
    assert float((out.double() - reference).abs().max()) <= allowed


def _lying_plan(coefficient: float) -> KernelPlan:
    """A plan whose polynomial is the constant ``coefficient``, with a certificate that
    (falsely) claims it approximates ``e^x``: the kernel's own guard must still catch it."""
    from types import SimpleNamespace

    from core.kernels import ExpPolynomial

    plan = _plan()
    poly = ExpPolynomial("taylor", 1, plan.radius, (coefficient, 0.0))
    cert = SimpleNamespace(verdict="certified", degree=1, coefficients=poly.coefficients,
                           radius=plan.radius, sup_upper=1e-8, eps=1e-8)
    return KernelPlan(s=S, B=plan.B, beta=plan.beta, eps=1e-8, polynomial=poly,
                      certificate=cert)


@pytest.mark.parametrize("coefficient", [0.0, -1.0], ids=["zero", "negative"])
def test_non_positive_normaliser_is_refused_even_with_a_lying_certificate(
        coefficient: float) -> None:
    """A normaliser ``Σ_i p(s_ij)`` that is ``<= 0`` (finite) raises NonFiniteError naming
    the query block, instead of dividing by it."""
    Q, K, V = _inputs(n=10, m=10)
    with pytest.raises(NonFiniteError, match="query block 0"):
        polynomial_attention(Q, K, V, _lying_plan(coefficient))


def test_memory_refusals_name_the_structure_that_does_not_fit() -> None:
    """Each memory guard names what it sizes: below ``3·r`` entries the rank check; with the
    tables fitting but not the kernel's peak (``[V; 1ᵀ]``, ``S``, blocks, output), the
    kernel with its computed size. A limit of one byte is a memory refusal, not a bad
    argument."""
    plan = plan_kernel(s=1, B=0.8, beta=1.0, eps=1e-8, certifier=certify_polynomial)
    r = plan.rank
    gen = torch.Generator().manual_seed(3)
    Q, K = (torch.rand(1, 6, generator=gen, dtype=torch.float64) * 0.8 for _ in range(2))
    V = torch.rand(5, 6, generator=gen, dtype=torch.float64)
    with pytest.raises(ConstructionTooLarge, match=r"^monomial features of rank r="):
        polynomial_attention_with_info(Q, K, V, plan, memory_limit=3 * r * 8 - 1)
    tables = r * (1 + 4) * 8                                       # 40r < the peak
    with pytest.raises(ConstructionTooLarge, match=r"^polynomial attention with n=6 keys, "
                                                   r"m=6 queries, d_v=5") as info:
        polynomial_attention_with_info(Q, K, V, plan, memory_limit=tables)
    assert (info.value.required, info.value.limit) == (kernel_peak_bytes(6, 6, 5, r, 1, 8),
                                                       tables)
    with pytest.raises(ConstructionTooLarge):
        polynomial_attention_with_info(Q, K, V, plan, memory_limit=1)


def test_rounding_allowance_is_infinite_when_the_denominator_is_exactly_zero() -> None:
    """``1 − ε − ρ = 0`` exactly (ρ in [1/2, 1), so ``ε = 1 − ρ`` and ``1 − ε`` are exact):
    the allowance ``2ρ/(1 − ε − ρ)·‖V‖_max`` is not finite, so it is ``inf`` (no division
    by zero). The plan carries a certificate claiming ``sup = 1 − ρ``."""
    from types import SimpleNamespace

    from core.kernels.fast_attention import kernel_relative_rounding, rounding_allowance

    base = plan_kernel(s=1, B=3.9, beta=1.0, eps=0.5, method="taylor",
                       certifier=certify_polynomial)                       # R = 15.21
    n = 200
    rho = kernel_relative_rounding(base, n, torch.float64)
    assert 0.5 <= rho < 1.0
    eps = 1.0 - rho
    assert 1.0 - eps - rho == 0.0
    poly = base.polynomial
    cert = SimpleNamespace(verdict="certified", degree=poly.degree,
                           coefficients=poly.coefficients, radius=base.radius,
                           sup_upper=eps, eps=eps)
    edge = KernelPlan(s=1, B=base.B, beta=1.0, eps=eps, polynomial=poly, certificate=cert)
    assert rounding_allowance(edge, n, 1.0, torch.float64) == math.inf


def test_kernel_passes_stay_on_the_inputs_device_up_to_the_guard() -> None:
    """The two passes allocate ``[V; 1]`` and ``S`` on the inputs' device: on ``meta``
    tensors (standing in for an accelerator) the first failure is the guard's host sync,
    not a CPU buffer meeting device tensors."""
    from core.kernels import MonomialFeatures
    from core.kernels.fast_attention import _polynomial_attention

    f = MonomialFeatures.build(2, 3)
    Q = K = torch.zeros(2, 5, dtype=torch.float64, device="meta")
    V = torch.zeros(1, 5, dtype=torch.float64, device="meta")
    weights = torch.ones(f.rank, dtype=torch.float64, device="meta")
    with pytest.raises(RuntimeError, match=r"item\(\) cannot be called on meta tensors"):
        _polynomial_attention(Q, K, V, f, weights, 2, 1)


def test_a_billion_keys_are_refused_in_milliseconds_before_any_allocation() -> None:
    """``n = 10⁹`` keys as broadcast views (no memory behind them): the kernel and exact
    attention compute their peak from the shapes and refuse with it, before reading an entry
    (reading the view would itself allocate 64 GB)."""
    import time

    from core.attention import exact_peak_bytes
    from core.errors import ConstructionTooLarge

    plan = _plan()
    n = 10**9
    Q = torch.zeros(S, 1, dtype=torch.float64)
    K = torch.zeros(S, 1, dtype=torch.float64).expand(S, n)
    V = torch.zeros(D_V, 1, dtype=torch.float64).expand(D_V, n)
    start = time.perf_counter()
    with pytest.raises(ConstructionTooLarge) as kernel:
        polynomial_attention_with_info(Q, K, V, plan, backend="torch")
    with pytest.raises(ConstructionTooLarge) as native_kernel:     # a part per thread
        polynomial_attention_with_info(Q, K, V, plan, threads=2, backend="auto")
    with pytest.raises(ConstructionTooLarge) as exact:
        exact_attention(Q, K, V, plan.beta)
    assert time.perf_counter() - start < 1.0
    assert kernel.value.required == kernel_peak_bytes(n, 1, D_V, plan.rank, 1, 8)
    assert native_kernel.value.required == kernel_peak_bytes(n, 1, D_V, plan.rank, 1, 8, 2)
    assert kernel.value.required > (D_V + 2) * n * 8
    assert exact.value.required == exact_peak_bytes(n, 1, D_V, 1, 8) == (3 * n + 2 * D_V) * 8


def test_exact_attention_lowers_its_query_chunk_to_the_memory_limit() -> None:
    """The score block shrinks to fit ``memory_limit`` (same output, fewer columns at a
    time); one column that does not fit is refused with its size."""
    from core.attention import exact_peak_bytes
    from core.errors import ConstructionTooLarge

    Q, K, V = _inputs(n=50, m=40)
    full = exact_attention(Q, K, V, 0.5)
    limit = exact_peak_bytes(50, 40, D_V, 7, 8)
    assert torch.allclose(exact_attention(Q, K, V, 0.5, memory_limit=limit), full,
                          rtol=0, atol=1e-15)
    with pytest.raises(ConstructionTooLarge) as refused:
        exact_attention(Q, K, V, 0.5, memory_limit=exact_peak_bytes(50, 40, D_V, 1, 8) - 1)
    assert refused.value.required == exact_peak_bytes(50, 40, D_V, 1, 8)


# --- the instance radius -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_instance_radius_bounds_every_score_and_is_tight_on_aligned_columns(
        dtype: torch.dtype) -> None:
    """Cauchy–Schwarz is attained by parallel columns: a query and a key along one direction
    give a score equal to ``β‖q‖‖k‖``, which the radius must cover yet not exceed by more
    than its rounding allowance; random columns stay below it; it never exceeds ``β·s·B²``."""
    from core.kernels.fast_attention import instance_radius
    from core.kernels.regime import score_radius

    beta, B = 0.37, 0.6
    Q, K, _ = _inputs(B=B, dtype=dtype, seed=3)
    corner = torch.tensor([B, -B, B, B], dtype=dtype)     # the largest ‖·‖₂ in [−B, B]^s
    Q[:, 5], K[:, 9] = corner, 0.9 * corner
    R = instance_radius(Q, K, beta)
    scores = beta * (K.double().T @ Q.double())
    aligned = beta * float(Q[:, 5].double().norm() * K[:, 9].double().norm())
    assert float(scores.abs().max()) <= R and aligned <= R <= aligned * (1 + 1e-14)
    assert R <= score_radius(S, B, beta)


def test_instance_mode_lowers_the_degree_where_the_inputs_allow_and_keeps_the_bound() -> None:
    """Columns with one non-zero entry have ‖q‖₂ <= B, far below √s·B, so the radius drops
    and a lower certified degree serves; the output stays within the (new) plan's bound."""
    plan = _plan(B=0.9, beta=0.5, eps=1e-10)
    Q, K, V = _inputs(B=0.9, n=2000, m=500, seed=5)
    gen = torch.Generator().manual_seed(6)             # one ±B entry per column: ‖q‖₂ = B
    for X in (Q, K):
        X.mul_(torch.nn.functional.one_hot(torch.randint(S, (X.shape[1],), generator=gen),
                                           S).T.double())
    out, info = polynomial_attention_with_info(Q, K, V, plan, radius="instance")
    exact = exact_attention(Q, K, V, plan.beta)
    assert info.radius_mode == "instance" and info.plan_degree == plan.degree
    assert info.radius < plan.radius == info.plan_radius and info.degree < plan.degree
    assert info.certified_eps <= plan.eps
    error = float((out - exact).abs().max())
    assert error <= info.bound + info.rounding_bound
    _, same_info = polynomial_attention_with_info(Q, K, V, plan)
    assert (same_info.radius, same_info.degree) == (plan.radius, plan.degree)


def test_radius_mode_is_validated() -> None:
    Q, K, V = _inputs()
    with pytest.raises(InvalidArgument, match=r"radius='tight': expected one of \('plan', "
                                              r"'instance'\)"):
        polynomial_attention(Q, K, V, _plan(), radius="tight")


def test_threads_split_the_chunks_deterministically_within_the_rounding_bound() -> None:
    """Key chunks are cut into contiguous parts per thread and the parts' ``S`` summed in a
    fixed order: a run repeats bit for bit, and one and three threads differ by rounding
    only (within the kernel's own rounding bound)."""
    plan = _plan()
    Q, K, V = _inputs(n=700, m=500, seed=11)
    one, info1 = polynomial_attention_with_info(Q, K, V, plan, chunk=64, threads=1)
    three, info3 = polynomial_attention_with_info(Q, K, V, plan, chunk=64, threads=3)
    again, _ = polynomial_attention_with_info(Q, K, V, plan, chunk=64, threads=3)
    assert (info1.threads, info3.threads) == (1, 3)
    assert torch.equal(three, again)
    assert float((one - three).abs().max()) <= 2 * info1.rounding_bound
    exact = exact_attention(Q, K, V, plan.beta)
    assert float((three - exact).abs().max()) <= info3.bound + info3.rounding_bound
    with pytest.raises(InvalidArgument, match="threads=0"):
        polynomial_attention(Q, K, V, plan, threads=0)


@pytest.mark.parametrize("eps", [5e-2, 1e-3, 1e-5, 1e-8])
def test_every_degree_including_zero_meets_its_bound_without_forming_the_top_level(
        eps: float) -> None:
    """The no-grad passes never form the degree-``g`` rows (they fold ``x_i`` into the
    small side); from ``g = 0`` (one row, no top level) upward the output stays within the
    plan's bound, and equals the autograd path's (which forms every row) to rounding."""
    plan = plan_kernel(s=S, B=0.1, beta=0.5, eps=eps, certifier=certify_polynomial)
    Q, K, V = _inputs(B=0.1, n=90, m=40, seed=int(-math.log10(eps)))
    out, info = polynomial_attention_with_info(Q, K, V, plan, chunk=16)
    exact = exact_attention(Q, K, V, plan.beta)
    assert float((out - exact).abs().max()) <= info.bound + info.rounding_bound
    Qg = Q.clone().requires_grad_(True)
    formed, _ = polynomial_attention_with_info(Qg, K, V, plan, chunk=16)
    assert float((out - formed.detach()).abs().max()) <= 2 * info.rounding_bound
    if eps == 5e-2:
        assert plan.degree == 0                  # R = 0.02 <= ln(1 + ε): a constant


def test_float32_inputs_in_float64_arithmetic_carry_the_exact_output_rounding() -> None:
    """``arithmetic="float64"`` on float32 inputs: a float32 output whose error against
    exact attention of the (float32) inputs is within ``bound + rounding_bound``, where the
    rounding bound is float64's worst case plus the measured rounding of the output. With a
    tight plan and outputs near 1/2 the output's own rounding dominates the error, so the
    check fails if that term is left out."""
    plan = _plan(eps=1e-13)
    Q, K, V = _inputs(dtype=torch.float32, n=200, m=200)
    V = (V + 1) / 2                                              # outputs near 1/2
    out, info = polynomial_attention_with_info(Q, K, V, plan, arithmetic="float64")
    assert out.dtype == torch.float32 and info.arithmetic == "float64"
    truth = exact_attention(Q.double(), K.double(), V.double(), plan.beta)
    error = float((out.double() - truth).abs().max())
    without_output_rounding = info.bound + rounding_allowance(plan, 200, info.v_max,
                                                              torch.float64)
    assert without_output_rounding < error <= info.bound + info.rounding_bound
    assert info.rounding_bound <= 2.0**-24 * float(truth.abs().max()) * (1 + 1e-6) + \
        rounding_allowance(plan, 200, info.v_max, torch.float64)
    plain, plain_info = polynomial_attention_with_info(Q, K, V, plan)
    assert plain_info.arithmetic == "float32" and plain.dtype == torch.float32


def test_float64_arithmetic_counts_its_copies_against_memory_limit() -> None:
    """The float64 copies of float32 inputs are sized before anything is allocated: a
    limit that fits the float32 call at one column but not the copies is refused."""
    plan = _plan()
    n = m = 40
    Q, K, V = _inputs(dtype=torch.float32, n=n, m=m)
    copies = widened_bytes(S, m, n, D_V)
    with pytest.raises(ConstructionTooLarge, match="arithmetic='float64'"):
        polynomial_attention_with_info(Q, K, V, plan, arithmetic="float64",
                                       memory_limit=copies)
    fits = copies + kernel_peak_bytes(n, m, D_V, plan.rank, 1, 8)
    with pytest.raises(ConstructionTooLarge):
        polynomial_attention_with_info(Q, K, V, plan, arithmetic="float64",
                                       memory_limit=fits - 1)
    _, info = polynomial_attention_with_info(Q, K, V, plan, arithmetic="float64",
                                             memory_limit=fits)
    assert info.chunk == 1


def test_unknown_arithmetic_is_refused() -> None:
    Q, K, V = _inputs()
    with pytest.raises(InvalidArgument, match="arithmetic='float16'"):
        polynomial_attention_with_info(Q, K, V, _plan(), arithmetic="float16")
