"""Unit tests of the norm regime (core.regime), the model with the kernel inside (K7) and the
Lipschitz constant of FF_post."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from core.errors import ConstructionTooLarge, InvalidArgument
from core.kernels import feed_forward_lipschitz, forward_with_polynomial_attention, plan_kernel
from core.kernels.certify import certify_polynomial
from core.kernels.phase import log_rank_over_n
from core.kernels.regime import score_radius
from core.model import PromptTunedTransformer, feed_forward
from core.regime import measure_regime
from core.weights import FeedForwardWeights
from properties.strategies import ModelInstance, build_model_case


def _model(**kw: object) -> tuple[PromptTunedTransformer, torch.Tensor, torch.Tensor]:
    case = build_model_case(ModelInstance(**{"seed": 3, "d": 3, "s": 2, "L": 4, "Lp": 2,
                                             "weight_scale": 0.5, **kw}))  # type: ignore[arg-type]
    return (PromptTunedTransformer(case.weights), torch.as_tensor(case.X),
            torch.as_tensor(case.P))


def test_regime_is_max_norm_of_queries_and_keys_after_ff_pre() -> None:
    model, X, P = _model(positional=True, n_pre=2)
    rep = measure_regime(model, X, P)
    z = model.ff_pre(model.embed(X, P))
    q, k = model.w_q @ z, model.w_k @ z
    assert rep.B == max(float(q.abs().max()), float(k.abs().max()))
    assert rep.n == 6 and rep.sqrt_log_n == pytest.approx(math.sqrt(math.log(6)))
    assert rep.ratio == pytest.approx(rep.B / math.sqrt(math.log(6)))
    assert rep.radius == score_radius(2, rep.B, model.beta) >= model.beta * 2 * rep.B**2
    assert rep.B_query == float(q.abs().max()) and rep.B_key == float(k.abs().max())
    assert rep.as_dict() == dataclasses.asdict(rep) and rep.as_dict()["n"] == 6


def test_single_token_has_infinite_ratio_and_bad_model_is_refused() -> None:
    model, X, P = _model(L=1, Lp=0)
    assert measure_regime(model, X[:, :1], P[:, :0]).ratio == math.inf
    with pytest.raises(InvalidArgument, match="model="):
        measure_regime("model", X, P)  # type: ignore[arg-type]


def test_lipschitz_constant_from_weights_bounds_observed_ratios() -> None:
    rng = np.random.default_rng(0)
    layers = tuple(FeedForwardWeights(rng.normal(size=(5, 3)), rng.normal(size=5),
                                      rng.normal(size=(3, 5)), rng.normal(size=3))
                   for _ in range(2))
    lip = feed_forward_lipschitz(layers)
    expected = math.prod(1 + np.abs(f.w2).sum(1).max() * np.abs(f.w1).sum(1).max()
                         for f in layers)
    assert lip >= expected and lip == pytest.approx(expected, rel=1e-12)
    assert feed_forward_lipschitz(()) == 1.0
    for seed in range(20):
        r = np.random.default_rng(seed)
        a, b = torch.as_tensor(r.normal(size=(3, 4))), torch.as_tensor(r.normal(size=(3, 4)))
        fa, fb = a, b
        for f in layers:
            args = [torch.tensor(np.array(x)) for x in f.arrays()]
            fa, fb = feed_forward(fa, *args), feed_forward(fb, *args)
        assert float((fa - fb).abs().max()) <= lip * float((a - b).abs().max()) * (1 + 1e-12)


def test_model_with_kernel_is_within_its_bound_of_the_exact_model() -> None:
    model, X, P = _model(n_post=2)
    B = measure_regime(model, X, P).B
    plan = plan_kernel(s=2, B=B, beta=model.beta, eps=1e-7, certifier=certify_polynomial)
    out, info, bound = forward_with_polynomial_attention(model, X, P, plan)
    exact = model(X, P)
    assert bound == pytest.approx(feed_forward_lipschitz(model.weights.ff_post) * info.bound)
    lip = feed_forward_lipschitz(model.weights.ff_post)
    assert float((out - exact).abs().max()) <= bound + lip * info.rounding_bound + 1e-7
    full = forward_with_polynomial_attention(model, X, P, plan, full=True)[0]
    assert torch.allclose(full[:, P.shape[1]:], out, rtol=0, atol=1e-14)


def test_plan_must_match_the_model() -> None:
    model, X, P = _model()
    plan = plan_kernel(s=2, B=1.0, beta=model.beta * 2, eps=1e-6,
                       certifier=certify_polynomial)
    with pytest.raises(InvalidArgument, match="does not match the model"):
        forward_with_polynomial_attention(model, X, P, plan)
    with pytest.raises(InvalidArgument, match="X="):
        measure_regime(model, X[None], P)


def test_attention_inputs_default_to_every_query_and_report_the_model_scale() -> None:
    """Without ``full`` the queries are all ``n`` columns (the regime is over every query);
    ``full=False`` keeps the last ``L``; ``Z`` is the embedded, FF_pre-processed sequence;
    the report carries the model's β and head dimension, and ``B/√ln n`` at ``n = 2``."""
    model, X, P = _model(positional=True, n_pre=1)
    every = model.attention_inputs(X, P)
    assert every.queries.shape[1] == X.shape[1] + P.shape[1]
    z = model.ff_pre(model.embed(X, P))
    assert torch.equal(every.Z, z) and torch.equal(every.queries, z)
    readout = model.attention_inputs(X, P, full=False)
    assert torch.equal(readout.queries, z[:, P.shape[1]:])
    rep = measure_regime(model, X, P)
    assert rep.beta == model.beta and rep.s == model.weights.w_q.shape[0] == 2
    assert rep.B == max(float(every.Q.abs().max()), float(every.K.abs().max()))
    small, Xs, Ps = _model(L=1, Lp=1)                                  # n = 2: √ln 2 < 1
    two = measure_regime(small, Xs, Ps)
    assert two.ratio == pytest.approx(two.B / math.sqrt(math.log(2)))


