"""The one-layer, one-head prompt-tuned transformer τ_P as a ``torch.nn.Module``.

docs/theory.md §1:

    τ_P(X) = (FF_post ∘ Attn ∘ FF_pre)([P, X] + E)[:, L_p:]
    Attn(Z) = Z + W_O W_V Z · softmax_col(β (W_K Z)ᵀ (W_Q Z))

Tokens are columns: ``X`` is ``(d, L)`` (or ``(..., d, L)`` for a batch), the soft prompt
``P`` is ``(d, L_p)`` and is shared across the batch. Every weight is a frozen buffer; only
``P`` varies. The mpmath twin of the same weights is :func:`core.mp_twin.mp_forward`.

The model's pieces are public, and everything that runs part of τ (the regime audit, τ with
the polynomial kernel, prompt tuning, the gradient bound) goes through them:
:meth:`~PromptTunedTransformer.embed` (``[P, X] + E``), :meth:`~PromptTunedTransformer.ff_pre`,
:meth:`~PromptTunedTransformer.attention_inputs` (``Q, K, V``),
:meth:`~PromptTunedTransformer.attend` (exact attention with residual),
:meth:`~PromptTunedTransformer.ff_post`, and :attr:`~PromptTunedTransformer.ff_pre_layers`
/ :attr:`~PromptTunedTransformer.ff_post_layers` for the feed-forward weights as tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .attention import attention_block
from .errors import InvalidArgument
from .validation import check_device, check_dtype, check_finite_tensor, short_repr
from .weights import TransformerWeights

__all__ = ["AttentionInputs", "FeedForwardLayer", "PromptTunedTransformer", "feed_forward"]


def feed_forward(z: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor,
                 b2: torch.Tensor) -> torch.Tensor:
    """Token-wise ``Z + W_2 ReLU(W_1 Z + b_1 1ᵀ) + b_2 1ᵀ`` for ``Z`` of shape ``(..., d, n)``."""
    hidden = torch.relu(w1 @ z + b1[:, None])
    return z + w2 @ hidden + b2[:, None]


@dataclass(frozen=True)
class AttentionInputs:
    """What attention sees: ``Z`` ``(..., d, n)`` (after ``E`` and ``FF_pre``), the query
    tokens ``(..., d, m)`` used in the residual, ``Q = W_Q·queries`` ``(..., s, m)``,
    ``K = W_K Z`` ``(..., s, n)`` and ``V = W_O W_V Z`` ``(..., d, n)``; ``m = n`` with
    ``full``, else ``m = L`` (docs/theory.md §3)."""

    Z: torch.Tensor
    queries: torch.Tensor
    Q: torch.Tensor
    K: torch.Tensor
    V: torch.Tensor


class FeedForwardLayer(nn.Module):
    """One frozen token-wise layer ``Z + W_2 ReLU(W_1 Z + b_1 1ᵀ) + b_2 1ᵀ`` (buffers)."""

    w1: torch.Tensor
    b1: torch.Tensor
    w2: torch.Tensor
    b2: torch.Tensor

    def __init__(self, arrays: Sequence[object], *, dtype: torch.dtype,
                 device: str | torch.device):
        super().__init__()
        for part, array in zip(("w1", "b1", "w2", "b2"), arrays, strict=True):
            self.register_buffer(part, torch.tensor(np.array(array), dtype=dtype,
                                                    device=device))

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(W_1, b_1, W_2, b_2)``: ``(h, d)``, ``(h,)``, ``(d, h)``, ``(d,)``."""
        return self.w1, self.b1, self.w2, self.b2

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return feed_forward(z, *self.tensors)


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
        device = check_device("device", device)
        self.beta = weights.beta if dtype == torch.float64 else float(
            torch.tensor(weights.beta, dtype=dtype))

        def buf(name: str, array: object) -> None:
            self.register_buffer(name, torch.tensor(np.array(array), dtype=dtype, device=device))

        buf("w_q", weights.w_q)
        buf("w_k", weights.w_k)
        buf("w_ov", weights.w_o @ weights.w_v)   # W_O W_V, composed in float64 once
        buf("pos", weights.pos if weights.pos is not None else np.zeros(0))
        self.pre = nn.ModuleList(FeedForwardLayer(layer.arrays(), dtype=dtype, device=device)
                                 for layer in weights.ff_pre)
        self.post = nn.ModuleList(FeedForwardLayer(layer.arrays(), dtype=dtype, device=device)
                                  for layer in weights.ff_post)

    @property
    def d(self) -> int:
        return self.weights.d

    @property
    def ff_pre_layers(self) -> tuple[FeedForwardLayer, ...]:
        """The ``FF_pre`` stack, first layer first."""
        return tuple(self.pre)  # type: ignore[arg-type]

    @property
    def ff_post_layers(self) -> tuple[FeedForwardLayer, ...]:
        """The ``FF_post`` stack, first layer first."""
        return tuple(self.post)  # type: ignore[arg-type]

    @staticmethod
    def _run_stack(stage: str, layers: nn.ModuleList, z: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(layers):
            z = layer(z)
            check_finite_tensor("activations", z, step=f"FF_{stage}[{i}]")
        return z

    def ff_pre(self, z: torch.Tensor) -> torch.Tensor:
        """``FF_pre`` on ``z`` ``(..., d, n)``; a non-finite activation names its layer."""
        return self._run_stack("pre", self.pre, z)

    def ff_post(self, z: torch.Tensor) -> torch.Tensor:
        """``FF_post`` on ``z`` ``(..., d, m)``; a non-finite activation names its layer."""
        return self._run_stack("post", self.post, z)

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

    def attention_inputs(self, X: torch.Tensor, P: torch.Tensor, *,
                         full: bool = True) -> AttentionInputs:
        """Queries, keys and values on ``[P, X] + E`` after ``FF_pre``.

        ``X``: ``(..., d, L)``; ``P``: ``(d, L_p)``. ``full``: all ``n`` columns query (the
        regime is measured over them), else only the last ``L``. Differentiable in ``P``.
        """
        z = self.ff_pre(self.embed(X, P))
        lp = 0 if full else P.shape[-1]
        # Q is projected over all n columns and then sliced, so a query's entries are the
        # same bits whether or not the readout alone is asked for (a strided product of the
        # last L columns can round differently, and B measured over all n must cover it).
        inputs = AttentionInputs(Z=z, queries=z[..., lp:], Q=(self.w_q @ z)[..., lp:],
                                 K=self.w_k @ z, V=self.w_ov @ z)
        for name, t in (("queries", inputs.Q), ("keys", inputs.K), ("values", inputs.V)):
            check_finite_tensor(name, t, step="attention projections")
        return inputs

    def attend(self, inputs: AttentionInputs) -> torch.Tensor:
        """Exact attention with residual: ``queries + V·softmax_col(β KᵀQ)`` ``(..., d, m)``."""
        out = inputs.queries + attention_block(inputs.Q, inputs.K, inputs.V, self.beta)
        check_finite_tensor("activations", out, step="attention")
        return out

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
        return self.ff_post(self.attend(self.attention_inputs(X, P, full=full)))
