"""Memorisation through the prompt (docs/theory.md §2, claim M; paper label ``thm:PT_memo``).

Our construction is route B's universal τ (:mod:`.universal`) with its grid set by the data's
token separation ``δ`` (:mod:`.separated`), not by ``N``:

* **Hypothesis** (:func:`validate_dataset`): ``X`` is ``(N, d, L)``, finite, in ``[0,1]``;
  tokens (columns ``X[i][:, j]``, over all ``i, j``) are pairwise at least ``δ`` apart in max
  norm or equal; sequences are pairwise distinct; and no entry lies in a strip
  ``|x − b/K| < η/2`` around an interior boundary ``b/K`` (a set of measure ``< 2^-32`` per
  coordinate, module :mod:`.separated`). ``δ`` is given, or measured (``delta=None``: the
  smallest max-norm distance between distinct tokens).
* **τ from** ``(d, L, δ)`` (:func:`memorisation_request`): ``K`` is the smallest power of two
  with ``1/K ≤ δ`` (``δ > 1`` for ``K = 1``), so separated tokens lie in distinct cells and
  distinct sequences in distinct cell tuples ``q``; strips ``η = 2^-32/K``; ``(C, M)`` as
  route B's universal request ``(d, L, C, ε = 1/2, p = 4)``: ``C`` the smallest on the ladder
  ``2^k/4`` whose universal plan has a grid at least ``K`` (``C = 64`` if none) and ``M`` that
  plan's output levels. The finer grid and narrower strips only lower route B's ``d_p``
  bound, so τ is still a universal τ for ``C``-Lipschitz targets. ``N`` is only checked:
  ``N ≤ min(⌊1/δ⌋+1, K)^{dL}``, the most distinct sequences of separated tokens.
* **Prompt** (:func:`memorising_prompt`): the table slot of position ``k`` of sequence ``i``
  is ``rank V_k(q^(i))`` (the slot the universal prompt uses for that cell); it holds the
  level ``t = round(M·Y^(i)[c, k])``; every other slot holds level ``fill``. Off the strips
  τ reads exactly its slot's level, so ``τ_P(X^(i)) = Y^(i)`` exactly for labels on the
  output grid ``{t/M}``, and within ``1/(2M)`` for any real labels in ``[0,1]``.

**The strips.** FF_pre is continuous and fixed before the data, so on a band around each
interior boundary its staircase is a ramp; no continuous fixed τ is constant on both sides of
a jump, whatever the dataset. We make the bands as narrow as float64-exact knots allow for
every ``K ≤ 2^8`` (``η ≥ 2^-40``) at a fixed measure ``(K−1)η < 2^-32`` per coordinate; a
uniformly random token hits one with probability ``< d·2^-32``. The price is ``log₂(1/η)``
extra precision bits (FF_pre's ramp slope ``R^{jd+i}/η``), counted in ``precision_bits``.

**Prompt length.** ``L_p = ⌈(L·K^{dL} + 1)/⌊48/log₂β⌋⌉`` (:func:`constructive_length`),
route B's own length. Route B's table is indexed by *all* ``L·K^{dL}`` (cell, position)
slots, a sequence's slot is fixed by τ, and FF_post reads slot ``s`` only after shifting out
the ``s`` digits before it, so a prompt that serves every dataset with separation ``δ`` needs
a digit for every slot up to the last. ``L_p`` grows like ``L·(1/δ)^{dL}``, not with ``N``.

**Lower bound it meets.** With ``b = ⌊48/log₂β⌋·log₂β`` bits per prompt coordinate, a
prompt of length ``L_p`` takes at most ``2^{b·d·L_p}`` values, while the datasets on ``N``
fixed inputs with grid labels number ``(M+1)^{N·d·L}`` and each needs its own prompt:

    L_p*(N, d, L) = min{ L_p : 2^{b·d·L_p} ≥ (M+1)^{N·d·L} } ≈ N·L·log₂(M+1) / b

(:func:`memorisation_lower_bound`, exact integers). Route B's ``L_p`` is at least it because
``L_p·⌊48/log₂β⌋ > L·K^{dL} ≥ N·L`` and ``β ≥ M+1``. :func:`sizes_section` tabulates both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from ..errors import ConstructionTooLarge, InvalidArgument, NonFiniteError
from ..validation import check_int
from .separated import (
    MAX_GRID,
    Separation,
    as_separation,
    grid_for_separation,
    max_tokens,
    measure_separation,
    random_separated_inputs,
    strip_width,
)
from .sizes import UniversalSizes, _plan, plan_universal
from .universal import (
    Prompt,
    UniversalTransformer,
    build_from_sizes,
    code_value,
    digits_per_prompt_entry,
    prompt_from_levels,
)

__all__ = [
    "DOC_ROWS",
    "MEMORISE_EPS",
    "MEMORISE_P",
    "MemorisationRequest",
    "Separation",
    "bits_per_prompt_coordinate",
    "build_memoriser",
    "constructive_length",
    "every_grid_labelling",
    "label_levels",
    "measure_separation",
    "memorisation_lower_bound",
    "memorisation_request",
    "memorisation_table",
    "memorising_prompt",
    "random_separated_inputs",
    "request_for_dataset",
    "sizes_section",
    "table_slot",
    "validate_dataset",
]

#: The universal request behind every memorising τ: ``ε = 1/2`` in ``d_4``.
MEMORISE_EPS = 0.5
MEMORISE_P = 4
_C_LADDER: tuple[float, ...] = tuple(2.0**k / 4 for k in range(9))     # 1/4 .. 64


def _delta_text(delta: Fraction | None) -> str:
    return "inf" if delta is None else f"{float(delta):.6g}"


@dataclass(frozen=True)
class MemorisationRequest:
    """τ for datasets of ``N`` sequences ``d×L`` with token separation ``delta``.

    Attributes:
        N, d, L: the dataset's shape ``(N, d, L)``.
        delta: the separation ``δ`` (exact); ``None`` is ``δ = ∞`` (one distinct token).
        K, M, eta: grid (``1/K ≤ δ``), output levels, strip width ``η = 2^-32/K``.
        C, eps, p: route B's universal request whose plan gives ``M``.
    """

    N: int
    d: int
    L: int
    delta: Fraction | None
    K: int
    M: int
    eta: Fraction
    C: float
    eps: float
    p: int

    def sizes(self) -> UniversalSizes:
        return plan_universal(self.d, self.L, self.C, self.eps, self.p,
                              grid=(self.K, self.M, self.eta))

    @property
    def strip_measure(self) -> Fraction:
        """``(K−1)·η``: the strips' share of one coordinate's range ``[0, 1]``."""
        return (self.K - 1) * self.eta

    def build(self) -> UniversalTransformer:
        """The memorising τ (cached by ``(d, L, K, M, η, C)``: it never sees the data)."""
        return _build(self.d, self.L, self.C, self.K, self.M, self.eta)


def _default_separation(N: int, d: int, L: int) -> Fraction | None:
    """``1/K₀``, ``K₀`` the smallest power of two with ``K₀^{dL} ≥ N`` (``None`` if ``K₀ = 1``)."""
    K = 1
    while K ** (d * L) < N:
        K *= 2
    return None if K == 1 else Fraction(1, K)


def _universal_c_m(d: int, L: int, K: int) -> tuple[float, int]:
    """``C``: the smallest ladder value whose universal plan has a grid ``≥ K`` (else 64);
    ``M``: that plan's output levels (valid at the finer ``K`` too: ``e`` only drops)."""
    last = None
    for C in _C_LADDER:
        s = _plan(d, L, C, MEMORISE_EPS, MEMORISE_P, "deep")      # sizes only, no limits
        if s is None:
            break
        last = (C, s.M)
        if s.K >= K:
            break
    assert last is not None, "C = 1/4 has a grid for every (d, L) up to (4, 4)"
    return last


