"""The linear readout (``form="linear"``, docs/universality.md): sizes, exactness against the
deep form, the orbit-sharing evaluator, planted bugs and fast refusals."""

from __future__ import annotations

import itertools
import time
from fractions import Fraction

import numpy as np
import pytest
from flint import fmpq

import core.constructions.universal as universal_module
from core.constructions import build_universal, code_value, plan_universal
from core.constructions.certify import certify_universal
from core.constructions.evaluate import compile_exact, iterate
from core.constructions.universal import build_prompt, prompt_from_levels
from core.errors import ConstructionTooLarge
from core.lipschitz import make_target
from core.weights import FeedForwardWeights, TransformerWeights

#: 192 slots, K = 4: the largest default-tier linear shape with L ≥ 2 and a sub-second
#: certificate; the slow tier repeats the planted bugs at (2, 2), K = 8 (8192 slots).
MID = (1, 3, 1.0, 0.3, 4)


@pytest.fixture(autouse=True)
def _fresh_exact_programs():
    """Compile exact evaluators afresh per test (monkeypatched builds share no cache)."""
    import core.constructions.evaluate as evaluate_module

    evaluate_module._CACHE.clear()
    evaluate_module._POST_CACHE.clear()


def _centres(s) -> list[list[list[Fraction]]]:
    return [[[Fraction(2 * q[j * s.d + i] + 1, 2 * s.K) for j in range(s.L)]
             for i in range(s.d)] for q in itertools.product(range(s.K), repeat=s.d * s.L)]


def _table_reads(ut, table) -> tuple[int, int]:
    """(slots read correctly, slots) at every cell centre, by the batch evaluator."""
    s = ut.sizes
    rank = {v: r for r, v in enumerate(ut.slot_values)}
    prompt = prompt_from_levels(ut, table, name="table")
    outs = compile_exact(ut.weights).forward_many(_centres(s), prompt.rational())
    good = total = 0
    for q, out in zip(itertools.product(range(s.K), repeat=s.d * s.L), outs, strict=True):
        for k in range(s.L):
            slot = rank[code_value(s, k, q)]
            for c in range(s.d):
                total += 1
                good += out[c][k] == Fraction(table[c][slot], s.M)
    return good, total


def _random_table(s, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [[int(t) for t in rng.integers(0, s.M + 1, s.slots)] for _ in range(s.d)]


# --- sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [(1, 1, 1.0, 0.3, 2), (1, 2, 1.0, 0.4, 2),
                                    (2, 2, 1.0, 0.5, 4), MID, (2, 2, 4.0, 0.6, 2)])
def test_linear_sizes_are_the_formulas_and_linear_in_the_slots(config) -> None:
    """``units = pre + d·(2(N−1)+2(M+1)+2 + (2(M+2)+2)(N−2) + 2(M+1)+2)``: ``O(β·N)``, and
    fewer than the deep form's ``O(M·N²)`` whenever ``N ≥ 3``; same depth ``N``; the
    orbit-sharing work ``2N`` replaces the deep form's ``N²``."""
    lin = plan_universal(*config, form="linear")
    deep = plan_universal(*config, form="deep", limits={"units": 10**12, "work": 10**12,
                                                        "bit_work": 10**18})
    N, M, d = lin.slots, lin.M, lin.d
    index, g, readout = 2 * (N - 1) + 2 * (M + 1) + 2, 2 * (M + 2) + 2, 2 * (M + 1) + 2
    assert lin.units == lin.pre_width + d * (index + g * (N - 2) + readout)
    assert lin.units <= lin.pre_width + d * 2 * (lin.beta + 2) * N
    assert lin.post_depth == deep.post_depth == N
    assert lin.work == 2 * N and deep.work == N * N
    assert (lin.K, lin.M, lin.beta) == (deep.K, deep.M, deep.beta)
    assert lin.precision_bits <= deep.precision_bits       # guard bits: a narrower widest layer
    if N >= 3:
        assert lin.units < deep.units


def test_k_eight_at_two_by_two_is_planned() -> None:
    """C = 4, ε = 0.6, p = 2 at (2, 2): K = 8 (K = 4 fails: e ≥ C/8 = 1/2 ≥ ε/√(dL)), 8192
    slots, within the limits only in the linear form."""
    s = plan_universal(2, 2, 4.0, 0.6, 2, form="linear")
    assert (s.K, s.M, s.slots) == (8, 16, 8192)
    assert s.dp_bound_formula < 0.6
    with pytest.raises(ConstructionTooLarge):
        plan_universal(2, 2, 4.0, 0.6, 2, form="deep")


