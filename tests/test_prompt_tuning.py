"""Prompt tuning through the kernel (core.prompt_tuning), the gradient-gap bound
(core.kernels.gradient_bound), the derivative certificate (verify.certify), and planted bugs
that the gradient claim must catch. Float64 throughout, as NOTES.md advises for gradients."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

import core.prompt_tuning as pt
from core.errors import InvalidArgument, NonFiniteError
from core.kernels import MonomialFeatures, exp_polynomial, plan_kernel
from core.kernels.gradient_bound import certified_derivative_eps, prompt_gradient_bound
from core.model import PromptTunedTransformer
from core.prompt_tuning import (
    checkpointed_exact_attention,
    prompt_gradient,
    train_prompt,
)
from properties.claims_training import TIGHT_POINT, gradient_outcome, plan_for
from properties.strategies import ModelInstance, build_model_case
from properties.strategies_training import GradientInstance, build_gradient_case
from verify.certify import certify_derivative, certify_polynomial


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    """Tiny tensors: torch's intra-op threads only contend on the 2 shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


RANDOM_POINT = GradientInstance(seed=3, d=2, s=2, L=2, Lp=3, n_pre=1, n_post=0, N=2,
                                eps=1e-8, full=True)


def _small_problem(seed: int = 0, n_post: int = 1, Lp: int = 3, N: int = 4
                   ) -> tuple[PromptTunedTransformer, torch.Tensor, torch.Tensor, torch.Tensor]:
    case = build_model_case(ModelInstance(seed=seed, d=2, s=2, L=2, Lp=Lp, n_pre=0,
                                          n_post=n_post, weight_scale=0.5, beta=0.1))
    rng = np.random.default_rng(seed)
    X = torch.as_tensor(rng.uniform(0, 1, (N, 2, 2)))
    Y = torch.as_tensor(rng.uniform(0, 1, (N, 2, 2)))
    return PromptTunedTransformer(case.weights), X, Y, torch.as_tensor(case.P) * 0.3


def _plan(model: PromptTunedTransformer, B: float, eps: float = 1e-8) -> Any:
    return plan_kernel(s=model.weights.s, B=B, beta=model.beta, eps=eps,
                       certifier=certify_polynomial)


# --- the training loop ----------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["adam", "gd"])
def test_training_lowers_the_loss_and_kernel_tracks_exact(optimizer: str) -> None:
    model, X, Y, P0 = _small_problem()
    plan = _plan(model, 2.0)
    lr = 0.05 if optimizer == "adam" else 0.5
    exact = train_prompt(model, X, Y, P0, steps=25, lr=lr, optimizer=optimizer)
    fast = train_prompt(model, X, Y, P0, steps=25, lr=lr, optimizer=optimizer, plan=plan)
    assert exact.final_loss < exact.history[0].loss
    assert len(fast.history) == 26 and not fast.events
    assert {r.method for r in fast.history} == {"polynomial"}
    assert {r.method for r in exact.history} == {"exact"}
    assert abs(fast.final_loss - exact.final_loss) < 1e-6
    assert torch.allclose(fast.P, exact.P, atol=1e-5)


def test_target_error_stops_early_and_steps_zero_evaluates_only() -> None:
    model, X, Y, P0 = _small_problem()
    none = train_prompt(model, X, Y, P0, steps=0, lr=0.1)
    assert len(none.history) == 1 and torch.equal(none.P, P0)
    stop = train_prompt(model, X, Y, P0, steps=50, lr=0.1, target_error=10.0)
    assert len(stop.history) == 1


def test_full_sequence_loss_uses_all_columns() -> None:
    model, X, _, P0 = _small_problem(n_post=0)
    Y = torch.zeros(4, 2, 5, dtype=torch.float64)
    plan = _plan(model, 2.0)
    g_fast = prompt_gradient(model, X, Y, P0, plan=plan, full=True)
    g_exact = prompt_gradient(model, X, Y, P0, full=True)
    assert torch.allclose(g_fast, g_exact, atol=1e-7)
    with pytest.raises(InvalidArgument, match="all n columns"):
        prompt_gradient(model, X, Y[..., :2], P0, full=True)


