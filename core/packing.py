"""The bump packing of the C-Lipschitz class used by the capacity lower bound (claim LB).

See :mod:`core.bounds` for the construction. Inputs ``X`` have shape ``(d, L)``; a packing
member is identified by its sign pattern ``σ ∈ {±1}^M`` over the ``M = m^{dL}`` cells, with
cells indexed by the tuple of interval indices of the ``d·L`` coordinates in row-major
(``X.ravel()``) order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .bounds import cells_per_coordinate, packing_bits
from .errors import ConstructionTooLarge, InvalidArgument
from .validation import check_int

__all__ = ["BumpPacking"]


@dataclass(frozen=True)
class BumpPacking:
    """``2^M`` C-Lipschitz targets pairwise ``2ε`` apart in the sup norm.

    Attributes:
        d, L: input shape.
        C, eps: Lipschitz constant and packing radius (``0 < ε <= 1/2``), as Fractions.
    """

    d: int
    L: int
    C: Fraction
    eps: Fraction

    def __post_init__(self) -> None:
        check_int("d", self.d, minimum=1)
        check_int("L", self.L, minimum=1)
        object.__setattr__(self, "C", Fraction(self.C))
        object.__setattr__(self, "eps", Fraction(self.eps))
        if self.m < 1:
            raise InvalidArgument(
                f"C={self.C}, eps={self.eps}: C/(2·eps) < 1 leaves no cell; need C >= 2·eps")

    @property
    def m(self) -> int:
        """Intervals per coordinate, ``⌊C/(2ε)⌋``."""
        return cells_per_coordinate(self.C, self.eps)

    @property
    def n_cells(self) -> int:
        """``M``, from the lower bound's formula (:func:`core.bounds.packing_bits`)."""
        return packing_bits(self.d, self.L, self.C, self.eps)

    def cells(self) -> Iterator[tuple[int, ...]]:
        """Every cell as a tuple of ``d·L`` interval indices (enumerated, not counted)."""
        return itertools.product(range(self.m), repeat=self.d * self.L)

    def members(self, limit: int = 2**12) -> list[tuple[int, ...]]:
        """Every sign pattern ``σ ∈ {±1}^M``, refusing before building more than ``limit``."""
        if self.n_cells > limit.bit_length() - 1:
            raise ConstructionTooLarge(
                f"packing with M={self.n_cells} cells has 2^{self.n_cells} members, over the "
                f"enumeration limit of {limit}",
                required=self.n_cells, limit=limit.bit_length() - 1)
        return list(itertools.product((-1, 1), repeat=self.n_cells))

    def centre(self, cell: Sequence[int]) -> np.ndarray:
        """Centre of ``cell`` as a ``(d, L)`` float64 array."""
        h = 1.0 / self.m
        return ((np.asarray(cell, dtype=np.float64) + 0.5) * h).reshape(self.d, self.L)

    def bump(self, X: np.ndarray) -> tuple[int, float]:
        """``(cell index, bump height)`` at ``X``: height ``max(0, ε − C·‖X − centre‖_max)``."""
        m = self.m
        flat = np.asarray(X, dtype=np.float64).ravel()
        idx = np.minimum((flat * m).astype(int), m - 1)
        centre = (idx + 0.5) / m
        dist = float(np.max(np.abs(flat - centre)))
        height = max(0.0, float(self.eps) - float(self.C) * dist)
        index = int(np.ravel_multi_index(tuple(idx), (m,) * (self.d * self.L)))
        return index, height

    def member(self, signs: Sequence[int], X: np.ndarray) -> float:
        """``f_σ(X) = 1/2 + σ_cell·bump(X)`` (the same value on every output coordinate)."""
        if len(signs) != self.n_cells:
            raise InvalidArgument(
                f"signs has length {len(signs)}: expected M = {self.n_cells}")
        index, height = self.bump(X)
        return 0.5 + signs[index] * height
