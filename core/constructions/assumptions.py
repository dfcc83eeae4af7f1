"""What the universality certificate assumes of its target, and what it checks.

The certificate (:mod:`.certify`, docs/theory.md §2 U) bounds ``sup_cell ‖f − c‖_max`` by
``|f(centre) − c| + C·δ/2`` and the bad strips' contribution by ``|f − τ_P| ≤ 1``. So it
rests on three statements about ``f``:

1. ``f`` is ``C``-Lipschitz in the max norm;
2. ``f`` maps into ``[0, 1]^{d×L}``;
3. the enclosure ``enclose(Xq)`` contains ``f(Xq)``.

For our families (:mod:`core.lipschitz`) all three are proved. For a user's function
(:class:`core.targets.UserTarget`) 1 and 2 are **checked** — never contradicted on the
points evaluated: every cell's centre and the corners of its good part (or ``2dL`` axis
points per cell when corners would exceed :data:`MAX_CORNER_POINTS`), pairs within each
cell and across cells — and 3 is **assumed** (the declared float error, or the user's exact
evaluator). A contradiction raises :class:`~core.errors.AssumptionViolation` naming the
points. Comparisons allow the declared float error on both sides, so a contradiction is
rigorous up to that declared bound.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AssumptionViolation

__all__ = ["MAX_CORNER_POINTS", "Assumption", "check_target", "evidence_label"]

#: Most check points from cell corners before falling back to axis points.
MAX_CORNER_POINTS = 1 << 16

#: Most cross-cell pairs compared all-against-all; beyond, neighbouring cells only.
MAX_CROSS_PAIRS = 1 << 23

#: Relative slack on the float64 comparison ``|Δf| > C·|Δx|`` (a few roundings).
_REL = 2.0**-40


@dataclass(frozen=True)
class Assumption:
    """One statement the certificate rests on.

    Attributes:
        statement: what is assumed of ``f``.
        status: ``"proved"``, ``"checked"`` (not contradicted where evaluated) or
            ``"assumed"`` (cannot be checked here).
        how: how it was established, with counts.
        short: the words that go into ``certified (assuming ...)``; empty when proved.
    """

    statement: str
    status: str
    how: str
    short: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"statement": self.statement, "status": self.status, "how": self.how}


def evidence_label(assumptions: tuple[Assumption, ...]) -> str:
    """``certified`` when everything is proved, else ``certified (assuming ...)``."""
    shorts = [a.short for a in assumptions if a.status != "proved" and a.short]
    return "certified" if not shorts else f"certified (assuming {', '.join(shorts)})"


def _check_points(K: int, eta: float, d: int, L: int) -> tuple[np.ndarray, int]:
    """``(cells, m, d, L)`` points: centre first, then corners (or axis points) of each
    cell's good part; and the number of points per cell."""
    n = d * L
    cells = np.array(list(itertools.product(range(K), repeat=n)), dtype=np.float64)
    lo = cells / K + np.where(cells > 0, eta / 2, 0.0)
    hi = (cells + 1) / K - np.where(cells < K - 1, eta / 2, 0.0)
    centre = (2 * cells + 1) / (2 * K)
    if len(cells) * (1 << n) <= MAX_CORNER_POINTS:
        picks = np.array(list(itertools.product((0, 1), repeat=n)), dtype=bool)  # (2^n, n)
        others = np.where(picks[None], hi[:, None], lo[:, None])
    else:
        eye = np.eye(n, dtype=bool)
        others = np.concatenate([np.where(eye[None], lo[:, None], centre[:, None]),
                                 np.where(eye[None], hi[:, None], centre[:, None])], axis=1)
    pts = np.concatenate([centre[:, None], others], axis=1)
    # entry (i, j) of a point is coordinate j*d + i of the flat cell index
    return pts.reshape(len(cells), -1, L, d).transpose(0, 1, 3, 2), pts.shape[1]


def _violation(target: Any, a: np.ndarray, b: np.ndarray, ya: np.ndarray, yb: np.ndarray,
               where: str) -> AssumptionViolation:
    df = float(np.max(np.abs(ya - yb)))
    dx = float(np.max(np.abs(a - b)))
    return AssumptionViolation(
        f"target {target.name}: declared C={target.C!r} is contradicted {where}: "
        f"‖f(X) − f(X')‖_max = {df:.6g} > C·‖X − X'‖_max = {target.C * dx:.6g} "
        f"(ratio {df / dx:.6g}, allowing {2 * _float_error(target):.3g} for the declared float "
        f"error) at X = {np.round(a, 12).tolist()}, X' = {np.round(b, 12).tolist()}")


