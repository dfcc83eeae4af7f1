"""Unit tests, bad inputs and planted bugs for the universal construction (claim U)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from fractions import Fraction

import numpy as np
import pytest
import torch

import core.constructions.universal as universal_module
import properties.claims_universal as claims_module
from core.constructions import (
    Float64Untrusted,
    build_prompt,
    build_universal,
    cell_centre,
    code_value,
    plan_universal,
    sizes_table,
)
from core.constructions._pl import Region, layer_from_regions, profiles_of_layer
from core.constructions.certify import certify_universal, check_structure, float_upper
from core.constructions.evaluate import compile_exact, exact_forward
from core.constructions.sizes import UniversalSizes
from core.constructions.universal import _torch_forward
from core.errors import ClaimViolation, ConstructionTooLarge, InvalidArgument
from core.lipschitz import make_target
from core.model import PromptTunedTransformer
from core.weights import FeedForwardWeights, TransformerWeights
from properties.compare import compare_arrays
from properties.registry import get_claim
from properties.strategies_universal import UniversalInstance
from properties.tolerances import tolerance_for

SMALL = (1, 2, 1.0, 0.4, 2)           # K=2, M=16, 8 slots, 71 bits
TRUSTED = (2, 1, 1.0, 0.4, 2)         # 49 bits: float64 is enough
UNTRUSTED = (2, 2, 1.0, 0.5, 4)       # 164 bits


@pytest.fixture(autouse=True)
def _fresh_exact_programs():
    """Each test compiles its exact evaluators afresh. ``compile_exact`` keeps compiled
    programs in a plain dict (not an ``lru_cache``, which tests/conftest.py clears under
    mutation testing), so a process that already ran the tests would otherwise answer from
    programs compiled by other code."""
    import core.constructions.evaluate as evaluate_module

    evaluate_module._CACHE.clear()
    evaluate_module._POST_CACHE.clear()


@pytest.fixture(scope="module")
def small():
    return build_universal(*SMALL)


# --- sizes ----------------------------------------------------------------------------------


def test_sizes_meet_their_own_budget() -> None:
    for cfg in [(1, 1, 1.0, 0.3, 2), SMALL, TRUSTED, UNTRUSTED, (1, 3, 1.0, 0.5, 4)]:
        s = plan_universal(*cfg)
        dl, p = s.d * s.L, s.p
        total = dl * s.good_error**p + (dl * dl * (s.K - 1) * s.eta if s.K > 1 else 0)
        assert total < Fraction(s.eps) ** p
        assert s.slots == s.L * s.K**dl
        assert s.beta >= s.M + 3
        assert s.radix >= 2 * s.K - 1


def test_sizes_table_lists_every_row() -> None:
    table = sizes_table([SMALL, (4, 4, 64.0, 0.01, 1)])
    lines = table.splitlines()
    assert len(lines) == 4
    assert "too large" in lines[3]


def test_too_large_fails_fast_with_sizes_and_nearest() -> None:
    t0 = time.perf_counter()
    with pytest.raises(ConstructionTooLarge) as info:
        build_universal(2, 2, 8.0, 0.05, 1)
    assert time.perf_counter() - t0 < 1.0
    assert "slots" in str(info.value)
    assert info.value.nearest is not None
    nearest = info.value.nearest
    s = plan_universal(nearest.get("d", 2), nearest.get("L", 2), nearest["C"],
                       nearest["eps"], 1)
    assert s.slots == nearest["slots"]


def test_nearest_falls_back_only_to_smaller_inputs() -> None:
    """Under a budget of 18 units, which no (1, 2) plan meets (at ε = 0.4 the least, at
    C/16, is 21) but a (2, 1) plan at C/16 does, the nearest plan is the smaller input
    (d, L) = (1, 1), never a larger d; when even that cannot fit, there is none (never an
    input of length 0)."""
    assert plan_universal(2, 1, 1.0 / 16, 0.4, 2).units == 18
    with pytest.raises(ConstructionTooLarge) as info:
        plan_universal(1, 2, 1.0, 0.4, 2, limits={"units": 18})
    nearest = info.value.nearest
    assert nearest is not None and (nearest["d"], nearest["L"]) == (1, 1)
    assert plan_universal(1, 1, nearest["C"], 0.4, 2).units == nearest["units"] <= 18
    with pytest.raises(ConstructionTooLarge) as none:
        plan_universal(1, 2, 1.0, 0.4, 2, limits={"units": 8})
    assert none.value.nearest is None


BAD = [
    ({"d": 0}, "d=0"), ({"L": 5}, "L=5"), ({"C": -1.0}, "C=-1.0"), ({"eps": 1.0}, "eps=1.0"),
    ({"eps": 0.0}, "eps=0.0"), ({"p": 0}, "p=0"), ({"p": 2.5}, "p=2.5"),
    ({"form": "tall"}, "form='tall'"),
]


@pytest.mark.parametrize(("change", "named"), BAD)
def test_bad_requests_are_refused_by_name(change: dict, named: str) -> None:
    args = {"d": 1, "L": 1, "C": 1.0, "eps": 0.3, "p": 2, "form": "deep", **change}
    with pytest.raises(InvalidArgument, match=named):
        build_universal(args["d"], args["L"], args["C"], args["eps"], args["p"],
                        form=args["form"])


def test_prompt_refuses_other_shapes_and_larger_constants(small) -> None:
    with pytest.raises(InvalidArgument, match="d=2"):
        build_prompt(small, make_target("mcshane", 2, 2, 1.0, 0))
    with pytest.raises(InvalidArgument, match=r"target\.C=2\.0"):
        build_prompt(small, make_target("mcshane", 1, 2, 2.0, 0))


# --- piecewise-linear layers ------------------------------------------------------------------


def test_pl_layer_is_exact_on_regions_and_read_back() -> None:
    regions = [Region(Fraction(0), Fraction(1), Fraction(2), Fraction(3)),
               Region(Fraction(5, 4), Fraction(2), Fraction(0), Fraction(1))]
    layer = layer_from_regions(2, regions, left_slope=Fraction(0), right_slope=Fraction(0))
    prof = profiles_of_layer(layer)
    for c in range(2):
        for y in (Fraction(0), Fraction(1, 3), Fraction(1)):
            assert prof[c](y) == 3 + 2 * y
        assert prof[c](Fraction(3, 2)) == 1
        assert prof[c](Fraction(-100)) == 3
        assert prof[c](Fraction(100)) == 1


def test_non_separable_layer_is_recognised() -> None:
    layer = FeedForwardWeights(w1=np.ones((1, 2)), b1=np.zeros(1), w2=np.ones((2, 1)),
                               b2=np.zeros(2))
    with pytest.raises(InvalidArgument, match="not separable"):
        profiles_of_layer(layer)


# --- the construction ---------------------------------------------------------------------------


def test_codes_are_injective_and_match_the_network(small) -> None:
    s = small.sizes
    seen = set()
    for q in itertools.product(range(s.K), repeat=s.d * s.L):
        X = cell_centre(s, q)
        P0 = [[Fraction(0)] * s.prompt_tokens for _ in range(s.d)]
        # FF_pre + attention only: drop FF_post by evaluating a copy without it
        partial = dataclasses.replace(small.weights, ff_post=())
        y = compile_exact(partial).forward([[Fraction(float(v)) for v in r] for r in X], P0)
        for k in range(s.L):
            v = code_value(s, k, q)
            assert v not in seen
            seen.add(v)
            assert y[0][k] == small.const + v
    assert len(seen) == s.slots


def test_tau_reproduces_the_quantised_table_at_every_centre(small) -> None:
    f = make_target("sinusoid", 1, 2, 1.0, 3, grid=small.sizes.K)
    prompt = build_prompt(small, f)
    s = small.sizes
    for q in itertools.product(range(s.K), repeat=s.d * s.L):
        X = cell_centre(s, q)
        out = small.forward_exact(X, prompt)
        want = np.clip(np.rint(f.values(X) * s.M), 0, s.M) / s.M
        assert np.array_equal(np.array(out, dtype=float), want)


def test_three_slots_read_back_any_table() -> None:
    """L = 3 gives three slots, so the deep form stacks two shift layers and the second must
    leave the already-shifted value alone: for random level tables, τ at the cell centre
    reads ``table[c][slot]/M`` at every position. (The wide form's one layer has
    ``(M+1)^3`` regions here: too slow for the default tier.)"""
    from core.constructions.universal import prompt_from_levels

    ut = build_universal(1, 3, 1.0, 0.9, 2)
    s = ut.sizes
    assert (s.K, s.slots) == (1, 3)
    rank = {v: r for r, v in enumerate(ut.slot_values)}
    rng = np.random.default_rng(8)
    for _ in range(4):
        table = [[int(t) for t in rng.integers(0, s.M + 1, s.slots)]]
        prompt = prompt_from_levels(ut, table, name="random")
        for q in itertools.product(range(s.K), repeat=s.d * s.L):
            out = ut.forward_exact(cell_centre(s, q), prompt)
            assert out == [[Fraction(table[0][rank[code_value(s, k, q)]], s.M)
                            for k in range(s.L)]]


def test_levels_must_be_integers_in_range(small) -> None:
    """A level that is a float, a bool or outside 0..M is refused by its table position."""
    from core.constructions.universal import prompt_from_levels

    s = small.sizes
    for bad in (1.0, 1.5, True, -1, s.M + 1):
        table = [[0] * s.slots for _ in range(s.d)]
        table[0][1] = bad
        with pytest.raises(InvalidArgument, match=r"^table\[0\]\[1\]=.*integers in 0\.\.M"):
            prompt_from_levels(small, table, name="bad")
    assert prompt_from_levels(small, [[np.int64(s.M)] * s.slots], name="ok").levels[0][0] \
        == s.M


@pytest.mark.parametrize("form", ["deep", "wide"])
def test_tau_does_not_depend_on_the_target(form: str) -> None:
    a = build_universal(1, 1, 1.0, 0.3, 2, form=form)
    b = build_universal(1, 1, 1.0, 0.3, 2, form=form)
    assert a.digest() == b.digest()
    pa = build_prompt(a, make_target("mcshane", 1, 1, 1.0, 0))
    pb = build_prompt(a, make_target("sawtooth", 1, 1, 1.0, 0, grid=a.sizes.K))
    assert pa.entries != pb.entries


def test_defaults_are_p_2_and_the_deep_form() -> None:
    s = build_universal(1, 1, 1.0, 0.3).sizes
    assert (s.p, s.form) == (2, "deep")


def test_each_form_builds_the_planned_readout() -> None:
    """``form="deep"`` stacks ``post_depth`` FF_post layers, ``form="wide"`` one; none wider
    than planned (the plan counts a knot or two of spare)."""
    for form in ("deep", "wide"):
        ut = build_universal(1, 1, 1.0, 0.3, 2, form=form)
        s = ut.sizes
        assert s.form == form and len(ut.weights.ff_post) == s.post_depth
        assert 0 < max(layer.hidden for layer in ut.weights.ff_post) <= s.post_width
    assert build_universal(1, 1, 1.0, 0.3, 2, form="wide").sizes.post_depth == 1


def test_deep_and_wide_agree_exactly() -> None:
    deep = build_universal(1, 1, 1.0, 0.3, 2, form="deep")
    wide = build_universal(1, 1, 1.0, 0.3, 2, form="wide")
    f = make_target("relu_mlp", 1, 1, 1.0, 4)
    for X in np.random.default_rng(0).uniform(0.0, 1.0, (20, 1, 1)):
        if abs(X[0, 0] - 0.5) < float(deep.sizes.eta):
            continue
        assert deep.forward_exact(X, build_prompt(deep, f)) == wide.forward_exact(
            X, build_prompt(wide, f))


def test_float64_refused_when_bits_exceed_53() -> None:
    ut = build_universal(*UNTRUSTED)
    f = make_target("mcshane", 2, 2, 1.0, 0)
    with pytest.raises(Float64Untrusted, match="precision_bits=164"):
        ut.forward_float64(np.full((2, 2), 0.3), build_prompt(ut, f))


def test_float64_is_trusted_up_to_exactly_53_bits(small) -> None:
    """float64 covers an encoding of exactly 53 bits and not one of 54."""
    at = {bits: dataclasses.replace(small, sizes=dataclasses.replace(small.sizes,
                                                                   precision_bits=bits))
          for bits in (53, 54)}
    assert at[53].float64_trusted() and not at[54].float64_trusted()


def test_cell_centre_reads_the_cell_digits_channel_fastest() -> None:
    """``X[i, j] = (q[j·d + i] + 1/2) / K``: with d = L = 2 every digit lands in its own
    entry."""
    s = plan_universal(*UNTRUSTED)                     # d = L = 2, K = 2
    assert (s.d, s.L, s.K) == (2, 2, 2)
    q = (0, 1, 1, 0)
    assert np.array_equal(cell_centre(s, q), np.array([[0.25, 0.75], [0.75, 0.25]]))


def test_quantised_levels_are_int64_and_clipped_to_the_level_range(small) -> None:
    """Levels are ``rint(f·M)`` as int64, clipped into ``0..M``: a value below 1/(2M)
    reads level 0, values outside [0, 1] read the nearest end."""
    from core.constructions.universal import quantised_levels

    s = small.sizes
    n = s.K ** (s.d * s.L)
    raw = np.resize([-0.3, 0.2 / s.M, 0.5, 1.7], (n, s.d, s.L))

    class Table:      # a stand-in target: only ``values`` is read
        def values(self, X: np.ndarray) -> np.ndarray:
            assert X.shape == (n, s.d, s.L)
            return raw

    levels = quantised_levels(small, Table())  # type: ignore[arg-type]
    assert levels.dtype == np.int64
    want = np.resize([0, 0, s.M // 2, s.M], (n, s.d, s.L))
    assert np.array_equal(levels, want)


def test_prompt_is_named_after_its_target(small) -> None:
    f = make_target("sinusoid", 1, 2, 1.0, 3, grid=small.sizes.K)
    assert build_prompt(small, f).target == "sinusoid:3:1.0"


def test_float64_trusted_matches_exact() -> None:
    ut = build_universal(*TRUSTED)
    f = make_target("sinusoid", 2, 1, 1.0, 1)
    prompt = build_prompt(ut, f)
    for q in itertools.product(range(ut.sizes.K), repeat=2):
        X = cell_centre(ut.sizes, q)
        got = ut.forward_float64(X, prompt)
        assert np.max(np.abs(got - np.array(ut.forward_exact(X, prompt), float))) < 1e-9


def test_certificate_bounds_and_float_upper() -> None:
    assert Fraction(float_upper(Fraction(1, 3))) >= Fraction(1, 3)
    ut = build_universal(*SMALL)
    f = make_target("sawtooth", 1, 2, 1.0, 2, grid=ut.sizes.K)
    cert = certify_universal(ut, build_prompt(ut, f), f)
    assert cert.holds
    assert cert.cells == ut.sizes.K ** 2
    assert Fraction(cert.dp_upper) ** 2 >= cert.dp_power_sum
    assert cert.dp_upper < 0.4


# --- planted bugs: each must turn a check red -----------------------------------------------


def _swapped_code(sizes, k, q):
    return code_value(sizes, k, tuple(reversed(q)))


def test_planted_cell_index_order_swapped_is_caught(monkeypatch) -> None:
    claim = get_claim("universal_certified_sup_within_formula")
    inst = UniversalInstance(seed=2, family="mcshane", d=1, L=2, C=1.0, eps=0.4, p=2)
    claim.check(inst)
    monkeypatch.setattr(universal_module, "code_value", _swapped_code)
    with pytest.raises(ClaimViolation):
        claim.check(inst)


def test_planted_prompt_for_a_different_target_is_caught(monkeypatch) -> None:
    claim = get_claim("universal_certified_sup_within_formula")
    inst = UniversalInstance(seed=3, family="sinusoid", d=2, L=1, C=1.0, eps=0.4, p=2)
    claim.check(inst)
    real = claims_module.build_prompt

    def other(ut, target):
        return real(ut, make_target("mcshane", target.d, target.L, target.C, target.seed + 1))

    monkeypatch.setattr(claims_module, "build_prompt", other)
    with pytest.raises(ClaimViolation):
        claim.check(inst)


def test_planted_ramp_outside_its_strip_is_caught() -> None:
    ut = build_universal(*SMALL)
    check_structure(ut)
    pre = ut.weights.ff_pre[0]
    b1 = pre.b1.copy()
    u = pre.hidden - 1                    # last ramp unit: edge t + η/2 of position L−1
    b1[u] -= 4 * float(ut.sizes.eta)      # knot moves 4η to the right, into a good piece
    moved = dataclasses.replace(pre, b1=b1)
    bad = dataclasses.replace(ut, weights=dataclasses.replace(ut.weights, ff_pre=(moved,)))
    with pytest.raises(ClaimViolation, match="inside the good piece"):
        check_structure(bad)


def test_planted_float64_evaluation_beyond_53_bits_is_caught(monkeypatch) -> None:
    claim = get_claim("universal_float64_only_when_trusted")
    inst = UniversalInstance(seed=5, family="sawtooth", d=2, L=2, C=1.0, eps=0.5, p=4)
    claim.check(inst)                      # refused: passes
    monkeypatch.setattr(universal_module.UniversalTransformer, "forward_float64",
                        lambda self, X, prompt: _torch_forward(self.weights, X,
                                                               prompt.float64()))
    with pytest.raises(ClaimViolation):
        claim.check(inst)


def test_unguarded_float64_is_wrong_somewhere_on_a_164_bit_encoding() -> None:
    ut = build_universal(*UNTRUSTED)
    f = make_target("mcshane", 2, 2, 1.0, 0)
    prompt = build_prompt(ut, f)
    worst = 0.0
    for q in itertools.product(range(ut.sizes.K), repeat=4):
        X = cell_centre(ut.sizes, q)
        got = _torch_forward(ut.weights, X, prompt.float64())
        worst = max(worst, float(np.max(np.abs(got - np.array(ut.forward_exact(X, prompt),
                                                                 float)))))
    assert worst > 1.0 / (2 * ut.sizes.M)


def test_cost_table_matches_the_planner() -> None:
    from core.constructions.sizes import form_cost_table, wide_width_lower_bound

    row = form_cost_table([TRUSTED]).splitlines()[2].split("|")
    deep = plan_universal(*TRUSTED, form="deep")
    assert int(row[10]) == deep.units
    assert float(row[12]) == pytest.approx(wide_width_lower_bound(deep), abs=0.05)
    with pytest.raises(ConstructionTooLarge):
        plan_universal(*TRUSTED, form="wide")      # 3.55e5 units: over the wide limit


def test_cost_table_every_column_from_the_planner() -> None:
    """Header, separator and each kind of row (wide units counted; wide units only bounded,
    slots > 64; no grid) agree column by column with the planner run without limits."""
    from core.constructions.sizes import LIMITS, form_cost_table, wide_width_lower_bound

    unlimited = {key: 10**400 for key in LIMITS}
    configs = [TRUSTED, (1, 3, 1.0, 0.4, 2), (1, 1, 64.0, 0.01, 1)]
    header, rule, *rows = ([c.strip() for c in line.split("|")[1:-1]]
                           for line in form_cost_table(configs).splitlines())
    assert header == ["d", "L", "C", "ε", "p", "slots N", "M", "deep depth", "deep width",
                      "deep units", "wide units", "log2 min knots (any 1 layer)"]
    assert rule == ["---"] * 12 and [len(r) for r in rows] == [12, 12, 12]
    for config, row in zip(configs[:2], rows, strict=False):
        deep = plan_universal(*config, form="deep", limits=unlimited)
        wide = plan_universal(*config, form="wide", limits=unlimited)
        bound = wide.slots * math.log2(wide.M + 1)
        assert wide_width_lower_bound(wide) == bound
        assert row[:10] == [str(v) for v in (*config, deep.slots, deep.M, deep.post_depth,
                                               deep.post_width, deep.units)]
        assert row[10] == (f"{wide.units:.3g}" if wide.slots <= 64 else
                           f"> 10^{int(bound * math.log10(2))}")
        assert row[11] == f"{bound:.1f}"
    assert rows[0][10] == "3.55e+05" and rows[1][10] == "> 10^183"
    assert rows[2] == ["1", "1", "64.0", "0.01", "1", "no grid ≤ 2^8"] + [""] * 6


def test_mp_twin_needs_the_reported_precision() -> None:
    """(1,3): 103 bits reported; the twin at 20 digits (~66 bits) misreads the table."""
    from core.mp_twin import mp_forward

    ut = build_universal(1, 3, 1.0, 0.5, 4)
    s = ut.sizes
    f = make_target("sinusoid", 1, 3, 1.0, 0)
    prompt = build_prompt(ut, f)
    enough = int(np.ceil(s.precision_bits * np.log10(2))) + 5

    def worst(dps: int) -> float:
        out = 0.0
        for q in itertools.product(range(s.K), repeat=3):
            X = cell_centre(s, q)
            got = np.array([[float(v) for v in row]
                            for row in mp_forward(ut.weights, X, prompt.float64(), dps=dps)])
            out = max(out, float(np.max(np.abs(got - np.array(ut.forward_exact(X, prompt),
                                                              float)))))
        return out

    assert worst(enough) < 1e-12
    assert worst(20) > 1.0 / (2 * s.M)


def test_good_inputs_avoid_every_strip_and_include_corners() -> None:
    from properties.strategies_universal import good_inputs

    ut = build_universal(1, 1, 2.0, 0.1, 2)            # K=16
    s = ut.sizes
    X = good_inputs(ut, 40, 3)
    assert X.shape == (40, 1, 1)
    dist = np.abs(X * s.K - np.rint(X * s.K)) / s.K    # distance to the nearest b/K
    interior = (X > 0) & (X < 1) & (np.rint(X * s.K) > 0) & (np.rint(X * s.K) < s.K)
    assert np.all(dist[interior] >= float(s.eta) / 2)
    assert np.any(np.isclose(dist, float(s.eta) / 2, rtol=0, atol=1e-15))


@pytest.mark.parametrize("change", ["attention", "post_range", "post_mixing"])
def test_certificate_refuses_broken_structure(change: str) -> None:
    ut = build_universal(*TRUSTED)
    w = ut.weights
    if change == "attention":
        w = dataclasses.replace(w, w_k=np.eye(2), w_q=np.eye(2))
        match = "not uniform"
    elif change == "post_range":
        last = w.ff_post[-1]
        w = dataclasses.replace(w, ff_post=(*w.ff_post[:-1], dataclasses.replace(
            last, b2=last.b2 + 0.5)))
        match = "not inside"
    else:
        last = w.ff_post[-1]
        w2 = last.w2.copy()
        w2[1, 0] = 1.0                                    # unit 0 reads channel 0
        w = dataclasses.replace(w, ff_post=(*w.ff_post[:-1], dataclasses.replace(
            last, w2=w2)))
        match = "not separable"
    with pytest.raises(ClaimViolation, match=match):
        check_structure(dataclasses.replace(ut, weights=w))


# --- sizes: the docs table and the "nearest that fits" suggestion ----------------------------


def test_sizes_table_every_column_and_each_kind_of_row() -> None:
    """Header, separator, a fitting row (fields of the plan of the requested ``form``), a
    too-large row (naming the refusal's own ``nearest``) and a fitting row after it."""
    from core.constructions.sizes import sizes_table

    configs = [(1, 1, 1.0, 0.3, 2), (4, 4, 64.0, 0.01, 1), (1, 2, 1.0, 0.5, 4)]
    for form in ("deep", "wide"):
        lines = sizes_table(configs, form=form).splitlines()
        assert len(lines) == 5
        assert all(line.startswith("| ") or line.startswith("|---") for line in lines)
        assert all(line.endswith(" |") or line.endswith("---|") for line in lines)
        header, rule, *rows = ([c.strip() for c in line.split("|")[1:-1]] for line in lines)
        assert header == ["d", "L", "C", "ε", "p", "K", "M", "slots N", "L_p", "FF_pre width",
                          "FF_post depth", "FF_post width", "bits", "e=Cδ/2+1/(2M)",
                          "d_p bound formula"]
        assert rule == ["---"] * 15 and [len(r) for r in rows] == [15, 15, 15]
        for config, row in zip(configs, rows, strict=True):
            assert row[:5] == [str(v) for v in config]
            try:
                s = plan_universal(*config, form=form)
            except ConstructionTooLarge as exc:
                assert row[5:] == [f"too large (nearest: {exc.nearest})"] + [""] * 9
                assert exc.nearest is not None
                continue
            assert s.form == form and s.p == config[4]
            assert row[5:] == [str(v) for v in (s.K, s.M, s.slots, s.prompt_tokens,
                                                 s.pre_width, s.post_depth, s.post_width,
                                                 s.precision_bits)] + [
                f"{float(s.good_error):.4g}", f"{s.dp_bound_formula:.4g}"]
        assert rows[0][10] == ("1" if form == "wide" else rows[0][7])   # depth 1 / N slots
        assert rows[2][5] != "too large"       # (1, 2, 1, 0.5, 4): p = 4 fits, p = 2 would not


def _fits(config: tuple, **change) -> UniversalSizes | None:
    args = dict(zip(("d", "L", "C", "eps", "p"), config, strict=True)) | change
    try:
        return plan_universal(args["d"], args["L"], args["C"], args["eps"], args["p"])
    except ConstructionTooLarge:
        return None


def _assert_row_is_that_plan(nearest: dict, s: UniversalSizes) -> None:
    assert nearest["C"] == s.C
    assert {k: nearest[k] for k in ("K", "M", "slots", "units", "precision_bits")} == {
        "K": s.K, "M": s.M, "slots": s.slots, "units": s.units,
        "precision_bits": s.precision_bits}


def test_nearest_is_the_first_fitting_eps_on_the_five_percent_ladder() -> None:
    """Refused (1, 3, C=1, ε=0.2, p=2): the suggestion keeps ``d, L, C, p``; its ε is
    ``ε·1.05^k`` for the least ``k ≥ 1`` whose plan fits (rung ``k − 1`` does not), and the
    sizes it lists are that plan's."""
    config = (1, 3, 1.0, 0.2, 2)
    with pytest.raises(ConstructionTooLarge) as info:
        plan_universal(*config)
    near = info.value.nearest
    assert set(near) == {"eps", "C", "K", "M", "slots", "units", "precision_bits"}
    rungs = [round(min(0.2 * 1.05**k, 0.999), 6) for k in range(1, 201)]
    k = rungs.index(near["eps"]) + 1
    s = _fits(config, eps=near["eps"])
    assert s is not None and near["C"] == 1.0
    _assert_row_is_that_plan(near, s)
    assert all(_fits(config, eps=0.2 * 1.05**j) is None for j in range(1, k))


def test_nearest_halves_c_when_no_eps_fits() -> None:
    """(4, 4, C=64, ε=0.5, p=1): even ε → 1 needs K > 64·16/2 = 512 > 2^8, so the
    suggestion keeps ε and takes the largest ``64/2^k`` that fits."""
    config = (4, 4, 64.0, 0.5, 1)
    with pytest.raises(ConstructionTooLarge) as info:
        plan_universal(*config)
    near = info.value.nearest
    assert near["eps"] == 0.5 and "d" not in near
    k = round(math.log2(64.0 / near["C"]))
    assert near["C"] == 64.0 / 2**k and k >= 1
    s = _fits(config, C=near["C"])
    assert s is not None
    _assert_row_is_that_plan(near, s)
    assert _fits(config, C=64.0 / 2 ** (k - 1)) is None


# (request, eps, expected (d, L)): with p = 1 and M ≤ 2^10 every plan has e ≥ 1/2048, so a
# shape fits only if d·L < 2048·ε; the largest such d·L below the request is unique here.
SMALLER_SHAPES = [((3, 4), 0.0046, (3, 3)), ((4, 3), 0.004, (4, 2)),
                  ((4, 1), 0.0017, (3, 1)), ((1, 4), 0.0017, (1, 3))]


@pytest.mark.parametrize(("shape", "eps", "want"), SMALLER_SHAPES)
def test_nearest_falls_back_to_the_largest_smaller_shape(shape, eps, want) -> None:
    d, L = shape
    assert d * L >= 2048 * eps > want[0] * want[1]
    assert all(a * b >= 2048 * eps or a * b <= want[0] * want[1]
               for a in range(1, d + 1) for b in range(1, L + 1) if (a, b) != want)
    with pytest.raises(ConstructionTooLarge) as info:
        plan_universal(d, L, 64.0, eps, 1)
    near = info.value.nearest
    assert (near["d"], near["L"]) == want and near["eps"] == eps
    s = _fits((*want, near["C"], eps, 1))
    assert s is not None
    _assert_row_is_that_plan(near, s)
    k = round(math.log2(64.0 / near["C"]))          # the largest C/2^k that fits
    assert near["C"] == 64.0 / 2**k and (k == 0 or _fits((*want, 64.0 / 2 ** (k - 1), eps, 1))
                                         is None)


def test_nearest_is_none_when_nothing_fits_the_limits() -> None:
    """With a one-unit budget no plan of any shape fits: no suggestion, rather than a
    degenerate shape with ``d = 0`` or ``L = 0``."""
    for d, L in [(1, 1), (2, 2)]:
        with pytest.raises(ConstructionTooLarge) as info:
            plan_universal(d, L, 1.0, 0.3, 2, limits={"units": 1})
        assert info.value.nearest is None


def test_cost_table_rows_after_no_grid_and_at_sixty_four_slots() -> None:
    """A "no grid" row does not end the table; at exactly 64 slots the wide form's units
    are still counted exactly: ``pre + d·(2·Σ_{s<N}(M+1)^{s+1} + 2)``."""
    from core.constructions.sizes import form_cost_table

    configs = [(1, 1, 64.0, 0.01, 1), (1, 4, 1.0, 0.5, 4)]
    lines = form_cost_table(configs).splitlines()
    assert len(lines) == 4 and all(line.startswith("|") and line.endswith("|")
                                   for line in lines)
    row = [c.strip() for c in lines[3].split("|")[1:-1]]
    s = plan_universal(1, 4, 1.0, 0.5, 4)
    assert s.slots == 64 and row[5] == "64"
    regions = sum((s.M + 1) ** (j + 1) for j in range(64))
    pre = s.d + 2 * (s.L - 1) + 2 * s.d * s.L * (s.K - 1)
    assert row[10] == f"{pre + s.d * (2 * regions + 2):.3g}"


@pytest.mark.parametrize(("config", "form"), [(SMALL, "deep"), (TRUSTED, "deep"),
                                              ((1, 1, 1.0, 0.3, 2), "wide"),
                                              ((1, 1, 1.0, 0.3, 2), "deep"),
                                              (SMALL, "linear"), (TRUSTED, "linear"),
                                              ((1, 1, 1.0, 0.3, 2), "linear"),
                                              ((1, 3, 1.0, 0.9, 2), "linear"),
                                              (UNTRUSTED, "linear")])
def test_planned_sizes_describe_the_built_network(config: tuple, form: str) -> None:
    """The plan, made before anything is built, matches what is built: FF_pre units and
    FF_post depth exactly; FF_post width and all units bound the built ones from above (a
    memory budget must not undercount) with at most 4 spare units per channel and layer;
    one table slot per code; ``L_p`` prompt columns and ``n = L_p + L``."""
    ut = build_universal(*config, form=form)
    s, w = ut.sizes, ut.weights
    post = [layer.hidden for layer in w.ff_post]
    built = sum(layer.hidden for layer in w.ff_pre) + sum(post)
    assert s.pre_width == sum(layer.hidden for layer in w.ff_pre)
    assert s.post_depth == len(post) == (1 if form == "wide" else s.slots)
    assert max(post) <= s.post_width <= max(post) + 4 * s.d
    assert built <= s.units <= built + 4 * s.d * len(post)
    assert len(ut.slot_values) == s.slots == s.L * s.K ** (s.d * s.L)
    f = make_target("mcshane", s.d, s.L, s.C, 0)
    assert all(len(row) == s.prompt_tokens for row in build_prompt(ut, f).entries)
    assert s.n == s.prompt_tokens + s.L


@pytest.mark.parametrize("form", ["deep", "wide", "linear"])
def test_tau_reads_every_level_from_its_slot(form: str) -> None:
    """For tables holding each level ``t ∈ 0..M`` (both ends included), τ_P at every cell
    centre outputs ``t/M`` from the slot of (cell, position): read off, not interpolated."""
    from core.constructions.memorise import table_slot

    ut = build_universal(1, 1, 1.0, 0.3, 2, form=form)          # K = 2, M = 16, 2 slots
    s = ut.sizes
    for first in range(s.M + 1):
        table = [[first, s.M - first]]
        prompt = universal_module.prompt_from_levels(ut, table, name="levels")
        for q in itertools.product(range(s.K), repeat=s.d * s.L):
            out = ut.forward_exact(cell_centre(s, q), prompt)
            assert out == [[Fraction(table[0][table_slot(ut, 0, q)], s.M)]]


def test_float64_evaluation_takes_exact_inputs() -> None:
    """The float64 path accepts the same exact (Fraction) input as the exact evaluator."""
    ut = build_universal(*TRUSTED)
    f = make_target("sinusoid", 2, 1, 1.0, 1)
    prompt = build_prompt(ut, f)
    X = [[Fraction(1, 4)], [Fraction(3, 4)]]
    got = ut.forward_float64(X, prompt)
    assert np.array_equal(got, np.array(ut.forward_exact(np.array([[0.25], [0.75]]), prompt),
                                         dtype=float))


def test_prompt_rows_are_the_documented_digit_expansion() -> None:
    """Row ``c`` of the prompt sums to ``F_c = Σ_s (t_s+1) β^{−(s+1)} + (β/2) β^{−(N+1)}``;
    column ``j`` holds digits ``j·m … (j+1)·m − 1`` (``m = ⌊48/log₂β⌋``), so it is a
    multiple of ``β^{−(j+1)m}`` below ``β^{−jm}``, and the levels are kept as given."""
    for config in [SMALL, (1, 3, 1.0, 0.5, 4), TRUSTED]:
        ut = build_universal(*config)
        s = ut.sizes
        beta, N = s.beta, s.slots
        m = 48 // (beta.bit_length() - 1)
        assert universal_module.digits_per_prompt_entry(s) == m
        rng = np.random.default_rng(N)
        table = [[int(t) for t in rng.integers(0, s.M + 1, N)] for _ in range(s.d)]
        table[0][0], table[0][-1] = 0, s.M
        P = universal_module.prompt_from_levels(ut, table, name="digits")
        assert P.levels == tuple(tuple(row) for row in table) and P.target == "digits"
        for c in range(s.d):
            F = sum(Fraction(t + 1, beta ** (r + 1)) for r, t in enumerate(table[c]))
            assert sum(P.entries[c]) == F + Fraction(beta // 2, beta ** (N + 1))
            assert len(P.entries[c]) == s.prompt_tokens == -(-(N + 1) // m)
            for j, v in enumerate(P.entries[c]):
                assert (v * beta ** ((j + 1) * m)).denominator == 1
                assert 0 < v < Fraction(1, beta ** (j * m))


def test_nearest_eps_ladder_stops_below_one() -> None:
    """ε must stay below 1. With work ≤ 2000, (1, 1, C=64, p=1) fits no ε < 1 (ε → 1 still
    needs K = 64: 64 slots × depth 64), while the rung just past 1 (0.305·1.05^25 ≈ 1.033)
    would fit with K = 32; the suggestion halves C instead: C = 32 needs K = 64, C = 16
    has K = 32 and work 32·32 = 1024."""
    with pytest.raises(ConstructionTooLarge) as info:
        plan_universal(1, 1, 64.0, 0.305, 1, limits={"work": 2000})
    near = info.value.nearest
    assert near["eps"] == 0.305 and near["C"] == 16.0 and near["K"] == 32


def test_profile_value_range_is_none_exactly_when_unbounded() -> None:
    """``value_range`` is ``(min, max)`` of ``g`` over ℝ: a nonzero slope at either end makes
    ``g`` unbounded (``None``); with flat ends it is the extreme knot values."""
    from core.constructions._pl import PLProfile

    xs, ys = (Fraction(0), Fraction(1), Fraction(2)), (Fraction(1, 2), Fraction(0), Fraction(1))
    flat = PLProfile(xs=xs, ys=ys, left=Fraction(0), right=Fraction(0))
    assert flat.value_range() == (Fraction(0), Fraction(1))
    assert flat(Fraction(-5)) == Fraction(1, 2) and flat(Fraction(7)) == 1
    for left, right in [(1, 0), (0, 1), (-1, 0), (0, Fraction(1, 2)), (1, 1)]:
        prof = PLProfile(xs=xs, ys=ys, left=Fraction(left), right=Fraction(right))
        assert prof.value_range() is None


def test_channel_no_unit_reads_keeps_the_identity_profile() -> None:
    """A channel that no hidden unit reads or writes maps ``y ↦ y + b_2``."""
    layer = FeedForwardWeights(w1=np.array([[2.0, 0.0]]), b1=np.array([-1.0]),
                               w2=np.array([[1.0], [0.0]]), b2=np.array([0.5, 0.25]))
    from core.constructions._pl import PLProfile

    profiles = profiles_of_layer(layer)
    assert profiles[1] == PLProfile(xs=(), ys=(Fraction(1, 4),), left=Fraction(1),
                                    right=Fraction(1))
    for y in (Fraction(3), Fraction(-1, 3), Fraction(0)):
        assert profiles[1](y) == y + Fraction(1, 4) == _layer_by_formula(layer, 1, y)
        assert profiles[0](y) == _layer_by_formula(layer, 0, y)
    swapped = FeedForwardWeights(w1=np.array([[0.0, 2.0]]), b1=np.array([-1.0]),
                                 w2=np.array([[0.0], [1.0]]), b2=np.array([0.25, 0.5]))
    first, second = profiles_of_layer(swapped)       # the empty channel comes first
    assert first(Fraction(3)) == Fraction(13, 4)
    assert second(Fraction(3)) == _layer_by_formula(swapped, 1, Fraction(3)) == Fraction(17, 2)


def test_weights_float64_cannot_hold_are_refused_by_what_they_are() -> None:
    """A knot, a slope change or the output bias that float64 cannot hold exactly is refused,
    named as such."""
    third = Fraction(1, 3)
    cases = {"knot": Region(third, Fraction(1), Fraction(1), Fraction(0)),
             "slope change": Region(Fraction(0), Fraction(1), third, Fraction(0)),
             "bias": Region(Fraction(0), Fraction(1), Fraction(0), third)}
    for name, region in cases.items():
        with pytest.raises(InvalidArgument, match=rf"^{name}=-?1/3: not exactly representable"):
            layer_from_regions(1, [region], left_slope=Fraction(0), right_slope=Fraction(0))


def _layer_by_formula(layer: FeedForwardWeights, c: int, y: Fraction) -> Fraction:
    """Channel ``c`` of ``z + W_2 ReLU(W_1 z + b_1) + b_2`` at ``z = y·e_c`` (exact), for a
    separable layer: the independent reference for :class:`PLProfile`."""
    out = y + Fraction(float(layer.b2[c]))
    for u in range(layer.hidden):
        pre = Fraction(float(layer.w1[u, c])) * y + Fraction(float(layer.b1[u]))
        out += Fraction(float(layer.w2[c, u])) * max(Fraction(0), pre)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_profiles_of_random_separable_layers_match_the_layer_formula(seed: int) -> None:
    """Random separable layers (reads of either sign, a silent unit, shared breakpoints):
    the profile equals the layer's own formula at every breakpoint, between
    and beyond them, and its end slopes are the slopes far out."""
    from core.constructions._pl import profiles_of_layer

    rng = np.random.default_rng(seed)
    d, h = 2, 9
    w1 = np.zeros((h, d))
    w2 = np.zeros((d, h))
    chan = rng.integers(0, d, h)
    for u in range(h - 1):
        w1[u, chan[u]] = rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 3.0])
        w2[chan[u], u] = rng.choice([-1.5, -1.0, 0.25, 2.0])
    w1[h - 1, 0] = 1.0                        # a silent unit: reads, writes nothing
    b1 = rng.choice([-1.0, -0.5, 0.0, 0.25, 1.0, 2.0], h)
    b2 = rng.choice([-1.0, 0.0, 0.75], d)
    layer = FeedForwardWeights(w1=w1, b1=b1, w2=w2, b2=b2)
    profiles = profiles_of_layer(layer)
    assert len(profiles) == d
    for c, prof in enumerate(profiles):
        assert list(prof.xs) == sorted(set(prof.xs))
        knots = list(prof.xs)
        probes = [*knots, Fraction(-7), Fraction(9), Fraction(1, 3)]
        probes += [(a + b) / 2 for a, b in itertools.pairwise(knots)]
        probes += [k + Fraction(1, 64) for k in knots] + [k - Fraction(1, 64) for k in knots]
        for y in probes:
            assert prof(y) == _layer_by_formula(layer, c, y)
        for far, slope in ((Fraction(-1000), prof.left), (Fraction(1000), prof.right)):
            step = _layer_by_formula(layer, c, far + 1) - _layer_by_formula(layer, c, far)
            assert step == slope


@pytest.mark.parametrize("seed", range(4))
def test_layer_from_random_regions_is_exact_on_each_region(seed: int) -> None:
    """Disjoint regions with dyadic affine maps: the built layer (evaluated by its own
    formula) equals each region's map on the region and continues with the given end
    slopes; interpolation fills the gaps continuously."""
    from core.constructions._pl import layer_from_regions

    rng = np.random.default_rng(seed)
    lo = Fraction(int(rng.integers(-8, 0)))
    regions = []
    for _ in range(4):
        width = Fraction(int(rng.integers(0, 4)), 4)
        slope = Fraction(int(rng.integers(-4, 5)), 2)
        value = Fraction(int(rng.integers(-8, 9)), 8)
        regions.append(Region(lo, lo + width, slope, value))
        lo = lo + width + Fraction(int(rng.integers(1, 12)), 8)
    left, right = Fraction(int(rng.integers(-2, 3))), Fraction(int(rng.integers(-2, 3)), 2)
    order = rng.permutation(len(regions))
    layer = layer_from_regions(2, [regions[i] for i in order], left_slope=left,
                               right_slope=right)
    for c in range(2):
        for r in regions:
            for t in (Fraction(0), Fraction(1, 3), Fraction(1)):
                y = r.lo + t * (r.hi - r.lo)
                assert _layer_by_formula(layer, c, y) == r.value_at_lo + r.slope * (y - r.lo)
        first, last = regions[0], regions[-1]
        end = last.value_at_lo + last.slope * (last.hi - last.lo)
        assert _layer_by_formula(layer, c, first.lo - 5) == first.value_at_lo - 5 * left
        assert _layer_by_formula(layer, c, last.hi + 5) == end + 5 * right


def test_overlapping_regions_are_refused() -> None:
    from core.constructions._pl import layer_from_regions

    a = Region(Fraction(0), Fraction(1), Fraction(0), Fraction(0))
    for b in (Region(Fraction(1), Fraction(2), Fraction(0), Fraction(0)),
              Region(Fraction(1, 2), Fraction(2), Fraction(0), Fraction(0)),
              Region(Fraction(3), Fraction(2), Fraction(0), Fraction(0))):
        with pytest.raises(InvalidArgument, match="overlaps or is empty"):
            layer_from_regions(1, [a, b], left_slope=Fraction(0), right_slope=Fraction(0))


def test_pow2_floor_is_the_largest_power_of_two_not_above() -> None:
    """Over integers, fractions below 1 and non-dyadic ratios (where the bit-length guess is
    off by one either way) the result is a power of two ``w`` with ``w <= x < 2w``."""
    from core.constructions._pl import _pow2_floor

    xs = ([Fraction(k) for k in range(1, 70)] + [Fraction(1, k) for k in range(1, 70)]
          + [Fraction(a, b) for a in range(1, 30) for b in (3, 7, 12, 1023)])
    for x in xs:
        w = _pow2_floor(x)
        assert w <= x < 2 * w, x
        assert w.numerator & (w.numerator - 1) == 0 and w.denominator & (w.denominator - 1) == 0
        assert w.numerator == 1 or w.denominator == 1, x


def test_transitions_between_regions_take_a_power_of_two_width() -> None:
    """A gap of 3/4 between regions is bridged over the last 1/2 of it (the largest power of
    two not above 3/4): the next region's map is extended back to ``prev.hi + 1/2``."""
    a = Region(Fraction(0), Fraction(1), Fraction(0), Fraction(0))
    b = Region(Fraction(7, 4), Fraction(2), Fraction(1), Fraction(1))
    layer = layer_from_regions(1, [a, b], left_slope=Fraction(0), right_slope=Fraction(0))
    (g,) = profiles_of_layer(layer)
    assert g.xs == (Fraction(0), Fraction(1), Fraction(3, 2), Fraction(2))
    assert g(Fraction(3, 2)) == Fraction(3, 4) and g(Fraction(7, 4)) == 1   # b's map, extended
    assert g(Fraction(5, 4)) == Fraction(3, 8)                             # the bridge


def test_left_slope_one_needs_no_extra_units_and_others_are_exact() -> None:
    """``left_slope = 1`` is the residual's own slope: one unit per knot and nothing else;
    any other left slope adds the pair ReLU(±y) and is honoured left of the first knot; a
    slope float64 cannot hold is refused by name."""
    region = Region(Fraction(0), Fraction(1), Fraction(0), Fraction(1, 2))
    plain = layer_from_regions(2, [region], left_slope=Fraction(1), right_slope=Fraction(1))
    assert plain.hidden == 2 * 2                       # two knots per channel
    steep = layer_from_regions(2, [region], left_slope=Fraction(2), right_slope=Fraction(1))
    assert steep.hidden == 2 * 4
    for g in profiles_of_layer(steep):
        assert g(Fraction(-5)) == Fraction(1, 2) - 10 and g.left == 2
    with pytest.raises(InvalidArgument, match=r"^slope=-2/3: not exactly representable"):
        layer_from_regions(1, [region], left_slope=Fraction(1, 3), right_slope=Fraction(1))


def test_a_silent_unit_does_not_hide_the_units_after_it() -> None:
    """A unit that writes nothing is skipped; the units after it still shape the profile."""
    layer = FeedForwardWeights(w1=np.array([[1.0], [1.0]]), b1=np.array([0.0, -1.0]),
                               w2=np.array([[0.0, 2.0]]), b2=np.array([0.0]))
    (g,) = profiles_of_layer(layer)
    for y in (Fraction(-1), Fraction(0), Fraction(3, 2), Fraction(4)):
        assert g(y) == _layer_by_formula(layer, 0, y) == y + 2 * max(Fraction(0), y - 1)


def test_pow2_at_least_is_the_smallest_power_of_two_not_below() -> None:
    from core.constructions.sizes import _pow2_at_least

    for x in range(1, 300):
        p = _pow2_at_least(x)
        assert p >= x and p & (p - 1) == 0 and (p == 1 or p // 2 < x)


def test_grid_search_reaches_exactly_k_two_to_the_eight() -> None:
    """(1, 1, C=64, p=1): ``e ≥ C/(2K)`` must stay below ε. At ε = 0.2, K = 128 gives
    0.25 and K = 256 gives 0.125, so K = 256 = 2^8 (the top of the search); at ε = 0.1 the
    least admissible K is ⌈64/0.2⌉ = 320 > 2^8, refused as outside the search."""
    s = plan_universal(1, 1, 64.0, 0.2, 1)
    assert s.K == 256
    assert s.good_error == Fraction(64) / 512 + Fraction(1, 2 * s.M) < Fraction(0.2)
    with pytest.raises(ConstructionTooLarge, match=r"needs K ≥ 320 \(searched K ≤ 2\^8, "
                                                   r"M ≤ 2\^10\), so slots ≥ 320"):
        plan_universal(1, 1, 64.0, 0.1, 1)


# --- exact evaluator on general (non-constructed) weights ---------------------------------


def _dense_uniform_weights(seed: int, *, zero: str = "w_q", pos: bool = False
                           ) -> TransformerWeights:
    """Random d = 2 weights with uniform attention (``zero`` is the zero projection), one
    dense FF_pre and two non-separable FF_post layers."""
    rng = np.random.default_rng(seed)

    def ff() -> FeedForwardWeights:
        return FeedForwardWeights(rng.normal(size=(3, 2)), rng.normal(size=3),
                                  rng.normal(size=(2, 3)), rng.normal(size=2))

    mats = {k: rng.normal(size=(2, 2)) for k in ("w_q", "w_k", "w_v", "w_o")}
    mats[zero] = np.zeros((2, 2))
    return TransformerWeights(**mats, beta=0.5, ff_pre=(ff(),), ff_post=(ff(), ff()),
                              pos=rng.normal(size=(2, 4)) if pos else None)


@pytest.mark.parametrize(("zero", "pos"), [("w_q", False), ("w_k", True)])
def test_exact_forward_matches_the_float64_model_on_general_weights(zero: str,
                                                                   pos: bool) -> None:
    """On weights the constructions never produce (dense FF layers, uniform attention from
    either zero projection, a positional encoding) the exact evaluator returns Fractions that
    agree with the float64 model within its tolerance table, readout and full."""
    weights = _dense_uniform_weights(3, zero=zero, pos=pos)
    rng = np.random.default_rng(4)
    X, P = rng.uniform(size=(2, 2)), rng.uniform(size=(2, 2))
    model = PromptTunedTransformer(weights)
    for full, cols in ((False, 2), (True, 4)):
        exact = exact_forward(weights, X, P, full=full)
        assert len(exact) == 2 and all(len(r) == cols for r in exact)
        assert all(isinstance(v, Fraction) for r in exact for v in r)
        want = model(torch.tensor(X), torch.tensor(P), full=full)
        got = np.array([[float(v) for v in r] for r in exact])
        assert compare_arrays(got, want, tolerance_for(torch.float64)).ok


def test_exact_forward_keeps_rational_inputs_exact_and_allows_an_empty_prompt() -> None:
    """With ``W_Q = 0`` and identities, ``τ_P(X) = X + mean of all tokens``: at X = 1/3 and
    P = 0 that is exactly 1/2 (rational inputs are not rounded through float64); with no
    prompt at all, X = 1/2 gives 1."""
    one = np.ones((1, 1))
    w = TransformerWeights(w_q=np.zeros((1, 1)), w_k=one, w_v=one, w_o=one, beta=1.0)
    assert exact_forward(w, [[Fraction(1, 3)]], [[Fraction(0)]]) == [[Fraction(1, 2)]]
    assert exact_forward(w, np.array([[0.5]]), np.zeros((1, 0))) == [[Fraction(1)]]
    assert exact_forward(w, [[Fraction(0)]], [[Fraction(1, 3)]]) == [[Fraction(1, 6)]]


def test_exact_program_refuses_matrices_of_the_wrong_shape_by_name() -> None:
    """X and P must be d×k lists of rows of one length (X with at least one token, P
    possibly none); a bare ``[]`` prompt, a ragged or short matrix is refused by name."""
    eye = np.eye(2)     # τ_P(X) = X + mean of all tokens
    program = compile_exact(TransformerWeights(w_q=np.zeros((2, 2)), w_k=eye, w_v=eye,
                                               w_o=eye, beta=1.0))
    X, P = [[Fraction(1)], [Fraction(2)]], [[Fraction(3)], [Fraction(4)]]
    assert program.forward(X, [[], []]) == [[Fraction(2)], [Fraction(4)]]
    assert program.forward(X, P) == [[Fraction(3)], [Fraction(5)]]
    for bad_x, bad_p, name in (
            (X, [], "P"),                                    # no rows at all
            (X, [[Fraction(3)]], "P"),                       # one row, d = 2 needed
            (X, [[Fraction(3)], [Fraction(4), Fraction(5)]], "P"),   # ragged
            (X, [[Fraction(3), Fraction(5)], [Fraction(4)]], "P"),   # ragged the other way
            ([[], []], P, "X"),                              # no token
            ([[Fraction(1)], [Fraction(2)], [Fraction(0)]], P, "X")):  # three rows
        with pytest.raises(InvalidArgument, match=rf"^{name} has row lengths .* expected 2 "
                                                  r"rows of one length k >= [01]"):
            program.forward(bad_x, bad_p)


def test_exact_evaluation_needs_uniform_attention() -> None:
    """Either projection may be zero; both nonzero is refused (softmax of nonzero rational
    scores is irrational)."""
    for zero in ("w_q", "w_k"):
        compile_exact(_dense_uniform_weights(5, zero=zero))
    both = dataclasses.replace(_dense_uniform_weights(5), w_q=np.eye(2))
    with pytest.raises(InvalidArgument, match="needs uniform attention"):
        compile_exact(both)
