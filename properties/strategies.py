"""Hypothesis strategies and the builders that turn drawn parameters into arrays.

Strategies draw small frozen *instances* (parameters plus a seed); the arrays are built
deterministically from the seed by the ``build_*`` functions, so an instance prints in one
line and replays exactly (docs/design.md: "large arrays built from a drawn seed").
Plural nouns name what a strategy produces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from core.weights import FeedForwardWeights, TransformerWeights

__all__ = [
    "AttentionInstance",
    "ModelCase",
    "ModelInstance",
    "SoftmaxInstance",
    "attention_instances",
    "bounded_qkv",
    "build_attention_inputs",
    "build_model_case",
    "build_softmax_logits",
    "model_instances",
    "seeds",
    "softmax_instances",
]

DTYPES: tuple[str, ...] = ("float64", "float32")


def seeds() -> st.SearchStrategy[int]:
    """Seeds for NumPy's PCG64 generator."""
    return st.integers(min_value=0, max_value=2**32 - 1)


# --- the prompt-tuned model ---------------------------------------------------------------


@dataclass(frozen=True)
class ModelInstance:
    """Parameters of one (weights, prompt, input) draw for the model of docs/theory.md §1.

    ``weight_scale`` multiplies weights drawn with entries ``N(0, 1/d)``; inputs ``X`` are
    uniform on ``[0, 1]^{d×L}``; prompt entries are ``N(0, 1)``.
    """

    seed: int
    d: int
    s: int
    L: int
    Lp: int
    n_pre: int = 1
    n_post: int = 1
    hidden: int = 4
    positional: bool = False
    beta: float = 0.5
    weight_scale: float = 1.0
    dtype: str = "float64"


@dataclass(frozen=True)
class ModelCase:
    """Arrays built from a :class:`ModelInstance`: ``X`` ``(d, L)``, ``P`` ``(d, L_p)``."""

    weights: TransformerWeights
    X: np.ndarray
    P: np.ndarray


def model_instances(*, dtypes: tuple[str, ...] = DTYPES, positional: bool | None = None,
                    max_tokens: int = 5) -> st.SearchStrategy[ModelInstance]:
    """Small model draws (``d, s <= 4``, ``L, L_p <= max_tokens``) for oracle comparisons."""
    return st.builds(
        ModelInstance,
        seed=seeds(),
        d=st.integers(1, 4), s=st.integers(1, 4),
        L=st.integers(1, max_tokens), Lp=st.integers(0, max_tokens),
        n_pre=st.integers(0, 2), n_post=st.integers(0, 2), hidden=st.integers(1, 6),
        positional=st.booleans() if positional is None else st.just(positional),
        beta=st.floats(0.05, 4.0, allow_nan=False, allow_infinity=False),
        weight_scale=st.floats(0.1, 2.0, allow_nan=False, allow_infinity=False),
        dtype=st.sampled_from(dtypes),
    )


def _ff_stack(rng: np.random.Generator, count: int, d: int, hidden: int,
              scale: float) -> tuple[FeedForwardWeights, ...]:
    return tuple(
        FeedForwardWeights(
            w1=rng.normal(0.0, scale / np.sqrt(d), (hidden, d)),
            b1=rng.normal(0.0, scale, hidden),
            w2=rng.normal(0.0, scale / np.sqrt(hidden), (d, hidden)),
            b2=rng.normal(0.0, scale, d))
        for _ in range(count))


def build_model_case(inst: ModelInstance) -> ModelCase:
    """Deterministic weights, input and prompt for ``inst`` (all float64)."""
    rng = np.random.default_rng(inst.seed)
    d, s, c = inst.d, inst.s, inst.weight_scale
    w = [rng.normal(0.0, c / np.sqrt(d), (s, d)) for _ in range(3)]
    w_o = rng.normal(0.0, c / np.sqrt(s), (d, s))
    pos = rng.normal(0.0, 0.5, (d, inst.Lp + inst.L)) if inst.positional else None
    weights = TransformerWeights(
        w_q=w[0], w_k=w[1], w_v=w[2], w_o=w_o, beta=inst.beta,
        ff_pre=_ff_stack(rng, inst.n_pre, d, inst.hidden, c),
        ff_post=_ff_stack(rng, inst.n_post, d, inst.hidden, c),
        pos=pos)
    X = rng.uniform(0.0, 1.0, (d, inst.L))
    P = rng.normal(0.0, 1.0, (d, inst.Lp))
    return ModelCase(weights=weights, X=X, P=P)