def test_checkpointed_exact_attention_matches_unchunked_gradients() -> None:
    gen = torch.Generator().manual_seed(0)
    Q, K, V = (torch.rand(2, 9, generator=gen, dtype=torch.float64).requires_grad_()
               for _ in range(3))
    out = checkpointed_exact_attention(Q, K, V, 0.7, query_chunk=4)
    ref = pt.exact_attention(Q, K, V, 0.7)
    assert torch.allclose(out, ref)
    C = torch.rand(2, 9, generator=gen, dtype=torch.float64)
    g1 = torch.autograd.grad((out * C).sum(), (Q, K, V))
    g2 = torch.autograd.grad((ref * C).sum(), (Q, K, V))
    assert all(torch.allclose(a, b) for a, b in zip(g1, g2, strict=True))
    fused = checkpointed_exact_attention(Q, K, V, 0.7, query_chunk=4, method="sdpa")
    assert torch.allclose(fused, ref)
    with pytest.raises(InvalidArgument, match="method='flash'"):
        checkpointed_exact_attention(Q, K, V, 0.7, method="flash")


def test_long_prompt_exact_path_is_chunked() -> None:
    model, X, _, _ = _small_problem(n_post=0, N=1)
    P = torch.rand(2, 40, dtype=torch.float64) * 0.1
    Y = torch.zeros(1, 2, 42, dtype=torch.float64)
    g_chunked = prompt_gradient(model, X, Y, P, full=True, query_chunk=8)
    g_batched = prompt_gradient(model, X, Y, P, full=True)
    assert torch.allclose(g_chunked, g_batched, atol=1e-14)


# --- the regime policy ----------------------------------------------------------------------


def _drifting_problem() -> tuple[Any, ...]:
    model, X, Y, P0 = _small_problem(n_post=0)
    Y = Y + 5.0                         # far targets: the prompt grows quickly
    with torch.no_grad():
        B0 = max(pt.measured_norm(i.Q, i.K) for i in pt._inputs(model, X, P0, False))
    return model, X, Y, P0, _plan(model, B0 * 1.01, eps=1e-6)


def test_out_of_regime_raises_by_default() -> None:
    model, X, Y, P0, plan = _drifting_problem()
    with pytest.raises(InvalidArgument, match=r"step \d+: the prompt drove B="):
        train_prompt(model, X, Y, P0, steps=20, lr=0.1, plan=plan)


def test_out_of_regime_replans_or_falls_back_and_records_it() -> None:
    model, X, Y, P0, plan = _drifting_problem()
    re = train_prompt(model, X, Y, P0, steps=20, lr=0.1, plan=plan, out_of_regime="replan",
                      certifier=certify_polynomial)
    assert re.events and all(e.action == "replanned" for e in re.events)
    assert re.plan is not None and re.plan.B >= max(r.measured_B for r in re.history)
    assert all(r.measured_B <= r.plan_B for r in re.history if r.plan_B is not None)
    ex = train_prompt(model, X, Y, P0, steps=20, lr=0.1, plan=plan, out_of_regime="exact")
    assert ex.events and {e.action for e in ex.events} == {"exact"}
    assert {r.method for r in ex.history} == {"polynomial", "exact"}
    assert all(r.method == "exact" for r in ex.history if r.measured_B > plan.B)


