"""Array comparison with a readable failure table (SciPy's FuncData discipline).

:func:`compare_arrays` measures ``actual`` against ``expected`` in the max norm and keeps
what a failure report needs: points checked, how many are out of tolerance, max absolute and
relative error, and the worst entry printed at full precision (``repr`` of the float64).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import InvalidArgument
from properties.claim import Outcome

from .tolerances import Tol

__all__ = ["Comparison", "compare_arrays"]


@dataclass(frozen=True)
class Comparison:
    """Result of comparing two arrays of equal shape under a norm-wise tolerance."""

    n_checked: int
    n_bad: int
    max_abs: float
    max_rel: float
    bound: float
    worst_index: tuple[int, ...]
    worst_actual: float
    worst_expected: float

    @property
    def ok(self) -> bool:
        return np.isfinite(self.max_abs) and self.max_abs <= self.bound

    def detail(self) -> dict[str, Any]:
        """JSON-able numbers for an :class:`Outcome`'s ``detail``."""
        return {
            "n_points": self.n_checked, "n_bad_points": self.n_bad,
            "max_abs": self.max_abs, "max_rel": self.max_rel,
            "worst_index": list(self.worst_index),
            "worst_actual": repr(self.worst_actual), "worst_expected": repr(self.worst_expected),
        }

    def outcome(self, **extra: Any) -> Outcome:
        """An :class:`Outcome` with ``error = max_abs`` and this comparison's bound."""
        return Outcome(error=self.max_abs, bound=self.bound, detail={**self.detail(), **extra})

    def table(self) -> str:
        """Multi-line failure table."""
        return "\n".join([
            f"points checked : {self.n_checked}",
            f"out of bound   : {self.n_bad}",
            f"max abs error  : {self.max_abs!r} (bound {self.bound!r})",
            f"max rel error  : {self.max_rel!r}",
            f"worst at index : {self.worst_index}",
            f"  actual       : {self.worst_actual!r}",
            f"  expected     : {self.worst_expected!r}",
        ])


def compare_arrays(actual: Any, expected: Any, tol: Tol | float) -> Comparison:
    """Compare two equally shaped arrays (torch tensors or array-likes) in the max norm.

    The allowed error is ``tol.bound(‖expected‖_max)`` for a :class:`Tol`, or ``tol`` itself
    for a number (a bound computed for the instance, e.g. by :mod:`core.rounding`); an entry
    is *bad* if its absolute error exceeds it or if it is not finite.
    """
    a = _as_float64(actual)
    e = _as_float64(expected)
    if a.shape != e.shape:
        raise InvalidArgument(f"actual has shape {a.shape}, expected has shape {e.shape}")
    if a.size == 0:
        raise InvalidArgument("cannot compare empty arrays")
    diff = np.abs(a - e)
    diff = np.where(np.isfinite(diff), diff, np.inf)
    scale = float(np.max(np.abs(e))) if np.isfinite(e).all() else np.inf
    bound = tol.bound(scale) if isinstance(tol, Tol) else float(tol)
    flat = int(np.argmax(diff))
    worst = tuple(int(i) for i in np.unravel_index(flat, a.shape))
    rel = diff / np.maximum(np.abs(e), np.finfo(np.float64).tiny)
    return Comparison(
        n_checked=int(a.size), n_bad=int(np.sum(diff > bound)),
        max_abs=float(diff.max()), max_rel=float(np.max(rel)), bound=float(bound),
        worst_index=worst, worst_actual=float(a[worst]), worst_expected=float(e[worst]))


def _as_float64(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)
