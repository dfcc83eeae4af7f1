"""The one exact attention reference (docs/theory.md §1 and §3).

Tokens are columns. For queries ``Q ∈ R^{s×m}``, keys ``K ∈ R^{s×n}`` and values
``V ∈ R^{d_v×n}`` the reference computes

    Att = V · softmax_col(β Kᵀ Q)            shape (d_v, m),

where ``softmax_col`` normalises each column over the ``n`` keys. Every other module that
needs exact attention imports :func:`exact_attention` from here (docs/design.md: one reference,
never drifting copies). Long sequences are processed in query chunks so that peak memory is
``O(n · chunk)`` instead of ``O(n²)``.
"""

from __future__ import annotations

import torch

from .errors import ConstructionTooLarge, InvalidArgument
from .validation import (
    MEMORY_LIMIT_BYTES,
    check_finite_tensor,
    check_int,
    check_matrix,
    check_real,
)

__all__ = ["DEFAULT_QUERY_CHUNK", "attention_block", "exact_attention", "exact_peak_bytes",
           "softmax_columns"]

#: Query columns processed at once by :func:`exact_attention` (bounds the score block).
DEFAULT_QUERY_CHUNK = 4096


def softmax_columns(scores: torch.Tensor) -> torch.Tensor:
    """Numerically stable softmax over dim ``-2`` (the keys) of ``scores`` ``(..., n, m)``.

    Subtracts each column's maximum before ``exp`` so logits of any finite magnitude give
    finite probabilities; each column of the result sums to one.
    """
    shifted = scores - scores.amax(dim=-2, keepdim=True)
    weights = torch.exp(shifted)
    return weights / weights.sum(dim=-2, keepdim=True)


def attention_block(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     beta: float) -> torch.Tensor:
    """Unchecked exact attention on one block: ``V·softmax_col(β KᵀQ)`` for ``Q (..., s, m)``,
    ``K (..., s, n)``, ``V (..., d_v, n)``; the model and :func:`exact_attention` call it on
    already validated tensors."""
    scores = beta * (k.transpose(-1, -2) @ q)          # (..., n, m)
    return v @ softmax_columns(scores)                  # (..., d_v, m)


def exact_peak_bytes(n: int, m: int, d_v: int, chunk: int, itemsize: int) -> int:
    """Bytes :func:`exact_attention` allocates at its peak for ``n`` keys, ``m`` queries and
    ``chunk`` query columns per block: the ``n × chunk`` scores, their shifted exponentials
    and the normalised weights (``3·n·chunk``), and the output with its blocks
    (``2·d_v·m``), times ``itemsize``."""
    return itemsize * (3 * n * chunk + 2 * d_v * m)


def _query_chunk(chunk: int, n: int, d_v: int, m: int, itemsize: int,
                 memory_limit: int) -> int:
    """Largest query chunk ``<= chunk`` that keeps :func:`exact_peak_bytes` under the limit."""
    fixed = exact_peak_bytes(n, m, d_v, 0, itemsize)
    fitting = (memory_limit - fixed) // (3 * n * itemsize) if n else chunk
    if fitting < 1:
        need = exact_peak_bytes(n, m, d_v, 1, itemsize)
        raise ConstructionTooLarge(
            f"exact attention over n={n} keys and m={m} queries needs {need / 2**20:.1f} MiB "
            f"at one query column per block, over memory_limit={memory_limit / 2**20:.1f} "
            "MiB", required=need, limit=memory_limit)
    return int(min(chunk, fitting))


def exact_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float, *,
                    last: int | None = None,
                    query_chunk: int = DEFAULT_QUERY_CHUNK,
                    memory_limit: int = MEMORY_LIMIT_BYTES) -> torch.Tensor:
    """Exact single-head attention ``V · softmax_col(β KᵀQ)``.

    Args:
        Q: queries, shape ``(s, m)``.
        K: keys, shape ``(s, n)``.
        V: values, shape ``(d_v, n)``.
        beta: score scale ``β > 0`` (``1/√s`` in practice, ``1/d`` in Alman–Song).
        last: if given, only the last ``last`` query columns are computed (prompt-tuning
            readout of docs/theory.md §3, "only the last L").
        query_chunk: query columns per block, lowered so the peak of
            :func:`exact_peak_bytes` (score block, its softmax, the output) fits
            ``memory_limit``.
        memory_limit: byte ceiling for what this call allocates.

    Returns:
        ``(d_v, m)`` or ``(d_v, last)`` tensor in the dtype of the inputs.

    Raises:
        ConstructionTooLarge: one query column's scores over all ``n`` keys already exceed
            ``memory_limit`` (refused before anything is allocated).
    """
    Q = check_matrix("Q", Q, finite=False)
    K = check_matrix("K", K, rows=Q.shape[0], dtype=Q.dtype, finite=False)
    V = check_matrix("V", V, cols=K.shape[1], dtype=Q.dtype, finite=False)
    if Q.device != K.device or Q.device != V.device:
        raise InvalidArgument(
            f"Q, K, V must be on one device, got {Q.device}, {K.device}, {V.device}")
    beta = check_real("beta", beta, low=0.0, low_open=True)
    query_chunk = check_int("query_chunk", query_chunk, minimum=1)
    memory_limit = check_int("memory_limit", memory_limit, minimum=1)
    m = Q.shape[1]
    if last is not None:
        last = check_int("last", last, minimum=1, maximum=m)
        Q = Q[:, m - last:]
    query_chunk = _query_chunk(query_chunk, K.shape[1], V.shape[0], Q.shape[1],
                               Q.element_size(), memory_limit)
    for name, t in (("Q", Q), ("K", K), ("V", V)):
        check_finite_tensor(name, t)
    if Q.shape[1] <= query_chunk:
        return attention_block(Q, K, V, beta)
    blocks = [attention_block(Q[:, j:j + query_chunk], K, V, beta)
              for j in range(0, Q.shape[1], query_chunk)]
    return torch.cat(blocks, dim=1)