def _contradicted(target: Any, xa: np.ndarray, xb: np.ndarray, ya: np.ndarray,
                  yb: np.ndarray) -> np.ndarray:
    """Mask of pairs (last two axes ``d, L``) where ``|Δf| − 2e > C|Δx|(1 + slack)``."""
    dx = np.max(np.abs(xa - xb), axis=(-2, -1))
    df = np.max(np.abs(ya - yb), axis=(-2, -1))
    return df - 2 * _float_error(target) > target.C * dx * (1 + _REL) + 2.0**-60


def _float_error(target: Any) -> float:
    """The declared float error of ``target.values`` (0 for a target that declares none)."""
    return float(getattr(target, "value_error", 0.0))


def check_target(target: Any, K: int, eta: float) -> tuple[Assumption, ...]:
    """The three assumptions of the module docstring for ``target`` on the ``K``-grid with
    strips ``η``: proved for our families, else checked/assumed as described there.

    Raises :class:`AssumptionViolation` on a contradicted ``C`` or a value outside
    ``[0, 1]``, naming the point(s).
    """
    C = target.C
    if target.proved:
        return (Assumption(f"f is C-Lipschitz in the max norm, C = {C:g}", "proved",
                           "from the family's parameters, checked exactly when built"),
                Assumption("f maps into [0, 1]", "proved", "by the family's construction"),
                Assumption("the enclosure of f is rigorous", "proved",
                           "exact rationals, or arb balls"))
    d, L = target.d, target.L
    pts, m = _check_points(K, eta, d, L)
    cells = len(pts)
    vals = target.values(pts.reshape(-1, d, L)).reshape(pts.shape)
    e = _float_error(target)
    bad = np.argwhere((vals < -e) | (vals > 1 + e))
    if len(bad):
        c, k, i, j = (int(v) for v in bad[0])
        raise AssumptionViolation(
            f"target {target.name}: value {float(vals[c, k, i, j])!r} at entry (i={i}, j={j}) of "
            f"X = {np.round(pts[c, k], 12).tolist()} lies outside [0, 1] (allowing the "
            f"declared float error {e:.3g}); the certificate needs f in [0, 1]")
    within = 0
    for a, b in itertools.combinations(range(m), 2):
        hit = np.flatnonzero(_contradicted(target, pts[:, a], pts[:, b], vals[:, a],
                                           vals[:, b]))
        within += cells
        if len(hit):
            c = int(hit[0])
            raise _violation(target, pts[c, a], pts[c, b], vals[c, a], vals[c, b],
                             "within one cell")
    centres, cvals = pts[:, 0], vals[:, 0]
    across = 0
    if cells * cells <= MAX_CROSS_PAIRS:
        scope = "all pairs of cell centres"
        for a in range(cells - 1):
            hit = np.flatnonzero(_contradicted(target, centres[a], centres[a + 1:],
                                               cvals[a], cvals[a + 1:]))
            across += cells - 1 - a
            if len(hit):
                b = a + 1 + int(hit[0])
                raise _violation(target, centres[a], centres[b], cvals[a], cvals[b],
                                 "across cells")
    else:
        scope = "neighbouring cell centres"
        n = d * L
        for axis in range(n):
            stride = K ** (n - 1 - axis)
            idx = np.array([c for c in range(cells) if (c // stride) % K < K - 1])
            hit = np.flatnonzero(_contradicted(target, centres[idx], centres[idx + stride],
                                               cvals[idx], cvals[idx + stride]))
            across += len(idx)
            if len(hit):
                a = int(idx[hit[0]])
                raise _violation(target, centres[a], centres[a + stride], cvals[a],
                                 cvals[a + stride], "across neighbouring cells")
    kind = "corners of each cell's good part" if m == 1 + (1 << (d * L)) else \
        "2dL axis points per cell"
    lip = Assumption(
        f"f is C-Lipschitz in the max norm, C = {C:g} (declared)", "checked",
        f"not contradicted on {within + across:,} pairs of {cells * m:,} points: "
        f"{within:,} within cells (centre and {kind}), {across:,} across cells "
        f"({scope})", short=f"C = {C:g}")
    rng = Assumption("f maps into [0, 1]", "checked",
                     f"every one of the {cells * m:,} evaluated values is in [0, 1] (up to "
                     f"the declared float error {e:.3g})", short="f in [0, 1]")
    exact = getattr(target, "exact", None)
    if exact is not None or not hasattr(target, "value_error"):
        who = getattr(exact, "__qualname__", "exact") if exact is not None else \
            f"{type(target).__name__}.enclose"
        enc = Assumption("the rigorous evaluator returns f's values (or bounds)", "assumed",
                         f"{who} is trusted", short="its rigorous evaluator")
    else:
        enc = Assumption(f"|fl(f) − f| ≤ {e:.3g} for the float evaluator", "assumed",
                         "declared (value_error), carried into every cell's bound with "
                         "C·(input rounding)", short=f"float error ≤ {e:.3g}")
    return (lip, rng, enc)
