"""A user's own target through construction, certificate, claims, reproduce and the CLI
(docs/bring-your-own.md, "Your own target"): assumptions checked, violations named."""

from __future__ import annotations

import json
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from core.constructions import build_prompt, build_universal
from core.constructions import certify as certify_module
from core.constructions.certify import certify_universal
from core.constructions.route_a import build_prompt_a, build_route_a
from core.errors import AssumptionViolation, InvalidArgument
from core.lipschitz import LipschitzTarget, make_target
from core.targets import Target, UserTarget, load_object, resolve_target
from verify.cli import main

USER_MODULE = textwrap.dedent('''
    import numpy as np
    from fractions import Fraction

    def smooth(X):
        """Max-norm Lipschitz constant 0.4 at L = 2: 0.2·|Δ(x1 + x2)| ≤ 0.4·‖ΔX‖_max."""
        return 0.5 + 0.2 * np.sin(X.sum()) * np.ones_like(X)

    def steep(X):
        """True constant 2 (declared 0.25 in the tests)."""
        return 0.5 + 0.25 * np.sin(8 * X)

    def too_big(X):
        return 1.5 * X

    def tent(X):
        return 0.25 + 0.5 * np.abs(X - 0.5)

    def tent_exact(Xq):
        return [[Fraction(1, 4) + abs(v - Fraction(1, 2)) / 2 for v in row] for row in Xq]

    def bad_exact(Xq):
        return ([[Fraction(1)] * len(Xq[0])], [[Fraction(0)] * len(Xq[0])])

    def wrong_shape(X):
        return np.zeros(5)

    def raises(X):
        raise RuntimeError("boom")

    NOT_CALLABLE = 3
''')


@pytest.fixture(scope="module")
def user_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("user") / "user_targets_mod.py"
    path.write_text(USER_MODULE)
    return path


def _fn(user_file: Path, name: str) -> object:
    return load_object(f"{user_file}:{name}")


def test_plain_function_is_certified_under_its_declared_assumptions(user_file: Path) -> None:
    ut = build_universal(1, 2, 1.0, 0.4, 2)
    f = UserTarget(_fn(user_file, "smooth"), 1, 2, 1.0)   # type: ignore[arg-type]
    assert isinstance(f, Target) and not f.proved
    cert = certify_universal(ut, build_prompt(ut, f), f)
    assert cert.holds and cert.dp_upper < 0.4
    assert cert.evidence.startswith("certified (assuming C = 1, f in [0, 1], float error")
    statuses = {a.statement.split(",")[0]: a.status for a in cert.assumptions}
    assert statuses["f is C-Lipschitz in the max norm"] == "checked"
    assert "assumed" in statuses.values()


def test_route_a_takes_the_same_user_function(user_file: Path) -> None:
    ua = build_route_a(1, 2, 1.0, 0.4, 2)
    f = resolve_target(f"{user_file}:smooth", 1, 2, 1.0)
    cert = certify_universal(ua, build_prompt_a(ua, f), f)
    assert cert.holds and cert.context_gap is not None and cert.context_gap > 0
    assert "assuming C = 1" in cert.evidence


def test_families_stay_proved() -> None:
    ut = build_universal(1, 2, 1.0, 0.4, 2)
    f = make_target("mcshane", 1, 2, 1.0, 0, grid=ut.sizes.K)
    cert = certify_universal(ut, build_prompt(ut, f), f)
    assert cert.evidence == "certified"
    assert {a.status for a in cert.assumptions} == {"proved"}


def test_too_small_declared_constant_is_a_named_violation(user_file: Path) -> None:
    """The true constant is 2; declared 0.25 the certificate used to hold with a certified
    sup below the measured one. Now the pair that contradicts C is named."""
    ut = build_universal(1, 2, 0.25, 0.4, 2)
    f = UserTarget(_fn(user_file, "steep"), 1, 2, 0.25)   # type: ignore[arg-type]
    with pytest.raises(AssumptionViolation, match=r"declared C=0\.25 is contradicted .* at X = "
                       r"\[\[.*\]\], X' = \[\[.*\]\]"):
        certify_universal(ut, build_prompt(ut, f), f)


