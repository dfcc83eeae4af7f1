"""Polynomial-method attention in ``O(n·r·(s + d_v))`` time (docs/theory.md §3, K3/K5).

Paper label ``thm:inference_linear`` (Alman & Song 2023's algorithm). Tokens are columns:
``Q`` ``(s, m)``, ``K`` ``(s, n)``, ``V`` ``(d_v, n)``. With the plan's certified polynomial
``p`` and the monomial features of :mod:`core.kernels.features`,

    Â = U2ᵀ U1 = p(β KᵀQ)          (n × m, never formed)
    S = [V; 1ᵀ] · (U2 ⊙ w)ᵀ        (d_v+1) × r, one pass over key chunks
    [num; den] = S · M(Q)          (d_v+1) × m, one pass over query chunks
    Att_fast = num / den           (column-wise)

where ``M`` are the monomials and ``w`` the query weights ``c_{|α|} β^{|α|} (|α| choose α)``
(folded into ``S``). The top level of ``M`` is never formed: the degree-``g`` monomials
ending in ``x_i`` are level ``g−1``'s first rows times ``x_i``, so ``x_i`` multiplies the
small side instead (``[V; 1ᵀ] ⊙ k_i`` in the key pass, the ``(d_v+1) × c`` product with
``q_i`` in the query pass; :meth:`~core.kernels.features.MonomialFeatures.top_groups`),
and a block forms ``C(s+g−1, g−1)`` rows instead of ``C(s+g, g)`` (165 of 495 at
``s = 8, g = 4``). ``backend="auto"`` runs these passes natively on a CPU
(:mod:`core.kernels.native`: the same products, the work between them as C++ loops, one
OpenMP region per pass); what follows describes the torch backend. With ``threads > 1``
the key chunks and the query chunks are cut into
contiguous parts, one per Python thread (:mod:`core.kernels.threads`, torch at one
intra-op thread each); each part accumulates its own ``S`` and the parts' ``S`` are summed
in a fixed order, so a run is deterministic. The default is one Python thread with torch's
own intra-op threads, which was faster on an idle 2-core machine (0.058 s against 0.075 s
at the benchmark headline); several threads avoid OpenMP's per-op barriers on a loaded
one. Every allocation is counted before the first one is
made (:func:`kernel_peak_bytes`: the ``(d_v+2)·n`` copy ``[V; 1ᵀ]``, ``S`` per thread and
the combined one, per thread a feature block and two work blocks, the output); each thread
allocates its blocks once and refills them for every chunk of both passes, with the views
of every product fixed once (:class:`_Workspace`, :class:`~core.kernels.features.MonomialBlock`);
the chunk — by default the largest power of two whose feature block stays within
:data:`FEATURE_BLOCK_BYTES`, at most :data:`DEFAULT_CHUNK` — is lowered until
the total fits ``memory_limit``, and a request that cannot fit at one column is refused with
the computed size. With autograd recording the kernel runs in one thread and the saved
feature blocks total ``O((n + m)·r)`` on top.

Guarantee (exact arithmetic): ``‖Att_fast − Att‖_max <= 2ε/(1+√(1−ε²))·‖V‖_max`` with the
certified ``ε`` of the plan. With ``radius="instance"`` the polynomial is certified on the
inputs' own score radius ``β·max_j‖q_j‖₂·max_k‖k_k‖₂`` (Cauchy–Schwarz, rounded up:
:func:`instance_radius`; never above the plan's ``β·s·B²``), which can allow a lower degree
(:meth:`~core.kernels.plan.KernelPlan.at_radius`, cached per radius); the guarantee is the
same with that plan's certified ``ε``. Rounding adds about ``u·e^{2R}`` relative (docs/theory.md §6,
cancellation), which is why ``R`` should stay small in float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import torch

from ..attention import exact_attention
from ..errors import ConstructionTooLarge, InvalidArgument, NonFiniteError
from ..validation import (
    MEMORY_LIMIT_BYTES,
    check_finite_tensor,
    check_fits_in_memory,
    check_int,
    check_matrix,
)
from . import native
from .features import MonomialBlock, MonomialFeatures
from .plan import KernelPlan
from .threads import run_jobs, split_range

__all__ = [
    "ARITHMETIC_MODES",
    "BACKENDS",
    "DEFAULT_CHUNK",
    "FEATURE_BLOCK_BYTES",
    "OUT_OF_REGIME",
    "RADIUS_MODES",
    "KernelInfo",
    "check_rank_fits",
    "default_chunk",
    "flop_model",
    "formed_rows",
    "instance_radius",
    "kernel_peak_bytes",
    "measured_norm",
    "native_chunk",
    "operation_model",
    "polynomial_attention",
    "polynomial_attention_with_info",
    "rerun_native_passes",
    "rounding_allowance",
    "widened_bytes",
]

PAPER_REF = "thm:inference_linear"

#: Most token columns per feature block (lowered to fit memory_limit).
DEFAULT_CHUNK = 16384

#: Bytes one feature block may take when the chunk is chosen for its rows: a block that
#: stays in cache is multiplied without a trip to main memory. Measured on a 2-core
#: machine with a 260 MiB L3 (idle, 2 threads): rows 3003 (rank 6435) ran best at chunk
#: 1024 (a 24.6 MB block) and 2.3× slower at 2048 (49 MB); rows 495 at 2048 (8 MB).
FEATURE_BLOCK_BYTES = 2**25

#: Fewest columns per block when the chunk is chosen for the rank (per-op overhead).
MIN_RANK_CHUNK = 64

#: Bytes one feature block may take on the native backend, whose loops write a block
#: that the next GEMM reads at once: about a core's L2 (2 MiB here) or a little above.
#: Measured at the benchmark headline (rows 165, 2 threads in one OpenMP region per pass):
#: chunk 2048 (a 2.7 MB block) ran in 0.0224 s, 1024 in 0.0228 s; smaller chunks cost more
#: per-GEMM overhead (one thread between 2-thread GEMMs: 256 was 1.4× slower than 2048).
NATIVE_BLOCK_BYTES = 2**22

#: Which implementation runs the two passes: ``"native"`` (:mod:`core.kernels.native`,
#: CPU, no autograd), ``"torch"`` (one torch op per step; any device, autograd), or
#: ``"auto"``: native where it applies and built, torch otherwise.
BACKENDS: tuple[str, ...] = ("auto", "native", "torch")

#: What to do when the measured ``B`` exceeds the plan's: refuse, or use exact attention.
OUT_OF_REGIME: tuple[str, ...] = ("raise", "exact")

#: The arithmetic of a call: the inputs' dtype, or float64 for float32 inputs (converted
#: exactly, output rounded once; :func:`polynomial_attention_with_info`).
ARITHMETIC_MODES: tuple[str, ...] = ("input", "float64")

#: Which score radius the polynomial is certified on: the plan's ``β·s·B²``, or the
#: inputs' Cauchy–Schwarz radius (:func:`instance_radius`) when that is smaller.
RADIUS_MODES: tuple[str, ...] = ("plan", "instance")

#: Mantissa bits an instance radius keeps when rounded up (plans are cached per radius:
#: within 2^-5 ≈ 3% above the radius, few distinct plans).
_RADIUS_GRID_BITS = 5


@dataclass(frozen=True)
class KernelInfo:
    """What a call did, returned beside the output.

    Attributes:
        method_used: ``"polynomial"`` or ``"exact"`` (fallback outside the regime).
        reason: why the fallback happened, else ``None``.
        measured_B: ``max(‖Q‖_max, ‖K‖_max)`` over the queries used and all keys.
        plan_B: the ``B`` the plan was certified for.
        radius: the score radius ``R`` the polynomial used is certified on: the plan's
            ``β·s·B²``, or the instance radius (``radius_mode="instance"``).
        degree, rank: ``g`` and ``r = C(s+g, g)`` of the polynomial used.
        certified_eps: the certified relative error of ``p`` on ``[−R, R]``.
        v_max: ``‖V‖_max``.
        bound: ``2ε/(1+√(1−ε²))·‖V‖_max`` (exact arithmetic; ``0`` after an exact fallback).
        rounding_bound: rounding error bound of this call: :func:`rounding_allowance` in
            the arithmetic's dtype, plus, for float32 inputs computed in float64, the exact
            error of rounding the output to float32; ``bound + rounding_bound`` bounds the
            total.
        chunk: token columns per feature block.
        peak_feature_bytes: the kernel's own buffers (``S`` per thread and combined, a
            feature block and a query block per thread): :func:`kernel_peak_bytes` without
            the terms in ``n`` and ``m``.
        threads: CPU threads the chunks were split over.
        radius_mode: ``"plan"`` or ``"instance"``.
        plan_radius, plan_degree: the given plan's ``β·s·B²`` and degree.
        arithmetic: the dtype the kernel computed in (``"float32"`` or ``"float64"``).
        backend: ``"native"`` or ``"torch"``, the implementation that ran (``"exact"``
            after a fallback).
    """

    method_used: str
    reason: str | None
    measured_B: float
    plan_B: float
    radius: float
    degree: int
    rank: int
    certified_eps: float
    v_max: float
    bound: float
    rounding_bound: float
    chunk: int
    peak_feature_bytes: int
    threads: int = 1
    radius_mode: str = "plan"
    plan_radius: float = math.nan
    plan_degree: int = -1
    arithmetic: str = "float64"
    backend: str = "torch"
    paper_ref: str = PAPER_REF


@lru_cache(maxsize=32)
def _features(s: int, g: int, memory_limit: int) -> MonomialFeatures:
    return MonomialFeatures.build(s, g, memory_limit=memory_limit)


def measured_norm(Q: torch.Tensor, K: torch.Tensor) -> float:
    """``B = max(‖Q‖_max, ‖K‖_max)`` as a Python float (reductions only: no ``|Q|`` copy)."""
    return max(_max_abs(Q), _max_abs(K))


def instance_radius(Q: torch.Tensor, K: torch.Tensor, beta: float) -> float:
    """A rigorous upper bound on every score ``|β qᵀk|`` of the columns of ``Q`` ``(s, m)``
    and ``K`` ``(s, n)``: ``β·max_j‖q_j‖₂·max_k‖k_k‖₂`` (Cauchy–Schwarz), rounded up.

    The squared norms are summed in float64 (exact conversion from float32): a sum of ``s``
    rounded squares is at most ``γ_s`` below the true one (Higham, any order), so dividing
    by ``1 − γ_s``, adding ``s·2^-1022`` per column against underflow and ``8u`` for the
    square root and products makes the result an upper bound. ``0.0`` for empty inputs.
    """
    if Q.numel() == 0 or K.numel() == 0:
        return 0.0
    s = Q.shape[0]
    u = 2.0 ** -53
    gamma = higham_gamma(s, u)
    slack = s * 2.0 ** -1022
    q2 = _max_square_norm(Q) + slack
    k2 = _max_square_norm(K) + slack
    return beta * math.sqrt(q2 * k2) / (1.0 - gamma) * (1.0 + 8 * u)


def _max_square_norm(X: torch.Tensor) -> float:
    """``max_j Σ_i X_ij²`` of the columns, summed in float64 (one ``vecdot``, any order)."""
    X = X.detach().double()
    return float(torch.linalg.vecdot(X, X, dim=0).max())


def _round_up_radius(radius: float) -> float:
    """``radius`` rounded up to :data:`_RADIUS_GRID_BITS` mantissa bits (a cache grid)."""
    if radius <= 0.0 or not math.isfinite(radius):
        return radius
    mantissa, exponent = math.frexp(radius)          # radius = mantissa·2^exponent
    scale = 2 ** _RADIUS_GRID_BITS
    return math.ldexp(math.ceil(mantissa * scale) / scale, exponent)


def _max_abs(X: torch.Tensor) -> float:
    """``‖X‖_max = max(max X, −min X)`` without allocating ``|X|``; NaN propagates."""
    X = X.detach()
    if X.numel() == 0:
        return 0.0
    low, high = torch.aminmax(X)
    return float(torch.maximum(high, -low))


def _check_inputs(Q: object, K: object, V: object, plan: object
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, KernelPlan]:
    if not isinstance(plan, KernelPlan):
        raise InvalidArgument(f"plan={plan!r}: expected a KernelPlan (see plan_kernel)")
    Qm = check_matrix("Q", Q, rows=plan.s, finite=False)
    Km = check_matrix("K", K, rows=plan.s, dtype=Qm.dtype, finite=False)
    Vm = check_matrix("V", V, cols=Km.shape[1], dtype=Qm.dtype, finite=False)
    if Qm.device != Km.device or Qm.device != Vm.device:
        raise InvalidArgument(
            f"Q, K, V must be on one device, got {Qm.device}, {Km.device}, {Vm.device}")
    return Qm, Km, Vm, plan


def kernel_peak_bytes(n: int, m: int, d_v: int, rank: int, chunk: int, itemsize: int,
                      workers: int = 1) -> int:
    """Bytes the kernel allocates at its peak, beyond its inputs, for ``n`` keys, ``m``
    queries, values of height ``d_v``, rank ``r``, ``chunk`` columns per block and
    ``workers`` threads:

        (d_v + 2)·n                  [V; 1ᵀ] and the row of ones
        (workers + 2)·(d_v + 1)·r    S of each thread, their sum and the weighted S
        workers·2·r·chunk            a feature block per thread (on the functional,
                                     autograd path: one thread, two blocks)
        workers·2·(d_v + 1)·chunk    two work blocks per thread (values ⊙ x_i in the key
                                     pass; [num; den] and a product in the query pass)
        2·d_v·m                      the output and its blocks

    times ``itemsize``. Python integers: no overflow for any ``n``.
    """
    return itemsize * ((d_v + 2) * n + (workers + 2) * (d_v + 1) * rank
                       + workers * 2 * (rank + d_v + 1) * chunk + 2 * d_v * m)


def formed_rows(s: int, g: int, recording: bool) -> int:
    """Rows of a feature block the kernel forms: levels ``0 … g−1``, ``C(s+g−1, g−1)``
    (the top level is folded into the GEMMs), or all ``C(s+g, g)`` while autograd records."""
    if recording or g == 0:
        return math.comb(s + g, g)
    return math.comb(s + g - 1, g - 1)


def default_chunk(rows: int, itemsize: int, block_bytes: int = FEATURE_BLOCK_BYTES) -> int:
    """The chunk for feature blocks of ``rows`` rows: the largest power of two with
    ``rows·chunk·itemsize <= block_bytes``, clipped to ``[MIN_RANK_CHUNK, DEFAULT_CHUNK]``."""
    fitting = max(1, block_bytes // (rows * itemsize))
    return int(min(DEFAULT_CHUNK, max(MIN_RANK_CHUNK, 1 << (fitting.bit_length() - 1))))


def native_chunk(rows: int, itemsize: int) -> int:
    """The native backend's default chunk: :func:`default_chunk` at
    :data:`NATIVE_BLOCK_BYTES`."""
    return default_chunk(rows, itemsize, NATIVE_BLOCK_BYTES)


def _chunk_size(chunk: int, rank: int, d_v: int, n: int, m: int, itemsize: int,
                memory_limit: int, workers: int = 1) -> int:
    """Largest chunk ``<= chunk`` for which :func:`kernel_peak_bytes` fits ``memory_limit``.

    Raises:
        ConstructionTooLarge: even one column per block exceeds ``memory_limit`` (before
            anything is allocated), with the computed size.
    """
    fixed = kernel_peak_bytes(n, m, d_v, rank, 0, itemsize, workers)
    per_column = kernel_peak_bytes(0, 0, d_v, 0, 1, itemsize, workers) + \
        2 * workers * rank * itemsize
    fitting = (memory_limit - fixed) // per_column
    if fitting < 1:
        need = fixed + per_column
        raise ConstructionTooLarge(
            f"polynomial attention with n={n} keys, m={m} queries, d_v={d_v}, rank r={rank} "
            f"needs {need / 2**20:.1f} MiB at one column per block ([V; 1ᵀ] alone is "
            f"{(d_v + 2) * n * itemsize / 2**20:.1f} MiB), over memory_limit="
            f"{memory_limit / 2**20:.1f} MiB", required=need, limit=memory_limit)
    return int(min(chunk, fitting))


def polynomial_attention_with_info(
        Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, plan: KernelPlan, *,
        last: int | None = None, chunk: int | None = None,
        memory_limit: int = MEMORY_LIMIT_BYTES,
        out_of_regime: str = "raise", radius: str = "plan",
        threads: int | None = None, arithmetic: str = "input", backend: str = "auto"
        ) -> tuple[torch.Tensor, KernelInfo]:
    """Fast attention ``≈ V softmax_col(β KᵀQ)`` with its guaranteed error bound.

    Args:
        Q: queries ``(s, m)``; K: keys ``(s, n)``; V: values ``(d_v, n)``; one dtype
            (float32 or float64) and one device (CPU or CUDA).
        plan: a certified :class:`~core.kernels.plan.KernelPlan` (``β`` comes from it).
        last: compute only the last ``last`` query columns (prompt-tuning readout).
        chunk: token columns per feature block (default :func:`default_chunk` for the
            rank); lowered so everything fits ``memory_limit``.
        memory_limit: byte ceiling for everything the kernel allocates
            (:func:`kernel_peak_bytes`); the exact fallback honours it too.
        out_of_regime: ``"raise"`` refuses ``B`` above ``plan.B``; ``"exact"`` falls back
            to :func:`core.attention.exact_attention` and says so in the info.
        radius: ``"plan"`` uses the plan's polynomial; ``"instance"`` certifies the plan's
            family on :func:`instance_radius` of these inputs (rounded up to a 5-bit grid,
            never above the plan's radius), which may lower the degree.
        threads: parts the chunks are cut into, one thread each: on the native backend
            OpenMP threads of one parallel region per pass (default torch's intra-op thread
            count); on the torch backend Python threads (default 1, torch's intra-op
            threads parallelising each op). Always 1 with autograd recording or on a GPU.
        arithmetic: ``"input"`` computes in the inputs' dtype; ``"float64"`` computes
            float32 inputs in float64 (exact conversion; the float64 copies of ``Q``, ``K``,
            ``V`` are counted against ``memory_limit``) and rounds the output to float32
            once, so the rounding bound is float64's worst case plus that rounding,
            measured exactly (float32 cannot be certified otherwise: a worst-case bound
            on a float32 sum of ``N`` terms is ``N·u`` relative, docs/kernel.md).
        backend: one of :data:`BACKENDS`. ``"auto"`` (default) runs the native loops
            (:mod:`core.kernels.native`) on a CPU without autograd recording when they
            built, else torch ops; ``"native"`` refuses where it cannot run, naming why.
            Both compute the same products on the same blocks; the native default chunk
            is :func:`native_chunk` (L2-sized blocks).

    Returns:
        ``(output, info)``: output ``(d_v, m)`` or ``(d_v, last)``; see :class:`KernelInfo`.

    Raises:
        InvalidArgument: shapes, dtypes, devices, ``B`` outside the regime, bad options.
        NonFiniteError: NaN/inf in ``Q``, ``K`` or ``V``, or a non-positive normaliser.
        ConstructionTooLarge: the features would not fit in ``memory_limit`` (before
            anything is allocated).
    """
    Q, K, V, plan = _check_inputs(Q, K, V, plan)
    if chunk is not None:
        chunk = check_int("chunk", chunk, minimum=1)
    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
    memory_limit = check_int("memory_limit", memory_limit, minimum=1)
    if out_of_regime not in OUT_OF_REGIME:
        raise InvalidArgument(f"out_of_regime={out_of_regime!r}: expected one of "
                              f"{OUT_OF_REGIME}")
    if radius not in RADIUS_MODES:
        raise InvalidArgument(f"radius={radius!r}: expected one of {RADIUS_MODES}")
    if arithmetic not in ARITHMETIC_MODES:
        raise InvalidArgument(f"arithmetic={arithmetic!r}: expected one of "
                              f"{ARITHMETIC_MODES}")
    if backend not in BACKENDS:
        raise InvalidArgument(f"backend={backend!r}: expected one of {BACKENDS}")
    backend = _resolve_backend(backend, Q, K, V)
    wide = arithmetic == "float64" and Q.dtype != torch.float64
    m = Q.shape[1]
    if last is not None:
        last = check_int("last", last, minimum=1, maximum=m)
        Q = Q[:, m - last:]
    if out_of_regime == "raise":          # the only path with no exact fallback to size
        _layout(plan, Q, K, V, chunk, threads, memory_limit, wide, backend)
    measured = max(_finite_max_abs("Q", Q), _finite_max_abs("K", K))
    v_max = _finite_max_abs("V", V)
    given = plan
    if radius == "instance" and measured <= plan.B:
        plan = plan.at_radius(_round_up_radius(instance_radius(Q, K, plan.beta)))
    base: dict[str, Any] = dict(
        measured_B=measured, plan_B=plan.B, radius=plan.radius, degree=plan.degree,
        rank=plan.rank, certified_eps=plan.certified_eps, v_max=v_max, radius_mode=radius,
        plan_radius=given.radius, plan_degree=given.degree,
        arithmetic="float64" if wide else str(Q.dtype).removeprefix("torch."))
    if measured > plan.B:
        reason = (f"B={measured!r} measured from Q and K exceeds the B={plan.B!r} the plan "
                  f"was certified for (R = β·s·B² = {plan.radius!r})")
        if out_of_regime == "raise":
            raise InvalidArgument(reason + "; build a plan with a larger B or pass "
                                  "out_of_regime='exact'")
        out = exact_attention(Q, K, V, plan.beta, memory_limit=memory_limit)
        base["arithmetic"] = str(Q.dtype).removeprefix("torch.")
        return out, KernelInfo(method_used="exact", reason=reason, bound=0.0,
                               rounding_bound=0.0, chunk=0, peak_feature_bytes=0,
                               backend="exact", **base)
    rank, cols, workers = _layout(plan, Q, K, V, chunk, threads, memory_limit, wide, backend)
    work = torch.float64 if wide else Q.dtype
    itemsize = torch.finfo(work).bits // 8
    features = _features(plan.s, plan.degree, memory_limit)
    weights = torch.as_tensor(features.query_weights(plan.polynomial.coefficients, plan.beta),
                              dtype=work, device=Q.device)
    out = _polynomial_attention(Q.to(work), K.to(work), V.to(work), features, weights, cols,
                                workers, backend)
    rounding = rounding_allowance(plan, K.shape[1], v_max, work)
    if wide:                        # x − fl32(x) is exact in float64: an exact a-posteriori term
        wide_out, out = out, out.to(Q.dtype)
        rounding += _max_abs(out.detach().double() - wide_out.detach())
    info = KernelInfo(method_used="polynomial", reason=None, bound=plan.error_bound(v_max),
                      rounding_bound=rounding, chunk=cols,
                      peak_feature_bytes=kernel_peak_bytes(0, 0, V.shape[0], rank, cols,
                                                           itemsize, workers),
                      threads=workers, backend=backend, **base)
    return out, info


def _resolve_backend(backend: str, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> str:
    """``"native"`` or ``"torch"`` for this call (see ``backend`` of
    :func:`polynomial_attention_with_info`).

    Raises:
        InvalidArgument: ``backend="native"`` where it cannot run, saying why.
    """
    if backend == "torch":
        return backend
    if Q.device.type != "cpu":
        why = f"the inputs are on {Q.device}, the native backend is CPU-only"
    elif _recording(Q, K, V):
        why = "autograd is recording, which only the torch backend supports"
    elif not native.available():
        why = f"it did not build here ({native.unavailable_reason()})"
    else:
        return "native"
    if backend == "native":
        raise InvalidArgument(f"backend='native': {why}; use backend='auto' or 'torch'")
    return "torch"


def rerun_native_passes(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, plan: KernelPlan,
                        info: KernelInfo, mode: int) -> torch.Tensor:
    """Re-run the native passes of the call that returned ``info`` (same polynomial, chunk
    and threads, same buffers) in ``mode``: :data:`~core.kernels.native.PRODUCTS_ONLY`
    times the kernel's own GEMM passes, :data:`~core.kernels.native.LOOPS_ONLY` everything
    between them. Unchecked output (``(d_v, m)``); for benchmarks.

    Raises:
        InvalidArgument: ``info`` is not from a native call.
    """
    if info.backend != "native":
        raise InvalidArgument(f"info.backend={info.backend!r}: expected 'native'")
    used = plan if info.radius == plan.radius else plan.at_radius(info.radius)
    features = _features(used.s, used.degree, MEMORY_LIMIT_BYTES)
    weights = torch.as_tensor(features.query_weights(used.polynomial.coefficients, used.beta),
                              dtype=V.dtype)
    values = torch.cat([V, torch.ones(1, V.shape[1], dtype=V.dtype)])
    return native.native_attention(Q, K, values, features, weights, info.chunk, info.threads,
                                   mode)[0]


def _layout(plan: KernelPlan, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
            chunk: int | None, threads: int | None, memory_limit: int,
            wide: bool = False, backend: str = "torch") -> tuple[int, int, int]:
    """``(rank, chunk, threads)`` of one call: the chunk asked for (default: for the rows a
    block forms and the backend), the threads it allows, and the chunk lowered to fit
    ``memory_limit`` (less, with ``wide``, the float64 copies :func:`widened_bytes`).

    Raises:
        ConstructionTooLarge: the rank or one column per block does not fit (before any
            allocation).
    """
    itemsize = 8 if wide else Q.element_size()
    if wide:
        copies = widened_bytes(Q.shape[0], Q.shape[1], K.shape[1], V.shape[0])
        if copies >= memory_limit:
            raise ConstructionTooLarge(
                f"arithmetic='float64' needs {copies / 2**20:.1f} MiB for float64 copies of "
                f"Q, K, V and the output, over memory_limit={memory_limit / 2**20:.1f} MiB",
                required=copies, limit=memory_limit)
        memory_limit -= copies
    rank = check_rank_fits(plan, itemsize, memory_limit)
    rows = formed_rows(plan.s, plan.degree, _recording(Q, K, V))
    wanted = chunk or (native_chunk(rows, itemsize) if backend == "native"
                       else default_chunk(rows, itemsize))
    if threads is None and backend == "native":
        threads = torch.get_num_threads()      # one OpenMP region: a part per thread
    workers = _workers(threads, Q, K, wanted)
    wanted = min(wanted, max(K.shape[1], Q.shape[1], 1))   # no block wider than the tokens
    cols = _chunk_size(wanted, rank, V.shape[0], K.shape[1], Q.shape[1], itemsize,
                       memory_limit, workers)
    return rank, cols, workers


def widened_bytes(s: int, m: int, n: int, d_v: int) -> int:
    """Bytes of float64 arithmetic on float32 inputs beyond the kernel's own buffers: the
    copies of ``Q`` ``(s, m)``, ``K`` ``(s, n)``, ``V`` ``(d_v, n)`` (8 bytes each entry),
    the float32 output (4) and the two float64 temporaries of its rounding error (16)."""
    return 8 * (s * m + s * n + d_v * n) + 20 * d_v * m


def _finite_max_abs(name: str, X: torch.Tensor) -> float:
    """``‖X‖_max``, refusing NaN/inf with a :class:`NonFiniteError` naming ``name``."""
    value = _max_abs(X)
    if not math.isfinite(value):
        check_finite_tensor(name, X)
    return value


def _recording(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _workers(threads: int | None, Q: torch.Tensor, K: torch.Tensor, chunk: int) -> int:
    """Python threads for one call: 1 by default, while autograd records (one graph, one
    thread) or off the CPU; else ``threads``, at most one per chunk of the longer pass."""
    if threads is None or _recording(Q, K) or Q.device.type != "cpu":
        return 1
    return max(1, min(threads, -(-max(Q.shape[1], K.shape[1]) // chunk)))


def higham_gamma(count: int, u: float) -> float:
    """``γ_N = N u/(1 − N u)`` (Higham), ``inf`` once ``N u >= 1``."""
    return math.inf if count * u >= 1 else count * u / (1 - count * u)


def kernel_relative_rounding(plan: KernelPlan, n: int, dtype: torch.dtype) -> float:
    """``ρ = γ_N P̃(R) e^R`` with ``N = n + r + 2g + 6`` and ``P̃(R) = Σ_j |c_j| R^j``: the
    kernel's rounding in ``dtype`` as a relative error against the exact normaliser (see
    :func:`rounding_allowance`)."""
    u = torch.finfo(dtype).eps / 2
    R = plan.radius
    p_abs = sum(abs(c) * R**j for j, c in enumerate(plan.polynomial.coefficients))
    return higham_gamma(n + plan.rank + 2 * plan.degree + 6, u) * p_abs * math.exp(R)


def rounding_allowance(plan: KernelPlan, n: int, v_max: float, dtype: torch.dtype) -> float:
    """Worst-case max-norm rounding error of the kernel in ``dtype`` (Higham-style bound).

    Each numerator/denominator entry is a sum of ``n·r`` products of at most ``2g + 6``
    rounded factors, so its error is at most ``γ_N`` times the sum of absolute terms,
    ``N = n + r + 2g + 6``, ``γ_N = N u/(1 − N u)``. With ``|β kᵀq| <= R`` the absolute sum
    per key is at most ``P̃(R) = Σ_j |c_j| R^j`` while every exact weight is at least
    ``e^{−R}``; hence relative errors ``ρ`` (:func:`kernel_relative_rounding`) against the
    exact normaliser, and (as in the error lemma) an output error of at most
    ``2ρ/(1 − ε − ρ)·‖V‖_max``; ``inf`` where that is not finite and positive.
    """
    rho = kernel_relative_rounding(plan, n, dtype)
    denom = 1.0 - plan.certified_eps - rho
    return float("inf") if not denom > 0 else 2.0 * rho / denom * v_max


def check_rank_fits(plan: KernelPlan, itemsize: int, memory_limit: int) -> int:
    """``r`` if one feature column block of width 1 and ``S`` fit, else ConstructionTooLarge."""
    rank = plan.rank
    check_fits_in_memory(f"monomial features of rank r={rank} (s={plan.s}, g={plan.degree})",
                         (3, rank), itemsize, memory_limit)
    return rank


def polynomial_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                         plan: KernelPlan, **options: object) -> torch.Tensor:
    """The output of :func:`polynomial_attention_with_info` alone (same options)."""
    return polynomial_attention_with_info(Q, K, V, plan, **options)[0]  # type: ignore[arg-type]


def _polynomial_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                          features: MonomialFeatures, weights: torch.Tensor,
                          cols: int, workers: int, backend: str = "torch") -> torch.Tensor:
    """Unchecked two-pass computation; see the module docstring for the formulas."""
    n = K.shape[1]
    ones = torch.ones(1, n, dtype=V.dtype, device=V.device)
    values = torch.cat([V, ones])                                   # (d_v+1, n)
    if _recording(Q, K, V):
        return _recorded_attention(Q, K, values, features, weights, cols)
    if backend == "native":
        out = _native_attention(Q, K, values, features, weights, cols, workers)
    else:
        out = _torch_attention(Q, K, values, features, weights, cols, workers)
    if not math.isfinite(_max_abs(out)):
        raise NonFiniteError("the numerator (Vᵀ-weighted U2ᵀU1) overflowed: the output is "
                             "not finite; the polynomial's values must fit this dtype")
    return out


def _native_attention(Q: torch.Tensor, K: torch.Tensor, values: torch.Tensor,
                      features: MonomialFeatures, weights: torch.Tensor, cols: int,
                      workers: int) -> torch.Tensor:
    """The native backend's two passes, each query block's normaliser checked."""
    Q, K = (X if X.stride(1) == 1 else X.contiguous() for X in (Q, K))
    out, den_range = native.native_attention(Q, K, values, features, weights, cols, workers)
    low, high = den_range[:, 0], den_range[:, 1]
    bad = ~((low > 0) & torch.isfinite(high))
    if bool(bad.any()):
        b = int(bad.nonzero()[0, 0])
        _refuse_normaliser(float(low[b]), float(high[b]), b * cols)
    return out


def _torch_attention(Q: torch.Tensor, K: torch.Tensor, values: torch.Tensor,
                     features: MonomialFeatures, weights: torch.Tensor, cols: int,
                     workers: int) -> torch.Tensor:
    """The torch backend's two passes (:class:`_Workspace` per thread)."""
    n, m = K.shape[1], Q.shape[1]
    V = values[:-1]
    spaces = [_Workspace(features, cols, values.shape[0], V.dtype, V.device)
              for _ in range(workers)]

    def key_part(space: _Workspace, blocks: range) -> torch.Tensor:
        for b in blocks:
            j = b * cols
            space.add_keys(K[:, j:j + cols], values[:, j:j + cols])
        return space.S

    parts = run_jobs([partial(key_part, space, blocks) for space, blocks
                      in zip(spaces, split_range(-(-n // cols), workers), strict=False)])
    S_low, S_top = features.query_sides(parts, weights)
    out = torch.empty(V.shape[0], m, dtype=V.dtype, device=V.device)

    def query_part(space: _Workspace, blocks: range) -> None:
        for b in blocks:
            j = b * cols
            space.query(Q[:, j:j + cols], S_low, S_top, out[:, j:j + cols], j)

    run_jobs([partial(query_part, space, blocks) for space, blocks
              in zip(spaces, split_range(-(-m // cols), workers), strict=False)])
    return out


def _recorded_attention(Q: torch.Tensor, K: torch.Tensor, values: torch.Tensor,
                        features: MonomialFeatures, weights: torch.Tensor,
                        cols: int) -> torch.Tensor:
    """The autograd path: every level formed functionally, one thread."""
    n, m = K.shape[1], Q.shape[1]
    S = torch.zeros(values.shape[0], features.rank, dtype=values.dtype, device=values.device)
    for j in range(0, n, cols):
        S = S + values[:, j:j + cols] @ features.monomials(K[:, j:j + cols]).T
    S = S * weights
    return torch.cat([_normalised(S @ features.monomials(Q[:, j:j + cols]), j)
                      for j in range(0, m, cols)], dim=1)


class _Workspace:
    """One thread's buffers, reused by every block of both passes so that no block
    allocates: the monomial block of levels ``0 … g−1``
    (:class:`~core.kernels.features.MonomialBlock`), the thread's ``S`` and two
    ``(d_v+1, chunk)`` work blocks, with the views each block width uses fixed once.

    The top level is never formed (:meth:`~core.kernels.features.MonomialFeatures.top_groups`):
    the key pass adds ``(values ⊙ x_i) · M_{g−1}[:count_i]ᵀ`` to ``S``'s group ``i``, the
    query pass adds ``(S_i · M_{g−1}[:count_i](q)) ⊙ q_i`` to ``[num; den]``.
    """

    def __init__(self, features: MonomialFeatures, cols: int, rows: int,
                 dtype: torch.dtype, device: torch.device):
        self.features = features
        self.block = MonomialBlock(features, max(features.g - 1, 0), cols, dtype, device)
        self.S = torch.zeros(rows, features.rank, dtype=dtype, device=device)
        self.work = [torch.empty(rows, cols, dtype=dtype, device=device) for _ in range(2)]
        self._key_views: dict[int, tuple[Any, ...]] = {}
        self._query_views: dict[int, tuple[Any, ...]] = {}

    def _top_columns(self, width: int) -> list[tuple[int, torch.Tensor]]:
        """Per top group: ``(i, M_{g−1}[:count_i])`` on the block's first ``width`` columns."""
        g = self.features.g
        if not g:
            return []
        last = self.block.buffer[self.features.level_start(g - 1):, :width]
        return [(i, last[:count]) for i, _, count in self.features.top_groups()]

    def add_keys(self, X: torch.Tensor, values: torch.Tensor) -> None:
        """``S += values · M(X)ᵀ`` for one key block ``X`` ``(s, c)``, in place."""
        width = X.shape[1]
        views = self._key_views.get(width)
        if views is None:
            low = self.block.buffer[:, :width]
            tops = [(i, self.S[:, row:row + count], last.T) for (i, last), (_, row, count)
                    in zip(self._top_columns(width), self.features.top_groups(), strict=True)]
            views = self._key_views[width] = (low.T, self.S[:, :low.shape[0]], tops,
                                              self.work[0][:, :width])
        lowT, S_low, tops, scaled = views
        self.block.fill(X)
        S_low.addmm_(values, lowT)
        for i, S_i, lastT in tops:
            torch.mul(values, X[i], out=scaled)
            S_i.addmm_(scaled, lastT)

    def query(self, X: torch.Tensor, S_low: torch.Tensor, S_top: list[torch.Tensor],
              out: torch.Tensor, j: int) -> None:
        """``out = num / den`` ``(d_v, c)`` for the query block ``X`` ``(s, c)`` at column
        ``j``: ``[num; den] = S_low · M_{<g}(q) + Σ_i (S_i · M_{g−1}[:count_i](q)) ⊙ q_i``."""
        width = X.shape[1]
        views = self._query_views.get(width)
        if views is None:
            views = self._query_views[width] = (
                self.block.buffer[:, :width], self._top_columns(width),
                self.work[0][:, :width], self.work[1][:, :width])
        low, tops, num_den, product = views
        self.block.fill(X)
        torch.mm(S_low, low, out=num_den)
        for (i, last), S_i in zip(tops, S_top, strict=True):
            torch.mm(S_i, last, out=product)
            num_den.addcmul_(product, X[i])
        _check_normaliser(num_den[-1], j)
        torch.div(num_den[:-1], num_den[-1], out=out)


def _check_normaliser(den: torch.Tensor, j: int) -> None:
    """Refuse a query block's normaliser ``den`` ``(c,)`` that is not positive and finite."""
    low, high = torch.aminmax(den)
    if not (float(low) > 0 and math.isfinite(float(high))):
        _refuse_normaliser(float(low), float(high), j)


def _refuse_normaliser(low: float, high: float, j: int) -> None:
    """Raise for the query block at column ``j`` whose normaliser spans ``[low, high]``."""
    raise NonFiniteError(
        f"normaliser (1ᵀU2ᵀU1) produced by step 'query block {j}' is not positive "
        f"and finite (min {low!r}, max {high!r}); the polynomial's "
        "relative error must stay below 1 in this dtype")


def _normalised(num_den: torch.Tensor, j: int) -> torch.Tensor:
    """``num / den`` of a query block's ``[num; den]`` ``(d_v+1, c)`` (autograd path),
    refusing a normaliser that is not positive and finite."""
    _check_normaliser(num_den[-1].detach(), j)
    out = num_den[:-1] / num_den[-1]
    if not math.isfinite(_max_abs(out)):
        raise NonFiniteError(f"the numerator produced by step 'query block {j}' is not "
                             "finite; the polynomial's values must fit this dtype")
    return out


def flop_model(n: int, m: int, d_v: int, rank: int) -> int:
    """Multiply-adds ×2 of the two GEMMs: ``2·(d_v+1)·r·(n + m)`` (K5 cost model)."""
    return 2 * (d_v + 1) * rank * (n + m)


def operation_model(n: int, m: int, d_v: int, s: int, g: int, chunk: int) -> int:
    """Every floating-point operation of one no-grad, one-thread call (K5), for ``n`` keys,
    ``m`` queries, head dimension ``s``, degree ``g`` and ``chunk`` columns per block:

        2(d_v+1)·r·(n+m)                    the GEMMs (:func:`flop_model`), top groups incl.
        (r_< − 1 − s·[g >= 2])·(n+m)         monomials of levels 2 … g−1 (level 1 copied)
        s·(d_v+1)·n                         values ⊙ x_i of the key pass's top groups
        (d_v+1)·r·⌈n/chunk⌉                  accumulating S, one addition per entry per block
        (d_v+1)·r                           weighting S
        2s·(d_v+1)·m                        the query pass's top groups, ⊙ q_i and added
        d_v·m                               normalising

    with ``r = C(s+g, g)`` and ``r_< = C(s+g−1, g−1)`` the rows of levels ``0 … g−1``
    (for ``g = 0``: one row, no top groups, no monomial products).
    """
    r = math.comb(s + g, g)
    if g == 0:
        low_products, top = 0, 0
    else:
        low_products = math.comb(s + g - 1, g - 1) - 1 - (s if g >= 2 else 0)
        top = s
    return (flop_model(n, m, d_v, r) + low_products * (n + m) + top * (d_v + 1) * n
            + (d_v + 1) * r * -(-n // chunk) + (d_v + 1) * r + 2 * top * (d_v + 1) * m
            + d_v * m)