@pytest.mark.parametrize(("request_", "needs"), [
    ((2, 2, 4.0, 0.3, 2), "slots=131072"),        # K = 16
    ((4, 4, 1.0, 0.5, 1), "slots=4835703278458516698824704"),     # K = 32: 4·32^16
    ((1, 4, 8.0, 0.6, 2), "slots=262144"),        # K = 16
])
def test_too_large_linear_requests_fail_fast_with_sizes(request_, needs) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ConstructionTooLarge) as info:
        build_universal(*request_, form="linear")
    assert time.perf_counter() - t0 < 1.0
    assert needs in str(info.value) and "nearest that fits" in str(info.value)


# --- exactness -------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [(1, 1, 1.0, 0.3, 2), (1, 2, 1.0, 0.4, 2),
                                    (2, 1, 1.0, 0.4, 2), (1, 3, 1.0, 0.9, 2),
                                    (2, 2, 1.0, 0.5, 4)])
def test_linear_and_deep_read_the_same_table_exactly(config) -> None:
    """At every cell centre, for random tables, both readouts output ``table[c][slot]/M``."""
    for form in ("linear", "deep"):
        ut = build_universal(*config, form=form)
        for seed in range(2):
            good, total = _table_reads(ut, _random_table(ut.sizes, seed))
            assert good == total == ut.sizes.slots * ut.sizes.d


def test_linear_certificate_equals_the_deep_one() -> None:
    """Same sizes, same prompt, same exact outputs: the same certified bound, bit for bit."""
    lin, deep = build_universal(*MID, form="linear"), build_universal(*MID, form="deep")
    f = make_target("sawtooth", 1, 3, 1.0, 0, grid=lin.sizes.K)
    a = certify_universal(lin, build_prompt(lin, f), f)
    b = certify_universal(deep, build_prompt(deep, f), f)
    assert a.holds and a.dp_power_sum == b.dp_power_sum and a.cell_errors == b.cell_errors


def test_batch_evaluation_equals_one_input_at_a_time() -> None:
    """``forward_many`` (prompt once, orbits shared) equals ``forward`` on every input, on
    the linear τ and on general weights with dense (non-separable) layers."""
    ut = build_universal(*MID, form="linear")
    f = make_target("mcshane", 1, 3, 1.0, 1, grid=ut.sizes.K)
    P = build_prompt(ut, f).rational()
    Xs = _centres(ut.sizes)[::17]
    program = compile_exact(ut.weights)
    assert program.forward_many(Xs, P) == [program.forward(X, P) for X in Xs]
    rng = np.random.default_rng(4)

    def ff() -> FeedForwardWeights:
        return FeedForwardWeights(rng.normal(size=(3, 2)), rng.normal(size=3),
                                  rng.normal(size=(2, 3)), rng.normal(size=2))

    layer = ff()
    w = TransformerWeights(rng.normal(size=(2, 2)), np.zeros((2, 2)), rng.normal(size=(2, 2)),
                           rng.normal(size=(2, 2)), beta=1.0, ff_pre=(ff(),),
                           ff_post=(layer, layer, layer, ff()))
    gen = compile_exact(w)
    Xg = [[[Fraction(float(v)) for v in row] for row in rng.uniform(size=(2, 2))]
          for _ in range(3)]
    Pg = [[Fraction(float(v)) for v in row] for row in rng.uniform(size=(2, 1))]
    assert gen.forward_many(Xg, Pg) == [gen.forward(X, Pg) for X in Xg]


@pytest.mark.parametrize("seed", range(4))
def test_iterate_is_g_to_the_m_and_evaluates_each_state_once(seed: int) -> None:
    """Against naive iteration on maps with long tails and cycles (``x ↦ a·x mod n`` plus a
    drift), every ``m``; ``g`` runs at most once per distinct state."""
    rng = np.random.default_rng(seed)
    n, a = int(rng.integers(5, 40)), int(rng.integers(1, 6))
    calls: list[fmpq] = []

    def g(x: fmpq) -> fmpq:
        calls.append(x)
        v = int(x)
        return fmpq((a * v + 1) % n if v < n else v - 1)

    ys = [fmpq(int(v)) for v in rng.integers(0, 2 * n, 30)]
    for m in (1, 2, 7, 3 * n):
        calls.clear()
        want = []
        for y in ys:
            x = y
            for _ in range(m):
                x = fmpq((a * int(x) + 1) % n if int(x) < n else int(x) - 1)
            want.append(x)
        assert iterate(g, ys, m) == want
        assert len(calls) == len(set(calls))


