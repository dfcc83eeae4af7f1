"""Memorisation of any token-separated dataset (docs/theory.md §2 M; paper ``thm:PT_memo``).

τ's grid comes from the separation ``δ`` (given or measured), not from ``N``; random datasets
are uniform tokens thinned to ``δ`` (core/constructions/separated.py). Each refusal names
what breaks the hypothesis; planted bugs in the grid choice turn a check red.
"""

from __future__ import annotations

import doctest
import itertools
import re
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import core.constructions.memorise as memorise_module
from core.constructions.memorise import (
    build_memoriser,
    memorisation_request,
    memorising_prompt,
    request_for_dataset,
    sizes_section,
    validate_dataset,
)
from core.constructions.separated import (
    MAX_GRID,
    STRIP_LOG2,
    grid_for_separation,
    max_tokens,
    measure_separation,
    random_separated_inputs,
    strip_width,
    thin_tokens,
)
from core.errors import ClaimViolation, ConstructionTooLarge, InvalidArgument, NonFiniteError
from properties.registry import get_claim
from properties.strategies_memorise import MemoriseInstance, dataset_of

ROOT = Path(__file__).resolve().parents[1]


def _exact(Y: np.ndarray) -> list[list[Fraction]]:
    return [[Fraction(float(v)) for v in row] for row in Y]


# --- the grid from δ -------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [0.75, 0.5, 0.3, 0.25, 0.2, 1 / 12, 1 / 16, 0.01,
                                   1 / 256, 2 ** -8 * (1 - 2**-40)])
def test_grid_is_the_smallest_power_of_two_with_cell_width_at_most_delta(delta) -> None:
    K = grid_for_separation(delta)
    assert K >= 2 and K & (K - 1) == 0
    assert Fraction(1, K) <= Fraction(delta) < Fraction(2, K)


def test_grid_edges_are_exact() -> None:
    """``δ = 1/4`` gives ``K = 4`` exactly; a hair below gives 8; ``K = 1`` needs ``δ > 1``
    (tokens 0 and 1 are 1 apart and share the only cell); ``None`` is ``δ = ∞``."""
    assert grid_for_separation(Fraction(1, 4)) == 4
    assert grid_for_separation(Fraction(1, 4) - Fraction(1, 2**60)) == 8
    assert grid_for_separation(1) == 2 and grid_for_separation(1.5) == 1
    assert grid_for_separation(None) == 1
    assert grid_for_separation(2**-9) == 2 * MAX_GRID       # the planner then refuses it


@pytest.mark.parametrize("delta", [0, -0.1, float("nan"), "0.2", True])
def test_bad_delta_is_refused_by_name(delta) -> None:
    error = NonFiniteError if isinstance(delta, float) and delta != delta else InvalidArgument
    with pytest.raises(error, match=r"^delta="):
        memorisation_request(4, 1, 2, delta)


def test_strip_width_and_measure_are_derived_from_the_grid() -> None:
    """``η(K) = 2^-32/K``: per coordinate the strips cover ``(K−1)η < 2^-32``, and ``η ≥ 2^-40``
    (float64-exact knots) up to the largest grid."""
    for K in (2, 4, 16, MAX_GRID):
        eta = strip_width(K)
        assert eta == Fraction(1, K * 2**STRIP_LOG2) and eta >= Fraction(1, 2**40)
        assert (K - 1) * eta < Fraction(1, 2**32)
    r = memorisation_request(16, 1, 2, 0.3)
    assert r.sizes().eta == r.eta == strip_width(4)
    assert r.strip_measure == 3 * strip_width(4)


def test_tau_depends_on_the_grid_not_on_n_and_finer_delta_costs_slots() -> None:
    """Every ``N`` and every ``δ`` with the same grid gives the same τ; halving ``δ`` past a
    power of two doubles ``K`` and multiplies the slots by ``2^{dL}``."""
    digests = {build_memoriser(N, 1, 2, delta).digest()
               for N in (1, 4, 9) for delta in (0.25, 0.3, 0.49)}
    assert len(digests) == 1
    a, b = (memorisation_request(16, 1, 2, delta).sizes() for delta in (0.25, 0.2))
    assert (a.K, b.K) == (4, 8) and b.slots == 4 * a.slots
    assert b.prompt_tokens > a.prompt_tokens and b.precision_bits > a.precision_bits


