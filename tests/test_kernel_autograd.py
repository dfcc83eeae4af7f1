"""Gradients through the fast kernel reach the prompt P, and match exact attention's within a
derived first-order bound (float64 only, as docs/theory.md §6 advises for gradient checks).

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

import math

import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian

from core.kernels import ExpPolynomial, forward_with_polynomial_attention, plan_kernel
from core.kernels import polynomial_attention as fast_attention
from core.kernels.certify import certify_polynomial
from core.model import PromptTunedTransformer
from properties.strategies import ModelInstance, build_model_case
from properties.tolerances import tolerance_for


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
        B = float(max(model.attention_inputs(X, P0).Q.abs().max(),
                      model.attention_inputs(X, P0).K.abs().max()))
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
        inp = model.attention_inputs(X, P0, full=False)
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
        inp = model.attention_inputs(X, P, full=False)
        return plan.beta * inp.K.T @ inp.Q

    def values(P: torch.Tensor) -> torch.Tensor:
        return model.attention_inputs(X, P, full=False).V

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


# --- the gradient-gap bound (core.gradient_bound) against docs/training.md -----------
#
# The bound is a formula; a test that only checks "gap <= bound" cannot notice a bound made
# looser. So the formula of docs/training.md (steps 1-9) is written out again below, entry by
# entry in mpmath (40 digits) from the same float64 inputs (the model's Q, K, V, Z_q, weights),
# and compared with the code's value. Every entry of the code's result comes from those inputs
# through at most K = 4(n + m + s + d + Σ_l h_l + N) + 64 successive float64 roundings on
# terms whose signed parts (G, a, A, Att) are dominated by the positive Δ terms of the same
# size, so each entry is within γ_K (Higham) relatively of the exact value of the formula.

def _gb_gamma(count: int, u: object) -> object:
    return count * u / (1 - count * u)  # type: ignore[operator]


def _gb_reference(model: PromptTunedTransformer, X: torch.Tensor, Y: torch.Tensor,
                  P: torch.Tensor, plan: object, eps_d: float, full: bool) -> dict:
    """docs/training.md's bound in mpmath, with plain loops (no code shared with the module)."""
    import mpmath

    mpf = mpmath.mpf
    with mpmath.workdps(40):
        N, d, L = X.shape
        lp = P.shape[1]
        n, m = lp + L, Y.shape[-1]
        s, g, r = plan.s, plan.degree, plan.rank                   # type: ignore[attr-defined]
        beta, R = mpf(plan.beta), mpf(plan.radius)                 # type: ignore[attr-defined]
        coeffs = [mpf(c) for c in plan.polynomial.coefficients]    # type: ignore[attr-defined]
        u = mpf(2) ** -53
        p_abs = mpmath.fsum(abs(c) * R**j for j, c in enumerate(coeffs))
        dp_abs = mpmath.fsum(j * abs(c) * R ** (j - 1) for j, c in enumerate(coeffs) if j)
        rho = _gb_gamma(n + r + 2 * g + 6, u) * p_abs * mpmath.exp(R)            # step 9(a)
        rho_d = _gb_gamma(n + m + r + 3 * g + 10, u) * dp_abs * mpmath.exp(R)
        e_t = mpf(plan.certified_eps) + rho                        # type: ignore[attr-defined]
        ed_t = mpf(eps_d) + rho_d
        kappa, xi = 2 * e_t / (1 - e_t), (e_t + ed_t) / (1 - e_t)
        layers = model.weights.ff_pre
        M = n + m + 2 * (s + d) + sum(layer.hidden + d for layer in layers) + 16   # step 9(b)
        gamma_M = _gb_gamma(M, u)
        c = mpf(1) / (N * d * m)
        J = mpmath.eye(d)                                          # step 8: Π (I + |W2||W1|)
        for layer in layers:
            w1, w2 = mpmath.matrix(np.abs(layer.w1).tolist()), mpmath.matrix(
                np.abs(layer.w2).tolist())
            J = (mpmath.eye(d) + w2 * w1) * J
        Wq, Wk, Wov = (np.abs(t.numpy()).tolist() for t in (model.w_q, model.w_k, model.w_ov))

        def chain(ds: list, dv: list, dg: list, inp: object) -> list:
            """Step 7 then step 8: gaps of scores, values and the residual to P."""
            Qa = [[abs(mpf(x)) for x in row] for row in inp.Q.tolist()]    # type: ignore
            Ka = [[abs(mpf(x)) for x in row] for row in inp.K.tolist()]    # type: ignore
            dq = [[beta * mpmath.fsum(Ka[t][i] * ds[i][j] for i in range(n))
                   for j in range(m)] for t in range(s)]
            dk = [[beta * mpmath.fsum(Qa[t][j] * ds[i][j] for j in range(m))
                   for i in range(n)] for t in range(s)]
            dz = [[mpmath.fsum(Wk[t][a] * dk[t][i] for t in range(s))
                   + mpmath.fsum(Wov[b][a] * dv[b][i] for b in range(d))
                   for i in range(n)] for a in range(d)]
            for j in range(m):                                     # query columns: last m
                for a in range(d):
                    dz[a][n - m + j] += mpmath.fsum(Wq[t][a] * dq[t][j] for t in range(s))
                    dz[a][n - m + j] += dg[a][j]
            return [[mpmath.fsum(J[b, a] * dz[b][col] for b in range(d)) for col in range(lp)]
                    for a in range(d)]

        kernel = [[mpf(0)] * lp for _ in range(d)]
        rounding = [[mpf(0)] * lp for _ in range(d)]
        delta_att_max = mpf(0)
        for k in range(N):
            with torch.no_grad():
                inp = model.attention_inputs(X[k], P, full=full)
            Q, K, V, Zq = ([[mpf(x) for x in row] for row in t.tolist()]
                           for t in (inp.Q, inp.K, inp.V, inp.queries))
            Yk = [[mpf(x) for x in row] for row in Y[k].tolist()]
            w = [[mpf(0)] * m for _ in range(n)]
            for j in range(m):
                e = [mpmath.exp(beta * mpmath.fsum(K[t][i] * Q[t][j] for t in range(s)))
                     for i in range(n)]
                total = mpmath.fsum(e)
                for i in range(n):
                    w[i][j] = e[i] / total
            att = [[mpmath.fsum(V[a][i] * w[i][j] for i in range(n)) for j in range(m)]
                   for a in range(d)]
            G = [[2 * c * (Zq[a][j] + att[a][j] - Yk[a][j]) for j in range(m)]
                 for a in range(d)]
            delta_att = kappa * max(abs(x) for row in V for x in row)          # step 1
            delta_att_max = max(delta_att_max, delta_att)
            dG = 2 * c * delta_att
            a_ = [[mpmath.fsum(G[b][j] * V[b][i] for b in range(d)) for j in range(m)]
                  for i in range(n)]
            A = [mpmath.fsum(w[i][j] * a_[i][j] for i in range(n)) for j in range(m)]
            da = [dG * mpmath.fsum(abs(V[b][i]) for b in range(d)) for i in range(n)]
            dA = [dG * (mpmath.fsum(abs(att[b][j]) for b in range(d)) + d * delta_att)
                  + mpmath.fsum(abs(G[b][j]) for b in range(d)) * delta_att for j in range(m)]
            ds = [[w[i][j] * (xi * (abs(a_[i][j]) + abs(A[j]) + da[i] + dA[j]) + da[i] + dA[j])
                   for j in range(m)] for i in range(n)]                       # step 4
            dv = [[mpmath.fsum(w[i][j] * (kappa * (abs(G[b][j]) + dG) + dG) for j in range(m))
                   for i in range(n)] for b in range(d)]                       # step 5
            part = chain(ds, dv, [[dG] * m for _ in range(d)], inp)            # step 6: ΔG
            # step 9(b): the same chain on the absolute terms of the exact gradient
            Ga = [[2 * c * (abs(Zq[b][j]) + mpmath.fsum(abs(V[b][i]) * w[i][j]
                                                        for i in range(n)) + abs(Yk[b][j]))
                   for j in range(m)] for b in range(d)]
            aa = [[mpmath.fsum(abs(V[b][i]) * Ga[b][j] for b in range(d)) for j in range(m)]
                  for i in range(n)]
            sa = [[w[i][j] * (aa[i][j] + mpmath.fsum(w[k2][j] * aa[k2][j] for k2 in range(n)))
                   for j in range(m)] for i in range(n)]
            va = [[mpmath.fsum(Ga[b][j] * w[i][j] for j in range(m)) for i in range(n)]
                  for b in range(d)]
            rpart = chain(sa, va, Ga, inp)
            for a in range(d):
                for col in range(lp):
                    kernel[a][col] += part[a][col]
                    rounding[a][col] += 2 * (1 + xi) * gamma_M * rpart[a][col]
        as_np = lambda rows: np.array([[float(x) for x in row] for row in rows])  # noqa: E731
        hidden = sum(layer.hidden for layer in layers)
        return {"kernel_part": as_np(kernel), "rounding_part": as_np(rounding),
                "rho": float(rho), "rho_derivative": float(rho_d), "kappa": float(kappa),
                "xi": float(xi), "delta_att": float(delta_att_max),
                "steps": 4 * (n + m + s + d + hidden + N) + 64}


