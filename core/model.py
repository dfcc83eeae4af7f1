"""The one-layer, one-head prompt-tuned transformer τ_P as a ``torch.nn.Module``.

docs/theory.md §1:

    τ_P(X) = (FF_post ∘ Attn ∘ FF_pre)([P, X] + E)[:, L_p:]
    Attn(Z) = Z + W_O W_V Z · softmax_col(β (W_K Z)ᵀ (W_Q Z))

Tokens are columns: ``X`` is ``(d, L)`` (or ``(..., d, L)`` for a batch), the soft prompt
``P`` is ``(d, L_p)`` and is shared across the batch. Every weight is a frozen buffer; only
``P`` varies. The mpmath twin of the same weights is :func:`core.mp_twin.mp_forward`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .attention import _attention_block
from .errors import InvalidArgument
from .validation import check_dtype, check_finite_tensor, short_repr
from .weights import TransformerWeights

__all__ = ["PromptTunedTransformer", "feed_forward"]


def feed_forward(z: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor,
                 b2: torch.Tensor) -> torch.Tensor:
    """Token-wise ``Z + W_2 ReLU(W_1 Z + b_1 1ᵀ) + b_2 1ᵀ`` for ``Z`` of shape ``(..., d, n)``."""
    hidden = torch.relu(w1 @ z + b1[:, None])
    return z + w2 @ hidden + b2[:, None]


class PromptTunedTransformer(nn.Module):
    """τ of docs/theory.md §1 with frozen weights, evaluated in float32 or float64.

    Args:
        weights: the frozen weights (float64; rounded to ``dtype`` on construction).
        dtype: ``torch.float32`` or ``torch.float64``.
        device: any torch device (``"cpu"``, ``"cuda"``).
    """

    w_q: torch.Tensor
    w_k: torch.Tensor
    w_ov: torch.Tensor
    pos: torch.Tensor

    def __init__(self, weights: TransformerWeights, *, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu"):
        super().__init__()
        if not isinstance(weights, TransformerWeights):
            raise InvalidArgument(
                f"weights={short_repr(weights)}: expected a TransformerWeights")
        self.weights = weights
        self.dtype = check_dtype("dtype", dtype)
        self.beta = weights.beta if dtype == torch.float64 else float(
            torch.tensor(weights.beta, dtype=dtype))

        def buf(name: str, array: object) -> None:
            self.register_buffer(name, torch.tensor(np.array(array), dtype=dtype, device=device))

        buf("w_q", weights.w_q)
        buf("w_k", weights.w_k)
        buf("w_ov", weights.w_o @ weights.w_v)   # W_O W_V, composed in float64 once
        buf("pos", weights.pos if weights.pos is not None else np.zeros(0))
        self._n_pre = len(weights.ff_pre)
        self._n_post = len(weights.ff_post)
        for prefix, stack in (("pre", weights.ff_pre), ("post", weights.ff_post)):
            for i, layer in enumerate(stack):
                for part, array in zip(("w1", "b1", "w2", "b2"), layer.arrays(), strict=True):
                    buf(f"ff_{prefix}{i}_{part}", array)

    @property
    def d(self) -> int:
        return self.weights.d

    def _ff_stack(self, prefix: str, count: int, z: torch.Tensor) -> torch.Tensor:
        for i in range(count):
            z = feed_forward(z, *(getattr(self, f"ff_{prefix}{i}_{p}")
                                  for p in ("w1", "b1", "w2", "b2")))
            check_finite_tensor("activations", z, step=f"FF_{prefix}[{i}]")
        return z

    def embed(self, X: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
        """``[P, X] + E``, shape ``(..., d, L_p + L)``, after validating both inputs."""
        d = self.d
        for name, t in (("X", X), ("P", P)):
            if not isinstance(t, torch.Tensor):
                raise InvalidArgument(f"{name}={short_repr(t)}: expected a torch.Tensor")
            if t.dtype != self.dtype:
                raise InvalidArgument(
                    f"{name}={short_repr(t)}: dtype must be the model's {self.dtype}")
            if t.ndim < 2 or t.shape[-2] != d:
                raise InvalidArgument(
                    f"{name}={short_repr(t)}: expected shape (..., d={d}, tokens)")
            check_finite_tensor(name, t)
        if P.ndim != 2:
            raise InvalidArgument(f"P={short_repr(P)}: expected a (d, L_p) matrix")
        if X.shape[-1] < 1:
            raise InvalidArgument(f"X={short_repr(X)}: needs at least one token (L >= 1)")
        z = torch.cat([P.expand(*X.shape[:-2], *P.shape), X], dim=-1)
        if self.pos.numel():
            n = z.shape[-1]
            if self.pos.shape[-1] != n:
                raise InvalidArgument(
                    f"L_p + L = {n}: the positional encoding fixes n = {self.pos.shape[-1]}")
            z = z + self.pos
        return z

    def forward(self, X: torch.Tensor, P: torch.Tensor, *, full: bool = False) -> torch.Tensor:
        """Evaluate τ_P on ``X``.

        Args:
            X: input tokens ``(..., d, L)``.
            P: soft prompt ``(d, L_p)``; ``L_p = 0`` is allowed.
            full: return all ``n = L_p + L`` columns instead of the readout.

        Returns:
            ``(..., d, L)`` readout (the last ``L`` columns), or ``(..., d, n)`` if ``full``.

        Raises:
            NonFiniteError: an input holds NaN/inf, or a step produced one (named: e.g.
                ``FF_pre[1]``, ``attention projections``, ``attention``).
        """
        z = self._ff_stack("pre", self._n_pre, self.embed(X, P))
        lp = P.shape[-1]
        queries = z if full else z[..., lp:]
        q = self.w_q @ queries
        k = self.w_k @ z
        v = self.w_ov @ z
        for name, t in (("queries", q), ("keys", k), ("values", v)):
            check_finite_tensor(name, t, step="attention projections")
        out = queries + _attention_block(q, k, v, self.beta)
        check_finite_tensor("activations", out, step="attention")
        return self._ff_stack("post", self._n_post, out)
