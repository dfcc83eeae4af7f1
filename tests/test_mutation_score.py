"""The mutation-score report (verify.mutation_score) on hand-made mutmut results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import HarnessError
from verify.mutation_score import check_equivalent, load_statuses, main, score_by_module


def _meta(root: Path, module: str, codes: dict[str, int | None]) -> None:
    path = root / "core" / (module.replace(".", "/") + ".py.meta")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes}))


def test_score_by_module_counts_kills_survivors_and_equivalents(tmp_path: Path) -> None:
    _meta(tmp_path, "kernels.plan", {"core.kernels.plan.x_f__mutmut_1": 1,
                                     "core.kernels.plan.x_f__mutmut_2": 0,
                                     "core.kernels.plan.x_f__mutmut_3": 36,
                                     "core.kernels.plan.x_f__mutmut_4": None})
    _meta(tmp_path, "bounds", {"core.bounds.x_g__mutmut_1": 0, "core.bounds.x_g__mutmut_2": 33})
    rows = score_by_module(load_statuses(tmp_path), equivalent=["core.bounds.x_g__mutmut_1"])
    by = {r.module: r for r in rows}
    assert by["core.kernels.plan"].killed == 2 and by["core.kernels.plan"].scored == 3
    assert by["core.kernels.plan"].score == pytest.approx(200 / 3)
    assert by["core.bounds"].scored == 1 and by["core.bounds"].score == 0.0   # no tests
    assert by["core.kernels.plan"].floor == pytest.approx(200 / 4)     # mutant 4 unchecked
    assert by["TOTAL"].floor == pytest.approx(200 / 5)
    assert by["TOTAL"].survivors == ["core.bounds.x_g__mutmut_2",
                                     "core.kernels.plan.x_f__mutmut_2"]
    with pytest.raises(HarnessError, match="no longer exist"):
        score_by_module(load_statuses(tmp_path), equivalent=["core.bounds.x_gone__mutmut_9"])


def test_min_score_and_missing_results(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["--mutants-dir", str(tmp_path)]) == 2
    assert "no mutmut results" in capsys.readouterr().err
    _meta(tmp_path, "bounds", {"core.bounds.x_g__mutmut_1": 1, "core.bounds.x_g__mutmut_2": 0})
    monkeypatch.setattr("verify.mutation_score.EQUIVALENT", {})
    assert main(["--mutants-dir", str(tmp_path), "--min-score", "50"]) == 0
    assert main(["--mutants-dir", str(tmp_path), "--min-score", "51"]) == 1


def test_equivalent_fragment_must_still_be_in_the_mutant(tmp_path: Path) -> None:
    src = tmp_path / "core" / "model.py"
    src.parent.mkdir(parents=True)
    src.write_text("def x_f__mutmut_1(P):\n    return P.shape[+1]\n")
    check_equivalent(tmp_path, {"core.model.x_f__mutmut_1": ("P.shape[+1]", "2-D only")})
    with pytest.raises(HarnessError, match="re-judge"):
        check_equivalent(tmp_path, {"core.model.x_f__mutmut_1": ("P.shape[0]", "2-D only")})


def test_equivalent_fragment_is_looked_up_in_the_whole_function(tmp_path: Path) -> None:
    """A fragment after a nested ``def`` is found; one in the next function is not."""
    src = tmp_path / "core" / "sizes.py"
    src.parent.mkdir(parents=True)
    src.write_text("def x_f__mutmut_1(e,\n         k\n         ):\n    def fits(x):\n"
                   "        return x\n\n    if e > 0.999:\n        return 1\n\n\n"
                   "def x_f__mutmut_2(e):\n    if e >= 1.999:\n        return 2\n")
    check_equivalent(tmp_path, {"core.sizes.x_f__mutmut_1": ("if e > 0.999:", "capped")})
    with pytest.raises(HarnessError, match="re-judge"):
        check_equivalent(tmp_path, {"core.sizes.x_f__mutmut_1": ("e >= 1.999", "next one")})


def test_report_states_the_floor_while_mutants_are_unchecked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("verify.mutation_score.EQUIVALENT", {})
    _meta(tmp_path, "bounds", {"core.bounds.x_g__mutmut_1": 1, "core.bounds.x_g__mutmut_2": 1,
                               "core.bounds.x_g__mutmut_3": 1, "core.bounds.x_g__mutmut_4": None})
    assert main(["--mutants-dir", str(tmp_path)]) == 0
    assert "1 mutants not yet checked: if all of them survived, the total would be 75.0%" \
        in capsys.readouterr().out