def test_without_the_check_the_certificate_would_flatter(user_file: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted bug: the assumption check skipped. The certificate then 'holds' while the
    measured good-set error exceeds its certified sup — the check is what prevents it."""
    from properties.strategies_universal import good_inputs

    monkeypatch.setattr(certify_module, "check_target", lambda *a: ())
    ut = build_universal(1, 2, 0.25, 0.4, 2)
    f = UserTarget(_fn(user_file, "steep"), 1, 2, 0.25)   # type: ignore[arg-type]
    prompt = build_prompt(ut, f)
    cert = certify_universal(ut, prompt, f)
    measured = max(float(np.max(np.abs(np.array(ut.forward_exact(X, prompt), float)
                                       - f.values(X)))) for X in good_inputs(ut, 16, 0))
    assert cert.holds and measured > cert.sup_good_upper


def test_values_outside_the_unit_interval_are_a_named_violation(user_file: Path) -> None:
    ut = build_universal(1, 2, 1.5, 0.4, 2)
    f = UserTarget(_fn(user_file, "too_big"), 1, 2, 1.5)   # type: ignore[arg-type]
    with pytest.raises(AssumptionViolation, match=r"value 1\.\d+ at entry .* lies outside "
                                                  r"\[0, 1\]"):
        certify_universal(ut, build_prompt(ut, f), f)


def test_exact_evaluator_is_used_and_trusted(user_file: Path) -> None:
    ut = build_universal(1, 1, 0.5, 0.3, 2)
    f = resolve_target(f"{user_file}:tent", 1, 1, 0.5, exact=f"{user_file}:tent_exact")
    lo, hi = f.enclose([[Fraction(1, 3)]])
    assert lo == hi == [[Fraction(1, 4) + Fraction(1, 12)]]
    cert = certify_universal(ut, build_prompt(ut, f), f)
    assert cert.holds and cert.evidence.endswith("its rigorous evaluator)")
    bad = resolve_target(f"{user_file}:tent", 1, 1, 0.5, exact=f"{user_file}:bad_exact")
    with pytest.raises(AssumptionViolation, match="lo > hi"):
        bad.enclose([[Fraction(1, 3)]])


def test_float_error_is_carried_into_the_bound(user_file: Path) -> None:
    ut = build_universal(1, 1, 0.5, 0.3, 2)
    fn = _fn(user_file, "tent")
    tight = UserTarget(fn, 1, 1, 0.5, value_error=0.0)   # type: ignore[arg-type]
    loose = UserTarget(fn, 1, 1, 0.5, value_error=1e-3)  # type: ignore[arg-type]
    a = certify_universal(ut, build_prompt(ut, tight), tight)
    b = certify_universal(ut, build_prompt(ut, loose), loose)
    assert b.sup_good_upper - a.sup_good_upper >= 1e-3 * (1 - 1e-9)
    # an input that float64 cannot hold (1/3) widens the enclosure by C·(its rounding)
    lo, hi = tight.enclose([[Fraction(1, 3)]])
    assert hi[0][0] - lo[0][0] > 0


def test_unknown_family_is_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"family='custom': expected one of"):
        LipschitzTarget("custom", 1, 1, 0.5, 0)
    with pytest.raises(InvalidArgument, match=r"family='custom'"):
        make_target("custom", 1, 1, 0.5, 0)
    with pytest.raises(InvalidArgument, match=r"target='custom': expected MODULE:NAME"):
        resolve_target("custom", 1, 1, 0.5)
    with pytest.raises(InvalidArgument, match=r"grid=0: the sawtooth needs a grid"):
        LipschitzTarget("sawtooth", 1, 1, 0.5, 0)


@pytest.mark.parametrize(("spec", "message"), [
    ("no_such_module_xyz:f", r"cannot import 'no_such_module_xyz'"),
    ("{file}:missing", r"has no attribute 'missing'"),
    ("{file}:NOT_CALLABLE", r"int is neither callable nor a target"),
    ("/nonexistent/dir/x.py:f", r"does not exist"),
    ("{file}:", r"expected MODULE:NAME"),
])
def test_bad_specs_are_named(user_file: Path, spec: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        resolve_target(spec.format(file=user_file), 1, 1, 0.5)


def test_bad_functions_are_named(user_file: Path) -> None:
    shape = resolve_target(f"{user_file}:wrong_shape", 1, 2, 0.5)
    with pytest.raises(InvalidArgument, match=r"returned shape \(5,\).*expected \(1, 2\)"):
        shape.values(np.zeros((1, 2)))
    boom = resolve_target(f"{user_file}:raises", 1, 2, 0.5)
    with pytest.raises(InvalidArgument, match=r"raised RuntimeError: boom at X"):
        boom.values(np.zeros((1, 2)))
    with pytest.raises(InvalidArgument, match=r"C=0: must be > 0"):
        UserTarget(np.sin, 1, 1, 0)


def _universal_args(spec: str, C: float, *extra: str) -> list[str]:
    return ["universal", "--target", spec, "--C", str(C), "--d", "1", "--L", "2",
            "--eps", "0.4", *extra]


@pytest.mark.cli
def test_cli_certifies_a_function_and_the_audit_embeds_it(user_file: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    ok, bad = tmp_path / "ok.json", tmp_path / "bad.json"
    assert main(_universal_args(f"{user_file}:smooth", 1.0, "--json", str(ok))) == 0
    assert main(_universal_args(f"{user_file}:steep", 0.25, "--json", str(bad))) == 1
    out = capsys.readouterr().out
    assert "evidence **certified (assuming C = 1" in out and "assumption violated" in out
    data = json.loads(ok.read_text())
    assert data["status"] == "pass" and data["certificate"]["holds"]
    assert json.loads(bad.read_text())["status"] == "assumption violated"
    audit = tmp_path / "audit"
    assert main(["audit", "--quick", "--jobs", "1", "--no-html", "--claims",
                 "universal_certified_sup_within_formula", "--target-json", str(ok), str(bad),
                 "--out", str(audit)]) == 0
    md = (audit / "audit.md").read_text()
    section = md.split("## Your targets", 1)[1].split("## All claims", 1)[0]
    assert "certified (assuming C = 1" in section and "assumption violated" in section
    assert "contradicted" in section


@pytest.mark.cli
@pytest.mark.parametrize(("args", "message"), [
    (["--target", "custom"], "--target='custom': expected MODULE:NAME"),
    (["--target", "sawtooth", "--eps", "1.5"], "--eps=1.5"),
    (["--target", "sawtooth", "--route", "A", "--form", "wide"], "route A has the deep"),
    (["--target", "sawtooth", "--value-error", "1e-9"], "apply to user functions only"),
])
def test_cli_refuses_bad_input_with_exit_2(args: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    base = {"--C": "1", "--d": "1", "--L": "2", "--eps": "0.4"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    argv = ["universal"] + [x for kv in base.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ptlimits: error:") and message in err


@pytest.mark.cli
def test_reproduce_takes_a_user_spec(user_file: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    inst = {"seed": 0, "family": f"{user_file}:smooth", "d": 1, "L": 2, "C": 1.0, "eps": 0.4}
    assert main(["reproduce", "universal_certified_dp_below_eps", json.dumps(inst)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "pass"
    assert out["worst_case"]["detail"]["evidence"].startswith("certified (assuming C = 1")
    inst["family"], inst["C"] = f"{user_file}:steep", 0.25
    assert main(["reproduce", "universal_certified_dp_below_eps", json.dumps(inst)]) == 1
    assert "AssumptionViolation" in capsys.readouterr().out


def _section(page: str, heading: str) -> str:
    return page.split(heading, 1)[1].split("\n## ", 1)[0]


def test_the_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/bring-your-own.md, "Your own target": every Python block runs as written and
    prints the evidence it promises."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "bring-your-own.md").read_text()
    blocks = _section(page, "## Your own target").split("```python\n")[1:]
    assert len(blocks) == 2
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block.split("```", 1)[0], "bring-your-own.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "certified (assuming C = 1, f in [0, 1], float error ≤ 2.27e-13)" in out
