"""The polynomial kernel's native CPU backend: both passes as C++ loops, one OpenMP
region per pass with a contiguous part of the blocks per thread (``fused_attention.cpp``
beside this file, built once per machine with torch's C++ extension loader;
docs/kernel.md, "Backends").

Same algorithm, buffers, layout and matrix products as the torch backend
(:mod:`core.kernels.fast_attention`), so the two agree to rounding; what differs is the
work between the products — monomials, ``values ⊙ x_i``, the top groups' ``⊙ q_i``, the
normaliser check and the division run as plain loops over an L2-sized block instead of
one dispatched torch op each. :data:`PRODUCTS_ONLY` runs the identical products on the
identical buffers with every loop skipped: the time of the kernel's own GEMM passes.

The build needs a C++ compiler and ``ninja``; :func:`available` says whether it worked
(and why not), never raising, so the torch backend is always there to fall back on.
"""
from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from .features import MonomialFeatures

__all__ = ["FULL", "LOOPS_ONLY", "PRODUCTS_ONLY", "available", "native_attention",
           "unavailable_reason"]

#: What a call runs: everything, the matrix products alone, every loop alone.
FULL, PRODUCTS_ONLY, LOOPS_ONLY = 0, 1, 2
SOURCE = Path(__file__).with_name("fused_attention.cpp")
_BUILD_LOCK = threading.Lock()


@functools.cache
def _module_or_reason() -> tuple[Any, str | None]:
    """``(extension, None)`` once built, else ``(None, why)``; built at most once."""
    if os.environ.get("PTLIMITS_NATIVE", "1") == "0":
        return None, "disabled by PTLIMITS_NATIVE=0"
    with _BUILD_LOCK:
        try:
            from torch.utils import cpp_extension
            cpp_extension.verify_ninja_availability()
            module = cpp_extension.load(name="ptlimits_fused_attention", sources=[str(SOURCE)],
                                        extra_cflags=["-O3", "-fopenmp"],
                                        extra_ldflags=["-fopenmp"], verbose=False)
        except Exception as exc:
            return None, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
    return module, None


def available() -> bool:
    """Whether the native backend built on this machine (builds it on first call)."""
    return _module_or_reason()[0] is not None


def unavailable_reason() -> str | None:
    """Why the native backend is unavailable, or ``None`` when it built."""
    return _module_or_reason()[1]


def native_attention(Q: torch.Tensor, K: torch.Tensor, values: torch.Tensor,
                     features: MonomialFeatures, weights: torch.Tensor, cols: int,
                     workers: int, mode: int = FULL) -> tuple[torch.Tensor, torch.Tensor]:
    """``(out, den_range)``: ``out = num/den`` ``(d_v, m)`` and each query block's
    normaliser ``(min, max)`` ``(blocks, 2)`` float64, for CPU tensors ``Q`` ``(s, m)``,
    ``K`` ``(s, n)``, ``values = [V; 1ᵀ]`` ``(d_v+1, n)``, one dtype, contiguous;
    ``weights`` ``(r,)`` the query-side feature weights; blocks of ``cols`` columns cut
    into ``workers`` contiguous parts, one OpenMP thread each (each part's ``S`` summed in
    a fixed order afterwards: deterministic). Unchecked: the caller validates and checks
    ``den_range``.
    """
    module, reason = _module_or_reason()
    if module is None:
        raise RuntimeError(f"the native backend is unavailable: {reason}")
    n, m = K.shape[1], Q.shape[1]
    prefix = [int(c) for row in features.prefix_counts for c in row]
    g = features.g
    parts = [torch.zeros(values.shape[0], features.rank, dtype=values.dtype)
             for _ in range(min(workers, -(-n // cols)))]
    with _threads(workers):
        module.key_pass(K, values, parts, prefix, g, cols, mode)
    S_low, S_top = features.query_sides(parts, weights)
    out = torch.empty(values.shape[0] - 1, m, dtype=values.dtype)
    blocks = -(-m // cols)
    den_range = torch.empty(blocks, 2, dtype=torch.float64)
    if mode == PRODUCTS_ONLY:
        den_range.fill_(1.0)
    with _threads(workers):
        module.query_pass(Q, S_low, S_top, out, den_range, prefix, g, cols,
                          min(workers, blocks), mode)
    return out, den_range


@contextlib.contextmanager
def _threads(count: int) -> Iterator[None]:
    """torch's intra-op (OpenMP) threads set to ``count`` for one pass, restored after."""
    before = torch.get_num_threads()
    if count != before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count != before:
            torch.set_num_threads(before)
