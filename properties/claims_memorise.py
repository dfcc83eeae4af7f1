"""Claim M (docs/theory.md §2, ``thm:PT_memo``) and the LB link for constructive prompt lengths.

The memorising τ is route B's universal τ with its grid set by the data's token separation
``δ`` (:mod:`core.constructions.memorise`); the datasets are uniform tokens thinned to
separation ``δ`` (:mod:`properties.strategies_memorise`), with ``δ`` given or measured.
Every output is evaluated exactly in rational arithmetic (:meth:`UniversalTransformer.
forward_exact`), which is stronger than agreement of the mpmath twin at two precisions.

Every record's ``detail`` carries ``dL``, ``inv_eps``, ``Lp_constructive`` and
``Lp_lower_bound`` for the audit's prompt-length figure: ``Lp_lower_bound`` is the capacity
bound ``min_prompt_length_exact(packing_bits(d, L, C, ε), d, 2^b)`` of :mod:`core.bounds`
for the τ's request, ``b`` the bits per prompt coordinate the construction uses.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np

from core.bounds import min_prompt_length_exact, packing_bits
from core.constructions import UniversalSizes, cell_centre, plan_universal
from core.constructions.memorise import (
    MemorisationRequest,
    bits_per_prompt_coordinate,
    build_memoriser,
    constructive_length,
    every_grid_labelling,
    memorisation_lower_bound,
    memorisation_request,
    memorising_prompt,
)
from core.constructions.separated import measure_separation
from core.constructions.universal import prompt_from_levels
from core.mp_twin import mp_forward

from .claim import Claim, Outcome
from .strategies_memorise import (
    TWIN_SHAPES,
    LengthInstance,
    MemoriseInstance,
    TruncationInstance,
    dataset_of,
    length_instances,
    memorisation_length_instance,
    memorise_instances,
    request_of,
    truncation_instances,
)

__all__ = ["CLAIMS", "length_detail"]

_PAPER = "thm:PT_memo"
_WHY_FIXED = ("route B's table is indexed by all L·K^(dL) (cell, position) slots and FF_post "
              "reads slot s after shifting out s digits, so every slot up to the last needs a "
              "digit whatever N is; K is set by the token separation δ (1/K <= δ), not by N")


def length_detail(sizes: UniversalSizes, C: float, eps: float, N: int | None) -> dict[str, Any]:
    """The prompt-length scalars every record reports (module docstring)."""
    b = bits_per_prompt_coordinate(sizes)
    inv_eps = Fraction(repr(eps)) ** -1
    detail: dict[str, Any] = {
        "dL": sizes.d * sizes.L,
        "inv_eps": float(inv_eps),
        "Lp_constructive": constructive_length(sizes),
        "Lp_universal": sizes.prompt_tokens,
        "Lp_lower_bound": min_prompt_length_exact(packing_bits(sizes.d, sizes.L, C, eps),
                                                  sizes.d, 2**b),
        "bits_per_entry": b, "K": sizes.K, "M": sizes.M, "slots": sizes.slots,
        "precision_bits": sizes.precision_bits}
    if N is not None:
        detail["N"] = N
        detail["Lp_star"] = memorisation_lower_bound(N, sizes.d, sizes.L, sizes.M, b)
        detail["why_Lp_fixed_in_N"] = _WHY_FIXED
    return detail


def _dataset_detail(inst: MemoriseInstance, r: MemorisationRequest,
                    X: np.ndarray) -> dict[str, Any]:
    """Length scalars plus the dataset's hypothesis: ``δ`` (given or measured), grid, strips."""
    sep = measure_separation(X)
    return {**length_detail(r.sizes(), r.C, r.eps, len(X)),
            "N_requested": inst.N, "sequences_checked": len(X), "tokens": sep.tokens,
            "delta_thinning": inst.thinning, "delta_measured": (
                None if sep.delta is None else float(sep.delta)),
            "delta": None if r.delta is None else float(r.delta), "measured": inst.measured,
            "eta": float(r.eta), "strip_measure_per_coordinate": float(r.strip_measure)}


def _outputs(inst: MemoriseInstance) -> tuple[list[Fraction], dict[str, Any]]:
    """Exact ``|τ_P(X^(i)) − Y^(i)|`` over every entry of every sequence, and the detail."""
    r = request_of(inst)
    ut = r.build()
    X, Y = dataset_of(inst, ut)
    prompt = memorising_prompt(ut, X, Y, grid_labels=inst.labels == "grid",
                               delta=inst.hypothesis_delta)
    errors = []
    for x, y in zip(X, Y, strict=True):
        out = ut.forward_exact(x, prompt)
        errors += [abs(out[c][j] - Fraction(float(y[c, j])))
                   for c in range(inst.d) for j in range(inst.L)]
    return errors, _dataset_detail(inst, r, X)