def test_linear_slot_states_share_one_orbit(monkeypatch) -> None:
    """The linear readout's ``N−2`` copies of ``g`` cost ``2N − 3`` evaluations per channel,
    not ``N(N−2)``: slot ``s``'s state after layer ``t`` is slot ``s+1``'s after ``t−1``."""
    import core.constructions.evaluate as evaluate_module

    ut = build_universal(*MID, form="linear")
    count = {"n": 0}
    real = evaluate_module.iterate

    def counting(g, ys, m):
        def h(x):
            count["n"] += 1
            return g(x)
        return real(h, ys, m)

    monkeypatch.setattr(evaluate_module, "iterate", counting)
    _table_reads(ut, _random_table(ut.sizes, 5))
    N = ut.sizes.slots
    assert count["n"] == N + (2 * N - 3) + N      # index layer, orbit of g, readout


# --- planted bugs ----------------------------------------------------------------------------


def _wrong_end(slots: int, slot: int) -> int:
    return slot - 1                               # reads digit N−1−s: the table's other end


def _off_by_one(slots: int, slot: int) -> int:
    return slots - 1 - slot                       # one wait too many: reads digit s−1


def _wrong_position(s, vs):
    """Slot of position ``k+1 mod L`` for the same cell, not of ``k``."""
    rank = {v: r for r, v in enumerate(vs)}
    of = {code_value(s, k, q): (k, q) for k in range(s.L)
          for q in itertools.product(range(s.K), repeat=s.d * s.L)}
    return [rank[code_value(s, (of[v][0] + 1) % s.L, of[v][1])] for v in vs]


def check_planted_bug(config, helper, bug, monkeypatch, *, fails: bool) -> None:
    """The correct τ reads every slot of a random table and certifies a sawtooth target;
    the bugged one misreads most slots at the exact evaluator, and its certified bound is
    worse (``fails``: above ε; the off-by-one bug reads a neighbouring slot, whose level a
    Lipschitz target nearly repeats, so only the exact reads expose it fully)."""
    s = plan_universal(*config, form="linear")
    f = make_target("sawtooth", s.d, s.L, s.C, 0, grid=s.K)
    good = build_universal(*config, form="linear")
    assert _table_reads(good, _random_table(s, 1)) == (s.slots * s.d, s.slots * s.d)
    cert = certify_universal(good, build_prompt(good, f), f)
    assert cert.holds
    monkeypatch.setattr(universal_module, helper, bug)
    bad = build_universal(*config, form="linear")
    read, total = _table_reads(bad, _random_table(s, 1))
    assert read < total / 2
    bad_cert = certify_universal(bad, build_prompt(bad, f), f)
    assert bad_cert.dp_power_sum > cert.dp_power_sum
    if fails:
        assert not bad_cert.holds


#: (helper monkeypatched, bug, whether the certificate must fail outright)
PLANTED = [("_linear_counter", _wrong_end, True), ("_linear_counter", _off_by_one, False),
           ("_slot_ranks", _wrong_position, True)]
PLANTED_IDS = ["wrong-end", "off-by-one", "wrong-position"]


@pytest.mark.parametrize(("helper", "bug", "fails"), PLANTED, ids=PLANTED_IDS)
def test_planted_linear_readout_bugs_are_caught(helper, bug, fails, monkeypatch) -> None:
    check_planted_bug(MID, helper, bug, monkeypatch, fails=fails)


def test_docs_tables_are_the_generated_ones() -> None:
    """docs/universality.md carries the deep-versus-linear table and the K = 8 requests as
    generated (sizes only: deterministic)."""
    from pathlib import Path

    from core.constructions.sizes import K8_CONFIGS, readout_cost_table, sizes_table

    docs = (Path(__file__).parents[1] / "docs" / "universality.md").read_text()
    assert readout_cost_table() in docs
    assert sizes_table(list(K8_CONFIGS), form="linear") in docs