BAD_CALLS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("X 2-D", {"X": torch.zeros(2, 2, dtype=torch.float64)}, InvalidArgument, "X="),
    ("X float32", {"X": torch.zeros(4, 2, 2)}, InvalidArgument, "dtype"),
    ("Y shape", {"Y": torch.zeros(4, 2, 3, dtype=torch.float64)}, InvalidArgument, "Y has"),
    ("P 3-D", {"P0": torch.zeros(1, 2, 3, dtype=torch.float64)}, InvalidArgument, "P="),
    ("P wrong d", {"P0": torch.zeros(3, 3, dtype=torch.float64)}, InvalidArgument, "d=2"),
    ("X NaN", {"X": torch.full((4, 2, 2), float("nan"), dtype=torch.float64)},
     NonFiniteError, "X"),
    ("steps", {"steps": -1}, InvalidArgument, "steps=-1"),
    ("steps float", {"steps": 2.0}, InvalidArgument, "steps=2.0"),
    ("lr", {"lr": 0.0}, InvalidArgument, "lr=0.0"),
    ("optimizer", {"optimizer": "sgd"}, InvalidArgument, "optimizer='sgd'"),
    ("policy", {"out_of_regime": "ignore"}, InvalidArgument, "out_of_regime='ignore'"),
    ("replan without certifier", {"out_of_regime": "replan"}, InvalidArgument, "certifier"),
    ("margin", {"replan_margin": 0.5}, InvalidArgument, "replan_margin=0.5"),
    ("target", {"target_error": -1.0}, InvalidArgument, "target_error=-1.0"),
    ("plan type", {"plan": "fast"}, InvalidArgument, "plan="),
    ("model type", {"model": "tau"}, InvalidArgument, "model="),
]


@pytest.mark.parametrize(("label", "override", "error", "match"), BAD_CALLS,
                         ids=[c[0] for c in BAD_CALLS])
def test_bad_training_arguments_are_refused(label: str, override: dict[str, Any],
                                            error: type[Exception], match: str) -> None:
    model, X, Y, P0 = _small_problem()
    kwargs: dict[str, Any] = {"model": model, "X": X, "Y": Y, "P0": P0, "steps": 1, "lr": 0.1}
    kwargs.update(override)
    with pytest.raises(error, match=match):
        train_prompt(kwargs.pop("model"), kwargs.pop("X"), kwargs.pop("Y"), kwargs.pop("P0"),
                     **kwargs)


def test_plan_for_another_model_is_refused() -> None:
    model, X, Y, P0 = _small_problem()
    other = plan_kernel(s=3, B=1.0, beta=model.beta, eps=1e-6, certifier=certify_polynomial)
    with pytest.raises(InvalidArgument, match="does not match the model"):
        train_prompt(model, X, Y, P0, steps=1, lr=0.1, plan=other)


# --- the derivative certificate ---------------------------------------------------------------


def test_derivative_certificate_encloses_the_sampled_error() -> None:
    poly = exp_polynomial("chebyshev", 5, 0.25)
    cert = certify_derivative(poly)
    x = np.linspace(-0.25, 0.25, 2001)
    deriv = np.polyval([k * c for k, c in enumerate(poly.coefficients)][1:][::-1], x)
    sampled = float(np.abs(deriv * np.exp(-x) - 1).max())
    assert cert.verdict == "certified" and sampled <= cert.sup_upper <= 1.1 * sampled
    assert certify_derivative(poly, sampled / 2).verdict == "refuted"
    flat = certify_derivative(exp_polynomial("taylor", 0, 0.5))
    assert flat.sup_lower == 1.0 == flat.sup_upper          # p' ≡ 0: the error is exactly 1
    assert certify_derivative(exp_polynomial("taylor", 0, 0.5), 1.5).verdict == "certified"
    with pytest.raises(InvalidArgument, match=r"eps=0\.0"):
        certify_derivative(poly, 0.0)


def test_derivative_certificate_is_checked_against_the_plan() -> None:
    plan = plan_kernel(s=1, B=0.5, beta=1.0, eps=1e-6, certifier=certify_polynomial)
    assert certified_derivative_eps(plan, certify_derivative) > plan.certified_eps
    with pytest.raises(InvalidArgument, match="derivative=False"):
        certified_derivative_eps(plan, lambda p: certify_polynomial(p, 0.5))
    other = exp_polynomial("taylor", plan.degree, plan.radius)
    with pytest.raises(InvalidArgument, match="other coefficients"):
        certified_derivative_eps(plan, lambda p: certify_derivative(other))
    with pytest.raises(InvalidArgument, match="verdict="):
        certified_derivative_eps(plan, lambda p: certify_derivative(p, 1e-30))
    with pytest.raises(InvalidArgument, match="certifier="):
        certified_derivative_eps(plan, None)  # type: ignore[arg-type]


