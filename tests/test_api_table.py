"""Bad arguments to public functions of core, properties and verify: each raises
:class:`InvalidArgument` (or a subclass) whose message starts with the argument's name
(``name=``), and nothing was started or allocated first (no worker process, no output file,
little Python memory).

Complements tests/test_bad_inputs.py and tests/test_argument_contracts.py (their cases are
not repeated): booleans where integers are meant, wrong kinds of objects, empty selections,
reports that are not reports, executor specs and the audit's options. Also: a claim that
measured zero instances is an ``error``, never a ``pass``.
"""

from __future__ import annotations

import math
import multiprocessing
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from core.attention import exact_attention
from core.constructions import build_universal, plan_universal
from core.errors import InvalidArgument, NonFiniteError
from core.kernels import (
    KernelRegime,
    error_target,
    favor_plus_attention,
    feature_rank,
    plan_for,
    plan_kernel,
)
from core.kernels.certify import certify_polynomial
from core.model import PromptTunedTransformer
from core.weights import TransformerWeights
from properties.claim import Claim, Outcome
from properties.registry import get_claim, select_claims
from properties.strategies import ModelInstance, build_model_case
from verify.audit import AuditOptions, claim_seed, run_audit, summarise
from verify.executors import open_executor, parse_executor
from verify.regress import compare_reports, load_report
from verify.report.load import (
    check_against_schema,
    check_output_file,
    load_benchmark,
    load_capacity,
    load_regime_json,
    read_json,
)

F64 = torch.float64
_W = build_model_case(ModelInstance(seed=1, d=2, s=2, L=3, Lp=2)).weights
_Q = torch.full((2, 3), 0.25, dtype=F64)
_K = torch.full((2, 4), 0.25, dtype=F64)
_V = torch.ones(1, 4, dtype=F64)
_REGIME = KernelRegime(s=2, beta=0.5, B=0.5, delta_F=1e-3)
_GOOD: dict[str, Any] = {}


def _good() -> dict[str, Any]:
    if not _GOOD:
        _GOOD.update(run_audit([get_claim("readout_is_last_l_columns")],
                               AuditOptions(seed=0, draws=0, jobs=1)))
    return _GOOD


def _enter(spec: str, jobs: int | None = None) -> None:
    with open_executor(spec, jobs):
        pass


@dataclass(frozen=True)
class Api:
    name: str
    call: Callable[[], object]
    argument: str
    error: type[Exception] = InvalidArgument


