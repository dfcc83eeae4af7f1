"""core.rounding: the forward rounding-error bound holds against mpmath, is not absurdly
loose, and still catches planted bugs on the MODEL claim's reference points."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import properties.claims_model as claims_model
from core.attention import exact_attention
from core.errors import InvalidArgument
from core.model import PromptTunedTransformer
from core.oracles import attention_oracle, model_oracle
from core.rounding import (
    attention_error_bound,
    forward_error_bound,
    forward_error_bounds,
    gamma,
    unit_roundoff,
)
from properties.registry import get_claim
from properties.strategies import (
    AttentionInstance,
    ModelInstance,
    build_attention_inputs,
    build_model_case,
)

_NP = {"float32": np.float32, "float64": np.float64}


def _random_instances(count: int, seed: int) -> list[ModelInstance]:
    """Draws over the whole range of ``model_instances()``, both dtypes alternating."""
    rng = np.random.default_rng(seed)
    return [ModelInstance(
        seed=int(rng.integers(2**32)), d=int(rng.integers(1, 5)), s=int(rng.integers(1, 5)),
        L=int(rng.integers(1, 6)), Lp=int(rng.integers(0, 6)), n_pre=int(rng.integers(0, 3)),
        n_post=int(rng.integers(0, 3)), hidden=int(rng.integers(1, 7)),
        positional=bool(rng.integers(2)), beta=float(rng.uniform(0.05, 4.0)),
        weight_scale=float(rng.uniform(0.1, 2.0)), dtype=("float32", "float64")[i % 2])
        for i in range(count)]


def _measured_and_bound(inst: ModelInstance) -> tuple[float, float]:
    case = build_model_case(inst)
    npdt = _NP[inst.dtype]
    w = case.weights.rounded_to(npdt)
    X, P = (a.astype(npdt).astype(np.float64) for a in (case.X, case.P))
    model = PromptTunedTransformer(w, dtype=getattr(torch, inst.dtype))
    with torch.no_grad():
        got = model(torch.tensor(X, dtype=model.dtype), torch.tensor(P, dtype=model.dtype))
    truth = model_oracle(w, X, P)
    err = float(np.abs(got.double().numpy() - truth.value).max())
    return err, forward_error_bound(w, X, P, model.dtype) + truth.slack


def test_bound_holds_and_is_not_absurdly_loose_over_random_instances() -> None:
    ratios: dict[str, list[float]] = {"float32": [], "float64": []}
    for inst in _random_instances(120, seed=2026):
        err, bound = _measured_and_bound(inst)
        assert err <= bound, f"{inst}: measured {err!r} > bound {bound!r}"
        ratios[inst.dtype].append(err / bound)
    for dtype, r in ratios.items():
        median = float(np.median(r))
        # measured about 1/50 to 1/90 of the bound (docs/theory.md §6); 1/1000 is absurd
        assert 1e-3 < median < 1.0, f"{dtype}: median measured/bound {median:.3g}"


def test_attention_bound_holds_against_the_oracle() -> None:
    rng = np.random.default_rng(11)
    for i in range(40):
        inst = AttentionInstance(seed=i, s=int(rng.integers(1, 7)), d_v=int(rng.integers(1, 5)),
                                 n=int(rng.integers(1, 13)), m=int(rng.integers(1, 13)),
                                 B=float(rng.uniform(0, 3)), beta=float(rng.uniform(0.05, 2)),
                                 pattern=("uniform", "signs")[i % 2])
        Q, K, V = build_attention_inputs(inst)
        truth = attention_oracle(Q, K, V, inst.beta)
        got = exact_attention(*(torch.tensor(a) for a in (Q, K, V)), inst.beta).numpy()
        bound = attention_error_bound(Q, K, V, inst.beta, torch.float64) + truth.slack
        assert float(np.abs(got - truth.value).max()) <= bound


def test_bounds_are_entrywise_and_cover_the_readout() -> None:
    case = build_model_case(ModelInstance(seed=3, d=2, s=2, L=3, Lp=2))
    full = forward_error_bounds(case.weights, case.X, case.P, torch.float64, full=True)
    readout = forward_error_bounds(case.weights, case.X, case.P, torch.float64)
    assert full.shape == (2, 5) and readout.shape == (2, 3)
    assert (full >= 0).all() and (readout > 0).all()
    assert forward_error_bound(case.weights, case.X, case.P, "float64") == readout.max()


def test_float32_bound_is_larger_than_float64() -> None:
    case = build_model_case(ModelInstance(seed=4, d=3, s=2, L=2, Lp=1))
    w = case.weights.rounded_to(np.float32)
    X, P = (a.astype(np.float32).astype(np.float64) for a in (case.X, case.P))
    b32 = forward_error_bound(w, X, P, torch.float32)
    b64 = forward_error_bound(w, X, P, torch.float64)
    assert 1e7 < b32 / b64 < 1e10           # about u32/u64 = 2^29


def test_gamma_and_unit_roundoff() -> None:
    assert unit_roundoff(torch.float32) == 2.0 ** -24 == unit_roundoff(np.float32)
    assert unit_roundoff("float64") == 2.0 ** -53
    assert gamma(0, 2.0 ** -24) == 0.0
    assert gamma(2, 0.25) == pytest.approx(1.0)
    assert gamma(4, 0.25) == float("inf")
    with pytest.raises(InvalidArgument, match="float32 or float64"):
        unit_roundoff(torch.float16)


def test_refuses_weights_the_dtype_cannot_hold() -> None:
    case = build_model_case(ModelInstance(seed=5, d=2, s=2, L=2, Lp=1))
    with pytest.raises(InvalidArgument, match="not float32 numbers"):
        forward_error_bound(case.weights, case.X, case.P, torch.float32)


# --- planted bugs on the claim's reference points -----------------------------------------


def _reference_points() -> list[ModelInstance]:
    claim = get_claim("model_matches_mp_twin")
    points = list(claim.reference_points())
    return points + [dataclasses.replace(p, dtype="float32") for p in points
                     if p.dtype == "float64"]


def _ulps(inst: ModelInstance) -> float:
    """The claim's bound on ``inst`` in ulps of the output's max norm."""
    model, X, P = claims_model.rounded_case(inst)
    truth = model_oracle(model.weights, X, P)
    bound = forward_error_bound(model.weights, X, P, model.dtype) + truth.slack
    scale = np.abs(truth.value).max().astype(_NP[inst.dtype])
    return bound / float(np.spacing(scale))


def _perturbed(ulps: float):
    original = claims_model.run_model

    def run(model: PromptTunedTransformer, X: np.ndarray, P: np.ndarray, *,
            full: bool = False) -> torch.Tensor:
        out = original(model, X, P, full=full)
        scale = out.abs().max().to(model.dtype)
        return out + ulps * float(np.spacing(scale.numpy()))

    return run


#: Reference points whose bound is under 64 ulps of the output (no FF layer; one on each
#: side, two tokens per side); the others' worst-case bounds reach 150–2000 ulps.
_TIGHT = {0, 1}


def test_reference_point_bounds_in_ulps() -> None:
    ulps = {p.seed: _ulps(p) for p in get_claim("model_matches_mp_twin").reference_points()}
    assert {s for s, u in ulps.items() if u < 64} == _TIGHT, ulps
    assert max(ulps.values()) < 4096, ulps


def test_a_64_ulp_systematic_error_fails_on_the_tight_reference_points(
        monkeypatch: pytest.MonkeyPatch) -> None:
    claim = get_claim("model_matches_mp_twin")
    monkeypatch.setattr(claims_model, "run_model", _perturbed(64))
    for inst in _reference_points():
        if inst.seed in _TIGHT:
            assert not claim.measure(inst).holds, inst


def test_a_4096_ulp_systematic_error_fails_on_every_reference_point(
        monkeypatch: pytest.MonkeyPatch) -> None:
    claim = get_claim("model_matches_mp_twin")
    monkeypatch.setattr(claims_model, "run_model", _perturbed(4096))
    for inst in claim.reference_points():
        assert not claim.measure(inst).holds, inst


class _BetaTwice(PromptTunedTransformer):
    """The planted wrong formula: scores scaled by ``β²`` (β applied twice)."""

    def __init__(self, weights, *, dtype=torch.float64, device="cpu"):
        super().__init__(weights, dtype=dtype, device=device)
        self.beta = float(torch.tensor(self.beta * self.beta, dtype=dtype))


def test_beta_applied_twice_fails_on_every_reference_point_where_softmax_matters(
        monkeypatch: pytest.MonkeyPatch) -> None:
    claim = get_claim("model_matches_mp_twin")
    monkeypatch.setattr(claims_model, "PromptTunedTransformer", _BetaTwice)
    for inst in _reference_points():
        if inst.L + inst.Lp == 1:          # one key: softmax is 1 whatever β is
            assert claim.measure(inst).holds
        elif not (inst.seed == 4 and inst.dtype == "float32"):  # saturated: one-hot at β, β²
            assert not claim.measure(inst).holds, inst


def test_the_unperturbed_claim_holds_on_every_reference_point() -> None:
    claim = get_claim("model_matches_mp_twin")
    for inst in _reference_points():
        assert claim.measure(inst).holds, inst