def test_narrow_strips_add_their_bits_to_the_precision() -> None:
    """The grid override counts FF_pre's ramp products ``R^{dL}/η`` in ``int_bits``; the
    planner's own default (no override) is unchanged."""
    from core.constructions.sizes import plan_universal

    r = memorisation_request(16, 1, 2, 0.3)
    own = plan_universal(1, 2, r.C, r.eps, r.p)
    assert (own.K, own.M) == (r.K, r.M) and own.eta > r.eta
    ramp = (-(-own.radix ** 2 * r.eta.denominator) * 2 * 9 + 8).bit_length()
    assert r.sizes().int_bits == max(own.int_bits, ramp) > own.int_bits
    assert plan_universal(1, 2, r.C, r.eps, r.p, grid=(own.K, own.M, own.eta)).int_bits > (
        own.int_bits)


@pytest.mark.parametrize(("grid", "named"), [
    ((3, 4, Fraction(1, 2**34)), "grid K=3"), ((4, 5, Fraction(1, 2**34)), "grid M=5"),
    ((4, 4, Fraction(1, 2**41)), "grid eta="), ((4, 4, 0.001), "grid eta="),
    ((4, 1, Fraction(1, 2**34)), r"must be < ε\^p"), ((4, 4), "expected a tuple")])
def test_grid_override_is_checked(grid, named) -> None:
    from core.constructions.sizes import plan_universal

    with pytest.raises(InvalidArgument, match=named):
        plan_universal(1, 2, 2.0, 0.5, 4, grid=grid)


# --- random separated datasets: accepted and memorised exactly ------------------------------


@pytest.mark.parametrize(("N", "delta"), [(4, 0.3), (16, 0.2), (64, 1 / 12)])
def test_thinned_random_datasets_at_1x2_are_all_accepted(N: int, delta: float) -> None:
    """200 seeds each: every thinned dataset is accepted with ``δ`` given and measured, and
    holds ``min(N, T²)`` sequences (``T`` kept tokens). (The grid-from-N rule accepted 0 of 200
    uniform random datasets at these N.)"""
    for seed in range(200):
        rng = np.random.default_rng(seed)
        X = random_separated_inputs(rng, N, 1, 2, delta)
        T = measure_separation(X).tokens
        assert len(X) == min(N, T**2) and len(np.unique(X, axis=0)) == len(X)
        Y = np.zeros_like(X)
        for given in (delta, None):
            r = request_for_dataset(X, given)
            assert r.K == grid_for_separation(delta if given else measure_separation(X).delta)
            cells = validate_dataset(r.sizes(), X, Y, grid_labels=True, delta=given)
            assert len(set(cells)) == len(X)


#: (d, L, δ, seed): every shape of the universality list at its default-tier grid.
SHAPES = [(1, 1, 0.13, 182), (1, 2, 0.26, 199), (2, 1, 0.26, 27), (1, 3, 0.51, 199),
          (2, 2, 0.51, 198)]


@pytest.mark.parametrize(("d", "L", "delta", "seed"), SHAPES)
def test_every_shape_memorised_exactly_with_delta_given_and_measured(d, L, delta, seed) -> None:
    claim = get_claim("memorise_grid_labels_exactly")
    for measured in (False, True):
        inst = MemoriseInstance(seed=seed, N=16, d=d, L=L, delta=delta, measured=measured)
        out = claim.check(inst)
        assert out.error == 0 and out.detail["sequences_checked"] >= 7
        assert out.detail["delta_measured"] >= delta


@pytest.mark.parametrize(("d", "L", "delta", "N"), [(1, 1, 0.13, 8), (1, 2, 0.51, 4),
                                                     (2, 1, 0.51, 4), (1, 3, 0.51, 2)])