def _gb_case(inst: object, eps_d_factor: float = 3.0) -> tuple:
    from properties.claims_training import plan_for
    from properties.strategies_training import build_gradient_case

    case = build_gradient_case(inst)                               # type: ignore[arg-type]
    plan = plan_for(case.model, case.B, inst.eps, inst.method)      # type: ignore[attr-defined]
    return case, plan, eps_d_factor * plan.certified_eps


def _gb_points() -> list:
    from properties.strategies_training import GradientInstance

    return [
        # full loss (P's columns are queries too), one FF_pre layer, two samples
        GradientInstance(seed=3, d=2, s=2, L=2, Lp=3, n_pre=1, n_post=0, N=2, eps=1e-8,
                         full=True),
        # readout loss, two FF_pre layers of width 5, positional encoding, Taylor
        GradientInstance(seed=1, d=3, s=2, L=2, Lp=2, n_pre=2, hidden=5, n_post=0,
                         positional=True, N=2, eps=1e-6, method="taylor", full=False),
    ]


@pytest.mark.parametrize("index", [0, 1], ids=["full", "readout"])
def test_gradient_bound_is_the_documented_formula(index: int) -> None:
    """Kernel part, rounding part, their sum and the scalar ingredients (ρ, ρ', κ, ξ,
    δ_att) equal docs/training.md's formulas recomputed in mpmath, within γ_K; float64."""
    from core.gradient_bound import prompt_gradient_bound

    inst = _gb_points()[index]
    case, plan, eps_d = _gb_case(inst)
    gb = prompt_gradient_bound(case.model, case.X, case.Y, case.P, plan, eps_d, full=inst.full)
    ref = _gb_reference(case.model, case.X, case.Y, case.P, plan, eps_d, inst.full)
    u = 2.0**-53
    tol = ref["steps"] * u / (1 - ref["steps"] * u)
    for name in ("kernel_part", "rounding_part"):
        got = getattr(gb, name)
        assert got.dtype == torch.float64 and got.shape == (inst.d, inst.Lp)
        np.testing.assert_allclose(got.numpy(), ref[name], rtol=tol, atol=0, err_msg=name)
    assert gb.bound.dtype == torch.float64
    np.testing.assert_allclose(gb.bound.numpy(), ref["kernel_part"] + ref["rounding_part"],
                               rtol=tol, atol=0)
    for name in ("rho", "rho_derivative", "kappa", "xi", "delta_att"):
        assert getattr(gb, name) == pytest.approx(ref[name], rel=tol, abs=0), name
    assert (gb.eps, gb.eps_derivative) == (plan.certified_eps, eps_d)
    assert gb.paper_ref == "thm:inference_linear"


