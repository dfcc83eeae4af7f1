"""A certified bound on the prompt-gradient gap, kernel vs exact attention (docs/training.md).

Paper label ``thm:inference_linear`` (the polynomial method), applied to prompt tuning's
backward pass. The model is τ of docs/theory.md §1 **without FF_post** (a ReLU ``FF_post`` makes
the gradient jump when the forward error moves a pre-activation across 0, so no bound of this
kind holds; :func:`prompt_gradient_bound` refuses it). ``FF_pre`` and ``E`` act before
attention and are identical in both passes.

Loss ``ℓ(P) = Σ_i c·‖τ_P(X_i) − Y_i‖_F²`` with ``c = 1/(N·d·m)`` (mean squared error over
``N`` samples, ``d`` rows, ``m`` output columns). With certified ``|p e^{−x} − 1| <= ε`` and
``|p' e^{−x} − 1| <= ε'`` on ``[−R, R]`` (plus the float64 rounding of the kernel folded in as
``ρ``, ``ρ'``), per sample and query column ``j`` (derivation step by step in
docs/training.md):

    κ = 2ε̃/(1−ε̃),   ξ = (ε̃+ε̃')/(1−ε̃),   ε̃ = ε+ρ, ε̃' = ε'+ρ'
    δ_att = κ‖V‖_max                      |Âtt − Att| entrywise
    ΔG = 2c·δ_att                         |Ĝ − G|, G = 2c(O − Y) the output gradient
    δs_ij = w_ij [ξ(|a_ij| + |A_j| + Δa_i + ΔA_j) + Δa_i + ΔA_j]   score-gradient gap
    δv_i = Σ_j w_ij [κ(|G_j| + ΔG) + ΔG]                           value-gradient gap

with ``a_ij = G_j·v_i``, ``A_j = G_j·Att_j``, ``Δa_i = ΔG‖v_i‖_1``,
``ΔA_j = ΔG(‖Att_j‖_1 + d·δ_att) + ‖G_j‖_1 δ_att``; then through ``s = β KᵀQ``,
``Q = W_Q Z_q``, ``K = W_K Z``, ``V = W_O W_V Z``, the residual and ``FF_pre`` (Jacobian
bounded entrywise by ``Π_l (I + |W_2^l||W_1^l|)``) to ``P``, each step with absolute values.
A float64 allowance ``2(1+ξ)γ_M·(the same chain on the absolute terms of the exact
gradient)`` covers the rounding of everything outside the kernel's sums (Higham-style, like
:func:`~core.kernels.fast_attention.rounding_allowance`).

The certificate of ``p'`` comes from :func:`core.kernels.certify.certify_derivative` by default
(another certifier may be injected) and is checked here against the plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .errors import InvalidArgument
from .kernels.certify import certify_derivative
from .kernels.fast_attention import higham_gamma, kernel_relative_rounding, measured_norm
from .kernels.plan import KernelPlan
from .model import PromptTunedTransformer
from .prompt_tuning import check_training_data
from .validation import short_repr

__all__ = [
    "DerivativeCertifier",
    "GradientBound",
    "certified_derivative_eps",
    "derivative_rounding",
    "kernel_relative_rounding",
    "prompt_gradient_bound",
]

PAPER_REF = "thm:inference_linear"

#: ``certifier(plan.polynomial) -> certificate`` of ``sup |p' e^{−x} − 1|`` on ``[−R, R]``.
DerivativeCertifier = Callable[[Any], Any]


def certified_derivative_eps(plan: KernelPlan,
                             certifier: DerivativeCertifier = certify_derivative) -> float:
    """``ε' >= sup_{|x|<=R} |p'(x)e^{−x} − 1|``, certified for exactly the plan's ``p``.

    Raises:
        InvalidArgument: the certifier's answer is not certified, is for other coefficients,
            is not about the derivative, or covers a smaller radius than ``plan.radius``.
    """
    if not isinstance(plan, KernelPlan):
        raise InvalidArgument(f"plan={plan!r}: expected a KernelPlan")
    if not callable(certifier):
        raise InvalidArgument(f"certifier={certifier!r}: expected a callable")
    cert = certifier(plan.polynomial)
    if getattr(cert, "verdict", None) != "certified":
        raise InvalidArgument(f"derivative certificate verdict="
                              f"{getattr(cert, 'verdict', None)!r}: expected 'certified'")
    if not getattr(cert, "derivative", False):
        raise InvalidArgument("certificate is not about the derivative p' (derivative=False)")
    if (tuple(cert.coefficients) != tuple(plan.polynomial.coefficients)
            or cert.degree != plan.degree):
        raise InvalidArgument("derivative certificate was issued for other coefficients "
                              "than the plan's polynomial")
    if not cert.radius >= plan.radius:
        raise InvalidArgument(f"derivative certificate covers radius={cert.radius!r}; the "
                              f"plan needs radius>={plan.radius!r}")
    return float(cert.sup_upper)


def derivative_rounding(plan: KernelPlan, n: int, m: int, dtype: torch.dtype) -> float:
    """``ρ' = γ_N' P̃'(R) e^R`` with ``P̃'(R) = Σ_j j|c_j|R^{j−1}`` and
    ``N' = n + m + r + 3g + 10``: the backward pass sums, for every query, ``n`` keys times
    ``r`` derivative monomials of at most ``3g + 10`` rounded factors."""
    u = torch.finfo(dtype).eps / 2
    R = plan.radius
    dp_abs = sum(j * abs(c) * R ** (j - 1) for j, c in
                 enumerate(plan.polynomial.coefficients) if j >= 1)
    return higham_gamma(n + m + plan.rank + 3 * plan.degree + 10, u) * dp_abs * math.exp(R)


@dataclass(frozen=True)
class GradientBound:
    """Entrywise bound on ``|∇_P ℓ_fast − ∇_P ℓ_exact|`` and its ingredients.

    Attributes:
        bound: ``(d, L_p)`` tensor, the entrywise bound (kernel part + rounding part).
        kernel_part, rounding_part: ``(d, L_p)`` tensors whose sum is ``bound``.
        eps, eps_derivative: certified ``ε`` and ``ε'``; rho, rho_derivative: the kernel's
            rounding as relative errors ``ρ``, ``ρ'``; xi, kappa: the factors above.
        delta_att: largest per-sample output bound ``κ‖V‖_max``.
    """

    bound: torch.Tensor
    kernel_part: torch.Tensor
    rounding_part: torch.Tensor
    eps: float
    eps_derivative: float
    rho: float
    rho_derivative: float
    xi: float
    kappa: float
    delta_att: float
    paper_ref: str = PAPER_REF


def _ff_pre_abs_jacobian(model: PromptTunedTransformer) -> torch.Tensor:
    """``Π_l (I + |W_2^l||W_1^l|)`` (last layer leftmost): bounds ``|∂FF_pre/∂z|`` entrywise
    for any ReLU activation pattern (ReLU' ∈ {0, 1})."""
    d = model.d
    J = torch.eye(d, dtype=model.dtype)
    for layer in model.ff_pre_layers:
        J = (torch.eye(d, dtype=model.dtype) + layer.w2.abs() @ layer.w1.abs()) @ J
    return J


def _chain_to_prompt(model: PromptTunedTransformer, inp: Any, beta: float, delta_s: torch.Tensor,
                     delta_v: torch.Tensor, delta_g: torch.Tensor, lp: int,
                     J_abs: torch.Tensor) -> torch.Tensor:
    """``(d, L_p)`` bound on the prompt-gradient gap from the score, value and output gaps.

    ``delta_s`` ``(n, m)``, ``delta_v`` ``(d, n)``, ``delta_g`` ``(d, m)`` (gap of the
    gradient reaching the query tokens through the residual).
    """
    n, m = delta_s.shape
    d_q = beta * inp.K.abs() @ delta_s                         # (s, m) query-gradient gap
    d_k = beta * inp.Q.abs() @ delta_s.T                       # (s, n) key-gradient gap
    d_z = model.w_k.abs().T @ d_k + model.w_ov.abs().T @ delta_v    # (d, n)
    d_z[:, n - m:] += model.w_q.abs().T @ d_q + delta_g        # query columns are the last m
    return J_abs.T @ d_z[:, :lp]


def prompt_gradient_bound(model: PromptTunedTransformer, X: torch.Tensor, Y: torch.Tensor,
                          P: torch.Tensor, plan: KernelPlan, eps_derivative: float, *,
                          full: bool = False) -> GradientBound:
    """Entrywise bound on ``|∇_P ℓ_fast − ∇_P ℓ_exact|`` for the mean-squared-error loss.

    Args:
        model: float64 τ with no ``FF_post``; ``plan.s``, ``plan.beta`` must match it.
        X: inputs ``(N, d, L)``; Y: targets ``(N, d, m)`` (``m = L``, or ``L_p + L`` with
            ``full``); P: prompt ``(d, L_p)``.
        plan: the certified plan the fast pass uses (its ``B`` must cover every sample).
        eps_derivative: certified ``ε'`` (:func:`certified_derivative_eps`).
        full: the loss is over all ``n`` output columns instead of the readout.

    Returns:
        a :class:`GradientBound`; everything is computed from the exact float64 pass.

    Raises:
        InvalidArgument: bad arguments, a model with ``FF_post``, ``ε + ρ >= 1``, or a sample
            whose measured ``B`` exceeds ``plan.B``.
    """
    if not isinstance(model, PromptTunedTransformer) or model.dtype != torch.float64:
        raise InvalidArgument(f"model={short_repr(model)}: expected a float64 "
                              "PromptTunedTransformer")
    model, X, Y, P = check_training_data(model, X, Y, P, full=full)
    if model.ff_post_layers:
        raise InvalidArgument(
            f"model has {len(model.ff_post_layers)} FF_post layer(s): a ReLU after attention "
            "makes the gradient discontinuous in the attention output, so no gradient-gap "
            "bound holds")
    if not isinstance(plan, KernelPlan) or plan.s != model.weights.s or plan.beta != model.beta:
        raise InvalidArgument(f"plan={short_repr(plan)}: expected a KernelPlan with the "
                              "model's s and beta")
    e_d = float(eps_derivative)
    if not (math.isfinite(e_d) and e_d >= 0):
        raise InvalidArgument(f"eps_derivative={eps_derivative!r}: expected a finite number >= 0")
    N, lp = X.shape[0], P.shape[1]
    m = Y.shape[-1]
    n = lp + X.shape[-1]
    u = torch.finfo(torch.float64).eps / 2
    rho = kernel_relative_rounding(plan, n, torch.float64)
    rho_d = derivative_rounding(plan, n, m, torch.float64)
    eps_t, eps_dt = plan.certified_eps + rho, e_d + rho_d
    if not eps_t < 1:
        raise InvalidArgument(f"eps + rho = {eps_t!r}: the normaliser may vanish (needs < 1)")
    kappa, xi = 2 * eps_t / (1 - eps_t), (eps_t + eps_dt) / (1 - eps_t)
    d = model.d
    hidden = sum(layer.w1.shape[0] + d for layer in model.ff_pre_layers)
    gamma_m = higham_gamma(n + m + 2 * (plan.s + d) + hidden + 16, u)
    c = 1.0 / (N * d * m)
    J_abs = _ff_pre_abs_jacobian(model)
    kernel = torch.zeros(d, lp, dtype=torch.float64)
    rounding = torch.zeros(d, lp, dtype=torch.float64)
    delta_att_max = 0.0
    with torch.no_grad():
        for i in range(N):
            inp = model.attention_inputs(X[i], P, full=full)
            measured = measured_norm(inp.Q, inp.K)
            if measured > plan.B:
                raise InvalidArgument(
                    f"plan={short_repr(plan)}: sample {i} has B={measured!r} above the plan's "
                    f"B={plan.B!r}, so its scores may leave [-R, R] and no bound holds")
            w = torch.softmax(plan.beta * inp.K.T @ inp.Q, dim=0)            # (n, m)
            att = inp.V @ w                                                  # (d, m)
            G = 2 * c * (inp.queries + att - Y[i])                           # (d, m)
            delta_att = kappa * float(inp.V.abs().max())
            delta_att_max = max(delta_att_max, delta_att)
            dG = 2 * c * delta_att
            a = inp.V.T @ G                                                  # (n, m)
            A = (w * a).sum(dim=0, keepdim=True)                             # (1, m)
            da = dG * inp.V.abs().sum(dim=0)[:, None]                        # (n, 1)
            dA = dG * (att.abs().sum(dim=0, keepdim=True) + d * delta_att) \
                + G.abs().sum(dim=0, keepdim=True) * delta_att               # (1, m)
            ds = w * (xi * (a.abs() + A.abs() + da + dA) + da + dA)
            dv = (kappa * (G.abs() + dG) + dG) @ w.T                         # (d, n)
            kernel += _chain_to_prompt(model, inp, plan.beta, ds, dv,
                                       torch.full_like(G, dG), lp, J_abs)
            G_abs = 2 * c * (inp.queries.abs() + inp.V.abs() @ w + Y[i].abs())
            a_abs = inp.V.abs().T @ G_abs
            s_abs = w * (a_abs + (w * a_abs).sum(dim=0, keepdim=True))
            rounding += _chain_to_prompt(model, inp, plan.beta, s_abs, G_abs @ w.T, G_abs,
                                         lp, J_abs)
    rounding = 2 * (1 + xi) * gamma_m * rounding
    return GradientBound(bound=kernel + rounding, kernel_part=kernel, rounding_part=rounding,
                         eps=plan.certified_eps, eps_derivative=e_d, rho=rho,
                         rho_derivative=rho_d, xi=xi, kappa=kappa, delta_att=delta_att_max)