def test_mp_twin_reproduces_the_labels_at_two_precisions(d, L, delta, N) -> None:
    out = get_claim("memorise_matches_mp_twin_at_two_precisions").check(
        MemoriseInstance(seed=5, N=N, d=d, L=L, delta=delta))
    assert out.error == 0 and out.detail["dps"][1] == out.detail["dps"][0] + 15


@pytest.mark.slow
@pytest.mark.parametrize(("d", "L", "delta", "N", "seed"), [
    (1, 3, 0.51, 8, 199), (2, 2, 0.51, 4, 198), (2, 1, 0.26, 16, 27)])
def test_mp_twin_on_the_larger_default_shapes(d, L, delta, N, seed) -> None:
    out = get_claim("memorise_matches_mp_twin_at_two_precisions").check(
        MemoriseInstance(seed=seed, N=N, d=d, L=L, delta=delta))
    assert out.error == 0


def test_sixty_four_sequences_at_1x2_memorised_exactly() -> None:
    """N = 64 at (1, 2): δ = 1/12 gives K = 16 (512 slots); every output exact (about 7 s).
    (The same point is a reference point of ``memorise_grid_labels_exactly``.)"""
    inst = MemoriseInstance(seed=11, N=64, d=1, L=2, delta=1 / 12)
    X, Y = dataset_of(inst)
    assert len(X) == 64
    r = request_for_dataset(X, inst.delta)
    tau = r.build()
    assert r.K == 16 and tau.sizes.slots == 512
    P = memorising_prompt(tau, X, Y, delta=inst.delta)
    assert all(tau.forward_exact(x, P) == _exact(y) for x, y in zip(X, Y, strict=True))


@pytest.mark.slow
def test_sixty_four_sequences_at_1x2_match_the_mp_twin_at_two_precisions() -> None:
    """The N = 64 dataset above through the mpmath twin (exact prompt: its 512 packed slots
    leave float64's range) at the reported precision and 15 digits more. One sequence
    costs 2–3 minutes per precision (512 FF_post layers of width 5114 at ~490 digits; the
    four runs took 12 min on 2 shared cores), so the first and the last sequence are run;
    exact evaluation covers all 64."""
    import math

    from core.mp_twin import mp_forward

    inst = MemoriseInstance(seed=11, N=64, d=1, L=2, delta=1 / 12)
    X, Y = dataset_of(inst)
    tau = request_for_dataset(X, inst.delta).build()
    P = memorising_prompt(tau, X, Y, delta=inst.delta).rational()
    dps = math.ceil(tau.sizes.precision_bits * math.log10(2)) + 5
    for i in (0, len(X) - 1):
        for prec in (dps, dps + 15):
            out = mp_forward(tau.weights, X[i], P, dps=prec)
            assert max(abs(float(out[0][j]) - Y[i][0, j]) for j in range(2)) == 0.0


def test_cell_centres_are_separated_by_exactly_the_cell_width() -> None:
    """The equality case ``δ = 1/K``: one token per cell (the centres) is accepted by the
    grid-``K`` τ and memorised exactly, measured or given."""
    tau = build_memoriser(4, 1, 1, 0.25)
    X = np.array([[[(q + 0.5) / 4]] for q in range(4)])
    Y = np.array([[[t / tau.sizes.M]] for t in (3, 0, 4, 1)])
    assert measure_separation(X).delta == Fraction(1, 4)
    for delta in (None, 0.25):
        P = memorising_prompt(tau, X, Y, delta=delta)
        assert [tau.forward_exact(x, P) for x in X] == [_exact(y) for y in Y]


# --- refusals ------------------------------------------------------------------------------


def _close_pair_dataset():
    """Tokens 0.1, 0.35, 0.36, 0.9; the closest distinct pair is (0.35, 0.36), 0.01 apart,
    at (sequence 1, position 0) and (sequence 2, position 1); another pair 0.05 apart."""
    X = np.array([[[0.1, 0.9]], [[0.35, 0.1]], [[0.9, 0.36]], [[0.85, 0.1]]])
    return X, np.zeros_like(X)


