"""Prompt tuning through the kernel (core.prompt_tuning), the gradient-gap bound
(core.gradient_bound), the derivative certificate (core.kernels.certify), and planted bugs
that the gradient claim must catch. Float64 throughout, as docs/theory.md §6 advises for
gradients."""

from __future__ import annotations

import math
import re
import time
from typing import Any

import numpy as np
import pytest
import torch

import core.prompt_tuning as pt
from core.errors import InvalidArgument, NonFiniteError
from core.gradient_bound import certified_derivative_eps, prompt_gradient_bound
from core.kernels import MonomialFeatures, exp_polynomial, plan_kernel
from core.kernels.certify import certify_derivative, certify_polynomial
from core.model import PromptTunedTransformer
from core.prompt_tuning import (
    checkpointed_exact_attention,
    prompt_gradient,
    train_prompt,
)
from properties.claims_training import TIGHT_POINT, gradient_outcome, plan_for
from properties.strategies import ModelInstance, build_model_case
from properties.strategies_training import GradientInstance, build_gradient_case


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
    ("replan with no certifier", {"out_of_regime": "replan", "certifier": None}, InvalidArgument,
     "certifier=None"),
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


# --- data validation, the loss, and the exact attention's chunking (mutation-testing gaps) --


def _bad_data(which: str, bad: Any) -> dict[str, Any]:
    model, X, Y, P = _small_problem()
    args = {"model": model, "X": X, "Y": Y, "P": P}
    args[which] = _nan_like(args[which]) if bad is None else bad      # None: a NaN entry
    return args


