"""Hypothesis strategies and builders for claims U and CM (docs/theory.md §2).

Instances are frozen dataclasses of JSON-able parameters plus a seed; τ, prompts, targets
and inputs are built from them deterministically. Built transformers are cached by their
parameters (τ depends on ``(d, L, C, ε, p, form)`` only).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from hypothesis import strategies as st

from core.constructions import (
    UniversalTransformer,
    build_universal,
    plan_universal,
)
from core.constructions.route_a import RouteATransformer
from core.errors import ConstructionTooLarge
from core.lipschitz import FAMILIES, LipschitzTarget, make_target
from core.targets import Target, resolve_target

from .strategies import seeds

__all__ = [
    "ATTAINING_FAMILIES",
    "DEMO_CONFIGS",
    "DEMO_CONFIGS_SLOW",
    "SHAPES",
    "ContextualInstance",
    "LipschitzInstance",
    "TooLargeInstance",
    "UniversalInstance",
    "contextual_instances",
    "demo_instances",
    "fit_c",
    "lipschitz_instances",
    "target_of",
    "too_large_instances",
    "transformer_of",
    "universal_instances",
]

#: ``(d, L)`` sizes the universality claims cover; drawn in every tier.
SHAPES: tuple[tuple[int, int], ...] = ((1, 1), (1, 2), (2, 1), (1, 3), (2, 2))

#: Families with a known witness pair (``relu_mlp``'s norm product is only an upper bound).
ATTAINING_FAMILIES: tuple[str, ...] = ("mcshane", "sinusoid", "sawtooth")

#: Default-tier ceilings on table slots per channel and on hidden units (per form);
#: bigger sizes are left to the audit and the slow tests.
DEFAULT_MAX_SLOTS = 32
DEFAULT_MAX_UNITS = {"deep": 40_000, "wide": 3_000, "linear": 40_000}


# --- Lipschitz families ------------------------------------------------------------------


@dataclass(frozen=True)
class LipschitzInstance:
    """One target of ``family`` with constant ``C``; ``grid`` is the sawtooth's ``K``."""

    seed: int
    family: str
    d: int
    L: int
    C: float
    grid: int = 4
    pairs: int = 64


def lipschitz_instances(families: tuple[str, ...] = FAMILIES,
                        ) -> st.SearchStrategy[LipschitzInstance]:
    """Targets of every family over those shapes, ``C ∈ [0.1, 8]``."""
    return st.builds(
        LipschitzInstance, seed=seeds(), family=st.sampled_from(families),
        d=st.integers(1, 2), L=st.integers(1, 3),
        C=st.floats(0.1, 8.0, allow_nan=False, allow_infinity=False),
        grid=st.sampled_from((1, 2, 4, 8)))


def lip_target(inst: LipschitzInstance) -> LipschitzTarget:
    return make_target(inst.family, inst.d, inst.L, inst.C, inst.seed, grid=inst.grid)


# --- the universal construction ------------------------------------------------------------


@dataclass(frozen=True)
class UniversalInstance:
    """τ for ``(d, L, C, eps, p, form)``, a target ``family``/``seed`` and drawn inputs.

    ``family`` is one of :data:`~core.lipschitz.FAMILIES` (built from ``seed``) or a user's
    ``module:function`` / ``file.py:function`` with declared constant ``C``
    (:func:`core.targets.resolve_target`).
    """

    seed: int
    family: str
    d: int
    L: int
    C: float
    eps: float
    p: int = 2
    form: str = "deep"
    points: int = 8


def fit_c(d: int, L: int, C: float, eps: float, p: int, form: str,
          max_slots: int = DEFAULT_MAX_SLOTS) -> float:
    """Halve ``C`` until the plan fits :data:`DEFAULT_MAX_UNITS` and ``max_slots``."""
    for _ in range(40):
        try:
            s = plan_universal(d, L, C, eps, p, form=form)
            if s.slots <= max_slots and s.units <= DEFAULT_MAX_UNITS[form]:
                return C
        except ConstructionTooLarge:
            pass
        C = C / 2
    return C


@st.composite
def _universal(draw: st.DrawFn, max_slots: int, forms: tuple[str, ...],
               families: tuple[str, ...]) -> UniversalInstance:
    d, L = draw(st.sampled_from(SHAPES))
    eps = draw(st.floats(0.05, 0.5, allow_nan=False, allow_infinity=False))
    p = draw(st.sampled_from((1, 2, 4)))
    form = draw(st.sampled_from(forms))
    C = draw(st.floats(0.25, 4.0, allow_nan=False, allow_infinity=False))
    C = fit_c(d, L, C, eps, p, form, max_slots)
    return UniversalInstance(seed=draw(seeds()), family=draw(st.sampled_from(families)),
                             d=d, L=L, C=C, eps=eps, p=p, form=form)


def universal_instances(*, max_slots: int = DEFAULT_MAX_SLOTS,
                        forms: tuple[str, ...] = ("deep", "wide", "linear"),
                        families: tuple[str, ...] = FAMILIES,
                        ) -> st.SearchStrategy[UniversalInstance]:
    """Configurations over :data:`SHAPES`, ``ε ∈ [0.05, 0.5]``, ``p ∈ {1, 2, 4}``, all
    families; ``C`` is halved until the plan fits ``max_slots`` and the unit ceilings."""
    return _universal(max_slots, forms, families)


@lru_cache(maxsize=16)
def _cached_build(d: int, L: int, C: float, eps: float, p: int, form: str,
                  ) -> UniversalTransformer:
    return build_universal(d, L, C, eps, p, form=form)


def transformer_of(inst: UniversalInstance) -> UniversalTransformer:
    """The (cached) frozen τ of ``inst``; depends on ``(d, L, C, eps, p, form)`` only."""
    return _cached_build(inst.d, inst.L, inst.C, inst.eps, inst.p, inst.form)