def test_refusal_names_the_closest_pair_their_values_distance_and_delta() -> None:
    X, Y = _close_pair_dataset()
    tau = build_memoriser(4, 1, 2, 0.25)
    with pytest.raises(InvalidArgument) as info:
        validate_dataset(tau.sizes, X, Y, grid_labels=True, delta=0.25)
    text = str(info.value)
    assert text.startswith("tokens X[1][:, 0]=(0.35) (sequence i=1, position j=0) and "
                           "X[2][:, 1]=(0.36) (sequence i=2, position j=1) are 0.01 apart "
                           "in max norm: closer than delta=0.25"), text


def test_measured_separation_below_the_cell_width_names_the_pair_and_the_grid() -> None:
    X, Y = _close_pair_dataset()
    tau = build_memoriser(4, 1, 2, 0.25)
    with pytest.raises(InvalidArgument, match=r"the measured separation: tokens X\[1\]\[:, 0\]="
                                              r"\(0.35\) .* are 0.01 apart in max norm; this "
                                              r"τ's grid K=4 .* >= 1/4 only"):
        validate_dataset(tau.sizes, X, Y, grid_labels=True)
    assert measure_separation(X).delta == Fraction(0.36) - Fraction(0.35)
    with pytest.raises(ConstructionTooLarge, match=r"delta=0.01\) needs K=128 .*nearest that "
                                                   r"fits: K=16"):
        request_for_dataset(X)                       # measured: δ = 0.01 needs K = 128
    r = request_for_dataset(X[:, :, :1])             # position 0 only: 0.35 and 0.1 ... 0.05
    assert r.delta == Fraction(0.9) - Fraction(0.85) and r.K == 32
    validate_dataset(r.sizes(), X[:, :, :1], Y[:, :, :1], grid_labels=True)


def test_delta_coarser_than_the_grid_is_refused_naming_delta() -> None:
    X = np.array([[[0.1, 0.9]], [[0.5 + 0.1, 0.1]]])
    tau = build_memoriser(2, 1, 2, 0.5)              # K = 2
    with pytest.raises(InvalidArgument, match=r"^delta=0.3; this τ's grid K=2 .* >= 1/2"):
        validate_dataset(tau.sizes, X, np.zeros_like(X), grid_labels=True, delta=0.3)


def test_delta_measured_versus_given() -> None:
    """Given ``δ`` at most the measured one: accepted, possibly on a finer grid; above it:
    refused naming the closest pair."""
    X, _ = dataset_of(MemoriseInstance(seed=199, N=16, d=1, L=2, delta=0.26))
    sep = measure_separation(X)
    tokens = sorted(set(X.ravel().tolist()))
    brute = min(abs(Fraction(a) - Fraction(b)) for a, b in itertools.combinations(tokens, 2))
    assert sep.delta == brute and sep.tokens == len(tokens) == 4
    assert request_for_dataset(X).delta == brute
    assert request_for_dataset(X, 0.2).K == 8 >= request_for_dataset(X).K == 4
    with pytest.raises(InvalidArgument, match=rf"are {float(brute):.6g} apart in max norm: "
                                              rf"closer than delta=0.3"):
        validate_dataset(request_for_dataset(X).sizes(), X, np.zeros_like(X),
                         grid_labels=True, delta=0.3)


def test_token_inside_a_strip_is_refused_naming_it_the_boundary_and_eta() -> None:
    tau = build_memoriser(4, 1, 2, 0.25)
    eta = tau.sizes.eta
    X = np.array([[[0.1, float(Fraction(3, 4) - 3 * eta / 8)]], [[0.4, 0.1]]])
    with pytest.raises(InvalidArgument, match=r"^X\[0\]\[0, 1\]=.* \(sequence i=0, position "
                                              r"j=1\) is 2.18e-11 from the cell boundary 3/4: "
                                              r".*η/2=2.91e-11 away .* width η=5.82e-11\)"):
        validate_dataset(tau.sizes, X, np.zeros_like(X), grid_labels=True)
    X[0, 0, 1] = float(Fraction(3, 4) - eta / 2)             # the strip's edge is allowed
    validate_dataset(tau.sizes, X, np.zeros_like(X), grid_labels=True)