def test_lipschitz_bound_of_an_empty_hidden_layer_and_options_reach_the_kernel() -> None:
    """A width-0 FF layer is the identity: its bound is 1 with exactly the two documented
    upward roundings (the layer factor 1 + 0, then the product), i.e. 1 + 2 ulps; the kernel
    options given to the model forward (here a memory limit) reach the kernel."""
    empty = FeedForwardWeights(np.zeros((0, 2)), np.zeros(0), np.zeros((2, 0)), np.zeros(2))
    up = math.nextafter(1.0, math.inf)
    assert feed_forward_lipschitz((empty,)) == math.nextafter(up, math.inf)
    model, X, P = _model()
    B = measure_regime(model, X, P).B
    plan = plan_kernel(s=2, B=B, beta=model.beta, eps=1e-7, certifier=certify_polynomial)
    with pytest.raises(ConstructionTooLarge):
        forward_with_polynomial_attention(model, X, P, plan, memory_limit=64)


@pytest.mark.parametrize(("log2_n", "B"), [(1, 0.5), (1, 0.75), (2, 1.0), (2, 1.75), (3, 3.25)])
def test_phase_row_uses_the_degree_for_delta_one_over_n(log2_n: int, B: float) -> None:
    """``log_rank_over_n``: g is the least degree whose Taylor remainder ``e^R R^{g+1}/(g+1)!``
    (R = B²) is at most ``ε = 4δ/(4+δ²)`` with ``δ = 1/n``; rank is ``C(s+g, g)``.
    Recomputed in mpmath at small n."""
    import mpmath

    s = 3
    with mpmath.workdps(50):
        n = mpmath.mpf(2) ** log2_n
        delta = 1 / n
        eps = 4 * delta / (4 + delta**2)
        R = mpmath.mpf(B) ** 2
        g = 0
        while mpmath.e**R * R ** (g + 1) / mpmath.factorial(g + 1) > eps:
            g += 1
        log_ratio = float(mpmath.log(mpmath.binomial(s + g, g) / n))
    degree, rank, got_log_ratio = log_rank_over_n(float(log2_n), B, s)
    assert degree == g
    assert rank == math.comb(s + g, g)
    assert got_log_ratio == pytest.approx(log_ratio, rel=1e-12, abs=1e-12)


def test_taylor_degree_accepts_a_remainder_equal_to_epsilon() -> None:
    """At ``R = 1`` the remainder is ``e/(g+1)!``; with ``ε = e/4!`` exactly (in logs), degree 3
    already meets ``remainder <= ε`` — the least such degree, not the next."""
    from core.kernels.polynomial import taylor_degree

    assert taylor_degree(1.0, math.lgamma(5) - 1.0) == 3
    assert taylor_degree(1.0, math.lgamma(5) - 1.0 + 1e-9) == 4