def test_bound_refuses_ff_post_and_bad_data() -> None:
    model, X, Y, P0 = _small_problem(n_post=1)
    with pytest.raises(InvalidArgument, match="FF_post"):
        prompt_gradient_bound(model, X, Y, P0, _plan(model, 2.0), 1e-6)
    model, X, Y, P0 = _small_problem(n_post=0)
    with pytest.raises(InvalidArgument, match="Y has shape"):
        prompt_gradient_bound(model, X, Y[..., :1], P0, _plan(model, 2.0), 1e-6)
    with pytest.raises(InvalidArgument, match="eps_derivative=nan"):
        prompt_gradient_bound(model, X, Y, P0, _plan(model, 2.0), float("nan"))


# --- the gradient bound: holds, is not vacuous, and catches planted bugs --------------------


def test_bound_is_nearly_attained_on_the_tight_point() -> None:
    case = build_gradient_case(TIGHT_POINT)
    outcome = gradient_outcome(case.model, case.X, case.Y, case.P,
                               plan_for(case.model, case.B, TIGHT_POINT.eps, "chebyshev"),
                               full=True)
    assert 0.1 <= outcome.error <= 1.0, outcome


def _detached_normaliser(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, plan: Any,
                         **_: Any) -> tuple[torch.Tensor, None]:
    """Planted bug: the kernel's forward, with the normaliser's gradient dropped."""
    feats = MonomialFeatures.build(plan.s, plan.degree)
    w = torch.as_tensor(feats.query_weights(plan.polynomial.coefficients, plan.beta))
    A = feats.monomials(K).T @ (feats.monomials(Q) * w[:, None])          # (n, m)
    return V @ A / A.sum(dim=0).detach(), None