def test_thinning_never_keeps_a_strip_token_of_any_grid() -> None:
    for seed in range(20):
        tok = thin_tokens(seed, 2, 0.05)
        off = np.abs(tok * MAX_GRID - np.rint(tok * MAX_GRID)) / MAX_GRID
        assert off.min() >= 2.0 ** -34
        dist = np.max(np.abs(tok[:, None] - tok[None]), axis=2) + np.eye(len(tok))
        assert dist.min() >= 0.05


def test_duplicate_sequences_are_named() -> None:
    X = np.array([[[0.1, 0.9]], [[0.9, 0.1]], [[0.1, 0.9]]])
    tau = build_memoriser(3, 1, 2, 0.5)
    with pytest.raises(InvalidArgument, match=r"^sequences i=0 and i=2 are equal"):
        validate_dataset(tau.sizes, X, np.zeros_like(X), grid_labels=True)
    with pytest.raises(InvalidArgument, match=r"^sequences i=0 and i=2 are equal"):
        request_for_dataset(X)


def test_more_sequences_than_delta_admits_is_refused() -> None:
    assert max_tokens(0.3, 1) == 4 and max_tokens(0.25, 2) == 16 and max_tokens(2, 3) == 1
    with pytest.raises(InvalidArgument, match=r"^N=17: tokens delta=0.3 apart in \[0,1\]\^1 "
                                              r"number at most 4, so at most 16"):
        memorisation_request(17, 1, 2, 0.3)


def test_too_large_requests_fail_fast_with_the_computed_sizes() -> None:
    t0 = time.perf_counter()
    with pytest.raises(ConstructionTooLarge) as info:
        memorisation_request(64, 1, 2, 1 / 40)
    assert time.perf_counter() - t0 < 1.0
    text = str(info.value)
    assert "needs K=64 (1/K <= delta), slots=8192" in text and "precision bits" in text
    assert info.value.nearest == {"K": 16, "delta": 1 / 16}
    assert info.value.required == 8192 and info.value.limit == 512
    assert memorisation_request(64, 1, 2, info.value.nearest["delta"]).K == 16
    t0 = time.perf_counter()
    with pytest.raises(ConstructionTooLarge, match=r"needs K=1024 .* K=1024 > 256"):
        memorisation_request(2, 1, 1, 1e-3)
    with pytest.raises(ConstructionTooLarge, match=r"nearest that fits: K=2"):
        memorisation_request(16, 2, 2, 0.25)
    assert time.perf_counter() - t0 < 1.0


# --- planted bugs --------------------------------------------------------------------------


