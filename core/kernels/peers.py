"""Peer attention implementations for comparison (docs/theory.md §3, K3/K5).

Paper label ``thm:inference_linear``.

- :func:`sdpa_attention`: exact attention through ``torch.nn.functional.
  scaled_dot_product_attention``, in query chunks (SDPA materialises the ``m × n`` score
  block; at ``n = 65536`` in float64 unchunked that is 34 GB).
- :func:`favor_plus_attention`: Performer's FAVOR+ positive random features (Choromanski et
  al. 2021), our own implementation. With ``x = √β q``, ``y = √β k`` and ``ω_i ~ N(0, I_s)``,

      φ(x)_i = exp(ω_iᵀx − ‖x‖²/2) / √M,     E[φ(x)·φ(y)] = exp(xᵀy) = exp(β qᵀk),

  and each feature has relative variance ``e^{‖x+y‖²} − 1`` (so ``M`` must grow like
  ``e^{4βsB²}/ε²``: the same exponential wall in ``B``, plus Monte-Carlo error).

The exact reference is :func:`core.attention.exact_attention`; it is imported, not copied.
Tokens are columns throughout: ``Q`` ``(s, m)``, ``K`` ``(s, n)``, ``V`` ``(d_v, n)``.
"""

from __future__ import annotations

import torch

from ..attention import DEFAULT_QUERY_CHUNK
from ..errors import InvalidArgument
from ..validation import (
    MEMORY_LIMIT_BYTES,
    check_fits_in_memory,
    check_int,
    check_matrix,
    check_real,
)

__all__ = ["favor_plus_attention", "favor_plus_features", "sdpa_attention"]

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
                   query_chunk: int = DEFAULT_QUERY_CHUNK) -> torch.Tensor:
    """Exact ``V softmax_col(β KᵀQ)`` by torch SDPA over query chunks; ``(d_v, m)``."""
    Q, K, V = _checked(Q, K, V)
    beta = check_real("beta", beta, low=0.0, low_open=True)
    query_chunk = check_int("query_chunk", query_chunk, minimum=1)
    if last is not None:
        last = check_int("last", last, minimum=1, maximum=Q.shape[1])
        Q = Q[:, Q.shape[1] - last:]
    check_fits_in_memory("SDPA score block", (query_chunk, K.shape[1]), Q.element_size())
    keys, values = K.T[None], V.T[None]
    blocks = [torch.nn.functional.scaled_dot_product_attention(
        Q[:, j:j + query_chunk].T[None], keys, values, scale=beta)[0].T
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
