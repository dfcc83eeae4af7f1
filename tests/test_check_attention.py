"""Bring-your-own attention kernels: the checks, the runner, the CLI and the example adapters.

``properties.attention_check`` measures any ``fn(Q, K, V, beta)`` against the mpmath oracle
at two precisions and judges it against its claimed error, else against the polynomial
kernel's certified bound; ``verify.check_attention`` is the ``check-attention`` command;
``verify.attention_examples`` holds torch SDPA (float32), performer-pytorch's FAVOR+, a
Based-style Taylor map, our kernel and a deliberately wrong one.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from core.errors import ClaimViolation, HarnessError, InvalidArgument
from core.kernels import KernelRegime, lemma_bound, plan_for, polynomial_attention_with_info
from core.oracles import converged
from properties import attention_check as ac
from properties.attention_check import (
    ATTENTION_KINDS,
    AttentionCase,
    assert_attention_close,
    attention_cases,
    certified_bound,
    check_attention,
    draw_cases,
    failure_table,
    measure_attention,
    measure_case,
)
from verify import attention_examples as ex
from verify.cli import main

ROOT = Path(__file__).resolve().parent.parent

#: Small, fast regime for the tests (R = β·s·B² = 0.5, as in the docs table).
SMALL = {"B": 0.5, "s": 4, "beta": 0.5, "max_n": 7, "draws": 1}


def naive(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float) -> torch.Tensor:
    """Plain float64 softmax attention."""
    return torch.softmax(beta * Q.double() @ K.double().T, dim=-1) @ V.double()


# --- inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_every_kind_stays_in_its_regime_and_has_its_shape(kind: str) -> None:
    for case in draw_cases(kind, 4, seed=1, B=0.7, s=3, beta=0.4, max_n=9):
        Q, K, V = case.arrays()
        assert Q.shape == (case.n, 3) and K.shape == (case.m, 3) and V.shape == (case.m,
                                                                                 case.d_v)
        assert np.abs(Q).max() <= 0.7 and np.abs(K).max() <= 0.7 and np.abs(V).max() <= 1.0
        scores = 0.4 * Q @ K.T
        R = 0.4 * 3 * 0.7**2
        if kind == "signs":
            assert set(np.abs(np.concatenate([Q, K])).ravel()) == {0.7}
        if kind == "extremal":                   # every score at ±R exactly (to rounding)
            assert np.allclose(np.abs(scores), R, rtol=1e-15, atol=0)
        if kind == "equal_keys":
            assert np.ptp(K, axis=0).max() <= 2e-6 * 0.7
        if kind == "dominant_key":
            assert (np.abs(scores).max(axis=1) >= 0.9 * R).all()
            assert (scores.argmax(axis=1) == np.flatnonzero(V[:, 0] == 1.0)[0]).all()
        if kind == "prime_lengths":
            assert all(k in (2, 3, 5, 7) for k in (case.n, case.m))


def test_draws_are_deterministic_in_the_seed() -> None:
    a = draw_cases("uniform", 3, seed=5, B=0.5, s=2)
    assert a == draw_cases("uniform", 3, seed=5, B=0.5, s=2)
    assert a != draw_cases("uniform", 3, seed=6, B=0.5, s=2)
    assert all(np.array_equal(x, y) for x, y in zip(a[0].arrays(), a[0].arrays(),
                                                    strict=True))


@settings(max_examples=10, deadline=None)
@given(attention_cases(B=0.3, s=2, max_n=5, dtype="float32"))
def test_strategy_draws_float32_cases_of_every_parameter(case: AttentionCase) -> None:
    Q, K, V = case.tensors()
    assert Q.dtype == K.dtype == V.dtype == torch.float32
    assert case.beta == 1 / math.sqrt(2) and case.B == 0.3 and 1 <= case.n <= 5


# --- the bounds ------------------------------------------------------------------------------


def test_certified_bound_is_what_the_kernel_itself_reports() -> None:
    """The bound judged against is the kernel's own ``bound + rounding_bound`` for the same
    inputs (unit ``V``), not a second derivation."""
    case = draw_cases("extremal", 1, seed=0, B=0.5, s=4, beta=0.5, max_n=9)[0]
    Q, K, V = case.tensors()
    plan = plan_for(KernelRegime(s=4, beta=0.5, B=0.5, delta_F=1e-6))
    _, info = polynomial_attention_with_info(Q.T, K.T, V.T, plan, backend="torch")
    assert info.v_max == 1.0
    got = certified_bound(s=4, B=0.5, beta=0.5, n_keys=case.m)
    assert got.bound == info.bound + info.rounding_bound and got.degree == info.degree
    f32 = certified_bound(s=4, B=0.5, beta=0.5, n_keys=case.m, dtype="float32")
    assert f32.bound == got.bound + 2.0**-24


def test_the_certified_bound_is_the_threshold() -> None:
    """An output off by just under the certified bound passes, just over it fails."""
    case = draw_cases("extremal", 1, seed=3, B=0.5, s=4, beta=0.5, max_n=9)[0]
    bound = certified_bound(s=4, B=0.5, beta=0.5, n_keys=case.m).bound
    assert bound is not None and np.abs(case.arrays()[2]).max() == 1.0

    def off_by(delta: float):
        return lambda Q, K, V, beta: naive(Q, K, V, beta) + delta

    assert measure_case(off_by(0.99 * bound), case).passed
    over = measure_case(off_by(1.01 * bound), case)
    assert not over.passed and over.within_certified is False


def test_no_float64_plan_is_said_and_needs_a_claim() -> None:
    none = certified_bound(s=8, B=3.0, beta=1.0, n_keys=4)
    assert none.bound is None and none.plan.startswith("no float64 plan at R=72")
    with pytest.raises(InvalidArgument, match=r"no float64 plan.*give claimed_error"):
        check_attention(naive, B=3.0, s=8, beta=1.0, max_n=3, draws=1)
    report = check_attention(naive, B=3.0, s=8, beta=1.0, max_n=3, draws=1,
                             kinds=("signs",), claimed_error=1e-12)
    assert report.passed and report.within_certified is None
    assert report.measurements[0].certified_bound is None


# --- measuring and asserting -----------------------------------------------------------------


def test_a_correct_implementation_passes_every_kind() -> None:
    report = check_attention(naive, **SMALL)
    assert report.passed and [r.kind for r in report.rows] == list(ATTENTION_KINDS)
    assert report.worst_error < 1e-14 and report.within_certified


def test_the_wrong_implementation_fails_with_a_table() -> None:
    report = check_attention(ex.normaliser_dropped, **SMALL)
    assert not report.passed and all(r.failed == r.checked for r in report.rows)
    table = failure_table(report.measurements)
    assert "6 of 6 inputs failed" in table and "worst entry" in table
    assert "EXCEEDS" in table and "replay: AttentionCase(kind='uniform'" in table
    case = draw_cases("signs", 1, seed=0, B=0.5, s=4, beta=0.5, max_n=7)[0]
    with pytest.raises(ClaimViolation, match=r"1 of 1 inputs failed[\s\S]*signs"):
        ac.assert_case_close(ex.normaliser_dropped, case)
    with pytest.raises(AssertionError, match="FAIL"):
        assert_attention_close(ex.normaliser_dropped, *case.tensors(), 0.5)


def test_claimed_error_decides_where_given() -> None:
    case = draw_cases("dominant_key", 1, seed=2, B=0.5, s=4, beta=0.5, max_n=7)[0]
    result = measure_case(ex.based_taylor2, case)
    assert not result.passed and result.judged_against == "certified"
    loose = measure_case(ex.based_taylor2, case, claimed_error=result.error * 1.01)
    assert loose.passed and loose.within_certified is False
    tight = measure_case(ex.based_taylor2, case, claimed_error=result.error * 0.99)
    assert not tight.passed


def test_an_implementation_that_raises_or_returns_junk_is_a_failure() -> None:
    def raises(Q, K, V, beta):
        raise RuntimeError("boom")

    def wrong_shape(Q, K, V, beta):
        return naive(Q, K, V, beta).T

    def nan(Q, K, V, beta):
        out = naive(Q, K, V, beta)
        out[0, 0] = math.nan
        return out

    report = check_attention(raises, **SMALL, kinds=("uniform",))
    assert not report.passed and "raised RuntimeError: boom" in failure_table(
        report.measurements)
    with pytest.raises(RuntimeError, match="boom"):     # the assert helper lets it through
        assert_attention_close(raises, *draw_cases("signs", 1, 0, B=0.5, s=2)[0].tensors(),
                               0.5)
    case = draw_cases("signs", 1, 0, B=0.5, s=2, min_n=3)[0]
    shape = measure_case(wrong_shape, case, catch=True)
    assert shape.error == math.inf and "returned shape" in (shape.note or "")
    bad = measure_case(nan, case)
    assert bad.error == math.inf and bad.note == "returned a non-finite entry"
    assert bad.to_json()["error"] is None


def test_an_oracle_that_does_not_converge_is_blamed_not_the_implementation(monkeypatch
                                                                            ) -> None:
    def drifting(Q, K, V, beta):               # differs between its two precisions
        return converged(lambda dps: np.full((V.shape[0], Q.shape[1]), float(dps)))

    monkeypatch.setattr(ac, "attention_oracle", drifting)
    case = draw_cases("uniform", 1, 0, B=0.5, s=2)[0]
    with pytest.raises(HarnessError, match=r"oracle did not converge.*the oracle, not the "
                                           "implementation"):
        assert_attention_close(naive, *case.tensors(), case.beta)


@pytest.mark.parametrize("call, match", [
    (lambda: measure_attention(42, *_tensors(), 0.5), "fn=42"),
    (lambda: measure_attention(naive, torch.zeros(3), *_tensors()[1:], 0.5), "Q="),
    (lambda: measure_attention(naive, _tensors()[0], torch.zeros(4, 3, dtype=torch.float64),
                               _tensors()[2], 0.5), "K="),
    (lambda: measure_attention(naive, *_tensors()[:2], torch.ones(5, 2, dtype=torch.float64),
                               0.5), "V has 5 rows, K has 4"),
    (lambda: measure_attention(naive, *_tensors()[:2], torch.zeros(4, 2, dtype=torch.float64),
                               0.5), "V is all zeros"),
    (lambda: measure_attention(naive, *_tensors(), 0.0), "beta=0.0"),
    (lambda: measure_attention(naive, *_tensors(), 0.5, claimed_error=-1.0),
     "claimed_error=-1.0"),
    (lambda: measure_attention(naive, *_tensors(), 0.5, delta_F=1.0), "delta_F=1.0"),
    (lambda: check_attention(naive, B=0.5, s=2, kinds=("uniform", "fancy")), "fancy"),
    (lambda: check_attention(naive, B=0.5, s=2, kinds="uniform"), "kinds='uniform'"),
    (lambda: check_attention(naive, B=0.5, s=2, max_n=1), "holds no prime"),
    (lambda: check_attention(naive, B=0.5, s=2, max_n=300), "max_n=300"),
    (lambda: check_attention(naive, B=-1.0, s=2), "B=-1.0"),
    (lambda: check_attention(naive, B=0.5, s=2, draws=0), "draws=0"),
    (lambda: attention_cases(B=0.5, s=0), "s=0"),
    (lambda: AttentionCase("uniform", 0, 1, 1, 1, 1, 0.5, 0.5, dtype="float16"), "float16"),
])
def test_bad_arguments_are_refused_by_name(call, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        call()


def _tensors() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    return tuple(torch.as_tensor(rng.uniform(-0.5, 0.5, shape))
                 for shape in ((3, 2), (4, 2), (4, 2)))  # type: ignore[return-value]


# --- the example implementations -----------------------------------------------------------


def _examples_report(name: str, claimed: bool = True) -> ac.AttentionReport:
    example = next(e for e in ex.EXAMPLES if e.name == name)
    regime = dict(ex.DOCS_REGIME, max_n=7, draws=2)
    claim = example.claimed_error(regime["B"], regime["s"], regime["beta"]) if claimed \
        else None
    return check_attention(example.fn, claimed_error=claim, **regime)


def test_sdpa_float32_passes_its_float32_claim() -> None:
    report = _examples_report("sdpa_float32")
    assert report.passed and report.claimed_error == pytest.approx(1.13e-5)
    assert 1e-9 < report.worst_error < 1e-5          # float32 rounding shows, and is small


def test_performer_fails_the_certified_bound() -> None:
    pytest.importorskip("performer_pytorch", reason="performer-pytorch is not installed "
                                                    "(pip install performer-pytorch)")
    assert torch.__version__.startswith("2.13")       # installing it kept torch
    report = _examples_report("performer_favor_plus")
    assert report.claimed_error is None and not report.passed
    assert report.within_certified is False and report.worst_error > 1e-3   # Monte-Carlo
    equal = next(r for r in report.rows if r.kind == "equal_keys")
    assert equal.worst.error < 1e-6      # equal keys: any weights average V exactly


def test_based_taylor2_meets_its_own_claim_only() -> None:
    report = _examples_report("based_taylor2")
    assert report.passed and report.within_certified is False
    assert report.claimed_error == pytest.approx(0.0305, rel=1e-2)   # ε of 1+x+x²/2 at R=0.5
    assert not _examples_report("based_taylor2", claimed=False).passed


def test_our_kernel_passes_its_certified_bound() -> None:
    report = _examples_report("polynomial_kernel")
    assert report.passed and report.within_certified and report.claimed_error is None


def test_based_claim_is_the_taylor2_relative_error() -> None:
    x = np.linspace(-0.5, 0.5, 10001)
    sampled = np.abs((1 + x + x * x / 2) * np.exp(-x) - 1).max()
    claim = ex.based_claimed_error(0.5, 4, 0.5)            # R = β·s·B² = 0.5
    assert claim is not None
    assert lemma_bound(sampled, 1.0) <= claim <= lemma_bound(sampled * (1 + 1e-9), 1.0)
    assert ex.based_claimed_error(2.0, 4, 1.0) is None           # ε >= 1: no claim


def test_docs_table_is_the_generated_one() -> None:
    """docs/bring-your-own.md carries, under "## Your own attention kernel", the table
    ``python -m verify.attention_examples`` prints."""
    pytest.importorskip("performer_pytorch", reason="the docs table has a performer row")
    docs = (ROOT / "docs" / "bring-your-own.md").read_text()
    assert "## Your own attention kernel" in docs
    assert _masked(ex.examples_table()) in _masked(docs)


#: Rows whose worst error is float32 rounding inside torch's CPU kernels: its last digits
#: move with the machine's instruction set (1.1e-07 on one CPU, 2.4e-07 on another).
_MACHINE_DEPENDENT = ("`sdpa_float32`",)


def _masked(text: str) -> str:
    """``text`` with the worst-error cell of :data:`_MACHINE_DEPENDENT` rows blanked."""
    out = []
    for line in text.splitlines():
        cells = line.split(" | ")
        if line.startswith("| ") and cells[0][2:] in _MACHINE_DEPENDENT:
            cells[3] = "…"
        out.append(" | ".join(cells))
    return "\n".join(out)


# --- the command line --------------------------------------------------------------------------


def _cli(*args: str) -> list[str]:
    return ["check-attention", *args, "--draws", "1", "--max-n", "5"]


def test_cli_passes_fails_and_reports(capsys) -> None:
    assert main(_cli("verify.attention_examples:polynomial_kernel")) == 0
    out, err = capsys.readouterr()
    assert "PASS (judged against the certified bound)" in out and "[6/6] prime_lengths" in err
    assert main(_cli("verify.attention_examples:normaliser_dropped")) == 1
    out, _ = capsys.readouterr()
    assert "FAIL" in out and "inputs failed" in out and "worst entry" in out
    assert main(_cli("verify.attention_examples:sdpa_float32", "--claimed-error",
                     "1.13e-5", "--dtype", "float32")) == 0


def test_cli_runs_a_module_from_the_current_folder(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "byo_attention_user.py").write_text(
        "import torch\n\n"
        "def attend(Q, K, V, beta):\n"
        "    return torch.softmax(beta * Q @ K.T, dim=-1) @ V\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "byo_attention_user", raising=False)
    assert main(_cli("byo_attention_user:attend", "--B", "0.3", "--s", "3")) == 0


@pytest.mark.parametrize("argv, named", [
    (["no_colon_here"], "MODULE:FUNCTION='no_colon_here'"),
    ([":attend"], "MODULE:FUNCTION=':attend'"),
    (["verify.attention_examples:"], "expected a module and a callable"),
    (["surely_not_a_module_xyz:f"], "cannot import module 'surely_not_a_module_xyz'"),
    (["verify.attention_examples:nope"], "has no attribute 'nope'"),
    (["verify.attention_examples:PERFORMER_FEATURES"], "is not callable (type int)"),
    (["verify.attention_examples:naive", "--B", "0"], "--B=0.0"),
    (["m:f", "--B", "nan"], "--B=nan"),
    (["m:f", "--s", "0"], "--s=0"),
    (["m:f", "--beta", "-1"], "--beta=-1.0"),
    (["m:f", "--claimed-error", "-1"], "--claimed-error=-1.0"),
    (["m:f", "--delta-f", "1"], "--delta-f=1.0"),
    (["m:f", "--draws", "0"], "--draws=0"),
    (["m:f", "--seed", "-1"], "--seed=-1"),
    (["m:f", "--max-n", "1"], "--max-n=1"),
    (["m:f", "--dtype", "float16"], "--dtype"),
    (["verify.attention_examples:polynomial_kernel", "--B", "3", "--s", "8", "--beta", "1"],
     "--B=3.0, s=8, beta=1.0: no float64 plan"),
])
def test_cli_bad_input_exits_2_naming_the_option(argv, named, capsys) -> None:
    assert main(["check-attention", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ptlimits: error:") and err.count("\n") == 1 and named in err


def test_cli_json_is_checked_first_and_replaced_atomically(tmp_path, monkeypatch,
                                                           capsys) -> None:
    assert main(_cli("verify.attention_examples:polynomial_kernel", "--json",
                     str(tmp_path))) == 2
    assert "--json" in capsys.readouterr().err
    target = tmp_path / "report.json"
    target.write_text("old")
    assert main(_cli("verify.attention_examples:normaliser_dropped", "--json",
                     str(target))) == 1
    data = json.loads(target.read_text())
    assert data["passed"] is False and len(data["rows"]) == len(ATTENTION_KINDS)
    assert data["measurements"][0]["case"]["kind"] == "uniform"
    target.write_text("old")

    def interrupted(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("verify.files.os.replace", interrupted)
    assert main(_cli("verify.attention_examples:polynomial_kernel", "--json",
                     str(target))) == 2
    assert "cannot write" in capsys.readouterr().err
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "report.json"]


def test_help_imports_nothing_heavy() -> None:
    code = ("import sys\nfrom verify.cli import main\n"
            "try:\n    main(['check-attention', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported by --help'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "MODULE:FUNCTION" in done.stdout