@pytest.mark.parametrize("point", [TIGHT_POINT, RANDOM_POINT], ids=["tight", "random"])
def test_dropped_normaliser_gradient_is_caught(point: GradientInstance,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    case = build_gradient_case(point)
    plan = plan_for(case.model, case.B, point.eps, point.method)
    assert gradient_outcome(case.model, case.X, case.Y, case.P, plan, full=True).holds
    monkeypatch.setattr(pt, "polynomial_attention_with_info", _detached_normaliser)
    outcome = gradient_outcome(case.model, case.X, case.Y, case.P, plan, full=True)
    assert not outcome.holds and outcome.error > 10, outcome


@pytest.mark.parametrize("point", [TIGHT_POINT, RANDOM_POINT], ids=["tight", "random"])
def test_wrong_degree_is_caught(point: GradientInstance) -> None:
    case = build_gradient_case(point)
    plan = plan_for(case.model, case.B, point.eps, point.method)
    cheap = plan_for(case.model, case.B, 0.05, point.method)
    assert cheap.degree < plan.degree
    outcome = gradient_outcome(case.model, case.X, case.Y, case.P, plan, full=True,
                               fast_plan=cheap)
    assert not outcome.holds, outcome


# --- the empirical-capacity sweep (core.capacity_sweep) --------------------------------------


def test_capacity_row_is_consistent_with_its_own_training_runs() -> None:
    """Each tried L_p is recorded with its final error, the sweep stops at the first success,
    and the two reference lengths are the library's own formulas."""
    from core.bounds import min_prompt_length_exact, packing_bits
    from core.capacity_sweep import (
        CAPACITY_LABEL,
        CapacitySetting,
        SweepConfig,
        capacity_sweep,
        constructive_prompt_length,
    )

    cfg = SweepConfig(steps=4, prompt_lengths=(1, 2, 3), prompt_bits=8)
    easy, hard = CapacitySetting(d=1, L=1, N=1, eps=0.5), CapacitySetting(d=2, L=1, N=3,
                                                                          eps=1e-3)
    report = capacity_sweep([easy, hard], cfg)
    assert report["kind"] == "capacity" and report["label"] == CAPACITY_LABEL
    assert report["config"]["prompt_lengths"] == [1, 2, 3] and report["config"]["steps"] == 4
    for setting, row in zip((easy, hard), report["rows"], strict=True):
        assert (row["d"], row["L"], row["N"], row["eps"], row["target_error"]) == (
            setting.d, setting.L, setting.N, setting.eps, setting.eps)
        tried, errors = row["tried_Lp"], row["final_errors"]
        assert tried == [1, 2, 3][:len(tried)] and len(errors) == len(tried)
        reached = [lp for lp, e in zip(tried, errors, strict=True) if e <= setting.eps]
        assert row["smallest_Lp"] == (reached[0] if reached else None)
        assert reached[:1] == ([tried[-1]] if reached else [])       # stops at first success
        M = packing_bits(setting.d, setting.L, cfg.C, setting.eps)
        assert row["lower_bound_Lp"] == min_prompt_length_exact(M, setting.d, 2**8)
        assert row["constructive_Lp"] == constructive_prompt_length(setting)
    assert report["rows"][0]["smallest_Lp"] == 1             # ε = 1/2 on [0, 1] labels
    assert report["rows"][1]["tried_Lp"] == [1, 2, 3]        # 4 steps cannot reach 1e-3
    assert capacity_sweep([easy, hard], cfg)["rows"] == report["rows"]      # seeded


def test_capacity_model_data_and_reference_lengths() -> None:
    from core.capacity_sweep import (
        CapacitySetting,
        constructive_prompt_length,
        frozen_random_model,
        random_dataset,
    )
    from core.constructions.memorise import constructive_length, memorisation_request

    model = frozen_random_model(3, seed=2, hidden_factor=2)
    assert model.beta == pytest.approx(1 / math.sqrt(3)) and model.d == 3
    X, Y = random_dataset(CapacitySetting(d=3, L=2, N=5, eps=0.1), seed=2)
    assert X.shape == Y.shape == (5, 3, 2) and X.dtype == torch.float64
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0 and not torch.equal(X, Y)
    assert torch.equal(X, random_dataset(CapacitySetting(d=3, L=2, N=5, eps=0.1), seed=2)[0])
    sizes = memorisation_request(4, 1, 1).sizes()
    loose = CapacitySetting(d=1, L=1, N=4, eps=0.5)
    assert constructive_prompt_length(loose) == constructive_length(sizes)
    strict_eps = 0.99 / (2 * sizes.M)                        # labels need finer than 1/(2M)
    assert constructive_prompt_length(CapacitySetting(d=1, L=1, N=4, eps=strict_eps)) is None


@pytest.mark.parametrize(("change", "named"), [
    ({"prompt_lengths": (2, 1)}, "prompt_lengths="), ({"prompt_lengths": ()}, "prompt_lengths="),
    ({"prompt_lengths": (0, 1)}, "prompt_lengths="), ({"steps": -1}, "steps="),
    ({"lr": 0.0}, "lr="), ({"hidden_factor": 0}, "hidden_factor="), ({"C": 0.0}, "C="),
    ({"prompt_bits": 0}, "prompt_bits="), ({"seed": -1}, "seed="),
    ({"prompt_init_std": -1.0}, "prompt_init_std="),
])
def test_sweep_config_refuses_bad_values_by_name(change: dict, named: str) -> None:
    from core.capacity_sweep import SweepConfig

    with pytest.raises(InvalidArgument) as info:
        SweepConfig(**change)
    assert str(info.value).startswith(named)


@pytest.mark.parametrize(("change", "named"), [
    ({"d": 0}, "d="), ({"d": 5}, "d="), ({"L": 0}, "L="), ({"L": 5}, "L="), ({"N": 0}, "N="),
    ({"eps": 0.0}, "eps="), ({"eps": 0.6}, "eps="),
])
def test_capacity_setting_refuses_bad_values_by_name(change: dict, named: str) -> None:
    from core.capacity_sweep import CapacitySetting, capacity_sweep

    with pytest.raises(InvalidArgument) as info:
        CapacitySetting(**{"d": 1, "L": 1, "N": 1, "eps": 0.1, **change})
    assert str(info.value).startswith(named)
    assert CapacitySetting(d=4, L=4, N=1, eps=0.5).eps == 0.5          # the allowed extremes
    with pytest.raises(InvalidArgument, match="settings="):
        capacity_sweep([], None)  # type: ignore[arg-type]
