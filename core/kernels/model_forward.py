"""The prompt-tuned model with the polynomial kernel inside (docs/theory.md §3, K7).

Paper label ``thm:inference_linear``. ``τ_P`` with ``Attn`` computed by
:func:`~core.kernels.fast_attention.polynomial_attention_with_info`; everything else is the
frozen :class:`~core.model.PromptTunedTransformer`. Because only the attention term changes
and ``FF_post`` acts token-wise,

    ‖τ_fast − τ‖_max <= Lip_∞(FF_post) · 2ε/(1+√(1−ε²)) · ‖V‖_max,

where ``Lip_∞`` is the max-norm Lipschitz constant of the ``FF_post`` stack, bounded from the
weights by :func:`feed_forward_lipschitz` (``Π_layers (1 + ‖W_2‖_∞ ‖W_1‖_∞)``, with ``‖·‖_∞``
the max absolute row sum, ReLU being 1-Lipschitz coordinate-wise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..errors import InvalidArgument
from ..model import PromptTunedTransformer
from ..weights import FeedForwardWeights
from .fast_attention import KernelInfo, polynomial_attention_with_info
from .plan import KernelPlan

__all__ = ["feed_forward_lipschitz", "forward_with_polynomial_attention"]

PAPER_REF = "thm:inference_linear"


def _row_sum_upper(matrix: object) -> float:
    """``max_i Σ_j |M_ij|`` rounded up (``math.fsum`` is correctly rounded)."""
    rows = [math.fsum(abs(float(x)) for x in row) for row in matrix]  # type: ignore[attr-defined]
    return math.nextafter(max(rows, default=0.0), math.inf)


def feed_forward_lipschitz(layers: Sequence[FeedForwardWeights]) -> float:
    """Upper bound on the max-norm Lipschitz constant of a token-wise ReLU FF stack.

    Each layer ``z + W_2 ReLU(W_1 z + b_1) + b_2`` is ``(1 + ‖W_2‖_∞‖W_1‖_∞)``-Lipschitz in
    ``‖·‖_∞`` per token, hence in ``‖·‖_max`` per sequence; the stack multiplies. Every
    product is rounded up, so the float returned is an upper bound. ``1.0`` for no layers.
    """
    bound = 1.0
    for i, layer in enumerate(layers):
        if not isinstance(layer, FeedForwardWeights):
            raise InvalidArgument(f"layers[{i}]={layer!r}: expected FeedForwardWeights")
        step = math.nextafter(_row_sum_upper(layer.w2) * _row_sum_upper(layer.w1), math.inf)
        bound = math.nextafter(bound * math.nextafter(1.0 + step, math.inf), math.inf)
    return bound


def forward_with_polynomial_attention(
        model: PromptTunedTransformer, X: torch.Tensor, P: torch.Tensor, plan: KernelPlan, *,
        full: bool = False, **options: object) -> tuple[torch.Tensor, KernelInfo, float]:
    """``τ_P(X)`` with the fast kernel, its kernel info and the whole-model error bound.

    Args:
        model: the frozen model; ``plan.s``, ``plan.beta`` must match its ``s`` and ``β``.
        X: ``(d, L)``; P: ``(d, L_p)`` (gradients flow to ``P``).
        plan: certified kernel plan; ``options`` go to the kernel (``chunk``,
            ``memory_limit``, ``out_of_regime``).
        full: all ``n`` columns instead of the last ``L``.

    Returns:
        ``(output, info, model_bound)`` with
        ``model_bound = Lip_∞(FF_post) · info.bound``.
    """
    if not isinstance(plan, KernelPlan):
        raise InvalidArgument(f"plan={plan!r}: expected a KernelPlan")
    if plan.s != model.weights.s or plan.beta != model.beta:
        raise InvalidArgument(
            f"plan (s={plan.s}, beta={plan.beta!r}) does not match the model "
            f"(s={model.weights.s}, beta={model.beta!r})")
    inputs = model.attention_inputs(X, P, full=full)
    att, info = polynomial_attention_with_info(inputs.Q, inputs.K, inputs.V, plan,
                                               **options)  # type: ignore[arg-type]
    out = model.ff_post(inputs.queries + att)
    return out, info, feed_forward_lipschitz(model.weights.ff_post) * info.bound
