"""Unit tests of the peers (core.kernels.peers) and the phase-transition data (K4, K6)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from core.attention import exact_attention
from core.errors import ConstructionTooLarge, HarnessError, InvalidArgument, NonFiniteError
from core.kernels import (
    crossing_ratio,
    favor_plus_attention,
    favor_plus_features,
    keops_attention,
    keops_available,
    log_rank_over_n,
    phase_transition_table,
    sdpa_attention,
    taylor_degree,
    tiled_exact_attention,
    tiled_exact_peak_bytes,
)
from core.kernels.peers import (
    SHIFT_MARGIN,
    SHIFTS,
    _directions,
    _tile_buffers,
    needs_max_shift,
    score_radius_bound,
)
from properties.tolerances import tolerance_for


def _inputs(n: int = 64, s: int = 4, B: float = 0.5) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(7)
    Q = (torch.rand(s, n, generator=gen, dtype=torch.float64) * 2 - 1) * B
    K = (torch.rand(s, n, generator=gen, dtype=torch.float64) * 2 - 1) * B
    V = torch.rand(3, n, generator=gen, dtype=torch.float64) * 2 - 1
    return Q, K, V


def test_sdpa_peer_equals_reference_in_chunks() -> None:
    Q, K, V = _inputs()
    ref = exact_attention(Q, K, V, 0.3)
    for chunk in (1, 5, 64):
        got = sdpa_attention(Q, K, V, 0.3, query_chunk=chunk)
        assert float((got - ref).abs().max()) <= tolerance_for(torch.float64).bound(1.0)
    assert torch.allclose(sdpa_attention(Q, K, V, 0.3, last=4), ref[:, -4:])


def test_favor_plus_is_unbiased_within_its_variance() -> None:
    """``E[φ(x)·φ(y)] = e^{xᵀy}`` with relative variance ``e^{‖x+y‖²} − 1`` per feature
    (i.i.d. directions): the estimate must lie within 6 standard deviations."""
    x = torch.tensor([[0.3], [-0.2], [0.1]], dtype=torch.float64)
    y = torch.tensor([[0.25], [0.1], [-0.3]], dtype=torch.float64)
    M = 200_000
    omega = _directions(M, 3, seed=0, orthogonal=False)
    estimate = float((favor_plus_features(x, omega) * favor_plus_features(y, omega)).sum())
    truth = math.exp(float(x.T @ y))
    sigma = math.sqrt((math.exp(float(((x + y) ** 2).sum())) - 1) / M)
    assert abs(estimate / truth - 1) <= 6 * sigma


def test_orthogonal_directions_are_orthogonal_within_blocks() -> None:
    omega = _directions(8, 4, seed=1, orthogonal=True)
    block = omega[:4] / omega[:4].norm(dim=1, keepdim=True)
    assert torch.allclose(block @ block.T, torch.eye(4, dtype=torch.float64), atol=1e-12)


def test_performer_is_a_rough_estimate_of_attention() -> None:
    Q, K, V = _inputs(n=256)
    ref = exact_attention(Q, K, V, 0.25)
    err = float((favor_plus_attention(Q, K, V, 0.25, num_features=4096) - ref).abs().max())
    assert 0 < err < float(V.abs().max())             # informative but far from exact


def test_phase_transition_crosses_n_for_every_n() -> None:
    ratios = [float(c) for c in np.linspace(0.05, 1.5, 30)]
    rows = phase_transition_table(range(10, 17), ratios, s=8)
    for k in range(10, 17):
        c = crossing_ratio(rows, float(k))
        assert c is not None and 0.05 < c < 1.5
        ranks = [r.log_rank_over_n for r in rows if r.log2_n == k]
        assert ranks == sorted(ranks)


@pytest.mark.parametrize(("radius", "eps"), [(0.25, 1e-6), (1.0, 1e-9), (7.0, 1e-5)])
def test_log_space_degree_matches_direct_formula(radius: float, eps: float) -> None:
    """The log-space search against Lagrange's bound written out with exact factorials."""
    g = 0
    while math.exp(radius) * radius ** (g + 1) / math.factorial(g + 1) > eps:
        g += 1
    assert taylor_degree(radius, math.log(1 / eps)) == g