CASES = [
    # core.kernels: the regime record, the error target, plans
    Api("KernelRegime s a bool", lambda: KernelRegime(s=True, beta=1.0, B=1.0), "s"),
    Api("KernelRegime s a string", lambda: KernelRegime(s="2", beta=1.0, B=1.0), "s"),
    Api("KernelRegime beta NaN", lambda: KernelRegime(s=2, beta=math.nan, B=1.0), "beta",
        NonFiniteError),
    Api("KernelRegime B infinite", lambda: KernelRegime(s=2, beta=1.0, B=math.inf), "B",
        NonFiniteError),
    Api("KernelRegime delta_F zero", lambda: KernelRegime(s=2, beta=1.0, B=1.0, delta_F=0.0),
        "delta_F"),
    Api("KernelRegime v_max negative", lambda: KernelRegime(s=2, beta=1.0, B=1.0,
                                                            v_max=-1.0), "v_max"),
    Api("KernelRegime n a float", lambda: KernelRegime(s=2, beta=1.0, B=1.0, n=2.5), "n"),
    Api("KernelRegime eps without a target", lambda: KernelRegime(s=2, beta=1.0, B=1.0).eps,
        "delta_F"),
    Api("error_target neither", lambda: error_target(), "delta"),
    Api("error_target both", lambda: error_target(1e-3, log_inv_delta=5.0), "delta"),
    Api("error_target log_inv_delta negative", lambda: error_target(log_inv_delta=-1.0),
        "log_inv_delta"),
    Api("error_target delta a string", lambda: error_target("1e-3"), "delta"),
    Api("error_target v_max zero", lambda: error_target(1e-3, v_max=0.0), "v_max"),
    Api("plan_for not a regime", lambda: plan_for("regime"), "regime"),  # type: ignore[arg-type]
    Api("plan_kernel s a bool", lambda: plan_kernel(s=True, B=0.5, beta=0.5, eps=1e-3,
                                                    certifier=certify_polynomial), "s"),
    Api("plan_kernel certifier None", lambda: plan_kernel(s=2, B=0.5, beta=0.5, eps=1e-3,
                                                          certifier=None), "certifier"),
    Api("feature_rank g a bool", lambda: feature_rank(2, True), "g"),
    # core.attention and the peers
    Api("exact_attention beta a bool", lambda: exact_attention(_Q, _K, _V, True), "beta"),
    Api("exact_attention last a bool", lambda: exact_attention(_Q, _K, _V, 1.0, last=True),
        "last"),
    Api("exact_attention query_chunk a bool",
        lambda: exact_attention(_Q, _K, _V, 1.0, query_chunk=True), "query_chunk"),
    Api("exact_attention Q 3-D", lambda: exact_attention(_Q[None], _K, _V, 1.0), "Q"),
    Api("exact_attention no keys", lambda: exact_attention(_Q, _K[:, :0], _V[:, :0], 1.0), "K"),
    Api("favor_plus num_features a bool",
        lambda: favor_plus_attention(_Q, _K, _V, 0.5, num_features=True), "num_features"),
    # core.model and the constructions
    Api("PromptTunedTransformer dtype a string",
        lambda: PromptTunedTransformer(_W, dtype="float64"), "dtype"),  # type: ignore[arg-type]
    Api("PromptTunedTransformer P of the wrong d",
        lambda: PromptTunedTransformer(_W)(torch.zeros(2, 3, dtype=F64),
                                           torch.zeros(3, 2, dtype=F64)), "P"),
    Api("TransformerWeights beta a bool",
        lambda: TransformerWeights(w_q=_W.w_q, w_k=_W.w_k, w_v=_W.w_v, w_o=_W.w_o,
                                   beta=True), "beta"),
    Api("build_universal d zero", lambda: build_universal(0, 1, 1.0, 0.3), "d"),
    Api("build_universal d a bool", lambda: build_universal(True, 1, 1.0, 0.3), "d"),
    Api("build_universal eps NaN", lambda: build_universal(1, 1, 1.0, math.nan), "eps",
        NonFiniteError),
    Api("build_universal p a string", lambda: build_universal(1, 1, 1.0, 0.3, "2"), "p"),
    Api("plan_universal form unknown", lambda: plan_universal(1, 1, 1.0, 0.3, form="x"), "form"),
    # properties.registry
    Api("select_claims an int", lambda: select_claims(5), "claims"),  # type: ignore[arg-type]
    Api("select_claims a list", lambda: select_claims(["readout_*"]), "claims"),  # type: ignore[arg-type]
    Api("select_claims a typo", lambda: select_claims("readot_*"), "claims"),
    Api("get_claim an int", lambda: get_claim(5), "claim_id"),  # type: ignore[arg-type]
    # verify.regress
    Api("compare_reports an empty baseline", lambda: compare_reports({}, _good()), "baseline"),
    Api("compare_reports a list", lambda: compare_reports([], _good()), "baseline"),  # type: ignore[arg-type]
    Api("compare_reports claims not a list",
        lambda: compare_reports(_good(), {**_good(), "claims": 5}), "current"),
    Api("compare_reports margin a string",
        lambda: compare_reports(_good(), _good(), margin_threshold="x"), "margin_threshold"),  # type: ignore[arg-type]
    Api("compare_reports bench_noise a bool",
        lambda: compare_reports(_good(), _good(), bench_noise=True), "bench_noise"),
    Api("load_report a directory", lambda: load_report("baseline", Path("/tmp")), "baseline"),
    # verify.report.load
    Api("load_benchmark a directory", lambda: load_benchmark(Path("/tmp")), "--bench-json"),
    Api("load_capacity /dev/null", lambda: load_capacity(Path("/dev/null")), "--capacity-json"),
    Api("load_regime_json missing", lambda: load_regime_json(Path("/nonexistent/r.json")),
        "--regime-json"),
    Api("read_json missing", lambda: read_json("source", Path("/nonexistent.json")), "source"),
    Api("check_against_schema not an object",
        lambda: check_against_schema("payload", None, 5, "bench-kernel"), "payload"),
    Api("check_output_file a directory", lambda: check_output_file("out", Path("/tmp")), "out"),
    # verify.audit and verify.executors
    Api("AuditOptions draws over the ceiling", lambda: AuditOptions(draws=10**6), "draws"),
    Api("AuditOptions draws a bool", lambda: AuditOptions(draws=True), "draws"),
    Api("AuditOptions jobs zero", lambda: AuditOptions(jobs=0), "jobs"),
    Api("AuditOptions executor port zero", lambda: AuditOptions(executor="dask://h:0"),
        "executor"),
    Api("AuditOptions seed a string", lambda: AuditOptions(seed="1"), "seed"),  # type: ignore[arg-type]
    Api("AuditOptions profile unknown", lambda: AuditOptions(profile="fast"), "profile"),
    Api("run_audit no claims", lambda: run_audit([], AuditOptions(draws=0, jobs=1)), "claims"),
    Api("run_audit ids instead of claims",
        lambda: run_audit(["readout_is_last_l_columns"], AuditOptions(draws=0, jobs=1)),  # type: ignore[list-item]
        "claims"),
    Api("claim_seed seed a string", lambda: claim_seed("x", "a"), "seed"),  # type: ignore[arg-type]
    Api("claim_seed id an int", lambda: claim_seed(0, 5), "claim_id"),  # type: ignore[arg-type]
    Api("open_executor dask port zero", lambda: _enter("dask://h:0"), "executor"),
    Api("open_executor dask no port", lambda: _enter("dask://scheduler"), "executor"),
    Api("open_executor jobs zero", lambda: _enter("local", 0), "jobs"),
    Api("open_executor jobs a million", lambda: _enter("local", 10**6), "jobs"),
    Api("parse_executor not a string", lambda: parse_executor(5), "executor"),
]


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_argument_is_refused_by_name_before_any_work(case: Api) -> None:
    _good()    # built outside the measurement below
    children = set(multiprocessing.active_children())
    tracemalloc.start()
    try:
        with pytest.raises(case.error) as info:
            case.call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(info.value).startswith(f"{case.argument}="), str(info.value)
    assert set(multiprocessing.active_children()) == children   # no worker was started
    assert peak < 64 * 2**20, f"{peak / 2**20:.1f} MiB allocated before refusing"


