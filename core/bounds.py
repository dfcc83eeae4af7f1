"""Capacity lower bound of prompt tuning (docs/theory.md §2, claim LB; our formalisation).

The counting argument, with the constants we verify:

* **Packing.** Split each of the ``d·L`` input coordinates of ``[0,1]^{d×L}`` into
  ``m = ⌊C/(2ε)⌋`` intervals of width ``h = 1/m ≥ 2ε/C``. On each of the ``M = m^{dL}`` cells
  put a tent bump of height ``ε`` and slope ``C`` in the max norm; for every sign pattern
  ``σ ∈ {±1}^M`` the target ``f_σ = 1/2 + Σ_c σ_c·bump_c`` (all output coordinates) is
  C-Lipschitz with values in ``[0, 1]`` (``ε ≤ 1/2``). Two distinct members differ by ``2ε``
  at the centre of a cell where their signs differ, so no function is within distance ``< ε``
  of two of them: the class needs ``2^M`` distinguishable behaviours (:mod:`core.packing`
  builds it).
* **Counting.** If τ_P depends on each prompt coordinate only through ``K`` levels, prompts
  of length ``L_p`` give at most ``K^{d·L_p}`` functions, so approximating every member
  needs ``K^{d·L_p} ≥ 2^M``, i.e. ``L_p ≥ M / (d·log₂K)`` — exponential in ``d·L`` and
  growing with ``1/ε``.

Every formula is generic over the number type: ``float``, ``mpmath.mpf`` and exact
integers/``Fraction`` (:func:`min_prompt_length_exact` decides the integer inequality
exactly).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import mpmath

from .errors import InvalidArgument
from .validation import check_int, check_real

__all__ = [
    "as_fraction",
    "cells_per_coordinate",
    "least_power_reaching",
    "lower_bound_real",
    "min_prompt_length_exact",
    "mp_log2",
    "packing_bits",
]

#: Largest packing exponent ``M`` the exact integer path accepts (``2^M`` is built).
MAX_EXACT_BITS = 10**6


def as_fraction(name: str, value: float | int | Fraction) -> Fraction:
    """``value`` as an exact Fraction; a float is read as the decimal it prints as.

    So ``0.1`` means ``1/10`` (what the user typed), not the binary float nearest to it.
    """
    if isinstance(value, Fraction):
        return value
    check_real(name, value)             # refuses bools, non-numbers, NaN and inf by name
    return Fraction(repr(float(value))) if isinstance(value, float) else Fraction(value)


def cells_per_coordinate(C: float | Fraction, eps: float | Fraction) -> int:
    """``m = ⌊C/(2ε)⌋``, computed exactly; ``C > 0`` and ``0 < ε <= 1/2``.

    (Bumps of height ε must keep values in ``[0, 1]``.)
    """
    c, e = as_fraction("C", C), as_fraction("eps", eps)
    if c <= 0:
        raise InvalidArgument(f"C={C!r}: must be > 0")
    if not 0 < e <= Fraction(1, 2):
        raise InvalidArgument(f"eps={eps!r}: must be in (0, 1/2]")
    return math.floor(c / (2 * e))


def packing_bits(d: int, L: int, C: float | Fraction, eps: float | Fraction) -> int:
    """``M = m^{d·L}``: log₂ of the packing's size (one sign bit per cell)."""
    d = check_int("d", d, minimum=1)
    L = check_int("L", L, minimum=1)
    return cells_per_coordinate(C, eps) ** (d * L)


def lower_bound_real(M: Any, d: Any, K: Any, *, log2: Any = math.log2) -> Any:
    """``M / (d·log₂K)`` in the number type of the arguments.

    Pass ``log2=lambda k: mpmath.log(k, 2)`` for mpmath, or use the exact integer path
    :func:`min_prompt_length_exact`.
    """
    return M / (d * log2(K))


def mp_log2(k: Any) -> Any:
    """``log₂ k`` in the current mpmath precision."""
    return mpmath.log(k, 2)


def min_prompt_length_exact(M: int, d: int, K: int) -> int:
    """The least integer ``L_p >= 0`` with ``K^{d·L_p} >= 2^M``, decided in exact integers.

    A float estimate picks the starting point; exact integer powers then step it down and up
    to the least solution, so the result involves no rounding (evidence ``certified``).
    """
    M = check_int("M", M, minimum=0, maximum=MAX_EXACT_BITS)
    d = check_int("d", d, minimum=1)
    K = check_int("K", K, minimum=2)
    per_token = K ** d
    return least_power_reaching(per_token, M, start=math.ceil(M / math.log2(per_token)))


def least_power_reaching(base: int, M: int, *, start: int) -> int:
    """The least integer ``e >= 0`` with ``base^e >= 2^M``, searched exactly from ``start``.

    Any ``start >= 0`` gives the same answer (a good one saves steps): exact integer powers
    step down while the power one below still reaches ``2^M``, then up while it falls short.
    """
    base = check_int("base", base, minimum=2)
    M = check_int("M", M, minimum=0)
    e = check_int("start", start, minimum=0)
    target = 1 << M
    while e > 0 and base ** (e - 1) >= target:
        e -= 1
    while base ** e < target:
        e += 1
    return e
