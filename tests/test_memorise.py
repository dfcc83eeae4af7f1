"""Unit tests, bad datasets and planted bugs for memorisation (claim M) and its LB link."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

import core.constructions.memorise as memorise_module
from core.constructions import build_prompt, cell_centre, code_value
from core.constructions.memorise import (
    bits_per_prompt_coordinate,
    build_memoriser,
    constructive_length,
    label_levels,
    memorisation_lower_bound,
    memorisation_request,
    memorisation_table,
    memorising_prompt,
    sizes_section,
    table_slot,
    validate_dataset,
)
from core.constructions.universal import prompt_from_levels
from core.errors import ClaimViolation, ConstructionTooLarge, InvalidArgument, NonFiniteError
from core.lipschitz import make_target
from properties.registry import get_claim
from properties.strategies_memorise import (
    MEMORISE_SHAPES,
    MemoriseInstance,
    dataset_of,
    memoriser_of,
)


@pytest.fixture(scope="module")
def tau():
    """(1, 2) with K = 4, M = 4: 32 slots."""
    return build_memoriser(16, 1, 2)


#: 4 thinned tokens 0.26 apart (seed 199 keeps the most of 200 seeds), all 16 sequences.
TOY = MemoriseInstance(seed=199, N=16, d=1, L=2, delta=0.26)


def _toy_dataset(tau):
    X, Y = dataset_of(TOY, tau)
    assert len(X) == 16
    return X, Y


# --- sizes ------------------------------------------------------------------------------------


def test_default_request_grid_holds_n_sequences_and_c_is_smallest_on_the_ladder() -> None:
    """``delta=None``: ``δ = 1/K₀`` with ``K₀`` the smallest power of two with ``K₀^{dL} ≥ N``;
    ``C`` is the smallest ladder value whose universal plan has a grid ``≥ K``, and ``M`` is
    that plan's (the same ``(C, M)`` as before separation chose the grid)."""
    for d, L, n_max, _, _ in MEMORISE_SHAPES:
        for N in (1, n_max // 2 + 1, n_max):
            r = memorisation_request(N, d, L)
            K = r.sizes().K
            assert K ** (d * L) >= N and (K == 1 or (K // 2) ** (d * L) < N)
            assert r.delta == (None if K == 1 else Fraction(1, K))
            own = memorise_module.plan_universal(d, L, r.C, r.eps, r.p)
            assert own.K >= K and own.M == r.M
            for C in [C for C in memorise_module._C_LADDER if C < r.C]:
                assert memorise_module.plan_universal(d, L, C, r.eps, r.p).K < K


def test_request_too_large_names_the_largest_n() -> None:
    with pytest.raises(ConstructionTooLarge, match=r"N=100000.*use N <="):
        memorisation_request(100_000, 2, 2)


def test_constructive_length_is_the_universal_length_for_every_n(tau) -> None:
    s = tau.sizes
    assert constructive_length(s) == s.prompt_tokens
    per = memorise_module.digits_per_prompt_entry(s)
    assert (constructive_length(s) - 1) * per < s.slots + 1 <= constructive_length(s) * per
    # N does not enter: every N on the same grid gets the same τ and the same length
    assert {build_memoriser(N, 1, 2).digest() for N in (5, 9, 16)} == {tau.digest()}


LOWER = [  # (N, d, L, M, bits, expected L_p*)
    (1, 1, 1, 1, 1, 1), (3, 1, 1, 1, 1, 3), (4, 1, 2, 4, 48, 1), (64, 1, 2, 4, 48, 7),
    (16, 2, 2, 8, 48, 3), (5, 1, 1, 3, 2, 5),
]


@pytest.mark.parametrize(("N", "d", "L", "M", "bits", "want"), LOWER)
def test_memorisation_lower_bound_is_least_solution(N, d, L, M, bits, want) -> None:
    got = memorisation_lower_bound(N, d, L, M, bits)
    assert got == want
    assert 2 ** (bits * d * got) >= (M + 1) ** (N * d * L)
    assert got == 0 or 2 ** (bits * d * (got - 1)) < (M + 1) ** (N * d * L)


def test_bits_per_coordinate_fit_the_48_bit_budget(tau) -> None:
    b = bits_per_prompt_coordinate(tau.sizes)
    assert b <= 48 and b % (tau.sizes.beta.bit_length() - 1) == 0


def test_sizes_section_rows_match_the_planner() -> None:
    rows = sizes_section([(1, 2, Fraction(1, 8), 64), (2, 2, Fraction(1, 2), 16)]).splitlines()
    assert len(rows) == 4
    cells = [c.strip() for c in rows[2].split("|")[1:-1]]
    s = memorisation_request(64, 1, 2, Fraction(1, 8)).sizes()
    assert cells[3] == str(s.K) == "8"
    assert cells[8:12] == [str(s.M), str(s.slots), str(s.prompt_tokens),
                           str(memorisation_lower_bound(64, 1, 2, s.M,
                                                        bits_per_prompt_coordinate(s)))]


def test_sizes_section_is_a_well_formed_table_with_every_column() -> None:
    """Header, separator and rows have the same 15 columns; the bound columns agree with
    direct calls (L_p from the sizes, L_p* from the memorisation count, their ratio)."""
    rows = sizes_section([(2, 2, Fraction(1, 2), 16)]).splitlines()
    header, rule, row = ([c.strip() for c in line.split("|")[1:-1]] for line in rows)
    assert header == ["d", "L", "δ", "K", "η", "strips (K−1)η", "N", "N max", "M", "slots",
                      "L_p (route B)", "L_p*", "L_p / L_p*", "b bits/entry",
                      "precision bits"]
    assert rule == ["---"] * 15 and len(row) == 15
    r = memorisation_request(16, 2, 2, 0.5)
    s = r.sizes()
    b = bits_per_prompt_coordinate(s)
    lp, star = constructive_length(s), memorisation_lower_bound(16, 2, 2, s.M, b)
    assert row[:4] == ["2", "2", "1/2", "2"]
    assert row[4] == "2^-33" and float(row[5]) == pytest.approx(float(r.strip_measure), 0.05)
    assert row[6:] == ["16", "16", str(s.M), str(s.slots), str(lp), str(star),
                       f"{lp / star:.3g}", str(b), str(s.precision_bits)]


# --- the construction ----------------------------------------------------------------------


def test_table_slot_is_the_universal_slot_of_the_cell(tau) -> None:
    s = tau.sizes
    seen = {table_slot(tau, k, q) for q in itertools.product(range(s.K), repeat=2)
            for k in range(s.L)}
    assert seen == set(range(s.slots))
    q = (3, 1)
    assert tau.slot_values[table_slot(tau, 1, q)] == code_value(s, 1, q)


def test_memorising_prompt_equals_universal_prompt_on_a_full_grid_dataset(tau) -> None:
    """Labels = a target's quantised levels at every cell centre: the same prompt as P(f)."""
    s = tau.sizes
    f = make_target("sinusoid", 1, 2, tau.sizes.C, 3, grid=s.K)
    cells = list(itertools.product(range(s.K), repeat=2))
    X = np.stack([cell_centre(s, q) for q in cells])
    Y = np.clip(np.rint(f.values(X) * s.M), 0, s.M) / s.M
    assert memorising_prompt(tau, X, Y).entries == build_prompt(tau, f).entries


def test_every_sequence_is_memorised_exactly(tau) -> None:
    X, Y = _toy_dataset(tau)
    P = memorising_prompt(tau, X, Y)
    for x, y in zip(X, Y, strict=True):
        assert tau.forward_exact(x, P) == [[Fraction(float(v)) for v in row] for row in y]


def test_label_levels_round_half_up_exactly(tau) -> None:
    M = tau.sizes.M
    Y = np.array([[[0.0, 1.0]], [[(0.5) / M, (1.5) / M - 2**-40]]])
    assert label_levels(tau.sizes, Y).tolist() == [[[0, M]], [[1, 1]]]


def test_fill_level_sets_unused_slots(tau) -> None:
    X, Y = _toy_dataset(tau)
    table = memorisation_table(tau, X[:1], Y[:1], grid_labels=True, fill=3)
    used = {table_slot(tau, k, tuple(int(np.floor(4 * X[0, 0, j])) for j in range(2)))
            for k in range(2)}
    assert all(table[0][s] == 3 for s in range(tau.sizes.slots) if s not in used)


def test_prompt_from_levels_refuses_bad_tables(tau) -> None:
    s = tau.sizes
    with pytest.raises(InvalidArgument, match="expected d=1 rows of slots=32"):
        prompt_from_levels(tau, [[0] * 3], name="x")
    with pytest.raises(InvalidArgument, match=r"table\[0\]\[2\]=5"):
        prompt_from_levels(tau, [[0, 0, s.M + 1] + [0] * (s.slots - 3)], name="x")


# --- bad datasets: each named with sequence, position and amount -------------------------


def _bad_cases(tau):
    X, Y = _toy_dataset(tau)
    eta = float(tau.sizes.eta)
    cases = []
    x = X.copy()
    x[5, 0, 1] = X[2, 0, 1] + (1e-3 if X[2, 0, 1] < 0.5 else -1e-3)  # a token 0.001 away
    cases.append((x, Y, r"0.001 apart in max norm; this τ's grid K=4 .* serves separations "
                        r">= 1/4 only"))
    x = np.array([[[0.1, 0.5 + eta / 8]], [[0.9, 0.1]]])           # far apart, one on a strip
    cases.append((x, np.zeros_like(x), r"X\[0\]\[0, 1\].*sequence i=0, position j=1.*from the "
                                       r"cell boundary 2/4"))
    x = X.copy()
    x[4] = X[1]
    cases.append((x, Y, "sequences i=1 and i=4 are equal"))
    x = X.copy()
    x[0, 0, 1] = np.nan
    cases.append((x, Y, r"X\[0\]\[0, 1\]=nan: must be finite"))
    cases.append((X[:, :, :1], Y, r"X has shape \(16, 1, 1\): expected \(N, d=1, L=2\)"))
    cases.append((X, Y[:3], "X has N=16 sequences but Y has N=3"))
    y = Y.copy()
    y[2, 0, 1] = 0.3
    cases.append((X, y, r"Y\[2\]\[0, 1\]=0.3 is not on the output grid t/M, M=4"))
    y = Y.copy()
    y[1, 0, 0] = 1.5
    cases.append((X, y, r"Y\[1\]\[0, 0\]=1.5: must lie in \[0, 1\]"))
    return cases


@pytest.mark.parametrize("case", range(8))
def test_bad_datasets_are_refused_by_name(tau, case: int) -> None:
    X, Y, match = _bad_cases(tau)[case]
    with pytest.raises(InvalidArgument, match=match):
        validate_dataset(tau.sizes, X, Y, grid_labels=True)


def test_collision_message_names_both_tokens_and_the_distance(tau) -> None:
    X, Y = _toy_dataset(tau)
    x = X.copy()
    x[9, 0, 0] = X[0, 0, 0] + 0.002 * (1 if X[0, 0, 0] < 0.5 else -1)
    with pytest.raises(InvalidArgument) as info:
        validate_dataset(tau.sizes, x, Y, grid_labels=True)
    text = str(info.value)
    assert "(sequence i=0, position j=0)" in text and "(sequence i=9, position j=0)" in text
    got = float(text.split(" apart in max norm")[0].split(" are ")[-1])
    assert math.isclose(got, 0.002, rel_tol=1e-4)


def test_nan_is_a_non_finite_error(tau) -> None:
    X, Y = _toy_dataset(tau)
    Y = Y.copy()
    Y[0, 0, 0] = np.inf
    with pytest.raises(NonFiniteError):
        validate_dataset(tau.sizes, X, Y, grid_labels=False)


def test_real_labels_pass_without_the_grid_check(tau) -> None:
    X, _ = _toy_dataset(tau)
    Y = np.full(X.shape, 0.3)
    cells = validate_dataset(tau.sizes, X, Y, grid_labels=False)
    assert len(set(cells)) == len(X)


def test_drawn_datasets_are_valid_for_every_shape_and_label_kind() -> None:
    for shape, labels in zip(MEMORISE_SHAPES, ("grid", "real", "midpoint", "grid", "real"),
                             strict=True):
        for measured in (False, True):
            inst = MemoriseInstance(seed=shape.d * 10 + shape.L, N=shape.n_max, d=shape.d,
                                    L=shape.L, labels=labels, delta=shape.delta_lo,
                                    measured=measured)
            ut = memoriser_of(inst)
            X, Y = dataset_of(inst, ut)
            assert X.shape == Y.shape and X.shape[1:] == (shape.d, shape.L)
            assert 1 <= len(X) <= shape.n_max
            validate_dataset(ut.sizes, X, Y, grid_labels=labels == "grid",
                             delta=inst.hypothesis_delta)


# --- planted bugs: each must turn a claim red ---------------------------------------------


EXACT = TOY
MIDPOINT = MemoriseInstance(seed=191, N=16, d=1, L=2, labels="midpoint", delta=0.26)


def test_planted_off_by_one_table_index_is_caught(monkeypatch) -> None:
    claim = get_claim("memorise_grid_labels_exactly")
    claim.check(EXACT)
    real = memorise_module.table_slot

    def shifted(ut, k, q):
        return (real(ut, k, q) + 1) % ut.sizes.slots

    monkeypatch.setattr(memorise_module, "table_slot", shifted)
    with pytest.raises(ClaimViolation):
        claim.check(EXACT)


def test_planted_off_by_one_table_index_is_caught_by_the_mp_twin(monkeypatch) -> None:
    claim = get_claim("memorise_matches_mp_twin_at_two_precisions")
    inst = MemoriseInstance(seed=133, N=8, d=1, L=1, delta=0.13)
    claim.check(inst)
    real = memorise_module.table_slot
    monkeypatch.setattr(memorise_module, "table_slot",
                        lambda ut, k, q: (real(ut, k, q) + 1) % ut.sizes.slots)
    with pytest.raises(ClaimViolation):
        claim.check(inst)


def test_planted_labels_on_a_coarser_grid_are_caught(monkeypatch) -> None:
    claim = get_claim("memorise_grid_labels_exactly")
    real = memorise_module.label_levels

    def coarse(sizes, Y):
        return 2 * (real(sizes, Y) // 2)

    monkeypatch.setattr(memorise_module, "label_levels", coarse)
    with pytest.raises(ClaimViolation):
        claim.check(EXACT)


def test_planted_labels_rounded_to_float32_are_caught(monkeypatch) -> None:
    claim = get_claim("memorise_real_labels_within_half_step")
    claim.check(MIDPOINT)
    real = memorise_module.label_levels

    def single(sizes, Y):
        return real(sizes, np.asarray(Y, np.float32).astype(np.float64))

    monkeypatch.setattr(memorise_module, "label_levels", single)
    with pytest.raises(ClaimViolation):
        claim.check(MIDPOINT)


def test_planted_prompt_entries_rounded_to_float32_are_caught(monkeypatch) -> None:
    claim = get_claim("memorise_grid_labels_exactly")
    real = memorise_module.prompt_from_levels

    def single(ut, table, *, name):
        p = real(ut, table, name=name)
        rounded = tuple(tuple(Fraction(float(np.float32(v))) for v in row)
                        for row in p.entries)
        return type(p)(entries=rounded, levels=p.levels, target=p.target)

    monkeypatch.setattr(memorise_module, "prompt_from_levels", single)
    with pytest.raises(ClaimViolation):
        claim.check(EXACT)


def test_planted_lower_bound_above_constructive_is_caught(monkeypatch) -> None:
    import properties.claims_memorise as claims_module
    from properties.strategies_memorise import LengthInstance

    claim = get_claim("constructive_lengths_respect_lower_bound")
    inst = LengthInstance(d=1, L=2, C=4.0, eps=0.5, p=4, N=64)
    claim.check(inst)
    monkeypatch.setattr(claims_module, "memorisation_lower_bound",
                        lambda N, d, L, M, bits: memorisation_lower_bound(N, d, L, M, 2))
    with pytest.raises(ClaimViolation):
        claim.check(inst)


def test_planted_truncated_prompt_that_realises_everything_is_caught(monkeypatch) -> None:
    """With every slot free (no truncation) all datasets are realised: the count goes red."""
    from properties.strategies_memorise import TruncationInstance

    claim = get_claim("memorise_fails_with_too_few_table_digits")
    inst = TruncationInstance(2, 1, 1, 1)
    claim.check(inst)
    with pytest.raises(ClaimViolation):
        claim.check(TruncationInstance(2, 1, 1, 2))


# --- bigger runs (pytest -m slow) ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("inst", [
    MemoriseInstance(seed=1, N=64, d=2, L=1, delta=0.065),      # K = 16, 256 slots
    MemoriseInstance(seed=0, N=64, d=1, L=3, delta=0.25),       # K = 4, 192 slots
    MemoriseInstance(seed=2, N=64, d=1, L=1, delta=0.01),       # K = 128, 128 slots
], ids=["2x1", "1x3", "1x1"])
def test_sixty_four_sequences_memorised_exactly_on_larger_shapes(inst) -> None:
    outcome = get_claim("memorise_grid_labels_exactly").check(inst)
    assert outcome.detail["sequences_checked"] == 64


# --- dataset hypothesis at its edges (docs/theory.md §2 M: off the strips, separated tokens)


def test_strip_edge_is_exactly_half_eta_at_every_interior_boundary(tau) -> None:
    """An entry exactly ``η/2`` from an interior boundary ``b/K`` is allowed, one ``3η/8``
    away is refused naming ``b/K``; the domain ends 0 and 1 are not boundaries."""
    s = tau.sizes
    K, eta = s.K, s.eta
    Y = [[[0.0, 0.0]]]

    def one(v: float) -> list:                       # the sequence (v, v): one token twice
        return [[[v, v]]]

    for b in range(1, K):
        for side in (-1, 1):
            cell = b if side > 0 else b - 1
            assert validate_dataset(s, one(float(Fraction(b, K) + side * eta / 2)), Y,
                                    grid_labels=True) == ((cell, cell),)
            with pytest.raises(InvalidArgument, match=rf"cell boundary {b}/{K}"):
                validate_dataset(s, one(float(Fraction(b, K) + side * 3 * eta / 8)), Y,
                                 grid_labels=True)
    for edge in (0.0, float(eta) / 4, 1.0 - float(eta) / 4, 1.0):
        validate_dataset(s, one(edge), Y, grid_labels=True)


def test_token_at_one_lies_in_the_top_cell(tau) -> None:
    """``[0, 1]`` is closed: the entry 1.0 belongs to cell ``K − 1`` (as in ``cell_index``)."""
    s = tau.sizes
    cells = validate_dataset(s, [[[1.0, 0.0]]], [[[0.0, 0.0]]], grid_labels=True)
    assert cells == ((s.K - 1, 0),)


def test_collision_at_a_later_position_is_found_after_a_new_token(tau) -> None:
    """Sequence 1 opens a new cell at position 0 and comes too close to sequence 0 at
    position 1: every position is checked, not only those after a repeated token."""
    s = tau.sizes
    w = 1 / s.K
    X = [[[0.5 * w, 1.4 * w]], [[2.5 * w, 1.6 * w]]]      # 1.4w and 1.6w are 0.2w apart
    with pytest.raises(InvalidArgument, match=r"\(sequence i=0, position j=1\) and "
                                              r"X\[1\]\[:, 1\]=\(0.4\) \(sequence i=1, "
                                              r"position j=1\) are 0.05 apart"):
        validate_dataset(s, X, np.zeros((2, 1, 2)), grid_labels=True)


def test_empty_dataset_is_refused(tau) -> None:
    with pytest.raises(InvalidArgument, match=r"^X has shape \(0, 1, 2\)"):
        validate_dataset(tau.sizes, np.zeros((0, 1, 2)), np.zeros((0, 1, 2)),
                         grid_labels=True)
    with pytest.raises(InvalidArgument, match=r"^Y has shape \(1, 2, 1\)"):
        validate_dataset(tau.sizes, np.zeros((1, 1, 2)), np.zeros((1, 2, 1)),
                         grid_labels=True)


def test_exact_rational_data_are_read_as_their_values(tau) -> None:
    """Inputs and labels given as ``Fraction`` objects (exact ``t/M`` labels) give the same
    prompt as the same numbers given as floats."""
    X, Y = _toy_dataset(tau)
    Xq = [[[Fraction(float(v)) for v in row] for row in x] for x in X]
    Yq = [[[Fraction(float(v)) for v in row] for row in y] for y in Y]
    assert memorising_prompt(tau, Xq, Yq).entries == memorising_prompt(tau, X, Y).entries


# --- the table and the prompt: defaults and argument checks ---------------------------------


def test_default_fill_is_level_zero_and_fill_reaches_the_prompt(tau) -> None:
    """Unused slots hold level 0 unless ``fill`` says otherwise, in the table and in the
    prompt (whose ``levels`` are the table); the prompt names the dataset size."""
    X, Y = _toy_dataset(tau)
    one = (X[:1], Y[:1])
    table = memorisation_table(tau, *one, grid_labels=True)
    used = {table_slot(tau, k, validate_dataset(tau.sizes, *one, grid_labels=True)[0])
            for k in range(tau.sizes.L)}
    assert len(used) == tau.sizes.L
    assert all(table[0][s] == 0 for s in range(tau.sizes.slots) if s not in used)
    P0 = memorising_prompt(tau, *one)
    assert P0.levels == tuple(tuple(r) for r in table)
    P3 = memorising_prompt(tau, *one, fill=3)
    assert all(P3.levels[0][s] == 3 for s in range(tau.sizes.slots) if s not in used)
    assert P3.entries == prompt_from_levels(
        tau, memorisation_table(tau, *one, grid_labels=True, fill=3), name="x").entries
    assert "N=1" in P0.target and "N=16" in memorising_prompt(tau, X, Y).target


@pytest.mark.parametrize("fill", [-1, 5])
def test_fill_outside_the_output_levels_is_refused_by_name(tau, fill: int) -> None:
    X, Y = _toy_dataset(tau)
    with pytest.raises(InvalidArgument, match=rf"^fill={fill}"):
        memorisation_table(tau, X, Y, grid_labels=True, fill=fill)


def test_off_grid_labels_refused_by_default_and_when_asked(tau) -> None:
    """``memorising_prompt`` checks grid labels unless told the labels are real, and so does
    ``memorisation_table`` with ``grid_labels=True``."""
    X, Y = _toy_dataset(tau)
    y = Y.copy()
    y[0, 0, 0] = 0.3
    with pytest.raises(InvalidArgument, match="not on the output grid"):
        memorising_prompt(tau, X, y)
    with pytest.raises(InvalidArgument, match="not on the output grid"):
        memorisation_table(tau, X, y, grid_labels=True)
    # real labels: rounded half up to the nearest level (0.3·4 = 1.2 → 1)
    on_grid = Y.copy()
    on_grid[0, 0, 0] = 0.25
    assert (memorising_prompt(tau, X, y, grid_labels=False).levels
            == memorising_prompt(tau, X, on_grid).levels)


def test_sizes_section_too_large_row_names_the_grid_and_the_nearest() -> None:
    """A row past the limits keeps 15 columns and names its grid and the nearest that fits."""
    row = sizes_section([(1, 2, Fraction(1, 32), 64)]).splitlines()[2]
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert len(cells) == 15 and cells[:4] == ["1", "2", "1/32", "32"]
    assert cells[4] == "too large: slots 2048 > limits (nearest K=16)"


def test_sizes_section_lines_are_table_rows() -> None:
    lines = sizes_section([(2, 2, 0.5, 16), (1, 1, 0.125, 8)]).splitlines()
    assert len(lines) == 4
    assert all(line.startswith("| ") or line.startswith("|---") for line in lines)
    assert all(line.endswith("|") for line in lines)


@pytest.mark.parametrize(("d", "L"), [(1, 1), (2, 2), (1, 3)])
def test_request_refusal_names_the_largest_n_accepted(d: int, L: int) -> None:
    """Past the largest fitting grid the refusal names ``N_max`` (its limit and nearest
    ``N``): a request for ``N_max`` sequences is accepted (and records that ``N``), one more
    is refused."""
    with pytest.raises(ConstructionTooLarge) as info:
        memorisation_request(10**9, d, L)
    n_max = info.value.limit
    assert info.value.nearest == {"N": n_max} and info.value.required == 10**9
    r = memorisation_request(n_max, d, L)
    assert (r.N, r.d, r.L) == (n_max, d, L) and r.sizes().K ** (d * L) >= n_max
    with pytest.raises(ConstructionTooLarge, match=rf"use N <= {n_max}"):
        memorisation_request(n_max + 1, d, L)