# --- zero instances is never a pass ---------------------------------------------------------

def _claim_without_instances(conditional: str | None = None) -> Claim:
    template = get_claim("readout_is_last_l_columns")
    return Claim(
        id="no_instances_at_all", theory_ref="MODEL", paper_ref=template.paper_ref,
        statement="Nothing is measured here.", evidence="sampled",
        instance_type=template.instance_type, strategy=template.strategy,
        reference_points=lambda: (), measure=lambda _: Outcome(0.0, 1.0),
        bound_source="none", conditional=conditional)


def test_zero_instances_is_an_error_with_a_reason() -> None:
    entry = summarise(_claim_without_instances(), [], None, 0.0)
    assert entry["status"] == "error" and entry["n_checked"] == 0
    assert "zero instances" in entry["reason"]


def test_zero_instances_of_a_conditional_claim_is_a_skip() -> None:
    entry = summarise(_claim_without_instances("rests on SETH"), [], None, 0.0)
    assert entry["status"] == "skip" and entry["reason"] == "rests on SETH"


def test_audit_of_a_claim_with_nothing_to_measure_fails(tmp_path: Path) -> None:
    """No reference points and ``draws=0``: the report counts an error, so the CLI would
    exit 1; before the fix this summary read ``1 pass``."""
    report = run_audit([_claim_without_instances()], AuditOptions(draws=0, jobs=1),
                       out_dir=tmp_path)
    assert report["summary"]["error"] == 1 and report["summary"]["pass"] == 0
    (entry,) = report["claims"]
    assert entry["status"] == "error" and "nothing was checked" in entry["reason"]



def test_core_refusals_found_by_the_tables() -> None:
    """A device that is not a torch device or not on this machine, and a polynomial that is
    not one, are refused by name (they were torch and attribute errors)."""
    import numpy as np

    from core.kernels import sampled_relative_error
    from core.model import PromptTunedTransformer
    from core.weights import TransformerWeights

    e = np.eye(2)
    weights = TransformerWeights(w_q=e, w_k=e, w_v=e, w_o=e, beta=0.5)
    missing = f"cuda:{torch.cuda.device_count()}"
    for device, match in (("tpu", r"^device='tpu': not a torch device"),
                          (missing, rf"^device='{missing}': this machine has")):
        with pytest.raises(InvalidArgument, match=match):
            PromptTunedTransformer(weights, device=device)
    with pytest.raises(InvalidArgument, match=r"^poly=None: expected an ExpPolynomial"):
        sampled_relative_error(None)  # type: ignore[arg-type]
