"""Every validated argument of the public API, at the edges of what it allows.

For each row: the documented extreme values are accepted, the first value past each extreme
is refused with :class:`InvalidArgument` whose message starts with ``name=`` (the argument's
own name, as the bad-input convention promises), and a value of the wrong type is refused
the same way. Complements the bad-input table (tests/test_bad_inputs.py), which samples the
API across modules; this one walks each argument's range, which is what catches an
off-by-one limit or a message that names the wrong argument (mutation testing, issue 7).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from core.attention import exact_attention
from core.bounds import least_power_reaching, min_prompt_length_exact, packing_bits
from core.constructions.contextual import contextual_separation
from core.constructions.memorise import memorisation_lower_bound, memorisation_request
from core.constructions.sizes import plan_universal
from core.errors import InvalidArgument
from core.kernels.certify import certify_polynomial
from core.kernels.features import feature_rank, loose_rank
from core.kernels.peers import favor_plus_attention, sdpa_attention
from core.kernels.phase import log_rank_over_n
from core.kernels.plan import plan_kernel
from core.kernels.polynomial import (
    MAX_DEGREE,
    aggarwal_alman_degree,
    exp_polynomial,
    float64_cancellation,
    taylor_degree,
    taylor_remainder_bound,
)
from core.kernels.regime import eps_for_error, lemma_bound, score_radius
from core.lipschitz import make_target
from core.packing import BumpPacking

NEXT_BELOW_1 = math.nextafter(1.0, 0.0)


@dataclass(frozen=True)
class Arg:
    """``call(**{**base, name: value})`` accepts every ``ok`` value and refuses every ``bad``
    one with a message starting ``name=``."""

    label: str
    call: Callable[..., Any]
    base: dict[str, Any]
    name: str
    ok: tuple[Any, ...]
    bad: tuple[Any, ...]

    def __call__(self, value: Any) -> Any:
        return self.call(**{**self.base, self.name: value})


def _qkv(m: int = 3, d: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {k: torch.rand(d, m, generator=g, dtype=torch.float64) - 0.5 for k in "QKV"}


ATTN = {**_qkv(), "beta": 0.5}
PLAN = {"s": 2, "B": 0.5, "beta": 0.5, "eps": 1e-3, "certifier": certify_polynomial}

ARGS: tuple[Arg, ...] = (
    # core.bounds
    Arg("packing_bits", packing_bits, {"d": 1, "L": 1, "C": 1, "eps": 0.25}, "d", (1,), (0, 1.0)),
    Arg("packing_bits", packing_bits, {"d": 1, "L": 1, "C": 1, "eps": 0.25}, "L", (1,), (0,)),
    Arg("packing_bits", packing_bits, {"d": 1, "L": 1, "C": 1, "eps": 0.25}, "C",
        (1e-300, 3), (0, -1)),
    Arg("packing_bits", packing_bits, {"d": 1, "L": 1, "C": 1, "eps": 0.25}, "eps",
        (0.5, 1e-3), (0.0, 0.5000001, True)),
    # core.packing
    Arg("BumpPacking", BumpPacking, {"d": 1, "L": 1, "C": 1, "eps": 0.25}, "d", (1,), (0, 1.0)),
    Arg("BumpPacking", BumpPacking, {"d": 1, "L": 1, "C": 1, "eps": 0.25}, "L", (1,), (0, 1.0)),
    Arg("min_prompt_length_exact", min_prompt_length_exact, {"M": 3, "d": 1, "K": 2}, "M",
        (0, 10**6), (-1, 10**6 + 1)),
    Arg("min_prompt_length_exact", min_prompt_length_exact, {"M": 3, "d": 1, "K": 2}, "d",
        (1,), (0,)),
    Arg("min_prompt_length_exact", min_prompt_length_exact, {"M": 3, "d": 1, "K": 2}, "K",
        (2,), (1, 2.0)),
    Arg("least_power_reaching", least_power_reaching, {"base": 2, "M": 3, "start": 0},
        "start", (0, 9), (-1,)),
    # core.kernels.plan
    Arg("score_radius", score_radius, {"s": 1, "B": 1.0, "beta": 1.0}, "s", (1,), (0,)),
    Arg("score_radius", score_radius, {"s": 1, "B": 1.0, "beta": 1.0}, "B", (0.0,), (-1e-300,)),
    Arg("score_radius", score_radius, {"s": 1, "B": 1.0, "beta": 1.0}, "beta",
        (1e-300,), (0.0, -1.0)),
    Arg("lemma_bound", lemma_bound, {"eps": 0.5, "v_max": 1.0}, "eps",
        (0.0, NEXT_BELOW_1), (1.0, -1e-300)),
    Arg("lemma_bound", lemma_bound, {"eps": 0.5, "v_max": 1.0}, "v_max", (0.0,), (-1e-300,)),
    Arg("eps_for_error", eps_for_error, {"delta": 1e-3, "v_max": 1.0}, "delta",
        (1e-300, 1e300), (0.0, -1.0)),
    Arg("eps_for_error", eps_for_error, {"delta": 1e-3, "v_max": 1.0}, "v_max",
        (1e-300, 1e300), (0.0, -1.0)),
    Arg("plan_kernel", plan_kernel, PLAN, "s", (1,), (0,)),
    Arg("plan_kernel", plan_kernel, PLAN, "B", (0.0,), (-1e-300,)),
    Arg("plan_kernel", plan_kernel, PLAN, "beta", (1e-300,), (0.0,)),
    Arg("plan_kernel", plan_kernel, PLAN, "eps", (0.5,), (0.0, 1.0)),
    Arg("plan_kernel", plan_kernel, {**PLAN, "B": 0.0}, "max_degree", (0,), (-1,)),
    Arg("plan_kernel", plan_kernel, PLAN, "method", ("taylor", "chebyshev"), ("Taylor",)),
    # core.kernels.polynomial / features / phase
    Arg("exp_polynomial", exp_polynomial, {"method": "taylor", "degree": 2, "radius": 1.0},
        "degree", (0, MAX_DEGREE), (-1, MAX_DEGREE + 1)),
    Arg("exp_polynomial", exp_polynomial, {"method": "taylor", "degree": 2, "radius": 1.0},
        "radius", (0.0,), (-1e-300,)),
    Arg("taylor_remainder_bound", taylor_remainder_bound, {"degree": 2, "radius": 1.0},
        "degree", (0,), (-1,)),
    Arg("taylor_remainder_bound", taylor_remainder_bound, {"degree": 2, "radius": 1.0},
        "radius", (0.0,), (-1e-300,)),
    Arg("aggarwal_alman_degree", aggarwal_alman_degree, {"radius": 1.0, "eps": 1e-3},
        "radius", (0.0,), (-1e-300,)),
    Arg("float64_cancellation", float64_cancellation, {"radius": 1.0}, "radius",
        (0.0,), (-1e-300,)),
    Arg("feature_rank", feature_rank, {"s": 2, "g": 2}, "s", (1,), (0,)),
    Arg("feature_rank", feature_rank, {"s": 2, "g": 2}, "g", (0,), (-1,)),
    Arg("loose_rank", loose_rank, {"s": 2, "g": 2}, "s", (1,), (0,)),
    Arg("loose_rank", loose_rank, {"s": 2, "g": 2}, "g", (0,), (-1,)),
    Arg("taylor_degree", taylor_degree, {"radius": 1.0, "log_inv_eps": 5.0},
        "radius", (0.0,), (-1e-300,)),
    Arg("taylor_degree", taylor_degree, {"radius": 1.0, "log_inv_eps": 5.0},
        "log_inv_eps", (1e-300,), (0.0,)),
    Arg("log_rank_over_n", log_rank_over_n, {"log2_n": 10.0, "B": 0.5, "s": 2}, "log2_n",
        (1.0,), (math.nextafter(1.0, 0.0),)),
    Arg("log_rank_over_n", log_rank_over_n, {"log2_n": 10.0, "B": 0.5, "s": 2}, "B",
        (0.0,), (-1e-300,)),
    Arg("log_rank_over_n", log_rank_over_n, {"log2_n": 10.0, "B": 0.5, "s": 2}, "s",
        (1,), (0,)),
    # attention and its peers
    Arg("exact_attention", exact_attention, ATTN, "beta", (1e-300,), (0.0,)),
    Arg("exact_attention", exact_attention, ATTN, "query_chunk", (1,), (0,)),
    Arg("exact_attention", exact_attention, ATTN, "last", (1, 3, None), (0, 4)),
    Arg("sdpa_attention", sdpa_attention, ATTN, "beta", (1e-300,), (0.0,)),
    Arg("sdpa_attention", sdpa_attention, ATTN, "query_chunk", (1,), (0,)),
    Arg("sdpa_attention", sdpa_attention, ATTN, "last", (1, 3), (0, 4)),
    Arg("favor_plus_attention", favor_plus_attention, {**ATTN, "num_features": 4}, "beta",
        (1e-3,), (0.0,)),
    Arg("favor_plus_attention", favor_plus_attention, {**ATTN, "num_features": 4},
        "num_features", (1,), (0,)),
    Arg("favor_plus_attention", favor_plus_attention, {**ATTN, "num_features": 4}, "chunk",
        (1,), (0,)),
    Arg("favor_plus_attention", favor_plus_attention, {**ATTN, "num_features": 4}, "last",
        (1, 3), (0, 4)),
    # constructions and targets
    Arg("plan_universal", plan_universal, {"d": 1, "L": 1, "C": 1.0, "eps": 0.3}, "d",
        (1,), (0, 5)),
    Arg("plan_universal", plan_universal, {"d": 1, "L": 1, "C": 1.0, "eps": 0.3}, "L",
        (1,), (0, 5)),
    Arg("plan_universal", plan_universal, {"d": 1, "L": 1, "C": 1.0, "eps": 0.3}, "C",
        (0.5,), (0.0, 64.5)),
    Arg("plan_universal", plan_universal, {"d": 1, "L": 1, "C": 1.0, "eps": 0.3}, "eps",
        (0.9,), (0.0, 1.0)),
    Arg("plan_universal", plan_universal, {"d": 1, "L": 1, "C": 1.0, "eps": 0.3}, "p",
        (1, 16), (0, 17)),
    Arg("memorisation_request", memorisation_request, {"N": 2, "d": 1, "L": 1}, "N",
        (1,), (0,)),
    Arg("memorisation_request", memorisation_request, {"N": 2, "d": 1, "L": 1}, "d",
        (1,), (0, 5)),
    Arg("memorisation_request", memorisation_request, {"N": 2, "d": 1, "L": 1}, "L",
        (1,), (0, 5)),
    Arg("memorisation_lower_bound", memorisation_lower_bound,
        {"N": 2, "d": 1, "L": 1, "M": 4, "bits": 2}, "N", (1,), (0,)),
    Arg("memorisation_lower_bound", memorisation_lower_bound,
        {"N": 2, "d": 1, "L": 1, "M": 4, "bits": 2}, "d", (1,), (0,)),
    Arg("memorisation_lower_bound", memorisation_lower_bound,
        {"N": 2, "d": 1, "L": 1, "M": 4, "bits": 2}, "L", (1,), (0,)),
    Arg("memorisation_lower_bound", memorisation_lower_bound,
        {"N": 2, "d": 1, "L": 1, "M": 4, "bits": 2}, "M", (1,), (0,)),
    Arg("memorisation_lower_bound", memorisation_lower_bound,
        {"N": 2, "d": 1, "L": 1, "M": 4, "bits": 2}, "bits", (1,), (0,)),
    Arg("make_target", make_target, {"family": "sinusoid", "d": 1, "L": 1, "C": 1.0, "seed": 0},
        "d", (1, 8), (0, 9)),
    Arg("make_target", make_target, {"family": "sinusoid", "d": 1, "L": 1, "C": 1.0, "seed": 0},
        "L", (1, 8), (0, 9)),
    Arg("make_target", make_target, {"family": "sinusoid", "d": 1, "L": 1, "C": 1.0, "seed": 0},
        "C", (64.0,), (0.0, 64.5)),
    Arg("make_target", make_target, {"family": "sinusoid", "d": 1, "L": 1, "C": 1.0, "seed": 0},
        "seed", (0, 2**63 - 1), (-1, 2**63)),
    Arg("contextual_separation", contextual_separation,
        {"d": 2, "L": 1, "Lp": 1, "vocab_x": 2, "vocab_p": 2, "rank": 1, "seed": 0}, "rank",
        (1, 2), (0, 3)),
    Arg("contextual_separation", contextual_separation,
        {"d": 2, "L": 1, "Lp": 1, "vocab_x": 2, "vocab_p": 2, "rank": 1, "seed": 0}, "Lp",
        (0,), (-1, 4)),
)


def _id(a: Arg) -> str:
    return f"{a.label}-{a.name}"


@pytest.mark.parametrize("arg", ARGS, ids=_id)
def test_edges_of_the_allowed_range_are_accepted(arg: Arg) -> None:
    for value in arg.ok:
        arg(value)


@pytest.mark.parametrize("arg", ARGS, ids=_id)
def test_first_value_outside_is_refused_by_name(arg: Arg) -> None:
    for value in arg.bad:
        with pytest.raises(InvalidArgument) as info:
            arg(value)
        assert str(info.value).startswith(f"{arg.name}="), str(info.value)


@pytest.mark.parametrize("arg", [a for a in ARGS if a.name not in ("method",)], ids=_id)
def test_wrong_type_is_refused_by_name(arg: Arg) -> None:
    with pytest.raises(InvalidArgument) as info:
        arg("1")
    assert str(info.value).startswith(f"{arg.name}="), str(info.value)


def test_nonfinite_reals_are_refused_by_name() -> None:
    for arg in ARGS:
        if not isinstance(arg.ok[0], float):
            continue
        for value in (float("nan"), float("inf")):
            with pytest.raises(InvalidArgument) as info:
                arg(value)
            assert str(info.value).startswith(f"{arg.name}="), (arg.label, str(info.value))



def test_range_refusals_state_whether_the_end_is_allowed() -> None:
    """``check_real`` says ``>=``/``<=`` for a closed end and ``>``/``<`` for an open one,
    so a refusal tells the caller whether the end itself is allowed."""
    from core.errors import InvalidArgument
    from core.validation import check_real

    cases = [(dict(low=0.0), -1.0, "x=-1.0: must be >= 0.0"),
             (dict(low=0.0, low_open=True), 0.0, "x=0.0: must be > 0.0"),
             (dict(high=1.0), 2.0, "x=2.0: must be <= 1.0"),
             (dict(high=1.0, high_open=True), 1.0, "x=1.0: must be < 1.0")]
    for bounds, value, message in cases:
        with pytest.raises(InvalidArgument) as info:
            check_real("x", value, **bounds)
        assert str(info.value) == message
    assert check_real("x", 0.0, low=0.0) == 0.0 and check_real("x", 1, high=1.0) == 1.0
