"""Unit tests and bad inputs for the Lipschitz target families (core/lipschitz.py)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import torch

from core.errors import InvalidArgument
from core.lipschitz import FAMILIES, make_target, max_norm_ratio
from properties.tolerances import tolerance_for

SHAPES = [(1, 1), (1, 2), (2, 1), (1, 3), (2, 2)]


def _rat(X: np.ndarray) -> list[list[Fraction]]:
    return [[Fraction(float(v)) for v in row] for row in X]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("d", "L"), SHAPES)
def test_outputs_in_unit_cube_and_shape(family: str, d: int, L: int) -> None:
    f = make_target(family, d, L, 3.0, 11, grid=4)
    X = np.random.default_rng(0).uniform(0.0, 1.0, (200, d, L))
    Y = f.values(X)
    assert Y.shape == (200, d, L)
    assert Y.min() >= 0.0
    assert Y.max() <= 1.0


@pytest.mark.parametrize("family", FAMILIES)
def test_enclosure_contains_float64_value(family: str) -> None:
    f = make_target(family, 2, 2, 1.5, 5, grid=4)
    for X in np.random.default_rng(1).uniform(0.0, 1.0, (10, 2, 2)):
        lo, hi = f.enclose(_rat(X))
        val = f.values(X)
        for i in range(2):
            for j in range(2):
                assert lo[i][j] <= hi[i][j]
                assert float(lo[i][j]) - 1e-12 <= val[i, j] <= float(hi[i][j]) + 1e-12


@pytest.mark.parametrize("family", ["relu_mlp", "mcshane", "sawtooth"])
def test_piecewise_linear_families_are_exact(family: str) -> None:
    f = make_target(family, 1, 2, 2.0, 3, grid=8)
    lo, hi = f.enclose([[Fraction(1, 3), Fraction(5, 7)]])
    assert lo == hi


def test_sinusoid_enclosure_is_tight() -> None:
    f = make_target("sinusoid", 1, 2, 2.0, 3)
    lo, hi = f.enclose([[Fraction(1, 3), Fraction(5, 7)]])
    assert 0 < hi[0][0] - lo[0][0] < Fraction(1, 10**30)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_target_different_seed_different(family: str) -> None:
    X = np.random.default_rng(2).uniform(0.0, 1.0, (5, 1, 2))
    a = make_target(family, 1, 2, 1.0, 7, grid=4).values(X)
    b = make_target(family, 1, 2, 1.0, 7, grid=4).values(X)
    c = make_target(family, 1, 2, 1.0, 8, grid=4).values(X)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sawtooth_rises_by_c_delta_inside_one_cell() -> None:
    K, C = 4, 1.0
    f = make_target("sawtooth", 1, 1, C, 0, grid=K)
    xs = np.linspace(0.0, 1.0 / K, 101)[:, None, None]
    vals = f.values(xs)
    assert vals.max() - vals.min() == pytest.approx(C / K, abs=1e-12)


def test_mcshane_witness_ratio_is_exactly_c() -> None:
    f = make_target("mcshane", 2, 2, 1.25, 9)
    pair = f.witness_pair()
    assert pair is not None
    a, b = pair
    la, _ = f.enclose(_rat(a))
    lb, _ = f.enclose(_rat(b))
    num = max(abs(la[i][j] - lb[i][j]) for i in range(2) for j in range(2))
    den = max(abs(Fraction(float(a[i, j])) - Fraction(float(b[i, j])))
              for i in range(2) for j in range(2))
    assert num / den == Fraction(1.25)


def test_relu_mlp_has_no_witness() -> None:
    assert make_target("relu_mlp", 1, 1, 1.0, 0).witness_pair() is None


BAD = [
    ({"family": "linear"}, "family='linear'"),
    ({"d": 0}, "d=0"),
    ({"L": 9}, "L=9"),
    ({"C": 0.0}, "C=0.0"),
    ({"C": float("nan")}, "C=nan"),
    ({"C": 100.0}, "C=100.0"),
    ({"seed": -1}, "seed=-1"),
    ({"family": "sawtooth", "grid": 0}, "grid=0"),
    ({"family": "sawtooth", "grid": 2**20 + 1}, "grid=1048577"),
]


@pytest.mark.parametrize(("change", "named"), BAD)
def test_bad_arguments_are_refused_by_name(change: dict, named: str) -> None:
    args = {"family": "mcshane", "d": 1, "L": 1, "C": 1.0, "seed": 0, "grid": 4, **change}
    with pytest.raises(InvalidArgument, match=named.replace("(", r"\(")):
        make_target(args.pop("family"), args.pop("d"), args.pop("L"), args.pop("C"),
                    args.pop("seed"), grid=args.pop("grid"))


def test_values_refuse_wrong_shape() -> None:
    f = make_target("mcshane", 2, 2, 1.0, 0)
    with pytest.raises(InvalidArgument, match="expected"):
        f.values(np.zeros((2, 3)))


def test_enclose_refuses_wrong_shape() -> None:
    f = make_target("mcshane", 2, 2, 1.0, 0)
    with pytest.raises(InvalidArgument, match="2×2"):
        f.enclose([[Fraction(0)]])


def test_max_norm_ratio_uses_the_max_norm_on_both_sides() -> None:
    """THEORY §1: ‖f(X) − f(X')‖_max ≤ C‖X − X'‖_max; a Euclidean quotient would read √2 here."""
    f_a, f_b = np.array([[1.0, 1.0]]), np.zeros((1, 2))
    x_a, x_b = np.array([[0.5, 0.5]]), np.zeros((1, 2))
    assert max_norm_ratio(f_a, f_b, x_a, x_b) == 2.0
    assert max_norm_ratio(f_a, f_b, x_a, x_a) == float("inf")
    assert max_norm_ratio(f_b, f_b, x_a, x_a) == 0.0
    # differences, not sums: (1 − 0.75) / (0.5 − 0.25)
    assert max_norm_ratio(np.array([[1.0]]), np.array([[0.75]]),
                          np.array([[0.5]]), np.array([[0.25]])) == 1.0


@pytest.mark.parametrize("family", ["mcshane", "sinusoid", "sawtooth"])
@pytest.mark.parametrize(("C", "grid"), [(0.2, 1), (1.25, 4), (6.0, 1)])
def test_witness_pair_lies_in_the_domain_and_attains_c(family: str, C: float, grid: int) -> None:
    """The witness pair is two distinct points of ``[0, 1]^{d×L}`` whose rigorous ratio is at
    least ``C·(1 − 10^-6)`` (the attained-constant claim's tolerance), across seeds that put
    the witness near either face of the cube."""
    from properties.claims_universal import _pair_ratio_lower

    for seed in range(6):
        f = make_target(family, 1, 2, C, seed, grid=grid)
        pair = f.witness_pair()
        assert pair is not None
        a, b = pair
        assert a.shape == b.shape == (1, 2)
        for x in (a, b):
            assert 0.0 <= x.min() and x.max() <= 1.0, (seed, x)
        assert not np.array_equal(a, b)
        assert _pair_ratio_lower(f, a, b) >= Fraction(C) * (1 - Fraction(1, 10**6)), seed


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("d", "L", "C", "grid"), [(2, 2, 6.0, 3), (1, 3, 0.5, 1)])
def test_enclosure_contains_the_float64_values(family: str, d: int, L: int, C: float,
                                               grid: int) -> None:
    """``enclose`` (exact or arb) and ``values`` (float64) describe the same function: the
    float64 value lies in the enclosure widened by the float64 tolerance table, entry by
    entry, shape included, at random points and the corners (relu_mlp at C = 6 clips there)."""
    tol = tolerance_for(torch.float64)
    f = make_target(family, d, L, C, 4, grid=grid)
    corners = np.array(list(itertools.product((0.0, 1.0), repeat=d * L))).reshape(-1, d, L)
    X = np.concatenate([np.random.default_rng(1).uniform(0.0, 1.0, (12, d, L)), corners])
    for x, v in zip(X, f.values(X), strict=True):
        lo, hi = f.enclose(_rat(x))
        assert len(lo) == len(hi) == d and all(len(r) == L for r in lo + hi)
        for i in range(d):
            for j in range(L):
                slack = Fraction(tol.bound(float(v[i, j])))
                assert lo[i][j] - slack <= Fraction(float(v[i, j])) <= hi[i][j] + slack


def test_enclose_refuses_a_point_of_the_wrong_shape() -> None:
    f = make_target("mcshane", 2, 2, 1.0, 0)
    for bad in ([[Fraction(0)] * 2] * 3, [[Fraction(0)] * 3] * 2, [[Fraction(0)] * 2]):
        with pytest.raises(InvalidArgument, match="expected a 2×2"):
            f.enclose(bad)


@pytest.mark.parametrize("seed", range(4))
def test_relu_mlp_constant_is_the_norm_product_and_its_centre_value_is_one_half(
        seed: int) -> None:
    """The proved constant: ``‖W_2‖_∞ ‖W_1‖_∞ ≤ C`` exactly in rationals; and ``f = 1/2`` at
    the cube's centre."""
    C = 2.5
    f = make_target("relu_mlp", 2, 2, C, seed)
    norm = [max(sum(abs(Fraction(float(v))) for v in row) for row in f.params[k])
            for k in ("w1", "w2")]
    assert norm[0] * norm[1] <= Fraction(C)
    centre = np.full((2, 2), 0.5)
    tol = tolerance_for(torch.float64)                       # b is rounded to float64
    assert np.abs(f.values(centre) - 0.5).max() <= tol.bound(0.5)


@pytest.mark.parametrize("seed", range(4))
def test_mcshane_is_zero_at_its_zero_data_point(seed: int) -> None:
    """The data point carrying value 0 (where C is attained) has ``f = 0`` on output 0."""
    f = make_target("mcshane", 1, 2, 1.5, seed)
    x = f.params["xs"][int(f.params["zero_point"])]
    lo, hi = f.enclose(_rat(x.reshape(1, 2)))
    assert lo[0][0] == hi[0][0] == 0


@pytest.mark.parametrize("seed", range(12))
def test_sinusoid_weights_prove_its_constant_exactly(seed: int) -> None:
    """The stored float64 parameters satisfy the proof in rationals: every row of ``w`` sums
    to at most 1 (``u`` is a convex combination) and ``Σ_r a_r ω_r <= C`` per output."""
    C = 1.7
    f = make_target("sinusoid", 2, 2, C, seed)
    p = {k: [[Fraction(float(v)) for v in row] for row in f.params[k]]
         for k in ("w", "a", "omega")}
    assert all(sum(row) <= 1 for row in p["w"])
    assert all(sum(a * o for a, o in zip(ra, ro, strict=True)) <= Fraction(C)
               for ra, ro in zip(p["a"], p["omega"], strict=True))


def test_values_are_computed_in_float64_whatever_the_input_dtype() -> None:
    """A float32 input is widened first: the sawtooth's tooth (Python-float arithmetic on the
    input alone) is not computed in float32."""
    f = make_target("sawtooth", 1, 2, 3.0, 0, grid=7)
    X = np.random.default_rng(0).uniform(0.0, 1.0, (5, 1, 2)).astype(np.float32)
    got = f.values(X)
    assert got.dtype == np.float64
    assert np.array_equal(got, f.values(X.astype(np.float64)))


def test_grid_is_required_and_recorded_for_sawtooth_only() -> None:
    """``grid`` has no default for the sawtooth (its period is ``2/K``), may be as large as
    ``2^20``, and is recorded as 0 by the other families, which ignore it."""
    with pytest.raises(InvalidArgument, match="grid=0"):
        make_target("sawtooth", 1, 1, 1.0, 0)
    assert make_target("sawtooth", 1, 1, 1.0, 0, grid=2**20).grid == 2**20
    for family in ("relu_mlp", "mcshane", "sinusoid"):
        assert make_target(family, 1, 1, 1.0, 0, grid=4).grid == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_parameters_are_read_only_float64_arrays(family: str) -> None:
    """Every stored parameter, integer indices included, is a read-only float64 array: a
    frozen target cannot be edited behind its proved constant."""
    f = make_target(family, 2, 1, 1.0, 3, grid=4)
    assert f.params
    for name, a in f.params.items():
        assert isinstance(a, np.ndarray) and a.dtype == np.float64, name
        assert not a.flags.writeable, name
        with pytest.raises(ValueError):
            a.flat[0] = 0.5
