"""Hypothesis strategies and builders for the prompt-tuning gradient claim (docs/training.md).

An instance is a small frozen model without ``FF_post`` (the gradient bound needs none; see
:mod:`core.gradient_bound`), ``N`` inputs ``X`` in ``[0, 1]``, targets ``Y`` and a
prompt ``P``, all built in float64 from the instance's seed. Two patterns:

- ``"random"``: weights as :func:`properties.strategies.build_model_case` (``FF_pre``,
  positional encodings), ``N`` inputs, targets uniform in ``[0, 1]``, prompt ``N(0, 1)``.
- ``"scalar"``: ``d = s = L = L_p = N = 1``, ``W_Q, W_K, W_O W_V`` scalars; two keys and
  one or two queries, so the gradient gap is dominated by one score and the bound is
  nearly attained (the family that shows the bound is not vacuous).

``β`` is lowered after measuring ``B`` if needed so that ``R = β·s·B² <= R_MAX``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from hypothesis import strategies as st

from core.kernels import KernelRegime, measured_norm
from core.model import PromptTunedTransformer
from core.weights import TransformerWeights

from .strategies import ModelInstance, build_model_case, seeds
from .strategies_kernel import R_MAX

__all__ = [
    "GRADIENT_PATTERNS",
    "GradientCase",
    "GradientInstance",
    "build_gradient_case",
    "gradient_instances",
]

GRADIENT_PATTERNS: tuple[str, ...] = ("random", "scalar")


@dataclass(frozen=True)
class GradientInstance(ModelInstance):
    """A :class:`~properties.strategies.ModelInstance` (float64, ``n_post = 0``) plus the
    sample count ``N``, the kernel's target ``eps`` and ``method``, whether the loss covers
    all ``n`` columns (``full``), and the ``pattern`` (module docstring)."""

    N: int = 2
    eps: float = 1e-6
    method: str = "chebyshev"
    full: bool = False
    pattern: str = "random"


@dataclass(frozen=True)
class GradientCase:
    """Model, ``X`` ``(N, d, L)``, ``Y`` ``(N, d, m)``, ``P`` ``(d, L_p)`` and measured ``B``."""

    model: PromptTunedTransformer
    X: torch.Tensor
    Y: torch.Tensor
    P: torch.Tensor
    B: float


def gradient_instances() -> st.SearchStrategy[GradientInstance]:
    """Small draws: ``d, s <= 3``, ``L, L_p <= 4``, ``N <= 3``, ``ε ∈ [1e-10, 1e-2]``."""
    return st.builds(
        GradientInstance, seed=seeds(), d=st.integers(1, 3), s=st.integers(1, 3),
        L=st.integers(1, 4), Lp=st.integers(1, 4), n_pre=st.integers(0, 2), n_post=st.just(0),
        hidden=st.integers(1, 5), positional=st.booleans(),
        beta=st.floats(0.05, 2.0, allow_nan=False, allow_infinity=False),
        weight_scale=st.floats(0.1, 1.5, allow_nan=False, allow_infinity=False),
        N=st.integers(1, 3),
        eps=st.floats(-10.0, -2.0, allow_nan=False, allow_infinity=False).map(
            lambda x: float(10.0**x)),
        method=st.sampled_from(("taylor", "chebyshev")), full=st.booleans(),
        pattern=st.sampled_from(GRADIENT_PATTERNS))


def _scalar_weights(rng: np.random.Generator, beta: float) -> tuple[TransformerWeights,
                                                                     np.ndarray, np.ndarray]:
    wq, wk = rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5) * rng.choice([-1.0, 1.0])
    w = TransformerWeights(w_q=np.array([[wq]]), w_k=np.array([[wk]]),
                           w_v=np.array([[rng.uniform(-1.0, 1.0)]]), w_o=np.array([[1.0]]),
                           beta=beta)
    return w, rng.uniform(0.0, 1.0, (1, 1, 1)), rng.uniform(-1.5, 1.5, (1, 1))


def _measured_B(model: PromptTunedTransformer, X: torch.Tensor, P: torch.Tensor) -> float:
    with torch.no_grad():
        return max(measured_norm(i.Q, i.K) for i in
                   (model.attention_inputs(X[k], P, full=True) for k in range(X.shape[0])))


def build_gradient_case(inst: GradientInstance) -> GradientCase:
    """Deterministic float64 model and data for ``inst`` (``β`` lowered so ``R <= R_MAX``)."""
    rng = np.random.default_rng(inst.seed)
    if inst.pattern == "scalar":
        weights, X, P = _scalar_weights(rng, 1.0)
        N, L = 1, 1
        y_low, y_high = -1.0, 2.0
    else:
        case = build_model_case(replace(inst, n_post=0, dtype="float64"))
        weights, P, N, L = case.weights, case.P, inst.N, inst.L
        X = np.concatenate([case.X[None], rng.uniform(0.0, 1.0, (N - 1, inst.d, L))])
        y_low, y_high = 0.0, 1.0
    Xt, Pt = torch.as_tensor(X), torch.as_tensor(P)
    B = _measured_B(PromptTunedTransformer(weights), Xt, Pt)
    s = weights.s
    beta = KernelRegime(s=s, beta=weights.beta, B=B).beta_within(R_MAX)
    if beta != weights.beta:
        weights = TransformerWeights(w_q=weights.w_q, w_k=weights.w_k, w_v=weights.w_v,
                                     w_o=weights.w_o, beta=beta, ff_pre=weights.ff_pre,
                                     pos=weights.pos)
    m = Pt.shape[1] + L if inst.full else L
    Y = torch.as_tensor(rng.uniform(y_low, y_high, (N, weights.d, m)))
    assert math.isfinite(B)
    return GradientCase(model=PromptTunedTransformer(weights), X=Xt, Y=Y, P=Pt, B=B)