def memorisation_request(N: int, d: int, L: int, delta: object = None) -> MemorisationRequest:
    """τ's request for datasets of ``N`` sequences ``d×L`` whose tokens are ``δ``-separated.

    Args:
        N, d, L: the dataset's shape (``d, L`` in ``1..4``).
        delta: the separation ``δ > 0``; ``None`` is the largest one ``N`` distinct
            sequences of off-strip tokens always admit, ``1/K₀`` with ``K₀`` the smallest
            power of two with ``K₀^{dL} ≥ N`` (the coarsest τ for ``N``).

    Raises :class:`InvalidArgument` if no dataset has ``N`` sequences with separation
    ``δ`` (``N > min(⌊1/δ⌋+1, K)^{dL}``) and :class:`ConstructionTooLarge`, with the computed
    sizes and the nearest grid that fits, before anything is built.
    """
    N = check_int("N", N, minimum=1)
    d = check_int("d", d, minimum=1, maximum=4)
    L = check_int("L", L, minimum=1, maximum=4)
    if delta is None:
        return _request(N, d, L, _default_separation(N, d, L), default=True)
    return _request(N, d, L, as_separation(delta), default=False)


def _request(N: int, d: int, L: int, dq: Fraction | None, *,
             default: bool) -> MemorisationRequest:
    K = grid_for_separation(dq)
    n_max = max_tokens(dq, d) ** L
    if N > n_max:
        raise InvalidArgument(
            f"N={N}: tokens delta={_delta_text(dq)} apart in [0,1]^{d} number at most "
            f"{max_tokens(dq, d)}, so at most {n_max} distinct sequences of length L={L}")
    try:
        if K > MAX_GRID:
            raise ConstructionTooLarge(f"K={K} > {MAX_GRID}, the largest grid planned",
                                       required=K, limit=MAX_GRID)
        C, M = _universal_c_m(d, L, K)
        r = MemorisationRequest(N=N, d=d, L=L, delta=dq, K=K, M=M, eta=strip_width(K), C=C,
                                eps=MEMORISE_EPS, p=MEMORISE_P)
        r.sizes()
        return r
    except ConstructionTooLarge as exc:
        fit = _largest_fitting_grid(d, L, K)
        if default:
            best = fit ** (d * L)
            raise ConstructionTooLarge(
                f"N={N}: the largest grid that fits for (d={d}, L={L}) is K={fit}, holding "
                f"at most {best} separated sequences; use N <= {best} ({exc})",
                required=N, limit=best, nearest={"N": best}) from None
        raise ConstructionTooLarge(
            f"memorisation (d={d}, L={L}, delta={_delta_text(dq)}) needs K={K} (1/K <= "
            f"delta), slots={L * K ** (d * L)}: {exc}; nearest that fits: K={fit}, i.e. "
            f"delta >= 1/{fit}", required=L * K ** (d * L), limit=L * fit ** (d * L),
            nearest={"K": fit, "delta": 1 / fit}) from None


