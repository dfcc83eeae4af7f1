"""Hypothesis strategies and builders for claim M (docs/theory.md §2, ``thm:PT_memo``).

An instance is ``(seed, N, d, L, labels)``; τ is :func:`core.constructions.memorise.
build_memoriser` of ``(N, d, L)`` (cached), and the dataset is built from the seed:

* a vocabulary of one token per grid cell of ``[0,1]^d`` (uniform in the cell's good part,
  at least ``η/2`` from interior boundaries) — so tokens are separated by construction;
* ``N`` distinct cell tuples drawn without replacement from the ``K^{dL}`` cells; sequence
  ``i`` is the vocabulary tokens of its cells, ``X`` has shape ``(N, d, L)``;
* labels ``Y`` ``(N, d, L)``: ``"grid"`` levels ``t/M``; ``"real"`` uniform in ``[0,1]``;
  ``"midpoint"`` adversarial reals ``(t + 1/2)/M ± 2^-30``, next to the rounding midpoints
  (a label quantised at a coarser precision than float64 lands on the wrong side).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from hypothesis import strategies as st

from core.constructions import UniversalTransformer
from core.constructions.memorise import build_memoriser

from .strategies import seeds

__all__ = [
    "LABELS",
    "MEMORISE_SHAPES",
    "TWIN_SHAPES",
    "LengthInstance",
    "MemoriseInstance",
    "TruncationInstance",
    "dataset_of",
    "length_instances",
    "memorise_instances",
    "memoriser_of",
    "truncation_instances",
]

LABELS: tuple[str, ...] = ("grid", "real", "midpoint")

#: ``(d, L, N_max)`` drawn in the default tier: grids of at most 32 slots.
MEMORISE_SHAPES: tuple[tuple[int, int, int], ...] = (
    (1, 1, 8), (1, 2, 16), (2, 1, 16), (1, 3, 8), (2, 2, 16))


@dataclass(frozen=True)
class MemoriseInstance:
    """A dataset of ``N`` separated sequences of shape ``d×L`` with ``labels`` kind."""

    seed: int
    N: int
    d: int
    L: int
    labels: str = "grid"


@lru_cache(maxsize=16)
def _memoriser(N: int, d: int, L: int) -> UniversalTransformer:
    return build_memoriser(N, d, L)


def memoriser_of(inst: MemoriseInstance) -> UniversalTransformer:
    """The (cached) τ for the instance's shape ``(N, d, L)``."""
    return _memoriser(inst.N, inst.d, inst.L)


def dataset_of(inst: MemoriseInstance, ut: UniversalTransformer | None = None,
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)``, each ``(N, d, L)`` float64, built from the seed (module docstring)."""
    ut = ut or memoriser_of(inst)
    s = ut.sizes
    d, L, K, M = s.d, s.L, s.K, s.M
    rng = np.random.default_rng(inst.seed)
    half = float(s.eta) / 2 if K > 1 else 0.0
    token_cells = K ** d
    q = np.array(np.unravel_index(np.arange(token_cells), (K,) * d)).T     # (K^d, d)
    lo = q / K + np.where(q > 0, half, 0.0)
    hi = (q + 1) / K - np.where(q < K - 1, half, 0.0)
    vocab = rng.uniform(lo, hi)                                              # (K^d, d)
    chosen = rng.choice(token_cells ** L, size=inst.N, replace=False)
    X = np.empty((inst.N, d, L))
    for i, code in enumerate(chosen):
        for j, cell in enumerate(np.unravel_index(int(code), (token_cells,) * L)):
            X[i, :, j] = vocab[int(cell)]
    if inst.labels == "grid":
        Y = rng.integers(0, M + 1, size=X.shape) / M
    elif inst.labels == "real":
        Y = rng.uniform(0.0, 1.0, size=X.shape)
    else:
        t = rng.integers(0, M, size=X.shape)
        side = rng.choice((-1.0, 1.0), size=X.shape)
        Y = (t + 0.5) / M + side * 2.0**-30
    return X, Y


#: Shapes whose τ has at most 8 slots: cheap enough for the mpmath twin.
TWIN_SHAPES: tuple[tuple[int, int, int], ...] = ((1, 1, 8), (1, 2, 2), (2, 1, 4))


@st.composite
def _memorise(draw: st.DrawFn, labels: tuple[str, ...],
              shapes: tuple[tuple[int, int, int], ...]) -> MemoriseInstance:
    d, L, n_max = draw(st.sampled_from(shapes))
    return MemoriseInstance(seed=draw(seeds()), N=draw(st.integers(1, n_max)), d=d, L=L,
                            labels=draw(st.sampled_from(labels)))


def memorise_instances(labels: tuple[str, ...] = LABELS,
                       shapes: tuple[tuple[int, int, int], ...] = MEMORISE_SHAPES,
                       ) -> st.SearchStrategy[MemoriseInstance]:
    """Datasets over ``shapes`` ``(d, L, N_max)``, ``1 ≤ N ≤ N_max``, the given label kinds."""
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
    """A universal request ``(d, L, C, eps, p)``; ``N > 0`` marks a memorisation τ."""

    d: int
    L: int
    C: float
    eps: float
    p: int
    N: int = 0


@st.composite
def _lengths(draw: st.DrawFn) -> LengthInstance:
    from core.constructions.memorise import memorisation_request

    d, L, n_max = draw(st.sampled_from(MEMORISE_SHAPES))
    N = draw(st.integers(1, n_max))
    r = memorisation_request(N, d, L)
    return LengthInstance(d=d, L=L, C=r.C, eps=r.eps, p=r.p, N=N)


def length_instances() -> st.SearchStrategy[LengthInstance]:
    """Memorisation requests over :data:`MEMORISE_SHAPES` (sizes only: nothing is built)."""
    return _lengths()
