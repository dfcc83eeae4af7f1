"""Claims about the capacity lower bound (docs/theory.md §2, claim LB; label ``thm:PT_memo``).

See :mod:`core.bounds` for the argument and its constants. Three checks:

* the bound's formulas agree in float, mpmath and exact integers (certified by the exact
  integer inequality ``K^{d·L_p} >= 2^M``);
* the packing behind it is what the formula counts: every cell enumerated, every member
  C-Lipschitz with values in ``[0,1]``, every pair of members ``2ε`` apart (exhaustive);
* the pigeonhole step on a real frozen τ whose prompt is quantised to ``K`` levels: with
  fewer prompts than members, two members are forced onto one prompt, and that prompt is at
  distance ``>= ε`` from one of them (exhaustive over all prompts).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import mpmath
import numpy as np
import torch

from core.bounds import lower_bound_real, min_prompt_length_exact, mp_log2, packing_bits
from core.model import PromptTunedTransformer
from core.packing import BumpPacking

from .claim import Claim, Outcome
from .strategies import ModelInstance, build_model_case
from .strategies_capacity import (
    BoundInstance,
    PackingInstance,
    PigeonholeInstance,
    bound_instances,
    packing_instances,
    pigeonhole_instances,
)

__all__ = ["CLAIMS"]

_PAPER = "thm:PT_memo (capacity lower bound; our formalisation)"
_U = 2.0**-53


def measure_bound_agreement(inst: BoundInstance) -> Outcome:
    """Relative gap between float and mpmath values of ``M/(d·log₂K)``; the exact integer
    ``L_p*`` must equal ``⌈mpmath value⌉`` (and ``⌈float value⌉`` unless the value is within
    rounding of an integer).

    Bound: ``4u`` — the float path rounds ``float(M)``, ``log₂K`` (glibc: under one ulp),
    the product and the quotient once each.
    """
    M = packing_bits(inst.d, inst.L, inst.C, inst.eps)
    exact = min_prompt_length_exact(M, inst.d, inst.K)
    as_float = lower_bound_real(float(M), float(inst.d), float(inst.K))
    with mpmath.workdps(50):
        as_mp = lower_bound_real(mpmath.mpf(M), mpmath.mpf(inst.d), mpmath.mpf(inst.K),
                                 log2=mp_log2)
        ceil_mp = int(mpmath.ceil(as_mp))
        rel = float(abs(mpmath.mpf(as_float) - as_mp) / as_mp) if M else 0.0
        near_integer = bool(abs(as_mp - mpmath.nint(as_mp)) <= 4 * _U * abs(as_mp))
    ceil_float = math.ceil(as_float)
    agree = ceil_mp == exact and (ceil_float == exact or near_integer)
    detail = {"M": M, "Lp_exact": exact, "Lp_real_float": as_float,
              "Lp_ceil_mpmath": ceil_mp, "Lp_ceil_float": ceil_float, "dL": inst.d * inst.L,
              "inv_eps": inst.eps_den, "near_integer": near_integer}
    return Outcome(error=rel if agree else math.inf, bound=4 * _U, detail=detail)


def measure_packing(inst: PackingInstance) -> Outcome:
    """Exhaustive check of the packing's count, Lipschitz constant, range and separation.

    Error: the largest violation among (cells enumerated − M formula), (Lipschitz quotient −
    C) over all pairs of a grid through every cell centre and boundary, (range excess), and
    (2ε − separation); bound: ``8u·C`` of float rounding in the quotients.
    """
    packing = BumpPacking(inst.d, inst.L, Fraction(inst.C_num), Fraction(1, inst.eps_den))
    C, eps, m, M = float(packing.C), float(packing.eps), packing.m, packing.n_cells
    cells = list(packing.cells())
    if len(cells) != M:   # the formula miscounts the cells: no point enumerating members
        return Outcome(error=float(abs(len(cells) - M)), bound=8 * _U * C,
                       detail={"m": m, "M_formula": M, "cells_enumerated": len(cells)})
    violations = []
    axis = np.linspace(0.0, 1.0, 4 * m + 1)          # boundaries, centres, quarter points
    points = [np.array(p).reshape(inst.d, inst.L)
              for p in itertools.product(axis, repeat=inst.d * inst.L)]
    members = packing.members()
    worst_lip = 0.0
    for signs in members:
        values = [packing.member(signs, x) for x in points]
        violations.append(max(0.0, max(values) - 1.0, -min(values)))
        for (x, fx), (y, fy) in itertools.combinations(zip(points, values, strict=True), 2):
            worst_lip = max(worst_lip, abs(fx - fy) / float(np.max(np.abs(x - y))))
    violations.append(worst_lip - C)
    centres = [packing.centre(c) for c in cells]
    min_sep = min(max(abs(packing.member(a, x) - packing.member(b, x)) for x in centres)
                  for a, b in itertools.combinations(members, 2)) if len(members) > 1 else 2 * eps
    violations.append(2 * eps - min_sep)
    detail = {"m": m, "M": M, "members": len(members), "grid_points": len(points),
              "lipschitz_measured": worst_lip, "min_separation": min_sep}
    return Outcome(error=max(0.0, *violations), bound=8 * _U * C, detail=detail)


def measure_pigeonhole(inst: PigeonholeInstance) -> Outcome:
    """Enumerate every ``K``-level prompt of length ``L_p`` for a seeded frozen τ (d = L = 1).

    Error: ``#members approximated within < ε`` (each prompt can serve at most one member,
    the members being ``2ε`` apart); bound: the number of prompts ``K^{L_p}``. When there are
    fewer prompts than members the measure also exhibits two members whose nearest prompt is
    the same and checks that this prompt is ``>= ε`` from one of them.
    """
    packing = BumpPacking(1, 1, Fraction(inst.C_num), Fraction(1, inst.eps_den))
    eps = float(packing.eps)
    case = build_model_case(ModelInstance(seed=inst.seed, d=1, s=1, L=1, Lp=inst.Lp))
    model = PromptTunedTransformer(case.weights)
    levels = np.linspace(-2.0, 2.0, inst.K)
    centres = [packing.centre(c) for c in packing.cells()]
    X = torch.tensor(np.stack(centres), dtype=torch.float64)          # (M, 1, 1)
    prompts = list(itertools.product(levels, repeat=inst.Lp))
    with torch.no_grad():
        outputs = np.stack([model(X, torch.tensor(np.array(p).reshape(1, inst.Lp))).numpy()
                            .reshape(-1) for p in prompts])           # (prompts, M)
    members = packing.members()
    targets = np.array([[packing.member(s, x) for x in centres] for s in members])
    dist = np.abs(outputs[:, None, :] - targets[None, :, :]).max(axis=2)  # (prompts, members)
    served = int(np.sum(dist.min(axis=0) < eps))
    detail: dict[str, object] = {"members": len(members), "prompts": len(prompts),
                                 "members_within_eps": served,
                                 "Lp_required": min_prompt_length_exact(packing.n_cells, 1,
                                                                        inst.K)}
    error = float(served)
    if len(members) > len(prompts):
        nearest = dist.argmin(axis=0)
        pair = next((a, b) for a, b in itertools.combinations(range(len(members)), 2)
                    if nearest[a] == nearest[b])
        shared = int(nearest[pair[0]])
        farther = max(dist[shared, pair[0]], dist[shared, pair[1]])
        detail.update(shared_prompt=list(prompts[shared]), pair=[list(members[pair[0]]),
                      list(members[pair[1]])], shared_prompt_far_distance=float(farther))
        if not farther >= eps:
            error = math.inf
    return Outcome(error=error, bound=float(len(prompts)), detail=detail)


def _bound_points() -> list[BoundInstance]:
    # The figure's series: L_p* against d·L (ε = 1/4) and against 1/ε (d·L = 2), K = 2^8.
    by_dl = [BoundInstance(d=1, L=dl, C_num=2, C_den=1, eps_den=4, K=256) for dl in (1, 2)]
    by_dl += [BoundInstance(d=2, L=L, C_num=2, C_den=1, eps_den=4, K=256) for L in (1, 2)]
    by_dl += [BoundInstance(d=3, L=2, C_num=2, C_den=1, eps_den=4, K=256)]
    by_eps = [BoundInstance(d=1, L=2, C_num=1, C_den=1, eps_den=k, K=256)
              for k in (2, 4, 8, 16, 32, 40)]
    exact_ties = [BoundInstance(d=1, L=1, C_num=16, C_den=1, eps_den=2, K=4),
                  BoundInstance(d=2, L=1, C_num=4, C_den=1, eps_den=4, K=2)]
    return by_dl + by_eps + exact_ties


def _packing_points() -> list[PackingInstance]:
    return [PackingInstance(d=1, L=1, C_num=1, eps_den=2), PackingInstance(1, 2, 2, 2),
            PackingInstance(2, 1, 1, 4), PackingInstance(1, 1, 1, 4)]


def _pigeonhole_points() -> list[PigeonholeInstance]:
    return [PigeonholeInstance(seed=0, C_num=3, eps_den=2, K=2, Lp=2),
            PigeonholeInstance(seed=1, C_num=4, eps_den=2, K=3, Lp=2),
            PigeonholeInstance(seed=2, C_num=2, eps_den=2, K=2, Lp=0)]


CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="lower_bound_formulas_agree", theory_ref="LB", paper_ref=_PAPER,
        statement="The prompt-length lower bound M/(d·log2 K) with M = floor(C/(2ε))^(dL) "
                  "agrees in float, mpmath and exact integer arithmetic.",
        evidence="certified", instance_type=BoundInstance, strategy=bound_instances,
        reference_points=_bound_points, measure=measure_bound_agreement,
        bound_source="4 roundings in the float path (4u); exact integers decide L_p*"),
    Claim(
        id="packing_is_lipschitz_and_separated", theory_ref="LB", paper_ref=_PAPER,
        statement="The bump packing has exactly floor(C/(2ε))^(dL) cells and 2^M members, "
                  "each C-Lipschitz with values in [0,1], pairwise 2ε apart.",
        evidence="exhaustive", instance_type=PackingInstance, strategy=packing_instances,
        reference_points=_packing_points, measure=measure_packing,
        bound_source="float rounding of Lipschitz quotients: 8u·C", draws=0.5),
    Claim(
        id="pigeonhole_forces_shared_prompt", theory_ref="LB", paper_ref=_PAPER,
        statement="With K-level prompts a frozen τ ε-approximates at most K^(d·L_p) packing "
                  "members, and too few prompts force two members onto one prompt.",
        evidence="exhaustive", instance_type=PigeonholeInstance,
        strategy=pigeonhole_instances, reference_points=_pigeonhole_points,
        measure=measure_pigeonhole,
        bound_source="counting: members are 2ε apart, so one prompt serves at most one",
        draws=0.5),
)