def _largest_fitting_grid(d: int, L: int, K: int) -> int:
    """Largest power of two ``K' < K`` whose memorising plan fits the limits (1 always does)."""
    fit = min(K // 2, MAX_GRID)
    while fit > 1:
        C, M = _universal_c_m(d, L, fit)
        try:
            plan_universal(d, L, C, MEMORISE_EPS, MEMORISE_P,
                           grid=(fit, M, strip_width(fit)))
            return fit
        except ConstructionTooLarge:
            fit //= 2
    return 1


def request_for_dataset(X: object, delta: object = None) -> MemorisationRequest:
    """The request for dataset inputs ``X`` (``(N, d, L)``): ``δ`` given or measured.

    ``delta=None`` measures ``δ`` (:func:`.separated.measure_separation`); with one distinct
    token ``δ = ∞`` and ``K = 1``. Only ``X``'s shape and, when measuring, its tokens are read.
    """
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[0] < 1:
        raise InvalidArgument(f"X has shape {arr.shape}: expected (N, d, L) with N >= 1")
    N, d, L = arr.shape
    d = check_int("d", d, minimum=1, maximum=4)
    L = check_int("L", L, minimum=1, maximum=4)
    if delta is not None:
        return _request(N, d, L, as_separation(delta), default=False)
    Xa = _as_array("X", arr, d, L)
    _refuse_duplicates(Xa)
    return _request(N, d, L, measure_separation(Xa).delta, default=False)


@lru_cache(maxsize=16)
def _build(d: int, L: int, C: float, K: int, M: int, eta: Fraction) -> UniversalTransformer:
    """τ for the universal request with the grid override ``(K, M, η)``."""
    return build_from_sizes(plan_universal(d, L, C, MEMORISE_EPS, MEMORISE_P,
                                           grid=(K, M, eta)))


def build_memoriser(N: int, d: int, L: int, delta: object = None) -> UniversalTransformer:
    """τ for datasets of shape ``(N, d, L)`` with separation ``delta`` (see
    :func:`memorisation_request`); it depends on ``(d, L, K)`` only, never on the data."""
    return memorisation_request(N, d, L, delta).build()


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


def _refuse_duplicates(Xa: np.ndarray) -> None:
    first: dict[bytes, int] = {}
    for i in range(Xa.shape[0]):
        key = np.ascontiguousarray(Xa[i] + 0.0).tobytes()          # + 0.0: -0.0 == 0.0
        if key in first:
            raise InvalidArgument(
                f"sequences i={first[key]} and i={i} are equal; a dataset holds distinct "
                "sequences")
        first[key] = i


def _serves(K: int, delta: Fraction | None) -> bool:
    """Whether grid ``K`` puts ``δ``-separated off-strip tokens in distinct cells."""
    return delta is None or (delta > 1 if K == 1 else Fraction(1, K) <= delta)


def validate_dataset(sizes: UniversalSizes, X: object, Y: object, *, grid_labels: bool,
                     delta: object = None) -> tuple[tuple[int, ...], ...]:
    """Check the hypothesis of claim M and return each sequence's cell tuple ``q^(i)``.

    Args:
        sizes: the τ's sizes (grid ``K``, strip ``η``, output levels ``M``).
        X: inputs, shape ``(N, d, L)``, entries in ``[0, 1]``.
        Y: labels, shape ``(N, d, L)``, in ``[0, 1]``; on the grid ``{t/M}`` if
            ``grid_labels``.
        delta: the separation ``δ`` the data claim; ``None`` measures it.

    Raises :class:`InvalidArgument` for, in this order: wrong shape, NaN/inf, values outside
    ``[0,1]``; two distinct tokens closer than ``δ`` (naming the closest pair: sequence,
    position and values of each, their distance and ``δ``); a τ whose grid does not serve
    ``δ`` (``1/K > δ``); an entry within ``η/2`` of an interior boundary ``b/K`` (naming it,
    the boundary and ``η``); two equal sequences; an off-grid label.
    ``q[j*d + c] = ⌊K X[c, j]⌋`` as in :func:`.universal.cell_index`.
    """
    d, L, K, M = sizes.d, sizes.L, sizes.K, sizes.M
    Xa, Ya = _as_array("X", X, d, L), _as_array("Y", Y, d, L)
    if Xa.shape[0] != Ya.shape[0]:
        raise InvalidArgument(f"X has N={Xa.shape[0]} sequences but Y has N={Ya.shape[0]}")
    given = None if delta is None else as_separation(delta)
    sep = measure_separation(Xa)
    if given is not None and sep.delta is not None and sep.delta < given:
        raise InvalidArgument(
            f"{sep.describe()}: closer than delta={float(given):.6g} (distinct tokens must "
            "be at least delta apart in max norm)")
    claimed = given if given is not None else sep.delta
    if not _serves(K, claimed):
        what = (f"delta={float(given):.6g}" if given is not None else
                f"the measured separation: {sep.describe()}")
        raise InvalidArgument(
            f"{what}; this τ's grid K={K} has cell width 1/K={1 / K:.6g} and serves "
            f"separations {'> 1' if K == 1 else f'>= 1/{K}'} only: build τ with "
            "request_for_dataset(X, delta)")
    if K > 1:
        scaled = Xa * K                                   # exact: K is a power of two
        b = np.clip(np.rint(scaled), 1, K - 1)
        gap = np.abs(scaled - b) / K                      # exact near a boundary (Sterbenz)
        bad = np.argwhere(gap < float(sizes.eta) / 2)
        if bad.size:
            i, c, j = (int(v) for v in bad[0])
            v = float(Xa[i, c, j])
            raise InvalidArgument(
                f"X[{i}][{c}, {j}]={v!r} (sequence i={i}, position j={j}) is "
                f"{float(gap[i, c, j]):.3g} from the cell boundary {int(b[i, c, j])}/{K}: "
                f"tokens must keep η/2={float(sizes.eta) / 2:.3g} away from interior "
                f"boundaries (the FF_pre strips of width η={float(sizes.eta):.3g})")
    _refuse_duplicates(Xa)
    cells = tuple(tuple(_token_cell(K, Xa[i, :, j])[c] for j in range(L) for c in range(d))
                  for i in range(Xa.shape[0]))
    assert len(set(cells)) == len(cells), "separated distinct sequences share a cell tuple"
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
                       grid_labels: bool, fill: int = 0,
                       delta: object = None) -> list[list[int]]:
    """The ``d × slots`` level table that memorises ``(X, Y)``; other slots hold ``fill``.

    ``(X, Y)`` must meet :func:`validate_dataset` for ``delta`` (``None``: measured).
    """
    s = ut.sizes
    fill = check_int("fill", fill, minimum=0, maximum=s.M)
    cells = validate_dataset(s, X, Y, grid_labels=grid_labels, delta=delta)
    levels = label_levels(s, np.asarray(Y, dtype=np.float64))
    table = [[fill] * s.slots for _ in range(s.d)]
    for i, q in enumerate(cells):
        for k in range(s.L):
            slot = table_slot(ut, k, q)
            for c in range(s.d):
                table[c][slot] = int(levels[i, c, k])
    return table


