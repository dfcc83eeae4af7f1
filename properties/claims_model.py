"""Claims about the model itself (docs/theory.md §1, ``theory_ref="MODEL"``).

These pin down the definition every later claim relies on: the torch model agrees with its
independent mpmath twin, the attention reference agrees with an mpmath oracle and with a
third-party implementation, softmax is stable, the readout is the last ``L`` columns, and
attention without positional encoding is permutation-equivariant over the input tokens.
"""

from __future__ import annotations

import numpy as np
import torch

from core.attention import exact_attention, softmax_columns
from core.model import PromptTunedTransformer
from core.oracles import attention_oracle, model_oracle
from core.rounding import attention_error_bound, forward_error_bound, forward_error_bounds
from properties.compare import compare_arrays

from .claim import Claim, Outcome
from .strategies import (
    AttentionInstance,
    ModelInstance,
    SoftmaxInstance,
    attention_instances,
    build_attention_inputs,
    build_model_case,
    build_softmax_logits,
    model_instances,
    softmax_instances,
)

__all__ = ["CLAIMS"]

_MODEL_DEF = "§1 (model definition; our formalisation)"
_ROUNDING = ("forward rounding-error bound of the instance (core.rounding, docs/theory.md "
             "§6), plus the oracle's float64 rounding")
_TWO_SIDED = ("sum of both sides' forward rounding-error bounds (core.rounding, "
              "docs/theory.md §6)")
_PEER = ("sum of both implementations' rounding-error bounds (core.rounding; the peer with "
         "4 more roundings per score and 1 per output, docs/theory.md §6)")


def _torch_dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "float64": torch.float64}[name]


def _np_dtype(name: str) -> type:
    return {"float32": np.float32, "float64": np.float64}[name]


# --- model vs mpmath twin ------------------------------------------------------------------


def rounded_case(inst: ModelInstance) -> tuple[PromptTunedTransformer, np.ndarray,
                                                 np.ndarray]:
    """The instance's model on weights rounded to its dtype, and ``X``, ``P`` rounded too
    (float64 arrays holding dtype numbers), so that the model, the mpmath twin and the
    rounding bound all see the same numbers."""
    case = build_model_case(inst)
    npdt = _np_dtype(inst.dtype)
    weights = case.weights.rounded_to(npdt)
    X = case.X.astype(npdt).astype(np.float64)
    P = case.P.astype(npdt).astype(np.float64)
    return PromptTunedTransformer(weights, dtype=_torch_dtype(inst.dtype)), X, P


def run_model(model: PromptTunedTransformer, X: np.ndarray, P: np.ndarray, *,
              full: bool = False) -> torch.Tensor:
    """``model(X, P)`` without gradients, from float64 arrays of dtype numbers."""
    with torch.no_grad():
        return model(torch.tensor(X, dtype=model.dtype), torch.tensor(P, dtype=model.dtype),
                     full=full)


def measure_model_vs_twin(inst: ModelInstance) -> Outcome:
    """Max-norm gap between the torch model and the mpmath twin on the same (rounded)
    weights, against the instance's forward rounding-error bound (:mod:`core.rounding`)."""
    model, X, P = rounded_case(inst)
    got = run_model(model, X, P)
    truth = model_oracle(model.weights, X, P)
    rounding = forward_error_bound(model.weights, X, P, model.dtype)
    cmp = compare_arrays(got, truth.value, rounding + truth.slack)
    return cmp.outcome(oracle_gap=truth.gap, oracle_dps=list(truth.dps),
                       rounding_bound=rounding)


# --- attention reference vs oracle and vs torch SDPA ---------------------------------------


def measure_attention_vs_oracle(inst: AttentionInstance) -> Outcome:
    """Float64 reference against mpmath ``V softmax_col(β KᵀQ)`` at two precisions."""
    Q, K, V = build_attention_inputs(inst)
    got = exact_attention(torch.tensor(Q), torch.tensor(K), torch.tensor(V), inst.beta)
    truth = attention_oracle(Q, K, V, inst.beta)
    rounding = attention_error_bound(Q, K, V, inst.beta, torch.float64)
    return compare_arrays(got, truth.value, rounding + truth.slack).outcome(
        oracle_gap=truth.gap, rounding_bound=rounding)


