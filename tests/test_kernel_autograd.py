"""Gradients through the fast kernel reach the prompt P, and match exact attention's within a
derived first-order bound (float64 only, as NOTES.md advises for gradient checks).

Derivation. Take ``L = Σ_j ⟨C_j, Att_j⟩`` for a fixed ``C``; write the scores ``x_ij = β
k_iᵀq_j``, exact weights ``w_ij = e^{x_ij}/Σ_i e^{x_ij}``, ``a_ij = C_jᵀ v_i`` and
``A_j = Σ_i w_ij a_ij``. With ``p = e^x (1 + η)``, ``p' = e^x (1 + η')`` on ``[−R, R]`` and
certified ``|η| <= ε``, ``|η'| <= ε'``:

    ∂L/∂x_ij (exact) = w_ij (a_ij − A_j),      ∂L/∂x_ij (fast) = w_ij (1 + ξ_ij)(a_ij − Â_j),

with ``|ξ_ij| <= (ε + ε')/(1 − ε)`` and ``|Â_j − A_j| <= 2ε/(1−ε)·max_i |a_ij|`` (the error
lemma applied to the scalars ``a_ij``). So the score-gradient gap is at most
``δx_ij = w_ij [(ε+ε')/(1−ε)(|a_ij| + |Â_j|) + 2ε/(1−ε) max_i |a_ij|]``, and the value-gradient
gap ``|∂L/∂v_i (fast) − (exact)| <= Σ_j |C_j| w_ij 2ε/(1−ε)``. Chained through the
Jacobians of ``x`` and ``V`` with respect to ``P`` (computed by autograd, used in absolute
value), the gradient gap in ``P`` is at most ``|J_x|ᵀ δx + |J_V|ᵀ δV``; float64 rounding is
covered by the dtype table. The model has no ``FF_post`` so nothing else differs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.autograd.functional import jacobian

from core.kernels import ExpPolynomial, forward_with_polynomial_attention, plan_kernel
from core.kernels import polynomial_attention as fast_attention
from core.model import PromptTunedTransformer
from core.regime import attention_inputs
from properties.strategies import ModelInstance, build_model_case
from verify.certify import certify_polynomial
from verify.tolerances import tolerance_for


def _derivative_eps(plan) -> float:  # type: ignore[no-untyped-def]
    coeffs = plan.polynomial.coefficients
    deriv = tuple(k * c for k, c in enumerate(coeffs))[1:] or (0.0,)
    cert = certify_polynomial(ExpPolynomial(plan.method, len(deriv) - 1, plan.radius, deriv),
                              0.999)
    assert cert.certified
    return cert.sup_upper


def test_gradients_reach_prompt_within_derived_bound() -> None:
    case = build_model_case(ModelInstance(seed=4, d=3, s=3, L=3, Lp=3, n_pre=1, n_post=0,
                                          weight_scale=0.2, beta=0.5))
    model = PromptTunedTransformer(case.weights)
    X = torch.as_tensor(case.X)
    P0 = torch.as_tensor(case.P)
    with torch.no_grad():
        B = float(max(attention_inputs(model, X, P0).Q.abs().max(),
                      attention_inputs(model, X, P0).K.abs().max()))
    plan = plan_kernel(s=3, B=B * 1.05, beta=model.beta, eps=1e-2, method="taylor",
                       certifier=certify_polynomial)
    C = torch.as_tensor(np.random.default_rng(0).uniform(-1, 1, (3, 3)))

    def grad(fast: bool) -> torch.Tensor:
        P = P0.clone().requires_grad_(True)
        if fast:
            out = forward_with_polynomial_attention(model, X, P, plan)[0]
        else:
            out = model(X, P)
        (out * C).sum().backward()
        assert P.grad is not None
        return P.grad

    g_fast, g_exact = grad(True), grad(False)
    assert torch.isfinite(g_fast).all() and float(g_fast.abs().max()) > 0

    eps, eps_d = plan.certified_eps, _derivative_eps(plan)
    with torch.no_grad():
        inp = attention_inputs(model, X, P0, full=False)
        x = plan.beta * inp.K.T @ inp.Q                                   # (n, m)
        w = torch.softmax(x, dim=0)
        a = inp.V.T @ C                                                   # (n, m): a_ij
        A_hat = fast_attention(inp.Q, inp.K, inp.V, plan)                 # (d, m)
        A_hat_c = (A_hat * C).sum(dim=0, keepdim=True)                    # (1, m)
        a_max = a.abs().amax(dim=0, keepdim=True)
        delta_x = w * ((eps + eps_d) / (1 - eps) * (a.abs() + A_hat_c.abs())
                       + 2 * eps / (1 - eps) * a_max)
        delta_v = (C.abs() @ w.T) * 2 * eps / (1 - eps)                   # (d, n)

    def scores(P: torch.Tensor) -> torch.Tensor:
        inp = attention_inputs(model, X, P, full=False)
        return plan.beta * inp.K.T @ inp.Q

    def values(P: torch.Tensor) -> torch.Tensor:
        return attention_inputs(model, X, P, full=False).V

    J_x = jacobian(scores, P0).abs()                                      # (n, m, d, Lp)
    J_v = jacobian(values, P0).abs()                                      # (d, n, d, Lp)
    bound = (torch.einsum("ij,ijab->ab", delta_x, J_x)
             + torch.einsum("kn,knab->ab", delta_v, J_v))
    tol = tolerance_for(torch.float64).bound(float(g_exact.abs().max()))
    assert ((g_fast - g_exact).abs() <= bound + tol).all(), (g_fast - g_exact, bound)
    assert float((g_fast - g_exact).abs().max()) > 0          # the approximation is visible


def test_kernel_passes_gradcheck() -> None:
    plan = plan_kernel(s=2, B=0.5, beta=0.7, eps=1e-6, certifier=certify_polynomial)
    gen = torch.Generator().manual_seed(1)
    Q = ((torch.rand(2, 4, generator=gen, dtype=torch.float64) - 0.5) * 0.9).requires_grad_()
    K = ((torch.rand(2, 5, generator=gen, dtype=torch.float64) - 0.5) * 0.9).requires_grad_()
    V = torch.rand(3, 5, generator=gen, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda q, k, v: fast_attention(q, k, v, plan, chunk=2),
                                    (Q, K, V))