def test_planted_grid_twice_too_coarse_is_refused_by_the_validator(monkeypatch) -> None:
    """``1/K ≤ 2δ`` instead of ``1/K ≤ δ``: the τ's grid no longer serves δ, and the claim's
    dataset is refused naming the grid."""
    inst = MemoriseInstance(seed=199, N=16, d=1, L=2, delta=0.26)
    claim = get_claim("memorise_grid_labels_exactly")
    claim.check(inst)
    real = memorise_module.grid_for_separation
    monkeypatch.setattr(memorise_module, "grid_for_separation",
                        lambda delta: max(1, real(delta) // 2))
    with pytest.raises(InvalidArgument, match=r"grid K=2 .* serves separations >= 1/2"):
        claim.check(inst)


def test_planted_coarse_grid_with_the_check_off_is_caught_by_exact_evaluation(
        monkeypatch) -> None:
    """The same coarse grid with the validator's grid check off: distinct tokens share cells,
    their sequences collide in the table, and exact evaluation (or the cell-tuple assertion)
    goes red."""
    inst = MemoriseInstance(seed=199, N=16, d=1, L=2, delta=0.26)
    real = memorise_module.grid_for_separation
    monkeypatch.setattr(memorise_module, "grid_for_separation",
                        lambda delta: max(1, real(delta) // 2))
    monkeypatch.setattr(memorise_module, "_serves", lambda K, delta: True)
    with pytest.raises(AssertionError):        # ClaimViolation is an AssertionError
        get_claim("memorise_grid_labels_exactly").check(inst)


def test_planted_separation_ignored_lets_a_close_pair_through(monkeypatch) -> None:
    """With the validator's separation check off (every dataset measured as one token), the
    close pair of :func:`_close_pair_dataset` is no longer refused."""
    X, Y = _close_pair_dataset()
    tau = build_memoriser(4, 1, 2, 0.25)
    with pytest.raises(InvalidArgument):
        validate_dataset(tau.sizes, X, Y, grid_labels=True, delta=0.25)
    monkeypatch.setattr(memorise_module, "measure_separation",
                        lambda X: memorise_module.Separation(None, None, None, 1))
    validate_dataset(tau.sizes, X, Y, grid_labels=True, delta=0.25)


@pytest.mark.parametrize("share", [Fraction(1, 4), Fraction(1, 2), Fraction(7, 8)])
def test_token_on_a_ramp_can_break_exactness_so_the_strip_refusal_is_needed(share) -> None:
    """A token inside a strip (``share·η`` into the ramp at ``1/2``) is refused. The table
    built anyway (cells by ``⌊Kx⌋``, no check) need not memorise it: part-way up the ramp τ
    reads a shifted code, and here the output misses the label (levels 1, 2, 3)."""
    from core.constructions.universal import cell_index, prompt_from_levels

    tau = build_memoriser(4, 1, 1, 0.25)
    s = tau.sizes
    X = np.array([[[0.1]], [[float(Fraction(1, 2) - s.eta / 2 + share * s.eta)]], [[0.9]]])
    Y = np.array([[[0.25]], [[0.5]], [[0.75]]])
    with pytest.raises(InvalidArgument, match="cell boundary 2/4"):
        memorising_prompt(tau, X, Y)
    table = [[0] * s.slots]
    for x, y in zip(X, Y, strict=True):
        table[0][memorise_module.table_slot(tau, 0, cell_index(s, x))] = int(y[0, 0] * s.M)
    P = prompt_from_levels(tau, table, name="strip")
    outs = [tau.forward_exact(x, P) for x in X]
    assert outs[0] == _exact(Y[0]) and outs[2] == _exact(Y[2])
    assert outs[1] != _exact(Y[1])


# --- the docs table and the worked example ------------------------------------------------


def test_docs_table_is_the_generated_one() -> None:
    docs = (ROOT / "docs" / "universality.md").read_text()
    assert sizes_section() in docs


def test_module_prints_the_docs_table() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "core.constructions.memorise"], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert out.strip() == sizes_section()


def _section(text: str, heading: str) -> str | None:
    if heading not in text:
        return None
    start = text.index(heading)
    nxt = re.search(r"^## ", text[start + len(heading):], flags=re.M)
    return text[start:start + len(heading) + (nxt.start() if nxt else len(text))]


def run_your_own_dataset_section(path: Path) -> doctest.TestResults:
    """Run the ``>>>`` examples of the "## Your own dataset" section of ``path``."""
    section = _section(path.read_text(), "## Your own dataset")
    if section is None:
        pytest.skip(f"{path.name} has no '## Your own dataset' section yet")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(section, {}, "your_own_dataset", str(path), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    return runner.summarize(verbose=False)


def test_bring_your_own_dataset_example_runs() -> None:
    """The worked example of docs/bring-your-own.md, "## Your own dataset", as a doctest."""
    result = run_your_own_dataset_section(ROOT / "docs" / "bring-your-own.md")
    assert result.attempted >= 8 and result.failed == 0


def test_planted_label_off_by_one_is_caught(monkeypatch) -> None:
    """A wrong label level (off by one) turns the exact claim red on a thinned dataset."""
    inst = MemoriseInstance(seed=27, N=16, d=2, L=1, delta=0.26)
    claim = get_claim("memorise_grid_labels_exactly")
    claim.check(inst)
    real = memorise_module.label_levels
    monkeypatch.setattr(memorise_module, "label_levels",
                        lambda sizes, Y: np.minimum(real(sizes, Y) + 1, sizes.M))
    with pytest.raises(ClaimViolation):
        claim.check(inst)
