"""Strategies for the capacity lower bound (claim LB): exact-rational parameters.

``C = C_num / C_den`` and ``ε = 1/eps_den`` are carried as integers so that the float, mpmath
and exact evaluations start from the same rational numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from hypothesis import strategies as st

__all__ = ["BoundInstance", "PackingInstance", "PigeonholeInstance", "bound_instances",
           "packing_instances", "pigeonhole_instances"]


@dataclass(frozen=True)
class BoundInstance:
    """Parameters of the lower bound ``L_p >= M/(d·log₂K)``, ``M = ⌊C/(2ε)⌋^{dL}``."""

    d: int
    L: int
    C_num: int
    C_den: int
    eps_den: int
    K: int

    @property
    def C(self) -> Fraction:
        return Fraction(self.C_num, self.C_den)

    @property
    def eps(self) -> Fraction:
        return Fraction(1, self.eps_den)

    @property
    def m(self) -> int:
        """``⌊C/(2ε)⌋`` in exact integers."""
        return (self.C_num * self.eps_den) // (2 * self.C_den)


def bound_instances() -> st.SearchStrategy[BoundInstance]:
    """Shapes with ``d·L <= 6`` and ``ε`` down to ``1/40``; ``M`` stays below ``10^6``."""
    return st.builds(
        BoundInstance, d=st.integers(1, 3), L=st.integers(1, 2),
        C_num=st.integers(1, 8), C_den=st.integers(1, 4), eps_den=st.integers(2, 40),
        K=st.sampled_from([2, 3, 4, 5, 8, 10, 16, 256, 1000])).filter(
            lambda b: 1 <= b.m and b.m ** (b.d * b.L) <= 10**6)


@dataclass(frozen=True)
class PackingInstance:
    """A toy packing small enough to enumerate every member and every pair."""

    d: int
    L: int
    C_num: int
    eps_den: int


def packing_instances() -> st.SearchStrategy[PackingInstance]:
    """``m = ⌊C·eps_den/2⌋ ∈ {1, 2}`` with ``d·L <= 2``: at most 16 members, 120 pairs."""
    return st.builds(PackingInstance, d=st.integers(1, 2), L=st.integers(1, 2),
                     C_num=st.integers(1, 4), eps_den=st.integers(2, 4)).filter(
        lambda p: 1 <= (p.C_num * p.eps_den) // 2 <= 2 and p.d * p.L <= 2)


@dataclass(frozen=True)
class PigeonholeInstance:
    """A random frozen τ (``d = L = 1``) whose prompt coordinates take ``K`` levels.

    ``C·eps_den/2`` fixes ``m`` and ``M = m``; the prompt length is ``L_p``.
    """

    seed: int
    C_num: int
    eps_den: int
    K: int
    Lp: int


def pigeonhole_instances() -> st.SearchStrategy[PigeonholeInstance]:
    """Toy sizes: ``M = m <= 4`` packing bits, ``K ∈ {2, 3}``, ``L_p <= 2``."""
    return st.builds(PigeonholeInstance, seed=st.integers(0, 2**32 - 1),
                     C_num=st.integers(2, 4), eps_den=st.integers(2, 2),
                     K=st.sampled_from([2, 3]), Lp=st.integers(0, 2))