def memorising_prompt(ut: UniversalTransformer, X: object, Y: object, *,
                      grid_labels: bool = True, fill: int = 0, delta: object = None) -> Prompt:
    """The prompt ``P`` (``d × L_p``, exact dyadic) with ``τ_P(X^(i)) ≈ Y^(i)`` for all ``i``.

    Exact for grid labels, within ``1/(2M)`` for real labels (module docstring); ``X`` and
    ``Y`` are ``(N, d, L)``, checked by :func:`validate_dataset` for ``delta``.
    """
    table = memorisation_table(ut, X, Y, grid_labels=grid_labels, fill=fill, delta=delta)
    n = np.asarray(X).shape[0]
    return prompt_from_levels(ut, table, name=f"dataset:N={n}")


#: ``(d, L, δ, N)`` rows of the docs table (docs/universality.md, "Memorisation"): for each
#: shape of the universality list, ``δ`` down to the first grid that does not fit.
DOC_ROWS: tuple[tuple[int, int, Fraction, int], ...] = tuple(
    (d, L, Fraction(delta), N) for d, L, delta, N in (
        (1, 1, "1/2", 2), (1, 1, "1/8", 8), (1, 1, "1/32", 32), (1, 1, "1/256", 256),
        (1, 1, "1/300", 300),
        (1, 2, "1/2", 2), (1, 2, "1/2", 4), (1, 2, "1/4", 16), (1, 2, "1/8", 16),
        (1, 2, "1/8", 64), (1, 2, "1/12", 100), (1, 2, "1/16", 64), (1, 2, "1/16", 256),
        (1, 2, "1/32", 64),
        (2, 1, "1/4", 16), (2, 1, "1/16", 64), (2, 1, "1/16", 256), (2, 1, "1/32", 64),
        (1, 3, "1/2", 8), (1, 3, "1/3", 27), (1, 3, "1/4", 64), (1, 3, "1/8", 64),
        (2, 2, "1/2", 16), (2, 2, "1/4", 16)))