def test_rank_ratio_shrinks_along_sub_threshold_norms() -> None:
    logs = [log_rank_over_n(float(k), (k * math.log(2)) ** 0.25, 8)[2]
            for k in (16, 64, 256, 1024, 4096)]
    assert logs == sorted(logs, reverse=True) and logs[-1] < 0


def test_sdpa_refuses_a_score_block_that_fits_at_no_chunk_by_name() -> None:
    """Even one query column's score block over ``memory_limit`` is refused before any
    allocation, naming the block (10^9 keys as a broadcast view: 7.5 GiB per column)."""
    from core.errors import ConstructionTooLarge

    K = torch.zeros(2, 1, dtype=torch.float64).expand(2, 10**9)
    V = torch.zeros(1, 1, dtype=torch.float64).expand(1, 10**9)
    Q = torch.zeros(2, 3, dtype=torch.float64)
    with pytest.raises(ConstructionTooLarge) as info:
        sdpa_attention(Q, K, V, 1.0, query_chunk=10**9)
    assert str(info.value).startswith("SDPA score block of shape (1, 1000000000) needs ")


def test_phase_rows_recompute_from_their_definitions() -> None:
    """Every field of a row from first principles: B = c·√(k ln 2), R = B², the least
    degree whose Taylor remainder bound reaches ε = 4δ/(4+δ²) at δ = 1/n, r = C(s+g, g) and
    ln(r/n); the default head dimension is 8; the crossing is the smallest c at that n."""
    rows = phase_transition_table([10, 12], [0.0, 0.4, 0.9])
    assert len(rows) == 6
    for row in rows:
        n = 2.0**row.log2_n
        B = row.c * math.sqrt(row.log2_n * math.log(2.0))
        assert row.B == pytest.approx(B, rel=1e-15) and row.radius == pytest.approx(B * B)
        eps = 4 * (1 / n) / (4 + (1 / n) ** 2)
        g = 0 if B == 0 else next(
            g for g in range(500)
            if math.exp(B * B) * (B * B) ** (g + 1) / math.factorial(g + 1) <= eps)
        assert row.degree == g and row.rank == math.comb(8 + g, g)
        assert row.log_rank_over_n == pytest.approx(math.log(math.comb(8 + g, g) / n),
                                                    abs=1e-9)
        assert row.rank_exceeds_n == (row.rank >= n)
    assert crossing_ratio(rows, 10.0) == min((r.c for r in rows
                                              if r.log2_n == 10 and r.rank >= 2**10),
                                             default=None)
    with pytest.raises(InvalidArgument, match=r"log2_n=11\.0: no row"):   # none at n = 2^11
        crossing_ratio(rows, 11.0)
    for empty in ({"log2_ns": ()}, {"ratios": ()}):
        args = {"log2_ns": (10,), "ratios": (0.5,)} | empty
        with pytest.raises(InvalidArgument, match="expected at least one value"):
            phase_transition_table(args["log2_ns"], args["ratios"])
    with pytest.raises(InvalidArgument) as info:
        phase_transition_table([10], [-0.1])
    assert str(info.value).startswith("ratio=-0.1")


def test_degree_search_edges_and_huge_ranks() -> None:
    """R = 0 needs degree 0; tiny R, degree 0 or 1 exactly as the remainder says; ranks too
    large for an integer comb are reported as -1 with the log still exact."""
    assert taylor_degree(0.0, 5.0) == 0
    assert taylor_degree(1e-8, 5.0) == 0            # e^R·R ≈ 1e-8 <= e^-5
    assert taylor_degree(0.1, 1.0) == 0             # e^0.1·0.1 = 0.11 <= e^-1 = 0.37
    assert taylor_degree(0.5, 1.0) == 1             # 0.82 > 0.37, then e^.5·.25/2 = .21
    g, rank, lr = log_rank_over_n(40.0, 60.0, 1000)     # degree in the hundreds, s = 1000
    assert rank == -1 and lr > 600
    assert lr == pytest.approx(math.lgamma(1000 + g + 1) - math.lgamma(g + 1)
                               - math.lgamma(1001) - 40 * math.log(2.0), rel=1e-12)