def target_of(inst: UniversalInstance, ut: UniversalTransformer | RouteATransformer, *,
              seed: int | None = None, family: str | None = None) -> Target:
    """The instance's target (the sawtooth's period is tied to τ's grid; a user's spec
    is loaded with declared constant ``inst.C``)."""
    return resolve_target(family or inst.family, inst.d, inst.L, inst.C,
                          seed=inst.seed if seed is None else seed, grid=ut.sizes.K)


def good_inputs(ut: UniversalTransformer | RouteATransformer, count: int,
                seed: int) -> np.ndarray:
    """``count`` inputs ``(count, d, L)`` off the strips: half uniform, half adversarial.

    Adversarial points sit at corners of cells' good parts (``b/K ± η/2``), where the
    within-cell change of a target is largest.
    """
    s = ut.sizes
    rng = np.random.default_rng(seed)
    K, half = s.K, float(s.eta) / 2
    X = rng.uniform(0.0, 1.0, (count, s.d, s.L))
    q = np.minimum(np.floor(X * K), K - 1)
    lo = q / K + np.where(q > 0, half, 0.0)
    hi = (q + 1) / K - np.where(q < K - 1, half, 0.0)
    X = np.clip(X, lo, hi)
    corners = rng.integers(0, 2, X.shape).astype(bool)
    X[count // 2:] = np.where(corners, lo, hi)[count // 2:]
    return X


# --- non-vacuous demonstrations --------------------------------------------------------------

#: Requests certified *and* beating every constant predictor (claim
#: ``universal_certified_beats_best_constant``): ``C = 1``, ``ε = 0.1``, ``p = 8``, linear
#: readout; the planner picks ``K = 8`` for each shape. A large ``p`` is the honest choice
#: here: the a-priori bound grows like ``(dL)^{1/p}·(Cδ/2 + 1/(2M))`` while a constant's
#: ``d_p`` tends to its largest deviation, so ``ε`` can sit below every family's best
#: constant at ``K = 8`` (at ``p = 2`` it cannot: docs/universality.md).
DEMO_CONFIGS: tuple[tuple[int, int, float, float, int, str], ...] = (
    (1, 1, 1.0, 0.1, 8, "linear"),      # 8 slots
    (2, 1, 1.0, 0.1, 8, "linear"),      # 64 slots
    (1, 2, 1.0, 0.1, 8, "linear"),      # 128 slots
    (1, 3, 1.0, 0.1, 8, "linear"))      # 1536 slots (about 3 s per target)

#: The same request at ``d·L = 4`` (slow tier: tests/test_universal_slow.py).
DEMO_CONFIGS_SLOW: tuple[tuple[int, int, float, float, int, str], ...] = (
    (4, 1, 1.0, 0.1, 8, "linear"),      # 4096 slots
    (2, 2, 1.0, 0.1, 8, "linear"))      # 8192 slots


def demo_instances(configs: tuple[tuple[int, int, float, float, int, str], ...] = DEMO_CONFIGS,
                   ) -> st.SearchStrategy[UniversalInstance]:
    """A demonstration request of ``configs``, any family, any seed."""
    def make(cfg: tuple[int, int, float, float, int, str], family: str,
             seed: int) -> UniversalInstance:
        d, L, C, eps, p, form = cfg
        return UniversalInstance(seed=seed, family=family, d=d, L=L, C=C, eps=eps, p=p,
                                 form=form)
    return st.builds(make, st.sampled_from(configs), st.sampled_from(FAMILIES), seeds())


# --- too-large requests ---------------------------------------------------------------------


@dataclass(frozen=True)
class TooLargeInstance:
    """A request beyond the limits: ``(d, L, C, eps, p, form)``."""

    d: int
    L: int
    C: float
    eps: float
    p: int = 1
    form: str = "deep"


def too_large_instances() -> st.SearchStrategy[TooLargeInstance]:
    """Requests that cannot fit: ``dL ≥ 4``, ``C ≥ 4``, ``ε ≤ 0.1`` (or wide with ``L ≥ 2``)."""
    return st.one_of(
        st.builds(TooLargeInstance, d=st.integers(2, 4), L=st.integers(2, 4),
                  C=st.floats(4.0, 64.0), eps=st.floats(0.01, 0.1), p=st.sampled_from((1, 2)),
                  form=st.sampled_from(("deep", "wide", "linear"))),
        st.builds(TooLargeInstance, d=st.integers(1, 2), L=st.integers(2, 3),
                  C=st.floats(2.0, 8.0), eps=st.floats(0.05, 0.2), p=st.just(1),
                  form=st.just("wide")))


# --- contextual mapping ---------------------------------------------------------------------


@dataclass(frozen=True)
class ContextualInstance:
    """Vocabulary sizes, lengths and rank of a softmax contextual map (docs/theory.md §2, CM)."""

    seed: int
    d: int
    L: int
    Lp: int
    vocab_x: int
    vocab_p: int
    rank: int


@st.composite
def _contextual(draw: st.DrawFn) -> ContextualInstance:
    d = draw(st.integers(1, 3))
    return ContextualInstance(seed=draw(seeds()), d=d, L=draw(st.integers(1, 2)),
                              Lp=draw(st.integers(0, 1)), vocab_x=draw(st.integers(2, 3)),
                              vocab_p=draw(st.integers(1, 2)), rank=draw(st.integers(1, d)))


def contextual_instances() -> st.SearchStrategy[ContextualInstance]:
    """Small vocabularies (≤ 3 input, ≤ 2 prompt tokens), ``L ≤ 2``, ``L_p ≤ 1``, any rank."""
    return _contextual()