def _fraction_text(x: Fraction) -> str:
    return f"{x.numerator}/{x.denominator}" if x.denominator != 1 else str(x.numerator)


def sizes_section(rows: Sequence[tuple[int, int, object, int]] = DOC_ROWS) -> str:
    """Markdown table: route B's memorising ``L_p`` and precision against ``1/δ`` and ``N``.

    Rows ``(d, L, δ, N)``. Columns: the grid ``K`` (``1/K ≤ δ``), strip width ``η`` and its
    measure ``(K−1)η`` per coordinate, ``N`` and the most sequences ``δ`` admits, output
    levels ``M``, slots ``L·K^{dL}``, ``L_p`` (:func:`constructive_length`), the lower bound
    ``L_p*(N, d, L)`` (:func:`memorisation_lower_bound`) and their ratio, bits per prompt
    entry and precision bits. Nothing is built; rows past the limits say so.
    """
    lines = ["| d | L | δ | K | η | strips (K−1)η | N | N max | M | slots | L_p (route B) | "
             "L_p* | L_p / L_p* | b bits/entry | precision bits |", "|" + "---|" * 15]
    for d, L, delta, N in rows:
        dq = as_separation(delta)
        head = f"| {d} | {L} | {_fraction_text(dq)} |"
        try:
            r = memorisation_request(N, d, L, dq)
        except ConstructionTooLarge as exc:
            near = exc.nearest if isinstance(exc.nearest, dict) else {}
            lines.append(f"{head} {grid_for_separation(dq)} | too large: slots "
                         f"{exc.required} > limits (nearest K={near.get('K')}) |"
                         + " |" * 10)
            continue
        s = r.sizes()
        b = bits_per_prompt_coordinate(s)
        lp, star = constructive_length(s), memorisation_lower_bound(N, d, L, s.M, b)
        eta = f"2^-{r.eta.denominator.bit_length() - 1}" if r.K > 1 else "—"
        strips = (f"{float(r.strip_measure):.2g}" if r.K > 1 else "0")
        lines.append(f"{head} {r.K} | {eta} | {strips} | {N} | {max_tokens(dq, d) ** L} | "
                     f"{s.M} | {s.slots} | {lp} | {star} | {lp / star:.3g} | {b} | "
                     f"{s.precision_bits} |")
    return "\n".join(lines)


def every_grid_labelling(M: int, count: int) -> itertools.product[tuple[int, ...]]:
    """Every tuple of ``count`` levels in ``0..M`` (the datasets of a toy shape)."""
    return itertools.product(range(M + 1), repeat=count)


if __name__ == "__main__":     # python -m core.constructions.memorise prints the docs table
    print(sizes_section())
