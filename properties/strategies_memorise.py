"""Hypothesis strategies and builders for claim M (docs/theory.md §2, ``thm:PT_memo``).

An instance is ``(seed, N, d, L, labels, delta, measured)``; the dataset is built from the
seed (:func:`core.constructions.separated.random_separated_inputs`):

* tokens uniform in ``[0,1]^d``, thinned to separation ``delta`` (each kept token at least
  ``δ`` from every token kept before it; draws within ``2^-34`` of a strip of any grid are
  dropped, probability at most ``2^-25`` per coordinate), then ``N' = min(N, T^L)`` distinct
  sequences of the ``T`` kept tokens: when thinning leaves too few tokens the dataset is a
  consistent smaller one, never a failure; ``X`` has shape ``(N', d, L)``;
* τ is :func:`core.constructions.memorise.request_for_dataset` of ``X`` with ``δ = delta``
  or, if ``measured``, ``δ`` measured from ``X`` (at least ``delta``, so a coarser or equal
  grid); τ is cached by its grid;
* labels ``Y`` ``(N', d, L)``: ``"grid"`` levels ``t/M``; ``"real"`` uniform in ``[0,1]``;
  ``"midpoint"`` adversarial reals ``(t + 1/2)/M ± 2^-30``, next to the rounding midpoints
  (a label quantised at a coarser precision than float64 lands on the wrong side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from core.constructions import UniversalTransformer
from core.constructions.memorise import (
    MemorisationRequest,
    memorisation_request,
    random_separated_inputs,
    request_for_dataset,
)
from core.constructions.separated import max_tokens

from .strategies import seeds

__all__ = [
    "LABELS",
    "MEMORISE_SHAPES",
    "TWIN_SHAPES",
    "LengthInstance",
    "MemoriseInstance",
    "MemoriseShape",
    "TruncationInstance",
    "dataset_of",
    "default_delta",
    "inputs_of",
    "length_instances",
    "memorisation_length_instance",
    "memorise_instances",
    "memoriser_of",
    "request_of",
    "truncation_instances",
]

LABELS: tuple[str, ...] = ("grid", "real", "midpoint")


class MemoriseShape(NamedTuple):
    """``(d, L)``, the largest ``N`` drawn, and ``δ`` drawn in ``[delta_lo, delta_hi)``.

    ``δ ∈ [1/K, 2/K)`` gives grid ``K`` (the smallest power of two with ``1/K ≤ δ``).
    """

    d: int
    L: int
    n_max: int
    delta_lo: float
    delta_hi: float


#: Default tier: grids of at most 32 slots (K = 8, 4, 4, 2, 2).
MEMORISE_SHAPES: tuple[MemoriseShape, ...] = (
    MemoriseShape(1, 1, 8, 1 / 8, 1 / 4), MemoriseShape(1, 2, 16, 1 / 4, 1 / 2),
    MemoriseShape(2, 1, 16, 1 / 4, 1 / 2), MemoriseShape(1, 3, 8, 1 / 2, 1.0),
    MemoriseShape(2, 2, 16, 1 / 2, 1.0))

#: τ with at most 8 slots: cheap enough for the mpmath twin (K = 8, 2, 2).
TWIN_SHAPES: tuple[MemoriseShape, ...] = (
    MemoriseShape(1, 1, 8, 1 / 8, 1 / 4), MemoriseShape(1, 2, 4, 1 / 2, 1.0),
    MemoriseShape(2, 1, 4, 1 / 2, 1.0))


def default_delta(d: int, L: int) -> float:
    """Thinning ``δ`` of an instance that names none: just above the default-tier grid's
    ``1/K`` for the shape (``0.51``, ``K = 2``, for shapes outside the list)."""
    for shape in MEMORISE_SHAPES:
        if (shape.d, shape.L) == (d, L):
            return shape.delta_lo * 1.04
    return 0.51


@dataclass(frozen=True)
class MemoriseInstance:
    """A thinned random dataset: at most ``N`` sequences ``d×L`` (module docstring).

    ``delta``: the thinning separation (``None``: :func:`default_delta`); ``measured``: τ
    and the validator use the separation measured from the data instead of ``delta``.
    """

    seed: int
    N: int
    d: int
    L: int
    labels: str = "grid"
    delta: float | None = None
    measured: bool = False

    @property
    def thinning(self) -> float:
        return default_delta(self.d, self.L) if self.delta is None else self.delta

    @property
    def hypothesis_delta(self) -> float | None:
        """The ``δ`` handed to the request and the validator (``None``: measured)."""
        return None if self.measured else self.thinning


def inputs_of(inst: MemoriseInstance) -> np.ndarray:
    """``X`` of shape ``(N', d, L)`` from the seed (the rng's first draws)."""
    return random_separated_inputs(np.random.default_rng(inst.seed), inst.N, inst.d, inst.L,
                                   inst.thinning)


def request_of(inst: MemoriseInstance) -> MemorisationRequest:
    """The request for the instance's inputs (``δ`` given, or measured)."""
    return request_for_dataset(inputs_of(inst), inst.hypothesis_delta)