def _nan_like(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[0] = float("nan")
    return t


TRAINING_DATA_REFUSALS: list[tuple[str, str, Any, type[Exception], str]] = [
    ("X list", "X", [[0.0]], InvalidArgument, "X="),
    ("Y list", "Y", [[0.0]], InvalidArgument, "Y="),
    ("P list", "P", [[0.0]], InvalidArgument, "P="),
    ("X float32", "X", torch.zeros(4, 2, 2), InvalidArgument, "X="),
    ("Y float32", "Y", torch.zeros(4, 2, 2), InvalidArgument, "Y="),
    ("P float32", "P", torch.zeros(2, 3), InvalidArgument, "P="),
    ("P 3-D with d rows", "P", torch.zeros(2, 3, 1, dtype=torch.float64), InvalidArgument, "P="),
    ("P 1-D of length d", "P", torch.zeros(2, dtype=torch.float64), InvalidArgument, "P="),
    ("X no samples", "X", torch.zeros(0, 2, 2, dtype=torch.float64), InvalidArgument, "X="),
    ("X no tokens", "X", torch.zeros(4, 2, 0, dtype=torch.float64), InvalidArgument, "X="),
    ("X wrong d", "X", torch.zeros(4, 3, 2, dtype=torch.float64), InvalidArgument, "X="),
    ("X NaN", "X", None, NonFiniteError, "X "),
    ("Y NaN", "Y", None, NonFiniteError, "Y "),
    ("P NaN", "P", None, NonFiniteError, "P "),
]


@pytest.mark.parametrize(("label", "which", "bad", "error", "named"), TRAINING_DATA_REFUSALS,
                         ids=[c[0] for c in TRAINING_DATA_REFUSALS])
def test_training_data_refusals_name_the_offending_tensor(label: str, which: str, bad: Any,
                                                          error: type[Exception],
                                                          named: str) -> None:
    """Each of X, Y, P is refused under its own name (type, dtype, shape, non-finite)."""
    args = _bad_data(which, bad)
    with pytest.raises(error) as info:
        pt.check_training_data(args["model"], args["X"], args["Y"], args["P"])
    assert str(info.value).startswith(named)


def test_loss_is_the_mean_squared_error_of_the_readout_by_default() -> None:
    """Without ``full`` the loss reads the last L columns; shifting the targets by Δ from
    τ_P(X) gives exactly mean(Δ²). Options reach the attention (a bad chunk is refused)."""
    model, X, _, P = _small_problem()
    with torch.no_grad():
        out = model(X, P)                                     # τ_P(X), (N, d, L)
    delta = torch.as_tensor(np.random.default_rng(5).uniform(-2, 2, out.shape))
    Y = out + delta
    assert pt.check_training_data(model, X, Y, P)[2] is Y                 # readout width L
    loss = pt.prompt_loss(model, X, Y, P)
    assert float(loss) == pytest.approx(float((delta ** 2).mean()), rel=1e-12)
    assert float(pt.prompt_loss(model, X, out + 0.5, P)) == pytest.approx(0.25, rel=1e-12)
    g = prompt_gradient(model, X, out, P)                     # at the targets: a minimum
    assert g.shape == P.shape and float(g.abs().max()) < 1e-12
    with torch.no_grad():
        full = model(X, P, full=True)
    assert float(pt.prompt_loss(model, X, full - 0.25, P, full=True)) == pytest.approx(
        0.0625, rel=1e-12)
    for fn in (pt.prompt_loss, prompt_gradient):
        with pytest.raises(InvalidArgument, match=r"^query_chunk=0"):
            fn(model, X, Y, P, query_chunk=0)


class _Spy:
    """Wraps an attention function; records (queries in the call, effective block width)."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.calls = fn, []

    def __call__(self, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float,
                 **kw: Any) -> torch.Tensor:
        chunk = kw.get("query_chunk", pt.DEFAULT_QUERY_CHUNK)
        self.calls.append((Q.shape[1], min(Q.shape[1], chunk)))
        return self.fn(Q, K, V, beta, **kw)


def _qkv(n: int, grad: bool) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(1)
    return tuple(torch.rand(2, n, generator=gen, dtype=torch.float64).requires_grad_(grad)
                 for _ in range(3))


def test_checkpointed_attention_blocks_and_recomputation(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """No score block is wider than ``query_chunk``; while autograd records and ``n`` exceeds
    the chunk, each block is recomputed once in the backward pass; otherwise one call."""
    spy = _Spy(pt.exact_attention)
    monkeypatch.setattr(pt, "exact_attention", spy)
    ref = spy.fn(*_qkv(9, False), 0.7)
    Q, K, V = _qkv(9, True)
    out = checkpointed_exact_attention(Q, K, V, 0.7, query_chunk=4)
    assert [c[0] for c in spy.calls] == [4, 4, 1]
    out.sum().backward()
    assert sorted(spy.calls[3:]) == sorted(spy.calls[:3]) == [(1, 1), (4, 4), (4, 4)]
    assert torch.allclose(out, ref, rtol=0, atol=1e-15)
    for n, grad, no_grad in ((9, True, True), (9, False, False), (4, True, False)):
        spy.calls.clear()
        Q, K, V = _qkv(n, grad)
        if no_grad:
            with torch.no_grad():
                out = checkpointed_exact_attention(Q, K, V, 0.7, query_chunk=4)
        else:
            out = checkpointed_exact_attention(Q, K, V, 0.7, query_chunk=4)
        assert torch.allclose(out, spy.fn(*_qkv(n, False), 0.7), rtol=0, atol=1e-15)
        if out.requires_grad:
            out.sum().backward()
        assert spy.calls == [(n, min(n, 4))], (n, grad, no_grad)     # one call, no recompute
    spy.calls.clear()
    one = checkpointed_exact_attention(*_qkv(3, False), 0.7, query_chunk=1)
    assert spy.calls == [(3, 1)] and torch.allclose(one, spy.fn(*_qkv(3, False), 0.7))
    for grad in (False, True):
        with pytest.raises(InvalidArgument, match=r"^query_chunk=0"):
            checkpointed_exact_attention(*_qkv(3, grad), 0.7, query_chunk=0)


@pytest.mark.parametrize("method", ["reference", "sdpa"])
def test_exact_method_selects_its_documented_implementation(method: str,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """``"reference"`` runs core.attention.exact_attention, ``"sdpa"`` the SDPA peer."""
    spies = {"reference": _Spy(pt.exact_attention), "sdpa": _Spy(pt.sdpa_attention)}
    monkeypatch.setattr(pt, "exact_attention", spies["reference"])
    monkeypatch.setattr(pt, "sdpa_attention", spies["sdpa"])
    for grad in (False, True):
        for spy in spies.values():
            spy.calls.clear()
        checkpointed_exact_attention(*_qkv(6, grad), 0.7, query_chunk=4, method=method)
        assert spies[method].calls and not spies[
            "sdpa" if method == "reference" else "reference"].calls


# --- the regime policy, field by field --------------------------------------------------------


def test_measured_B_equal_to_the_plan_B_is_in_the_regime() -> None:
    """The policy acts only when B *exceeds* plan.B: a plan for exactly the measured B runs."""
    model, X, Y, P0 = _small_problem(n_post=0)
    with torch.no_grad():
        B0 = max(pt.measured_norm(i.Q, i.K) for i in pt._inputs(model, X, P0, False))
    plan = _plan(model, B0, eps=1e-6)
    assert plan.B == B0
    res = train_prompt(model, X, Y, P0, steps=0, lr=0.1, plan=plan)
    assert not res.events and res.history[0].method == "polynomial"
    assert res.history[0].measured_B == B0 == res.history[0].plan_B


def test_out_of_regime_message_states_the_score_radius() -> None:
    """The refusal quotes R = β·s·B² for the measured B, above the plan's radius."""
    model, X, Y, P0, plan = _drifting_problem()
    with pytest.raises(InvalidArgument) as info:
        train_prompt(model, X, Y, P0, steps=20, lr=0.1, plan=plan)
    m = re.search(r"B=(\S+) above the plan's B=(\S+) \(R = β·s·B² = (\S+) > (\S+)\)",
                  str(info.value))
    assert m is not None, str(info.value)
    B, plan_B, R, radius = (float(v) for v in m.groups())
    assert plan_B == plan.B < B and radius == plan.radius
    assert R == pytest.approx(model.beta * model.weights.s * B ** 2, rel=1e-14) and R > radius


def test_regime_events_record_step_B_and_the_new_plan() -> None:
    """Each RegimeEvent names its step, the measured B there and the plan's B it exceeded;
    a re-plan covers B·replan_margin (default 1.25) with the original family, and records
    its degree and rank C(s+g, g)."""
    model, X, Y, P0, plan = _drifting_problem()
    ex = train_prompt(model, X, Y, P0, steps=10, lr=0.1, plan=plan, out_of_regime="exact")
    assert len(ex.events) >= 2 and ex.plan is plan                  # the plan is kept
    for e in ex.events:
        rec = ex.history[e.step]
        assert (e.action, e.plan_B, e.new_B, e.degree, e.rank) == ("exact", plan.B, None,
                                                                   None, None)
        assert e.measured_B == rec.measured_B > plan.B and rec.method == "exact"
    assert [e.step for e in ex.events] == [r.step for r in ex.history if r.method == "exact"]
    taylor = plan_kernel(s=plan.s, B=plan.B, beta=plan.beta, eps=plan.eps,
                         certifier=certify_polynomial, method="taylor")
    re_ = train_prompt(model, X, Y, P0, steps=10, lr=0.1, plan=taylor, out_of_regime="replan",
                       certifier=certify_polynomial)                  # default margin 1.25
    assert len(re_.events) >= 2 and re_.plan is not None and re_.plan.method == "taylor"
    previous = taylor.B
    for e in re_.events:
        rec = re_.history[e.step]
        assert e.action == "replanned" and e.plan_B == previous < e.measured_B == rec.measured_B
        assert e.new_B == pytest.approx(1.25 * e.measured_B, rel=1e-15) and rec.plan_B == e.new_B
        fresh = plan_kernel(s=plan.s, B=e.new_B, beta=plan.beta, eps=plan.eps,
                            certifier=certify_polynomial, method="taylor")
        assert (e.degree, e.rank) == (fresh.degree, math.comb(plan.s + fresh.degree,
                                                              fresh.degree))
        previous = e.new_B
    assert re_.plan.B == previous


# --- the capacity sweep: the model, the data, the loop and the report, against their docs ----


def _same_weights(a: Any, b: Any) -> bool:
    mats = ("w_q", "w_k", "w_v", "w_o")
    ff = ("w1", "b1", "w2", "b2")
    return (all(np.array_equal(getattr(a, k), getattr(b, k)) for k in mats)
            and a.beta == b.beta and len(a.ff_post) == len(b.ff_post)
            and all(np.array_equal(getattr(x, k), getattr(y, k))
                    for x, y in zip(a.ff_post, b.ff_post, strict=True) for k in ff))


def test_frozen_random_model_has_the_documented_shape_and_distributions() -> None:
    """s = d, β = 1/√s, W_Q, W_K, W_V, W_1 ~ N(0, 1/d), W_O ~ N(0, 1/s), W_2 ~ N(0, 1/h),
    b_1 ~ N(0, 0.5²), b_2 ~ N(0, 0.1²), h = hidden_factor·d (default 4, as SweepConfig),
    one FF_post layer, no FF_pre, no positional encoding; independent draws, seeded.
    Sample moments are checked at d = 64 with ~6-sigma tolerances."""
    from core.capacity_sweep import SweepConfig, frozen_random_model

    d = 64
    model = frozen_random_model(d, seed=1)
    w = model.weights
    h = SweepConfig().hidden_factor * d
    assert model.dtype == torch.float64 and w.pos is None and w.ff_pre == ()
    assert w.w_q.shape == (d, d) and model.beta == 1.0 / math.sqrt(d)
    assert len(w.ff_post) == 1 and w.ff_post[0].w1.shape == (h, d)
    ff = w.ff_post[0]
    for name, sample, std in (("w_q", w.w_q, d ** -0.5), ("w_k", w.w_k, d ** -0.5),
                              ("w_v", w.w_v, d ** -0.5), ("w_o", w.w_o, d ** -0.5),
                              ("w1", ff.w1, d ** -0.5), ("w2", ff.w2, h ** -0.5),
                              ("b1", ff.b1, 0.5), ("b2", ff.b2, 0.1)):
        x = np.asarray(sample, dtype=float).ravel()
        assert abs(x.mean()) <= 6 * std / math.sqrt(x.size), name
        assert abs(x.std() / std - 1) <= 6 / math.sqrt(2 * x.size), name
    assert not (np.array_equal(w.w_q, w.w_k) or np.array_equal(w.w_k, w.w_v)
                or np.array_equal(w.w_q, w.w_v))
    assert _same_weights(w, frozen_random_model(d, seed=1).weights)
    assert not np.array_equal(w.w_q, frozen_random_model(d, seed=2).weights.w_q)
    small = frozen_random_model(3, seed=0, hidden_factor=2).weights
    assert small.ff_post[0].w1.shape == (6, 3) and small.w_o.shape == (3, 3)


def test_random_dataset_is_uniform_on_the_unit_cube() -> None:
    """X and Y are independent uniform [0, 1] draws: mean 1/2, variance 1/12, not equal."""
    from core.capacity_sweep import CapacitySetting, random_dataset

    X, Y = random_dataset(CapacitySetting(d=4, L=4, N=500, eps=0.1), seed=0)
    for t in (X, Y):
        x = t.numpy().ravel()                                        # 8000 draws
        assert 0.0 <= x.min() and x.max() <= 1.0
        assert abs(x.mean() - 0.5) <= 6 * math.sqrt(1 / 12 / x.size)
        assert abs(x.var() - 1 / 12) <= 0.01
    assert abs(float(np.corrcoef(X.numpy().ravel(), Y.numpy().ravel())[0, 1])) < 0.1


def test_constructive_length_boundary_is_inclusive() -> None:
    """``constructive_Lp`` is given when the memoriser's label error 1/(2M) <= ε, equality
    included."""
    from core.capacity_sweep import CapacitySetting, constructive_prompt_length
    from core.constructions.memorise import constructive_length, memorisation_request

    sizes = memorisation_request(4, 1, 1).sizes()
    at = CapacitySetting(d=1, L=1, N=4, eps=1.0 / (2 * sizes.M))
    assert constructive_prompt_length(at) == constructive_length(sizes)
    below = CapacitySetting(d=1, L=1, N=4, eps=math.nextafter(1.0 / (2 * sizes.M), 0.0))
    assert constructive_prompt_length(below) is None


def test_sweep_config_accepts_its_smallest_values_and_refuses_non_int_lengths() -> None:
    """steps >= 0, hidden_factor >= 1, prompt_bits >= 1 (edges accepted); prompt lengths must
    be ints (not floats, not bools)."""
    from core.capacity_sweep import SweepConfig

    cfg = SweepConfig(steps=0, hidden_factor=1, prompt_bits=1, prompt_init_std=0.0)
    assert (cfg.steps, cfg.hidden_factor, cfg.prompt_bits) == (0, 1, 1)
    for lengths in ((1.5, 2), (True, 2), (1, 2.0)):
        with pytest.raises(InvalidArgument, match=r"^prompt_lengths="):
            SweepConfig(prompt_lengths=lengths)  # type: ignore[arg-type]


class _FakeRun:
    """Stands in for a TrainingResult: a final error after ``steps`` optimiser steps."""

    def __init__(self, error: float, steps: int) -> None:
        self.final_max_error, self.history = error, (None,) * (steps + 1)


def test_capacity_row_trains_each_length_with_the_configured_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each L_p trains ``train_prompt`` on frozen_random_model(d, seed, hidden_factor) and
    random_dataset(setting, seed) with the config's steps, lr and optimiser, exact attention
    and target ε; the loop stops at the first L_p whose error is <= ε (equality counts); one
    log line per L_p names the setting, L_p, the error, the steps taken and the seconds."""
    import core.capacity_sweep as cs

    cfg = cs.SweepConfig(seed=3, steps=7, lr=0.02, optimizer="gd", prompt_lengths=(1, 2, 5),
                         hidden_factor=2)
    setting = cs.CapacitySetting(d=2, L=1, N=3, eps=0.25)
    script = {1: (0.4, 7), 2: (0.25, 3), 5: (0.0, 1)}
    calls: list[tuple[Any, ...]] = []

    def fake_train(model: Any, X: Any, Y: Any, P0: Any, **kw: Any) -> _FakeRun:
        calls.append((model, X, Y, P0, kw))
        return _FakeRun(*script[P0.shape[1]])

    monkeypatch.setattr(cs, "train_prompt", fake_train)
    logs: list[str] = []
    row = cs.capacity_row(setting, cfg, logs.append)
    assert (row["tried_Lp"], row["final_errors"], row["smallest_Lp"]) == ([1, 2], [0.4, 0.25], 2)
    X, Y = cs.random_dataset(setting, 3)
    want = cs.frozen_random_model(2, 3, 2).weights
    for (model, x, y, P0, kw), lp in zip(calls, (1, 2), strict=True):
        assert _same_weights(model.weights, want)
        assert torch.equal(x, X) and torch.equal(y, Y)
        assert P0.shape == (2, lp) and P0.dtype == torch.float64
        assert kw.get("plan") is None
        assert (kw["steps"], kw["lr"], kw["optimizer"], kw["target_error"]) == (7, 0.02, "gd",
                                                                                 0.25)
    assert len(logs) == 2
    for line, (lp, (err, steps)) in zip(logs, list(script.items())[:2], strict=True):
        assert line.startswith(f"d=2 L=1 N=3 eps=0.25 L_p={lp}: max error {err:.3g} after "
                               f"{steps} steps (")
        secs = re.search(r"\((\S+) s\)$", line)
        assert secs is not None and 0.0 <= float(secs.group(1)) < 60.0
    swept: list[str] = []
    cs.capacity_sweep([setting], cfg, swept.append)
    assert [s.split(" (")[0] for s in swept] == [s.split(" (")[0] for s in logs]


def test_capacity_report_config_describes_the_documented_setup() -> None:
    """The JSON ``config`` holds every SweepConfig field plus one description per choice the
    module docstring documents (model, data, training, the two reference lengths)."""
    from dataclasses import fields

    from core.capacity_sweep import CapacitySetting, SweepConfig, capacity_sweep

    cfg = SweepConfig(steps=0, prompt_lengths=(1,), prompt_bits=8)
    config = capacity_sweep([CapacitySetting(d=1, L=1, N=1, eps=0.5)], cfg)["config"]
    described = {"model", "data", "training", "constructive_Lp", "lower_bound_Lp"}
    assert set(config) == {f.name for f in fields(SweepConfig)} | described
    facts = {
        "model": ["one-layer τ, s = d, β = 1/√s, random frozen weights W ~ N(0, 1/d), one ReLU",
                  "FF_post layer of width hidden_factor·d, no FF_pre, no positional encoding",
                  "encoding, float64"],
        "data": [],
        "training": ["exact attention, mean-squared-error loss, stops once max |τ_P(X) − Y| "
                     "<= eps; L_p tried in increasing order until one succeeds"],
        "constructive_Lp": ["route B memoriser length for shape (N, d, L) (core.constructions."
                            "memorise.constructive_length) when its real-label error 1/(2M) "
                            "<= eps, else null; it needs separated inputs",
                            "random datasets need not be"],
        "lower_bound_Lp": ["core.bounds.min_prompt_length_exact(packing_bits(d, L, C, eps), d, "
                           "K = 2^prompt_bits): C-Lipschitz class, K levels per prompt "
                           "coordinate"],
    }
    assert config["data"] == "inputs and labels uniform in [0, 1]^{d×L}, seeded"
    for key, phrases in facts.items():
        for phrase in phrases:
            assert phrase in config[key], (key, phrase)


def test_per_sample_paths_compute_tau_and_pass_their_chunk_sizes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-sample paths of prompt_outputs equal the batched τ_P(X) (exact: to rounding;
    kernel: within its error) with the same measured B, say which attention ran, and honour
    ``query_chunk`` / ``exact_method`` / ``kernel_chunk``."""
    model, X, _, P = _small_problem(n_post=1, N=3)             # n = 5, one FF_post layer
    with torch.no_grad():
        ref, B, method = pt.prompt_outputs(model, X, P)          # batched through the model
        want = model(X, P)
    assert method == "exact" and torch.equal(ref, want)
    spies = {"reference": _Spy(pt.exact_attention), "sdpa": _Spy(pt.sdpa_attention)}
    monkeypatch.setattr(pt, "exact_attention", spies["reference"])
    monkeypatch.setattr(pt, "sdpa_attention", spies["sdpa"])
    for qc in (5, 6):                                          # n <= query_chunk: batched
        out, B1, m1 = pt.prompt_outputs(model, X, P.clone().requires_grad_(True),
                                        query_chunk=qc)
        assert (m1, B1) == ("exact", B) and torch.equal(out.detach(), want)
        assert not spies["reference"].calls and not spies["sdpa"].calls
    for exact_method, other in (("reference", "sdpa"), ("sdpa", "reference")):
        Pg = P.clone().requires_grad_(True)
        out, B2, m2 = pt.prompt_outputs(model, X, Pg, query_chunk=1, exact_method=exact_method)
        assert (m2, B2) == ("exact", B) and torch.allclose(out, want, rtol=0, atol=1e-14)
        calls = spies[exact_method].calls                    # L = 2 queries, in blocks of 1
        assert calls and max(w for _, w in calls) <= 1 and not spies[other].calls
        calls.clear()
    for full in (False, True):
        with torch.no_grad():
            out, B3, m3 = pt.prompt_outputs(model, X, P, query_chunk=2, full=full)
        assert (m3, B3) == ("exact", B) and torch.allclose(out, model(X, P, full=full),
                                                           rtol=0, atol=1e-14)
    plan = _plan(model, 2.0)
    assert B <= plan.B
    with torch.no_grad():
        fast, B4, m4 = pt.prompt_outputs(model, X, P, plan=plan)
    assert (m4, B4) == ("polynomial", B) and torch.allclose(fast, want, rtol=0, atol=1e-6)
    with torch.no_grad():                              # the kernel over all n columns
        Yf = model(X, P, full=True) + 0.5
    rec = train_prompt(model, X, Yf, P, steps=0, lr=0.1, plan=plan, full=True).history[0]
    assert rec.method == "polynomial" and rec.loss == pytest.approx(0.25, abs=1e-5)
    with pytest.raises(InvalidArgument, match=r"^chunk=0"):
        pt.prompt_outputs(model, X, P, plan=plan, kernel_chunk=0)
    with pytest.raises(InvalidArgument, match=r"^chunk=0"):
        train_prompt(model, X, want, P, steps=0, lr=0.1, plan=plan, kernel_chunk=0)


def test_one_step_follows_the_documented_optimiser_and_records_each_prompt() -> None:
    """"gd" moves P by −lr·∇ℓ; Adam's first step (default betas, bias-corrected) by
    −lr·g/(|g| + 1e-8). Record k holds ℓ, max|τ_P(X) − Y| and B at the k-th prompt, the
    last one at the returned P; seconds are non-negative and within the call's wall time."""
    model, X, Y, P0 = _small_problem(n_post=1)
    g = prompt_gradient(model, X, Y, P0)
    for optimizer, lr, step in (("gd", 0.5, 0.5 * g), ("adam", 0.05, 0.05 * g / (g.abs() + 1e-8))):
        start = time.perf_counter()
        res = train_prompt(model, X, Y, P0, steps=1, lr=lr, optimizer=optimizer)
        wall = time.perf_counter() - start
        assert (res.optimizer, res.lr, len(res.history)) == (optimizer, lr, 2)
        assert torch.allclose(res.P, P0 - step, rtol=0, atol=1e-13), optimizer
        for rec, P in zip(res.history, (P0, res.P), strict=True):
            with torch.no_grad():
                out = model(X, P)
                B = max(pt.measured_norm(i.Q, i.K) for i in pt._inputs(model, X, P, False))
            assert rec.loss == pytest.approx(float(((out - Y) ** 2).mean()), rel=1e-13)
            assert rec.max_abs_error == pytest.approx(float((out - Y).abs().max()), rel=1e-13)
            assert (rec.measured_B, rec.method, rec.plan_B) == (B, "exact", None)
        assert [r.step for r in res.history] == [0, 1]
        assert all(r.seconds >= 0 for r in res.history)
        assert sum(r.seconds for r in res.history) <= wall
        assert (res.final_loss, res.final_max_error) == (res.history[-1].loss,
                                                         res.history[-1].max_abs_error)
    with torch.no_grad():                           # full=True: the loss over all n columns
        Yf = model(X, P0, full=True) + 0.5
    g = prompt_gradient(model, X, Yf, P0, full=True)
    res = train_prompt(model, X, Yf, P0, steps=1, lr=0.5, optimizer="gd", full=True)
    assert res.history[0].loss == pytest.approx(0.25, rel=1e-12)
    assert torch.allclose(res.P, P0 - 0.5 * g, rtol=0, atol=1e-13)


def test_training_honours_query_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``n > query_chunk`` the exact attention runs in blocks of at most ``query_chunk``
    queries (and a chunk of 0 is refused by name); the trained prompt is the same."""
    model, X, Y, P0 = _small_problem(n_post=1)
    whole = train_prompt(model, X, Y, P0, steps=1, lr=0.1)
    spy = _Spy(pt.exact_attention)
    monkeypatch.setattr(pt, "exact_attention", spy)
    chunked = train_prompt(model, X, Y, P0, steps=1, lr=0.1, query_chunk=1)
    assert spy.calls and max(w for _, w in spy.calls) <= 1            # L = 2 queries
    assert torch.allclose(chunked.P, whole.P, rtol=0, atol=1e-14)
    with pytest.raises(InvalidArgument, match=r"^query_chunk=0"):
        train_prompt(model, X, Y, P0, steps=1, lr=0.1, query_chunk=0)


def test_target_error_is_reached_when_equal() -> None:
    """Training stops at the first record with max error <= target_error (equality counts),
    without updating the prompt."""
    model, X, Y, P0 = _small_problem()
    e0 = train_prompt(model, X, Y, P0, steps=0, lr=0.1).history[0].max_abs_error
    res = train_prompt(model, X, Y, P0, steps=5, lr=0.1, target_error=e0)
    assert len(res.history) == 1 and torch.equal(res.P, P0)
    more = train_prompt(model, X, Y, P0, steps=3, lr=0.1, target_error=math.nextafter(e0, 0))
    assert len(more.history) >= 2 and more.history[0].max_abs_error == e0
    assert all(r.max_abs_error > math.nextafter(e0, 0) for r in more.history[:-1])


def test_measured_B_is_the_documented_norm_of_queries_and_keys() -> None:
    """B = max over samples of max(‖W_Q Z_q‖_max, ‖W_K Z‖_max), Z = [P, X_i] (no FF_pre, no
    E here), Z_q its query columns: all n with ``full``, the last L otherwise. Computed from
    the weights; a large prompt makes the two choices differ."""
    model, X, _, P = _small_problem(seed=3, n_post=1)
    P = P * 10
    Wq, Wk = (torch.as_tensor(np.array(m)) for m in (model.weights.w_q, model.weights.w_k))
    want = {}
    for full in (False, True):
        want[full] = max(float(max((Wq @ (Z if full else Z[:, -X.shape[2]:])).abs().max(),
                                   (Wk @ Z).abs().max()))
                         for Z in (torch.cat([P, x], dim=1) for x in X))
    assert want[True] > 2 * want[False]
    for full in (False, True):
        for qc in (pt.DEFAULT_QUERY_CHUNK, 1):                  # batched and per-sample paths
            with torch.no_grad():
                B = pt.prompt_outputs(model, X, P, full=full, query_chunk=qc)[1]
            assert B == pytest.approx(want[full], rel=1e-14), (full, qc)
        with torch.no_grad():
            Y = model(X, P, full=full)
        rec = train_prompt(model, X, Y, P, steps=0, lr=0.1, full=full).history[0]
        assert rec.measured_B == pytest.approx(want[full], rel=1e-14) and rec.loss == 0.0


def test_unknown_exact_method_is_refused_by_name_even_when_n_fits_one_block() -> None:
    """``exact_method`` is checked before the batched path is chosen, so a misspelt method is
    never silently ignored, and the refusal names ``exact_method``."""
    model, X, Y, P = _small_problem(N=2)                       # n = 5 <= default query_chunk
    for call in (lambda: pt.prompt_outputs(model, X, P, exact_method="flash"),
                 lambda: pt.prompt_loss(model, X, Y, P, exact_method="flash")):
        with pytest.raises(InvalidArgument) as info:
            call()
        assert str(info.value).startswith("exact_method='flash'"), str(info.value)
