"""Peer attention implementations for comparison (docs/theory.md §3, K3/K5).

Paper label ``thm:inference_linear``.

- :func:`tiled_exact_attention`: exact attention tile by tile, never ``n × m``. For a query
  tile ``Q_t`` ``(s, t_q)`` and a key tile ``K_t`` ``(s, t_k)``: one GEMM for the scores
  ``S = β K_tᵀ Q_t`` ``(t_k, t_q)``, an in-place ``exp``, and one GEMM

      [num; den] += [V_t; 1ᵀ] · exp(S)          shape (d_v + 1, t_q),

  summed over key tiles, then ``Att = num / den``. With ``shift="max"`` the running sums
  carry an online-softmax maximum ``μ`` per query column (``S − μ``, rescaled by
  ``e^{μ_old − μ_new}`` when ``μ`` grows); ``shift="auto"`` skips it exactly when the
  Cauchy–Schwarz radius ``R = β·max_j‖q_j‖·max_k‖k_k‖`` proves it unneeded
  (:func:`needs_max_shift`). :func:`tiled_exact_peak_bytes` is its memory model.
- :func:`sdpa_attention`: exact attention through ``torch.nn.functional.
  scaled_dot_product_attention`` on contiguous 4-D ``(1, 1, tokens, features)`` tensors
  (SDPA's fused CPU path), in query chunks (its math fallback materialises the
  ``chunk × n`` score block, which is what the memory guard sizes; at ``n = 65536`` in
  float64 unchunked that would be 34 GB).
- :func:`keops_attention`: exact attention through a pykeops ``LazyTensor`` softmax
  reduction (optional extra ``keops``; :func:`keops_available`).
- :func:`favor_plus_attention`: Performer's FAVOR+ positive random features (Choromanski et
  al. 2021), our own implementation. With ``x = √β q``, ``y = √β k`` and ``ω_i ~ N(0, I_s)``,

      φ(x)_i = exp(ω_iᵀx − ‖x‖²/2) / √M,     E[φ(x)·φ(y)] = exp(xᵀy) = exp(β qᵀk),

  and each feature has relative variance ``e^{‖x+y‖²} − 1`` (so ``M`` must grow like
  ``e^{4βsB²}/ε²``: the same exponential wall in ``B``, plus Monte-Carlo error).

The exact reference is :func:`core.attention.exact_attention`; it is imported, not copied.
Tokens are columns throughout: ``Q`` ``(s, m)``, ``K`` ``(s, n)``, ``V`` ``(d_v, n)``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import torch

from ..attention import DEFAULT_QUERY_CHUNK
from ..errors import HarnessError, InvalidArgument
from ..validation import (
    MEMORY_LIMIT_BYTES,
    check_finite_tensor,
    check_fits_in_memory,
    check_int,
    check_matrix,
    check_real,
    short_repr,
)
from .fast_attention import instance_radius
from .threads import cpu_workers, run_jobs

__all__ = [
    "DEFAULT_KEY_TILE",
    "DEFAULT_QUERY_TILE",
    "SHIFTS",
    "favor_plus_attention",
    "favor_plus_features",
    "keops_attention",
    "keops_available",
    "needs_max_shift",
    "score_radius_bound",
    "sdpa_attention",
    "tiled_exact_attention",
    "tiled_exact_peak_bytes",
]

PAPER_REF = "thm:inference_linear"


def _checked(Q: object, K: object, V: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    Qm = check_matrix("Q", Q)
    Km = check_matrix("K", K, rows=Qm.shape[0], dtype=Qm.dtype)
    Vm = check_matrix("V", V, cols=Km.shape[1], dtype=Qm.dtype)
    if Qm.device != Km.device or Qm.device != Vm.device:
        raise InvalidArgument(
            f"Q, K, V must be on one device, got {Qm.device}, {Km.device}, {Vm.device}")
    return Qm, Km, Vm


def sdpa_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float, *,
                   last: int | None = None,
                   query_chunk: int = DEFAULT_QUERY_CHUNK,
                   memory_limit: int = MEMORY_LIMIT_BYTES) -> torch.Tensor:
    """Exact ``V softmax_col(β KᵀQ)`` by torch SDPA over query chunks; ``(d_v, m)``.

    The chunk is lowered until a ``chunk × n`` score block fits ``memory_limit`` (SDPA's
    math path may materialise it); refused when one query column does not fit.

    Each chunk goes in as 4-D ``(batch 1, heads 1, tokens, features)`` tensors with unit
    stride in the feature dimension: that is what selects SDPA's fused (flash) CPU kernel;
    3-D input, or transposed views whose last stride is not 1, take the math path, which
    materialises the ``chunk × n`` scores and is about 5× slower (n = 8192, s = 8, float64).
    """
    Q, K, V = _checked(Q, K, V)
    beta = check_real("beta", beta, low=0.0, low_open=True)
    query_chunk = check_int("query_chunk", query_chunk, minimum=1)
    if last is not None:
        last = check_int("last", last, minimum=1, maximum=Q.shape[1])
        Q = Q[:, Q.shape[1] - last:]
    memory_limit = check_int("memory_limit", memory_limit, minimum=1)
    query_chunk = max(1, min(query_chunk,
                             memory_limit // (max(1, K.shape[1]) * Q.element_size())))
    check_fits_in_memory("SDPA score block", (query_chunk, K.shape[1]), Q.element_size(),
                         memory_limit)
    queries = Q.T.contiguous()[None, None]                                 # (1, 1, m, s)
    keys, values = K.T.contiguous()[None, None], V.T.contiguous()[None, None]  # (1, 1, n, ·)
    blocks = [torch.nn.functional.scaled_dot_product_attention(
        queries[:, :, j:j + query_chunk], keys, values, scale=beta)[0, 0].T
        for j in range(0, Q.shape[1], query_chunk)]
    return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=1)


def favor_plus_features(X: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """Positive random features ``φ(x) = exp(Ωx − ‖x‖²/2)/√M`` of the columns of ``X``.

    Args:
        X: ``(s, c)`` already scaled by ``√β``.
        omega: ``(M, s)`` Gaussian directions.

    Returns:
        ``(M, c)`` features.
    """
    sq = 0.5 * (X * X).sum(dim=0, keepdim=True)                    # (1, c)
    return torch.exp(omega @ X - sq) / omega.shape[0] ** 0.5


def favor_plus_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float, *,
                         num_features: int, seed: int = 0, last: int | None = None,
                         chunk: int = 2048, orthogonal: bool = True,
                         memory_limit: int = MEMORY_LIMIT_BYTES) -> torch.Tensor:
    """Performer FAVOR+ estimate of ``V softmax_col(β KᵀQ)``; ``(d_v, m)``, never ``n × m``.

    Args:
        num_features: ``M``, the number of random features.
        seed: seeds the ``N(0, I)`` directions (drawn in float64 on the CPU).
        orthogonal: use blocks of exactly orthogonal directions with chi-distributed norms
            (Performer's default), else i.i.d. Gaussian rows.
        chunk: token columns per feature block.
    """
    Q, K, V = _checked(Q, K, V)
    beta = check_real("beta", beta, low=0.0, low_open=True)
    M = check_int("num_features", num_features, minimum=1)
    chunk = check_int("chunk", chunk, minimum=1)
    check_fits_in_memory("FAVOR+ feature block", (M, min(chunk, K.shape[1])),
                         Q.element_size(), memory_limit)
    if last is not None:
        last = check_int("last", last, minimum=1, maximum=Q.shape[1])
        Q = Q[:, Q.shape[1] - last:]
    omega = _directions(M, Q.shape[0], seed, orthogonal).to(Q.dtype).to(Q.device)
    scale = beta ** 0.5
    values = torch.cat([V, torch.ones(1, V.shape[1], dtype=V.dtype, device=V.device)])
    S = torch.zeros(values.shape[0], M, dtype=V.dtype, device=V.device)
    for j in range(0, K.shape[1], chunk):
        S = S + values[:, j:j + chunk] @ favor_plus_features(scale * K[:, j:j + chunk], omega).T
    outs = []
    for j in range(0, Q.shape[1], chunk):
        num_den = S @ favor_plus_features(scale * Q[:, j:j + chunk], omega)
        outs.append(num_den[:-1] / num_den[-1])
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)


def _directions(M: int, s: int, seed: int, orthogonal: bool) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if not orthogonal:
        return torch.randn(M, s, generator=gen, dtype=torch.float64)
    blocks = []
    for _ in range(-(-M // s)):
        q, _r = torch.linalg.qr(torch.randn(s, s, generator=gen, dtype=torch.float64))
        blocks.append(q.T)
    norms = torch.randn(M, s, generator=gen, dtype=torch.float64).norm(dim=1, keepdim=True)
    return torch.cat(blocks)[:M] * norms


# --- tiled exact attention -------------------------------------------------------------

#: Query columns per tile of :func:`tiled_exact_attention`.
DEFAULT_QUERY_TILE = 128

#: Key columns per tile of :func:`tiled_exact_attention`.
DEFAULT_KEY_TILE = 1024

#: The max-subtraction policies of :func:`tiled_exact_attention`.
SHIFTS: tuple[str, ...] = ("auto", "none", "max")

#: Headroom (in the exponent) that :func:`needs_max_shift` keeps below overflow and above
#: the smallest normal number: ``e² ≈ 7.4`` absorbs exp's few-ulp error and the GEMM's
#: rounding growth of a sum of positive terms (a factor ``1 + γ_n <= 2`` while ``n·u < 1/2``).
SHIFT_MARGIN = 2.0


def tiled_exact_peak_bytes(n: int, m: int, d_v: int, query_tile: int, key_tile: int,
                           itemsize: int, *, workers: int = 1) -> int:
    """Bytes :func:`tiled_exact_attention` allocates for ``n`` keys, ``m`` queries (after
    ``last``) and tiles ``t_q = min(query_tile, m)``, ``t_k = min(key_tile, n)``: per worker
    thread the score buffer ``t_k·t_q``, the running sums ``(d_v+1)·t_q`` and two
    running-maximum rows ``2·t_q`` (allocated for ``shift="max"`` only); shared, ``[V; 1ᵀ]``
    ``(d_v+1)·n`` and the output ``d_v·m``; times ``itemsize``. ``workers`` is
    ``min(torch.get_num_threads(), ⌈m/t_q⌉)`` on a CPU, 1 elsewhere. Nothing else grows with
    ``n`` or ``m`` (``shift="auto"``'s ``m + n`` column norms are freed before these are
    allocated)."""
    tq, tk = min(query_tile, m), min(key_tile, n)
    per_worker = tk * tq + (d_v + 1) * tq + 2 * tq
    return itemsize * (workers * per_worker + (d_v + 1) * n + d_v * m)


def score_radius_bound(Q: torch.Tensor, K: torch.Tensor, beta: float) -> float:
    """An upper bound ``R̄`` on every *computed* ``|β kᵀq|`` for columns of ``Q`` ``(s, m)``
    and ``K`` ``(s, n)``: the exact scores' Cauchy–Schwarz radius
    (:func:`core.kernels.fast_attention.instance_radius`) times ``1 + 2(s+4)·ε`` for the
    rounding of the score GEMM in the inputs' dtype (at most ``γ_{s+1}`` relative to
    ``β Σ|k_i q_i| <= R``)."""
    eps = torch.finfo(Q.dtype).eps
    return instance_radius(Q, K, beta) * (1.0 + 2 * (Q.shape[0] + 4) * eps)


def needs_max_shift(radius: float, n: int, v_max: float, dtype: torch.dtype) -> bool:
    """Whether ``exp`` of scores in ``[−radius, radius]`` needs the max subtraction.

    Without a shift every weight lies in ``[e^{−R}, e^{R}]``, the normaliser in
    ``[n e^{−R}, n e^{R}]`` and each numerator (and every partial sum of the GEMMs) below
    ``n·max(1, ‖V‖_max)·e^{R}``. No shift is needed, and none is applied, exactly when

        R + ln(n · max(1, ‖V‖_max)) + SHIFT_MARGIN <= ln(finfo.max)     (no overflow)
        R + SHIFT_MARGIN <= −ln(finfo.tiny)                              (no denormal weight)

    (float64: ``ln max = 709.78``, ``−ln tiny = 708.40``; float32: ``88.72``, ``87.34``).
    The second keeps every weight a normal number, so none loses relative precision and the
    normaliser is never zero.
    """
    info = torch.finfo(dtype)
    overflow_ok = (radius + math.log(n * max(1.0, v_max)) + SHIFT_MARGIN
                   <= math.log(info.max))
    underflow_ok = radius + SHIFT_MARGIN <= -math.log(info.tiny)
    return not (overflow_ok and underflow_ok)


def _resolved_shift(shift: str, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                    beta: float) -> str:
    if shift != "auto":
        return shift
    low, high = torch.aminmax(V)
    v_max = max(abs(float(low)), abs(float(high)))
    radius = score_radius_bound(Q, K, beta)
    return "max" if needs_max_shift(radius, K.shape[1], v_max, Q.dtype) else "none"


def tiled_exact_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float, *,
                          last: int | None = None, query_tile: int = DEFAULT_QUERY_TILE,
                          key_tile: int = DEFAULT_KEY_TILE, shift: str = "auto",
                          memory_limit: int = MEMORY_LIMIT_BYTES) -> torch.Tensor:
    """Exact ``V · softmax_col(β KᵀQ)`` tile by tile; ``(d_v, m)`` (or ``(d_v, last)``).

    Per query tile ``(s, t_q)`` and key tile ``(s, t_k)``: the scores ``β K_tᵀ Q_t`` by one
    GEMM into a preallocated ``(t_k, t_q)`` buffer, ``exp_`` in place, then one GEMM of
    ``[V_t; 1ᵀ]`` ``(d_v+1, t_k)`` against it accumulates numerator and normaliser together
    into ``(d_v+1, t_q)`` running sums; the output is ``num / den``. Peak memory is
    :func:`tiled_exact_peak_bytes`, never ``n × m``. On a CPU the query tiles are shared
    among ``torch.get_num_threads()`` Python threads with one intra-op thread each
    (:func:`_over_query_tiles`; torch's thread count is restored on return).

    Args:
        Q: queries ``(s, m)``; K: keys ``(s, n)``; V: values ``(d_v, n)``; one dtype
            (float32 or float64), one device, all finite.
        beta: score scale ``β > 0``.
        last: if given, only the last ``last`` query columns are computed.
        query_tile, key_tile: tile sizes ``>= 1`` (clipped to ``m`` and ``n``). The
            defaults ``128 × 1024`` keep the score buffer at 1 MiB in float64, half of one
            core's 2 MiB L2 (room left for the tiles of ``Q``, ``[V; 1ᵀ]`` and the sums),
            with 128k scores per op so Python's per-tile cost (about 10 µs) stays near 5%;
            at ``n = m = 16384``, ``s = d_v = 8`` they were the fastest of the tilings
            ``64…512 × 256…4096`` tried (2 threads).
        shift: ``"none"`` applies no max subtraction; ``"max"`` keeps an online-softmax
            running maximum ``μ`` per query column, subtracts it from each score block and
            rescales the running sums by ``e^{μ_old − μ_new}``; ``"auto"`` chooses
            ``"none"`` exactly when :func:`needs_max_shift` proves it safe from the inputs
            (``R̄`` of :func:`score_radius_bound`, ``n`` and ``‖V‖_max``), else ``"max"``.
            Without a shift the result is as accurate as with one: ``exp``'s relative error
            does not depend on its argument's size and the common factor ``e^{−μ}`` cancels
            in ``num/den``; skipping the subtraction even saves one rounding per score.
        memory_limit: byte ceiling for each buffer (a score buffer, ``[V; 1ᵀ]``).

    Raises:
        InvalidArgument: a bad operand, tile size, ``shift`` or ``last``, named.
        NonFiniteError: a NaN/inf input, or (``shift="none"`` forced where it is unsafe) an
            overflowed or zero normaliser.
        ConstructionTooLarge: a buffer over ``memory_limit``, refused before allocation.
    """
    Q, K, V = _checked(Q, K, V)
    beta = check_real("beta", beta, low=0.0, low_open=True)
    query_tile = check_int("query_tile", query_tile, minimum=1)
    key_tile = check_int("key_tile", key_tile, minimum=1)
    memory_limit = check_int("memory_limit", memory_limit, minimum=1)
    if shift not in SHIFTS:
        raise InvalidArgument(f"shift={short_repr(shift)}: expected one of {SHIFTS}")
    if last is not None:
        last = check_int("last", last, minimum=1, maximum=Q.shape[1])
        Q = Q[:, Q.shape[1] - last:]
    n, m, d_v, size = K.shape[1], Q.shape[1], V.shape[0], Q.element_size()
    tq, tk = min(query_tile, m), min(key_tile, n)
    check_fits_in_memory("tiled score buffer", (tk, tq), size, memory_limit)
    check_fits_in_memory("[V; 1ᵀ] buffer", (d_v + 1, n), size, memory_limit)
    shift = _resolved_shift(shift, Q, K, V, beta)
    values = _values_with_ones(V)
    out = torch.empty(d_v, m, dtype=Q.dtype, device=Q.device)
    key_tiles = _key_tiles(K, values, tk)

    def run_tile(t: int, buffers: tuple[torch.Tensor, ...]) -> None:
        j = t * tq
        _query_tile(Q[:, j:j + tq], key_tiles, beta, buffers, out[:, j:j + tq])

    _over_query_tiles(-(-m // tq), cpu_workers(Q.device, -(-m // tq)),
                      lambda: _tile_buffers(d_v, tq, tk, shift == "max", Q), run_tile)
    if shift == "none":
        check_finite_tensor("tiled attention output", out,
                            step="shift='none' (exp overflowed or every weight underflowed; "
                                 "use shift='max')")
    return out


def _over_query_tiles(count: int, workers: int,
                      make_buffers: Callable[[], tuple[torch.Tensor, ...]],
                      run_tile: Callable[[int, tuple[torch.Tensor, ...]], None]) -> None:
    """``run_tile(t, buffers)`` for every query tile ``t < count``: ``workers`` threads
    (:func:`core.kernels.threads.run_jobs`), each with its own buffers, pull tiles from a
    shared counter (the tiles are independent, so the threads never meet)."""
    tiles, lock = iter(range(count)), threading.Lock()

    def worker() -> None:
        buffers = make_buffers()
        while True:
            with lock:
                t = next(tiles, None)
            if t is None:
                return
            run_tile(t, buffers)

    run_jobs([worker] * workers)


def _values_with_ones(V: torch.Tensor) -> torch.Tensor:
    """``[V; 1ᵀ]`` ``(d_v + 1, n)``: one GEMM against it yields numerator and normaliser."""
    values = torch.empty(V.shape[0] + 1, V.shape[1], dtype=V.dtype, device=V.device)
    values[:-1] = V
    values[-1] = 1.0
    return values


def _tile_buffers(d_v: int, tq: int, tk: int, with_max: bool,
                  like: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The loop's preallocated buffers, flat so that a partial tile's view is contiguous:
    scores ``t_k·t_q``, running sums ``(d_v+1)·t_q`` and, for the max shift, the running
    and the new maximum ``t_q`` each."""
    def empty(k: int) -> torch.Tensor:
        return torch.empty(k, dtype=like.dtype, device=like.device)
    sums = (empty(tk * tq), empty((d_v + 1) * tq))
    return (*sums, empty(tq), empty(tq)) if with_max else sums


def _key_tiles(K: torch.Tensor, values: torch.Tensor,
               tk: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Views ``(K_tᵀ (t_k, s), [V_t; 1ᵀ] (d_v+1, t_k))`` of every key tile, made once and
    shared by all query tiles (no per-tile slicing in the hot loop)."""
    return [(K[:, i:i + tk].T, values[:, i:i + tk]) for i in range(0, K.shape[1], tk)]


def _query_tile(q: torch.Tensor, key_tiles: list[tuple[torch.Tensor, torch.Tensor]],
                beta: float, buffers: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
    """Attention of one query tile ``q`` ``(s, c)`` over all key tiles, written into ``out``
    ``(d_v, c)``; ``buffers`` from :func:`_tile_buffers` (four of them: max shift)."""
    c, rows = q.shape[1], key_tiles[0][1].shape[0]
    acc = buffers[1][:rows * c].view(rows, c)                       # [num; den]
    acc.zero_()
    with_max = len(buffers) == 4
    if with_max:
        run, new = buffers[2][:c], buffers[3][:c]
        run.fill_(-math.inf)
    for k_t, v_t in key_tiles:
        scores = buffers[0][:k_t.shape[0] * c].view(k_t.shape[0], c)
        torch.addmm(scores, k_t, q, beta=0.0, alpha=beta, out=scores)
        if with_max:
            run, new = _shift_by_running_max(scores, acc, run, new)
        scores.exp_()
        acc.addmm_(v_t, scores)
    torch.div(acc[:-1], acc[-1:], out=out)


def _shift_by_running_max(scores: torch.Tensor, acc: torch.Tensor, run: torch.Tensor,
                          new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Online softmax step: ``μ_new = max(μ_old, max_k scores)`` per column, running sums
    ``acc`` ``(d_v+1, c)`` times ``e^{μ_old − μ_new}``, ``scores −= μ_new`` (all in place).
    Returns ``(μ_new, spare)``: the two ``(c,)`` buffers swapped."""
    torch.amax(scores, dim=0, out=new)
    torch.maximum(new, run, out=new)
    torch.sub(run, new, out=run)              # μ_old − μ_new <= 0 (−inf on the first tile)
    acc.mul_(run.exp_())
    scores.sub_(new)
    return new, run


# --- KeOps ---------------------------------------------------------------------------------

KEOPS_INSTALL = "pip install -e '.[keops]'"


def keops_available() -> bool:
    """Whether ``pykeops.torch`` imports here (the optional extra ``keops``)."""
    try:
        import pykeops.torch  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def keops_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float, *,
                    last: int | None = None) -> torch.Tensor:
    """Exact ``V softmax_col(β KᵀQ)`` by a pykeops ``LazyTensor`` softmax reduction;
    ``(d_v, m)`` (or ``(d_v, last)``), never ``n × m``.

    With ``q_i`` ``(m, 1, s)``, ``k_j`` ``(1, n, s)`` and ``v_j`` ``(1, n, d_v)`` the symbolic
    scores ``β (q_i | k_j)`` are reduced by ``sumsoftmaxweight(v_j, axis=1)``, KeOps's
    max-shifted ``Σ_j e^{S_ij} v_j / Σ_j e^{S_ij}``. KeOps compiles one C++ module per
    formula signature (``s``, ``d_v``, dtype) on first use (seconds, with the system g++ on
    a CPU) and caches it; ``β`` is a runtime parameter.

    Raises:
        HarnessError: pykeops is not importable (install the extra: ``KEOPS_INSTALL``).
        InvalidArgument: a bad operand, ``beta`` or ``last``, named.
    """
    Q, K, V = _checked(Q, K, V)
    beta = check_real("beta", beta, low=0.0, low_open=True)
    if last is not None:
        last = check_int("last", last, minimum=1, maximum=Q.shape[1])
        Q = Q[:, Q.shape[1] - last:]
    try:
        from pykeops.torch import LazyTensor
    except (ImportError, OSError) as exc:
        raise HarnessError(f"keops_attention needs pykeops ({exc}); install it with "
                           f"{KEOPS_INSTALL}") from exc
    q_i = LazyTensor(Q.T.contiguous()[:, None, :])
    k_j = LazyTensor(K.T.contiguous()[None, :, :])
    v_j = LazyTensor(V.T.contiguous()[None, :, :])
    weighted = ((q_i | k_j) * beta).sumsoftmaxweight(v_j, axis=1)    # (m, d_v)
    return weighted.T.contiguous()