ATTENTIONS = {
    "exact": lambda Q, K, V: exact_attention(Q, K, V, 0.5),
    "sdpa": lambda Q, K, V: sdpa_attention(Q, K, V, 0.5),
    "favor": lambda Q, K, V: favor_plus_attention(Q, K, V, 0.5, num_features=4),
    "tiled": lambda Q, K, V: tiled_exact_attention(Q, K, V, 0.5),
    "keops": lambda Q, K, V: keops_attention(Q, K, V, 0.5),     # validates before importing
}


@pytest.mark.parametrize("which", sorted(ATTENTIONS))
@pytest.mark.parametrize(("case", "named"), [
    ("Q list", "Q="), ("K rows", "K="), ("K dtype", "K="), ("V cols", "V="),
    ("V dtype", "V="), ("V list", "V="),
])
def test_every_attention_names_the_bad_operand(which: str, case: str, named: str) -> None:
    """The reference and both peers validate Q, K, V the same way, naming the operand."""
    g = torch.Generator().manual_seed(0)
    Q, K, V = (torch.rand(2, 5, dtype=torch.float64, generator=g) for _ in range(3))
    bad = {"Q list": (Q.tolist(), K, V), "K rows": (Q, K[:1], V),
           "K dtype": (Q, K.float(), V), "V cols": (Q, K, V[:, :4]),
           "V dtype": (Q, K, V.float()), "V list": (Q, K, V.tolist())}[case]
    with pytest.raises(InvalidArgument) as info:
        ATTENTIONS[which](*bad)
    assert str(info.value).startswith(named), str(info.value)


@pytest.mark.parametrize(("orthogonal", "chunk", "last"), [(True, 2048, None), (False, 3, 4)])
def test_favor_plus_attention_is_its_estimator_written_densely(orthogonal: bool, chunk: int,
                                                              last: int | None) -> None:
    """The chunked Performer equals the dense estimator ``V φ(√β K)ᵀ φ(√β Q)``, normalised
    by ``1ᵀ φ(√β K)ᵀ φ(√β Q)``, with the same directions (``seed``, ``orthogonal``), and
    ``φ(x) = exp(Ωx − ‖x‖²/2)/√M`` column by column."""
    g = torch.Generator().manual_seed(2)
    Q, K, V = (torch.rand(3, 9, dtype=torch.float64, generator=g) - 0.5 for _ in range(3))
    beta, M = 0.3, 7
    omega = _directions(M, 3, seed=5, orthogonal=orthogonal)
    x = math.sqrt(beta) * K[:, 2]
    phi = torch.exp(omega @ x - 0.5 * float(x @ x)) / math.sqrt(M)
    assert torch.allclose(favor_plus_features(math.sqrt(beta) * K, omega)[:, 2], phi,
                          rtol=1e-14, atol=0)
    fq = favor_plus_features(math.sqrt(beta) * Q, omega)
    fk = favor_plus_features(math.sqrt(beta) * K, omega)
    weights = fk.T @ fq                                              # (n, m)
    dense = (V @ weights) / weights.sum(dim=0, keepdim=True)
    got = favor_plus_attention(Q, K, V, beta, num_features=M, seed=5, orthogonal=orthogonal,
                               chunk=chunk, last=last)
    want = dense if last is None else dense[:, -last:]
    assert got.shape == want.shape and torch.allclose(got, want, rtol=1e-12, atol=1e-14)
    default = favor_plus_attention(Q, K, V, beta, num_features=M)       # seed 0, orthogonal
    omega0 = _directions(M, 3, seed=0, orthogonal=True)
    w0 = favor_plus_features(math.sqrt(beta) * K, omega0).T @ favor_plus_features(
        math.sqrt(beta) * Q, omega0)
    assert torch.allclose(default, (V @ w0) / w0.sum(dim=0, keepdim=True), rtol=1e-12)


def test_sdpa_with_exactly_two_query_blocks() -> None:
    g = torch.Generator().manual_seed(4)
    Q, K, V = (torch.rand(2, 6, dtype=torch.float64, generator=g) for _ in range(3))
    got = sdpa_attention(Q, K, V, 0.7, query_chunk=3)
    assert got.shape == (2, 6)
    assert torch.allclose(got, exact_attention(Q, K, V, 0.7), rtol=0, atol=1e-14)


