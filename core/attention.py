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

from .errors import InvalidArgument
from .validation import check_int, check_matrix, check_real

__all__ = ["DEFAULT_QUERY_CHUNK", "attention_block", "exact_attention", "softmax_columns"]

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


def exact_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float, *,
                    last: int | None = None,
                    query_chunk: int = DEFAULT_QUERY_CHUNK) -> torch.Tensor:
    """Exact single-head attention ``V · softmax_col(β KᵀQ)``.

    Args:
        Q: queries, shape ``(s, m)``.
        K: keys, shape ``(s, n)``.
        V: values, shape ``(d_v, n)``.
        beta: score scale ``β > 0`` (``1/√s`` in practice, ``1/d`` in Alman–Song).
        last: if given, only the last ``last`` query columns are computed (prompt-tuning
            readout of docs/theory.md §3, "only the last L").
        query_chunk: query columns per block; peak extra memory is ``n · query_chunk``.

    Returns:
        ``(d_v, m)`` or ``(d_v, last)`` tensor in the dtype of the inputs.
    """
    Q = check_matrix("Q", Q)
    K = check_matrix("K", K, rows=Q.shape[0], dtype=Q.dtype)
    V = check_matrix("V", V, cols=K.shape[1], dtype=Q.dtype)
    if Q.device != K.device or Q.device != V.device:
        raise InvalidArgument(
            f"Q, K, V must be on one device, got {Q.device}, {K.device}, {V.device}")
    beta = check_real("beta", beta, low=0.0, low_open=True)
    query_chunk = check_int("query_chunk", query_chunk, minimum=1)
    m = Q.shape[1]
    if last is not None:
        last = check_int("last", last, minimum=1, maximum=m)
        Q = Q[:, m - last:]
    if Q.shape[1] <= query_chunk:
        return attention_block(Q, K, V, beta)
    blocks = [attention_block(Q[:, j:j + query_chunk], K, V, beta)
              for j in range(0, Q.shape[1], query_chunk)]
    return torch.cat(blocks, dim=1)