def measure_exact(inst: MemoriseInstance) -> Outcome:
    """Largest exact ``|τ_P(X^(i)) − Y^(i)|`` over the whole dataset (grid labels): must be 0."""
    errors, detail = _outputs(inst)
    worst = max(errors)
    return Outcome(error=float(worst) if worst == 0 else max(float(worst), 2.0**-1074),
                   bound=0.0, detail=detail)


def measure_eps(inst: MemoriseInstance) -> Outcome:
    """Largest exact ``|τ_P(X^(i)) − Y^(i)|`` (real labels) against ``ε = 1/(2M)``."""
    errors, detail = _outputs(inst)
    worst = max(errors)
    eps = Fraction(1, 2 * detail["M"])
    error = float(worst) if worst <= eps else max(float(worst), math.nextafter(float(eps),
                                                                                  math.inf))
    return Outcome(error=error, bound=float(eps), detail=detail)


def measure_mp_twin(inst: MemoriseInstance) -> Outcome:
    """The mpmath twin at two precisions on every sequence, against the grid labels.

    ``dps = max(15, ⌈bits·log₁₀2⌉ + 5)`` (the twin's floor is 15) from the τ's reported
    ``precision_bits``, and ``dps + 15``;
    error: the largest ``|twin − Y|`` over both; bound: ``10^-(dps−10)`` (docs/theory.md §2, M).
    """
    r = request_of(inst)
    ut = r.build()
    X, Y = dataset_of(inst, ut)
    # the exact prompt: past a few hundred slots its packed digits leave float64's range
    P = memorising_prompt(ut, X, Y, delta=inst.hypothesis_delta).rational()
    dps = max(15, math.ceil(ut.sizes.precision_bits * math.log10(2)) + 5)
    worst = 0.0
    for prec in (dps, dps + 15):
        for x, y in zip(X, Y, strict=True):
            out = mp_forward(ut.weights, x, P, dps=prec)
            with mpmath.workdps(prec):
                gap = max(abs(out[c][j] - mpmath.mpf(float(y[c, j])))
                          for c in range(inst.d) for j in range(inst.L))
            worst = max(worst, float(gap))
    detail = {**_dataset_detail(inst, r, X), "dps": [dps, dps + 15]}
    return Outcome(error=worst, bound=10.0 ** -(dps - 10), detail=detail)


def _centre_outputs(ut: Any, table: list[list[int]], inputs: list[np.ndarray],
                    ) -> tuple[int, ...]:
    """Levels ``M·τ_P(x)`` over every input of the toy domain, flattened (exact)."""
    prompt = prompt_from_levels(ut, table, name="truncated")
    out: list[int] = []
    for x in inputs:
        y = ut.forward_exact(x, prompt)
        vals = [y[c][j] * ut.sizes.M for j in range(ut.sizes.L) for c in range(ut.sizes.d)]
        if any(v.denominator != 1 for v in vals):
            raise AssertionError("an output left the grid: the τ is not reading a slot")
        out += [int(v) for v in vals]
    return tuple(out)


def measure_truncation(inst: TruncationInstance) -> Outcome:
    """Every prompt whose table keeps only ``free`` slots free, over all cells of a toy τ.

    The inputs are every cell centre (one sequence per cell: ``N' = K^{dL}`` sequences);
    the tables range over all ``(M+1)^{d·free}`` level choices of the free slots, the rest
    ``0``. Error: the number of distinct labellings realised; bound: the number of
    grid-labelled datasets on those inputs minus one, ``(M+1)^{N'·d·L} − 1``. A labelling
    that no truncated prompt realises is exhibited, and the full prompt must memorise it.
    """
    ut = build_memoriser(inst.N, inst.d, inst.L)
    s = ut.sizes
    cells = list(itertools.product(range(s.K), repeat=s.d * s.L))
    inputs = [cell_centre(s, q) for q in cells]
    if not 0 <= inst.free <= s.slots:
        return Outcome(error=math.inf, bound=0.0, detail={
            "refused": f"free={inst.free}: must be in 0..slots={s.slots}"})
    realised = set()
    for choice in every_grid_labelling(s.M, s.d * inst.free):
        table = [[0] * s.slots for _ in range(s.d)]
        for c in range(s.d):
            table[c][:inst.free] = choice[c * inst.free:(c + 1) * inst.free]
        realised.add(_centre_outputs(ut, table, inputs))
    entries = len(inputs) * s.d * s.L
    datasets = (s.M + 1) ** entries
    missed = next((lab for lab in every_grid_labelling(s.M, entries) if lab not in realised),
                  None)
    if missed is None:       # free = slots: the prompt is not truncated and realises them all
        return Outcome(error=float(len(realised)), bound=float(datasets - 1), detail={
            "free_slots": inst.free, "slots": s.slots, "realised": len(realised),
            "datasets": datasets})
    X = np.stack(inputs)
    Y = np.array(missed, dtype=np.float64).reshape(len(inputs), s.L, s.d).transpose(0, 2, 1)
    Y = Y / s.M
    full = memorising_prompt(ut, X, Y)
    ok = all(np.array_equal(np.array(ut.forward_exact(x, full), dtype=object),
                            np.array([[Fraction(float(v)) for v in row] for row in y],
                                     dtype=object)) for x, y in zip(X, Y, strict=True))
    detail = {"free_slots": inst.free, "slots": s.slots, "K": s.K, "M": s.M,
              "truncated_prompts": (s.M + 1) ** (s.d * inst.free), "realised": len(realised),
              "datasets": datasets, "missed_levels": list(missed),
              "full_prompt_memorises_missed": ok, "why_Lp_fixed_in_N": _WHY_FIXED,
              **length_detail(s, memorisation_request(inst.N, inst.d, inst.L).C,
                              memorisation_request(inst.N, inst.d, inst.L).eps, inst.N)}
    return Outcome(error=float(len(realised)) if ok else math.inf,
                   bound=float(datasets - 1), detail=detail)