def memoriser_of(inst: MemoriseInstance) -> UniversalTransformer:
    """The (cached by grid) τ for the instance's dataset."""
    return request_of(inst).build()


def dataset_of(inst: MemoriseInstance, ut: UniversalTransformer | None = None,
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)``, each ``(N', d, L)`` float64, built from the seed (module docstring).

    Labels use ``ut``'s output levels ``M`` (default: the instance's own τ).
    """
    rng = np.random.default_rng(inst.seed)
    X = random_separated_inputs(rng, inst.N, inst.d, inst.L, inst.thinning)
    M = (ut or request_for_dataset(X, inst.hypothesis_delta).build()).sizes.M
    if inst.labels == "grid":
        Y = rng.integers(0, M + 1, size=X.shape) / M
    elif inst.labels == "real":
        Y = rng.uniform(0.0, 1.0, size=X.shape)
    else:
        t = rng.integers(0, M, size=X.shape)
        side = rng.choice((-1.0, 1.0), size=X.shape)
        Y = (t + 0.5) / M + side * 2.0**-30
    return X, Y


@st.composite
def _memorise(draw: st.DrawFn, labels: tuple[str, ...],
              shapes: tuple[MemoriseShape, ...]) -> MemoriseInstance:
    shape = draw(st.sampled_from(shapes))
    delta = draw(st.floats(min_value=shape.delta_lo, max_value=shape.delta_hi,
                           exclude_max=True))
    return MemoriseInstance(seed=draw(seeds()), N=draw(st.integers(1, shape.n_max)),
                            d=shape.d, L=shape.L, labels=draw(st.sampled_from(labels)),
                            delta=delta, measured=draw(st.booleans()))


def memorise_instances(labels: tuple[str, ...] = LABELS,
                       shapes: tuple[MemoriseShape, ...] = MEMORISE_SHAPES,
                       ) -> st.SearchStrategy[MemoriseInstance]:
    """Thinned datasets over ``shapes``: ``1 ≤ N ≤ n_max``, ``δ`` drawn in the shape's range,
    given or measured with equal odds, the given label kinds."""
    return _memorise(labels, shapes)


@dataclass(frozen=True)
class TruncationInstance:
    """Toy τ for ``(N, d, L)`` whose prompt table keeps only ``free`` of its slots free."""

    N: int
    d: int
    L: int
    free: int


def truncation_instances() -> st.SearchStrategy[TruncationInstance]:
    """Toy shapes with at most 4 slots and every shortfall ``free < slots``."""
    return st.sampled_from((TruncationInstance(2, 1, 1, 0), TruncationInstance(2, 1, 1, 1),
                            TruncationInstance(1, 1, 2, 1), TruncationInstance(1, 2, 1, 0),
                            TruncationInstance(3, 1, 1, 2), TruncationInstance(4, 1, 1, 3)))


@dataclass(frozen=True)
class LengthInstance:
    """A universal request ``(d, L, C, eps, p)``; ``N > 0`` marks a memorisation τ for
    separation ``delta`` (``None``: :func:`~core.constructions.memorise.memorisation_request`'s
    default), whose grid replaces the planner's."""

    d: int
    L: int
    C: float
    eps: float
    p: int
    N: int = 0
    delta: float | None = None


def memorisation_length_instance(N: int, d: int, L: int,
                                 delta: float | None = None) -> LengthInstance:
    """The :class:`LengthInstance` of a memorisation request (sizes only)."""
    r = memorisation_request(N, d, L, delta)
    return LengthInstance(d=d, L=L, C=r.C, eps=r.eps, p=r.p, N=N, delta=delta)


@st.composite
def _lengths(draw: st.DrawFn) -> LengthInstance:
    shape = draw(st.sampled_from(MEMORISE_SHAPES))
    delta = draw(st.one_of(st.none(), st.floats(min_value=shape.delta_lo,
                                                max_value=shape.delta_hi, exclude_max=True)))
    n_max = shape.n_max if delta is None else min(shape.n_max,
                                                  max_tokens(delta, shape.d) ** shape.L)
    return memorisation_length_instance(draw(st.integers(1, n_max)), shape.d, shape.L, delta)


def length_instances() -> st.SearchStrategy[LengthInstance]:
    """Memorisation requests over :data:`MEMORISE_SHAPES` (sizes only: nothing is built)."""
    return _lengths()
