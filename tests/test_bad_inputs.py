"""A table of bad inputs: each raises the documented error with a message naming the argument.

Python API cases raise :class:`InvalidArgument` (a ``ValueError``) or a subclass; CLI cases
exit non-zero with a one-line ``ptlimits: error:`` message and no traceback.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from core.attention import exact_attention
from core.errors import ConstructionTooLarge, InvalidArgument, NonFiniteError
from core.model import PromptTunedTransformer
from core.mp_twin import mp_forward
from core.validation import check_fits_in_memory
from core.weights import FeedForwardWeights, TransformerWeights
from properties.compare import compare_arrays
from properties.strategies import ModelInstance, build_model_case
from properties.tolerances import Tol, tolerance_for

F64 = torch.float64
_CASE = build_model_case(ModelInstance(seed=1, d=2, s=2, L=3, Lp=2))
_W = _CASE.weights
_MODEL = PromptTunedTransformer(_W)
_X = torch.tensor(_CASE.X)
_P = torch.tensor(_CASE.P)
_Q = torch.ones(2, 3, dtype=F64)
_K = torch.ones(2, 4, dtype=F64)
_V = torch.ones(1, 4, dtype=F64)


def _nan(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[0] = math.nan
    return t


def _weights(**kw: object) -> TransformerWeights:
    base: dict[str, object] = dict(w_q=_W.w_q, w_k=_W.w_k, w_v=_W.w_v, w_o=_W.w_o, beta=1.0)
    base.update(kw)
    return TransformerWeights(**base)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Bad:
    name: str
    call: Callable[[], object]
    error: type[Exception]
    fragment: str


CASES = [
    Bad("attention Q NaN", lambda: exact_attention(_nan(_Q), _K, _V, 1.0), NonFiniteError, "Q"),
    Bad("attention K inf", lambda: exact_attention(_Q, _K * math.inf, _V, 1.0),
        NonFiniteError, "K"),
    Bad("attention V NaN", lambda: exact_attention(_Q, _K, _nan(_V), 1.0), NonFiniteError, "V"),
    Bad("attention K wrong rows", lambda: exact_attention(_Q, torch.ones(3, 4, dtype=F64), _V,
                                                          1.0), InvalidArgument, "K="),
    Bad("attention V wrong cols", lambda: exact_attention(_Q, _K, torch.ones(1, 5, dtype=F64),
                                                          1.0), InvalidArgument, "V="),
    Bad("attention Q not 2-D", lambda: exact_attention(torch.ones(2, dtype=F64), _K, _V, 1.0),
        InvalidArgument, "Q="),
    Bad("attention int dtype", lambda: exact_attention(torch.ones(2, 3, dtype=torch.int64),
                                                       _K, _V, 1.0), InvalidArgument, "dtype"),
    Bad("attention mixed dtypes", lambda: exact_attention(_Q, _K.float(), _V, 1.0),
        InvalidArgument, "K="),
    Bad("attention numpy input", lambda: exact_attention(np.ones((2, 3)), _K, _V, 1.0),
        InvalidArgument, "Q="),
    Bad("attention beta zero", lambda: exact_attention(_Q, _K, _V, 0.0), InvalidArgument,
        "beta=0.0"),
    Bad("attention beta NaN", lambda: exact_attention(_Q, _K, _V, math.nan), NonFiniteError,
        "beta=nan"),
    Bad("attention beta string", lambda: exact_attention(_Q, _K, _V, "1"), InvalidArgument,
        "beta='1'"),
    Bad("attention last too large", lambda: exact_attention(_Q, _K, _V, 1.0, last=4),
        InvalidArgument, "last=4"),
    Bad("attention last negative", lambda: exact_attention(_Q, _K, _V, 1.0, last=-1),
        InvalidArgument, "last=-1"),
    Bad("attention chunk zero", lambda: exact_attention(_Q, _K, _V, 1.0, query_chunk=0),
        InvalidArgument, "query_chunk=0"),
    Bad("model X NaN", lambda: _MODEL(_nan(_X), _P), NonFiniteError, "X"),
    Bad("model P inf", lambda: _MODEL(_X, _P * math.inf), NonFiniteError, "P"),
    Bad("model X wrong d", lambda: _MODEL(torch.ones(3, 3, dtype=F64), _P), InvalidArgument,
        "X="),
    Bad("model X float32 into float64 model", lambda: _MODEL(_X.float(), _P), InvalidArgument,
        "dtype"),
    Bad("model X no tokens", lambda: _MODEL(torch.ones(2, 0, dtype=F64), _P), InvalidArgument,
        "L >= 1"),
    Bad("model P batched", lambda: _MODEL(_X, _P[None]), InvalidArgument, "P="),
    Bad("model X list", lambda: _MODEL([[0.0]], _P), InvalidArgument, "X="),
    Bad("model dtype float16", lambda: PromptTunedTransformer(_W, dtype=torch.float16),
        InvalidArgument, "dtype"),
    Bad("model weights not weights", lambda: PromptTunedTransformer({"w_q": 1}),
        InvalidArgument, "weights="),
    Bad("model positional length mismatch",
        lambda: PromptTunedTransformer(_weights(pos=np.zeros((2, 7))))(_X, _P),
        InvalidArgument, "positional encoding"),
    Bad("weights beta negative", lambda: _weights(beta=-1.0), InvalidArgument, "beta=-1.0"),
    Bad("weights w_k wrong shape", lambda: _weights(w_k=np.ones((3, 2))), InvalidArgument,
        "w_k"),
    Bad("weights w_o NaN", lambda: _weights(w_o=np.full((2, 2), np.nan)), InvalidArgument,
        "w_o"),
    Bad("weights ff wrong width", lambda: _weights(ff_pre=(FeedForwardWeights(
        np.ones((4, 3)), np.ones(4), np.ones((3, 4)), np.ones(3)),)), InvalidArgument,
        "ff_pre[0]"),
    Bad("weights ff not a layer", lambda: _weights(ff_post=("relu",)), InvalidArgument,
        "ff_post[0]"),
    Bad("ff b1 wrong length", lambda: FeedForwardWeights(np.ones((4, 2)), np.ones(3),
                                                         np.ones((2, 4)), np.ones(2)),
        InvalidArgument, "ff.b1"),
    Bad("twin dps too low", lambda: mp_forward(_W, _CASE.X, _CASE.P, dps=5), InvalidArgument,
        "dps=5"),
    Bad("twin dps not int", lambda: mp_forward(_W, _CASE.X, _CASE.P, dps=30.0),
        InvalidArgument, "dps=30.0"),
    Bad("oversized allocation", lambda: check_fits_in_memory("feature matrix", (2**20, 2**20),
                                                             8), ConstructionTooLarge,
        "feature matrix"),
    Bad("tolerance for float16", lambda: tolerance_for(torch.float16), InvalidArgument,
        "dtype=torch.float16"),
    Bad("compare shape mismatch", lambda: compare_arrays(np.ones(2), np.ones(3),
                                                         Tol(0, 0, "t")), InvalidArgument,
        "shape"),
]


# --- the kernel, the constructions, the bounds and the CLI join the same table -------------

def _plan():  # type: ignore[no-untyped-def]
    from core.kernels import plan_kernel
    from core.kernels.certify import certify_polynomial

    return plan_kernel(s=2, B=0.5, beta=0.5, eps=1e-6, certifier=certify_polynomial)


def _kernel(Q: torch.Tensor, plan: object = None) -> object:
    from core.kernels import polynomial_attention

    K = torch.full((2, 4), 0.25, dtype=F64)
    return polynomial_attention(Q, K, torch.ones(1, 4, dtype=F64), plan or _plan())


def _plan_with(**kw: object) -> object:
    from core.kernels import plan_kernel
    from core.kernels.certify import certify_polynomial

    args: dict[str, object] = dict(s=2, B=0.5, beta=0.5, eps=1e-6)
    args.update(kw)
    return plan_kernel(**args, certifier=certify_polynomial)  # type: ignore[arg-type]


def _cli(*args: str) -> object:
    from verify.cli import main

    code = main(list(args))
    if code == 2:
        raise InvalidArgument("cli exit 2")  # the one-line message is checked in test_cli
    return code


_Q = torch.full((2, 3), 0.25, dtype=F64)

CASES += [
    Bad("plan eps >= 1", lambda: _plan_with(eps=1.0), InvalidArgument, "eps=1.0"),
    Bad("plan eps zero", lambda: _plan_with(eps=0.0), InvalidArgument, "eps=0.0"),
    Bad("plan s zero", lambda: _plan_with(s=0), InvalidArgument, "s=0"),
    Bad("plan B negative", lambda: _plan_with(B=-1.0), InvalidArgument, "B=-1.0"),
    Bad("plan method unknown", lambda: _plan_with(method="pade"), InvalidArgument,
        "method='pade'"),
    Bad("kernel Q NaN", lambda: _kernel(_nan(_Q)), NonFiniteError, "Q"),
    Bad("kernel B outside the plan", lambda: _kernel(_Q * 40), InvalidArgument,
        "the plan was certified for"),
    Bad("kernel wrong head dimension", lambda: _kernel(torch.ones(3, 3, dtype=F64)),
        InvalidArgument, "Q="),
    Bad("kernel plan not a plan", lambda: _kernel(_Q, "plan"), InvalidArgument, "plan='plan'"),
    Bad("eps_for_error negative", lambda: __import__("core.kernels", fromlist=["x"])
        .eps_for_error(-1.0, 1.0), InvalidArgument, "delta=-1.0"),
    Bad("exp polynomial unknown method", lambda: __import__("core.kernels", fromlist=["x"])
        .exp_polynomial("pade", 3, 1.0), InvalidArgument, "method='pade'"),
    Bad("exp polynomial negative degree", lambda: __import__("core.kernels", fromlist=["x"])
        .exp_polynomial("taylor", -1, 1.0), InvalidArgument, "degree=-1"),
    Bad("feature rank negative s", lambda: __import__("core.kernels", fromlist=["x"])
        .feature_rank(-1, 2), InvalidArgument, "s=-1"),
    Bad("universal eps zero", lambda: __import__("core.constructions", fromlist=["x"])
        .build_universal(1, 1, 1.0, 0.0), InvalidArgument, "eps=0.0"),
    Bad("universal too large", lambda: __import__("core.constructions", fromlist=["x"])
        .build_universal(3, 3, 1.0, 0.01), ConstructionTooLarge, "needs K="),
    Bad("universal p zero", lambda: __import__("core.constructions", fromlist=["x"])
        .build_universal(1, 1, 1.0, 0.3, 0), InvalidArgument, "p=0"),
    Bad("target family unknown", lambda: __import__("core.lipschitz", fromlist=["x"])
        .make_target("spline", 1, 1, 1.0, 0), InvalidArgument, "family='spline'"),
    Bad("target C negative", lambda: __import__("core.lipschitz", fromlist=["x"])
        .make_target("mcshane", 1, 1, -1.0, 0), InvalidArgument, "C=-1.0"),
    Bad("bound eps above one half", lambda: __import__("core.bounds", fromlist=["x"])
        .cells_per_coordinate(1, 0.75), InvalidArgument, "eps=0.75"),
    Bad("bound K one", lambda: __import__("core.bounds", fromlist=["x"])
        .min_prompt_length_exact(4, 1, 1), InvalidArgument, "K=1"),
    Bad("cli unknown claim", lambda: _cli("audit", "--claims", "nope_*", "--out", "/tmp"),
        InvalidArgument, "cli exit 2"),
    Bad("cli negative draws", lambda: _cli("audit", "--claims", "readout_*", "--draws", "-1",
                                           "--out", "/tmp"), InvalidArgument, "cli exit 2"),
    Bad("cli bad executor", lambda: _cli("audit", "--claims", "readout_*", "--executor",
                                         "ray://x:1", "--out", "/tmp", "--no-html"),
        InvalidArgument, "cli exit 2"),
    Bad("cli zero jobs", lambda: _cli("audit", "--claims", "readout_*", "--jobs", "0",
                                      "--out", "/tmp", "--no-html"),
        InvalidArgument, "cli exit 2"),
    Bad("cli reproduce unknown claim", lambda: _cli("reproduce", "nope", "{}"),
        InvalidArgument, "cli exit 2"),
    Bad("cli reproduce bad JSON", lambda: _cli("reproduce", "readout_is_last_l_columns", "{"),
        InvalidArgument, "cli exit 2"),
    Bad("cli regress missing baseline", lambda: _cli("regress", "--baseline", "/nonexistent"),
        InvalidArgument, "cli exit 2"),
    Bad("cli bench-json missing", lambda: _cli("audit", "--claims", "readout_*",
                                               "--bench-json", "/nonexistent.json",
                                               "--out", "/tmp", "--no-html"),
        InvalidArgument, "cli exit 2"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_raises_documented_error(case: Bad) -> None:
    with pytest.raises(case.error) as info:
        case.call()
    assert case.fragment in str(info.value), str(info.value)


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 60 and len({c.name for c in CASES}) == len(CASES)


def test_too_large_error_carries_sizes() -> None:
    with pytest.raises(ConstructionTooLarge) as info:
        check_fits_in_memory("table", (10**6, 10**6), 8, limit=2**30)
    assert info.value.required == 8 * 10**12 and info.value.limit == 2**30


def test_short_repr_keeps_80_characters_and_marks_the_cut() -> None:
    """Error messages quote a value's repr up to 80 characters; a longer one is cut to 77
    plus ``...`` (80 in all), and a tensor is named by shape and dtype."""
    from core.validation import short_repr

    exact = "x" * 78                          # repr adds two quotes: 80 characters
    assert short_repr(exact) == repr(exact)
    long = "y" * 79                           # 81 characters
    assert short_repr(long) == repr(long)[:77] + "..." and len(short_repr(long)) == 80
    assert short_repr(list(range(5)), limit=8) == "[0, 1..."
    assert short_repr(torch.zeros(2, 3)) == "tensor(shape=(2, 3), dtype=torch.float32)"


def test_nonfinite_message_names_the_step_only_when_there_is_one() -> None:
    """``check_finite_tensor``: the first bad index and value, and ``produced by step S``
    only when a step is given."""
    from core.validation import check_finite_tensor

    t = torch.tensor([[1.0, float("inf")], [0.0, float("nan")]])
    with pytest.raises(NonFiniteError) as plain:
        check_finite_tensor("Z", t)
    assert str(plain.value) == ("Z contains NaN or inf (first at index (0, 1), value inf); "
                                "all entries must be finite")
    with pytest.raises(NonFiniteError) as stepped:
        check_finite_tensor("Z", t, step="ff_pre0")
    assert str(stepped.value).startswith("Z produced by step 'ff_pre0' contains NaN or inf")
    check_finite_tensor("Z", torch.zeros(2, 2))