@pytest.mark.parametrize("orthogonal", [True, False], ids=["orthogonal", "iid"])
def test_direction_norms_are_chi_distributed(orthogonal: bool) -> None:
    """Each direction ``ω_i`` has the norm of an ``N(0, I_s)`` vector drawn in float64
    (orthogonal blocks rescaled by chi-distributed norms, Performer's default):
    ``E‖ω‖² = s`` with variance ``2s`` per row, so the mean over ``M`` rows lies within 6
    standard deviations."""
    s, M = 4, 4000
    omega = _directions(M, s, seed=3, orthogonal=orthogonal)
    assert omega.shape == (M, s) and omega.dtype == torch.float64
    sq = (omega**2).sum(dim=1)
    assert abs(float(sq.mean()) - s) <= 6 * math.sqrt(2 * s / M)
    # and the rows do not share one norm: the sample variance of ‖ω‖² is 2s, within 6
    # standard errors (relative sqrt((κ − 1)/M), kurtosis κ = 3 + 12/s of a chi-square)
    assert float(sq.var()) == pytest.approx(2 * s, rel=6 * math.sqrt((2 + 12 / s) / M))
    # drawn in float64: the norms are not float32 numbers (a float64 draw lands within
    # 8 float64 ulps of a float32 number with probability about 2^-26 per row)
    norms = omega.norm(dim=1)
    near32 = (norms - norms.float().double()).abs() <= 8 * 2.0**-52 * norms
    assert int(near32.sum()) <= M // 100


def test_performer_keeps_float32_whatever_the_default_dtype() -> None:
    """float32 in, float32 out, also when torch's default dtype is float64 (directions are
    drawn in float64 and cast to the inputs' dtype); within the float32 dtype table of the
    float64 estimate on the same (float32-exact) inputs."""
    Q, K, V = (t.float() for t in _inputs(n=32))
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        out = favor_plus_attention(Q, K, V, 0.5, num_features=64, chunk=10)
    finally:
        torch.set_default_dtype(before)
    assert out.dtype == torch.float32
    ref = favor_plus_attention(Q.double(), K.double(), V.double(), 0.5, num_features=64)
    assert float((out.double() - ref).abs().max()) <= tolerance_for(torch.float32).bound(
        float(ref.abs().max()))


def test_performer_feature_block_guard_names_the_block_and_uses_the_limit() -> None:
    """The ``M × chunk`` feature block is sized before allocation against ``memory_limit``:
    exactly enough bytes pass, one fewer is refused, naming the FAVOR+ block."""
    Q, K, V = _inputs(n=8)
    need = 16 * 8 * 8                                   # M = 16, min(chunk, n) = 8, float64
    favor_plus_attention(Q, K, V, 0.5, num_features=16, memory_limit=need)
    with pytest.raises(ConstructionTooLarge) as info:
        favor_plus_attention(Q, K, V, 0.5, num_features=16, memory_limit=need - 1)
    assert str(info.value).startswith("FAVOR+ feature block of shape (16, 8) needs ")
    assert (info.value.required, info.value.limit) == (need, need - 1)


# --- tiled exact attention ---------------------------------------------------------------

def _tiled_inputs(n: int, m: int, dtype: torch.dtype, *, s: int = 4, d_v: int = 3,
                  seed: int = 11) -> tuple[torch.Tensor, ...]:
    """Q ``(s, m)``, K ``(s, n)``, V ``(d_v, n)`` uniform in ``[−1, 1)``, rounded to ``dtype``
    (so the float64 reference sees exactly the same numbers)."""
    gen = torch.Generator().manual_seed(seed)
    return tuple((torch.rand(r, c, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)
                 for r, c in ((s, m), (s, n), (d_v, n)))


def _max_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got.double() - want).abs().max())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shift", SHIFTS)
def test_tiled_equals_reference_for_every_tiling(dtype: torch.dtype, shift: str) -> None:
    """Every tiling (1, odd sizes, exactly n or m, larger than both) gives the float64
    reference on the same inputs within the dtype's tolerance of the reference's scale."""
    n, m, beta = 23, 17, 0.6
    Q, K, V = _tiled_inputs(n, m, dtype)
    ref = exact_attention(Q.double(), K.double(), V.double(), beta)
    tol = tolerance_for(dtype).bound(float(ref.abs().max()))
    for tq in (1, 2, 5, 17, 40):
        for tk in (1, 3, 7, 23, 100):
            got = tiled_exact_attention(Q, K, V, beta, query_tile=tq, key_tile=tk, shift=shift)
            assert got.dtype == dtype and got.shape == (3, m)
            assert _max_error(got, ref) <= tol, (tq, tk)