def measure_lengths(inst: LengthInstance) -> Outcome:
    """``Lp_lower_bound / Lp_constructive`` (≤ 1), decided in exact integers.

    Also requires ``L_p*(N, d, L) ≤ L_p`` for memorisation requests and the memorising
    length to equal route B's own for the τ's sizes. A memorisation instance (``N > 0``) is
    planned by :func:`memorisation_request` of ``(N, d, L, delta)``; its ``(C, ε, p)`` are
    that request's.
    """
    if inst.N:
        r = memorisation_request(inst.N, inst.d, inst.L, inst.delta)
        s = r.sizes()
        detail = {**length_detail(s, r.C, r.eps, inst.N), "delta": (
            None if r.delta is None else float(r.delta))}
    else:
        s = plan_universal(inst.d, inst.L, inst.C, inst.eps, inst.p)
        detail = length_detail(s, inst.C, inst.eps, None)
    lp, low = detail["Lp_constructive"], detail["Lp_lower_bound"]
    star = detail.get("Lp_star", 0)
    ok = low <= lp and star <= lp and lp == s.prompt_tokens
    ratio = low / lp if lp else (0.0 if low == 0 else math.inf)
    error = ratio if ok else max(ratio, math.nextafter(1.0, math.inf))
    return Outcome(error=error, bound=1.0, detail=detail)


# --- reference points ----------------------------------------------------------------------

#: Thinned random datasets at the universality list's shapes, each at its largest
#: default-tier grid with a seed whose thinning keeps the most tokens of 200 seeds (N = 7,
#: 16, 16, 8, 16 sequences: (1, 1) keeps at most 7 tokens 0.13 apart), N = 64 at (1, 2)
#: (δ = 1/12: K = 16, 512 slots, about 7 s), δ measured, and N = 1.
_EXACT_POINTS = (
    MemoriseInstance(seed=11, N=64, d=1, L=2, delta=1 / 12),
    MemoriseInstance(seed=182, N=8, d=1, L=1, delta=0.13),
    MemoriseInstance(seed=199, N=16, d=1, L=2, delta=0.26),
    MemoriseInstance(seed=27, N=16, d=2, L=1, delta=0.26),
    MemoriseInstance(seed=199, N=8, d=1, L=3, delta=0.51),
    MemoriseInstance(seed=198, N=16, d=2, L=2, delta=0.51),
    MemoriseInstance(seed=192, N=16, d=1, L=2, delta=0.26, measured=True),
    MemoriseInstance(seed=7, N=1, d=2, L=2, delta=0.51),
)
_EPS_POINTS = (
    MemoriseInstance(seed=191, N=16, d=1, L=2, labels="midpoint", delta=0.26),
    MemoriseInstance(seed=195, N=16, d=2, L=1, labels="midpoint", delta=0.26),
    MemoriseInstance(seed=198, N=8, d=1, L=3, labels="real", delta=0.51),
    MemoriseInstance(seed=197, N=16, d=2, L=2, labels="real", delta=0.51, measured=True),
    MemoriseInstance(seed=177, N=8, d=1, L=1, labels="midpoint", delta=0.13),
)
_TWIN_POINTS = (
    MemoriseInstance(seed=133, N=8, d=1, L=1, delta=0.13),
    MemoriseInstance(seed=32, N=4, d=1, L=2, delta=0.51),
    MemoriseInstance(seed=33, N=4, d=2, L=1, delta=0.51, measured=True),
    MemoriseInstance(seed=34, N=2, d=1, L=3, delta=0.51),
)
_TRUNC_POINTS = (TruncationInstance(2, 1, 1, 1), TruncationInstance(4, 1, 1, 3),
                 TruncationInstance(1, 1, 2, 1), TruncationInstance(1, 2, 1, 0))