def test_gradient_bound_refuses_what_it_cannot_bound() -> None:
    """A float32 model, a plan for another ``s`` or another ``β`` (each alone), ``ε'``
    infinite or negative, and ``ε + ρ >= 1`` (the normaliser may vanish) are refused by
    name; ``ε' = 0`` is a valid certificate and enters ``ξ`` as ``(ε̃ + ρ')/(1 − ε̃)``."""
    from core.errors import InvalidArgument
    from core.gradient_bound import prompt_gradient_bound
    from core.weights import TransformerWeights

    case, plan, eps_d = _gb_case(_gb_points()[0])
    args = (case.model, case.X, case.Y, case.P)
    other_s = plan_kernel(s=plan.s + 1, B=plan.B, beta=plan.beta, eps=1e-6,
                          certifier=certify_polynomial)
    other_beta = plan_kernel(s=plan.s, B=plan.B, beta=plan.beta / 2, eps=1e-6,
                             certifier=certify_polynomial)
    for bad in (other_s, other_beta, "plan"):
        with pytest.raises(InvalidArgument, match=r"^plan="):
            prompt_gradient_bound(*args, bad, eps_d, full=True)  # type: ignore[arg-type]
    model32 = PromptTunedTransformer(case.model.weights, dtype=torch.float32)
    with pytest.raises(InvalidArgument, match=r"^model="):
        prompt_gradient_bound(model32, case.X.float(), case.Y.float(), case.P.float(), plan,
                              eps_d, full=True)
    for bad_eps in (math.inf, -1e-300):
        with pytest.raises(InvalidArgument, match=r"^eps_derivative="):
            prompt_gradient_bound(*args, plan, bad_eps, full=True)
    gb = prompt_gradient_bound(*args, plan, 0.0, full=True)
    e_t = plan.certified_eps + gb.rho
    assert gb.xi == pytest.approx((e_t + gb.rho_derivative) / (1 - e_t), rel=1e-15)
    # s = 1, β = 1, B = 4: R = 16, Taylor degree 55 with certified ε ≈ 0.26, and the
    # kernel's float64 rounding ρ = γ_N·Σ|c_j|R^j·e^R ≈ 1.5 at n = 2: ε + ρ ∈ [1, 2)
    one = np.ones((1, 1))
    model = PromptTunedTransformer(TransformerWeights(w_q=one, w_k=one, w_v=one, w_o=one,
                                                      beta=1.0))
    wide = plan_kernel(s=1, B=4.0, beta=1.0, eps=0.5, method="taylor",
                       certifier=certify_polynomial)
    from core.kernels.fast_attention import kernel_relative_rounding

    assert 1.0 <= wide.certified_eps + kernel_relative_rounding(wide, 2, torch.float64) < 2.0
    t = torch.full((1, 1, 1), 0.5, dtype=torch.float64)
    with pytest.raises(InvalidArgument, match=r"^eps \+ rho = "):
        prompt_gradient_bound(model, t, t, t[0], wide, 0.0)
    # exactly ε + ρ = 1 is refused too: a certificate claiming sup = 1 − ρ (fl(1 − ρ) + ρ
    # rounds to 1 here) for the plan's own polynomial
    from types import SimpleNamespace

    rho = kernel_relative_rounding(plan, case.X.shape[-1] + case.P.shape[1], torch.float64)
    sup = 1.0 - rho
    assert sup + rho == 1.0
    poly = plan.polynomial
    cert = SimpleNamespace(verdict="certified", degree=poly.degree,
                           coefficients=poly.coefficients, radius=plan.radius,
                           sup_upper=sup, eps=sup)
    edge = type(plan)(s=plan.s, B=plan.B, beta=plan.beta, eps=sup, polynomial=poly,
                      certificate=cert)
    with pytest.raises(InvalidArgument, match=r"^eps \+ rho = 1\.0"):
        prompt_gradient_bound(*args, edge, 0.0, full=True)