def measure_attention_vs_sdpa(inst: AttentionInstance) -> Outcome:
    """Reference against ``torch.nn.functional.scaled_dot_product_attention`` (rows = tokens)."""
    arrays = build_attention_inputs(inst)
    Q, K, V = (torch.tensor(a) for a in arrays)
    got = exact_attention(Q, K, V, inst.beta)
    peer = torch.nn.functional.scaled_dot_product_attention(
        Q.T[None], K.T[None], V.T[None], scale=inst.beta)[0].T
    ours = attention_error_bound(*arrays, inst.beta, torch.float64)
    theirs = attention_error_bound(*arrays, inst.beta, torch.float64, extra_score_ops=4,
                                   extra_output_ops=1)
    return compare_arrays(got, peer, ours + theirs).outcome()


# --- softmax at extreme logits --------------------------------------------------------------


def measure_softmax_extremes(inst: SoftmaxInstance) -> Outcome:
    """Column sums of softmax at logits up to ``1e4``: finite, non-negative, summing to one.

    Bound: a sum of ``n`` terms in ``[0, 1]`` plus one division is within ``(n + 1)·u`` of
    the exact value (``u`` the unit roundoff of the dtype), so ``|Σ_i p_i − 1| <= (n+1)·u``.
    """
    dt = _torch_dtype(inst.dtype)
    probs = softmax_columns(torch.tensor(build_softmax_logits(inst), dtype=dt))
    u = torch.finfo(dt).eps / 2
    bound = (inst.n + 1) * u
    finite = bool(torch.isfinite(probs).all()) and bool((probs >= 0).all())
    sums = probs.to(torch.float64).sum(dim=0)
    error = float((sums - 1).abs().max()) if finite else float("inf")
    return Outcome(error=error, bound=bound, detail={"all_finite_nonnegative": finite})


# --- readout and permutation equivariance ---------------------------------------------------


def measure_readout(inst: ModelInstance) -> Outcome:
    """τ_P(X) against the last ``L`` columns of the full ``n``-column forward; both are
    within their rounding bounds of the same exact values."""
    model, X, P = rounded_case(inst)
    readout = run_model(model, X, P)
    full = run_model(model, X, P, full=True)
    bounds = (forward_error_bounds(model.weights, X, P, model.dtype)
              + forward_error_bounds(model.weights, X, P, model.dtype, full=True)[:, inst.Lp:])
    return compare_arrays(readout, full[:, inst.Lp:], float(bounds.max())).outcome()


def measure_permutation(inst: ModelInstance) -> Outcome:
    """τ_P(X π) against τ_P(X) π for a seeded permutation π of the input tokens (no E);
    both are within their rounding bounds of the same exact values."""
    model, X, P = rounded_case(inst)
    perm = np.random.default_rng(inst.seed + 1).permutation(inst.L)
    permuted_then = run_model(model, X[:, perm], P)
    then_permuted = run_model(model, X, P)[:, torch.as_tensor(perm)]
    bounds = (forward_error_bounds(model.weights, X[:, perm], P, model.dtype)
              + forward_error_bounds(model.weights, X, P, model.dtype)[:, perm])
    return compare_arrays(permuted_then, then_permuted, float(bounds.max())).outcome(
        permutation=perm.tolist())


# --- reference points ------------------------------------------------------------------------


def _model_points() -> list[ModelInstance]:
    return [
        ModelInstance(seed=0, d=1, s=1, L=1, Lp=0, n_pre=0, n_post=0),
        ModelInstance(seed=1, d=2, s=2, L=3, Lp=2),
        ModelInstance(seed=2, d=3, s=2, L=2, Lp=4, positional=True, beta=3.0),
        ModelInstance(seed=3, d=4, s=4, L=4, Lp=1, n_pre=2, n_post=2, dtype="float32"),
        ModelInstance(seed=4, d=2, s=3, L=5, Lp=5, weight_scale=2.0, beta=4.0),
    ]