def _length_points() -> list[LengthInstance]:
    mem = [memorisation_length_instance(r.N, p.d, p.L, None if r.delta is None
                                        else float(r.delta))
           for p in _EXACT_POINTS for r in [request_of(p)]]
    mem += [memorisation_length_instance(64, 1, 3), memorisation_length_instance(64, 1, 2),
            memorisation_length_instance(256, 1, 2, 1 / 16),
            memorisation_length_instance(256, 1, 1, 1 / 256)]
    uni = [LengthInstance(d=d, L=L, C=C, eps=e, p=p) for d, L, C, e, p in (
        (1, 1, 1.0, 0.3, 2), (1, 1, 2.0, 0.1, 2), (1, 2, 1.0, 0.4, 2), (1, 2, 1.0, 0.2, 2),
        (2, 1, 1.0, 0.4, 2), (1, 3, 1.0, 0.5, 4), (1, 3, 1.0, 0.3, 4), (2, 2, 1.0, 0.5, 4),
        (2, 2, 1.0, 0.4, 4))]
    return mem + uni


CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="memorise_grid_labels_exactly", theory_ref="M", paper_ref=_PAPER,
        statement="For every dataset whose tokens are pairwise δ-separated (or equal) and "
                  "off the FF_pre strips, with labels on the output grid, the τ built from "
                  "(d, L, δ) with the memorising prompt gives τ_P(X^(i)) = Y^(i) exactly for "
                  "every sequence i (uniform tokens thinned to δ; δ given or measured).",
        evidence="exhaustive", instance_type=MemoriseInstance,
        strategy=lambda: memorise_instances(("grid",)),
        reference_points=lambda: list(_EXACT_POINTS), measure=measure_exact,
        bound_source="exact rational evaluation: equality (error 0)", draws=0.5),
    Claim(
        id="memorise_matches_mp_twin_at_two_precisions", theory_ref="M", paper_ref=_PAPER,
        statement="On every sequence of a small dataset the mpmath twin of the memorising "
                  "τ_P at two precisions reproduces the grid labels to 10^-(dps-10).",
        evidence="oracle", instance_type=MemoriseInstance,
        strategy=lambda: memorise_instances(("grid",), TWIN_SHAPES),
        reference_points=lambda: list(_TWIN_POINTS),
        measure=measure_mp_twin,
        bound_source="docs/theory.md §2 M: equality up to the working precision, 10^-(dps-10)",
        draws=0.25),
    Claim(
        id="memorise_real_labels_within_half_step", theory_ref="M", paper_ref=_PAPER,
        statement="For every dataset of δ-separated tokens off the FF_pre strips with real "
                  "labels in [0,1], every output of the memorising prompt is within "
                  "ε = 1/(2M) of its label.",
        evidence="exhaustive", instance_type=MemoriseInstance,
        strategy=lambda: memorise_instances(("real", "midpoint")),
        reference_points=lambda: list(_EPS_POINTS), measure=measure_eps,
        bound_source="half the output grid step 1/(2M) of the τ's sizes", draws=0.5),
    Claim(
        id="memorise_fails_with_too_few_table_digits", theory_ref="M", paper_ref=_PAPER,
        statement="At toy size, every prompt whose table leaves a slot fixed realises fewer "
                  "labellings than there are grid-labelled datasets, and the full-length "
                  "prompt memorises a dataset none of them realises.",
        evidence="exhaustive", instance_type=TruncationInstance,
        strategy=truncation_instances, reference_points=lambda: list(_TRUNC_POINTS),
        measure=measure_truncation,
        bound_source="counting: (M+1)^(N·d·L) datasets need that many distinct outputs",
        draws=0.25),
    Claim(
        id="constructive_lengths_respect_lower_bound", theory_ref="LB",
        paper_ref="thm:PT_memo (capacity lower bound; our formalisation)",
        statement="Every constructive prompt length, universal and memorising, is at least "
                  "the capacity lower bound for its request with K = 2^b levels per prompt "
                  "coordinate.",
        evidence="certified", instance_type=LengthInstance, strategy=length_instances,
        reference_points=_length_points, measure=measure_lengths,
        bound_source="min_prompt_length_exact(packing_bits(d, L, C, ε), d, 2^b) in exact "
                     "integers; L_p*(N,d,L) for memorisation", draws=0.5),
)