def test_derivative_rounding_is_the_documented_formula() -> None:
    """``ρ' = γ_N'·Σ_{j>=1} j|c_j|R^{j−1}·e^R``, ``N' = n + m + r + 3g + 10`` (docs/training.md
    step 9a), recomputed in exact rationals for float64 and float32; ``inf`` once N'u >= 1."""
    from fractions import Fraction

    from core.gradient_bound import derivative_rounding

    plan = plan_kernel(s=2, B=0.7, beta=0.9, eps=1e-5, method="chebyshev",
                       certifier=certify_polynomial)
    R = Fraction(plan.radius)
    dp_abs = sum(j * abs(Fraction(c)) * R ** (j - 1)
                 for j, c in enumerate(plan.polynomial.coefficients) if j >= 1)
    for dtype, n, m in ((torch.float64, 40, 7), (torch.float32, 9, 9)):
        u = Fraction(torch.finfo(dtype).eps) / 2
        count = n + m + plan.rank + 3 * plan.degree + 10
        expected = count * u / (1 - count * u) * dp_abs * Fraction(math.exp(plan.radius))
        assert derivative_rounding(plan, n, m, dtype) == pytest.approx(float(expected),
                                                                     rel=1e-13)
    u16 = torch.finfo(torch.bfloat16).eps / 2                           # 2^-8
    n_inf = int(1 / u16) - 1 - plan.rank - 3 * plan.degree - 10         # N'·u = 1 exactly
    assert derivative_rounding(plan, n_inf, 1, torch.bfloat16) == math.inf
    assert math.isfinite(derivative_rounding(plan, n_inf - 1, 1, torch.bfloat16))