# --- bounded-norm attention inputs (docs/theory.md §3 norm regime) ------------------------------


@dataclass(frozen=True)
class AttentionInstance:
    """``Q ∈ [−B, B]^{s×m}``, ``K ∈ [−B, B]^{s×n}``, ``V ∈ [−1, 1]^{d_v×n}``, scale ``β``.

    ``pattern`` is ``"uniform"`` (entries uniform in ``[−B, B]``) or ``"signs"`` (entries
    ``±B``: the adversarial extreme of the norm promise, every score at ``±β·s·B²``).
    """

    seed: int
    s: int
    d_v: int
    n: int
    m: int
    B: float
    beta: float
    pattern: str = "uniform"


def attention_instances(*, max_n: int = 12, max_B: float = 3.0,
                        patterns: tuple[str, ...] = ("uniform", "signs"),
                        ) -> st.SearchStrategy[AttentionInstance]:
    """Attention draws with ``‖Q‖_max, ‖K‖_max <= B`` (the norm promise of docs/theory.md §3)."""
    return st.builds(
        AttentionInstance,
        seed=seeds(), s=st.integers(1, 6), d_v=st.integers(1, 4),
        n=st.integers(1, max_n), m=st.integers(1, max_n),
        B=st.floats(0.0, max_B, allow_nan=False, allow_infinity=False),
        beta=st.floats(0.05, 2.0, allow_nan=False, allow_infinity=False),
        pattern=st.sampled_from(patterns),
    )


def bounded_qkv(rng: np.random.Generator, *, s: int, m: int, n: int, d_v: int, B: float,
                pattern: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Q (s, m)``, ``K (s, n)`` with max norm ``<= B`` (entries ``±B`` for ``"signs"``,
    uniform in ``[−B, B]`` otherwise) and ``V (d_v, n)`` uniform in ``[−1, 1]``."""
    if pattern == "signs":
        Q = B * rng.choice([-1.0, 1.0], (s, m))
        K = B * rng.choice([-1.0, 1.0], (s, n))
    else:
        Q = rng.uniform(-B, B, (s, m))
        K = rng.uniform(-B, B, (s, n))
    V = rng.uniform(-1.0, 1.0, (d_v, n))
    return Q, K, V


def build_attention_inputs(inst: AttentionInstance) -> tuple[np.ndarray, np.ndarray,
                                                              np.ndarray]:
    """``(Q, K, V)`` float64 arrays of shapes ``(s, m), (s, n), (d_v, n)`` for ``inst``."""
    return bounded_qkv(np.random.default_rng(inst.seed), s=inst.s, m=inst.m, n=inst.n,
                       d_v=inst.d_v, B=inst.B, pattern=inst.pattern)


# --- extreme logits ------------------------------------------------------------------------


@dataclass(frozen=True)
class SoftmaxInstance:
    """An ``(n, m)`` logit matrix with entries up to ``magnitude`` in absolute value."""

    seed: int
    n: int
    m: int
    magnitude: float
    dtype: str = "float64"


def softmax_instances() -> st.SearchStrategy[SoftmaxInstance]:
    """Logit matrices with magnitudes up to ``1e4`` (far past ``exp``'s overflow at ~709)."""
    return st.builds(
        SoftmaxInstance, seed=seeds(), n=st.integers(1, 64), m=st.integers(1, 8),
        magnitude=st.floats(0.0, 1e4, allow_nan=False, allow_infinity=False),
        dtype=st.sampled_from(DTYPES))


def build_softmax_logits(inst: SoftmaxInstance) -> np.ndarray:
    """Logits with entries uniform in ``[−magnitude, magnitude]`` plus exact ±magnitude ties."""
    rng = np.random.default_rng(inst.seed)
    logits = rng.uniform(-inst.magnitude, inst.magnitude, (inst.n, inst.m))
    logits[0, :] = inst.magnitude       # an exact maximum in every column
    if inst.n > 1:
        logits[-1, :] = -inst.magnitude
    return logits
