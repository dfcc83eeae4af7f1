"""Memorisation through the prompt (docs/theory.md §2, claim M; paper label ``thm:PT_memo``).

Our construction reuses the universal τ of :mod:`.universal` (route B) unchanged:

* **τ from the dataset's shape** ``(N, d, L)``: :func:`memorisation_request` picks the
  universal request ``(d, L, C, ε=1/2, p=4)`` with the smallest ``C`` on the ladder
  ``2^k/4`` whose grid has ``K^{dL} ≥ N`` cells (so ``N`` distinct sequences fit) and whose
  plan fits the size limits; τ is ``build_universal`` of that request. It depends on
  ``(N, d, L)`` only, never on the data.
* **Dataset hypothesis** (:func:`validate_dataset`): ``X`` is ``(N, d, L)`` in ``[0,1]``;
  every entry is at least ``η/2`` from every interior boundary ``b/K`` (off the FF_pre
  strips); tokens (columns ``X[i][:, j]``) are *separated*: two different tokens never
  share a grid cell of ``[0,1]^d``; sequences are pairwise distinct. Hence distinct
  sequences have distinct cell tuples ``q`` and distinct table slots.
* **Prompt** (:func:`memorising_prompt`): the table slot of position ``k`` of sequence ``i``
  is ``rank V_k(q^(i))`` (the same slot the universal prompt uses for that cell); it holds
  the level ``t = round(M·Y^(i)[c, k])``; every other slot holds level ``fill``. On the good
  set τ reads exactly its slot's level, so ``τ_P(X^(i)) = Y^(i)`` exactly for labels on the
  output grid ``{t/M}``, and within ``1/(2M)`` for any real labels in ``[0,1]``.

**Prompt length.** ``L_p = ⌈(L·K^{dL} + 1)/⌊48/log₂β⌋⌉`` (:func:`constructive_length`),
the universal construction's own length for the same request. It does **not** shrink with
``N`` for a fixed grid: route B's table is indexed by *all* ``L·K^{dL}`` (cell, position)
slots, a sequence's slot is fixed by τ (the rank of its code ``V_k(q)``), and FF_post reads
slot ``s`` only after shifting out the ``s`` digits before it, so a prompt that serves every
dataset of the shape must carry a digit for every slot up to the last one (a dataset may put
a sequence in the top cell). ``N`` enters only through the grid: ``K`` is the smallest grid
with ``K^{dL} ≥ N``. Positional encodings and ``W_O = n·I`` also fix ``n = L_p + L`` in τ.

**Lower bound it meets.** With ``b = ⌊48/log₂β⌋·log₂β`` bits per prompt coordinate, a
prompt of length ``L_p`` takes at most ``2^{b·d·L_p}`` values, while the datasets on ``N``
fixed inputs with grid labels number ``(M+1)^{N·d·L}`` and each needs its own prompt:

    L_p*(N, d, L) = min{ L_p : 2^{b·d·L_p} ≥ (M+1)^{N·d·L} } ≈ N·L·log₂(M+1) / b

(:func:`memorisation_lower_bound`, exact integers). It grows linearly in ``N``; route B's
``L_p`` is at least it because ``L_p·⌊48/log₂β⌋ > L·K^{dL} ≥ N·L`` and ``β ≥ M+1``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..errors import ConstructionTooLarge, InvalidArgument, NonFiniteError
from ..validation import check_int
from .sizes import UniversalSizes, plan_universal
from .universal import (
    Prompt,
    UniversalTransformer,
    build_universal,
    code_value,
    digits_per_prompt_entry,
    prompt_from_levels,
)

__all__ = [
    "MEMORISE_EPS",
    "MEMORISE_P",
    "MemorisationRequest",
    "bits_per_prompt_coordinate",
    "build_memoriser",
    "constructive_length",
    "every_grid_labelling",
    "label_levels",
    "memorisation_lower_bound",
    "memorisation_request",
    "memorisation_table",
    "memorising_prompt",
    "sizes_section",
    "table_slot",
    "validate_dataset",
]

#: The universal request behind every memorising τ: ``ε = 1/2`` in ``d_4``.
MEMORISE_EPS = 0.5
MEMORISE_P = 4
_C_LADDER: tuple[float, ...] = tuple(2.0**k / 4 for k in range(9))     # 1/4 .. 64


@dataclass(frozen=True)
class MemorisationRequest:
    """The universal request ``(d, L, C, eps, p)`` chosen for datasets of shape ``(N, d, L)``."""

    N: int
    d: int
    L: int
    C: float
    eps: float
    p: int

    def sizes(self) -> UniversalSizes:
        return plan_universal(self.d, self.L, self.C, self.eps, self.p)


def memorisation_request(N: int, d: int, L: int) -> MemorisationRequest:
    """The smallest-``C`` request on the ladder whose grid holds ``N`` sequences and fits.

    Raises :class:`ConstructionTooLarge` when no fitting grid has ``K^{dL} ≥ N``.
    """
    N = check_int("N", N, minimum=1)
    d = check_int("d", d, minimum=1, maximum=4)
    L = check_int("L", L, minimum=1, maximum=4)
    best = 0
    for C in _C_LADDER:
        try:
            s = plan_universal(d, L, C, MEMORISE_EPS, MEMORISE_P)
        except ConstructionTooLarge:
            break
        best = max(best, s.K ** (d * L))
        if s.K ** (d * L) >= N:
            return MemorisationRequest(N=N, d=d, L=L, C=C, eps=MEMORISE_EPS, p=MEMORISE_P)
    raise ConstructionTooLarge(
        f"N={N}: the largest grid that fits for (d={d}, L={L}) has {best} cells, so at most "
        f"{best} separated sequences; use N <= {best}", required=N, limit=best,
        nearest={"N": best})


def build_memoriser(N: int, d: int, L: int) -> UniversalTransformer:
    """τ for datasets of shape ``(N, d, L)``: the universal τ of :func:`memorisation_request`."""
    r = memorisation_request(N, d, L)
    return build_universal(r.d, r.L, r.C, r.eps, r.p)


# --- sizes ----------------------------------------------------------------------------------


def bits_per_prompt_coordinate(sizes: UniversalSizes) -> int:
    """``b = ⌊48/log₂β⌋·log₂β``: table bits the construction puts in one prompt entry."""
    return digits_per_prompt_entry(sizes) * (sizes.beta.bit_length() - 1)


def constructive_length(sizes: UniversalSizes) -> int:
    """Route B's ``L_p = ⌈(L·K^{dL} + 1)/⌊48/log₂β⌋⌉`` (independent of ``N``; see module doc)."""
    per = digits_per_prompt_entry(sizes)
    return -(-(sizes.L * sizes.K ** (sizes.d * sizes.L) + 1) // per)


def memorisation_lower_bound(N: int, d: int, L: int, M: int, bits: int) -> int:
    """``L_p*(N, d, L)``: least ``L_p`` with ``2^{bits·d·L_p} ≥ (M+1)^{N·d·L}`` (exact)."""
    N = check_int("N", N, minimum=1)
    d = check_int("d", d, minimum=1)
    L = check_int("L", L, minimum=1)
    M = check_int("M", M, minimum=1)
    bits = check_int("bits", bits, minimum=1)
    need = (M + 1) ** (N * d * L)
    lp = max(0, math.floor(N * L * math.log2(M + 1) / bits) - 1)
    while (1 << (bits * d * lp)) < need:
        lp += 1
    while lp > 0 and (1 << (bits * d * (lp - 1))) >= need:
        lp -= 1
    return lp


# --- datasets -------------------------------------------------------------------------------


def _as_array(name: str, value: object, d: int, L: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (d, L) or arr.shape[0] < 1:
        raise InvalidArgument(f"{name} has shape {arr.shape}: expected (N, d={d}, L={L}) "
                              "with N >= 1")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        i, c, j = (int(v) for v in bad[0])
        raise NonFiniteError(f"{name}[{i}][{c}, {j}]={float(arr[i, c, j])!r}: must be finite")
    out = np.argwhere((arr < 0.0) | (arr > 1.0))
    if out.size:
        i, c, j = (int(v) for v in out[0])
        raise InvalidArgument(f"{name}[{i}][{c}, {j}]={float(arr[i, c, j])!r}: must lie in "
                              "[0, 1]")
    return arr


def _token_cell(K: int, token: np.ndarray) -> tuple[int, ...]:
    return tuple(min(int(np.floor(K * v)), K - 1) for v in token)


def validate_dataset(sizes: UniversalSizes, X: object, Y: object, *,
                     grid_labels: bool) -> tuple[tuple[int, ...], ...]:
    """Check the hypothesis of claim M and return each sequence's cell tuple ``q^(i)``.

    Args:
        sizes: the τ's sizes (grid ``K``, strip ``η``, output levels ``M``).
        X: inputs, shape ``(N, d, L)``, entries in ``[0, 1]``.
        Y: labels, shape ``(N, d, L)``, in ``[0, 1]``; on the grid ``{t/M}`` if
            ``grid_labels``.

    Raises :class:`InvalidArgument` (naming sequence ``i``, position ``j`` and the amount)
    for: wrong shape, NaN/inf, values outside ``[0,1]``, an entry within ``η/2`` of an
    interior boundary ``b/K``, two different tokens in one grid cell, two equal sequences,
    an off-grid label; ``q[j*d + c] = ⌊K X[c, j]⌋`` as in :func:`.universal.cell_index`.
    """
    d, L, K, M = sizes.d, sizes.L, sizes.K, sizes.M
    Xa, Ya = _as_array("X", X, d, L), _as_array("Y", Y, d, L)
    if Xa.shape[0] != Ya.shape[0]:
        raise InvalidArgument(f"X has N={Xa.shape[0]} sequences but Y has N={Ya.shape[0]}")
    half = sizes.eta / 2
    for (i, c, j), v in np.ndenumerate(Xa):
        if K == 1:
            break
        x = Fraction(float(v))
        b = min(max(round(x * K), 1), K - 1)
        gap = abs(x - Fraction(b, K))
        if gap < half:
            raise InvalidArgument(
                f"X[{i}][{c}, {j}]={float(v)!r} (sequence i={i}, position j={j}) is "
                f"{float(gap):.3g} from the cell boundary {b}/{K}: tokens must keep "
                f"η/2={float(half):.3g} away from boundaries (the FF_pre strips)")
    owner: dict[tuple[int, ...], tuple[int, int]] = {}
    for i in range(Xa.shape[0]):
        for j in range(L):
            cell = _token_cell(K, Xa[i, :, j])
            if cell not in owner:
                owner[cell] = (i, j)
                continue
            i2, j2 = owner[cell]
            dist = float(np.max(np.abs(Xa[i, :, j] - Xa[i2, :, j2])))
            if dist > 0:
                raise InvalidArgument(
                    f"tokens (sequence i={i2}, position j={j2}) and (sequence i={i}, "
                    f"position j={j}) collide: they differ by {dist:.6g} in max norm but "
                    f"share grid cell {cell} of width 1/K=1/{K}; distinct tokens must lie "
                    "in distinct cells")
    cells = tuple(tuple(_token_cell(K, Xa[i, :, j])[c] for j in range(L) for c in range(d))
                  for i in range(Xa.shape[0]))
    first: dict[tuple[int, ...], int] = {}
    for i, q in enumerate(cells):
        if q in first:
            raise InvalidArgument(
                f"sequences i={first[q]} and i={i} are equal (cell {q}); a dataset holds "
                "distinct sequences")
        first[q] = i
    if grid_labels:
        for (i, c, j), v in np.ndenumerate(Ya):
            t = Fraction(float(v)) * M
            if t.denominator != 1:
                raise InvalidArgument(
                    f"Y[{i}][{c}, {j}]={float(v)!r} is not on the output grid t/M, M={M} "
                    f"(nearest {round(t)}/{M}, off by {float(abs(t - round(t)) / M):.3g})")
    return cells


def label_levels(sizes: UniversalSizes, Y: np.ndarray) -> np.ndarray:
    """``t = ⌊M·y + 1/2⌋`` for each label, exactly from the float64 value: ``(N, d, L)``."""
    M = sizes.M
    flat = [math.floor(Fraction(float(v)) * M + Fraction(1, 2)) for v in np.ravel(Y)]
    return np.array(flat, dtype=np.int64).reshape(np.shape(Y))


def table_slot(ut: UniversalTransformer, k: int, q: Sequence[int]) -> int:
    """The table slot of position ``k`` of a sequence in cell ``q``: ``rank V_k(q)``."""
    return ut.slot_values.index(code_value(ut.sizes, k, tuple(q)))


def memorisation_table(ut: UniversalTransformer, X: object, Y: object, *,
                       grid_labels: bool, fill: int = 0) -> list[list[int]]:
    """The ``d × slots`` level table that memorises ``(X, Y)``; other slots hold ``fill``."""
    s = ut.sizes
    fill = check_int("fill", fill, minimum=0, maximum=s.M)
    cells = validate_dataset(s, X, Y, grid_labels=grid_labels)
    levels = label_levels(s, np.asarray(Y, dtype=np.float64))
    table = [[fill] * s.slots for _ in range(s.d)]
    for i, q in enumerate(cells):
        for k in range(s.L):
            slot = table_slot(ut, k, q)
            for c in range(s.d):
                table[c][slot] = int(levels[i, c, k])
    return table


def memorising_prompt(ut: UniversalTransformer, X: object, Y: object, *,
                      grid_labels: bool = True, fill: int = 0) -> Prompt:
    """The prompt ``P`` (``d × L_p``, exact dyadic) with ``τ_P(X^(i)) ≈ Y^(i)`` for all ``i``.

    Exact for grid labels, within ``1/(2M)`` for real labels (module docstring).
    """
    table = memorisation_table(ut, X, Y, grid_labels=grid_labels, fill=fill)
    n = np.asarray(X).shape[0]
    return prompt_from_levels(ut, table, name=f"dataset:N={n}")


def sizes_section(shapes: Sequence[tuple[int, int, int]]) -> str:
    """Markdown table for docs: ``(N, d, L)`` rows with K, M, L_p, L_p*, bits and packing LB."""
    from ..bounds import min_prompt_length_exact, packing_bits

    lines = ["| N | d | L | request (C, ε, p) | K | M | slots | universal L_p | "
             "memorising L_p | L_p*(N,d,L) | b bits/entry | precision bits | "
             "capacity LB (packing) |", "|" + "---|" * 13]
    for N, d, L in shapes:
        r = memorisation_request(N, d, L)
        s = r.sizes()
        b = bits_per_prompt_coordinate(s)
        star = memorisation_lower_bound(N, d, L, s.M, b)
        pack = min_prompt_length_exact(packing_bits(d, L, r.C, r.eps), d, 2**b)
        lines.append(f"| {N} | {d} | {L} | ({r.C}, {r.eps}, {r.p}) | {s.K} | {s.M} | "
                     f"{s.slots} | {s.prompt_tokens} | {constructive_length(s)} | {star} | "
                     f"{b} | {s.precision_bits} | {pack} |")
    return "\n".join(lines)


def every_grid_labelling(M: int, count: int) -> itertools.product[tuple[int, ...]]:
    """Every tuple of ``count`` levels in ``0..M`` (the datasets of a toy shape)."""
    return itertools.product(range(M + 1), repeat=count)