def test_derivative_certificate_without_a_verdict_is_refused_by_name() -> None:
    """A certifier answer with no ``verdict`` attribute at all is refused as
    ``verdict=None`` (InvalidArgument), not an AttributeError."""
    from types import SimpleNamespace

    from core.errors import InvalidArgument
    from core.gradient_bound import certified_derivative_eps

    plan = plan_kernel(s=1, B=0.5, beta=1.0, eps=1e-6, certifier=certify_polynomial)
    with pytest.raises(InvalidArgument, match="verdict=None"):
        certified_derivative_eps(plan, lambda p: SimpleNamespace(derivative=True))


def test_gradient_bound_grows_with_eps_derivative_and_averages_over_samples() -> None:
    """Properties of the formula: the kernel part grows with ``ε'`` (through ``ξ``) while
    the rounding part only through ``(1 + ξ)``; repeating one sample ``N`` times gives the
    one-sample bound (per-sample bounds add up, each with ``c = 1/(N·d·m)``)."""
    from core.gradient_bound import prompt_gradient_bound

    inst = _gb_points()[0]
    case, plan, eps_d = _gb_case(inst)
    one = (case.X[:1], case.Y[:1], case.P)
    low = prompt_gradient_bound(case.model, *one, plan, eps_d, full=True)
    high = prompt_gradient_bound(case.model, *one, plan, 10 * eps_d, full=True)
    assert (high.kernel_part > low.kernel_part).all()
    assert torch.allclose(high.rounding_part / (1 + high.xi), low.rounding_part / (1 + low.xi),
                          rtol=4 * 2.0**-52, atol=0)
    X3, Y3 = case.X[:1].repeat(3, 1, 1), case.Y[:1].repeat(3, 1, 1)
    three = prompt_gradient_bound(case.model, X3, Y3, case.P, plan, eps_d, full=True)
    u = 2.0**-53
    assert torch.allclose(three.bound, low.bound, rtol=8 * u, atol=0)
    assert three.delta_att == low.delta_att


def test_gradient_bound_refuses_a_plan_whose_b_does_not_cover_every_sample() -> None:
    """The bound needs every sample's scores inside ``[−R, R]``: a plan whose ``B`` is below
    some sample's measured ``B`` is refused by name; one at exactly the largest is accepted."""
    from core.errors import InvalidArgument
    from core.gradient_bound import prompt_gradient_bound
    from core.kernels.fast_attention import measured_norm

    case, plan, eps_d = _gb_case(_gb_points()[0])
    with torch.no_grad():
        b = [measured_norm(i.Q, i.K) for i in (case.model.attention_inputs(x, case.P, full=True)
                                               for x in case.X)]
    below = plan_kernel(s=plan.s, B=math.nextafter(max(b), 0.0), beta=plan.beta, eps=1e-6,
                        certifier=certify_polynomial)
    with pytest.raises(InvalidArgument, match=rf"^plan=.*sample {b.index(max(b))} has B="):
        prompt_gradient_bound(case.model, case.X, case.Y, case.P, below, eps_d, full=True)
    exact = plan_kernel(s=plan.s, B=max(b), beta=plan.beta, eps=1e-6,
                        certifier=certify_polynomial)
    assert prompt_gradient_bound(case.model, case.X, case.Y, case.P, exact, eps_d,
                                 full=True).bound.isfinite().all()
