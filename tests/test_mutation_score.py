"""The mutation-score report (tools.mutation_score) on hand-made mutmut results.

Each test builds a small ``mutants/`` tree the way mutmut 3 lays it out: ``core/<m>.py.meta``
with the exit code of each mutant, and ``core/<m>.py`` holding the original function as
``x_<f>__mutmut_orig`` (``xǁ<Class>ǁ<f>__mutmut_orig`` for a method) beside one copy per
mutant, ``x_<f>__mutmut_<N>``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.equivalent_mutants import EQUIVALENT
from tools.mutation_score import (
    Mutation,
    load_statuses,
    main,
    match_equivalent,
    read_mutations,
    score_by_module,
)


def _meta(root: Path, module: str, codes: dict[str, int | None]) -> None:
    path = root / "core" / (module.replace(".", "/") + ".py.meta")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes}))


def _function(name: str, body: list[str]) -> str:
    return f"def {name}(a, b):\n" + "".join(f"    {line}\n" for line in body) + "\n\n"


def _mutants(root: Path, module: str, function: str, original: list[str],
             changes: dict[int, tuple[int, str]], codes: dict[int, int | None]) -> None:
    """Write ``core/<module>.py`` with ``function``'s original body and one mutant per
    ``changes[N] = (index of the body line, its mutated text)``, and the ``.meta`` with
    ``codes[N]``."""
    text = _function(f"{function}__mutmut_orig", original)
    for n, (index, line) in changes.items():
        text += _function(f"{function}__mutmut_{n}",
                          [*original[:index], line, *original[index + 1:]])
    path = root / "core" / (module.replace(".", "/") + ".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    _meta(root, module, {f"core.{module}.{function}__mutmut_{n}": c for n, c in codes.items()})


_BODY = ["out = []", "for x, y in zip(a, b, strict=True):", "    out.append(x + y)",
         "return out"]


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
    assert by["core.bounds"].counts["equivalent"] == 1
    assert by["core.kernels.plan"].floor == pytest.approx(200 / 4)     # mutant 4 unchecked
    assert by["TOTAL"].floor == pytest.approx(200 / 5)
    assert by["TOTAL"].survivors == ["core.bounds.x_g__mutmut_2",
                                     "core.kernels.plan.x_f__mutmut_2"]


def test_min_score_and_missing_results(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["--mutants-dir", str(tmp_path)]) == 2
    assert "no mutmut results" in capsys.readouterr().err
    _meta(tmp_path, "bounds", {"core.bounds.x_g__mutmut_1": 1, "core.bounds.x_g__mutmut_2": 0})
    monkeypatch.setattr("tools.mutation_score.EQUIVALENT", {})
    assert main(["--mutants-dir", str(tmp_path), "--min-score", "50"]) == 0
    assert main(["--mutants-dir", str(tmp_path), "--min-score", "51"]) == 1


def test_a_mutation_is_the_line_that_differs_whitespace_normalised(tmp_path: Path) -> None:
    """Top-level functions and methods; a change in the ``def`` line; a statement over two
    lines replaced by one; a line deleted; a nested ``def`` inside the function."""
    src = tmp_path / "core" / "m.py"
    src.parent.mkdir(parents=True)
    src.write_text(
        "def x_f__mutmut_orig(a, k=1):\n    def inner(x):\n        return x\n"
        "    y = g(a,\n          k)\n    return  inner(y)\n\n"
        "def x_f__mutmut_1(a, k=2):\n    def inner(x):\n        return x\n"
        "    y = g(a,\n          k)\n    return  inner(y)\n\n"
        "def x_f__mutmut_2(a, k=1):\n    def inner(x):\n        return x\n"
        "    y = None\n    return  inner(y)\n\n"
        "def x_f__mutmut_3(a, k=1):\n    def inner(x):\n        return x\n"
        "    y = g(a,\n          k)\n\n"
        "class C:\n    def xǁCǁh__mutmut_orig(self):\n        return self.n  + 1\n"
        "    def xǁCǁh__mutmut_2(self):\n        return self.n  - 1\n")
    got = read_mutations(tmp_path, ["core.m.x_f__mutmut_1", "core.m.x_f__mutmut_2",
                                    "core.m.x_f__mutmut_3", "core.m.xǁCǁh__mutmut_2",
                                    "core.m.x_gone__mutmut_1", "core.absent.x_f__mutmut_1"])
    assert got == {
        "core.m.x_f__mutmut_1": Mutation("core.m.x_f", "def x_f(a, k=1):", "def x_f(a, k=2):"),
        "core.m.x_f__mutmut_2": Mutation("core.m.x_f", "y = g(a, k)", "y = None"),
        "core.m.x_f__mutmut_3": Mutation("core.m.x_f", "return inner(y)", ""),
        "core.m.xǁCǁh__mutmut_2": Mutation("core.m.xǁCǁh", "return self.n + 1",
                                           "return self.n - 1"),
    }


def test_an_equivalent_entry_survives_renumbering(tmp_path: Path) -> None:
    """An edit of another line of the function gives it one more mutant before the
    equivalent one, which mutmut then numbers 3 instead of 2: the entry still covers it."""
    equivalent = {"core.mp_twin.x__add": {"for x, y in zip(a, b, strict=None):": "validated"}}
    old = tmp_path / "old"
    _mutants(old, "mp_twin", "x__add", _BODY,
             {1: (0, "out = None"), 2: (1, "for x, y in zip(a, b, strict=None):")},
             {1: 1, 2: 0})
    matched = match_equivalent(read_mutations(old, load_statuses(old)), equivalent)
    assert matched.equivalent == {"core.mp_twin.x__add__mutmut_2": "validated"}
    assert matched.stale == [] and matched.ambiguous == []

    new = tmp_path / "new"
    edited = ["out = list()", *_BODY[1:]]
    _mutants(new, "mp_twin", "x__add", edited,
             {1: (0, "out = None"), 2: (0, "out = list(None)"),
              3: (1, "for x, y in zip(a, b, strict=None):"), 4: (3, "return None")},
             {1: 1, 2: 1, 3: 0, 4: 0})
    matched = match_equivalent(read_mutations(new, load_statuses(new)), equivalent)
    assert matched.equivalent == {"core.mp_twin.x__add__mutmut_3": "validated"}
    rows = score_by_module(load_statuses(new), matched.equivalent)
    assert rows[-1].counts["equivalent"] == 1 and rows[-1].survivors == [
        "core.mp_twin.x__add__mutmut_4"]


def test_a_stale_entry_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _mutants(tmp_path, "mp_twin", "x__add", _BODY,
             {1: (1, "for x, y in zip(a, b, strict=None):"), 2: (3, "return None")},
             {1: 0, 2: 1})
    monkeypatch.setattr("tools.mutation_score.EQUIVALENT", {
        "core.mp_twin.x__add": {"for x, y in zip(a, b, strict=None):": "validated",
                                "for x, y in zip(a, b, strict=False):": "validated"},
        "core.mp_twin.x__gone": {"return None": "deleted function"}})
    out = tmp_path / "score.json"
    assert main(["--mutants-dir", str(tmp_path), "--json", str(out)]) == 1
    captured = capsys.readouterr()
    assert "TOTAL" in captured.out                        # the table is still printed
    assert "matches no mutant" in captured.err
    assert "'for x, y in zip(a, b, strict=False):'" in captured.err
    assert "core.mp_twin.x__gone: 'return None'" in captured.err
    report = json.loads(out.read_text())
    assert report["modules"][-1]["counts"] == {"equivalent": 1, "killed": 1}
    assert len(report["stale_equivalent"]) == 2


def test_a_shared_mutated_line_needs_the_original_line(tmp_path: Path) -> None:
    """``e = 1`` comes from ``e -= 1`` and from ``e += 1``: a bare entry is refused as
    ambiguous; one naming the original line covers that mutant only."""
    body = ["e = a", "while e > b:", "    e -= 1", "while e < b:", "    e += 1", "return e"]
    _mutants(tmp_path, "bounds", "x_f", body, {1: (2, "    e = 1"), 2: (4, "    e = 1")},
             {1: 0, 2: 0})
    mutations = read_mutations(tmp_path, load_statuses(tmp_path))
    matched = match_equivalent(mutations, {"core.bounds.x_f": {"e = 1": "why"}})
    assert matched.equivalent == {} and matched.stale == []
    assert matched.ambiguous == [
        "core.bounds.x_f: 'e = 1' (original lines: 'e += 1'; 'e -= 1')"]
    matched = match_equivalent(mutations, {"core.bounds.x_f": {("e -= 1", "e = 1"): "why"}})
    assert matched.equivalent == {"core.bounds.x_f__mutmut_1": "why"}
    assert matched.ambiguous == []


def test_the_same_change_at_two_places_is_covered_at_both(tmp_path: Path) -> None:
    body = ["if a is not None and ok(a):", "    return a", "if a is not None and ok(a):",
            "    return b", "return None"]
    _mutants(tmp_path, "sizes", "x_f", body,
             {1: (0, "if a is not None and ok(None):"),
              2: (2, "if a is not None and ok(None):")}, {1: 0, 2: 0})
    matched = match_equivalent(read_mutations(tmp_path, load_statuses(tmp_path)),
                               {"core.sizes.x_f": {"if a is not None and ok(None):": "why"}})
    assert sorted(matched.equivalent) == ["core.sizes.x_f__mutmut_1", "core.sizes.x_f__mutmut_2"]


def test_a_killed_mutant_stays_killed_when_listed(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _mutants(tmp_path, "mp_twin", "x__add", _BODY,
             {1: (1, "for x, y in zip(a, b, strict=None):")}, {1: 1})
    monkeypatch.setattr("tools.mutation_score.EQUIVALENT", {
        "core.mp_twin.x__add": {"for x, y in zip(a, b, strict=None):": "validated"}})
    assert main(["--mutants-dir", str(tmp_path), "--min-score", "100"]) == 0


def test_report_states_the_floor_while_mutants_are_unchecked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tools.mutation_score.EQUIVALENT", {})
    _meta(tmp_path, "bounds", {"core.bounds.x_g__mutmut_1": 1, "core.bounds.x_g__mutmut_2": 1,
                               "core.bounds.x_g__mutmut_3": 1, "core.bounds.x_g__mutmut_4": None})
    assert main(["--mutants-dir", str(tmp_path)]) == 0
    assert "1 mutants not yet checked: if all of them survived, the total would be 75.0%" \
        in capsys.readouterr().out


def test_survivors_are_listed_with_their_mutated_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tools.mutation_score.EQUIVALENT", {})
    _mutants(tmp_path, "mp_twin", "x__add", _BODY, {1: (3, "return None")}, {1: 0})
    assert main(["--mutants-dir", str(tmp_path), "--survivors"]) == 0
    assert "  survived: core.mp_twin.x__add__mutmut_1  'return None'" in capsys.readouterr().out


def test_the_equivalent_list_is_well_formed() -> None:
    """Function names as mutmut writes them, keys whitespace-normalised, every entry with a
    reason."""
    assert len(EQUIVALENT) > 0
    for function, entries in EQUIVALENT.items():
        assert function.startswith("core.") and "__mutmut_" not in function, function
        assert entries, function
        for key, reason in entries.items():
            lines = key if isinstance(key, tuple) else (key,)
            assert len(lines) in (1, 2), (function, key)
            for line in lines:
                assert isinstance(line, str) and line == " ".join(line.split()), (function, key)
            assert isinstance(reason, str) and reason.strip(), (function, key)