def _unpositioned_points() -> list[ModelInstance]:
    return [ModelInstance(seed=5, d=3, s=2, L=5, Lp=2),
            ModelInstance(seed=6, d=2, s=2, L=4, Lp=0, dtype="float32")]


def _attention_points() -> list[AttentionInstance]:
    return [
        AttentionInstance(seed=0, s=1, d_v=1, n=1, m=1, B=1.0, beta=1.0),
        AttentionInstance(seed=1, s=4, d_v=3, n=12, m=12, B=3.0, beta=2.0, pattern="signs"),
        AttentionInstance(seed=2, s=6, d_v=2, n=7, m=3, B=0.0, beta=0.5),
        AttentionInstance(seed=3, s=3, d_v=4, n=12, m=5, B=2.0, beta=0.25),
        # seed 192 of the quick audit: outputs within 10^-30 of a float64 rounding midpoint
        AttentionInstance(seed=180823, s=5, d_v=2, n=8, m=9, B=2.220446049250313e-16,
                          beta=1 / 3, pattern="signs"),
    ]


def _softmax_points() -> list[SoftmaxInstance]:
    return [SoftmaxInstance(seed=0, n=1, m=1, magnitude=1e4),
            SoftmaxInstance(seed=1, n=64, m=8, magnitude=1e4),
            SoftmaxInstance(seed=2, n=64, m=8, magnitude=1e4, dtype="float32"),
            SoftmaxInstance(seed=3, n=5, m=3, magnitude=0.0)]


CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="model_matches_mp_twin", theory_ref="MODEL", paper_ref=_MODEL_DEF,
        statement="The torch model in float32 and float64 agrees with its mpmath twin, "
                  "evaluated at 30 and 45 digits, within the instance's rounding-error bound.",
        evidence="oracle", instance_type=ModelInstance,
        strategy=model_instances, reference_points=_model_points,
        measure=measure_model_vs_twin, bound_source=_ROUNDING, draws=2.0),
    Claim(
        id="attention_matches_mp_oracle", theory_ref="MODEL", paper_ref=_MODEL_DEF,
        statement="The exact attention reference agrees with mpmath attention at two "
                  "precisions on inputs with bounded max norm, sign patterns included.",
        evidence="oracle", instance_type=AttentionInstance,
        strategy=attention_instances, reference_points=_attention_points,
        measure=measure_attention_vs_oracle, bound_source=_ROUNDING, draws=2.0),
    Claim(
        id="attention_matches_torch_sdpa", theory_ref="MODEL", paper_ref=_MODEL_DEF,
        statement="The exact attention reference agrees with torch's "
                  "scaled_dot_product_attention, a third-party implementation.",
        evidence="sampled", instance_type=AttentionInstance,
        strategy=attention_instances, reference_points=_attention_points,
        measure=measure_attention_vs_sdpa, bound_source=_PEER),
    Claim(
        id="softmax_stable_at_extreme_logits", theory_ref="MODEL", paper_ref=_MODEL_DEF,
        statement="Column softmax stays finite and non-negative with logits up to 1e4 in "
                  "magnitude, and every column sums to one within (n+1) unit roundoffs.",
        evidence="sampled", instance_type=SoftmaxInstance,
        strategy=softmax_instances, reference_points=_softmax_points,
        measure=measure_softmax_extremes,
        bound_source="rounding of an n-term sum and one division: (n+1)·u"),
    Claim(
        id="readout_is_last_l_columns", theory_ref="MODEL", paper_ref=_MODEL_DEF,
        statement="The prompt-tuned readout equals the last L columns of the full "
                  "n-column forward pass.",
        evidence="sampled", instance_type=ModelInstance,
        strategy=model_instances, reference_points=_model_points,
        measure=measure_readout, bound_source=_TWO_SIDED),
    Claim(
        id="attention_permutation_equivariant", theory_ref="MODEL", paper_ref=_MODEL_DEF,
        statement="Without positional encoding, permuting the input tokens permutes the "
                  "outputs the same way while the prompt stays fixed.",
        evidence="sampled", instance_type=ModelInstance,
        strategy=lambda: model_instances(positional=False),
        reference_points=_unpositioned_points,
        measure=measure_permutation, bound_source=_TWO_SIDED),
)