@pytest.mark.parametrize("shift", SHIFTS)
@pytest.mark.parametrize("last", [1, 5, 17])
def test_tiled_last_reads_the_last_query_columns(shift: str, last: int) -> None:
    Q, K, V = _tiled_inputs(29, 17, torch.float64)
    ref = exact_attention(Q, K, V, 0.4)[:, -last:]
    got = tiled_exact_attention(Q, K, V, 0.4, last=last, query_tile=2, key_tile=6, shift=shift)
    assert got.shape == (3, last)
    assert _max_error(got, ref) <= tolerance_for(torch.float64).bound(float(ref.abs().max()))


def _large_score_inputs(offset: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Scores ``β kᵀq = offset·(1 + 0.0025·Σ_{i>0} r_i r'_i)``: within ``offset ± 0.75%``
    of ``offset``, so the softmax is spread over many keys (not one-hot)."""
    Q, K, V = _tiled_inputs(40, 9, torch.float64, seed=5)
    Q, K = Q.clone(), K.clone()
    Q[0], K[0] = 1.0, 1.0
    Q[1:] *= 0.05
    K[1:] *= 0.05
    return Q, K, V, offset


def test_max_shift_survives_scores_where_no_shift_overflows() -> None:
    """Scores around 800 (e^800 overflows float64): "max" is finite and equals the
    reference, "auto" detects it and picks "max", a forced "none" is refused by name."""
    Q, K, V, beta = _large_score_inputs(800.0)
    ref = exact_attention(Q, K, V, beta)
    tol = tolerance_for(torch.float64).bound(float(ref.abs().max()))
    assert needs_max_shift(score_radius_bound(Q, K, beta), 40, 1.0, torch.float64)
    for tq, tk in ((1, 1), (4, 7), (9, 40)):
        got = tiled_exact_attention(Q, K, V, beta, query_tile=tq, key_tile=tk, shift="max")
        assert bool(torch.isfinite(got).all()) and _max_error(got, ref) <= tol
        auto = tiled_exact_attention(Q, K, V, beta, query_tile=tq, key_tile=tk)
        assert torch.equal(auto, got)
    with pytest.raises(NonFiniteError) as info:
        tiled_exact_attention(Q, K, V, beta, key_tile=7, shift="none")
    assert str(info.value).startswith("tiled attention output produced by step \"shift='none'")


def test_auto_skips_the_shift_where_it_is_safe_and_loses_nothing() -> None:
    """Scores around 300 (e^300 is finite, e^-300 normal): "auto" applies no shift, and the
    unshifted result is as accurate as the shifted one (both within the float64 tolerance
    of the reference, which subtracts the maximum)."""
    Q, K, V, beta = _large_score_inputs(300.0)
    assert not needs_max_shift(score_radius_bound(Q, K, beta), 40, 1.0, torch.float64)
    ref = exact_attention(Q, K, V, beta)
    tol = tolerance_for(torch.float64).bound(float(ref.abs().max()))
    none = tiled_exact_attention(Q, K, V, beta, query_tile=4, key_tile=7, shift="none")
    assert torch.equal(tiled_exact_attention(Q, K, V, beta, query_tile=4, key_tile=7), none)
    shifted = tiled_exact_attention(Q, K, V, beta, query_tile=4, key_tile=7, shift="max")
    assert _max_error(none, ref) <= tol and _max_error(shifted, ref) <= tol


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_shift_rule_is_the_documented_inequality(dtype: torch.dtype) -> None:
    """``needs_max_shift`` flips exactly at ``R + ln(n·max(1, ‖V‖_max)) + margin = ln max``
    (overflow side) and at ``R + margin = −ln tiny`` (underflow side)."""
    info = torch.finfo(dtype)
    ln_max, ln_tiny = math.log(info.max), -math.log(info.tiny)
    for n, v_max in ((1, 1.0), (2**20, 1.0), (2**10, 1e3), (7, 0.25)):
        overflow_edge = ln_max - math.log(n * max(1.0, v_max)) - SHIFT_MARGIN
        edge = min(overflow_edge, ln_tiny - SHIFT_MARGIN)
        below, above = edge * (1 - 1e-9), edge * (1 + 1e-9)
        assert not needs_max_shift(below, n, v_max, dtype)
        assert needs_max_shift(above, n, v_max, dtype)


def test_score_radius_bounds_every_score() -> None:
    """``R̄ >= max |β kᵀq|`` (Cauchy–Schwarz, rounded up) and within a few ulps of
    ``β·max‖q‖·max‖k‖``; the bound is attained by parallel columns."""
    Q, K, _ = _tiled_inputs(31, 13, torch.float32, s=6)
    beta = 0.7
    radius = score_radius_bound(Q, K, beta)
    assert float((beta * K.double().T @ Q.double()).abs().max()) <= radius
    exact = beta * float(Q.double().norm(dim=0).max()) * float(K.double().norm(dim=0).max())
    from core.kernels.fast_attention import instance_radius

    assert exact <= radius == (instance_radius(Q, K, beta)          # tight: tested there
                               * (1 + 2 * 10 * torch.finfo(torch.float32).eps))
    q = torch.tensor([[3.0], [4.0]], dtype=torch.float64)
    assert score_radius_bound(q, q, 2.0) >= 2.0 * 25.0


ONES = torch.ones(2, 5, dtype=torch.float64)


@pytest.mark.parametrize(("kwargs", "args", "named"), [
    ({"query_tile": 0}, (), "query_tile=0"),
    ({"key_tile": 0}, (), "key_tile=0"),
    ({"query_tile": 2.5}, (), "query_tile=2.5"),
    ({"shift": "softmax"}, (), "shift='softmax'"),
    ({"shift": None}, (), "shift=None"),
    ({"last": 0}, (), "last=0"),
    ({"last": 6}, (), "last=6"),
    ({"memory_limit": 0}, (), "memory_limit=0"),
    ({}, (ONES, ONES[:1], ONES), "K="),
    ({}, (ONES, ONES, ONES[:, :4]), "V="),
    ({}, (ONES, ONES.float(), ONES), "K="),
    ({}, (ONES.clone().index_fill_(1, torch.tensor([3]), math.nan), ONES, ONES), "Q contains"),
    ({}, (ONES, ONES, ONES.clone().index_fill_(1, torch.tensor([1]), math.inf)),
     "V contains"),
])
def test_tiled_refuses_bad_arguments_by_name(kwargs: dict, args: tuple, named: str) -> None:
    Q, K, V = args or (ONES, ONES, ONES)
    with pytest.raises(InvalidArgument) as info:
        tiled_exact_attention(Q, K, V, 0.5, **kwargs)
    assert str(info.value).startswith(named), str(info.value)


def test_tiled_refuses_an_oversized_score_buffer_before_allocating() -> None:
    """The ``t_k × t_q`` score buffer is sized against ``memory_limit`` (tiles clipped to
    ``n`` and ``m`` first): exactly enough bytes pass, one fewer is refused by name."""
    Q, K, V = _tiled_inputs(12, 5, torch.float64)
    need = 12 * 5 * 8
    tiled_exact_attention(Q, K, V, 0.5, query_tile=10**6, key_tile=10**6, memory_limit=need)
    with pytest.raises(ConstructionTooLarge) as info:
        tiled_exact_attention(Q, K, V, 0.5, query_tile=10**6, key_tile=10**6,
                              memory_limit=need - 1)
    assert str(info.value).startswith("tiled score buffer of shape (12, 5) needs ")


@pytest.mark.parametrize("shift", ["none", "max"])
def test_tiled_memory_model_is_what_the_call_allocates(shift: str) -> None:
    """With one thread (so the profiler sees every allocation), the buffers the call
    allocates (``aten::empty``) add up to :func:`tiled_exact_peak_bytes` (less the two
    running-maximum rows without the max shift) and nothing else it allocates is larger
    than a scalar; the per-worker part of the model is what each worker allocates."""
    from torch.profiler import ProfilerActivity, profile

    n, m, d_v, tq, tk = 300, 70, 3, 16, 64
    Q, K, V = _tiled_inputs(n, m, torch.float64, d_v=d_v)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            tiled_exact_attention(Q, K, V, 0.5, query_tile=tq, key_tile=tk, shift=shift)
    finally:
        torch.set_num_threads(before)
    allocs = [(e.name, e.self_cpu_memory_usage) for e in prof.events()
              if e.self_cpu_memory_usage > 0 and e.name != "[memory]"]
    model = tiled_exact_peak_bytes(n, m, d_v, tq, tk, 8)
    unused = 0 if shift == "max" else 2 * tq * 8
    assert sum(b for name, b in allocs if name == "aten::empty") == model - unused
    assert all(b <= 16 for name, b in allocs if name != "aten::empty"), allocs
    per_worker = sum(t.nbytes for t in _tile_buffers(d_v, tq, tk, True, Q))
    assert (tiled_exact_peak_bytes(n, m, d_v, tq, tk, 8, workers=3) - model
            == 2 * per_worker)
    assert tiled_exact_peak_bytes(n, m, d_v, 10**6, 10**6, 8) == tiled_exact_peak_bytes(
        n, m, d_v, m, n, 8)


def test_tiled_gives_the_same_numbers_on_one_thread_and_on_several() -> None:
    """Query tiles are independent: the worker threads change who computes a tile, not
    what is computed; torch's thread count is restored afterwards."""
    Q, K, V = _tiled_inputs(50, 41, torch.float64)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = tiled_exact_attention(Q, K, V, 0.5, query_tile=4, key_tile=9)
    finally:
        torch.set_num_threads(before)
    torch.set_num_threads(2)
    try:
        two = tiled_exact_attention(Q, K, V, 0.5, query_tile=4, key_tile=9)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)


# --- KeOps -------------------------------------------------------------------------------

def test_keops_attention_equals_reference() -> None:
    pytest.importorskip("pykeops")
    assert keops_available()
    Q, K, V = _tiled_inputs(37, 11, torch.float64)
    ref = exact_attention(Q, K, V, 0.7)
    tol = tolerance_for(torch.float64).bound(float(ref.abs().max()))
    got = keops_attention(Q, K, V, 0.7)
    assert got.shape == (3, 11) and got.dtype == torch.float64
    assert _max_error(got, ref) <= tol
    assert _max_error(keops_attention(Q, K, V, 0.7, last=4), ref[:, -4:]) <= tol


def test_keops_shift_survives_large_scores() -> None:
    """KeOps's softmax reduction subtracts the running maximum: scores around 800."""
    pytest.importorskip("pykeops")
    Q, K, V, beta = _large_score_inputs(800.0)          # s = 4, d_v = 3 as above: no new build
    ref = exact_attention(Q, K, V, beta)
    got = keops_attention(Q, K, V, beta)
    assert _max_error(got, ref) <= tolerance_for(torch.float64).bound(float(ref.abs().max()))


def test_keops_missing_is_a_harness_error_naming_the_extra(monkeypatch) -> None:
    """Without pykeops (its import blocked) the availability check says so and the
    function raises HarnessError naming the install command; arguments are checked first."""
    monkeypatch.setitem(sys.modules, "pykeops.torch", None)
    assert not keops_available()
    Q, K, V = _tiled_inputs(5, 3, torch.float64)
    with pytest.raises(HarnessError) as info:
        keops_attention(Q, K, V, 0.5)
    assert "pip install -e '.[keops]'" in str(info.value)
    with pytest.raises(InvalidArgument, match=r"^beta=0"):
        keops_attention(Q, K, V, 0)


def test_sdpa_lowers_its_query_chunk_to_fit_the_memory_limit() -> None:
    """A ``chunk × n`` score block over ``memory_limit`` is not refused but cut: room for
    7 query columns gives the reference's numbers; room for none is refused with sizes."""
    gen = torch.Generator().manual_seed(3)
    Q = torch.rand(4, 50, generator=gen, dtype=torch.float64)
    K = torch.rand(4, 300, generator=gen, dtype=torch.float64)
    V = torch.rand(3, 300, generator=gen, dtype=torch.float64)
    ref = exact_attention(Q, K, V, 0.5)
    got = sdpa_attention(Q, K, V, 0.5, memory_limit=300 * 8 * 7)
    assert float((got - ref).abs().max()) <= tolerance_for(torch.float64).bound(1.0)
    with pytest.raises(ConstructionTooLarge, match="SDPA score block of shape"):
        sdpa_attention(Q, K, V, 0.5, memory_limit=100)
