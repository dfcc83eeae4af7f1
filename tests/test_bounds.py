"""Unit tests for the capacity lower bound's formulas and the bump packing."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.bounds import (
    MAX_EXACT_BITS,
    as_fraction,
    cells_per_coordinate,
    least_power_reaching,
    lower_bound_real,
    min_prompt_length_exact,
    packing_bits,
)
from core.errors import ConstructionTooLarge, InvalidArgument
from core.packing import BumpPacking


@given(M=st.integers(0, 300), d=st.integers(1, 4), K=st.integers(2, 40))
def test_exact_prompt_length_is_the_least_solution(M: int, d: int, K: int) -> None:
    lp = min_prompt_length_exact(M, d, K)
    assert K ** (d * lp) >= 2**M
    assert lp == 0 or K ** (d * (lp - 1)) < 2**M


@given(base=st.integers(2, 50), M=st.integers(0, 200), start=st.integers(0, 400))
def test_exact_search_ignores_its_starting_point(base: int, M: int, start: int) -> None:
    """Stepping down from a high start and up from a low one both end at the least solution
    (brute force over e = 0, 1, ...)."""
    least = next(e for e in range(M + 1) if base**e >= 2**M)
    assert least_power_reaching(base, M, start=start) == least


def test_exact_path_accepts_its_documented_extremes() -> None:
    assert min_prompt_length_exact(0, 1, 2) == 0
    assert min_prompt_length_exact(1, 1, 2) == 1
    assert min_prompt_length_exact(MAX_EXACT_BITS, 1, 2**20) == MAX_EXACT_BITS // 20
    assert least_power_reaching(2, 0, start=0) == 0
    # starts above the answer: exact powers of the base, and a zero answer
    assert least_power_reaching(2, 3, start=5) == 3
    assert least_power_reaching(4, 6, start=9) == 3
    assert least_power_reaching(2, 0, start=3) == 0
    assert least_power_reaching(3, 0, start=1) == 0
    assert cells_per_coordinate(1, 0.5) == 1              # ε = 1/2 is allowed
    assert cells_per_coordinate(Fraction(1, 1000), Fraction(1, 4000)) == 2


@given(M=st.integers(1, 10**5), d=st.integers(1, 4), k=st.integers(1, 10))
def test_power_of_two_levels_give_exact_rational_bound(M: int, d: int, k: int) -> None:
    """For ``K = 2^k`` the bound is the rational ``M/(d·k)`` and its ceiling is exact."""
    assert min_prompt_length_exact(M, d, 2**k) == math.ceil(Fraction(M, d * k))


def test_decimal_inputs_mean_what_they_print() -> None:
    assert as_fraction("eps", 0.1) == Fraction(1, 10)
    assert as_fraction("eps", np.float64(0.1)) == Fraction(1, 10)
    assert as_fraction("C", 10**30 + 1) == 10**30 + 1          # ints stay exact
    assert as_fraction("C", Fraction(1, 3)) == Fraction(1, 3)
    assert cells_per_coordinate(1, 0.1) == 5
    assert packing_bits(2, 2, 1, 0.25) == 2**4
    assert lower_bound_real(25, 1, 2) == 25.0


def test_growth_is_exponential_in_dl_and_polynomial_power_in_inverse_eps() -> None:
    bits = [packing_bits(1, L, 2, 0.25) for L in (1, 2, 3, 4)]
    assert bits == [4, 16, 64, 256]
    assert [packing_bits(1, 2, 1, Fraction(1, k)) for k in (2, 4, 8)] == [1, 4, 16]


@pytest.mark.parametrize("call, fragment", [
    (lambda: cells_per_coordinate(0, 0.1), "C=0"),
    (lambda: cells_per_coordinate(1, 0.0), "eps=0.0"),
    (lambda: cells_per_coordinate(1, 0.75), "eps=0.75"),
    (lambda: cells_per_coordinate(1, float("nan")), "eps=nan"),
    (lambda: cells_per_coordinate("1", 0.1), "C='1'"),
    (lambda: packing_bits(0, 1, 1, 0.1), "d=0"),
    (lambda: packing_bits(1, 0, 1, 0.1), "L=0"),
    (lambda: as_fraction("C", True), "C=True"),
    (lambda: as_fraction("eps", "0.1"), "eps='0.1'"),
    (lambda: as_fraction("eps", float("inf")), "eps=inf"),
    (lambda: min_prompt_length_exact(4, 0, 2), "d=0"),
    (lambda: min_prompt_length_exact(MAX_EXACT_BITS + 1, 1, 2), f"M={MAX_EXACT_BITS + 1}"),
    (lambda: least_power_reaching(1, 4, start=0), "base=1"),
    (lambda: least_power_reaching(2, -1, start=0), "M=-1"),
    (lambda: least_power_reaching(2, 4, start=-1), "start=-1"),
    (lambda: min_prompt_length_exact(-1, 1, 2), "M=-1"),
    (lambda: min_prompt_length_exact(4, 1, 1), "K=1"),
    (lambda: min_prompt_length_exact(10**7, 1, 2), "M=10000000"),
    (lambda: BumpPacking(1, 1, Fraction(1, 10), Fraction(1, 4)), "C >= 2·eps"),
])
def test_bad_inputs(call, fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument, match=None) as info:
        call()
    assert fragment in str(info.value)


def test_packing_member_values() -> None:
    p = BumpPacking(1, 1, Fraction(2), Fraction(1, 4))       # m = 4 cells of width 1/4
    centre = p.centre((1,))
    assert np.allclose(centre, [[0.375]])
    assert p.member((1, -1, 1, 1), centre) == 0.25
    assert p.member((1, 1, 1, 1), np.array([[0.25]])) == 0.5    # bump vanishes on boundaries
    with pytest.raises(InvalidArgument, match="expected M = 4"):
        p.member((1, 1), centre)


def test_packing_stores_C_and_eps_as_exact_fractions() -> None:
    """Floats and ints become Fractions (the cell count m = ⌊C/(2ε)⌋ is decided exactly)."""
    p = BumpPacking(1, 2, 3, 0.25)
    assert isinstance(p.C, Fraction) and p.C == 3
    assert isinstance(p.eps, Fraction) and p.eps == Fraction(1, 4)
    assert p.m == 6 and p.n_cells == 36


def test_packing_enumerates_exactly_up_to_the_limit() -> None:
    """``members(limit)`` builds all ``2^M`` sign patterns when ``2^M <= limit``, else refuses
    before building any; at ``2^M == limit`` it builds them."""
    p = BumpPacking(1, 1, 2, Fraction(1, 4))                  # m = 4, M = 4, 16 members
    members = p.members(limit=16)
    assert len(members) == 16 and len(set(members)) == 16
    assert all(set(m) <= {-1, 1} for m in members)
    assert len(p.members(limit=31)) == 16
    for limit in (15, 8):
        with pytest.raises(ConstructionTooLarge):
            p.members(limit=limit)


def test_packing_locates_a_float32_input_in_its_true_cell() -> None:
    """The cell is decided in float64, so a float32 input just below a cell boundary stays in
    the cell that contains its exact value (in float32, 0.45454544·11 rounds up to 5.0)."""
    p = BumpPacking(1, 1, 11, Fraction(1, 2))                 # m = 11
    x = np.float32(0.45454544)
    true_cell = math.floor(Fraction(float(x)) * 11)
    assert true_cell == 4
    index, _ = p.bump(np.array([[x]], dtype=np.float32))
    assert index == true_cell
